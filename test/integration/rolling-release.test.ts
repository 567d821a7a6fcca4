import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../harness/acting-engine";
import { requireCommand, requireDocker } from "../../support/engines";
import { valueOf } from "../harness/mocks";
import { SystemdHost } from "../../support/systemd-host";
import { RollingRelease } from "../../src/release/rollingRelease";
import { buildHello, writeBrokenExecutable } from "../../support/hello-builds";

// Two real systemd hosts (containers sharing the machine's loopback, so each gets its own app port):
// sshd on 2241/2242, the app on 18720/18721 — this suite's range is 18700-18749 and 2240-2249.
const PORTS = [18720, 18721];
let hosts: SystemdHost[];
let work: string;
let v1: string;
let broken: string;
const engine = new ActingEngine("lisp-deploy", "rolling-e2e");

function rolling(executable: string) {
    return new RollingRelease("roll", {
        hosts: hosts.map((h, i) => ({ connection: h.connection, port: PORTS[i] })),
        app: "roll",
        executable: { file: executable },
        executableName: "hello",
        port: PORTS[0],
        healthCheck: { path: "/healthz", timeoutSeconds: 10 },
    });
}

/** When the host's roll.service last became active, on the kernel's monotonic clock (shared by both containers). */
async function activeSince(host: SystemdHost): Promise<number> {
    return Number((await host.exec("systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "roll.service")).stdout.trim());
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) {
        requireCommand(cmd, pkg);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rolling-e2e-"));
    let h0: SystemdHost, h1: SystemdHost;
    [v1, h0, h1] = await Promise.all([
        buildHello(path.join(work, "v1"), "Hello from the rolling release."),
        SystemdHost.start("zdt-rolling-host0", 2241),
        SystemdHost.start("zdt-rolling-host1", 2242),
    ]);
    hosts = [h0, h1];
    broken = writeBrokenExecutable(path.join(work, "broken"));
}, 10 * 60 * 1000);

afterAll(async () => {
    await Promise.all((hosts ?? []).map((h) => h.stop()));
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("RollingRelease over two real systemd hosts via real SSH (Pulumi engine stood in for by ActingEngine)", () => {
    test("with both hosts healthy, host 1 is released strictly before host 2 and both serve", async () => {
        const r = await engine.up(() => rolling(v1));
        expect(await valueOf(r.urls)).toEqual([`http://127.0.0.1:${PORTS[0]}/`, `http://127.0.0.1:${PORTS[1]}/`]);
        for (const [i, h] of hosts.entries()) {
            const page = await h.curl(PORTS[i], "/");
            expect(page.status).toBe("200");
            expect(page.body).toContain("Hello from the rolling release.");
        }
        // The engine's order: every action on host 1 finished before the first action on host 2 began.
        const names = engine.actions.map((a) => a.name);
        const lastOfFirst = Math.max(...names.map((n, i) => (n.startsWith("roll-host0-") ? i : -1)));
        const firstOfSecond = names.findIndex((n) => n.startsWith("roll-host1-"));
        expect(lastOfFirst).toBeGreaterThanOrEqual(0);
        expect(firstOfSecond).toBeGreaterThan(lastOfFirst);
        // The hosts' own clocks agree: host 2's service became active after host 1's.
        const [t0, t1] = await Promise.all(hosts.map(activeSince));
        expect(t0).toBeGreaterThan(0);
        expect(t1).toBeGreaterThan(t0);
    });

    test("a failed health check on host 1 stops the rollout: host 2 is never touched and keeps serving", async () => {
        const before = engine.actions.length;
        const since1 = await activeSince(hosts[1]);
        const current1 = (await hosts[1].exec("readlink", "/opt/roll/current")).stdout.trim();
        let error: Error | undefined;
        await engine.up(() => rolling(broken)).catch((e) => (error = e));
        expect(error).toBeDefined();
        expect(error!.message).toContain("roll-host0-activate");
        expect(error!.message).toContain("boom: this release cannot start");
        const touched = engine.actions.slice(before).map((a) => a.name);
        expect(touched.filter((n) => n.startsWith("roll-host0-"))).toContain("roll-host0-activate");
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
        await engine.destroy();
        for (const h of hosts) expect((await h.exec("test", "-e", "/opt/roll")).code).not.toBe(0);
    });
});
