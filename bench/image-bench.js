#!/usr/bin/env node
// Image benchmark: full build vs source-only rebuild, runtime image size vs a single-stage image that keeps
// SBCL + dependency sources + app sources (the Heroku example's final layout: our `build` stage), executable
// size with and without core compression, and time from `docker run` to the first 200.
// Everything is measured side by side in this one run and written to bench/REPORT-image.md.
//
//   npm run build && node bench/image-bench.js
//
// ROUNDS=n: container starts timed per executable (default 7; ROUNDS=1 is the quick smoke mode, which still
// runs every build once). REPORT=path writes the report elsewhere (the smoke test does).
//
// Uses the same planner and context writer as LispImage (compiled in bin/). Ports 18610-18619.
"use strict";
const { spawnSync, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const http = require("http");
const { planImage } = require("../bin/image/plan");
const { writeContext } = require("../bin/image/context");

const root = path.resolve(__dirname, "..");
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 7));
const REPORT = path.resolve(process.env.REPORT ?? path.join(root, "bench/REPORT-image.md"));
process.chdir(root);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "image-bench-"));
const appDir = path.join(work, "hello");
fs.cpSync("examples/hello", appDir, { recursive: true });
const REPO = "lisp-deploy-bench/hello";
const created = [];

function plan(compression) {
    const p = planImage({ appDir, dependencySource: { kind: "debian" }, compression });
    const dir = `.lisp-deploy/images/bench-${compression ? "z" : "plain"}`;
    writeContext(dir, p.files);
    return { plan: p, dir };
}

function build(dir, tag, extra = []) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync("docker", ["build", "--network", "host", ...extra, "-f", `${dir}/Dockerfile`, "-t", tag, dir], {
        encoding: "utf8", maxBuffer: 512 * 1024 * 1024, env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`docker build failed:\n${(r.stdout + r.stderr).slice(-4000)}`);
    created.push(tag);
    const cached = (r.stdout.match(/^ ---> Using cache$/gm) || []).length;
    const steps = (r.stdout.match(/^Step \d+\/\d+ : /gm) || []).length;
    return { seconds, cached, steps };
}

const imageSize = (tag) => Number(execFileSync("docker", ["image", "inspect", "--format", "{{.Size}}", tag], { encoding: "utf8" }).trim());
const fileSize = (tag, file) => Number(execFileSync("docker", ["run", "--rm", "--network", "host", "--entrypoint", "stat", tag, "-c", "%s", file], { encoding: "utf8" }).trim());
const mb = (bytes) => (bytes / 1e6).toFixed(1);

function get(port) {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on("error", () => resolve(0));
        req.on("timeout", () => { req.destroy(); resolve(0); });
    });
}

async function startToFirst200(tag, port, runs) {
    const times = [];
    for (let i = 0; i < runs; i++) {
        const name = `lisp-deploy-bench-start-${port}`;
        spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
        const t0 = process.hrtime.bigint();
        execFileSync("docker", ["run", "-d", "--name", name, "--network", "host", "-e", `PORT=${port}`, tag], { stdio: "ignore" });
        while ((await get(port)) !== 200) await new Promise((r) => setTimeout(r, 5));
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

(async () => {
    try {
        const z = plan(true);
        console.log("bench: full build (--no-cache), compressed executable");
        const full = build(z.dir, `${REPO}:full`, ["--no-cache", "--target", "runtime"]);
        const appFile = path.join(appDir, "src/app.lisp");
        fs.writeFileSync(appFile, fs.readFileSync(appFile, "utf8").replace("Hello from", "Hello (edited) from"));
        const z2 = plan(true);
        console.log("bench: source-only rebuild");
        const incremental = build(z2.dir, `${REPO}:edited`, ["--target", "runtime"]);
        console.log("bench: single-stage layout (the build stage: SBCL + dependency sources + app sources + executable)");
        build(z2.dir, `${REPO}:single-stage`, ["--target", "build"]);
        console.log("bench: uncompressed executable");
        const plain = plan(false);
        build(plain.dir, `${REPO}:uncompressed`, ["--target", "runtime"]);

        const runtimeSize = imageSize(`${REPO}:edited`);
        const singleSize = imageSize(`${REPO}:single-stage`);
        const baseSize = imageSize("debian:bookworm-slim");
        const exeZ = fileSize(`${REPO}:edited`, "/app/hello");
        const exePlain = fileSize(`${REPO}:uncompressed`, "/app/hello");
        const runs = ROUNDS;
        const startZ = await startToFirst200(`${REPO}:edited`, 18610, runs);
        const startPlain = await startToFirst200(`${REPO}:uncompressed`, 18611, runs);
        const cpu = os.cpus().length;

        const report = `# Image benchmark (LispImage, examples/hello, Debian cl-* dependencies)

Reproduce: \`npm run build && node bench/image-bench.js\` (writes this file; ROUNDS=n starts per executable, REPORT=path to write elsewhere). Machine: ${cpu} cores shared with
other work, Docker ${execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim()} classic builder, SBCL from Debian bookworm. All numbers below come from one run, side by side.

## Build time

| build | seconds | steps from cache |
| --- | ---: | ---: |
| full build (\`--no-cache\`: apt packages, dependencies core, executable) | ${full.seconds.toFixed(1)} | ${full.cached}/${full.steps} |
| rebuild after editing one app source file | ${incremental.seconds.toFixed(1)} | ${incremental.cached}/${incremental.steps} |
| **ratio full / source-only** | **${(full.seconds / incremental.seconds).toFixed(1)}x** | |

## Image size

| image | MB |
| --- | ---: |
| runtime image (executable, libssl3, CA certificates; compressed core) | ${mb(runtimeSize)} |
| single-stage image keeping SBCL, dependency sources and app sources (Heroku example layout = our \`build\` stage) | ${mb(singleSize)} |
| **ratio single-stage / runtime** | **${(singleSize / runtimeSize).toFixed(1)}x** |
| for reference: the base \`debian:bookworm-slim\` | ${mb(baseSize)} |

## Executable size

| executable | MB |
| --- | ---: |
| \`:compression t\` | ${mb(exeZ)} |
| uncompressed | ${mb(exePlain)} |
| **ratio uncompressed / compressed** | **${(exePlain / exeZ).toFixed(1)}x** |

## Time from \`docker run -d\` to the first HTTP 200 on \`/\` (${runs} runs each, host network)

| executable | median ms | min ms | max ms |
| --- | ---: | ---: | ---: |
| compressed | ${startZ.median.toFixed(0)} | ${startZ.min.toFixed(0)} | ${startZ.max.toFixed(0)} |
| uncompressed | ${startPlain.median.toFixed(0)} | ${startPlain.min.toFixed(0)} | ${startPlain.max.toFixed(0)} |

The start time includes Docker creating and starting the container; the difference between the two rows is
the cost of decompressing the core.
`;
        fs.writeFileSync(REPORT, report);
        console.log(report);
    } finally {
        spawnSync("docker", ["rmi", "-f", ...created], { stdio: "ignore" });
        fs.rmSync(work, { recursive: true, force: true });
    }
})().catch((e) => { console.error(e); process.exit(1); });
