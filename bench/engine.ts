/**
 * Engine benchmark (issue 11, item 6): what a user waits for on every pull request. Wall time of
 * `pulumi preview` and `pulumi up` of examples/local with NOTHING changed (program evaluation + engine
 * overhead; the first up that built the image is not counted), and the same for an app of 1,000 source
 * files (a generated copy of examples/hello whose .asd lists 1,000 one-defun files), under the REAL Pulumi
 * CLI (support/pulumi-cli.ts) with this repository's stand-in docker and command plugins.
 *
 * Then where the time of one preview goes: a `-v=9` preview's own log timeline, the stand-in plugins'
 * start, node's require of the SDK and the package, and LispImage's context hashing timed alone.
 *
 * Run with `bash bench/run-engine.sh` (ROUNDS=n, default 5; ROUNDS=1 is the quick smoke mode); writes
 * bench/REPORT-engine.md (REPORT=path to write elsewhere). Ports 18640–18641, loopback only.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { linkNodeModules, PulumiWorkspace, pulumiEnvironment, REPO_ROOT, requirePulumiCli, scratchDir } from "../support/pulumi-cli";
import { hashContext } from "../support/providers/docker-standin/provider";
import { collectTree, contextHash, writeContext } from "../src/image/context";
import { planImage } from "../src/image/plan";
import { requireDocker } from "../support/engines";

const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 5));
const GENERATED_FILES = Number(process.env.FILES ?? 1000);
const REPORT = process.env.REPORT ?? path.join(REPO_ROOT, "bench", "REPORT-engine.md");
const STACK = "bench";
const BIG_SYSTEM = "engbench1k";
const id = crypto.randomBytes(3).toString("hex");

interface App {
    key: "local" | "big";
    label: string;
    port: number;
}
const APPS: App[] = [
    { key: "local", label: "examples/local (examples/hello, 2 source files)", port: 18640 },
    { key: "big", label: `examples/local on a ${GENERATED_FILES}-file app`, port: 18641 },
];
const containerName = (app: App) => `engine-bench-${app.key}-${id}`;

// ---------------------------------------------------------------- helpers

function stats(xs: number[]): { min: number; median: number; max: number } {
    const s = [...xs].sort((a, b) => a - b);
    const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return { min: s[0], median, max: s[s.length - 1] };
}
const sec = (ms: number) => (ms / 1000).toFixed(2);
const log = (s: string) => process.stderr.write(`[engine-bench] ${s}\n`);

function get(port: number): Promise<number> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: "/healthz", timeout: 3000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(0));
    });
}

async function mustServe(port: number, what: string): Promise<void> {
    for (let i = 0; i < 60; i++) {
        if ((await get(port)) === 200) return;
        await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${what}: nothing answers 200 on 127.0.0.1:${port}/healthz`);
}

/** Wall time of one CLI run; fails the bench when the CLI fails (e.g. --expect-no-changes saw a change). */
async function timedCli(ws: PulumiWorkspace, args: string[]): Promise<{ ms: number; out: string; start: number; end: number }> {
    const start = Date.now();
    const r = await ws.run(args, 10 * 60 * 1000);
    const end = Date.now();
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.out.slice(-6000)}`);
    return { ms: end - start, out: r.out, start, end };
}

/** Wall time of a command run to completion (ms). */
function timedSpawn(file: string, args: string[], cwd = REPO_ROOT, env: NodeJS.ProcessEnv = process.env): number {
    const start = Date.now();
    const r = spawnSync(file, args, { cwd, env, stdio: "pipe", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${r.stderr}`);
    return Date.now() - start;
}

/** A stand-in plugin's start: spawn → the port on stdout (what the engine waits for), then it is killed. */
function pluginStart(folder: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const child = spawn("node", [path.join(REPO_ROOT, "support", "providers", "launch.js"), folder, "127.0.0.1:1"], {
            env: pulumiEnvironment(),
            stdio: ["ignore", "pipe", "pipe"],
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.stdout.once("data", () => {
            const ms = Date.now() - start;
            clearTimeout(timer);
            child.kill("SIGKILL");
            resolve(ms);
        });
        child.on("exit", (code) => reject(new Error(`${folder} exited ${code} before printing its port`)));
    });
}

