import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { LoadResult, startLoad } from "../../support/load";
import { runOk } from "../../support/run";
import { SystemdHost } from "../../support/systemd-host";
import { releasePaths, renderUnit } from "../../src/release/systemd/unit";

// The Lisp runtime's graceful stop (lisp/src/hunchentoot.lisp) under `systemctl restart` on a real systemd
// host in a container, plain mode (no proxy, no second slot): new-connection and kept-alive clients run while
// the unit SystemdRelease renders is restarted again and again, and the same restarts with Hunchentoot's own
// stop (the fixture app with HUNCHENTOOT_OWN_STOP=1) are counted beside it. Between the old process closing
// its listener and the new one listening nothing listens: a connect is refused, which tells the client that
// nothing was sent. A request "lost after accept" met a reset or a close instead of its answer.
// What is asserted: every stop under this load ends cleanly inside SHUTDOWN_TIMEOUT (a drain that never
// finished, or a connection it forgot, fails here). What is counted, not asserted: the lost requests. The
// graceful stop answers every connection the app accepted (lisp/t/process-tests.lisp proves that exactly);
// what can still be lost is a connection the kernel queued in the instant between the drain's last look at
// the queue and the listener closing. Dropping new SYNs first closes that window, but the unit's sandbox
// (no capabilities) is refused the socket filter on some kernels (EPERM on this machine's), and the app then
// logs so on each stop.
// Ports: the app 19122, sshd 2306.

jest.setTimeout(20 * 60 * 1000);

const APP = "graceful-stop";
const PORT = 19122;
const SSH_PORT = 2306;
const CONTAINER = "graceful-stop-host";
const RESTARTS = 6;
const URL = `http://127.0.0.1:${PORT}/`;
const REPO = path.join(__dirname, "..", "..");
const LISP = path.join(REPO, "lisp");

/** Builds lisp/t/app (the runtime's fixture app) with the local SBCL into `dir` and returns the executable. */
async function buildFixtureApp(dir: string): Promise<string> {
    const executable = path.join(dir, "app");
    await runOk("sbcl", [
        "--non-interactive", "--no-userinit",
        "--eval", "(require :asdf)",
        "--eval", `(asdf:initialize-source-registry '(:source-registry (:tree ${JSON.stringify(LISP + "/")}) :inherit-configuration))`,
        "--eval", `(asdf:initialize-output-translations '(:output-translations (t (${JSON.stringify(path.join(dir, "cache") + "/")} :implementation)) :inherit-configuration))`,
        "--load", path.join(LISP, "t", "build-executable.lisp"),
        "--eval", `(build-executable "lisp-deploy-test-app" ${JSON.stringify(executable)})`,
    ]);
    return executable;
}

/** A refused connect: nothing listened, so nothing was sent. Every other failure lost an accepted request. */
const refused = (failure: string) => failure.includes("ECONNREFUSED");

function summary(name: string, r: LoadResult): string {
    const lost = r.failures.filter((f) => !refused(f));
    return `${name}: ${r.total} sent, ${r.failures.length - lost.length} refused at connect, ${lost.length} lost after accept` +
        `${r.retried ? `, ${r.retried} re-sent after an idle kept-alive close` : ""}${lost.length ? ` (${[...new Set(lost)].slice(0, 5).join("; ")})` : ""}`;
}

