import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as crypto from "crypto";
import { dependenciesExecutableCommand } from "../../../../src/release/systemd/deltaPlan";
import { localScript, releaseScript, renderEnvironmentFile, scriptsDirectory, shellQuote } from "../../../../src/release/systemd/scripts";
import { extractCommand } from "../../../../src/release/systemd/systemdRelease";

const scripts = fs.readdirSync(scriptsDirectory()).filter((f) => f.endsWith(".sh"));

test("the systemd family's scripts are the files its components read (SystemdRelease plain and zero-downtime; DeltaRelease); shellcheck reads them all (shell-scripts.test.ts)", () => {
    expect(scripts.sort()).toEqual([
        "activate-slot.sh", "activate.sh", "delta-build.sh", "dependencies-executable.sh", "extract-executable.sh", "prepare-dependencies.sh", "prepare.sh",
        "remove-slots.sh", "remove.sh",
    ]);
});


describe("releaseScript", () => {
    test("carries the shared functions and the script file verbatim, with sorted, quoted parameters", () => {
        const text = releaseScript("remove", { APP: "hello" });
        const file = (name: string) => fs.readFileSync(path.join(scriptsDirectory(), name), "utf8");
        expect(text).toContain(`  APP='hello' \\\n  bash -c ${shellQuote(`${file("lib/common.sh")}\n${file("remove.sh")}`)} remove.sh`);
        expect(releaseScript("prepare", { RELEASE_ID: "abc", APP: "x" })).toBe(releaseScript("prepare", { APP: "x", RELEASE_ID: "abc" }));
    });

    test("a parameter with quotes and newlines reaches the script unchanged (real bash)", () => {
        const value = "line one\nit's \"quoted\" $HOME `cmd`";
        const text = releaseScript("prepare", { VALUE: value }, 'printf "%s" "$VALUE"');
        // Run as the command text the host gets; `sudo` is skipped because tests run as root.
        const r = spawnSync("bash", ["-c", text], { encoding: "utf8" });
        expect(r.stdout).toBe(value);
    });

    test("rejects parameter names that are not environment variable names", () => {
        expect(() => releaseScript("prepare", { "bad name": "x" }, "true")).toThrow(/not an environment variable name/);
    });
});

test("renderEnvironmentFile writes sorted KEY=\"value\" lines with systemd's escapes", () => {
    expect(renderEnvironmentFile({ B: 'a"b', A: "x$y\\z" })).toBe('A="x\\$y\\\\z"\nB="a\\"b"\n');
});

/**
 * wait_healthy (lib/common.sh) in real bash, against a stand-in `systemctl show` and `curl` on PATH: healthy is
 * what systemd says (active, a new run, NRestarts steady) together with the HTTP answer, never HTTP alone.
 */
