import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { buildHello, writeBrokenExecutable } from "../../support/hello-builds";
import { enableListenerMigration } from "../../support/listener-migration";
import { startLoad } from "../../support/load";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { ProgramRelease, releasesConfig, writeZdtProgram } from "../../support/zdt-program";

// SystemdRelease's zero-downtime mode under the REAL Pulumi CLI: a small program (support/zdt-program.ts)
// releases examples/hello builds over real SSH to a real systemd host container, behind Caddy and nginx from
// Debian. Ports 18700-18749 (this suite's range); sshd on 2240. One host: every app here shares its Caddy.

jest.setTimeout(20 * 60 * 1000);

const CADDY = { slot: 18700, public: 18702 };
const NGINX = { slot: 18710, public: 18712 };
// 18720-18721 are rolling-release.test.ts's (it shares this range).
const PAIR = { a: { slot: 18730, public: 18732 }, b: { slot: 18734, public: 18736 } };
/** Caddy's admin API: one Caddy per host, so every app on it gives the same port. */
const CADDY_ADMIN = 18703;
const SSH_PORT = 2240;

let host: SystemdHost;
let scratch: string;
let ws: PulumiWorkspace;
let v1: string;
let v2: string;
let broken: string;

type Proxy = "caddy" | "nginx";
const release = (app: string, executable: string, proxy: Proxy, ports: { slot: number; public: number }): ProgramRelease => ({
    app,
    executable,
    port: ports.slot,
    zeroDowntime: { proxy, publicPort: ports.public, listenAddress: "127.0.0.1", ...(proxy === "caddy" ? { adminPort: CADDY_ADMIN } : {}) },
});

const stacks = new Set<string>();
async function stack(name: string): Promise<string> {
    if (!stacks.has(name)) {
        await ws.initStack(name, { sshPort: String(SSH_PORT) });
        await ws.setSecret(name, "sshPrivateKey", host.privateKey);
        stacks.add(name);
    }
    return name;
}

/** `pulumi up` of the program with these releases on stack `name`. */
async function up(name: string, releases: ProgramRelease[]) {
    await ws.ok(["config", "set", "--stack", await stack(name), "releases", releasesConfig(releases)]);
    return ws.up(name);
}

async function upOk(name: string, releases: ProgramRelease[]) {
    const r = await up(name, releases);
    if (r.code !== 0) throw new Error(`pulumi up of ${name} failed:\n${r.out.slice(-8000)}`);
    return r;
}

const activeSlot = async (app: string) => (await host.exec("cat", `/opt/${app}/active-slot`)).stdout.trim();
const mainPid = async (unit: string) => (await host.exec("systemctl", "show", "-p", "MainPID", "--value", unit)).stdout.trim();
const isActive = async (unit: string) => (await host.exec("systemctl", "is-active", unit)).stdout.trim();
/** This app's activate command as the engine stored it (what `pulumi up` ran on the host). */
async function activateCommand(name: string, app: string): Promise<string> {
    const { resources } = await ws.exportState(name);
    const r = resources.find((x: any) => x.type === "command:remote:Command" && x.urn.endsWith(`::${app}-activate`));
    if (!r) throw new Error(`no ${app}-activate in the state of ${name}`);
    return r.inputs.create;
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) requireCommand(cmd, pkg);
    enableListenerMigration();
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("zdt-release");
    [v1, v2, host] = await Promise.all([
        buildHello(path.join(scratch, "v1"), "Hello from the blue release."),
        buildHello(path.join(scratch, "v2"), "Hello from the green release."),
        SystemdHost.start("zdt-release-host", SSH_PORT),
    ]);
    broken = writeBrokenExecutable(path.join(scratch, "broken"));
    writeZdtProgram(path.join(scratch, "program"), "zdt-release");
    ws = new PulumiWorkspace(path.join(scratch, "program"), scratch);
}, 15 * 60 * 1000);

