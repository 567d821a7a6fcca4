/**
 * Delta release benchmark: for a code-only change of examples/hello, the bytes shipped and the release
 * time of a DeltaRelease (source archive, built on the host) against a SystemdRelease shipping the whole
 * executable (uncompressed and compressed), side by side in one run on one host. Real systemd + sshd
 * host in a container over real SSH; the Pulumi engine is stood in for by ActingEngine.
 * Run with `bash bench/run-delta.sh`; writes bench/REPORT-delta.md.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../test/harness/acting-engine";
import { requireCommand, requireDocker } from "../support/engines";
import { run, runOk } from "../support/run";
import { SystemdHost } from "../support/systemd-host";
import { helloCopy } from "../support/delta-fixtures";
import { DEPENDENCIES_EXECUTABLE, planDelta } from "../src/image/deltaPlan";
import { packageLispDir } from "../src/image/plan";
import { DeltaRelease } from "../src/release/delta";
import { SystemdRelease } from "../src/release/systemdRelease";

const DELTA_PORT = 18630;
const FULL_PORT = 18631;
const SSH_PORT = 2251;
const DEPS_IMAGE = "delta-bench-hello-dependencies";
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 3));
/** REPORT=path writes the report elsewhere (the smoke test does, so the committed report stays). */
const REPORT = path.resolve(process.env.REPORT ?? path.join("bench", "REPORT-delta.md"));
const POLL_MS = 10;

function get(port: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 1000 }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve({ status: 0, body: "" }));
    });
}

/** Polls every POLL_MS until the page shows `text`, returning the time of the first such answer. */
async function servedAt(port: number, text: string, stop: () => boolean): Promise<number> {
    for (;;) {
        const r = await get(port);
        const t = Date.now();
        if (r.status === 200 && r.body.includes(text)) return t;
        if (stop()) throw new Error(`gave up waiting for ${JSON.stringify(text)} on ${port}`);
        await new Promise((res) => setTimeout(res, POLL_MS));
    }
}

/** Runs one update and returns ms from its start (the first action: prepare, then upload) to the new text served. */
async function timedUpdate(port: number, text: string, update: () => Promise<unknown>): Promise<number> {
    let done = false;
    const start = Date.now();
    const served = servedAt(port, text, () => done && Date.now() - start > 120_000);
    await update();
    const at = await served;
    done = true;
    return at - start;
}

const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return { min: s[0], median, max: s[s.length - 1] };
};

