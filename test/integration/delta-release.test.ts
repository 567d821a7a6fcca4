import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { run } from "../../support/run";
import { SystemdHost } from "../../support/systemd-host";
import { planDelta } from "../../src/release/systemd/deltaPlan";
import { releaseScript } from "../../src/release/systemd/scripts";
import { helloCopy } from "../../support/delta-fixtures";
import { changedResources } from "./examples-engine-helpers";

// DeltaRelease under the REAL Pulumi CLI (support/pulumi-cli.ts): the real Docker engine builds the image
// plan's dependencies stage, real SBCL runs inside it, a real systemd host takes the release over real SSH.
// One small program (below), the app's directory and the host's key as stack config, one stack shared by the
// tests in order. Ports: app 18750, sshd 2250.

jest.setTimeout(30 * 60 * 1000);

const APP_PORT = 18750;
const SSH_PORT = 2250;
const STACK = "delta-e2e";
const DEPS_IMAGE = "delta-e2e-hello-dependencies";
const FIRST_TEXT = "Hello from Common Lisp, deployed by lisp-deploy.";
const SECOND_TEXT = "Hello from a delta release: only the sources were shipped.";

/** The program: a DeltaRelease of the app at `appDir` to the host on 127.0.0.1:`sshPort`. */
const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { DeltaRelease } = require("lisp-deploy");
const config = new pulumi.Config();
const hello = new DeltaRelease("hello", {
    connection: { host: "127.0.0.1", port: config.requireNumber("sshPort"), user: "root", privateKey: config.requireSecret("sshPrivateKey") },
    app: "hello",
    appDir: config.require("appDir"),
    dependencySource: { kind: "debian" },
    compression: true,
    port: ${APP_PORT},
    // Loopback only: the host container shares this machine's network.
    environment: { BIND_ADDRESS: "127.0.0.1" },
    healthCheck: { path: "/healthz", timeoutSeconds: 20 },
    keepReleases: 3,
    buildNetwork: "host",
    dependenciesImageName: "${DEPS_IMAGE}",
});
exports.deltaKind = hello.deltaKind;
exports.releaseId = hello.releaseId;
exports.dependenciesKey = hello.dependenciesKey;
exports.url = hello.url;
`;

let host: SystemdHost;
let scratch = "";
let appDir: string;
let ws: PulumiWorkspace;

/**
 * The front page once it answers 200, polling for up to 15 s: this machine is shared and heavily loaded
 * (a single 3 s curl once timed out right after a passing health check), and a page that never answers
 * still fails the test.
 */
async function page(): Promise<{ status: string; body: string }> {
    let last = { status: "", body: "" };
    await host.waitFor(async () => (last = await host.curl(APP_PORT, "/")).status === "200", `the app on port ${APP_PORT}`, 15).catch(() => undefined);
    return last;
}
const currentLink = async () => (await host.exec("readlink", "/opt/hello/current")).stdout.trim();
const releaseIdNow = () => planDelta({ appDir, dependencySource: { kind: "debian" } }).releaseId;

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["tar", "tar"]]) {
        requireCommand(cmd, pkg);
    }
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("delta-e2e");
    appDir = helloCopy(path.join(scratch, "hello"));
    host = await SystemdHost.start("delta-e2e-host", SSH_PORT);
    // The project directory: DeltaRelease writes its local artifacts (.lisp-deploy/delta/hello) relative to it.
    const project = path.join(scratch, "project");
    writeProgram(project, "delta-e2e", PROGRAM);
    ws = new PulumiWorkspace(project, path.join(scratch, "pulumi"));
    await ws.initStack(STACK, { sshPort: String(SSH_PORT), appDir });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
}, 10 * 60 * 1000);

afterAll(async () => {
    if (ws && host) await ws.destroy(STACK);
    await host?.stop();
    const images = (await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", DEPS_IMAGE])).stdout.split("\n").filter(Boolean);
    if (images.length > 0) await run("docker", ["rmi", "-f", ...images]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("DeltaRelease under the real Pulumi CLI, on a real systemd host over real SSH", () => {
    test("the first release ships the dependencies executable and the sources, builds on the host and serves", async () => {
        // The host has no SBCL: the dependencies executable carries its own runtime.
        expect((await host.exec("sh", "-c", "command -v sbcl")).code).not.toBe(0);
        const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
        expect(changedResources(preview)).toEqual(
            expect.arrayContaining([
                "create command:local:Command hello-dependencies-executable",
                "create command:remote:CopyToRemote hello-dependencies-upload",
                "create command:remote:CopyToRemote hello-source-upload",
                "create command:remote:Command hello-build",
                "create command:remote:Command hello-activate",
            ]),
        );
        await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
        const out = await ws.outputs(STACK);
        expect(out.deltaKind).toBe("dependencies-and-source");

        const first = await page();
        expect(first.status).toBe("200");
        expect(first.body).toContain(FIRST_TEXT);
        // The plan's release id and dependencies key, as this checkout computes them, are what the program released.
        const plan = planDelta({ appDir, dependencySource: { kind: "debian" } });
        expect({ releaseId: out.releaseId, dependenciesKey: out.dependenciesKey }).toEqual({ releaseId: plan.releaseId, dependenciesKey: plan.dependenciesKey });
        expect(await currentLink()).toBe(`releases/${out.releaseId}`);
        expect((await host.exec("test", "-x", `/opt/hello/dependencies/${out.dependenciesKey}/lisp-deploy-dependencies`)).code).toBe(0);
    }, 10 * 60 * 1000);

    test("a code-only change ships only the source archive and serves the new text", async () => {
        const before = await currentLink();
        helloCopy(appDir, { greeting: SECOND_TEXT });
        const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
        // Nothing of the dependencies runs: no local rebuild, no upload of the dependencies executable.
        expect(changedResources(preview)).toEqual([
            "update command:remote:Command hello-activate",
            "update command:remote:Command hello-build",
            "update command:remote:Command hello-prepare",
            "update command:remote:CopyToRemote hello-source-upload",
        ]);
        const update = await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
        expect(update).not.toMatch(/hello-dependencies-\S+\s+(creat|updat|replac)/);
        const out = await ws.outputs(STACK);
        expect(out.deltaKind).toBe("source-only");

        const served = await page();
        expect(served.status).toBe("200");
        expect(served.body).toContain(SECOND_TEXT);
        expect(await currentLink()).not.toBe(before);
        expect(out.releaseId).toBe(releaseIdNow());
        expect(await currentLink()).toBe(`releases/${out.releaseId}`);
    }, 5 * 60 * 1000);

    test("a build failure on the host fails the update with the Lisp error and leaves the old version serving", async () => {
        const before = await currentLink();
        helloCopy(appDir, { greeting: "This release never builds.", appendToApp: "\n(defun broken (x\n" });
        const failure = await ws.up(STACK);
        expect(failure.code).not.toBe(0);
        // The Lisp reader's own complaint reaches the error, through the build stage's reporter.
        expect(failure.out).toMatch(/building the executable failed/);
        expect(failure.out).toMatch(/end of file/i);
        // The activation never ran: the engine did not start it, and its state still names the serving release.
        expect(failure.out).not.toMatch(/hello-activate\s+updat/);
        const state = (await ws.exportState(STACK)).resources.find((r) => String(r.urn).endsWith("::hello-activate"));
        expect(state.inputs.create).toContain(before.replace("releases/", ""));

        expect(await currentLink()).toBe(before);
        const served = await page();
        expect(served.status).toBe("200");
        expect(served.body).toContain(SECOND_TEXT);
    }, 5 * 60 * 1000);

    test("the host build refuses a dependencies executable of another architecture, naming both", async () => {
        // A copy of the real dependencies executable with its ELF machine field set to aarch64 (183).
        const key = "f".repeat(64);
        const real = `/opt/hello/dependencies/${(await ws.outputs(STACK)).dependenciesKey}/lisp-deploy-dependencies`;
        const setup = await host.ssh(
            `set -e; mkdir -p /opt/hello/dependencies/${key} /opt/hello/releases/archtest; cp ${real} /opt/hello/dependencies/${key}/lisp-deploy-dependencies; ` +
                `printf '\\267\\000' | dd of=/opt/hello/dependencies/${key}/lisp-deploy-dependencies bs=1 seek=18 conv=notrunc status=none`,
        );
        expect(setup.stderr).toBe("");
        const r = await host.ssh(
            releaseScript("delta-build", { APP: "hello", RELEASE_ID: "archtest", DEPENDENCIES_KEY: key, EXECUTABLE: "hello", SYSTEM: "hello", ENTRY_POINT: "hello:main", COMPRESSION: "false" }),
        );
        const hostArch = (await host.exec("uname", "-m")).stdout.trim();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`the dependencies executable is built for aarch64, but this host is ${hostArch}`);
        await host.ssh(`rm -rf /opt/hello/dependencies/${key} /opt/hello/releases/archtest`);
    });

    test("destroy leaves nothing on the host: no unit, no /opt/hello (dependencies included), nothing answering", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview", "--stack", STACK]);
        expect((await host.exec("test", "-e", "/etc/systemd/system/hello.service")).code).not.toBe(0);
        expect((await host.exec("test", "-e", "/opt/hello")).code).not.toBe(0);
        expect((await host.exec("systemctl", "is-active", "hello.service")).stdout.trim()).not.toBe("active");
        expect((await host.curl(APP_PORT, "/")).status).toBe("000");
        expect(ws.transcript.join("\n")).not.toContain(host.privateKey.trim().split("\n")[1]);
    });
});