describe("the graceful stop under systemctl restart, plain mode", () => {
    let host: SystemdHost | undefined;
    let work = "";
    const paths = releasePaths(APP, "app");

    beforeAll(async () => {
        requireDocker();
        requireCommand("sbcl", "sbcl");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "graceful-stop-"));
        const [executable, started] = await Promise.all([buildFixtureApp(work), SystemdHost.start(CONTAINER, SSH_PORT)]);
        host = started;
        await host.exec("mkdir", "-p", paths.current).then((r) => expect(r.code).toBe(0));
        await runOk("docker", ["cp", executable, `${CONTAINER}:${paths.executable}`]);
        await host.exec("chmod", "755", paths.executable).then((r) => expect(r.code).toBe(0));
    });

    afterAll(async () => {
        await host?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    /** Writes the unit SystemdRelease renders (plus `environment`) and (re)starts it until it answers. */
    async function serve(environment: Record<string, string>): Promise<void> {
        const unitFile = path.join(work, "unit");
        fs.writeFileSync(unitFile, renderUnit({
            app: APP, executable: "app", type: "notify", port: PORT,
            environment: { BIND_ADDRESS: "127.0.0.1", ...environment }, environmentFile: false,
        }));
        await runOk("docker", ["cp", unitFile, `${CONTAINER}:${paths.unitFile}`]);
        const started = await host!.exec("sh", "-c", `systemctl daemon-reload && systemctl restart ${APP}`);
        expect(started.stderr).toBe("");
        expect(started.code).toBe(0);
        await host!.waitFor(async () => (await host!.curl(PORT)).status === "200", `${APP} to answer`);
    }

    /** Restarts the unit RESTARTS times while both kinds of client run; what each saw. */
    async function restartsUnderLoad(): Promise<{ fresh: LoadResult; keptAlive: LoadResult }> {
        const options = { maxRequests: 200_000, concurrency: 3, pauseMs: 5, tailMs: 1000, hardLimitMs: 300_000 };
        const fresh = startLoad(URL, { ...options, connections: "new" });
        const keptAlive = startLoad(URL, { ...options, connections: "keep-alive" });
        for (let i = 0; i < RESTARTS; i++) {
            await new Promise((r) => setTimeout(r, 1000));
            const restarted = await host!.exec("systemctl", "restart", APP);
            expect(restarted.code).toBe(0);
        }
        return { fresh: await fresh.stop(), keptAlive: await keptAlive.stop() };
    }

    it("Hunchentoot's own stop, the baseline: counted, not asserted", async () => {
        await serve({ HUNCHENTOOT_OWN_STOP: "1" });
        const { fresh, keptAlive } = await restartsUnderLoad();
        console.log(`Hunchentoot's own stop, ${RESTARTS} restarts\n  ${summary("new connections", fresh)}\n  ${summary("kept-alive", keptAlive)}`);
        expect(fresh.total).toBeGreaterThan(0);
    });

    it("the graceful stop: every stop under load answers what it accepted and exits 0 inside SHUTDOWN_TIMEOUT", async () => {
        const since = (await host!.exec("date", "+%Y-%m-%d %H:%M:%S")).stdout.trim();
        await serve({});
        const { fresh, keptAlive } = await restartsUnderLoad();
        const journal = (await host!.exec("journalctl", "-u", APP, "--no-pager", "-o", "cat", "--since", since)).stdout;
        const drains = journal.split("\n").filter((l) => l.includes("stopped accepting connections"));
        console.log(`graceful stop, ${RESTARTS} restarts\n  ${summary("new connections", fresh)}\n  ${summary("kept-alive", keptAlive)}\n  ${drains.join("\n  ")}`);
        // Both clients were served on both sides of the restarts, so the restarts really happened under load.
        expect(fresh.total - fresh.failures.length).toBeGreaterThan(RESTARTS);
        expect(keptAlive.total - keptAlive.failures.length).toBeGreaterThan(RESTARTS);
        // Each stop took what was queued, answered it, and ended cleanly: exit 0, no timeout.
        expect(drains.length).toBeGreaterThanOrEqual(RESTARTS);
        expect(journal.split("\n").filter((l) => l.includes("test-app stopped cleanly")).length).toBeGreaterThanOrEqual(RESTARTS);
        expect(journal).not.toContain("did not stop within");
        expect((await host!.exec("systemctl", "show", APP, "-p", "NRestarts", "--value")).stdout.trim()).toBe("0");
    });
});
