// Deploys examples/hello on the local Docker engine: no cloud account, served on http://127.0.0.1:<port>.
// `pulumi up` here (or at the repository root, whose Pulumi.yaml points at this program) builds the image
// and runs it; `pulumi preview` shows the rendered Dockerfile and the container's exact settings.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DependencySourceKind, NetworkMode, WebApp } from "lisp-deploy";

const config = new pulumi.Config();

// The app directory relative to where the program runs (this directory or the repository root), so no
// machine's absolute path reaches a resource input.
const appDir = path.relative(process.cwd(), path.join(__dirname, "..", "hello")) || ".";

const app = new WebApp("hello", {
    app: {
        path: appDir,
        // Quicklisp by default; "debian" takes the libraries from Debian's cl-* packages instead.
        dependencySource: { kind: (config.get("dependencySource") ?? "quicklisp") as DependencySourceKind },
        compression: config.getBoolean("compression") ?? true,
        // "host" on engines without a bridge network (dockerd --bridge=none).
        buildNetwork: config.get("buildNetwork"),
        environment: config.get("greeting") ? { GREETING: config.require("greeting") } : undefined,
        // A secret reaches the app as an environment variable, never in a preview, a log or plain state:
        // `pulumi config set --secret apiToken` (stored encrypted in the stack's config and state).
        secretEnvironment: config.getSecret("apiToken") ? { API_TOKEN: config.requireSecret("apiToken") } : undefined,
        healthPath: "/healthz",
    },
    target: {
        kind: "local",
        local: {
            port: config.getNumber("port") ?? 8080,
            networkMode: (config.get("networkMode") ?? "bridge") as NetworkMode,
            containerName: config.get("containerName"),
        },
    },
});

export const url = app.url;
export const imageRef = app.imageRef;
export const logsCommand = app.logsCommand;
export const dockerfile = app.dockerfile;
