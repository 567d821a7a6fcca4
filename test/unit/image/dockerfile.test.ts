import { DockerfileSpec, renderDependencyList, renderDockerfile, STAGES } from "../../../src/image/dockerfile";
import { HELLO_DOCKERFILE_SPEC } from "./dockerfile.fixtures";

const base: DockerfileSpec = HELLO_DOCKERFILE_SPEC;

/** The lines of one stage, from its FROM to the next FROM. */
function stage(dockerfile: string, name: string): string {
    const parts = dockerfile.split(/^(?=FROM )/m);
    const found = parts.find((p) => p.startsWith("FROM ") && p.split("\n")[0].endsWith(` AS ${name}`));
    if (!found) throw new Error(`no stage ${name}`);
    return found.replace(/\n#[^\n]*/g, "");
}

describe("renderDockerfile", () => {
    test("renders the five stages in order, the runtime last", () => {
        const froms = renderDockerfile(base).split("\n").filter((l) => l.startsWith("FROM "));
        expect(froms).toEqual([
            "FROM debian:bookworm-slim AS basepackages",
            "FROM basepackages AS quicklisp",
            "FROM quicklisp AS dependencies",
            "FROM dependencies AS build",
            "FROM scratch AS runtime",
        ]);
        expect(renderDockerfile({ ...base, runtimeBase: "debian-slim" }).split("\n").filter((l) => l.startsWith("FROM ")).pop()).toBe("FROM debian:bookworm-slim AS runtime");
        expect(STAGES).toEqual(["basepackages", "quicklisp", "dependencies", "build", "runtime"]);
    });

    test("is pure: the same spec gives the same text", () => {
        expect(renderDockerfile({ ...base })).toBe(renderDockerfile({ ...base }));
    });

    test("the dependencies stage copies only build scripts and the dependency list, never the app", () => {
        const deps = stage(renderDockerfile(base), "dependencies");
        const copies = deps.split("\n").filter((l) => l.startsWith("COPY"));
        expect(copies).toEqual([
            "COPY lisp-deploy/build/common.lisp lisp-deploy/build/sbcl.lisp lisp-deploy/build/dependencies.lisp /opt/lisp-deploy/build/",
            "COPY lisp-deploy/dependencies.txt /opt/lisp-deploy/dependencies.txt",
        ]);
        expect(deps).not.toMatch(/\bapp\//);
        expect(deps).not.toContain("hello.asd");
    });

    test("the dependencies stage text does not change with the app's entry point, build pathname or compression", () => {
        const other = renderDockerfile({ ...base, entryPoint: "hello:other", buildPathname: "srv", compression: true });
        for (const s of ["basepackages", "quicklisp", "dependencies"]) expect(stage(other, s)).toBe(stage(renderDockerfile(base), s));
        expect(stage(other, "build")).not.toBe(stage(renderDockerfile(base), "build"));
    });

    test("Quicklisp (the default source) installs the pinned client and dist over HTTPS only, and loads its setup", () => {
        const clientInfoUrl = "https://beta.quicklisp.org/client/2021-02-13/client-info.sexp";
        const text = renderDockerfile({ ...base, dependencySource: { kind: "quicklisp", distVersion: "2024-10-12", clientInfoUrl } });
        const ql = stage(text, "quicklisp");
        expect(ql).toContain("COPY lisp-deploy/build/quicklisp-https.lisp /opt/lisp-deploy/build/");
        expect(ql).toContain("--load /opt/lisp-deploy/build/quicklisp-https.lisp");
        expect(ql).toContain(
            `--eval '(lisp-deploy-quicklisp:install "/opt/quicklisp/" "${clientInfoUrl}" "https://beta.quicklisp.org/dist/quicklisp/2024-10-12/distinfo.txt")'`,
        );
        // Quicklisp's own client speaks plain HTTP only: nothing in the Dockerfile may hand it an http:// URL.
        expect(text).not.toContain("http://");
        expect(text).not.toContain("quicklisp-quickstart");
        expect(stage(text, "basepackages")).toMatch(/install -y --no-install-recommends ca-certificates curl sbcl/);
        expect(stage(text, "dependencies")).toContain("LISP_DEPLOY_SETUP=/opt/quicklisp/setup.lisp");
        expect(() => renderDockerfile({ ...base, dependencySource: { kind: "quicklisp", distVersion: "2024-10-12", clientInfoUrl: "http://beta.quicklisp.org/x" } })).toThrow(/https URL/);
    });

    test("qlot copies qlfile and qlfile.lock (they are dependencies) and runs qlot install", () => {
        const text = renderDockerfile({ ...base, dependencySource: { kind: "qlot", installerUrl: "https://qlot.tech/installer" } });
        const deps = stage(text, "dependencies");
        expect(deps).toContain("COPY lisp-deploy/qlot/qlfile lisp-deploy/qlot/qlfile.lock /opt/lisp-deploy/qlot/");
        expect(deps).toContain("RUN cd /opt/lisp-deploy/qlot && qlot install");
        expect(deps).toContain("LISP_DEPLOY_SETUP=/opt/lisp-deploy/qlot/.qlot/setup.lisp");
        expect(stage(text, "quicklisp")).toContain("RUN curl -fsSL https://qlot.tech/installer | sh");
    });

    test("Debian packages are installed, sorted, in the quicklisp stage", () => {
        const text = renderDockerfile({ ...base, dependencySource: { kind: "debian", packages: ["cl-ppcre", "cl-alexandria"] } });
        expect(stage(text, "quicklisp")).toContain("apt-get install -y --no-install-recommends cl-alexandria cl-ppcre");
    });

    test("vendored sources and the bundled lisp-deploy runtime are copied into the dependencies stage and registered with ASDF", () => {
        const text = renderDockerfile({ ...base, dependencySource: { kind: "vendored" }, bundlesLispDeploy: true });
        const deps = stage(text, "dependencies");
        expect(deps).toContain("COPY lisp-deploy/vendor/ /opt/lisp-deploy/vendor/");
        expect(deps).toContain("COPY lisp-deploy/runtime/ /opt/lisp-deploy/runtime/");
        expect(deps).toContain("LISP_DEPLOY_SOURCE_TREES=/opt/lisp-deploy/vendor:/opt/lisp-deploy/runtime");
        expect(stage(text, "build")).toContain("LISP_DEPLOY_SOURCE_TREES=/opt/app:/opt/lisp-deploy/vendor:/opt/lisp-deploy/runtime");
    });

    test("SBCL from a tarball URL (checked) or a context file instead of Debian's package", () => {
        const url = stage(renderDockerfile({ ...base, sbcl: { kind: "url", url: "https://example.org/sbcl-2.4.0-x86-64-linux-binary.tar.bz2", sha256: "a".repeat(64) } }), "basepackages");
        expect(url).not.toMatch(/\bsbcl\b \\?$/m);
        expect(url).toContain("RUN curl -fsSL -o /tmp/sbcl.tar https://example.org/sbcl-2.4.0-x86-64-linux-binary.tar.bz2");
        expect(url).toContain(`echo '${"a".repeat(64)}  /tmp/sbcl.tar' | sha256sum -c -`);
        expect(url).toContain("sh install.sh");
        const file = stage(renderDockerfile({ ...base, sbcl: { kind: "file", contextPath: "lisp-deploy/sbcl/sbcl.tar.bz2" } }), "basepackages");
        expect(file).toContain("COPY lisp-deploy/sbcl/sbcl.tar.bz2 /tmp/sbcl.tar");
    });

    test("the slim runtime stage: scratch, the file system assembled in the build stage, the executable, non-root user, PORT", () => {
        const text = renderDockerfile({ ...base, compression: true, port: 5000, buildPathname: "srv" });
        expect(stage(text, "build")).toContain(
            "&& sh /opt/lisp-deploy/build/runtime-rootfs.sh /opt/lisp-deploy/out/srv /opt/lisp-deploy/out/shared-objects.txt /opt/lisp-deploy/rootfs 10001 libssl3",
        );
        // The user-named runtime packages are installed in the build stage, before the app is copied (cached across code changes).
        const build = stage(text, "build");
        expect(build.indexOf("apt-get install -y --no-install-recommends libssl3")).toBeGreaterThan(0);
        expect(build.indexOf("apt-get install -y --no-install-recommends libssl3")).toBeLessThan(build.indexOf("COPY app/"));
        expect(stage(text, "runtime").trimEnd().split("\n")).toEqual([
            "FROM scratch AS runtime",
            "COPY --from=build /opt/lisp-deploy/rootfs/ /",
            "COPY --from=build /opt/lisp-deploy/out/srv /app/srv",
            "USER 10001:10001",
            "WORKDIR /app",
            "ENV PORT=5000",
            "EXPOSE 5000",
            'ENTRYPOINT ["/app/srv"]',
        ]);
        // No RUN at all in the runtime stage: it has no shell to run one.
        expect(stage(text, "runtime")).not.toMatch(/^RUN /m);
        expect(stage(renderDockerfile({ ...base, runtimePackages: [] }), "build")).not.toContain("apt-get");
    });

    test("dynamicSpaceSizeMb is a runtime option of the build's SBCL (saved into the executable); absent, SBCL's default", () => {
        expect(stage(renderDockerfile({ ...base, dynamicSpaceSizeMb: 3072 }), "build")).toContain(
            "sbcl --core /opt/lisp-deploy/dependencies.core --dynamic-space-size 3072MB --non-interactive",
        );
        expect(renderDockerfile(base)).not.toContain("--dynamic-space-size");
        // The dependencies stage does not change with it: the heap limit is the executable's, not the dependencies'.
        expect(stage(renderDockerfile({ ...base, dynamicSpaceSizeMb: 3072 }), "dependencies")).toBe(stage(renderDockerfile(base), "dependencies"));
        for (const bad of [100, 2048.5, -1, 5 * 1024 * 1024]) {
            expect(() => renderDockerfile({ ...base, dynamicSpaceSizeMb: bad })).toThrow(/dynamicSpaceSizeMb/);
        }
        expect(() => renderDockerfile({ ...base, runtimeBase: "alpine" as never })).toThrow(/runtimeBase/);
    });

    test("the debian-slim runtime stage: executable at /app/<name>, libraries, non-root user, PORT, no SBCL", () => {
        const runtime = stage(renderDockerfile({ ...base, runtimeBase: "debian-slim", compression: true, port: 5000, buildPathname: "srv" }), "runtime");
        expect(runtime).toContain("apt-get install -y --no-install-recommends ca-certificates libssl3 libzstd1 zlib1g");
        expect(runtime).toContain("groupadd --system --gid 10001 app \\\n && useradd --system --uid 10001 --gid 10001");
        expect(runtime).toContain("COPY --from=build /opt/lisp-deploy/out/srv /app/srv");
        expect(runtime.trimEnd().split("\n").slice(-5)).toEqual(["USER 10001:10001", "WORKDIR /app", "ENV PORT=5000", "EXPOSE 5000", 'ENTRYPOINT ["/app/srv"]']);
        expect(runtime).not.toMatch(/\bsbcl\b/);
        expect(stage(renderDockerfile({ ...base, runtimeBase: "debian-slim" }), "runtime")).toContain("ca-certificates libssl3 libzstd1 \\");
    });

    test("debian-slim: the build stage finds the Debian packages of the libraries the executable opens; the runtime installs them before the executable", () => {
        const text = renderDockerfile({ ...base, runtimeBase: "debian-slim" });
        expect(stage(text, "build")).toContain(
            "sh /opt/lisp-deploy/build/runtime-packages.sh /opt/lisp-deploy/out/shared-objects.txt /opt/lisp-deploy/out/runtime-packages.txt",
        );
        const runtime = stage(text, "runtime");
        const copyList = runtime.indexOf("COPY --from=build /opt/lisp-deploy/out/runtime-packages.txt");
        const install = runtime.indexOf('if [ -n "$packages" ]; then apt-get update');
        const copyExe = runtime.indexOf("COPY --from=build /opt/lisp-deploy/out/hello /app/hello");
        // Before the executable, so a code change that opens the same libraries keeps the install layer cached.
        expect(copyList).toBeGreaterThan(0);
        expect(install).toBeGreaterThan(copyList);
        expect(copyExe).toBeGreaterThan(install);
    });

    test("values that need it are shell-quoted", () => {
        const text = renderDockerfile({ ...base, systemName: "my app", entryPoint: "my-app:main" });
        expect(text).toContain("LISP_DEPLOY_SYSTEM='my app'");
    });
});

test("renderDependencyList: sorted, unique, requires first", () => {
    expect(renderDependencyList(["b", "a", "b"], ["sb-posix"])).toBe("require sb-posix\nsystem a\nsystem b\n");
});
