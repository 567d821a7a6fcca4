import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { WebApp, WebAppSourceArgs } from "../../src/app/webApp";
import { ActingEngine } from "../harness/acting-engine";
import { requireCommand, requireDocker } from "../../support/engines";
import { removeDockerObjects } from "../harness/imageBuild";
import { valueOf } from "../harness/mocks";
import { SystemdHost } from "../../support/systemd-host";

// An app that does not use lisp-deploy's runtime (examples/plain-hunchentoot: its own main, the
// Cookbook's way), deployed through WebApp's ssh target onto a real systemd host (a container with
// systemd as PID 1 and sshd) over real SSH; its image built by the real Docker engine from Debian's
// cl-* packages. The Pulumi engine is stood in for by test/harness/acting-engine.ts.
// Before issue 17 its unit was Type=notify, and systemd killed it every minute for never sending READY=1
// while the deploy reported success. Ports: app 18560, sshd 127.0.0.1:2232.
const ROOT = path.resolve(__dirname, "../..");
const APP_PORT = 18560;
const SSH_PORT = 2232;
const UNIT = "notes.service";
const READY = "the app never sent READY=1: depend on lisp-deploy (lisp-deploy:main) or set serviceType: exec";

let host: SystemdHost;
const engine = new ActingEngine("lisp-deploy", "plain-app-e2e");

function notes(patch: Partial<WebAppSourceArgs> = {}) {
    return new WebApp("notes", {
        app: {
            path: path.relative(process.cwd(), path.join(ROOT, "examples", "plain-hunchentoot")) || ".",
            dependencySource: { kind: "debian" },
            buildNetwork: "host",
            port: APP_PORT,
            // The host container shares this machine's network: keep the app on loopback.
            environment: { BIND_ADDRESS: "127.0.0.1" },
            healthPath: "/healthz",
            ...patch,
        },
        target: { kind: "ssh", ssh: { host: "127.0.0.1", port: SSH_PORT, user: "root", privateKey: pulumi.secret(host.privateKey) } },
    });
}

/** What systemd says about the unit, as a map of the properties asked for. */
async function show(...properties: string[]): Promise<Record<string, string>> {
    const r = await host.exec("systemctl", "show", ...properties.flatMap((p) => ["-p", p]), UNIT);
    return Object.fromEntries(r.stdout.trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"]]) requireCommand(cmd, pkg);
    host = await SystemdHost.start("plain-app-e2e-host", SSH_PORT);
}, 5 * 60 * 1000);

afterAll(async () => {
    await host?.stop();
    removeDockerObjects([], engine.builds.map((b) => b.imageName));
});

describe("a plain Hunchentoot app (no lisp-deploy runtime) through WebApp's ssh target on a real systemd host (Pulumi engine stood in for)", () => {
    test("it runs under Type=exec and, over more than a minute, stays active with NRestarts=0 and keeps serving", async () => {
        const app = await engine.up(() => notes());
        expect(await valueOf(app.url)).toBe(`http://127.0.0.1:${APP_PORT}/`);
        const unit = await valueOf(app.unit);
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
        let error: Error | undefined;
        await engine.up(() => notes({ serviceType: "notify", startTimeoutSeconds: 5 })).catch((e) => (error = e));
        expect(error).toBeDefined();
        console.log(`forced notify release failed with:\n${error!.message.split("\n").filter((l) => l.includes("lisp-deploy:")).join("\n")}`);
        expect(error!.message).toContain(READY);
        expect(error!.message).toContain("failed its health check; rolling back");
        expect(error!.message).toContain("which is serving");
        // Rolled back: the exec unit is back on the host, active, and the app answers.
        const unit = (await host.exec("cat", `/etc/systemd/system/${UNIT}`)).stdout;
        expect(unit).toContain("Type=exec\n");
        expect((await show("ActiveState")).ActiveState).toBe("active");
        expect((await host.curl(APP_PORT, "/healthz")).status).toBe("200");
    }, 5 * 60 * 1000);
});
