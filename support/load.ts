import * as http from "http";

/** What a bounded request loop saw. */
export interface LoadResult {
    /** Requests sent (a retried request counts once). */
    total: number;
    /** Requests that failed: a connection error, a timeout or a status other than 200; with the reason. */
    failures: string[];
    /**
     * Keep-alive only: requests sent again on a new connection because the server had closed the kept-alive
     * one before answering (what HTTP clients do for idempotent requests, RFC 9112 §9.3.1; see get()).
     */
    retried: number;
    /** The body of the last successful response. */
    lastBody: string;
    /** Distinct bodies in the order first seen (old text, then new text). */
    bodies: string[];
}

/** How a loop connects: a new connection per request, or kept-alive connections reused between requests. */
export type Connections = "new" | "keep-alive";

/** A request failed on a kept-alive connection the server closed before any byte of the answer arrived. */
class ClosedIdleConnection extends Error {}

function get(url: string, timeoutMs: number, agent: http.Agent | false): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        let answered = false;
        const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
            answered = true;
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (e: NodeJS.ErrnoException) => {
            // A server may close a kept-alive connection while it is idle (a proxy reloading does); a request
            // written at that moment meets the close. Node's documented answer is to send it again when the
            // socket was reused and nothing came back; a fresh connection failing is a real failure.
            const closedIdle = req.reusedSocket && !answered && (e.code === "ECONNRESET" || e.code === "EPIPE" || e.message === "socket hang up");
            reject(closedIdle ? new ClosedIdleConnection(e.message) : e);
        });
    });
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
    /** Stop after this many requests; default 2000. */
    maxRequests?: number;
    /** Workers sending requests one after another; default 2. */
    concurrency?: number;
    /** How long the loop goes on after stop(); default 2000 ms. */
    tailMs?: number;
    /** The loop ends after this long whatever happens; default 180000 ms. */
    hardLimitMs?: number;
    /** Pause between two requests of a worker; default 25 ms. */
    pauseMs?: number;
    /** A new connection per request (default; every request goes through the proxy's accept path) or keep-alive. */
    connections?: Connections;
    /** Longest wait for one answer; default 5000 ms. */
    timeoutMs?: number;
}

/**
 * A bounded request loop on loopback: `concurrency` workers send GET `url` one after another until
 * `stop()` was called and `tailMs` more passed, `maxRequests` were sent, or `hardLimitMs` elapsed.
 */
export function startLoad(url: string, opts: LoadOptions = {}) {
    const maxRequests = opts.maxRequests ?? 2000;
    const tailMs = opts.tailMs ?? 2000;
    const started = Date.now();
    const hardLimitMs = opts.hardLimitMs ?? 180_000;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const agent = opts.connections === "keep-alive" ? new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 2 }) : false;
    let stopAt = Infinity;
    const result: LoadResult = { total: 0, failures: [], retried: 0, lastBody: "", bodies: [] };
    const once = async () => {
        try {
            return await get(url, timeoutMs, agent);
        } catch (e) {
            if (!(e instanceof ClosedIdleConnection)) throw e;
            result.retried++;
            return await get(url, timeoutMs, agent);
        }
    };
    const worker = async () => {
        while (result.total < maxRequests && Date.now() < stopAt && Date.now() - started < hardLimitMs) {
            result.total++;
            try {
                const r = await once();
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
            await new Promise((r) => setTimeout(r, opts.pauseMs ?? 25));
        }
    };
    const done = Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker)).then(() => {
        if (agent) agent.destroy();
        return result;
    });
    return {
        /** Ends the loop `tailMs` from now and resolves with what it saw. */
        stop(): Promise<LoadResult> {
            stopAt = Date.now() + tailMs;
            return done;
        },
    };
}
