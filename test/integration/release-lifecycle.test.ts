import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { buildHello } from "../../support/hello-builds";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { SystemdHost } from "../../support/systemd-host";
import { changedResources } from "./examples-engine-helpers";

// The release lifecycle of issue 14 on a real systemd + sshd host in a container, under the REAL Pulumi
// CLI: releaseCommand (a migration run once per release from the new release, before it serves),
// rollbackTo (serve a release the host keeps, without a build or an upload) and stateDirectory (data
// that outlives releases and rollbacks), in plain mode and with zeroDowntime. One host, one stack, the
// tests in order; each test's name starts with the option it proves (`-t releaseCommand`, `-t rollbackTo`,
// `-t stateDirectory`). Ports 19050-19069: plain app 19050; zero-downtime slots 19052-19053, nginx 19054;
// sshd 2302.

jest.setTimeout(20 * 60 * 1000);

const SSH_PORT = 2302;
const STACK = "lifecycle";
const SECRET = 'lc-s3cr3t "quoted" $dollar';
const PLAIN = { app: "lifecycle", port: 19050 };
const ZDT = { app: "lifecycle-zdt", port: 19052, public: 19054 };
const GREETING = { a: "Hello from release A.", b: "Hello from release B." };
/** A release command that fails: it first records the secret it was given (read back on the host), then exits 3. */
const FAILING_COMMAND = ["--eval", '(hello::write-state "seen-by-release-command.txt" (uiop:getenv "API_TOKEN"))', "--eval", "(uiop:quit 3)"];

/** One SystemdRelease of the program: the stack config `apps` is a JSON list of these. */
interface AppRelease {
    app: string;
    executable: string;
    port: number;
    environment?: Record<string, string>;
    releaseCommand?: string[];
    rollbackTo?: string;
    zeroDowntime?: { proxy: "nginx"; publicPort: number; listenAddress: string };
}

