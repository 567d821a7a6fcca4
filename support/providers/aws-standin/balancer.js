#!/usr/bin/env node
// The AWS stand-in's Application Load Balancer (see README.md): one process per load balancer, started by
// the provider when the balancer is created and ended when it is deleted. It outlives the plugin process
// (the engine starts a new plugin for every CLI run), so it takes what AWS would know from the records the
// provider keeps in the account directory, re-read every half second:
//   load-balancers/<id>.json           { arn, port }                   port: where 127.0.0.1 serves its listener
//   listeners/<id>.json                { loadBalancerArn, port, protocol, targetGroupArn }
//   target-groups/<id>.json            { arn, port, healthCheck, deregistrationDelay }
//   target-group-attachments/<id>.json { targetGroupArn, targetId, port, address }
// and does what an ALB's HTTP listener and its target group do: active health checks of every registered
// target (path, matcher, interval, timeout, healthy/unhealthy thresholds), requests forwarded round-robin
// to the healthy targets only (to all of them when none is healthy: an ALB "fails open"), a deregistered
// target drained (no new requests) for the deregistration delay, and no retries: a request a target fails
// is answered 502, as an ALB does. What DescribeTargetHealth would say is written to
// load-balancers/<id>.health.json, where tests read which host is in rotation.
//
// Usage: balancer.js <account directory> <load balancer id>
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");

const [account, lbId] = process.argv.slice(2);
const TICK_MS = 500;

const log = (msg) => process.stdout.write(`${new Date().toISOString()} ${lbId}: ${msg}\n`);

