import { startCpuHog } from "./cpu-hog";
import { LoadResult, startLoad } from "./load";
import { PulumiWorkspace } from "./pulumi-cli";
import { ProgramRelease, releasesConfig } from "./zdt-program";

/** What one stress run saw: per client kind, requests sent and failed, and each release's outcome. */
export interface StressResult {
    releases: { round: number; executable: string; ms: number; code: number }[];
    /** New connection per request, on the front page. */
    fresh: LoadResult;
    /** Kept-alive connections, on the front page. */
    keepAlive: LoadResult;
    /** Requests to /slow (about 1 s each), always two in flight, so some are in flight at every switch. */
    slow: LoadResult;
    /** Busy loops run during the releases (one per core). */
    hogs: number;
    /** Wall time of the whole run. */
    ms: number;
}

/**
 * `rounds` zero-downtime releases in a row under the REAL Pulumi CLI (`release(round)` gives round i's
 * program config; stack config `releases`), while a CPU hog keeps every core busy and three request loops
 * run against `url`: new connections, kept-alive connections, and slow requests. Bounded: each loop stops
 * after maxRequests or the hard limit. Shared by test/integration/zdt-stress.test.ts and bench/zdt.ts.
 */
export async function runZdtStress(opts: { ws: PulumiWorkspace; stack: string; url: string; rounds: number; release: (round: number) => ProgramRelease[]; hardLimitMs?: number }): Promise<StressResult> {
    const hardLimitMs = opts.hardLimitMs ?? 15 * 60 * 1000;
    const started = Date.now();
    const fresh = startLoad(opts.url, { maxRequests: 40_000, concurrency: 2, pauseMs: 25, tailMs: 1000, hardLimitMs });
    const keepAlive = startLoad(opts.url, { maxRequests: 40_000, concurrency: 2, pauseMs: 25, tailMs: 1000, hardLimitMs, connections: "keep-alive" });
    const slow = startLoad(`${opts.url}slow`, { maxRequests: 5_000, concurrency: 2, pauseMs: 0, tailMs: 1000, hardLimitMs, timeoutMs: 15_000 });
    const hog = startCpuHog({ maxSeconds: Math.ceil(hardLimitMs / 1000) });
    const releases: StressResult["releases"] = [];
    try {
        for (let round = 0; round < opts.rounds; round++) {
            const config = opts.release(round);
            const t = Date.now();
            await opts.ws.ok(["config", "set", "--stack", opts.stack, "releases", releasesConfig(config)]);
            const r = await opts.ws.up(opts.stack);
            releases.push({ round, executable: config.map((c) => c.executable).join(","), ms: Date.now() - t, code: r.code });
            if (r.code !== 0) throw new Error(`release ${round} failed:\n${r.out.slice(-6000)}`);
        }
    } finally {
        hog.stop();
    }
    const [f, k, s] = await Promise.all([fresh.stop(), keepAlive.stop(), slow.stop()]);
    return { releases, fresh: f, keepAlive: k, slow: s, hogs: hog.cores, ms: Date.now() - started };
}

/** One line per client kind: sent, failed, retried, and the first distinct failures. */
export function describeStress(r: StressResult): string {
    const line = (kind: string, x: LoadResult) => `${kind}: ${x.failures.length} failed of ${x.total} sent${x.retried ? ` (${x.retried} re-sent on a new connection after the server closed an idle kept-alive one)` : ""}${x.failures.length ? `; e.g. ${[...new Set(x.failures)].slice(0, 3).join(" | ")}` : ""}`;
    return [line("new connection per request", r.fresh), line("kept-alive connections", r.keepAlive), line("slow requests (/slow, ~1 s)", r.slow)].join("\n");
}