/** SystemdReleases of examples/hello builds to the host, each with a state directory named after the app and a secret. */
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { SystemdRelease } = require("lisp-deploy");
const config = new pulumi.Config();
const connection = { host: "127.0.0.1", port: config.requireNumber("sshPort"), user: "root", privateKey: config.requireSecret("sshPrivateKey") };
exports.releaseIds = {};
exports.keptReleases = {};
for (const r of config.requireObject("apps")) {
    const release = new SystemdRelease(r.app, {
        connection,
        app: r.app,
        executable: { file: r.executable },
        executableName: "hello",
        port: r.port,
        environment: r.environment ?? {},
        secretEnvironment: { API_TOKEN: config.requireSecret("apiToken") },
        healthCheck: { path: "/healthz", timeoutSeconds: 20 },
        stateDirectory: r.app,
        ...(r.releaseCommand ? { releaseCommand: r.releaseCommand } : {}),
        ...(r.rollbackTo ? { rollbackTo: r.rollbackTo } : {}),
        ...(r.zeroDowntime ? { zeroDowntime: r.zeroDowntime } : {}),
    });
    exports.releaseIds[r.app] = release.releaseId;
    exports.keptReleases[r.app] = release.keptReleases;
}
`;

let host: SystemdHost;
let scratch = "";
let ws: PulumiWorkspace;
let exeA: string;
let exeB: string;
/** What the stack config `apps` holds now, by app name. */
const apps = new Map<string, AppRelease>();

const sha12 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, 12);
const hostText = async (...cmd: string[]) => (await host.exec(...cmd)).stdout.trim();
const mainPid = (unit: string) => hostText("systemctl", "show", "-p", "MainPID", "--value", unit);
/** The app's state directory: a dynamic user's lives under /var/lib/private (systemd links /var/lib/<name> to it). */
const stateFile = (app: string, name: string) => hostText("cat", `/var/lib/private/${app}/${name}`);
/** How many times systemd finished the release command of `id` (its journal's "Finished"/"Failed" lines). */
async function releaseCommandRuns(app: string, id: string): Promise<number> {
    const journal = await hostText("journalctl", "--no-pager", "-o", "cat", "-u", `${app}-release@${id}.service`);
    return journal.split("\n").filter((l) => /^(Finished|Failed to start) /.test(l)).length;
}

/** Writes the `apps` config (the releases given replace those of the same app) and runs `pulumi up`. */
async function up(...changed: AppRelease[]) {
    for (const r of changed) apps.set(r.app, r);
    await ws.ok(["config", "set", "--stack", STACK, "apps", JSON.stringify([...apps.values()])]);
    return ws.up(STACK);
}
async function upOk(...changed: AppRelease[]) {
    const r = await up(...changed);
    if (r.code !== 0) throw new Error(`pulumi up failed:\n${r.out.slice(-10000)}`);
    return r;
}
async function previewDiff(...changed: AppRelease[]) {
    for (const r of changed) apps.set(r.app, r);
    await ws.ok(["config", "set", "--stack", STACK, "apps", JSON.stringify([...apps.values()])]);
    return ws.ok(["preview", "--diff", "--stack", STACK]);
}
const outputs = () => ws.outputs(STACK);

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) requireCommand(cmd, pkg);
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("lifecycle");
    [exeA, exeB, host] = await Promise.all([
        buildHello(path.join(scratch, "a"), GREETING.a),
        buildHello(path.join(scratch, "b"), GREETING.b),
        SystemdHost.start("lifecycle-host", SSH_PORT),
    ]);
    const project = path.join(scratch, "project");
    writeProgram(project, "lifecycle", PROGRAM);
    ws = new PulumiWorkspace(project, path.join(scratch, "pulumi"));
    await ws.initStack(STACK, { sshPort: String(SSH_PORT) });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
    await ws.setSecret(STACK, "apiToken", SECRET);
}, 15 * 60 * 1000);

afterAll(async () => {
    if (ws && host) await ws.destroy(STACK);
    await host?.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("release lifecycle (plain mode) under the real Pulumi CLI on a real systemd host", () => {
    const { app, port } = PLAIN;
    const unit = `${app}.service`;
    const releaseA: AppRelease = { app, port, executable: "", environment: { LEVEL: "1" }, releaseCommand: ["migrate"] };

    test("releaseCommand: release A runs `migrate` once, from the new release with its state directory, before it serves", async () => {
        releaseA.executable = exeA;
        const r = await upOk(releaseA);
        // The command's own output is in the update's log.
        expect(r.out).toContain("migrated the state directory to schema 1");
        const id = sha12(exeA);
        expect((await outputs()).releaseIds[app]).toBe(id);
        expect(await stateFile(app, "schema-version.txt")).toBe("1");
        // The oneshot ran once, and finished before the service first started.
        expect(await releaseCommandRuns(app, id)).toBe(1);
        const journal = (await hostText("journalctl", "--no-pager", "-o", "cat", "-u", `${app}-release@${id}.service`, "-u", unit)).split("\n");
        const finished = journal.findIndex((l) => l.startsWith(`Finished ${app}-release@${id}.service`));
        const started = journal.findIndex((l) => l.startsWith(`Started ${unit}`) || l.startsWith(`Starting ${unit}`));
        expect(finished).toBeGreaterThanOrEqual(0);
        expect(started).toBeGreaterThan(finished);
        const page = await host.curl(port, "/state");
        expect(page.body).toBe("schema 1, visit 1 (hello 1.0.0)\n");
        expect((await host.curl(port, "/")).body).toContain(GREETING.a);
    });

    test("releaseCommand: an environment-only change restarts the app without running it again", async () => {
        const pid = await mainPid(unit);
        await upOk({ ...releaseA, environment: { LEVEL: "2" } });
        expect(await mainPid(unit)).not.toBe(pid);
        expect(await hostText("sh", "-c", `tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value ${unit})/environ | grep ^LEVEL=`)).toBe("LEVEL=2");
        expect(await releaseCommandRuns(app, sha12(exeA))).toBe(1);
        expect((await host.curl(port, "/state")).body).toBe("schema 1, visit 2 (hello 1.0.0)\n");
    });

    test("releaseCommand: release B whose command fails fails the update with its exit status and output; A keeps serving; the command saw the secret", async () => {
        const pid = await mainPid(unit);
        const failed = await up({ ...apps.get(app)!, executable: exeB, releaseCommand: FAILING_COMMAND });
        expect(failed.code).not.toBe(0);
        expect(failed.out).toContain(`the release command of release ${sha12(exeB)} failed (exit status 3)`);
        expect(failed.out).toContain("releases/" + sha12(exeA) + " keeps serving");
        // Its output: the runtime's own log line of the command.
        expect(failed.out).toContain("evaluating 2 --eval arguments");
        // Nothing switched: the same process serves A's text.
        expect(await mainPid(unit)).toBe(pid);
        expect((await host.curl(port, "/")).body).toContain(GREETING.a);
        expect(await hostText("readlink", `/opt/${app}/current`)).toBe(`releases/${sha12(exeA)}`);
        // The command ran with the release's secret environment (it wrote what it saw into the state directory).
        expect(await stateFile(app, "seen-by-release-command.txt")).toBe(SECRET);
        // ...and no copy of the secret file is left behind.
        expect((await host.exec("test", "-e", `/opt/${app}/release-command.env`)).code).not.toBe(0);
        // B never served: a rollback may not name it (its data may be half-migrated), and A serves on.
        const refused = await up({ ...apps.get(app)!, rollbackTo: sha12(exeB) });
        expect(refused.code).not.toBe(0);
        expect(refused.out).toContain(`cannot roll back to release ${sha12(exeB)}: its release command failed, so it never served`);
        expect(refused.out).toContain(`It keeps: ${sha12(exeA)} (newest first)`);
        expect(await mainPid(unit)).toBe(pid);
        const { rollbackTo: _, ...withoutRollback } = apps.get(app)!;
        apps.set(app, withoutRollback);
    });

    test("stateDirectory: release B (its migration passing) reads the visits A counted; the directory belongs to the service's dynamic user", async () => {
        await upOk({ ...apps.get(app)!, executable: exeB, releaseCommand: ["migrate"] });
        expect((await outputs()).releaseIds[app]).toBe(sha12(exeB));
        expect((await host.curl(port, "/")).body).toContain(GREETING.b);
        expect((await host.curl(port, "/state")).body).toBe("schema 1, visit 3 (hello 1.0.0)\n");
        const uid = (await hostText("grep", "^Uid:", `/proc/${await mainPid(unit)}/status`)).split(/\s+/)[1];
        expect(Number(uid)).toBeGreaterThan(0);
        expect(await hostText("stat", "-c", "%u %a", `/var/lib/private/${app}`)).toBe(`${uid} 700`);
        expect(await hostText("stat", "-c", "%u", `/var/lib/private/${app}/visits.txt`)).toBe(uid);
    });

    test("rollbackTo: the preview names the kept release A and uploads nothing; up serves A's text without running its release command", async () => {
        const out = await outputs();
        const idA = sha12(exeA);
        expect(out.keptReleases[app]).toEqual([sha12(exeB), idA]);
        const preview = await previewDiff({ ...apps.get(app)!, rollbackTo: idA });
        // Only the activation changes: the current build's upload stays as it is (nothing runs there)...
        expect(changedResources(preview)).toEqual([`update command:remote:Command ${app}-activate`]);
        // ...its command going from B to the kept A, and no release command (a rollback never runs one)...
        expect(preview).toMatch(new RegExp(`^\\s*-\\s+RELEASE_ID='${sha12(exeB)}' \\\\$`, "m"));
        expect(preview).toMatch(new RegExp(`^\\s*\\+\\s+RELEASE_ID='${idA}' \\\\$`, "m"));
        expect(preview).toMatch(/^\s*\+\s+ROLLBACK='1' \\$/m);
        expect(preview).toMatch(/^\s*-\s+RELEASE_COMMAND='"hello" "migrate"' \\$/m);
        // ...and the outputs name the release that will serve.
        expect(preview).toMatch(new RegExp(`~ ${app}\\s*: "${sha12(exeB)}" => "${idA}"`));
        const runsBefore = await releaseCommandRuns(app, idA);
        await upOk();
        expect((await outputs()).releaseIds[app]).toBe(idA);
        expect((await host.curl(port, "/")).body).toContain(GREETING.a);
        expect(await releaseCommandRuns(app, idA)).toBe(runsBefore);
        // stateDirectory: the rolled-back release reads the data the newer one wrote.
        expect((await host.curl(port, "/state")).body).toBe("schema 1, visit 4 (hello 1.0.0)\n");
    });

    test("rollbackTo: an id the host does not keep fails listing the kept ids, and changes nothing", async () => {
        const pid = await mainPid(unit);
        const failed = await up({ ...apps.get(app)!, rollbackTo: "0123456789ab" });
        expect(failed.code).not.toBe(0);
        expect(failed.out).toContain("cannot roll back to release 0123456789ab");
        expect(failed.out).toContain(`It keeps: ${sha12(exeB)} ${sha12(exeA)} (newest first)`);
        expect(await mainPid(unit)).toBe(pid);
        expect((await host.curl(port, "/")).body).toContain(GREETING.a);
    });

    test("rollbackTo: removed, the current build (B) serves again, already on the host (nothing uploaded)", async () => {
        const { rollbackTo: _, ...withoutRollback } = apps.get(app)!;
        const idB = sha12(exeB);
        const runsBefore = await releaseCommandRuns(app, idB);
        const preview = await previewDiff(withoutRollback);
        expect(changedResources(preview)).toEqual([`update command:remote:Command ${app}-activate`]);
        await upOk();
        expect((await outputs()).releaseIds[app]).toBe(idB);
        expect((await host.curl(port, "/")).body).toContain(GREETING.b);
        // B was not serving: its release command runs again before it does (a migration must be idempotent).
        expect(await releaseCommandRuns(app, idB)).toBe(runsBefore + 1);
        expect((await host.curl(port, "/state")).body).toBe("schema 1, visit 5 (hello 1.0.0)\n");
    });
});

describe("release lifecycle with zeroDowntime (nginx in front of two slots) on the same host and stack", () => {
    const { app, port } = ZDT;
    const zeroDowntime = { proxy: "nginx" as const, publicPort: ZDT.public, listenAddress: "127.0.0.1" };
    const activeSlot = () => hostText("cat", `/opt/${app}/active-slot`);
    const viaProxy = (urlPath: string) => host.curl(ZDT.public, urlPath);

    test("releaseCommand with zeroDowntime: A's migration runs before the idle slot starts; B's failing one leaves the live slot serving through the proxy", async () => {
        const idA = sha12(exeA);
        await upOk({ app, port, executable: exeA, releaseCommand: ["migrate"], zeroDowntime });
        expect(await activeSlot()).toBe("blue");
        expect(await releaseCommandRuns(app, idA)).toBe(1);
        const journal = (await hostText("journalctl", "--no-pager", "-o", "cat", "-u", `${app}-release@${idA}.service`, "-u", `${app}-blue.service`)).split("\n");
        const finished = journal.findIndex((l) => l.startsWith(`Finished ${app}-release@${idA}.service`));
        expect(finished).toBeGreaterThanOrEqual(0);
        expect(journal.findIndex((l) => l.startsWith(`Starting ${app}-blue.service`) || l.startsWith(`Started ${app}-blue.service`))).toBeGreaterThan(finished);
        expect((await viaProxy("/state")).body).toBe("schema 1, visit 1 (hello 1.0.0)\n");

        const pid = await mainPid(`${app}-blue.service`);
        const failed = await up({ ...apps.get(app)!, executable: exeB, releaseCommand: FAILING_COMMAND });
        expect(failed.code).not.toBe(0);
        expect(failed.out).toContain(`the release command of release ${sha12(exeB)} failed (exit status 3)`);
        expect(failed.out).toContain("slot blue keeps serving");
        expect(await activeSlot()).toBe("blue");
        expect(await mainPid(`${app}-blue.service`)).toBe(pid);
        expect((await hostText("systemctl", "is-active", `${app}-green.service`))).not.toBe("active");
        expect((await viaProxy("/")).body).toContain(GREETING.a);
    });

    test("rollbackTo with zeroDowntime: B, then a rollback to A switches slots to the kept release; stateDirectory: both slots count on in one directory", async () => {
        const idA = sha12(exeA);
        await upOk({ ...apps.get(app)!, executable: exeB, releaseCommand: ["migrate"] });
        expect(await activeSlot()).toBe("green");
        expect((await viaProxy("/")).body).toContain(GREETING.b);
        expect((await viaProxy("/state")).body).toBe("schema 1, visit 2 (hello 1.0.0)\n");

        const preview = await previewDiff({ ...apps.get(app)!, rollbackTo: idA });
        expect(changedResources(preview)).toEqual([`update command:remote:Command ${app}-activate`]);
        await upOk();
        expect((await outputs()).releaseIds[app]).toBe(idA);
        expect(await activeSlot()).toBe("blue");
        expect(await hostText("readlink", `/opt/${app}/slots/blue`)).toBe(`../releases/${idA}`);
        expect((await viaProxy("/")).body).toContain(GREETING.a);
        expect(await releaseCommandRuns(app, idA)).toBe(1);
        expect((await viaProxy("/state")).body).toBe("schema 1, visit 3 (hello 1.0.0)\n");
        expect(await hostText("stat", "-c", "%a", `/var/lib/private/${app}`)).toBe("700");
    });
});

describe("after the lifecycle", () => {
    test("stateDirectory: pulumi destroy removes every release and unit, and keeps each app's data", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        for (const app of [PLAIN.app, ZDT.app]) {
            expect((await host.exec("test", "-e", `/opt/${app}`)).code).not.toBe(0);
            expect(await hostText("sh", "-c", `systemctl list-unit-files '${app}*' --no-legend`)).toBe("");
        }
        expect(await stateFile(PLAIN.app, "visits.txt")).toBe("5");
        expect(await stateFile(ZDT.app, "visits.txt")).toBe("3");
        expect(await stateFile(ZDT.app, "schema-version.txt")).toBe("1");
    });

    test("nothing the CLI printed in any run above holds the secret", () => {
        expect(ws.transcript.length).toBeGreaterThan(15);
        const transcript = ws.transcript.join("\n");
        expect(transcript).not.toContain("lc-s3cr3t");
        expect(transcript).not.toContain(host.privateKey.trim().split("\n")[1]);
    });
});
