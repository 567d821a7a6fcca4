// Deploys examples/hello to a server you already have (any Debian/Ubuntu machine with systemd, reached over
// SSH as root or a passwordless-sudo user), run by a hardened systemd unit with health check and rollback.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DependencySourceKind, WebApp, ZeroDowntime } from "lisp-deploy";

const config = new pulumi.Config();
const appDir = path.relative(process.cwd(), path.join(__dirname, "..", "hello")) || ".";

const app = new WebApp("hello", {
    app: {
        path: appDir,
        dependencySource: { kind: (config.get("dependencySource") ?? "quicklisp") as DependencySourceKind },
        compression: true,
        port: config.getNumber("port") ?? 8080,
        buildNetwork: config.get("buildNetwork"),
        environment: config.get("greeting") ? { GREETING: config.require("greeting") } : undefined,
        healthPath: "/healthz",
    },
    target: {
        kind: "ssh",
        ssh: {
            host: config.require("host"),
            port: config.getNumber("sshPort") ?? 22,
            user: config.get("user") ?? "root",
            privateKey: config.requireSecret("sshPrivateKey"),
            swankPort: config.getNumber("swankPort"),
            // Set (`pulumi config set --path zeroDowntime.publicPort 80 --type int`): two slots behind Caddy on
            // that port, and a release switches slots instead of restarting the app. Open that port, not `port`.
            zeroDowntime: config.getObject<ZeroDowntime>("zeroDowntime"),
        },
    },
});

export const url = app.url;
export const sshCommand = app.sshCommand;
export const swankTunnel = app.swankTunnel;
export const logsCommand = app.logsCommand;
export const unit = app.unit;