function records(kind) {
    const dir = path.join(account, kind);
    let files = [];
    try {
        files = fs.readdirSync(dir);
    } catch {
        return [];
    }
    const out = [];
    for (const f of files) {
        if (!f.endsWith(".json") || f.endsWith(".health.json")) continue;
        try {
            out.push(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
        } catch {
            // Removed between readdir and read: gone. (Writers rename into place, so no half-written file.)
        }
    }
    return out;
}

function readLoadBalancer() {
    try {
        return JSON.parse(fs.readFileSync(path.join(account, "load-balancers", `${lbId}.json`), "utf8"));
    } catch (e) {
        return e.code === "ENOENT" ? undefined : null;
    }
}

/** An ALB matcher: "200", "200,202" or "200-299". */
function matches(matcher, status) {
    return String(matcher || "200")
        .split(",")
        .some((part) => {
            const [lo, hi] = part.trim().split("-").map(Number);
            return hi === undefined ? status === lo : status >= lo && status <= hi;
        });
}

/** Registered targets by "<instance id>:<port>": state is initial | healthy | unhealthy | draining, as AWS names them. */
const targets = new Map();
let targetGroup;
let server;
let listening = false;
let next = 0;

function probe(key, t, hc) {
    t.checking = true;
    let done = false;
    const finish = (ok, reason) => {
        if (done) return;
        done = true;
        t.checking = false;
        t.nextCheck = Date.now() + hc.interval * 1000;
        if (t.state === "draining" || targets.get(key) !== t) return;
        if (ok) {
            t.fails = 0;
            t.passes += 1;
            if (t.state !== "healthy" && t.passes >= hc.healthyThreshold) transition(key, t, "healthy", undefined);
        } else {
            t.passes = 0;
            t.fails += 1;
            t.lastReason = reason;
            if (t.state !== "unhealthy" && t.fails >= hc.unhealthyThreshold) transition(key, t, "unhealthy", reason);
        }
    };
    const req = http.get({ host: t.address, port: t.port, path: hc.path || "/", agent: false, headers: { "user-agent": "ELB-HealthChecker/2.0" } }, (res) => {
        res.resume();
        const ok = matches(hc.matcher, res.statusCode);
        finish(ok, ok ? undefined : "Target.ResponseCodeMismatch");
    });
    req.setTimeout(hc.timeout * 1000, () => {
        req.destroy();
        finish(false, "Target.Timeout");
    });
    req.on("error", () => finish(false, "Target.FailedHealthChecks"));
}

function transition(key, t, state, reason) {
    log(`target ${key} ${t.state} -> ${state}${reason ? ` (${reason})` : ""}`);
    t.state = state;
    t.reason = reason;
}

function tick() {
    const lb = readLoadBalancer();
    if (lb === undefined) {
        log("load balancer deleted; exiting");
        process.exit(0);
    }
    if (lb === null) return;
    const listener = records("listeners").find((l) => l.loadBalancerArn === lb.arn);
    targetGroup = listener ? records("target-groups").find((g) => g.arn === listener.targetGroupArn) : undefined;
    if (listener && !listening) {
        listening = true;
        server.listen(lb.port, "127.0.0.1", () => log(`listener on port ${listener.port} served at 127.0.0.1:${lb.port}`));
    } else if (!listener && listening) {
        listening = false;
        server.close();
        log("listener deleted; not serving");
    }

    const wanted = new Map();
    if (targetGroup) {
        for (const a of records("target-group-attachments")) {
            if (a.targetGroupArn === targetGroup.arn) wanted.set(`${a.targetId}:${a.port}`, a);
        }
    }
    const now = Date.now();
    for (const [key, a] of wanted) {
        const t = targets.get(key);
        if (!t || t.state === "draining") {
            targets.set(key, { address: a.address, port: a.port, state: "initial", reason: "Elb.RegistrationInProgress", passes: 0, fails: 0, nextCheck: now, checking: false });
            log(`target ${key} registered (${a.address}:${a.port})`);
        }
    }
    for (const [key, t] of targets) {
        if (!wanted.has(key) && t.state !== "draining") {
            transition(key, t, "draining", "Target.DeregistrationInProgress");
            t.drainUntil = now + (targetGroup ? targetGroup.deregistrationDelay : 0) * 1000;
        }
        if (t.state === "draining" && now >= t.drainUntil) {
            targets.delete(key);
            log(`target ${key} deregistered`);
        }
    }
    const hc = targetGroup && targetGroup.healthCheck;
    if (hc && hc.enabled !== false) {
        for (const [key, t] of targets) if (t.state !== "draining" && !t.checking && now >= t.nextCheck) probe(key, t, hc);
    }
    writeHealth();
}

let lastHealth = "";
function writeHealth() {
    const body = JSON.stringify(
        {
            targetGroupArn: targetGroup ? targetGroup.arn : null,
            targets: [...targets].map(([key, t]) => ({ target: key, address: t.address, port: t.port, state: t.state, reason: t.reason ?? null })),
        },
        null,
        2,
    );
    if (body === lastHealth) return;
    lastHealth = body;
    const file = path.join(account, "load-balancers", `${lbId}.health.json`);
    fs.writeFileSync(`${file}.tmp`, `${body}\n`);
    fs.renameSync(`${file}.tmp`, file);
}

/** The healthy targets, round-robin; all registered ones when none is healthy (fail open); none when none is registered. */
function pick() {
    const live = [...targets.values()].filter((t) => t.state !== "draining");
    const healthy = live.filter((t) => t.state === "healthy");
    const pool = healthy.length > 0 ? healthy : live;
    if (pool.length === 0) return undefined;
    return pool[next++ % pool.length];
}

server = http.createServer((req, res) => {
    const t = pick();
    if (!t) {
        res.writeHead(503, { "content-type": "text/plain", server: "awselb/2.0" });
        res.end("503 Service Temporarily Unavailable\n");
        return;
    }
    const forwardedFor = [req.headers["x-forwarded-for"], req.socket.remoteAddress].filter(Boolean).join(", ");
    const upstream = http.request(
        {
            host: t.address,
            port: t.port,
            method: req.method,
            path: req.url,
            agent: false,
            headers: { ...req.headers, "x-forwarded-for": forwardedFor, "x-forwarded-proto": "http", "x-forwarded-port": "80" },
        },
        (up) => {
            res.writeHead(up.statusCode || 502, up.headers);
            up.pipe(res);
        },
    );
    // An ALB's idle timeout (60 s) and no retry on another target: a failed target answers 502.
    upstream.setTimeout(60 * 1000, () => upstream.destroy(new Error("idle timeout")));
    upstream.on("error", () => {
        if (res.headersSent) {
            res.destroy();
            return;
        }
        res.writeHead(502, { "content-type": "text/plain", server: "awselb/2.0" });
        res.end("502 Bad Gateway\n");
    });
    req.pipe(upstream);
});
server.on("error", (e) => {
    log(`cannot serve: ${e.message}`);
    process.exit(1);
});

process.on("SIGTERM", () => process.exit(0));
log(`started (pid ${process.pid})`);
tick();
setInterval(tick, TICK_MS);
