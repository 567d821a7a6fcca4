import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { enableListenerMigration } from "../../support/listener-migration";
import { startLoad } from "../../support/load";
import { SystemdHost } from "../../support/systemd-host";
import { breakAppStart, changedResources, copyExample, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/ssh-host, with `zeroDowntime` set in its stack config, under the REAL Pulumi CLI against a systemd +
// sshd host container: WebApp's ssh target releases into two slots behind Debian's Caddy on the host. Only the
// docker and command plugins are stood in for, and they act for real (support/providers).
// Ports: Caddy 18870 (127.0.0.1), Caddy's admin API 18871, slots 18872/18873, sshd 2284.

jest.setTimeout(60 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const PUBLIC_PORT = 18870;
const ADMIN_PORT = 18871;
const SLOT_PORT = 18872;
const SSH_PORT = 2284;
const URL = `http://127.0.0.1:${PUBLIC_PORT}/`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello from the other slot.";
const SECOND = `${SECOND_GREETING} (hello 1.0.0)\n`;

let scratch = "";
let appDir = "";
let host: SystemdHost;
let ws: PulumiWorkspace;

const activeSlot = async () => (await host.exec("cat", "/opt/hello/active-slot")).stdout.trim();

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    // The host container shares this machine's network namespace, where Caddy's reload needs the kernel to
    // hand queued connections to its new socket (the release sets it on a real server; see the helper).
    enableListenerMigration();
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    host = await SystemdHost.start(`lisp-deploy-zdt-e2e-${id}`, SSH_PORT);
    scratch = scratchDir("examples-zdt-engine");
    const example = copyExample(scratch, "ssh-host");
    appDir = example.appDir;
    ws = new PulumiWorkspace(example.projectDir, scratch);
    await ws.initStack(STACK, {
        host: "127.0.0.1",
        sshPort: String(SSH_PORT),
        port: String(SLOT_PORT),
        dependencySource: "debian",
        buildNetwork: "host",
    });
    // The one structured setting, as a user writes it (README): numbers typed, the proxy on loopback only.
    for (const [key, value, type] of [
        ["zeroDowntime.publicPort", String(PUBLIC_PORT), "int"],
        ["zeroDowntime.adminPort", String(ADMIN_PORT), "int"],
        ["zeroDowntime.listenAddress", "127.0.0.1", "string"],
    ]) {
        await ws.ok(["config", "set", "--path", key, value, "--type", type, "--stack", STACK]);
    }
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    if (host) await host.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/ssh-host with zeroDowntime under the real engine: up serves the app through Caddy from a slot; a second preview changes nothing", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    expect((await ws.outputs(STACK)).url).toBe(URL);
    expect(httpGet(URL)).toEqual({ status: "200", body: FIRST });
    expect(await activeSlot()).toBe("blue");
    expect((await host.exec("systemctl", "is-active", "caddy.service")).stdout.trim()).toBe("active");
    expect((await host.exec("systemctl", "is-active", "hello-blue.service")).stdout.trim()).toBe("active");

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);
});

test("an app source change previews as image and release only, never the host; up switches slots under load with zero failed requests", async () => {
    setGreeting(appDir, SECOND_GREETING);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    const changed = changedResources(preview);
    expect(changed).toContain("update docker:index/image:Image hello-image-image");
    for (const c of changed) expect(c).toMatch(/^update (docker:index\/image:Image hello-image-|command:[a-z]+:[A-Za-z]+ hello-release-)/);
    expect(preview).not.toMatch(/hello-host-/);

    const fresh = startLoad(URL, { maxRequests: 3000, tailMs: 2000, hardLimitMs: 600_000 });
    const kept = startLoad(URL, { maxRequests: 3000, tailMs: 2000, hardLimitMs: 600_000, connections: "keep-alive" });
    await ws.ok(["up", "--yes", "--stack", STACK]);
    for (const seen of [await fresh.stop(), await kept.stop()]) {
        console.log(`examples-zdt-engine: ${seen.total} requests during the up, ${seen.failures.length} failed, ${seen.retried} re-sent on a closed idle connection`);
        expect(seen.failures).toEqual([]);
        expect(seen.total).toBeGreaterThan(20);
        expect(seen.lastBody).toBe(SECOND);
    }
    expect(await activeSlot()).toBe("green");
    expect((await host.exec("systemctl", "is-active", "hello-blue.service")).stdout.trim()).not.toBe("active");
});

test("a release that fails its health check fails the update with the new slot's journal; the old slot keeps serving with zero failed requests", async () => {
    breakAppStart(appDir);
    const load = startLoad(URL, { maxRequests: 3000, tailMs: 2000, hardLimitMs: 600_000 });
    const update = await ws.up(STACK);
    const seen = await load.stop();
    expect(update.code).not.toBe(0);
    expect(update.out).toContain("failed its health check on slot blue; slot green keeps serving");
    expect(update.out).toContain("journal lines of hello-blue.service");
    expect(update.out).toContain("hello: refusing to start (test)");
    expect(seen.failures).toEqual([]);
    expect(httpGet(URL)).toEqual({ status: "200", body: SECOND });
    expect(await activeSlot()).toBe("green");
});

test("destroy leaves nothing of the app on the host: no slot units, no /opt/hello, no proxy config, nothing answering", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    for (const unit of ["hello-blue", "hello-green"]) {
        expect((await host.exec("test", "-e", `/etc/systemd/system/${unit}.service`)).code).not.toBe(0);
    }
    expect((await host.exec("test", "-e", "/opt/hello")).code).not.toBe(0);
    expect((await host.exec("test", "-e", "/etc/caddy/lisp-deploy/hello.caddy")).code).not.toBe(0);
    expect(httpGet(URL).status).toBe("000");
});
