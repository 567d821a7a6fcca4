import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { buildHello } from "../../support/hello-builds";
import { enableListenerMigration } from "../../support/listener-migration";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { ProgramRelease, releasesConfig, writeZdtProgram } from "../../support/zdt-program";
import { describeStress, runZdtStress } from "../../support/zdt-stress";

// Issue 16: zero-downtime holds on a busy machine. Ten zero-downtime releases in a row under the REAL Pulumi
// CLI, behind Caddy from Debian on a real systemd host container, while busy loops occupy every core and
// three clients run: new connections, kept-alive connections, and ~1 s requests (hello's /slow) always in
// flight, so some are in flight at every switch. Zero failed requests. Ports 19000-19049; sshd 2300.

jest.setTimeout(30 * 60 * 1000);

const APP = "zdt-stress";
const STACK = "stress";
const PORTS = { slot: 19000, public: 19002, admin: 19003 };
const SSH_PORT = 2300;
const ROUNDS = 10;

let host: SystemdHost;
let scratch: string;
let ws: PulumiWorkspace;
let builds: string[];

const release = (executable: string): ProgramRelease[] => [
    { app: APP, executable, port: PORTS.slot, zeroDowntime: { proxy: "caddy", publicPort: PORTS.public, listenAddress: "127.0.0.1", adminPort: PORTS.admin } },
];

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"], ["timeout", "coreutils"]]) requireCommand(cmd, pkg);
    enableListenerMigration();
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("zdt-stress");
    let a: string, b: string;
    [a, b, host] = await Promise.all([
        buildHello(path.join(scratch, "a"), "Stress release A."),
        buildHello(path.join(scratch, "b"), "Stress release B."),
        SystemdHost.start("zdt-stress-host", SSH_PORT),
    ]);
    builds = [a, b];
    writeZdtProgram(path.join(scratch, "program"), "zdt-stress");
    ws = new PulumiWorkspace(path.join(scratch, "program"), scratch);
    await ws.initStack(STACK, { sshPort: String(SSH_PORT) });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
    // The first release installs Caddy: set-up, before the clients start.
    await ws.ok(["config", "set", "--stack", STACK, "releases", releasesConfig(release(builds[0]))]);
    await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
}, 15 * 60 * 1000);

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    await host?.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test(`${ROUNDS} zero-downtime releases in a row, every core busy, new, kept-alive and slow requests in flight: zero failed requests`, async () => {
    const url = `http://127.0.0.1:${PORTS.public}/`;
    const r = await runZdtStress({ ws, stack: STACK, url, rounds: ROUNDS, release: (round) => release(builds[(round + 1) % 2]) });
    console.log(`zdt-stress: ${ROUNDS} releases in ${Math.round(r.ms / 1000)} s with ${r.hogs} busy loops\n${describeStress(r)}`);
    expect(r.releases.map((x) => x.code)).toEqual(Array(ROUNDS).fill(0));
    for (const seen of [r.fresh, r.keepAlive, r.slow]) {
        expect(seen.failures).toEqual([]);
        // Both builds were served, alternating, and the last release's text is what remains.
        expect(new Set(seen.bodies.map((x) => x.slice(0, 17)))).toEqual(new Set(["Stress release A.", "Stress release B."]));
    }
    expect(r.fresh.lastBody).toContain(ROUNDS % 2 === 0 ? "Stress release A." : "Stress release B.");
    // Enough traffic that every switch had requests of each kind around it (ten switches).
    expect(r.fresh.total).toBeGreaterThan(ROUNDS * 10);
    expect(r.keepAlive.total).toBeGreaterThan(ROUNDS * 10);
    expect(r.slow.total).toBeGreaterThan(ROUNDS * 2);
    expect((await host.exec("cat", `/opt/${APP}/active-slot`)).stdout.trim()).toBe(ROUNDS % 2 === 0 ? "blue" : "green");
});
