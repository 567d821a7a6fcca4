#!/usr/bin/env node
// Image benchmark: the slim runtime image (the default: scratch plus the executable's libraries) and the
// debian-slim one side by side, each with a compressed and an uncompressed core; what each part of the slim
// image weighs; the single-stage layout that keeps SBCL, dependency sources and app sources (the Heroku
// example's final layout: our `build` stage) as the reference; full build vs source-only rebuild; time from
// `docker run` to the first 200, and from process start to listening without Docker.
// Everything is measured side by side in this one run and written to bench/REPORT-image.md.
//
//   npm run build && node bench/image-bench.js
//
// ROUNDS=n: starts timed per image and per executable (default 7; ROUNDS=1 is the quick smoke mode, which
// still runs every build once). REPORT=path writes the report elsewhere (the smoke test does).
//
// Uses the same planner and context writer as LispImage (compiled in bin/). Ports 18610-18619.
"use strict";
const { spawn, spawnSync, execFileSync } = require("child_process");
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
const load = () => execFileSync("uptime", { encoding: "utf8" }).trim();

function plan(compression, runtimeBase) {
    const p = planImage({ appDir, dependencySource: { kind: "debian" }, compression, runtimeBase });
    const dir = `.lisp-deploy/images/bench-${runtimeBase}-${compression ? "z" : "plain"}`;
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
const mb = (bytes) => (bytes / 1e6).toFixed(1);

/** Every regular file of an image's file system with its size, read from outside (the slim image has no shell). */
function filesOf(tag) {
    const name = `lisp-deploy-bench-export-${process.pid}`;
    spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
    execFileSync("docker", ["create", "--name", name, tag], { stdio: "ignore" });
    try {
        const listing = execFileSync("sh", ["-c", `docker export ${name} | tar -tv`], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        return listing.split("\n").filter((l) => l.startsWith("-")).map((l) => {
            const f = l.trim().split(/\s+/);
            return { size: Number(f[2]), path: f.slice(5).join(" ") };
        });
    } finally {
        spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
    }
}

/** Copies /app/hello out of an image to `file`. */
function extractExecutable(tag, file) {
    const name = `lisp-deploy-bench-cp-${process.pid}`;
    spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
    execFileSync("docker", ["create", "--name", name, tag], { stdio: "ignore" });
    try {
        execFileSync("docker", ["cp", `${name}:/app/hello`, file]);
    } finally {
        spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
    }
    return fs.statSync(file).size;
}

function get(port) {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on("error", () => resolve(0));
        req.on("timeout", () => { req.destroy(); resolve(0); });
    });
}

function stats(times) {
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

async function dockerRunToFirst200(tag, port, runs) {
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
    return stats(times);
}

/** Process start to the first 200, the executable run directly on this machine (no container). */
async function processStartToFirst200(executable, port, runs) {
    const times = [];
    for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        const child = spawn(executable, [], { env: { PATH: "/usr/bin:/bin", HOME: work, PORT: String(port), BIND_ADDRESS: "127.0.0.1" }, stdio: "ignore" });
        let exited = false;
        child.on("exit", () => (exited = true));
        while ((await get(port)) !== 200) {
            if (exited) throw new Error(`${executable} exited before answering on ${port}`);
            await new Promise((r) => setTimeout(r, 5));
        }
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        child.kill("SIGTERM");
        await new Promise((r) => (exited ? r() : child.on("exit", r)));
    }
    return stats(times);
}

/** The slim image's files grouped into the parts the report names. */
function slimParts(files) {
    const parts = { executable: 0, libraries: 0, certificates: 0, rest: 0 };
    const libraries = [];
    for (const f of files) {
        if (f.path === "app/hello") parts.executable += f.size;
        else if (/^(usr\/)?lib(64)?\//.test(f.path)) {
            parts.libraries += f.size;
            libraries.push(`${path.basename(f.path)} ${mb(f.size)}`);
        } else if (f.path.startsWith("etc/ssl/")) parts.certificates += f.size;
        else parts.rest += f.size;
    }
    return { ...parts, libraries: parts.libraries, libraryList: libraries.sort(), count: files.length };
}

const row = (label, s) => `| ${label} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} |`;