afterAll(async () => {
    for (const name of stacks) await ws.destroy(name);
    await host?.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe.each(["caddy", "nginx"] as const)("SystemdRelease zero-downtime mode behind %s from Debian, under the real Pulumi CLI, on a real systemd host over real SSH", (proxy) => {
    const app = `zdt-${proxy}`;
    const ports = proxy === "caddy" ? CADDY : NGINX;
    const publicUrl = `http://127.0.0.1:${ports.public}/`;

    test("the first release installs the proxy, starts the blue slot on loopback and serves through the proxy", async () => {
        await upOk(proxy, [release(app, v1, proxy, ports)]);
        expect((await ws.outputs(proxy)).urls[app]).toBe(publicUrl);
        expect(await activeSlot(app)).toBe("blue");
        const page = await host.curl(ports.public, "/");
        expect(page.status).toBe("200");
        expect(page.body).toContain("Hello from the blue release.");
        // The slot itself listens on 127.0.0.1 only (BIND_ADDRESS), the proxy is the entry.
        const env = await host.exec("systemctl", "show", "-p", "Environment", "--value", `${app}-blue.service`);
        expect(env.stdout).toContain("BIND_ADDRESS=127.0.0.1");
    });

    test("a release under a request loop (new connections and kept-alive ones) drops zero requests and serves the new text afterwards", async () => {
        const fresh = startLoad(publicUrl, { maxRequests: 2000, tailMs: 2000, hardLimitMs: 300_000 });
        const kept = startLoad(publicUrl, { maxRequests: 2000, tailMs: 2000, hardLimitMs: 300_000, connections: "keep-alive" });
        await upOk(proxy, [release(app, v2, proxy, ports)]);
        for (const seen of [await fresh.stop(), await kept.stop()]) {
            expect(seen.failures).toEqual([]);
            expect(seen.total).toBeGreaterThan(20);
            // The loop ran across the switch: it saw the old text, then the new one, and nothing else.
            expect(seen.bodies.map((b) => (b.includes("blue") ? "old" : b.includes("green") ? "new" : b))).toEqual(["old", "new"]);
            expect(seen.lastBody).toContain("Hello from the green release.");
        }
        expect(await activeSlot(app)).toBe("green");
        // The old slot drained and stopped.
        expect(await isActive(`${app}-blue.service`)).not.toBe("active");
    });

    test("a release failing its health check keeps the old slot serving with zero failed requests and fails with the new slot's journal", async () => {
        const config = `/etc/${proxy === "caddy" ? `caddy/lisp-deploy/${app}.caddy` : `nginx/conf.d/lisp-deploy-${app}.conf`}`;
        const configBefore = (await host.exec("cat", config)).stdout;
        expect(configBefore).toContain(`127.0.0.1:${ports.slot + 1}`);
        const load = startLoad(publicUrl, { maxRequests: 2000, tailMs: 2000, hardLimitMs: 300_000 });
        const failed = await up(proxy, [release(app, broken, proxy, ports)]);
        const seen = await load.stop();
        expect(failed.code).not.toBe(0);
        expect(failed.out).toContain("failed its health check on slot blue");
        expect(failed.out).toContain(`journal lines of ${app}-blue.service`);
        expect(failed.out).toContain("boom: this release cannot start");
        expect(seen.failures).toEqual([]);
        expect(seen.total).toBeGreaterThan(20);
        expect(seen.bodies).toHaveLength(1);
        expect(seen.lastBody).toContain("Hello from the green release.");
        expect(await activeSlot(app)).toBe("green");
        expect((await host.exec("cat", config)).stdout).toBe(configBefore);
    });

    test("going back to the serving release restarts nothing; the activation run again by hand is idempotent; destroy removes the slots and the proxy config", async () => {
        const pid = await mainPid(`${app}-green.service`);
        await upOk(proxy, [release(app, v2, proxy, ports)]);
        expect(await mainPid(`${app}-green.service`)).toBe(pid);
        const again = await host.ssh(await activateCommand(proxy, app));
        expect(again.stderr).toContain("is already serving from slot green");
        expect(again.code).toBe(0);
        expect(await mainPid(`${app}-green.service`)).toBe(pid);
        expect(await activeSlot(app)).toBe("green");
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", proxy]);
        expect((await host.exec("test", "-e", `/opt/${app}`)).code).not.toBe(0);
        expect((await host.exec("test", "-e", `/etc/systemd/system/${app}-green.service`)).code).not.toBe(0);
        expect((await host.curl(ports.public, "/")).status).not.toBe("200");
    });
});

describe("two zero-downtime apps behind one Caddy on one host (separate stacks)", () => {
    const a = "zdt-pair-a";
    const b = "zdt-pair-b";
    const urlOf = (ports: { public: number }) => `http://127.0.0.1:${ports.public}/`;

    test("both are served, each from its own site file; releasing one leaves the other serving with zero failed requests", async () => {
        await upOk("pair-a", [release(a, v1, "caddy", PAIR.a)]);
        await upOk("pair-b", [release(b, v1, "caddy", PAIR.b)]);
        expect((await host.curl(PAIR.a.public)).body).toContain("blue release");
        expect((await host.curl(PAIR.b.public)).body).toContain("blue release");
        expect((await host.exec("ls", "/etc/caddy/lisp-deploy")).stdout.split("\n").filter(Boolean).sort()).toEqual([`${a}.caddy`, `${b}.caddy`]);

        const other = startLoad(urlOf(PAIR.b), { maxRequests: 2000, tailMs: 1000, hardLimitMs: 300_000 });
        await upOk("pair-a", [release(a, v2, "caddy", PAIR.a)]);
        const seen = await other.stop();
        expect(seen.failures).toEqual([]);
        expect(seen.bodies).toEqual([expect.stringContaining("blue release")]);
        expect((await host.curl(PAIR.a.public)).body).toContain("green release");
        expect((await host.exec("cat", `/etc/caddy/lisp-deploy/${b}.caddy`)).stdout).toContain(`reverse_proxy 127.0.0.1:${PAIR.b.slot}`);
    });

    test("an activation interrupted while switching the proxy is repaired by the next run, which finishes the switch to the healthy slot", async () => {
        // A reload that never returns (as when the connection to the host drops right there): a systemctl in
        // front on root's PATH hangs on `reload`, records its pid; then the run is killed, as a lost host would.
        const shim = "/usr/local/sbin/systemctl";
        await host.ssh(`cat > ${shim} && chmod 0755 ${shim}`, '#!/bin/sh\nif [ "$1" = reload ]; then echo $$ > /run/hung-reload.pid; exec sleep 600; fi\nexec /usr/bin/systemctl "$@"\n');
        const interrupted = up("pair-b", [release(b, v2, "caddy", PAIR.b)]);
        await host.waitFor(async () => (await host.exec("test", "-s", "/run/hung-reload.pid")).code === 0, "the release to reach the proxy reload", 300);
        // The hung reload and the activation script running it (its parent), like a host that went away.
        expect((await host.exec("bash", "-c", 'p=$(cat /run/hung-reload.pid); kill -9 "$(cut -d" " -f4 /proc/$p/stat)" "$p"')).code).toBe(0);
        await host.exec("rm", "-f", shim, "/run/hung-reload.pid");
        const r = await interrupted;
        expect(r.code).not.toBe(0);

        // What it left: the new slot running and checked, its config written, the proxy still on the old slot.
        expect((await host.exec("cat", `/opt/${b}/switch-pending`)).stdout.trim()).toBe("green");
        expect(await activeSlot(b)).toBe("blue");
        expect((await host.curl(PAIR.b.public)).body).toContain("blue release");

        const load = startLoad(urlOf(PAIR.b), { maxRequests: 2000, tailMs: 1000, hardLimitMs: 300_000 });
        const next = await upOk("pair-b", [release(b, v2, "caddy", PAIR.b)]);
        const seen = await load.stop();
        expect(next.out).toContain("was interrupted while switching the proxy to slot green, which is healthy: finishing that switch");
        expect(seen.failures).toEqual([]);
        expect((await host.exec("test", "-e", `/opt/${b}/switch-pending`)).code).not.toBe(0);
        expect(await activeSlot(b)).toBe("green");
        expect((await host.curl(PAIR.b.public)).body).toContain("green release");
        expect(await isActive(`${b}-blue.service`)).not.toBe("active");
    });

    test("destroying one app removes its site and keeps Caddy serving the other; destroying the last stops Caddy", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", "pair-a"]);
        expect((await host.exec("test", "-e", `/etc/caddy/lisp-deploy/${a}.caddy`)).code).not.toBe(0);
        expect((await host.curl(PAIR.a.public)).status).not.toBe("200");
        expect((await host.curl(PAIR.b.public)).body).toContain("green release");
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", "pair-b"]);
        expect(await isActive("caddy.service")).not.toBe("active");
    });
});