describe("wait_healthy judges by systemd's state and the health URL together", () => {
    let fake: string;
    beforeAll(() => {
        fake = fs.mkdtempSync(path.join(os.tmpdir(), "wait-healthy-"));
        fs.mkdirSync(path.join(fake, "bin"));
        // `systemctl show` prints the state file; with a `flap` counter, NRestarts grows on every call (a crash loop).
        fs.writeFileSync(
            path.join(fake, "bin", "systemctl"),
            '#!/usr/bin/env bash\nif [ "$1" = show ]; then\n  cat "$FAKE/show"\n  if [ -f "$FAKE/flap" ]; then n=$(cat "$FAKE/flap"); echo "NRestarts=$n"; echo $((n + 1)) > "$FAKE/flap"; fi\nfi\n',
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(fake, "bin", "curl"), '#!/usr/bin/env bash\ncat "$FAKE/status"\n', { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(fake, { recursive: true, force: true }));

    function waitHealthy(show: Record<string, string>, status: string, opts: { oldRun?: string; flap?: boolean } = {}) {
        fs.writeFileSync(path.join(fake, "show"), Object.entries(show).map(([k, v]) => `${k}=${v}\n`).join(""));
        fs.writeFileSync(path.join(fake, "status"), status);
        fs.rmSync(path.join(fake, "flap"), { force: true });
        if (opts.flap) fs.writeFileSync(path.join(fake, "flap"), "0");
        const common = fs.readFileSync(path.join(scriptsDirectory(), "lib", "common.sh"), "utf8");
        const script = `${common}\nset -euo pipefail\nHEALTH_STATUS=200 HEALTH_TIMEOUT=1 START_TIMEOUT=1\nwait_healthy http://127.0.0.1:8080/healthz notes.service "$1"\n`;
        const r = spawnSync("bash", ["-c", script, "wait", opts.oldRun ?? "run-a"], {
            encoding: "utf8",
            env: { ...process.env, PATH: `${path.join(fake, "bin")}:${process.env.PATH}`, FAKE: fake },
        });
        return { code: r.status, stderr: r.stderr };
    }
    const READY = "the app never sent READY=1: depend on lisp-deploy (lisp-deploy:main) or set serviceType: exec";
    const active = { ActiveState: "active", SubState: "running", NRestarts: "0", InvocationID: "run-b", Type: "exec", Result: "success" };

    test("active in a new run, answering 200, and still so after the stable window: healthy", () => {
        expect(waitHealthy(active, "200")).toEqual({ code: 0, stderr: "" });
    });

    test("the run from before the restart does not count, however well it answers", () => {
        const r = waitHealthy({ ...active, InvocationID: "run-a" }, "200");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("systemd says notes.service is active (running, NRestarts=0)");
        expect(r.stderr).not.toContain("READY=1");
    });

    test("a notify unit that answers HTTP while systemd still waits, until its start times out: not healthy, and says why", () => {
        const r = waitHealthy({ ...active, ActiveState: "activating", SubState: "auto-restart", NRestarts: "1", Type: "notify", Result: "timeout" }, "200");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("systemd says notes.service is activating (auto-restart, NRestarts=1)");
        expect(r.stderr).toContain(READY);
    });

    test("a crash-looping exec unit: not healthy, and no word about READY=1", () => {
        const r = waitHealthy({ ...active, ActiveState: "activating", SubState: "auto-restart", Result: "exit-code" }, "000");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("answered '000'");
        expect(r.stderr).not.toContain("READY=1");
    });

    test("active and answering, but NRestarts grows on every look (restarting underneath): never healthy", () => {
        const { NRestarts: _n, ...show } = active;
        const r = waitHealthy(show, "200", { flap: true });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("health check failed");
    });
});

describe("every script that changes an app on the host takes the per-app lock first (issue 19, item 3)", () => {
    test.each([
        ["remove.sh", "removal", ["remove_unit", "rm -rf"]],
        ["remove-slots.sh", "removal", ["remove_unit", "rm -f", "rm -rf", "systemctl"]],
        ["delta-build.sh", '"delta build"', ["mv -f", "tar -x", "rm -f", "mktemp"]],
    ])("%s locks as a %s before it touches anything", (file, what, changes) => {
        // The code only: the header comments name what the script does before it does it.
        const text = fs.readFileSync(path.join(scriptsDirectory(), file), "utf8").split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
        const lock = text.indexOf(`lock_app "\${APP}" ${what}\n`);
        expect(lock).toBeGreaterThan(text.indexOf("set -euo pipefail"));
        for (const change of changes) {
            expect(text.indexOf(change)).toBeGreaterThan(lock);
        }
    });

    test("a waiter names what holds the lock (the holder writes its WHAT into the lock file), real bash and flock", async () => {
        const app = `lock-what-${process.pid}-${Date.now()}`;
        const common = fs.readFileSync(path.join(scriptsDirectory(), "lib", "common.sh"), "utf8");
        try {
            const { spawn } = await import("child_process");
            const holder = spawn("bash", ["-c", `${common}\nlock_app "$APP" removal\necho locked\nsleep 1`], { env: { ...process.env, APP: app } });
            await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
            const waiter = spawnSync("bash", ["-c", `${common}\nset -euo pipefail\nlock_app "$APP" "delta build"\necho got`], { encoding: "utf8", env: { ...process.env, APP: app } });
            await new Promise((r) => holder.once("close", r));
            expect(waiter.stdout.trim()).toBe("got");
            expect(waiter.stderr).toContain(`lisp-deploy: another removal of ${app} holds /run/lock/lisp-deploy-${app}.lock; waiting for it to finish`);
            expect(waiter.stderr).toMatch(new RegExp(`the other removal of ${app} finished after \\d+s; going on with this delta build`));
            expect(fs.readFileSync(`/run/lock/lisp-deploy-${app}.lock`, "utf8")).toBe("delta build\n");
        } finally {
            fs.rmSync(`/run/lock/lisp-deploy-${app}.lock`, { force: true });
        }
    });
});

/**
 * The local scripts (command.local.Command runs them under /bin/sh) in real `sh` (dash), against a stand-in
 * `docker` on PATH that records its arguments and plays its part (create prints an id, cp copies a file):
 * the docker calls are exactly the ones the TypeScript string arrays used to make (issue 15, item 3).
 */
describe("local scripts: extract-executable.sh and dependencies-executable.sh under sh", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-scripts-"));
        fs.mkdirSync(path.join(dir, "bin"));
        // cp FROM TO: a container path (cid:/x) is served from $DIR/image/x; a local path is taken as is.
        fs.writeFileSync(
            path.join(dir, "bin", "docker"),
            [
                "#!/bin/sh",
                'printf "%s\\n" "$*" >> "$DIR/calls"',
                'case "$1" in',
                "  create) echo cid-123 ;;",
                '  cp) from="$2"; to="$3"',
                '      case "$from" in cid-123:*) from="$DIR/image${from#cid-123:}" ;; esac',
                '      case "$to" in cid-123:*) to="$DIR/image${to#cid-123:}" ;; esac',
                '      mkdir -p "$(dirname "$to")" && cp "$from" "$to" ;;',
                "  start) echo building >&2 ;;",
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sh = (text: string) =>
        spawnSync("sh", ["-c", text], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, DIR: dir } });
    const calls = () => fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");

    test("extractCommand copies the executable out, prints its release id and removes the container", () => {
        fs.mkdirSync(path.join(dir, "image", "app"), { recursive: true });
        fs.writeFileSync(path.join(dir, "image", "app", "hello it's"), "the executable");
        const text = extractCommand("registry.local/hello@sha256:abc", "/app/hello it's", ".lisp-deploy/web $x/hello");
        expect(shParse(text)).toBe("");
        const r = sh(text);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${crypto.createHash("sha256").update("the executable").digest("hex").slice(0, 12)}\n`);
        expect(fs.readFileSync(path.join(dir, ".lisp-deploy", "web $x", "hello"), "utf8")).toBe("the executable");
        expect(calls()).toEqual(["create registry.local/hello@sha256:abc", "cp cid-123:/app/hello it's .lisp-deploy/web $x/hello", "rm -f cid-123"]);
    });

    test("extractCommand removes the container when the copy fails, and fails", () => {
        const r = sh(extractCommand("img", "/missing", "out/hello"));
        expect(r.status).not.toBe(0);
        expect(calls()).toEqual(["create img", "cp cid-123:/missing out/hello", "rm -f cid-123"]);
    });

    test("dependenciesExecutableCommand builds the dependencies stage, runs the Lisp script in it and saves the executable", () => {
        fs.mkdirSync(path.join(dir, "image", "tmp"), { recursive: true });
        fs.writeFileSync(path.join(dir, "image", "tmp", "lisp-deploy-dependencies"), "deps");
        const lisp = "(format t \"it's $HOME ~a%\" 1)\n";
        for (const network of ["host", undefined]) {
            fs.rmSync(path.join(dir, "calls"), { force: true });
            const text = dependenciesExecutableCommand({ contextDir: ".lisp-deploy/web/ctx", imageTag: "hello-dependencies:0123456789ab", destination: ".lisp-deploy/web/deps/x", network, script: lisp });
            expect(shParse(text)).toBe("");
            const r = sh(text);
            expect(r.status).toBe(0);
            expect(r.stdout).toBe(".lisp-deploy/web/deps/x\n");
            expect(r.stderr).toBe("building\n");
            expect(fs.readFileSync(path.join(dir, ".lisp-deploy/web/deps/x"), "utf8")).toBe("deps");
            // The Lisp script reached the container byte for byte.
            expect(fs.readFileSync(path.join(dir, "image", "tmp", "sbcl-dependencies-executable.lisp"), "utf8")).toBe(lisp);
            const net = network ? "--network host " : "";
            expect(calls().map((c) => c.replace(/\/tmp\/tmp\.\w+/, "<script>"))).toEqual([
                `build -q ${net}--target dependencies -t hello-dependencies:0123456789ab -f .lisp-deploy/web/ctx/Dockerfile .lisp-deploy/web/ctx`,
                `create ${net}-e LISP_DEPLOY_OUTPUT=/tmp/lisp-deploy-dependencies hello-dependencies:0123456789ab sbcl --core /opt/lisp-deploy/dependencies.core --non-interactive --no-sysinit --no-userinit --load /tmp/sbcl-dependencies-executable.lisp`,
                "cp <script> cid-123:/tmp/sbcl-dependencies-executable.lisp",
                "start -a cid-123",
                "cp cid-123:/tmp/lisp-deploy-dependencies .lisp-deploy/web/deps/x",
                "rm -f cid-123",
            ]);
        }
    });

    test("localScript: sorted, quoted parameters, the script verbatim, run by sh", () => {
        const text = localScript("extract-executable", { IMAGE: "a'b", DESTINATION: "d" });
        expect(text).toBe(
            `# lisp-deploy extract-executable.sh (src/release/systemd/scripts/extract-executable.sh)\nenv \\\n  DESTINATION='d' \\\n  IMAGE='a'\\''b' \\\n  sh -c ${shellQuote(fs.readFileSync(path.join(scriptsDirectory(), "extract-executable.sh"), "utf8"))} extract-executable.sh\n`,
        );
        expect(() => localScript("extract-executable", { "bad name": "x" })).toThrow(/not an environment variable name/);
    });
});

/** `sh -n`: the parse errors of a script ("" when it parses). */
function shParse(text: string): string {
    const r = spawnSync("sh", ["-n"], { input: text, encoding: "utf8" });
    return r.status === 0 ? "" : r.stderr;
}