(async () => {
    try {
        const loadBefore = load();
        const slimZ = plan(true, "slim");
        console.log("bench: full build (--no-cache), slim runtime, compressed executable");
        const full = build(slimZ.dir, `${REPO}:full`, ["--no-cache", "--target", "runtime"]);
        const appFile = path.join(appDir, "src/app.lisp");
        fs.writeFileSync(appFile, fs.readFileSync(appFile, "utf8").replace("Hello from", "Hello (edited) from"));
        const edited = plan(true, "slim");
        console.log("bench: source-only rebuild");
        const incremental = build(edited.dir, `${REPO}:slim-z`, ["--target", "runtime"]);
        console.log("bench: single-stage layout (the build stage: SBCL + dependency sources + app sources + executable)");
        build(edited.dir, `${REPO}:single-stage`, ["--target", "build"]);
        console.log("bench: slim uncompressed, debian-slim compressed and uncompressed");
        build(plan(false, "slim").dir, `${REPO}:slim-plain`, ["--target", "runtime"]);
        build(plan(true, "debian-slim").dir, `${REPO}:debian-z`, ["--target", "runtime"]);
        build(plan(false, "debian-slim").dir, `${REPO}:debian-plain`, ["--target", "runtime"]);

        const sizes = {};
        for (const t of ["slim-z", "slim-plain", "debian-z", "debian-plain", "single-stage"]) sizes[t] = imageSize(`${REPO}:${t}`);
        const baseSize = imageSize("debian:bookworm-slim");
        const parts = slimParts(filesOf(`${REPO}:slim-z`));
        const exeZ = extractExecutable(`${REPO}:slim-z`, path.join(work, "hello-z"));
        const exePlain = extractExecutable(`${REPO}:slim-plain`, path.join(work, "hello-plain"));

        const runs = ROUNDS;
        const docker = {};
        let port = 18610;
        for (const t of ["slim-z", "slim-plain", "debian-z", "debian-plain"]) docker[t] = await dockerRunToFirst200(`${REPO}:${t}`, port++, runs);
        const bareZ = await processStartToFirst200(path.join(work, "hello-z"), port++, runs);
        const barePlain = await processStartToFirst200(path.join(work, "hello-plain"), port++, runs);
        const loadAfter = load();
        const cpu = os.cpus().length;
        const single = sizes["single-stage"];

        const report = `# Image benchmark (LispImage, examples/hello, Debian cl-* dependencies)

Reproduce: \`npm run build && node bench/image-bench.js\` (writes this file; ROUNDS=n starts per image and
executable, REPORT=path to write elsewhere). Machine: ${cpu} cores shared with other work, Docker
${execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim()} classic builder, SBCL from Debian bookworm. All numbers below come from one run, side by side.

Load while it ran (\`uptime\`; the machine is shared, so times are noisy and only comparable within this run):
- before: \`${loadBefore}\`
- after: \`${loadAfter}\`

## Image size

| image | MB | of the single-stage layout |
| --- | ---: | ---: |
| runtime image, slim (the default: scratch + executable + its libraries; compressed core) | ${mb(sizes["slim-z"])} | ${(sizes["slim-z"] / single).toFixed(2)} |
| runtime image, slim, uncompressed core | ${mb(sizes["slim-plain"])} | ${(sizes["slim-plain"] / single).toFixed(2)} |
| runtime image, debian-slim (\`runtimeBase: "debian-slim"\`: shell and apt; compressed core) | ${mb(sizes["debian-z"])} | ${(sizes["debian-z"] / single).toFixed(2)} |
| runtime image, debian-slim, uncompressed core | ${mb(sizes["debian-plain"])} | ${(sizes["debian-plain"] / single).toFixed(2)} |
| single-stage image keeping SBCL, dependency sources and app sources (Heroku example layout = our \`build\` stage) | ${mb(single)} | 1.00 |
| for reference: the base \`debian:bookworm-slim\` | ${mb(baseSize)} | |

Goal (issue 13): the default slim image at most 40 MB: ${mb(sizes["slim-z"])} MB, ${sizes["slim-z"] <= 40e6 ? "met" : "NOT met"}.

### What the slim image (compressed core) is made of

| part | MB |
| --- | ---: |
| the executable \`/app/hello\` | ${mb(parts.executable)} |
| shared libraries (the ldd closure of the executable and of what it opens at start) | ${mb(parts.libraries)} |
| CA certificates | ${mb(parts.certificates)} |
| the rest (\`/etc/passwd\`, \`/etc/group\`, \`ld.so.cache\` and its configuration, \`nsswitch.conf\`) | ${mb(parts.rest)} |
| **total (${parts.count} files)** | **${mb(parts.executable + parts.libraries + parts.certificates + parts.rest)}** |

Libraries, MB: ${parts.libraryList.join(", ")}.

## Executable size

| executable | MB |
| --- | ---: |
| \`:compression t\` | ${mb(exeZ)} |
| uncompressed | ${mb(exePlain)} |
| **ratio uncompressed / compressed** | **${(exePlain / exeZ).toFixed(1)}x** |

## Build time (slim runtime, compressed)

| build | seconds | steps from cache |
| --- | ---: | ---: |
| full build (\`--no-cache\`: apt packages, dependencies core, executable, runtime file system) | ${full.seconds.toFixed(1)} | ${full.cached}/${full.steps} |
| rebuild after editing one app source file | ${incremental.seconds.toFixed(1)} | ${incremental.cached}/${incremental.steps} |
| **ratio full / source-only** | **${(full.seconds / incremental.seconds).toFixed(1)}x** | |

## Time from \`docker run -d\` to the first HTTP 200 on \`/\` (${runs} runs each, host network)

| image | median ms | min ms | max ms |
| --- | ---: | ---: | ---: |
${row("slim, compressed", docker["slim-z"])}
${row("slim, uncompressed", docker["slim-plain"])}
${row("debian-slim, compressed", docker["debian-z"])}
${row("debian-slim, uncompressed", docker["debian-plain"])}

The time includes Docker creating and starting the container.

## Process start to the first HTTP 200 on \`/\`, without Docker (${runs} runs each)

The executable copied out of the slim image and started directly on this machine (same Debian bookworm
libraries), so only SBCL's own start is measured: mapping (and, compressed, decompressing) the core and
binding the port.

| executable | median ms | min ms | max ms |
| --- | ---: | ---: | ---: |
${row("compressed", bareZ)}
${row("uncompressed", barePlain)}
`;
        fs.writeFileSync(REPORT, report);
        console.log(report);
    } finally {
        spawnSync("docker", ["rmi", "-f", ...created], { stdio: "ignore" });
        fs.rmSync(work, { recursive: true, force: true });
    }
})().catch((e) => { console.error(e); process.exit(1); });
