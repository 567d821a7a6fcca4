import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { run, runOk } from "../../support/run";
import { listenersFromProcNet, swankEval } from "../../support/swank";
import { SystemdHost, sshOptions } from "../../support/systemd-host";
import { releaseScript } from "../../src/release/systemd/scripts";
import { buildHello, writeBrokenExecutable } from "../../support/hello-builds";
import { changedResources } from "./examples-engine-helpers";

// SystemdRelease under the REAL Pulumi CLI (support/pulumi-cli.ts) against a real systemd + sshd host in a
// container, over real SSH: one small program (below), its executable, mode and key given as stack config,
// one stack shared by the tests in order (first release, no-op, update, failed health check, ...), a second
// stack for the system-user case. Ports: app 18300, Swank 18302 (tunnel 18312), probes 18303–18304,
// system-user app 18305, sshd 2222.

jest.setTimeout(30 * 60 * 1000);

// examples/hello runs on lisp-deploy's runtime, which sends READY=1 once listening: the default unit type.
const E2E_SERVICE_TYPE = "notify";

const APP_PORT = 18300;
const PROBE_PORT = 18303; // and 18304
const STATIC_USER_PORT = 18305;
const SSH_PORT = 2222;
const SECRET_VALUE = 's3cr3t-t0k"en $x';
const STACK = "systemd-e2e";
const USER_STACK = "systemd-e2e-user";
const IMAGE = "systemd-e2e-hello:v1";

