import { writeProgram } from "./pulumi-cli";

/** One SystemdRelease of the zero-downtime program: the `releases` stack config is a list of these. */
export interface ProgramRelease {
    /** App name (and the release's resource name). */
    app: string;
    /** The executable on this machine (SystemdRelease's `executable.file`). */
    executable: string;
    /** The app's port (in zero-downtime mode the blue slot's; green is port + 1). */
    port: number;
    /** SystemdRelease's `zeroDowntime`, or none for plain mode. */
    zeroDowntime?: { proxy: "caddy" | "nginx"; publicPort: number; listenAddress: string; adminPort?: number; drainSeconds?: number };
}

/**
 * A small Pulumi program (JavaScript, run by the REAL CLI) of SystemdReleases of examples/hello builds to
 * one host over SSH: the stack config `releases` (a JSON list of {@link ProgramRelease}), `sshPort` and the
 * secret `sshPrivateKey`. Exports `urls`, app name to the release's url. Shared by the zero-downtime
 * integration tests and bench/zdt.ts.
 */
export function writeZdtProgram(dir: string, project = "zdt"): void {
    writeProgram(
        dir,
        project,
        `"use strict";
const pulumi = require("@pulumi/pulumi");
const { SystemdRelease } = require("lisp-deploy");
const config = new pulumi.Config();
const connection = { host: "127.0.0.1", port: config.requireNumber("sshPort"), user: "root", privateKey: config.requireSecret("sshPrivateKey") };
const urls = {};
for (const r of config.requireObject("releases")) {
    const release = new SystemdRelease(r.app, {
        connection,
        app: r.app,
        executable: { file: r.executable },
        executableName: "hello",
        port: r.port,
        healthCheck: { path: "/healthz", timeoutSeconds: 20 },
        ...(r.zeroDowntime ? { zeroDowntime: r.zeroDowntime } : {}),
    });
    urls[r.app] = release.url;
}
exports.urls = urls;
`,
    );
}

/** The `pulumi config set` value of `releases`. */
export const releasesConfig = (releases: ProgramRelease[]) => JSON.stringify(releases);
