import { DockerfileSpec } from "../../../src/image/dockerfile";

/** The Dockerfile spec of examples/hello with Debian's libraries: what the renderer's tests vary from. */
export const HELLO_DOCKERFILE_SPEC: DockerfileSpec = {
    baseImage: "debian:bookworm-slim",
    sbcl: { kind: "debian" },
    dependencySource: { kind: "debian", packages: ["cl-hunchentoot"] },
    buildPackages: [],
    runtimePackages: ["libssl3"],
    bundlesLispDeploy: false,
    systemName: "hello",
    entryPoint: "hello:main",
    buildPathname: "hello",
    compression: false,
    port: 8080,
    runtimeBase: "slim",
};
