import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { SystemdHost } from "../../support/systemd-host";

// An app that does not use lisp-deploy's runtime (examples/plain-hunchentoot: its own main, the
// Cookbook's way), deployed through WebApp's ssh target onto a real systemd host (a container with
// systemd as PID 1 and sshd) over real SSH, under the REAL Pulumi CLI (support/pulumi-cli.ts); its image
// built by the real Docker engine from Debian's cl-* packages. One small program (below), the unit type and
// start timeout as stack config, one stack shared by the tests in order.
// Before issue 17 its unit was Type=notify, and systemd killed it every minute for never sending READY=1
// while the deploy reported success. Ports: app 18560, sshd 127.0.0.1:2232.

jest.setTimeout(30 * 60 * 1000);

const APP_PORT = 18560;
const SSH_PORT = 2232;
const STACK = "plain-app-e2e";
const UNIT = "notes.service";
const READY = "the app never sent READY=1: depend on lisp-deploy (lisp-deploy:main) or set serviceType: exec";

/** The program: WebApp `notes` of ../plain-hunchentoot on the ssh target; `serviceType`/`startTimeoutSeconds` optional. */
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { WebApp } = require("lisp-deploy");
const config = new pulumi.Config();
const serviceType = config.get("serviceType");
const startTimeoutSeconds = config.getNumber("startTimeoutSeconds");
const notes = new WebApp("notes", {
    app: {
        path: "../plain-hunchentoot",
        dependencySource: { kind: "debian" },
        buildNetwork: "host",
        port: ${APP_PORT},
        // The host container shares this machine's network: keep the app on loopback.
        environment: { BIND_ADDRESS: "127.0.0.1" },
        healthPath: "/healthz",
        ...(serviceType ? { serviceType } : {}),
        ...(startTimeoutSeconds ? { startTimeoutSeconds } : {}),
    },
    target: { kind: "ssh", ssh: { host: "127.0.0.1", port: config.requireNumber("sshPort"), user: "root", privateKey: config.requireSecret("sshPrivateKey") } },
});
exports.url = notes.url;
exports.unit = notes.unit;
`;

let host: SystemdHost;
let scratch = "";
let ws: PulumiWorkspace;
/** The images the stack built (read from its state), removed at the end. */
let images: string[] = [];

/** What systemd says about the unit, as a map of the properties asked for. */
async function show(...properties: string[]): Promise<Record<string, string>> {
    const r = await host.exec("systemctl", "show", ...properties.flatMap((p) => ["-p", p]), UNIT);
    return Object.fromEntries(r.stdout.trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

/** The image names the stack's docker Images hold. */
async function builtImages(): Promise<string[]> {
    const { resources } = await ws.exportState(STACK);
    return resources.filter((r) => r.type === "docker:index/image:Image").map((r) => r.outputs?.imageName).filter((n): n is string => typeof n === "string");
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"]]) requireCommand(cmd, pkg);
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("plain-app-e2e");
    fs.cpSync(path.join(REPO_ROOT, "examples", "plain-hunchentoot"), path.join(scratch, "plain-hunchentoot"), { recursive: true });
    const project = path.join(scratch, "project");
    writeProgram(project, "plain-app-e2e", PROGRAM);
    host = await SystemdHost.start("plain-app-e2e-host", SSH_PORT);
    ws = new PulumiWorkspace(project, path.join(scratch, "pulumi"));
    await ws.initStack(STACK, { sshPort: String(SSH_PORT) });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
}, 5 * 60 * 1000);

afterAll(async () => {
    if (ws && host) await ws.destroy(STACK);
    await host?.stop();
    if (images.length) spawnSync("docker", ["rmi", "-f", ...images], { stdio: "ignore" });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("a plain Hunchentoot app (no lisp-deploy runtime) through WebApp's ssh target on a real systemd host under the real Pulumi CLI", () => {
    test("it runs under Type=exec and, over more than a minute, stays active with NRestarts=0 and keeps serving", async () => {
        await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
        images = await builtImages();
        const out = await ws.outputs(STACK);
        expect(out.url).toBe(`http://127.0.0.1:${APP_PORT}/`);
        const unit = out.unit as string;
        expect(unit).toContain("Type=exec\n");
        expect(unit).not.toContain("NotifyAccess");
        expect((await host.exec("cat", `/etc/systemd/system/${UNIT}`)).stdout).toBe(unit);
        expect((await host.curl(APP_PORT, "/")).body).toContain("Hello from a plain Hunchentoot app.");

        // Sample every few seconds until the unit has been active for 70 s by the host's own clock (beyond
        // the 30 s start timeout and the minute after which systemd used to kill it); a bounded loop.
        const samples: { since: number; state: string; restarts: string; status: string }[] = [];
        for (let i = 0; i < 60; i++) {
            const s = await show("ActiveState", "SubState", "NRestarts", "ActiveEnterTimestampMonotonic");
            const uptime = Number((await host.exec("cut", "-d", " ", "-f1", "/proc/uptime")).stdout.trim());
            const since = uptime - Number(s.ActiveEnterTimestampMonotonic) / 1e6;
            const status = (await host.curl(APP_PORT, "/healthz")).status;
            samples.push({ since: Math.floor(since), state: `${s.ActiveState}/${s.SubState}`, restarts: s.NRestarts, status });
            if (since >= 70) break;
            await new Promise((r) => setTimeout(r, 5000));
        }
        // For the record (the numbers): how long it was watched, and what systemd said at the end.
        console.log(`plain app watched for ${samples[samples.length - 1].since} s in ${samples.length} samples: ${JSON.stringify(samples[samples.length - 1])}`);
        expect(samples[samples.length - 1].since).toBeGreaterThanOrEqual(70);
        for (const sample of samples) expect({ ...sample, since: 0 }).toEqual({ since: 0, state: "active/running", restarts: "0", status: "200" });
        const journal = (await host.exec("journalctl", "-u", UNIT, "--no-pager")).stdout;
        expect(journal).not.toContain("timed out");
    }, 20 * 60 * 1000);

    test("systemctl stop (SIGTERM) ends it cleanly: inactive, Result=success, never SIGKILLed", async () => {
        const pid = (await show("MainPID")).MainPID;
        expect(Number(pid)).toBeGreaterThan(0);
        const stop = await host.ssh(`systemctl stop ${UNIT}`);
        expect(stop.code).toBe(0);
        const s = await show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus");
        console.log(`after systemctl stop: ${JSON.stringify(s)}`);
        expect({ ActiveState: s.ActiveState, Result: s.Result }).toEqual({ ActiveState: "inactive", Result: "success" });
        const journal = (await host.exec("journalctl", "-u", UNIT, "--no-pager")).stdout;
        expect(journal).not.toMatch(/SIGKILL|Killing process/);
        expect((await host.exec("kill", "-0", pid)).code).not.toBe(0);
    });

    test("forced to Type=notify, the app never sends READY=1: the release fails within its start timeout, says why and rolls back", async () => {
        await ws.initStack(STACK, { serviceType: "notify", startTimeoutSeconds: "5" });
        const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
        // The unit text is what changes: a reviewer sees Type=notify before anything runs.
        expect(preview).toMatch(/-\s*Type=exec/);
        expect(preview).toMatch(/\+\s*Type=notify/);
        const failed = await ws.up(STACK);
        expect(failed.code).not.toBe(0);
        console.log(`forced notify release failed with:\n${failed.out.split("\n").filter((l) => l.includes("lisp-deploy:")).join("\n")}`);
        expect(failed.out).toContain(READY);
        expect(failed.out).toContain("failed its health check; rolling back");
        expect(failed.out).toContain("which is serving");
        // Rolled back: the exec unit is back on the host, active, and the app answers.
        const unit = (await host.exec("cat", `/etc/systemd/system/${UNIT}`)).stdout;
        expect(unit).toContain("Type=exec\n");
        expect((await show("ActiveState")).ActiveState).toBe("active");
        expect((await host.curl(APP_PORT, "/healthz")).status).toBe("200");
    }, 5 * 60 * 1000);

    test("destroy leaves nothing on the host: no unit, no /opt/notes, nothing answering; no key in what the CLI printed", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        expect((await host.exec("test", "-e", `/etc/systemd/system/${UNIT}`)).code).not.toBe(0);
        expect((await host.exec("test", "-e", "/opt/notes")).code).not.toBe(0);
        expect((await host.exec("systemctl", "is-active", UNIT)).stdout.trim()).not.toBe("active");
        expect((await host.curl(APP_PORT, "/")).status).toBe("000");
        expect(ws.transcript.join("\n")).not.toContain(host.privateKey.trim().split("\n")[1]);
    });
});
