import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../harness/acting-engine";
import { requireCommand, requireDocker } from "../../support/engines";
import { valueOf } from "../harness/mocks";
import { run } from "../../support/run";
import { SystemdHost } from "../../support/systemd-host";
import { planDelta } from "../../src/image/deltaPlan";
import { DeltaRelease } from "../../src/release/delta";
import { releaseScript } from "../../src/release/scripts";
import { helloCopy } from "../../support/delta-fixtures";

// Real Docker engine (the image plan's dependencies stage), real SBCL inside it, a real systemd host over
// real SSH; the Pulumi engine is stood in for by ActingEngine, which performs each resource's real action.
const APP_PORT = 18750;
const SSH_PORT = 2250;
const DEPS_IMAGE = "delta-e2e-hello-dependencies";
const FIRST_TEXT = "Hello from Common Lisp, deployed by lisp-deploy.";
const SECOND_TEXT = "Hello from a delta release: only the sources were shipped.";

let host: SystemdHost;
let work: string;
let appDir: string;
let cwd: string;
const engine = new ActingEngine("lisp-deploy", "delta-e2e");

function release() {
    return new DeltaRelease("hello", {
        connection: host.connection,
        app: "hello",
        appDir,
        dependencySource: { kind: "debian" },
        compression: true,
        port: APP_PORT,
        // Loopback only: the host container shares this machine's network.
        environment: { BIND_ADDRESS: "127.0.0.1" },
        healthCheck: { path: "/healthz", timeoutSeconds: 20 },
        keepReleases: 3,
        buildNetwork: "host",
        dependenciesImageName: DEPS_IMAGE,
    });
}

/** The actions the engine performed from index `from` on, as "op name". */
const actionsSince = (from: number) => engine.actions.slice(from).map((a) => `${a.op} ${a.name}`);
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

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["scp", "openssh-client"], ["ssh-keygen", "openssh-client"], ["tar", "tar"]]) {
        requireCommand(cmd, pkg);
    }
    cwd = process.cwd();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "delta-e2e-"));
    // The "Pulumi project directory": DeltaRelease writes its local artifacts relative to it.
    process.chdir(work);
    appDir = helloCopy(path.join(work, "hello"));
    host = await SystemdHost.start("delta-e2e-host", SSH_PORT);
}, 5 * 60 * 1000);

afterAll(async () => {
    if (host) await engine.destroy().catch(() => undefined);
    await host?.stop();
    const images = (await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", DEPS_IMAGE])).stdout.split("\n").filter(Boolean);
    if (images.length > 0) await run("docker", ["rmi", "-f", ...images]);
    process.chdir(cwd);
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("DeltaRelease on a real systemd host over real SSH (Pulumi engine stood in for by ActingEngine)", () => {
    test("the first release ships the dependencies executable and the sources, builds on the host and serves", async () => {
        // The host has no SBCL: the dependencies executable carries its own runtime.
        expect((await host.exec("sh", "-c", "command -v sbcl")).code).not.toBe(0);
        const from = engine.actions.length;
        const r = await engine.up(release);
        expect(await valueOf(r.deltaKind)).toBe("dependencies-and-source");
        const ran = actionsSince(from);
        expect(ran).toEqual(expect.arrayContaining(["create hello-dependencies-executable", "create hello-dependencies-upload", "create hello-source-upload", "create hello-build", "create hello-activate"]));

        const first = await page();
        expect(first.status).toBe("200");
        expect(first.body).toContain(FIRST_TEXT);
        const plan = planDelta({ appDir, dependencySource: { kind: "debian" } });
        expect(await currentLink()).toBe(`releases/${plan.releaseId}`);
        expect((await host.exec("test", "-x", `/opt/hello/dependencies/${plan.dependenciesKey}/lisp-deploy-dependencies`)).code).toBe(0);
    }, 10 * 60 * 1000);

    test("a code-only change ships only the source archive and serves the new text", async () => {
        const before = await currentLink();
        helloCopy(appDir, { greeting: SECOND_TEXT });
        const from = engine.actions.length;
        const r = await engine.up(release);
        expect(await valueOf(r.deltaKind)).toBe("source-only");
        const ran = actionsSince(from);
        // Nothing of the dependencies ran: no local rebuild, no upload of the dependencies executable.
        expect(ran.filter((a) => a.includes("dependencies"))).toEqual([]);
        expect(ran).toEqual(expect.arrayContaining(["update hello-source-upload", "update hello-build", "update hello-activate"]));

        const served = await page();
        expect(served.status).toBe("200");
        expect(served.body).toContain(SECOND_TEXT);
        expect(await currentLink()).not.toBe(before);
        expect(await currentLink()).toBe(`releases/${planDelta({ appDir, dependencySource: { kind: "debian" } }).releaseId}`);
    }, 5 * 60 * 1000);

    test("a build failure on the host fails the update with the Lisp error and leaves the old version serving", async () => {
        const before = await currentLink();
        helloCopy(appDir, { greeting: "This release never builds.", appendToApp: "\n(defun broken (x\n" });
        const from = engine.actions.length;
        const failure = await engine.up(release).then(
            () => undefined,
            (e: Error) => e,
        );
        expect(failure).toBeInstanceOf(Error);
        // The Lisp reader's own complaint reaches the error, through the build stage's reporter.
        expect(failure!.message).toMatch(/building the executable failed/);
        expect(failure!.message).toMatch(/end of file/i);
        expect(actionsSince(from)).not.toContain("update hello-activate");

        expect(await currentLink()).toBe(before);
        const served = await page();
        expect(served.status).toBe("200");
        expect(served.body).toContain(SECOND_TEXT);
    }, 5 * 60 * 1000);

    test("the host build refuses a dependencies executable of another architecture, naming both", async () => {
        // A copy of the real dependencies executable with its ELF machine field set to aarch64 (183).
        const key = "f".repeat(64);
        const real = `/opt/hello/dependencies/${planDelta({ appDir, dependencySource: { kind: "debian" } }).dependenciesKey}/lisp-deploy-dependencies`;
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
});
