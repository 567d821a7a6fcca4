/**
 * Every bench/ entry point runs once in its quick mode (ROUNDS=1), end to end, so a broken benchmark fails
 * CI instead of the next person who wants a number (issue 16, item 3). Each writes its report to a temp
 * file (REPORT=...), never over the committed bench/REPORT-*.md, and the test checks the report's table has
 * numbers where numbers belong. Nothing here asserts a time: CONTRIBUTING.md keeps speed in bench/ only.
 * The release, delta and engine benches run under the real Pulumi CLI (support/pulumi-cli.ts). Ports: the
 * benchmarks' 18600–18649 and sshd 2240–2249 (each script's own; CONTRIBUTING.md).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";

const ROOT = path.resolve(__dirname, "..", "..");
const NUM = String.raw`\d+(?:\.\d+)?`;

interface Bench {
    /** What runs it, from the repository root (bench/README commands). */
    command: string;
    /** Extra environment of the quick run, beside ROUNDS=1 and REPORT. */
    env?: Record<string, string>;
    /** Upper bound for the whole quick run; the process group is killed after it. */
    timeoutMinutes: number;
    /** Rows of the report's table that must hold numbers. */
    rows: RegExp[];
}

const BENCHES: Record<string, Bench> = {
    release: {
        command: "bash bench/run-release.sh",
        timeoutMinutes: 10,
        rows: [
            new RegExp(String.raw`\| release: upload done → new version served \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| \`pulumi up\` of one release, wall time \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| crash recovery: .* \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
        ],
    },
    zdt: {
        command: "bash bench/run-zdt.sh",
        timeoutMinutes: 12,
        rows: [
            new RegExp(String.raw`\| plain \(restart in place\) \| ${NUM} / ${NUM} \| ${NUM} / ${NUM} / ${NUM} \| ${NUM} / ${NUM} / ${NUM} \|`),
            new RegExp(String.raw`\| zero-downtime \(Caddy, blue/green\) \| ${NUM} / ${NUM} \| ${NUM} / ${NUM} / ${NUM} \| ${NUM} / ${NUM} / ${NUM} \|`),
        ],
    },
    delta: {
        command: "bash bench/run-delta.sh",
        timeoutMinutes: 15,
        rows: [
            new RegExp(String.raw`\| delta: source archive \(tar, uncompressed\) \| ${NUM} \(`),
            new RegExp(String.raw`\| delta \(upload sources, build on host, activate\) \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| whole executable, compressed \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| for scale: a no-change \`pulumi up\` of the delta stack, wall time \(ms\) \| ${NUM} \| ${NUM} \| ${NUM} \|`),
        ],
    },
    engine: {
        command: "bash bench/run-engine.sh",
        // The "big" app with 50 generated files instead of 1,000: one image build of minutes less, same path.
        env: { FILES: "50" },
        timeoutMinutes: 15,
        rows: [
            new RegExp(String.raw`\| examples/local \(examples/hello, 2 source files\) \| \`pulumi preview\` \| ${NUM} \| ${NUM}–${NUM} \|`),
            new RegExp(String.raw`\| examples/local on a 50-file app \| \`pulumi preview\` \| ${NUM} \| ${NUM}–${NUM} \|`),
        ],
    },
    image: {
        command: "npm run --silent build && node bench/image-bench.js",
        timeoutMinutes: 15,
        rows: [
            new RegExp(String.raw`\| full build \(\`--no-cache\`.* \| ${NUM} \| ${NUM}/${NUM} \|`),
            // Both runtime bases side by side (issue 13): size, and `docker run` to the first 200.
            new RegExp(String.raw`\| runtime image, slim \(the default.* \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| runtime image, debian-slim \(.* \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| slim, compressed \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| debian-slim, compressed \| ${NUM} \| ${NUM} \| ${NUM} \|`),
            new RegExp(String.raw`\| compressed \| ${NUM} \| ${NUM} \| ${NUM} \|`),
        ],
    },
};

/** Runs `command` in its own process group with the quick-mode environment; kills the group after the timeout. */
function runBench(command: string, env: Record<string, string>, report: string, timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-c", command], {
            cwd: ROOT,
            detached: true,
            env: { ...process.env, ...env, ROUNDS: "1", REPORT: report },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                /* already gone */
            }
        }, timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, output, timedOut });
        });
    });
}

describe("bench/ scripts run end to end in quick mode (ROUNDS=1, report to a temp file)", () => {
    beforeAll(() => {
        requireDocker();
        requireCommand("sbcl", "sbcl");
        requireCommand("scp", "openssh-client");
    });

    for (const [name, bench] of Object.entries(BENCHES)) {
        test(
            `${name}: \`${bench.command}\` exits 0 and writes a report whose table holds numbers`,
            async () => {
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-smoke-${name}-`));
                const report = path.join(dir, "REPORT.md");
                try {
                    const started = Date.now();
                    const r = await runBench(bench.command, bench.env ?? {}, report, bench.timeoutMinutes * 60_000);
                    const seconds = ((Date.now() - started) / 1000).toFixed(0);
                    if (r.timedOut) throw new Error(`${name} did not finish within ${bench.timeoutMinutes} min (killed); last output:\n${r.output}`);
                    if (r.code !== 0) throw new Error(`${name} exited ${r.code} after ${seconds} s; last output:\n${r.output}`);
                    expect(fs.existsSync(report)).toBe(true);
                    const text = fs.readFileSync(report, "utf8");
                    for (const row of bench.rows) expect(text).toMatch(row);
                    expect(text).not.toMatch(/\bNaN\b|\bundefined\b|Infinity/);
                    // Informational only (CI's budget), never asserted.
                    console.log(`bench-smoke ${name}: ${seconds} s`);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            },
            (bench.timeoutMinutes + 1) * 60_000,
        );
    }
});
