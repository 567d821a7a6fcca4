import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { buildHello, writeBrokenExecutable } from "../../support/hello-builds";
import { PulumiWorkspace, scratchDir, writeProgram } from "../../support/pulumi-cli";

// RollingRelease on its own (not through WebApp) under the REAL Pulumi CLI, over two real systemd hosts
// reached by real SSH. The hosts are containers sharing the machine's loopback, so each gets its own app
// port (RollingHost.port); examples-ec2-fleet-engine.test.ts covers hosts that are machines of their own
// behind a load balancer. Ports: sshd 2241/2242, the app 18720/18721 (this suite's range is 18700-18749 and
// 2240-2249).

jest.setTimeout(30 * 60 * 1000);

const PORTS = [18720, 18721];
const STACK = "rolling";
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { RollingRelease } = require("lisp-deploy");

const cfg = new pulumi.Config();
const ports = cfg.requireObject("ports");
// The hosts' connections, private keys included, arrive as one secret.
const connections = cfg.requireSecret("connections").apply((text) => JSON.parse(text));
const roll = new RollingRelease("roll", {
    hosts: ports.map((port, i) => ({ connection: connections.apply((c) => c[i]), port })),
    app: "roll",
    executable: { file: cfg.require("executable") },
    executableName: "hello",
    port: ports[0],
    healthCheck: { path: "/healthz", timeoutSeconds: 10 },
});
exports.urls = roll.urls;
`;

let hosts: SystemdHost[];
let work: string;
let v1: string;
let broken: string;
let ws: PulumiWorkspace;

/** When the host's roll.service last became active, on the kernel's monotonic clock (shared by both containers). */
async function activeSince(host: SystemdHost): Promise<number> {
    return Number((await host.exec("systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "roll.service")).stdout.trim());
}

/**
 * The steps `pulumi up` reported, in the order it reported them: each line naming a resource and what
 * the engine is doing to it or did ("hello-release-host0-activate updating (0s)", "... updated (3s)").
 */
function steps(out: string): { name: string; status: string }[] {
    return out.split("\n").flatMap((line) => {
        const m = /\s([A-Za-z0-9-]+) (creating|created|updating|updated|replacing|replaced|deleting|deleted|failed)\b/.exec(line);
        return m ? [{ name: m[1], status: m[2] }] : [];
    });
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) {
        requireCommand(cmd, pkg);
    }
    work = scratchDir("rolling-e2e");
    let h0: SystemdHost, h1: SystemdHost;
    [v1, h0, h1] = await Promise.all([
        buildHello(path.join(work, "v1"), "Hello from the rolling release."),
        SystemdHost.start("rolling-e2e-host0", 2241),
        SystemdHost.start("rolling-e2e-host1", 2242),
    ]);
    hosts = [h0, h1];
    broken = writeBrokenExecutable(path.join(work, "broken"));
    const project = path.join(work, "project");
    writeProgram(project, "rolling-e2e", PROGRAM);
    ws = new PulumiWorkspace(project, work);
    await ws.initStack(STACK, { ports: JSON.stringify(PORTS), executable: v1 });
    await ws.setSecret(STACK, "connections", JSON.stringify(hosts.map((h) => h.connection)));
}, 10 * 60 * 1000);

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    await Promise.all((hosts ?? []).map((h) => h.stop()));
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("RollingRelease over two real systemd hosts via real SSH, under the real Pulumi engine", () => {
    test("with both hosts healthy, host 1 is released strictly before host 2 and both serve", async () => {
        const up = await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
        expect((await ws.outputs(STACK)).urls).toEqual([`http://127.0.0.1:${PORTS[0]}/`, `http://127.0.0.1:${PORTS[1]}/`]);
        for (const [i, h] of hosts.entries()) {
            const page = await h.curl(PORTS[i], "/");
            expect(page.status).toBe("200");
            expect(page.body).toContain("Hello from the rolling release.");
        }
        // The engine's order: every step on host 1 had finished before the first step on host 2 began.
        const reported = steps(up);
        const lastOfFirst = reported.map((s, i) => (s.name.startsWith("roll-host0-") ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
        const firstOfSecond = reported.findIndex((s) => s.name.startsWith("roll-host1-"));
        // (A step is reported again with each line of output it streams, so "creating" may repeat.)
        expect([...new Set(reported.filter((s) => s.name === "roll-host0-activate").map((s) => s.status))]).toEqual(["creating", "created"]);
        expect(lastOfFirst).toBeGreaterThanOrEqual(0);
        expect(firstOfSecond).toBeGreaterThan(lastOfFirst);
        // The hosts' own clocks agree: host 2's service became active after host 1's.
        const [t0, t1] = await Promise.all(hosts.map(activeSince));
        expect(t0).toBeGreaterThan(0);
        expect(t1).toBeGreaterThan(t0);
    });

    test("a failed health check on host 1 stops the rollout: host 2 is never touched and keeps serving", async () => {
        const since1 = await activeSince(hosts[1]);
        const current1 = (await hosts[1].exec("readlink", "/opt/roll/current")).stdout.trim();
        await ws.ok(["config", "set", "--stack", STACK, "executable", broken]);
        const update = await ws.up(STACK);
        expect(update.code).not.toBe(0);
        expect(update.out).toContain("roll-host0-activate");
        expect(update.out).toContain("boom: this release cannot start");
        const touched = steps(update.out).map((e) => e.name);
        expect(touched).toContain("roll-host0-activate");
        expect(touched.filter((n) => n.startsWith("roll-host1-"))).toEqual([]);
        // Host 2: same release, same process start, nothing uploaded.
        expect((await hosts[1].exec("readlink", "/opt/roll/current")).stdout.trim()).toBe(current1);
        expect(await activeSince(hosts[1])).toBe(since1);
        expect((await hosts[1].exec("sh", "-c", "ls /opt/roll/releases | wc -l")).stdout.trim()).toBe("1");
        // Host 1 rolled back and serves the previous release.
        expect((await hosts[0].curl(PORTS[0], "/")).body).toContain("Hello from the rolling release.");
        expect((await hosts[1].curl(PORTS[1], "/")).body).toContain("Hello from the rolling release.");
    });

    test("destroying removes the app from both hosts", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        for (const h of hosts) expect((await h.exec("test", "-e", "/opt/roll")).code).not.toBe(0);
        for (const [i, h] of hosts.entries()) expect((await h.curl(PORTS[i], "/")).status).toBe("000");
    });
});