/** A no-change `pulumi preview -v=9 --logtostderr --logflow` in a workspace's project, its log (stderr) kept apart. */
function verbosePreview(projectDir: string, wsScratch: string): Promise<{ log: string; start: number; end: number }> {
    return new Promise((resolve, reject) => {
        const env = {
            ...pulumiEnvironment(),
            PULUMI_BACKEND_URL: `file://${path.join(wsScratch, "state")}`,
            PULUMI_HOME: path.join(wsScratch, "pulumi-home"),
            NO_COLOR: "1",
        };
        const args = ["preview", "--expect-no-changes", "--stack", STACK, "--non-interactive", "-v=9", "--logtostderr", "--logflow"];
        const start = Date.now();
        const child = spawn("pulumi", args, { cwd: projectDir, env, stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        child.stderr.on("data", (d) => (log += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60 * 1000);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            const end = Date.now();
            if (code !== 0) reject(new Error(`verbose preview exited ${code}: ${log.slice(-3000)}`));
            else resolve({ log, start, end });
        });
    });
}

function timedMs<T>(f: () => T): number {
    const start = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - start) / 1e6;
}

// ---------------------------------------------------------------- the programs

/** examples/local and an app beside it at examples/hello (the program's `../hello`), in `dir`. */
function makeProject(dir: string, app: App): string {
    const examples = path.join(dir, "examples");
    fs.cpSync(path.join(REPO_ROOT, "examples", "local"), path.join(examples, "local"), { recursive: true });
    const appDir = path.join(examples, "hello");
    fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), appDir, { recursive: true });
    if (app.key === "big") generateBigApp(appDir);
    linkNodeModules(path.join(examples, "local"));
    return path.join(examples, "local");
}

/**
 * Turns a copy of examples/hello into a system of its own (so its image is `engbench1k:ctx-…`, never a
 * `hello` tag somebody else uses) whose .asd lists GENERATED_FILES tiny files, one defun each.
 */
function generateBigApp(appDir: string): void {
    fs.rmSync(path.join(appDir, "hello.asd"));
    const gen = path.join(appDir, "src", "gen");
    fs.mkdirSync(gen, { recursive: true });
    const names: string[] = [];
    for (let i = 1; i <= GENERATED_FILES; i++) {
        const n = `g${String(i).padStart(4, "0")}`;
        names.push(n);
        fs.writeFileSync(path.join(gen, `${n}.lisp`), `(in-package #:hello)\n\n(defun gen-${n} () ${i})\n`);
    }
    const components = names.map((n) => `(:file "${n}")`).join("\n                 ");
    fs.writeFileSync(
        path.join(appDir, `${BIG_SYSTEM}.asd`),
        `;;;; Generated by bench/engine.ts: examples/hello plus ${GENERATED_FILES} one-defun files.

(defsystem "${BIG_SYSTEM}"
  :version "1.0.0"
  :depends-on ("hunchentoot" "lisp-deploy/hunchentoot" "lisp-deploy/swank")
  :pathname "src/"
  :components ((:file "package")
               (:file "app" :depends-on ("package"))
               (:module "gen" :depends-on ("package")
                :components (${components})))
  :build-operation "program-op"
  :build-pathname "hello"
  :entry-point "hello:main")
`,
    );
}

function config(app: App): Record<string, string> {
    return {
        port: String(app.port),
        networkMode: "host",
        buildNetwork: "host",
        dependencySource: "debian",
        containerName: containerName(app),
    };
}

// ---------------------------------------------------------------- where one preview's time goes