async function main() {
    requireDocker();
    requireCommand("scp", "openssh-client");
    const repo = process.cwd();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "delta-bench-"));
    process.chdir(work);
    const appDir = helloCopy(path.join(work, "hello"));
    const host = await SystemdHost.start("delta-bench-host", SSH_PORT);
    const deltaEngine = new ActingEngine("lisp-deploy", "delta-bench");
    const fullEngine = new ActingEngine("lisp-deploy", "full-bench");
    const common = { connection: host.connection, environment: { BIND_ADDRESS: "127.0.0.1" }, healthCheck: { path: "/healthz" } };
    const delta = () =>
        new DeltaRelease("hello", { ...common, app: "hello", port: DELTA_PORT, appDir, dependencySource: { kind: "debian" }, compression: true, buildNetwork: "host", dependenciesImageName: DEPS_IMAGE });
    const full = (file: string) => new SystemdRelease("full", { ...common, app: "full", port: FULL_PORT, executable: { file }, executableName: "hello" });

    /** Builds the app as it is now with the local dependencies executable: exactly what the host builds. */
    const buildLocally = async (compression: boolean, out: string) => {
        const plan = planDelta({ appDir, dependencySource: { kind: "debian" } });
        const deps = path.join(work, ".lisp-deploy", "delta", "hello", "dependencies", plan.dependenciesKey.slice(0, 12), DEPENDENCIES_EXECUTABLE);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        await runOk(deps, ["--non-interactive", "--no-sysinit", "--no-userinit", "--load", path.join(packageLispDir(), "build", "executable.lisp")], {
            env: {
                PATH: process.env.PATH,
                HOME: work,
                XDG_CACHE_HOME: path.join(work, "cache", compression ? "c" : "u", path.basename(path.dirname(out))),
                LISP_DEPLOY_SOURCE_TREES: appDir,
                LISP_DEPLOY_SYSTEM: "hello",
                LISP_DEPLOY_ENTRY_POINT: "hello:main",
                LISP_DEPLOY_OUTPUT: out,
                LISP_DEPLOY_COMPRESSION: compression ? "true" : "false",
            },
        });
        return out;
    };

    const rows: { round: number; sourceBytes: number; uncompressedBytes: number; compressedBytes: number; deltaMs: number; uncompressedMs: number; compressedMs: number }[] = [];
    let depsBytes = 0;
    let firstDeltaMs = 0;
    try {
        firstDeltaMs = await timedUpdate(DELTA_PORT, "Hello from Common Lisp", () => deltaEngine.up(delta));
        const key = planDelta({ appDir, dependencySource: { kind: "debian" } }).dependenciesKey;
        depsBytes = fs.statSync(path.join(".lisp-deploy", "delta", "hello", "dependencies", key.slice(0, 12), DEPENDENCIES_EXECUTABLE)).size;
        const first = await buildLocally(false, path.join(work, "exe", "first", "hello"));
        await fullEngine.up(() => full(first));
        for (let round = 0; round < ROUNDS; round++) {
            const text = `Bench delta round ${round}.`;
            helloCopy(appDir, { greeting: text });
            const uncompressed = await buildLocally(false, path.join(work, "exe", `u${round}`, "hello"));
            const compressed = await buildLocally(true, path.join(work, "exe", `c${round}`, "hello"));
            const sourceBytes = planDelta({ appDir, dependencySource: { kind: "debian" } }).sourceArchive.length;
            const before = deltaEngine.actions.length;
            const deltaMs = await timedUpdate(DELTA_PORT, text, () => deltaEngine.up(delta));
            if (deltaEngine.actions.slice(before).some((a) => a.name.includes("dependencies"))) throw new Error("a code-only change shipped dependencies");
            const uncompressedMs = await timedUpdate(FULL_PORT, text, () => fullEngine.up(() => full(uncompressed)));
            // The same text again would be served already: switch the full release to the compressed build of the next text.
            helloCopy(appDir, { greeting: `${text} (compressed)` });
            const compressed2 = await buildLocally(true, path.join(work, "exe", `c${round}b`, "hello"));
            const compressedMs = await timedUpdate(FULL_PORT, `${text} (compressed)`, () => fullEngine.up(() => full(compressed2)));
            rows.push({ round, sourceBytes, uncompressedBytes: fs.statSync(uncompressed).size, compressedBytes: fs.statSync(compressed).size, deltaMs, uncompressedMs, compressedMs });
        }
        await deltaEngine.destroy();
        await fullEngine.destroy();
    } finally {
        await host.stop();
        const images = (await run("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", DEPS_IMAGE])).stdout.split("\n").filter(Boolean);
        if (images.length > 0) await run("docker", ["rmi", "-f", ...images]);
        process.chdir(repo);
        fs.rmSync(work, { recursive: true, force: true });
    }

    const last = rows[rows.length - 1];
    const d = stats(rows.map((r) => r.deltaMs));
    const u = stats(rows.map((r) => r.uncompressedMs));
    const c = stats(rows.map((r) => r.compressedMs));
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    const report = `# Delta release benchmark (DeltaRelease vs SystemdRelease)

Measured ${new Date().toISOString().slice(0, 10)} on this project's machine kind (Debian 12, 2 shared cores), against a
real systemd + sshd host in a container (support/systemd-host) over real SSH (scp) on loopback; the
Pulumi engine is stood in for by test/harness/acting-engine.ts. App: examples/hello, dependencies from
Debian's cl-* packages, Debian's SBCL 2.2.9. ${ROUNDS} rounds, each a code-only change (+greeting+), run side by
side: the delta release (source archive, executable built on the host, compressed), then the same
change shipped as a whole executable, uncompressed and compressed (built locally with the same
dependencies executable, so all three executables hold the same code).

Reproduce: \`bash bench/run-delta.sh\` (ROUNDS=n to change the number of rounds; REPORT=path to write elsewhere).

## Bytes shipped for a code-only change

| what is uploaded | bytes | vs. source archive |
| --- | ---: | ---: |
| delta: source archive (tar, uncompressed) | ${last.sourceBytes} (${kb(last.sourceBytes)}) | 1× |
| whole executable, uncompressed | ${last.uncompressedBytes} (${mb(last.uncompressedBytes)}) | ${(last.uncompressedBytes / last.sourceBytes).toFixed(0)}× |
| whole executable, compressed (:compression t) | ${last.compressedBytes} (${mb(last.compressedBytes)}) | ${(last.compressedBytes / last.sourceBytes).toFixed(0)}× |

One-time cost of the delta path: the dependencies executable (SBCL runtime + dependencies.core,
uncompressed), ${depsBytes} bytes (${mb(depsBytes)}), shipped on the first release and again only when the
dependencies change. First delta release (dependencies executable + sources, build, activate): ${firstDeltaMs} ms.

## Release time: start of the update (prepare, then upload) → new version served

| release | min | median | max |
| --- | ---: | ---: | ---: |
| delta (upload sources, build on host, activate) (ms) | ${d.min} | ${d.median} | ${d.max} |
| whole executable, uncompressed (ms) | ${u.min} | ${u.median} | ${u.max} |
| whole executable, compressed (ms) | ${c.min} | ${c.median} | ${c.max} |

Raw (ms): delta ${JSON.stringify(rows.map((r) => r.deltaMs))}; uncompressed ${JSON.stringify(rows.map((r) => r.uncompressedMs))}; compressed ${JSON.stringify(rows.map((r) => r.compressedMs))}.

Notes: on loopback, bandwidth is nearly free, so the delta release is slower here: it spends its time
compiling the app and saving (and compressing) the core on the host. The byte ratio is what matters on a
real link (arithmetic from the sizes above, not measured): at 10 Mbit/s the uncompressed executable alone takes about ${((last.uncompressedBytes * 8) / 10e6).toFixed(0)} s to upload,
the compressed one about ${((last.compressedBytes * 8) / 10e6).toFixed(0)} s, the source archive well under a second.
`;
    fs.writeFileSync(REPORT, report);
    process.stdout.write(report);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