/**
 * The program: SystemdRelease of `hello` (executable from `executable`, or from `executableImage` at
 * `executablePath`), or, with `mode: user`, the app `greeter` running as a created system user.
 */
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { SystemdRelease } = require("lisp-deploy");
const config = new pulumi.Config();
const connection = { host: "127.0.0.1", port: config.requireNumber("sshPort"), user: "root", privateKey: config.requireSecret("sshPrivateKey") };
if (config.get("mode") === "user") {
    const greeter = new SystemdRelease("greeter", {
        connection,
        app: "greeter",
        executable: { file: config.require("executable") },
        port: ${STATIC_USER_PORT},
        serviceType: "${E2E_SERVICE_TYPE}",
        user: "greeter",
    });
    exports.url = greeter.url;
} else {
    const image = config.get("executableImage");
    const hello = new SystemdRelease("hello", {
        connection,
        app: "hello",
        executable: image ? { image, path: config.require("executablePath") } : { file: config.require("executable") },
        keepReleases: 2,
        executableName: "hello",
        port: ${APP_PORT},
        serviceType: "${E2E_SERVICE_TYPE}",
        environment: { HELLO_MODE: "production" },
        secretEnvironment: { API_TOKEN: config.requireSecret("apiToken") },
        healthCheck: { path: "/healthz", timeoutSeconds: 15 },
        swankPort: 18302,
    });
    exports.releaseId = hello.releaseId;
    exports.url = hello.url;
    exports.unit = hello.unit;
    exports.swankTunnel = hello.swankTunnel;
}
`;

let host: SystemdHost;
let scratch = "";
let ws: PulumiWorkspace;
let v1: string;
let v2: string;
let v3: string;
let broken: string;

const sha12 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, 12);
const hostFile = async (file: string) => (await host.exec("cat", file)).stdout;
const mainPid = async () => (await host.exec("systemctl", "show", "-p", "MainPID", "--value", "hello.service")).stdout.trim();
const link = async (name: string) => (await host.exec("readlink", `/opt/hello/${name}`)).stdout.trim();

/** Points the program at another executable file. */
const useExecutable = (file: string) => ws.ok(["config", "set", "--stack", STACK, "executable", file]);

/** Runs `pulumi up` of the shared stack and fails with the CLI's output when it fails. */
const up = (flags: string[] = []) => ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK, ...flags]);

/** The inputs of one resource (by name) as the state holds them; with `showSecrets`, secrets in plain form. */
async function stateInputs(name: string, showSecrets = false): Promise<Record<string, any>> {
    const text = await ws.ok(["stack", "export", "--stack", STACK, ...(showSecrets ? ["--show-secrets"] : [])]);
    const resource = (JSON.parse(text).deployment.resources ?? []).find((r: any) => String(r.urn).endsWith(`::${name}`));
    if (!resource) throw new Error(`no resource ${name} in the state of ${STACK}`);
    return resource.inputs;
}

/** A secret value of an exported state in plain form (`--show-secrets` keeps the secret's envelope). */
const plain = (value: any): string => (value && typeof value === "object" && "plaintext" in value ? JSON.parse(value.plaintext) : value);

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["sbcl", "sbcl"]]) {
        requireCommand(cmd, pkg);
    }
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("systemd-e2e");
    // Three builds of examples/hello (two with changed greetings) and the host, side by side.
    [v1, v2, v3, host] = await Promise.all([
        buildHello(path.join(scratch, "v1")),
        buildHello(path.join(scratch, "v2"), "Hello from release two."),
        buildHello(path.join(scratch, "v3"), "Hello from release three."),
        SystemdHost.start("systemd-e2e-host", SSH_PORT),
    ]);
    broken = writeBrokenExecutable(path.join(scratch, "broken"));
    const project = path.join(scratch, "project");
    writeProgram(project, "systemd-e2e", PROGRAM);
    ws = new PulumiWorkspace(project, path.join(scratch, "pulumi"));
    await ws.initStack(STACK, { sshPort: String(SSH_PORT), executable: v1 });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
    await ws.setSecret(STACK, "apiToken", SECRET_VALUE);
}, 15 * 60 * 1000);

afterAll(async () => {
    // Normally destroyed by the last test already; a second destroy of an empty stack is a no-op.
    if (ws && host) await ws.destroy(STACK);
    await host?.stop();
    await run("docker", ["rmi", "-f", IMAGE]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("SystemdRelease under the real Pulumi CLI, on a real systemd host over real SSH", () => {
    test("the first release serves examples/hello under the hardened unit, secrets in a 0600 file", async () => {
        await up();
        const out = await ws.outputs(STACK);
        expect(out.releaseId).toBe(sha12(v1));
        expect(out.url).toBe(`http://127.0.0.1:${APP_PORT}/`);
        expect(out.swankTunnel).toBe(`ssh -N -L 18302:127.0.0.1:18302 -p ${SSH_PORT} root@127.0.0.1`);

        const page = await host.curl(APP_PORT, "/");
        expect(page.status).toBe("200");
        expect(page.body).toContain("Hello from Common Lisp, deployed by lisp-deploy.");

        // The unit on the host is exactly the rendered one, and systemd itself finds nothing wrong with it.
        const unit = out.unit as string;
        expect(await hostFile("/etc/systemd/system/hello.service")).toBe(unit);
        const verify = await host.exec("systemd-analyze", "verify", "/etc/systemd/system/hello.service");
        expect({ code: verify.code, stderr: verify.stderr }).toEqual({ code: 0, stderr: "" });
        expect(unit).toContain(`Type=${E2E_SERVICE_TYPE}`);

        // The release layout: content-addressed directory, relative current link.
        expect(await link("current")).toBe(`releases/${sha12(v1)}`);

        // The secret: on the host in a root-only 0600 file; in the state only encrypted, and in no command text.
        expect((await host.exec("stat", "-c", "%a %U", "/opt/hello/secret.env")).stdout.trim()).toBe("600 root");
        expect(await hostFile("/opt/hello/secret.env")).toBe('API_TOKEN="s3cr3t-t0k\\"en \\$x"\n');
        const state = (await ws.exportState(STACK)).text;
        expect(state).not.toContain("s3cr3t");
        const activate = await stateInputs("hello-activate", true);
        expect(activate.create).not.toContain("s3cr3t");
        expect(plain(activate.stdin)).toContain("s3cr3t");
        // systemd parsed it back to the original value.
        const env = await host.exec("sh", "-c", `tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value hello.service)/environ`);
        expect(env.stdout.split("\n")).toEqual(expect.arrayContaining([`API_TOKEN=${SECRET_VALUE}`, "HELLO_MODE=production", `PORT=${APP_PORT}`, "SWANK_PORT=18302"]));

        // Swank: listening on the host's loopback only, and a real REPL through exactly the tunnel command
        // the release outputs (its local port moved, since this host container shares our network).
        const procNet = await host.exec("cat", "/proc/net/tcp", "/proc/net/tcp6");
        expect(listenersFromProcNet(procNet.stdout, 18302)).toEqual(["0100007F"]);
        const tunnelArgs = String(out.swankTunnel).replace("-L 18302:", "-L 18312:").split(" ").slice(1);
        // The tunnel command names host, port and user; the test adds only the key and no-prompt options.
        const keyOptions = ["-i", host.keyFile, ...sshOptions(host.keyFile, SSH_PORT).slice(4)];
        const tunnel = spawn("ssh", [...keyOptions, ...tunnelArgs], { stdio: "ignore" });
        try {
            await host.waitFor(async () => (await swankEval(18312, "(+ 1 2)", 2000)).includes('(:ok "=> 3'), "Swank through the SSH tunnel", 30);
        } finally {
            tunnel.kill();
        }

        // The process really runs sandboxed as a dynamic, unprivileged user.
        const status = await host.exec("sh", "-c", `grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/$(systemctl show -p MainPID --value hello.service)/status`);
        expect(status.stdout).toMatch(/CapEff:\s+0000000000000000/);
        expect(status.stdout).toMatch(/NoNewPrivs:\s+1/);
        expect(status.stdout).toMatch(/Seccomp:\s+2/);
        expect(status.stdout).not.toMatch(/Uid:\s+0\s/);
    });

    test("an unchanged program: preview and up change nothing, and running activate.sh again by hand changes nothing", async () => {
        const preview = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
        expect(changedResources(preview)).toEqual([]);
        const pid = await mainPid();
        // --expect-no-changes: the engine itself fails the update if any step would act.
        await up(["--expect-no-changes"]);
        expect(await mainPid()).toBe(pid);

        const snapshot = async () =>
            (await host.exec("sh", "-c", "find /opt/hello /etc/systemd/system/hello.service -printf '%p %m %s %T@ %l\\n' | sort")).stdout;
        const files = await snapshot();
        const activate = await stateInputs("hello-activate", true);
        const prepare = await stateInputs("hello-prepare");
        const again = await host.ssh(prepare.create);
        expect(again.code).toBe(0);
        const rerun = await host.ssh(activate.create, plain(activate.stdin));
        expect(rerun.code).toBe(0);
        expect(rerun.stderr).not.toContain("starting");
        expect(await mainPid()).toBe(pid);
        expect(await snapshot()).toBe(files);
    });

    test("a second release with changed app text previews as the release's three steps and serves the new text", async () => {
        await useExecutable(v2);
        const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
        // Only the release changed: the directory, the upload and the activation; nothing else.
        expect(changedResources(preview)).toEqual([
            "update command:remote:Command hello-activate",
            "update command:remote:Command hello-prepare",
            "update command:remote:CopyToRemote hello-upload",
        ]);
        expect(preview).not.toContain("s3cr3t");
        await up();
        expect((await ws.outputs(STACK)).releaseId).toBe(sha12(v2));
        const page = await host.curl(APP_PORT, "/");
        expect(page.status).toBe("200");
        expect(page.body).toContain("Hello from release two.");
        expect(await link("current")).toBe(`releases/${sha12(v2)}`);
        expect(await link("previous")).toBe(`releases/${sha12(v1)}`);
    });

    test("a release failing its health check rolls back: the update fails with journal lines, the old text keeps being served", async () => {
        await useExecutable(broken);
        const failed = await ws.up(STACK);
        expect(failed.code).not.toBe(0);
        expect(failed.out).toContain("failed its health check");
        // The journal's last lines, with what the broken executable printed before dying.
        expect(failed.out).toContain("journal lines of hello.service");
        expect(failed.out).toContain("boom: this release cannot start");
        expect(failed.out).toMatch(/rolled back to releases\/[0-9a-f]+, which is serving/);
        expect(failed.out).not.toContain("s3cr3t");

        const page = await host.curl(APP_PORT, "/");
        expect(page.status).toBe("200");
        expect(page.body).toContain("Hello from release two.");
        expect(await link("current")).toBe(`releases/${sha12(v2)}`);
        expect(await link("previous")).toBe(`releases/${sha12(v1)}`);

        // Going back to release two: the failed update kept the activation's state at release two, so only the
        // directory and the upload (whose state moved to the broken build) run again; the app keeps serving.
        await useExecutable(v2);
        const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
        expect(changedResources(preview)).toEqual(["update command:remote:Command hello-prepare", "update command:remote:CopyToRemote hello-upload"]);
        const pid = await mainPid();
        await up();
        expect((await ws.outputs(STACK)).releaseId).toBe(sha12(v2));
        expect(await mainPid()).toBe(pid);
        expect((await host.curl(APP_PORT, "/")).body).toContain("Hello from release two.");
    });

    test("kill -9 of the app makes systemd restart it (Restart=always)", async () => {
        const pid = await mainPid();
        expect(Number(pid)).toBeGreaterThan(0);
        await runOk("docker", ["exec", host.container, "kill", "-9", pid]);
        await host.waitFor(async () => {
            const now = await mainPid();
            return now !== pid && now !== "0" && (await host.curl(APP_PORT, "/")).status === "200";
        }, "systemd to restart hello.service after kill -9", 30);
        expect((await host.curl(APP_PORT, "/")).body).toContain("Hello from release two.");
    });

    test("a third release prunes old releases beyond keepReleases=2, keeping current and previous", async () => {
        await useExecutable(v3);
        await up();
        const page = await host.curl(APP_PORT, "/");
        if (!page.body.includes("Hello from release three.")) {
            // Seen once in about five runs (the health check had passed): keep what the host knew.
            const journal = (await host.exec("journalctl", "-u", "hello", "-n", "40", "--no-pager")).stdout;
            throw new Error(`release three is not served right after a successful up: ${JSON.stringify(page)}\n${journal}`);
        }
        const dirs = (await host.exec("ls", "/opt/hello/releases")).stdout.split("\n").filter(Boolean).sort();
        expect(dirs).toEqual([sha12(v2), sha12(v3)].sort());
        expect(await link("previous")).toBe(`releases/${sha12(v2)}`);
    });

    test("an executable taken from an image (docker create + docker cp) is the same release as the same file", async () => {
        const context = path.join(scratch, "image");
        fs.mkdirSync(context);
        fs.copyFileSync(v1, path.join(context, "hello"));
        fs.writeFileSync(path.join(context, "Dockerfile"), "FROM debian:bookworm-slim\nCOPY hello /app/hello\n");
        await runOk("docker", ["build", "--network", "host", "-q", "-t", IMAGE, context]);
        await ws.ok(["config", "set", "--stack", STACK, "executableImage", IMAGE]);
        await ws.ok(["config", "set", "--stack", STACK, "executablePath", "/app/hello"]);
        await up();
        expect((await ws.outputs(STACK)).releaseId).toBe(sha12(v1));
        // The extraction writes to a path relative to the Pulumi project, where the CLI runs the program.
        expect(fs.existsSync(path.join(ws.projectDir, ".lisp-deploy/hello/hello"))).toBe(true);
        expect((await host.curl(APP_PORT, "/")).body).toContain("Hello from Common Lisp, deployed by lisp-deploy.");
        expect(await link("current")).toBe(`releases/${sha12(v1)}`);
        // No container is left behind by the extraction.
        expect((await runOk("docker", ["ps", "-a", "--filter", `ancestor=${IMAGE}`, "-q"])).stdout.trim()).toBe("");
    });

    test("SBCL cannot run under MemoryDenyWriteExecute=yes, which is why the unit leaves it out", async () => {
        // The same executable started twice with systemd-run, identical but for W^X: the control serves,
        // the W^X one must not. (A home directory is given to both: without one SBCL dies for another reason.)
        const probe = (unit: string, port: number, extra: string[]) =>
            host.exec(
                "systemd-run", "--unit", unit, "--collect", "-p", "DynamicUser=yes", "-p", `CacheDirectory=${unit}`,
                "-p", `Environment=HOME=/var/cache/${unit} PORT=${port}`, ...extra, "/opt/hello/current/hello",
            );
        expect((await probe("hello-wx-control", PROBE_PORT, [])).code).toBe(0);
        expect((await probe("hello-wx-probe", PROBE_PORT + 1, ["-p", "MemoryDenyWriteExecute=yes"])).code).toBe(0);
        await host.waitFor(async () => (await host.curl(PROBE_PORT, "/")).status === "200", "the control probe to serve", 30);
        expect((await host.curl(PROBE_PORT + 1, "/")).status).toBe("000");
        const journal = await host.exec("journalctl", "-u", "hello-wx-probe", "--no-pager", "-o", "cat");
        // SBCL maps its heap spaces writable and executable at start; under W^X the kernel refuses.
        expect(journal.stdout).toContain("mmap: Operation not permitted");
        await host.exec("systemctl", "stop", "hello-wx-control", "hello-wx-probe");
    });

    test("a release may run as a created system user instead of DynamicUser (a second stack)", async () => {
        await ws.initStack(USER_STACK, { sshPort: String(SSH_PORT), executable: v1, mode: "user" });
        await ws.setSecret(USER_STACK, "sshPrivateKey", host.privateKey);
        try {
            await ws.ok(["up", "--yes", "--skip-preview", "--stack", USER_STACK]);
            expect((await host.curl(STATIC_USER_PORT, "/")).status).toBe("200");
            const uid = (await host.exec("id", "-u", "greeter")).stdout.trim();
            const pid = (await host.exec("systemctl", "show", "-p", "MainPID", "--value", "greeter.service")).stdout.trim();
            const status = (await host.exec("grep", "^Uid:", `/proc/${pid}/status`)).stdout;
            expect(status.split(/\s+/)[1]).toBe(uid);
            expect(Number(uid)).toBeLessThan(1000);
        } finally {
            await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", USER_STACK]);
        }
        expect((await host.exec("test", "-e", "/opt/greeter")).code).not.toBe(0);
    });

    test("destroy leaves nothing behind: no unit, no /opt/hello, nothing listening", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        expect((await host.exec("test", "-e", "/etc/systemd/system/hello.service")).code).not.toBe(0);
        expect((await host.exec("test", "-e", "/opt/hello")).code).not.toBe(0);
        expect((await host.exec("systemctl", "is-active", "hello.service")).stdout.trim()).not.toBe("active");
        expect((await host.exec("sh", "-c", "systemctl list-unit-files 'hello*' --no-legend")).stdout.trim()).toBe("");
        expect((await host.curl(APP_PORT, "/")).status).toBe("000");
        // remove.sh (the activation's `delete`) is idempotent: a second run finds nothing and succeeds.
        expect((await host.ssh(releaseScript("remove", { APP: "hello" }))).code).toBe(0);
    });

    test("nothing the CLI printed in any run above holds the secret or the SSH key", () => {
        // Every run but the test's own `stack export --show-secrets`, which asked for them in plain form.
        const runs = ws.transcript.filter((t) => !/^\$ pulumi stack export .*--show-secrets/.test(t));
        expect(runs.length).toBeGreaterThan(20);
        expect(ws.transcript.length - runs.length).toBe(2);
        const transcript = runs.join("\n");
        expect(transcript).not.toContain("s3cr3t");
        expect(transcript).not.toContain(host.privateKey.trim().split("\n")[1]);
    });
});
