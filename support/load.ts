import * as http from "http";

/** What a bounded request loop saw. */
export interface LoadResult {
    /** Requests sent. */
    total: number;
    /** Requests that failed: a connection error, a timeout or a status other than 200; with the reason. */
    failures: string[];
    /** The body of the last successful response. */
    lastBody: string;
    /** Distinct bodies in the order first seen (old text, then new text). */
    bodies: string[];
}

function get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        // A fresh connection per request (no keep-alive): every request goes through the proxy's accept path.
        const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", reject);
    });
}

/**
 * A bounded request loop on loopback: `concurrency` workers send GET `url` one after another until
 * `stop()` was called and `tailMs` more passed, `maxRequests` were sent, or `hardLimitMs` elapsed.
 */
export function startLoad(url: string, opts: { maxRequests?: number; concurrency?: number; tailMs?: number; hardLimitMs?: number } = {}) {
    const maxRequests = opts.maxRequests ?? 2000;
    const tailMs = opts.tailMs ?? 2000;
    const started = Date.now();
    const hardLimitMs = opts.hardLimitMs ?? 180_000;
    let stopAt = Infinity;
    const result: LoadResult = { total: 0, failures: [], lastBody: "", bodies: [] };
    const worker = async () => {
        while (result.total < maxRequests && Date.now() < stopAt && Date.now() - started < hardLimitMs) {
            result.total++;
            try {
                const r = await get(url, 5000);
                if (r.status !== 200) {
                    result.failures.push(`status ${r.status}: ${r.body.slice(0, 200)}`);
                } else {
                    result.lastBody = r.body;
                    if (!result.bodies.includes(r.body)) result.bodies.push(r.body);
                }
            } catch (e) {
                result.failures.push((e as Error).message);
            }
            // Spread maxRequests over the release instead of spending them in the first seconds.
            await new Promise((r) => setTimeout(r, 25));
        }
    };
    const done = Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker)).then(() => result);
    return {
        /** Ends the loop `tailMs` from now and resolves with what it saw. */
        stop(): Promise<LoadResult> {
            stopAt = Date.now() + tailMs;
            return done;
        },
    };
}
