import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { buildHello } from "../../support/hello-builds";
import { PulumiWorkspace, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { SystemdHost } from "../../support/systemd-host";

// releaseCommand and stateDirectory on a fleet (issue 14 items 1, 3 and 6): a RollingRelease over two real
// systemd hosts (containers reached by real SSH) under the REAL Pulumi CLI. The release command is a
// fleet's, not a host's: it runs once per release, on the first host, before either host switches; a
// failing one leaves both hosts on the release they serve. Each host's stateDirectory is its own
// (/var/lib/private/<app> of a dynamic user), so data a migration must find on every host belongs in a
// database the hosts share; here the migration's mark is on the first host only, and the second host's
// /state says so. Ports: sshd 2303/2304, the app 19080/19081 (this suite's ranges).

jest.setTimeout(30 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const APP = "lcfleet";
const PORTS = [19080, 19081];
const STACK = "lifecycle";
/** The app's one secret: it must reach the release command on the first host, and never the CLI's output. */
const CANARY = `canary-${crypto.randomBytes(8).toString("hex")}`;
/** A release command that reports what it sees of the secret (its length only) and fails with status 3. */
const FAILING_COMMAND = ["--eval", '(format t "API_TOKEN has ~D characters~%" (length (uiop:getenv "API_TOKEN")))', "--eval", "(uiop:quit 3)"];
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { RollingRelease } = require("lisp-deploy");

const cfg = new pulumi.Config();
const ports = cfg.requireObject("ports");
// The hosts' connections, private keys included, arrive as one secret.
const connections = cfg.requireSecret("connections").apply((text) => JSON.parse(text));
const roll = new RollingRelease("roll", {
    hosts: ports.map((port, i) => ({ connection: connections.apply((c) => c[i]), port })),
    app: "${APP}",
    executable: { file: cfg.require("executable") },
    executableName: "hello",
    port: ports[0],
    healthCheck: { path: "/healthz", timeoutSeconds: 20 },
    secretEnvironment: { API_TOKEN: cfg.requireSecret("token") },
    releaseCommand: cfg.requireObject("releaseCommand"),
    stateDirectory: "${APP}",
});
exports.urls = roll.urls;
exports.releaseId = roll.releaseId;
`;

let hosts: SystemdHost[];
let work: string;
let executables: string[];
let ws: PulumiWorkspace;

/** The release ids whose release command (`<app>-release@<id>.service`) the host's journal saw start, in order. */
async function releaseCommandRuns(host: SystemdHost): Promise<string[]> {
    const r = await host.exec("journalctl", "--unit", `${APP}-release@*`, "--no-pager", "--output", "cat");
    return [...r.stdout.matchAll(new RegExp(`^Starting ${APP}-release@([0-9a-f]+)\\.service`, "gm"))].map((m) => m[1]);
}

/**
 * When the app's service last became active, on the kernel's monotonic clock (shared by both containers),
 * in microseconds.
 */
async function serviceActiveSince(host: SystemdHost): Promise<number> {
    return Number((await host.exec("systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", `${APP}.service`)).stdout.trim());
}

/**
 * When the journal last wrote about a release's command unit (its end: "Finished" or "Failed"), on the same
 * clock. The unit's own properties are gone by then: a oneshot that has finished is unloaded.
 */
async function releaseCommandEnded(host: SystemdHost, releaseId: string): Promise<number> {
    const r = await host.exec("journalctl", "--unit", `${APP}-release@${releaseId}.service`, "--no-pager", "--output", "json");
    const stamps = r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => Number(JSON.parse(l).__MONOTONIC_TIMESTAMP));
    return Math.max(0, ...stamps);
}
const current = async (host: SystemdHost) => (await host.exec("readlink", `/opt/${APP}/current`)).stdout.trim();

/** The resources `pulumi up` reported a step for. */
function touched(out: string): string[] {
    return out.split("\n").flatMap((line) => {
        const m = /\s([A-Za-z0-9-]+) (creating|created|updating|updated|replacing|replaced|deleting|deleted|failed)\b/.exec(line);
        return m ? [m[1]] : [];
    });
}

async function release(executable: string, command: string[]) {
    await ws.ok(["config", "set", "--stack", STACK, "executable", executable]);
    await ws.ok(["config", "set", "--stack", STACK, "releaseCommand", JSON.stringify(command)]);
    return ws.up(STACK);
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) {
        requireCommand(cmd, pkg);
    }
    work = scratchDir("release-lifecycle-fleet");
    let h0: SystemdHost, h1: SystemdHost;
    let v1: string, v2: string, v3: string;
    [v1, v2, v3, h0, h1] = await Promise.all([
        buildHello(path.join(work, "v1"), "Hello from fleet release one."),
        buildHello(path.join(work, "v2"), "Hello from fleet release two."),
        buildHello(path.join(work, "v3"), "Hello from fleet release three, which never serves."),
        SystemdHost.start(`lifecycle-fleet-${id}-host0`, 2303),
        SystemdHost.start(`lifecycle-fleet-${id}-host1`, 2304),
    ]);
    executables = [v1, v2, v3];
    hosts = [h0, h1];
    const project = path.join(work, "project");
    writeProgram(project, "release-lifecycle-fleet", PROGRAM);
    ws = new PulumiWorkspace(project, work);
    await ws.initStack(STACK, { ports: JSON.stringify(PORTS) });
    await ws.setSecret(STACK, "connections", JSON.stringify(hosts.map((h) => h.connection)));
    await ws.setSecret(STACK, "token", CANARY);
}, 10 * 60 * 1000);

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    await Promise.all((hosts ?? []).map((h) => h.stop()));
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("RollingRelease with releaseCommand and stateDirectory over two real systemd hosts, under the real Pulumi CLI", () => {
    const releaseIds: string[] = [];

    test("releaseCommand: release 1 runs `hello migrate` once, on the first host only, before either host switches", async () => {
        const up = await release(executables[0], ["migrate"]);
        if (up.code !== 0) throw new Error(up.out.slice(-8000));
        releaseIds.push((await ws.outputs(STACK)).releaseId);
        expect(up.out).toContain(`running the release command of release ${releaseIds[0]}`);
        expect(up.out).toContain("migrated the state directory to schema 1");
        expect(up.out.match(/running the release command of release/g)).toHaveLength(1);

        expect(await releaseCommandRuns(hosts[0])).toEqual([releaseIds[0]]);
        expect(await releaseCommandRuns(hosts[1])).toEqual([]);
        // It finished before the first host's service (and so the second's) became active.
        const commandDone = await releaseCommandEnded(hosts[0], releaseIds[0]);
        const [active0, active1] = await Promise.all(hosts.map(serviceActiveSince));
        expect(commandDone).toBeGreaterThan(0);
        expect(active0).toBeGreaterThan(commandDone);
        expect(active1).toBeGreaterThan(active0);

        // stateDirectory: the first host's data holds the migration's mark; the second host's is its own.
        expect(await hosts[0].curl(PORTS[0], "/state")).toEqual({ status: "200", body: "schema 1, visit 1 (hello 1.0.0)\n" });
        expect(await hosts[1].curl(PORTS[1], "/state")).toEqual({ status: "200", body: "schema none, visit 1 (hello 1.0.0)\n" });
    });

    test("stateDirectory: release 2 migrates once more on the first host, and both hosts keep counting visits", async () => {
        const up = await release(executables[1], ["migrate"]);
        if (up.code !== 0) throw new Error(up.out.slice(-8000));
        releaseIds.push((await ws.outputs(STACK)).releaseId);
        expect(releaseIds[1]).not.toBe(releaseIds[0]);
        expect(up.out.match(/running the release command of release/g)).toHaveLength(1);
        expect(await releaseCommandRuns(hosts[0])).toEqual(releaseIds);
        expect(await releaseCommandRuns(hosts[1])).toEqual([]);
        const commandDone = await releaseCommandEnded(hosts[0], releaseIds[1]);
        expect(await serviceActiveSince(hosts[0])).toBeGreaterThan(commandDone);

        for (const [i, h] of hosts.entries()) {
            expect((await h.curl(PORTS[i], "/")).body).toBe("Hello from fleet release two. (hello 1.0.0)\n");
            expect(await current(h)).toBe(`releases/${releaseIds[1]}`);
        }
        expect((await hosts[0].curl(PORTS[0], "/state")).body).toBe("schema 1, visit 2 (hello 1.0.0)\n");
        expect((await hosts[1].curl(PORTS[1], "/state")).body).toBe("schema none, visit 2 (hello 1.0.0)\n");
    });

    test("releaseCommand: a release whose command exits 3 fails the update with its output (the secret reached it), and both hosts keep serving release 2", async () => {
        const since = await Promise.all(hosts.map(serviceActiveSince));
        const up = await release(executables[2], FAILING_COMMAND);
        expect(up.code).not.toBe(0);
        expect(up.out).toMatch(/the release command of release [0-9a-f]+ failed \(exit status 3\); nothing was switched/);
        // The command's own output is in the error: it ran from the new release with the release's secret.
        expect(up.out).toMatch(/hello 1\.0\.0: evaluating 2 --eval arguments/);
        expect(up.out).toContain(`API_TOKEN has ${CANARY.length} characters`);
        // The second host was never touched.
        expect(touched(up.out).filter((n) => n.startsWith("roll-host1-"))).toEqual([]);
        const runs = await releaseCommandRuns(hosts[0]);
        expect(runs).toHaveLength(3);
        expect(runs.slice(0, 2)).toEqual(releaseIds);
        expect(await releaseCommandRuns(hosts[1])).toEqual([]);

        for (const [i, h] of hosts.entries()) {
            expect(await current(h)).toBe(`releases/${releaseIds[1]}`);
            expect(await serviceActiveSince(h)).toBe(since[i]);
            expect((await h.curl(PORTS[i], "/")).body).toBe("Hello from fleet release two. (hello 1.0.0)\n");
        }
        expect((await hosts[0].curl(PORTS[0], "/state")).body).toBe("schema 1, visit 3 (hello 1.0.0)\n");
    });

    test("the secret stays out of every command line and output the CLI printed, and out of plain state", async () => {
        expect(ws.transcript.join("\n")).not.toContain(CANARY);
        expect((await ws.exportState(STACK)).text).not.toContain(CANARY);
    });

    test("stateDirectory: destroying removes the app from both hosts and keeps their data", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        for (const [i, h] of hosts.entries()) {
            expect((await h.exec("test", "-e", `/opt/${APP}`)).code).not.toBe(0);
            expect((await h.curl(PORTS[i], "/")).status).toBe("000");
            expect((await h.exec("cat", `/var/lib/private/${APP}/visits.txt`)).stdout.trim()).toBe(i === 0 ? "3" : "2");
        }
    });
});
