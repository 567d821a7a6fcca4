// command-standin (support/providers/command-standin) under the REAL Pulumi CLI: a throwaway project in
// a temp dir whose program uses @pulumi/command, `pulumi up`/`destroy` with a file backend, and real
// side effects: local shell commands, and remote commands and uploads over OpenSSH to a systemd+sshd
// container on 127.0.0.1. Fails (never skips) when the CLI, Docker or OpenSSH is missing.
import * as fs from "fs";
import * as path from "path";
import { PulumiWorkspace, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";

const SSH_PORT = 2271;
const STDIN_SECRET = "stdin-S3CRET-7d1e9a-never-in-state";
const REMOTE_SECRET = "remote-stdin-S3CRET-4c2b8f";

let tmp: string;
let project: string;
let work: string;
let ws: PulumiWorkspace;

const pulumi = (args: string[]) => ws.run(args);
const pulumiOk = (args: string[]) => ws.ok(args);
const up = (stack: string) => pulumi(["up", "--yes", "--stack", stack]);
const upOk = (stack: string) => pulumiOk(["up", "--yes", "--stack", stack]);

/** What the program builds, per stack (the program reads spec-<stack>.json). */
function writeSpec(stack: string, spec: unknown): void {
    fs.writeFileSync(path.join(project, `spec-${stack}.json`), JSON.stringify(spec, null, 2));
}

async function exportState(stack: string): Promise<{ text: string; resources: any[] }> {
    const text = await pulumiOk(["stack", "export", "--stack", stack]);
    return { text, resources: JSON.parse(text).deployment.resources ?? [] };
}

function resourceNamed(resources: any[], name: string): any {
    const r = resources.find((x) => typeof x.urn === "string" && x.urn.endsWith(`::${name}`));
    if (!r) throw new Error(`no resource ${name} in state`);
    return r;
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []);

const PROGRAM = `"use strict";
const fs = require("fs");
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");

const spec = JSON.parse(fs.readFileSync(path.join(__dirname, "spec-" + pulumi.getStack() + ".json"), "utf8"));
const outputs = {};
const byName = {};
for (const r of spec.local || []) {
    const c = new command.local.Command(r.name, {
        create: r.createFrom ? byName[r.createFrom].stdout.apply((s) => r.create.replace("@@", s)) : r.create,
        update: r.update,
        delete: r.delete,
        triggers: r.triggers,
        environment: r.environment,
        stdin: r.secretStdin !== undefined ? pulumi.secret(r.secretStdin) : r.stdin,
    });
    byName[r.name] = c;
    outputs[r.name] = c.stdout;
}
if (spec.remote) {
    const rs = spec.remote;
    const connection = pulumi.secret(rs.connection);
    const prepare = new command.remote.Command("prepare", {
        connection,
        create: rs.prepare,
        delete: rs.prepareDelete,
        environment: rs.environment,
        stdin: pulumi.secret(rs.secretStdin),
    });
    const upload = new command.remote.CopyToRemote("upload", {
        connection,
        source: new pulumi.asset.FileAsset(rs.uploadFrom),
        remotePath: rs.uploadTo,
    }, { dependsOn: [prepare] });
    // Its triggers are unknown until upload exists: the preview of the first up sends unknowns to check/diff.
    const readBack = new command.remote.Command("read-back", {
        connection,
        create: "cat " + rs.uploadTo,
        triggers: [upload.id],
    }, { dependsOn: [upload] });
    outputs.prepare = prepare.stdout;
    outputs.readBack = readBack.stdout;
    for (const f of rs.failing || []) {
        const c = new command.remote.Command(f.name, { connection: f.connection ? pulumi.secret(f.connection) : connection, create: f.create });
        outputs[f.name] = c.stdout;
    }
}
module.exports = outputs;
`;

beforeAll(() => {
    tmp = scratchDir("command-standin");
    project = path.join(tmp, "project");
    work = path.join(tmp, "work");
    fs.mkdirSync(work);
    writeProgram(project, "command-standin-test", PROGRAM);
    ws = new PulumiWorkspace(project, tmp);
});

afterAll(() => {
    // COMMAND_STANDIN_TRANSCRIPT=<file> keeps what the CLI printed, for reading after a run.
    if (process.env.COMMAND_STANDIN_TRANSCRIPT) fs.writeFileSync(process.env.COMMAND_STANDIN_TRANSCRIPT, ws.transcript.join("\n"));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function expectNoSecretsInTranscript(...secrets: string[]): void {
    const all = ws.transcript.join("\n");
    for (const s of secrets) expect(all).not.toContain(s);
}

describe("command-standin: local:Command under the real Pulumi CLI", () => {
    const STACK = "local";
    let log: string;
    let runs: string;
    const counter = (v: string, triggers: string[], extra = "") => ({
        name: "counter",
        // Every run leaves a line in runs (the side-effect counter) and its own name in log.
        create: `echo create-${v} >> "${path.join(work, "log")}"; echo run >> "${path.join(work, "runs")}"; ${extra}echo hello-${v}`,
        delete: `echo delete-${v} >> "${path.join(work, "log")}"`,
        triggers,
    });
    const secretive = () => ({
        name: "secretive",
        create: `cat > "${path.join(work, "stdin-copy")}"; echo stdin-received`,
        secretStdin: STDIN_SECRET,
    });
    // create depends on counter's stdout: unknown in a preview that changes counter.
    const echoer = { name: "echoer", createFrom: "counter", create: "echo echoed:@@" };

    beforeAll(async () => {
        log = path.join(work, "log");
        runs = path.join(work, "runs");
        await pulumiOk(["stack", "init", STACK]);
    });

    test("up creates: the commands run, stdout is an output with its trailing newline trimmed, stdin reaches the command", async () => {
        writeSpec(STACK, { local: [counter("v1", ["t1"]), secretive(), echoer] });
        const out = await upOk(STACK);
        // Output lines also reach the engine as the resource's ephemeral status (logging defaults to
        // stdoutAndStderr), but the non-interactive display prints a status only if it is still current at
        // its next tick: not asserted, it would depend on timing.
        expect(out).toMatch(/command:local:Command\s+counter\s+created/);
        expect(lines(log)).toEqual(["create-v1"]);
        expect(lines(runs)).toHaveLength(1);
        expect(fs.readFileSync(path.join(work, "stdin-copy"), "utf8")).toBe(STDIN_SECRET);
        const outputs = JSON.parse(await pulumiOk(["stack", "output", "--json", "--stack", STACK]));
        expect(outputs.counter).toBe("hello-v1");
        expect(outputs.echoer).toBe("echoed:hello-v1");
        expect(outputs.secretive).toBe("stdin-received");
    });

    test("a second up with nothing changed runs nothing", async () => {
        const before = fs.readFileSync(runs, "utf8");
        await upOk(STACK);
        expect(fs.readFileSync(runs, "utf8")).toBe(before);
        expect(lines(log)).toEqual(["create-v1"]);
    });

    test("a changed create text is an update: create runs again (no update text), same id, nothing deleted, previous stdout in the environment", async () => {
        const idBefore = resourceNamed((await exportState(STACK)).resources, "counter").id;
        writeSpec(STACK, { local: [counter("v2", ["t1"], `echo "prev=$PULUMI_COMMAND_STDOUT" >> "${path.join(work, "log")}"; `), secretive(), echoer] });
        const out = await upOk(STACK);
        expect(lines(log)).toEqual(["create-v1", "create-v2", "prev=hello-v1"]);
        const state = await exportState(STACK);
        expect(resourceNamed(state.resources, "counter").id).toBe(idBefore);
        expect(resourceNamed(state.resources, "counter").outputs.stdout).toBe("hello-v2");
        // echoer's create text was unknown in the preview and changed: updated too.
        expect(resourceNamed(state.resources, "echoer").outputs.stdout).toBe("echoed:hello-v2");
        expect(out).toMatch(/~\s+command:local:Command\s+counter\s+updated/);
    });

    test("changed triggers replace: the new create runs before the old delete (create-before-delete)", async () => {
        const idBefore = resourceNamed((await exportState(STACK)).resources, "counter").id;
        writeSpec(STACK, { local: [counter("v3", ["t2"]), secretive(), echoer] });
        const out = await upOk(STACK);
        // The old resource's delete text (v2, from state) runs after the new create.
        expect(lines(log).slice(3)).toEqual(["create-v3", "delete-v2"]);
        expect(resourceNamed((await exportState(STACK)).resources, "counter").id).not.toBe(idBefore);
        expect(out).toMatch(/\+-\s+command:local:Command\s+counter\s+replaced/);
    });

    test("a failing command fails the update with its stderr in the error, and is not in state", async () => {
        const failing = { name: "failing", create: 'echo some-stdout; echo "boom: the-stderr-text" >&2; exit 7' };
        writeSpec(STACK, { local: [counter("v3", ["t2"]), secretive(), echoer, failing] });
        const r = await up(STACK);
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("exit status 7");
        expect(r.out).toContain("boom: the-stderr-text");
        expect((await exportState(STACK)).resources.some((x) => String(x.urn).endsWith("::failing"))).toBe(false);
        writeSpec(STACK, { local: [counter("v3", ["t2"]), secretive(), echoer] });
    });

    test("the secret stdin is ciphertext in `pulumi stack export` and never in the CLI's output", async () => {
        const state = await exportState(STACK);
        expect(state.text).not.toContain(STDIN_SECRET);
        const stdin = resourceNamed(state.resources, "secretive").outputs.stdin;
        expect(stdin["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
        expect(typeof stdin.ciphertext).toBe("string");
        const inputs = resourceNamed(state.resources, "secretive").inputs.stdin;
        expect(typeof inputs.ciphertext).toBe("string");
        expectNoSecretsInTranscript(STDIN_SECRET);
    });

    test("destroy runs the delete command", async () => {
        await pulumiOk(["destroy", "--yes", "--stack", STACK]);
        expect(lines(log).slice(-1)).toEqual(["delete-v3"]);
        expectNoSecretsInTranscript(STDIN_SECRET);
    });
});

describe("command-standin: remote:Command and remote:CopyToRemote over real OpenSSH", () => {
    const STACK = "remote";
    let host: SystemdHost;
    let payload: string;
    const keyLines = () => host.privateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));

    const remoteSpec = (failing: unknown[] = []) => ({
        remote: {
            connection: host.connection,
            prepare: 'set -eu; mkdir -p /opt/cs; cat > /opt/cs/stdin-copy; echo "$LC_STANDIN" > /opt/cs/env-copy; echo prepared-on-$(hostname)',
            prepareDelete: "rm -f /opt/cs/stdin-copy",
            environment: { LC_STANDIN: "sent-with-SendEnv" },
            secretStdin: REMOTE_SECRET,
            uploadFrom: payload,
            uploadTo: "/opt/cs/nested/dir/payload.txt",
            failing,
        },
    });

    beforeAll(async () => {
        requireDocker();
        for (const [cmd, pkg] of [["ssh", "openssh-client"], ["sftp", "openssh-client"], ["ssh-keygen", "openssh-client"]]) requireCommand(cmd, pkg);
        host = await SystemdHost.start("command-standin-host", SSH_PORT);
        payload = path.join(work, "payload.txt");
        fs.writeFileSync(payload, "payload-one\n");
        await pulumiOk(["stack", "init", STACK]);
    }, 10 * 60 * 1000);

    afterAll(async () => {
        await host?.stop();
    });

    test("up runs the remote command with its secret stdin and environment, and uploads the file (parents made)", async () => {
        writeSpec(STACK, remoteSpec());
        await upOk(STACK);
        expect((await host.exec("cat", "/opt/cs/stdin-copy")).stdout).toBe(REMOTE_SECRET);
        // Debian's sshd accepts LC_* (AcceptEnv), so the variable arrives as with the real provider's Setenv.
        expect((await host.exec("cat", "/opt/cs/env-copy")).stdout).toBe("sent-with-SendEnv\n");
        expect((await host.exec("cat", "/opt/cs/nested/dir/payload.txt")).stdout).toBe("payload-one\n");
        const outputs = JSON.parse(await pulumiOk(["stack", "output", "--json", "--show-secrets", "--stack", STACK]));
        expect(outputs.readBack).toBe("payload-one");
        expect(outputs.prepare).toMatch(/^prepared-on-/);
    });

    test("new file content is an update of CopyToRemote: uploaded again to the same path", async () => {
        fs.writeFileSync(payload, "payload-two\n");
        const out = await upOk(STACK);
        expect((await host.exec("cat", "/opt/cs/nested/dir/payload.txt")).stdout).toBe("payload-two\n");
        expect(out).toMatch(/~\s+command:remote:CopyToRemote\s+upload\s+updated/);
    });

    test("the private key and the secret stdin are ciphertext in `pulumi stack export`, never in the CLI's output", async () => {
        const state = await exportState(STACK);
        for (const line of keyLines()) expect(state.text).not.toContain(line);
        expect(state.text).not.toContain(REMOTE_SECRET);
        for (const name of ["prepare", "upload", "read-back"]) {
            const r = resourceNamed(state.resources, name);
            expect(typeof r.inputs.connection.ciphertext).toBe("string");
            expect(typeof r.outputs.connection.ciphertext).toBe("string");
        }
        expectNoSecretsInTranscript(REMOTE_SECRET, ...keyLines());
    });

    test("an unreachable host is dialled dialErrorLimit + 1 times then fails; a command that ran and failed is not retried", async () => {
        const attempts = "/opt/cs/attempts";
        writeSpec(STACK, remoteSpec([
            { name: "unreachable", connection: { ...host.connection, port: 1, dialErrorLimit: 2 }, create: "true" },
            { name: "fails-once", create: `echo attempt >> ${attempts}; echo remote-boom >&2; exit 3` },
        ]));
        const r = await up(STACK);
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("Dial 1/2 failed: retrying");
        expect(r.out).toContain("after 2 failed attempts");
        expect(r.out).toContain("Connection refused");
        expect(r.out).toContain("Process exited with status 3");
        expect(r.out).toContain("remote-boom");
        expect((await host.exec("cat", attempts)).stdout).toBe("attempt\n");
        expectNoSecretsInTranscript(REMOTE_SECRET, ...keyLines());
        writeSpec(STACK, remoteSpec());
    });

    test("destroy runs the remote delete command and leaves uploaded files in place", async () => {
        await pulumiOk(["destroy", "--yes", "--stack", STACK]);
        expect((await host.exec("test", "-e", "/opt/cs/stdin-copy")).code).not.toBe(0);
        expect((await host.exec("cat", "/opt/cs/nested/dir/payload.txt")).stdout).toBe("payload-two\n");
        expectNoSecretsInTranscript(REMOTE_SECRET, ...keyLines());
    });
});
