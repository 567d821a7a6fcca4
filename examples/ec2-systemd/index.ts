// Deploys examples/hello to a new Debian 12 EC2 instance, run by systemd: the image is built locally, the
// executable copied out of it, shipped over SSH into /opt/hello/releases/<id>, health-checked, rolled back
// on failure. `pulumi preview` shows the Dockerfile, the unit and the cloud-init user data.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DependencySourceKind, Platform, WebApp } from "lisp-deploy";

const config = new pulumi.Config();
const appDir = path.relative(process.cwd(), path.join(__dirname, "..", "hello")) || ".";

const environment: Record<string, string> = {};
if (config.get("greeting")) environment.GREETING = config.require("greeting");
// "127.0.0.1" when a reverse proxy on the host fronts the app (default: all interfaces).
if (config.get("bindAddress")) environment.BIND_ADDRESS = config.require("bindAddress");

const app = new WebApp("hello", {
    app: {
        path: appDir,
        dependencySource: { kind: (config.get("dependencySource") ?? "quicklisp") as DependencySourceKind },
        compression: true,
        port: config.getNumber("port") ?? 8080,
        platform: (config.get("platform") ?? "linux/amd64") as Platform,
        buildNetwork: config.get("buildNetwork"),
        environment,
        secretEnvironment: config.get("apiToken") !== undefined ? { API_TOKEN: config.requireSecret("apiToken") } : undefined,
        healthPath: "/healthz",
    },
    target: {
        kind: "ec2",
        ec2: {
            instanceType: config.get("instanceType") ?? "t3.small",
            publicKey: config.require("sshPublicKey"),
            privateKey: config.requireSecret("sshPrivateKey"),
            sshCidrs: config.requireObject<string[]>("sshCidrs"),
            sshPort: config.getNumber("sshPort"),
            swankPort: config.getNumber("swankPort"),
            elasticIp: config.getBoolean("elasticIp") ?? false,
            // 2 or more: that many hosts behind a load balancer, released one at a time.
            hosts: config.getNumber("hosts"),
            // Set: each host runs two slots behind Caddy on this plain-HTTP port and a release switches
            // slots instead of restarting the app (the balancer then checks this port).
            zeroDowntime: config.getNumber("zeroDowntimePublicPort") !== undefined ? { publicPort: config.requireNumber("zeroDowntimePublicPort") } : undefined,
        },
    },
});

export const url = app.url;
export const sshCommand = app.sshCommand;
export const sshCommands = app.sshCommands;
export const swankTunnel = app.swankTunnel;
export const logsCommand = app.logsCommand;
export const imageRef = app.imageRef;
export const unit = app.unit;
export const userData = app.userData;
export const dockerfile = app.dockerfile;