interface Milestone {
    label: string;
    re: RegExp;
    last?: boolean;
}
const MILESTONES: Milestone[] = [
    { label: "CLI's first log line (Go binary started)", re: /./ },
    { label: "`*** Starting Update` (project, stack, state, config loaded; language host asked for metadata)", re: /^\*\*\* Starting Update/ },
    { label: "language host `Run` (plugins the program needs gathered)", re: /^langhost\[nodejs\]\.Run\(/ },
    { label: "language host launches node", re: /Language host launching process/ },
    { label: "first registration: the Stack (node, @pulumi/pulumi, ts-node set up)", re: /RegisterResource received: t=pulumi:pulumi:Stack/ },
    { label: "WebApp registered (index.ts compiled, lisp-deploy required)", re: /RegisterResource received: t=lisp-deploy:index:WebApp/ },
    { label: "docker plugin launched (the Image is registered: LispImage planned and hashed its context)", re: /Launching plugin 'docker \(resource\)'/ },
    { label: "docker stand-in answers (plugin started)", re: /GetPluginInfo\(\) success \(#version=5\./ },
    { label: "Image checked (stand-in hashed the context: `build.contextDigest`)", re: /Check\(urn:[^)]*docker:index\/image:Image[^)]*\) success/ },
    { label: "command plugin launched (the health Command is registered)", re: /Launching plugin 'command \(resource\)'/ },
    { label: "command stand-in answers (plugin started)", re: /GetPluginInfo\(\) success \(#version=1\./ },
    { label: "language host `Run` returns (program done)", re: /^langhost\[nodejs\]\.Run\(.*\) success/ },
    { label: "`*** Update(preview=true) complete ***`", re: /^\*\*\* Update\(preview=true\) complete/ },
];

/** Parses a `-v=9 --logtostderr --logflow` preview's JSON log lines into milestone times (ms after spawn). */
function timeline(out: string, start: number, end: number): { label: string; at?: number }[] {
    const lines: { t: number; msg: string }[] = [];
    for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
            const d = JSON.parse(line);
            if (typeof d.time === "string" && typeof d.msg === "string") lines.push({ t: Date.parse(d.time), msg: d.msg });
        } catch {
            /* not a log line */
        }
    }
    const rows = MILESTONES.map((m) => {
        const hits = lines.filter((l) => m.re.test(l.msg));
        const hit = m.last ? hits[hits.length - 1] : hits[0];
        return { label: m.label, at: hit ? hit.t - start : undefined };
    });
    rows.push({ label: "CLI process exits", at: end - start });
    return rows;
}

// ---------------------------------------------------------------- main

interface Results {
    firstUp: Record<string, number>;
    real: Record<string, Record<string, number[]>>;
    timelines: Record<string, { label: string; at?: number }[]>;
    verboseTotal: Record<string, number>;
    pieces: Record<string, number[]>;
    hashing: Record<string, Record<string, number[]>>;
    contextFiles: Record<string, number>;
    contextBytes: Record<string, number>;
}

async function main(): Promise<void> {
    requireDocker();
    const cliVersion = requirePulumiCli();
    const imagesBefore = new Set(listImages());
    const danglingBefore = new Set(lines(execFileSync("docker", ["images", "-q", "--no-trunc", "-f", "dangling=true"], { encoding: "utf8" })));
    const scratch = scratchDir("engine-bench");
    const res: Results = { firstUp: {}, real: {}, timelines: {}, verboseTotal: {}, pieces: {}, hashing: {}, contextFiles: {}, contextBytes: {} };
    const workspaces: { ws: PulumiWorkspace; app: App }[] = [];
    const startedAt = new Date();
    try {
        // ---- real CLI: stacks, first up (builds the image; not counted)
        const ws: Record<string, { plain: PulumiWorkspace; transpileOnly: PulumiWorkspace; dir: string }> = {};
        for (const app of APPS) {
            const dir = makeProject(path.join(scratch, `real-${app.key}`), app);
            const wsScratch = path.join(scratch, `real-${app.key}`, "pulumi");
            fs.mkdirSync(wsScratch, { recursive: true });
            const plain = new PulumiWorkspace(dir, wsScratch);
            const transpileOnly = new PulumiWorkspace(dir, wsScratch, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
            workspaces.push({ ws: plain, app });
            await plain.initStack(STACK, config(app));
            log(`${app.key}: first pulumi up (builds the image)…`);
            res.firstUp[app.key] = (await timedCli(plain, ["up", "--yes", "--skip-preview", "--stack", STACK])).ms;
            await mustServe(app.port, `${app.key} after the first up`);
            ws[app.key] = { plain, transpileOnly, dir };
            res.real[app.key] = { preview: [], previewTranspileOnly: [], up: [] };
        }

        // ---- real CLI: no-change rounds, interleaved so load on this shared machine spreads over all rows
        for (let r = 1; r <= ROUNDS; r++) {
            for (const app of APPS) {
                const w = ws[app.key];
                const row = res.real[app.key];
                row.preview.push((await timedCli(w.plain, ["preview", "--expect-no-changes", "--stack", STACK])).ms);
                row.previewTranspileOnly.push((await timedCli(w.transpileOnly, ["preview", "--expect-no-changes", "--stack", STACK])).ms);
                row.up.push((await timedCli(w.plain, ["up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", STACK])).ms);
                log(`round ${r} ${app.key}: preview ${row.preview.at(-1)} ms, preview (transpile only) ${row.previewTranspileOnly.at(-1)} ms, up ${row.up.at(-1)} ms`);
            }
        }

        // ---- one verbose preview per app: the engine's own timeline (not counted above; logging costs a little)
        // Spawned here rather than through PulumiWorkspace.run, whose interleaved stdout+stderr can split a log line.
        for (const app of APPS) {
            const t = await verbosePreview(ws[app.key].dir, path.join(scratch, `real-${app.key}`, "pulumi"));
            res.timelines[app.key] = timeline(t.log, t.start, t.end);
            res.verboseTotal[app.key] = t.end - t.start;
        }

        // ---- pieces, each alone, ROUNDS times
        const env = pulumiEnvironment();
        const pieces: Record<string, () => number | Promise<number>> = {
            "`pulumi version` (CLI start alone)": () => timedSpawn("pulumi", ["version"], REPO_ROOT, env),
            "`node -e ''` (node start)": () => timedSpawn("node", ["-e", ""]),
            "node: require(\"@pulumi/pulumi\")": () => timedSpawn("node", ["-e", 'require("@pulumi/pulumi")']),
            "node: require(\"lisp-deploy\") (bin/, pulls in @pulumi/aws, docker, command)": () => timedSpawn("node", ["-e", 'require("lisp-deploy")']),
            "node: require(\"@pulumi/aws\")": () => timedSpawn("node", ["-e", 'require("@pulumi/aws")']),
            "node: require(\"typescript\")": () => timedSpawn("node", ["-e", 'require("typescript")']),
            "docker stand-in plugin: spawn → port printed": () => pluginStart("docker-standin"),
            "command stand-in plugin: spawn → port printed": () => pluginStart("command-standin"),
        };
        for (const [label, f] of Object.entries(pieces)) {
            res.pieces[label] = [];
            for (let r = 0; r < ROUNDS; r++) res.pieces[label].push(await f());
        }

        // ---- LispImage's context work alone, in this (warm) process, on the real runs' directories
        for (const app of APPS) {
            const programDir = ws[app.key].dir;
            const appDir = path.join(programDir, "..", "hello");
            const contextDir = path.join(programDir, ".lisp-deploy", "images", "hello-image");
            // Exactly the files the program wrote (so writeContext finds them unchanged, as in a no-change preview).
            const written = collectTree(contextDir, "").map((f) => ({ ...f, path: f.path.slice(1) }));
            res.contextFiles[app.key] = written.length;
            res.contextBytes[app.key] = written.reduce((n, f) => n + f.content.length, 0);
            const rows: Record<string, () => void> = {
                "collectTree(app) + contextHash (LispImage's plan: read and hash the sources)": () => contextHash(collectTree(appDir, "app")),
                "planImage (whole plan: .asd read, Dockerfile rendered, context listed and hashed)": () => planImage({ appDir, dependencySource: { kind: "debian" } }),
                "writeContext, context unchanged (re-reads the written context and hashes both)": () => writeContext(contextDir, written),
                "stand-in's hashContext (Check: `build.contextDigest`)": () => hashContext(contextDir, path.join(contextDir, "Dockerfile")),
            };
            res.hashing[app.key] = {};
            for (const [label, f] of Object.entries(rows)) {
                res.hashing[app.key][label] = [];
                for (let r = 0; r < ROUNDS; r++) res.hashing[app.key][label].push(timedMs(f));
            }
        }

        fs.writeFileSync(REPORT, report(res, cliVersion, startedAt));
        log(`wrote ${REPORT}`);
    } finally {
        for (const { ws: w } of workspaces) {
            const r = await w.destroy(STACK);
            if (r.code !== 0) log(`pulumi destroy failed (cleaning up by hand): ${r.out.slice(-2000)}`);
        }
        for (const app of APPS) spawnSync("docker", ["rm", "-f", containerName(app)]);
        cleanImages(imagesBefore, danglingBefore);
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

function lines(s: string): string[] {
    return s.split("\n").filter((l) => l !== "");
}

function listImages(): string[] {
    return lines(execFileSync("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}"], { encoding: "utf8" }));
}

/**
 * Removes the image tags this run made (any `engbench1k` tag; a `hello` tag only when it was not there
 * before: other suites build the same hello context), and the 1k app's untagged build-stage images (new
 * since the start, and naming its system in their history; nobody else builds that system).
 */
function cleanImages(before: Set<string>, danglingBefore: Set<string>): void {
    for (const image of listImages()) {
        const [repo] = image.split(":");
        if (repo === BIG_SYSTEM || (repo === "hello" && !before.has(image))) spawnSync("docker", ["rmi", image]);
    }
    const dangling = lines(spawnSync("docker", ["images", "-q", "--no-trunc", "-f", "dangling=true"], { encoding: "utf8" }).stdout ?? "");
    for (const image of dangling) {
        if (danglingBefore.has(image)) continue;
        const history = spawnSync("docker", ["history", "--no-trunc", "--format", "{{.CreatedBy}}", image], { encoding: "utf8" }).stdout ?? "";
        if (history.includes(`LISP_DEPLOY_SYSTEM=${BIG_SYSTEM}`) || history.includes(`LISP_DEPLOY_SYSTEM='${BIG_SYSTEM}'`)) spawnSync("docker", ["rmi", image]);
    }
}

// ---------------------------------------------------------------- report

function report(res: Results, cliVersion: string, startedAt: Date): string {
    const mem = execFileSync("free", ["-h"], { encoding: "utf8" }).trimEnd();
    const load = os.loadavg().map((l) => l.toFixed(2)).join(", ");
    const cell = (xs: number[]) => {
        const s = stats(xs);
        return `${sec(s.median)} | ${sec(s.min)}–${sec(s.max)}`;
    };
    const out: string[] = [];
    out.push("# Engine benchmark: a no-change `pulumi preview` / `pulumi up` (issue 11, item 6)");
    out.push("");
    out.push(
        `Measured ${startedAt.toISOString().slice(0, 10)} with the REAL Pulumi CLI ${cliVersion} (support/pulumi-cli.ts: own file backend and ` +
            "PULUMI_HOME, scripts/pulumi-env.sh) and this repository's stand-in docker and command plugins (support/providers, " +
            "node + TypeScript, not the real Go providers). Programs: examples/local (WebApp, local target: LispImage → docker Image, " +
            "LocalRelease → docker Container + health Command; 7 resources) with networkMode/buildNetwork host, dependencySource " +
            `debian; once on examples/hello (2 source files) and once on a generated copy of it whose .asd lists ${GENERATED_FILES} ` +
            "more one-defun files (its own system, so it builds its own image). After a first `pulumi up` that built and ran each " +
            `image (not counted), ${res.real.local.preview.length} rounds of: \`pulumi preview --expect-no-changes\`, the same with ` +
            "PULUMI_NODEJS_TRANSPILE_ONLY=true, `pulumi up --yes --skip-preview --expect-no-changes`, interleaved across both apps. " +
            "Wall time of the CLI process, spawn to exit.",
    );
    out.push("");
    out.push(`Machine: nproc ${execFileSync("nproc", { encoding: "utf8" }).trim()}, ${os.cpus()[0]?.model ?? "?"}; load average at the end ${load} (other suites were running on the same machine).`);
    out.push("");
    out.push("```\n$ free -h\n" + mem + "\n```");
    out.push("");
    out.push("Reproduce: `bash bench/run-engine.sh` (ROUNDS=n, default 5; `ROUNDS=1` is the quick smoke mode). It builds the package " +
        "(npm run build), works in a temp dir, uses ports 18640–18641 on 127.0.0.1 and removes the stacks, containers and images it made.");
    out.push("");
    out.push("## Wall time of a no-change run (seconds)");
    out.push("");
    out.push("| program | what | median | range |");
    out.push("| --- | --- | ---: | ---: |");
    for (const app of APPS) {
        const r = res.real[app.key];
        out.push(`| ${app.label} | \`pulumi preview\` | ${cell(r.preview)} |`);
        out.push(`| | \`pulumi preview\`, PULUMI_NODEJS_TRANSPILE_ONLY=true | ${cell(r.previewTranspileOnly)} |`);
        out.push(`| | \`pulumi up --skip-preview\` | ${cell(r.up)} |`);
    }
    out.push("");
    out.push(
        "Not counted: the first `pulumi up` (image built, container started): " +
            APPS.map((a) => `${a.key} ${sec(res.firstUp[a.key])} s`).join(", ") +
            ". A `pulumi up --yes` without `--skip-preview` runs the program twice (preview, then update): about preview + up.",
    );
    out.push("");
    out.push(
        "Earlier reports had a column for an in-process imitation of the engine that lived in test/harness (0.04–0.08 s " +
            "per no-change run: program evaluation alone in a warm node process, no CLI, plugins, gRPC or state file). It was " +
            "deleted with the imitation engine (issue 12); everything in this report is the real CLI.",
    );
    out.push("");
    out.push("Raw (ms): " + APPS.map((a) => {
        const r = res.real[a.key];
        return `${a.key}: preview [${r.preview}], preview transpile-only [${r.previewTranspileOnly}], up [${r.up}]`;
    }).join("; ") + ".");
    out.push("");
    out.push("## Where one preview's time goes");
    out.push("");
    out.push(
        "One more no-change `pulumi preview -v=9 --logtostderr --logflow` per app (not counted above; the logging itself adds a " +
            "little): the time after spawn at which the engine logged each milestone.",
    );
    out.push("");
    out.push(`| milestone | ${APPS.map((a) => `${a.key}: s after spawn`).join(" | ")} | ${APPS.map((a) => `${a.key}: step`).join(" | ")} |`);
    out.push(`| --- | ${APPS.map(() => "---:").join(" | ")} | ${APPS.map(() => "---:").join(" | ")} |`);
    const rowsOf = (k: string) => res.timelines[k];
    for (let i = 0; i < rowsOf("local").length; i++) {
        const label = rowsOf("local")[i].label;
        const at = APPS.map((a) => rowsOf(a.key)[i].at);
        const step = APPS.map((a) => {
            const t = rowsOf(a.key);
            const now = t[i].at;
            const prev = [...t.slice(0, i)].reverse().find((x) => x.at !== undefined)?.at ?? 0;
            return now === undefined ? "–" : `+${sec(now - prev)}`;
        });
        out.push(`| ${label} | ${at.map((x) => (x === undefined ? "–" : sec(x))).join(" | ")} | ${step.join(" | ")} |`);
    }
    out.push("");
    out.push("## The pieces, each alone");
    out.push("");
    out.push(`Each ${ROUNDS} times, a fresh process each time (ms).`);
    out.push("");
    out.push("| piece | median | range |");
    out.push("| --- | ---: | ---: |");
    for (const [label, xs] of Object.entries(res.pieces)) {
        const s = stats(xs);
        out.push(`| ${label} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)}–${s.max.toFixed(0)} |`);
    }
    out.push("");
    out.push(
        "LispImage's context work, timed in a warm process on the runs' own directories (ms). Context: " +
            APPS.map((a) => `${a.key} ${res.contextFiles[a.key]} files, ${(res.contextBytes[a.key] / 1024).toFixed(0)} KiB`).join("; ") +
            ". A preview does all three: the plan, writeContext's unchanged check, the stand-in's digest.",
    );
    out.push("");
    out.push(`| step | ${APPS.map((a) => `${a.key} median (range)`).join(" | ")} |`);
    out.push(`| --- | ${APPS.map(() => "---:").join(" | ")} |`);
    for (const label of Object.keys(res.hashing.local)) {
        out.push(`| ${label} | ${APPS.map((a) => {
            const s = stats(res.hashing[a.key][label]);
            return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
        }).join(" | ")} |`);
    }
    out.push("");
    return out.join("\n") + "\n";
}

main().then(
    () => process.exit(0),
    (err) => {
        console.error(err instanceof Error ? err.stack : err);
        process.exit(1);
    },
);
