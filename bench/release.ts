/**
 * Release benchmark: how long a SystemdRelease takes from "upload done" to "the new version is served",
 * and how long systemd takes to bring the app back after `kill -9`. Runs on a real systemd+sshd host in
 * a container over real SSH; the Pulumi engine is stood in for by ActingEngine.
 * Run with `bash bench/run-release.sh` (ROUNDS=n, default 6; ROUNDS=1 is the quick smoke mode); writes
 * bench/REPORT-release.md (REPORT=path to write elsewhere).
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../test/harness/acting-engine";
import { requireCommand, requireDocker } from "../support/engines";
import { runOk } from "../support/run";
import { SystemdHost } from "../support/systemd-host";
import { buildHello } from "../support/hello-builds";
import { SystemdRelease } from "../src/release/systemdRelease";

const APP_PORT = 18600;
const SSH_PORT = 2229;
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 6));
/** REPORT=path writes the report elsewhere (the smoke test does, so the committed report stays). */
const REPORT = path.resolve(process.env.REPORT ?? path.join("bench", "REPORT-release.md"));
const POLL_MS = 10;

/** One GET to the app on loopback: status and body, or status 0 when nothing answers. */
function get(): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port: APP_PORT, path: "/", timeout: 1000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve({ status: 0, body: "" }));
    });
}

/** Polls every POLL_MS until `ok`, returning the time (ms since epoch) of the first answer that was. */
async function firstTime(ok: (r: { status: number; body: string }) => boolean, stop: () => boolean): Promise<number> {
    for (;;) {
        const r = await get();
        const t = Date.now();
        if (ok(r)) return t;
        if (stop()) throw new Error("gave up polling");
        await new Promise((res) => setTimeout(res, POLL_MS));
    }
}

const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return { min: s[0], median, max: s[s.length - 1] };
};

async function main() {
    requireDocker();
    requireCommand("sbcl", "sbcl");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "systemd-bench-"));
    const [v1, v2, host] = await Promise.all([
        buildHello(path.join(work, "v1"), "Bench release A."),
        buildHello(path.join(work, "v2"), "Bench release B."),
        SystemdHost.start("systemd-bench-host", SSH_PORT),
    ]);
    const engine = new ActingEngine("lisp-deploy", "bench");
    const release = (file: string) =>
        new SystemdRelease("hello", {
            connection: host.connection,
            app: "hello",
            executable: { file },
            executableName: "hello",
            port: APP_PORT,
            serviceType: "exec",
            healthCheck: { path: "/healthz" },
        });
    const releaseMs: number[] = [];
    const activateMs: number[] = [];
    const recoverMs: number[] = [];
    try {
        await engine.up(() => release(v1));
        for (let i = 0; i < ROUNDS; i++) {
            const [file, text] = i % 2 === 0 ? [v2, "Bench release B."] : [v1, "Bench release A."];
            let done = false;
            const served = firstTime((r) => r.status === 200 && r.body.includes(text), () => done);
            const before = engine.actions.length;
            await engine.up(() => release(file));
            const servedAt = await served;
            done = true;
            const mine = engine.actions.slice(before);
            const upload = mine.find((a) => a.name === "hello-upload")!;
            const activate = mine.find((a) => a.name === "hello-activate")!;
            releaseMs.push(servedAt - upload.finishedAt!);
            activateMs.push(activate.finishedAt! - upload.finishedAt!);
        }
        for (let i = 0; i < ROUNDS; i++) {
            const pid = (await host.exec("systemctl", "show", "-p", "MainPID", "--value", "hello.service")).stdout.trim();
            await runOk("docker", ["exec", host.container, "kill", "-9", pid]);
            const killedAt = Date.now();
            // Wait until the old process is really gone (connection refused), then until a new one answers.
            await firstTime((r) => r.status === 0, () => Date.now() - killedAt > 10_000);
            const back = await firstTime((r) => r.status === 200, () => Date.now() - killedAt > 60_000);
            recoverMs.push(back - killedAt);
        }
        await engine.destroy();
    } finally {
        await host.stop();
        fs.rmSync(work, { recursive: true, force: true });
    }
    const r = stats(releaseMs);
    const a = stats(activateMs);
    const c = stats(recoverMs);
    const report = `# Release benchmark (SystemdRelease)

Measured ${new Date().toISOString().slice(0, 10)} on this project's machine kind (Debian 12, 2 shared cores),
against a real systemd + sshd host in a container (support/systemd-host), over real SSH on loopback;
the Pulumi engine is stood in for by test/harness/acting-engine.ts. Executable: examples/hello built
with Debian's SBCL 2.2.9 (uncompressed, ~57 MB), unit Type=exec, health check GET /healthz.
${ROUNDS} rounds each, alternating two builds with different greetings; polling 127.0.0.1 every ${POLL_MS} ms from the benchmark process.

Reproduce: \`bash bench/run-release.sh\` (ROUNDS=n to change the number of rounds; REPORT=path to write elsewhere).

| measure | min | median | max |
| --- | ---: | ---: | ---: |
| release: upload done → new version served (ms) | ${r.min} | ${r.median} | ${r.max} |
| activate command (upload done → activate.sh returned, incl. SSH + health check) (ms) | ${a.min} | ${a.median} | ${a.max} |
| crash recovery: \`kill -9\` → first 200 again (ms) | ${c.min} | ${c.median} | ${c.max} |

Raw (ms): release ${JSON.stringify(releaseMs)}; activate ${JSON.stringify(activateMs)}; recovery ${JSON.stringify(recoverMs)}.

Notes: the unit's \`RestartSec=1\` is most of the recovery time (systemd waits 1 s before restarting);
the rest is SBCL start-up and Hunchentoot listening. "New version served" can come before the activate
command returns: activate.sh still health-checks, prunes and the SSH session closes.
`;
    // run-release.sh runs this from the repository root; __dirname is the compiled copy.
    fs.writeFileSync(REPORT, report);
    process.stdout.write(report);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
