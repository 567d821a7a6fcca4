import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * The real consumers of what the renderers write, as the unit layer runs them: systemd's own unit loader,
 * the POSIX shell, cloud-init's schema validator. Each fails loudly (never skips) when its program is missing,
 * naming the Debian package that provides it.
 */

function requireProgram(file: string, pkg: string): void {
    if (!fs.existsSync(file)) throw new Error(`${file} is not installed: run \`bash scripts/setup-machine.sh\` (Debian package ${pkg}).`);
}

/** systemd's manager binary: `--test` loads units with the same parser PID 1 uses and dumps what it read. */
export const SYSTEMD = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"].find((f) => fs.existsSync(f)) ?? "/usr/lib/systemd/systemd";

/** What systemd read from one unit: its parse warnings and the properties it holds. */
export interface LoadedUnit {
    /** Lines systemd logged about the unit file (ignored assignments, unresolvable specifiers...). */
    readonly warnings: string[];
    /** `Description:` as loaded (specifiers resolved). */
    readonly description: string;
    /** Every `Environment=` entry as loaded, `NAME=value`, in order. */
    readonly environment: string[];
    /** The argv of each `ExecStart=` as stored (before the exec-time `$` expansion of systemd.service(5)). */
    readonly execStart: string[][];
}

/**
 * Loads `unitText` as `unitName` with systemd's own unit loader (`systemd --test --system`, run as nobody
 * because systemd refuses test mode as root) from a unit directory of its own, and returns what it read.
 * One call takes about 0.2 s.
 */
export function loadUnit(unitName: string, unitText: string): LoadedUnit {
    requireProgram(SYSTEMD, "systemd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-unit-"));
    try {
        fs.chmodSync(dir, 0o755);
        // The targets a default-dependency service pulls in, empty: nothing else of the machine is loaded.
        for (const target of ["sysinit.target", "basic.target", "shutdown.target", "network-online.target", "multi-user.target"]) {
            fs.writeFileSync(path.join(dir, target), "[Unit]\nDescription=stub\n", { mode: 0o644 });
        }
        fs.writeFileSync(path.join(dir, unitName), unitText, { mode: 0o644 });
        fs.chmodSync(path.join(dir, unitName), 0o644);
        const run = spawnSync(
            "setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", SYSTEMD, "--test", "--system", `--unit=${unitName}`, "--log-target=console", "--log-level=notice"],
            { env: { PATH: process.env.PATH, SYSTEMD_UNIT_PATH: dir }, encoding: "utf8", timeout: 30_000 },
        );
        const out = `${run.stdout}`;
        const err = `${run.stderr}`;
        if (run.status !== 0) throw new Error(`systemd --test failed (${run.status}): ${err}${out}`);
        const warnings = `${out}\n${err}`.split("\n").filter((l) => l.startsWith(`${path.join(dir, unitName)}:`));
        const lines = out.split("\n");
        const start = lines.indexOf(`\t-> Unit ${unitName}:`);
        if (start < 0) throw new Error(`systemd --test did not dump ${unitName}:\n${err}`);
        let end = start + 1;
        while (end < lines.length && !lines[end].startsWith("\t-> ")) end++;
        const section = lines.slice(start + 1, end);
        const value = (prefix: string) => section.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
        return {
            warnings,
            description: value("\t\tDescription: ")[0] ?? "",
            environment: value("\t\tEnvironment: "),
            execStart: value("\t\t\tCommand Line: ").map(parseDumpedCommandLine),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const C_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", '"': '"', "'": "'", $: "$", "`": "`" };

/** Reads the `Command Line:` systemd dumps: words separated by spaces, quoted ones in "..." with C escapes (\n, \001). */
function parseDumpedCommandLine(line: string): string[] {
    const words: string[] = [];
    let i = 0;
    while (i < line.length) {
        if (line[i] === " ") {
            i++;
            continue;
        }
        let word = "";
        if (line[i] === '"') {
            i++;
            const bytes: number[] = [];
            while (i < line.length && line[i] !== '"') {
                if (line[i] === "\\") {
                    const next = line[i + 1];
                    if (/[0-7]/.test(next)) {
                        bytes.push(parseInt(line.slice(i + 1, i + 4), 8));
                        i += 4;
                        continue;
                    }
                    if (!(next in C_ESCAPES)) throw new Error(`unknown escape \\${next} in ${JSON.stringify(line)}`);
                    bytes.push(...Buffer.from(C_ESCAPES[next], "utf8"));
                    i += 2;
                } else {
                    bytes.push(...Buffer.from(String.fromCodePoint(line.codePointAt(i)!), "utf8"));
                    i += String.fromCodePoint(line.codePointAt(i)!).length;
                }
            }
            i++;
            word = Buffer.from(bytes).toString("utf8");
        } else {
            while (i < line.length && line[i] !== " ") word += line[i++];
        }
        words.push(word);
    }
    return words;
}

/** `systemd-analyze verify` of one unit file: returns what it printed (empty when it has nothing to say). */
export function verifyUnit(unitName: string, unitText: string): string {
    requireProgram("/usr/bin/systemd-analyze", "systemd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-verify-"));
    try {
        fs.writeFileSync(path.join(dir, unitName), unitText);
        const run = spawnSync("systemd-analyze", ["verify", "--man=no", path.join(dir, unitName)], { encoding: "utf8", timeout: 30_000 });
        return `${run.stdout}${run.stderr}`
            .split("\n")
            // The unit runs /opt/<app>/..., which is not on this machine; everything else is a finding.
            .filter((l) => l.trim() !== "" && !/is not executable|No such file or directory|Command .* is not executable/.test(l))
            .join("\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Runs `script` under `sh` (dash, Debian's /bin/sh) with `stdin`; returns stdout as bytes and the exit status. */
export function runSh(script: string, stdin = ""): { status: number | null; stdout: Buffer; stderr: string } {
    const run = spawnSync("sh", ["-c", script], { input: stdin, timeout: 30_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr.toString("utf8") };
}

/** `sh -n`: parses without running; returns the parse error text, or "" when the script parses. */
export function shParseErrors(script: string): string {
    const run = spawnSync("sh", ["-n"], { input: script, encoding: "utf8", timeout: 30_000 });
    return run.status === 0 ? "" : `${run.stderr}`;
}

/**
 * cloud-init's own schema validator over many user-data documents in one Python process (the `cloud-init
 * schema` command starts in about a second; its library validates a document in milliseconds). Returns,
 * per document, the validator's error text ("" when valid) and the document as cloud-init's YAML loader reads it.
 */
export function cloudInitValidate(documents: readonly string[]): { error: string; config: unknown }[] {
    requireProgram("/usr/bin/cloud-init", "cloud-init");
    const program = [
        "import json, sys",
        "from cloudinit.config.schema import get_schema, validate_cloudconfig_schema, SchemaValidationError",
        "from cloudinit import util, safeyaml",
        "schema = get_schema()",
        "out = []",
        "for doc in json.load(sys.stdin):",
        "    try:",
        "        if not doc.startswith('#cloud-config\\n'): raise ValueError('no #cloud-config header')",
        "        config = safeyaml.load(doc)",
        "        validate_cloudconfig_schema(config, schema, strict=True)",
        "        out.append({'error': '', 'config': config})",
        "    except Exception as e:",
        "        out.append({'error': '%s: %s' % (type(e).__name__, e), 'config': None})",
        "json.dump(out, sys.stdout)",
    ].join("\n");
    const stdout = execFileSync("/usr/bin/python3", ["-c", program], { input: JSON.stringify(documents), encoding: "utf8", timeout: 60_000 });
    return JSON.parse(stdout);
}

/**
 * `caddy adapt` of a Caddyfile: Caddy's own parser turns it into the JSON config it would run, or fails
 * with its parse error. Returns the JSON, or throws with Caddy's message.
 */
export function caddyAdapt(caddyfile: string): any {
    requireProgram("/usr/bin/caddy", "caddy");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-caddy-"));
    try {
        const file = path.join(dir, "Caddyfile");
        fs.writeFileSync(file, caddyfile);
        const r = spawnSync("/usr/bin/caddy", ["adapt", "--config", file, "--adapter", "caddyfile"], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`caddy adapt failed: ${r.stderr}`);
        return JSON.parse(r.stdout);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * `nginx -t` of a config file included in the http block of a minimal nginx.conf of its own (its own
 * prefix, pid and logs, so nothing of the machine's nginx is read or written). Returns nginx's output and
 * whether it passed.
 */
export function nginxTest(serverConfig: string): { ok: boolean; output: string } {
    requireProgram("/usr/sbin/nginx", "nginx");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-nginx-"));
    try {
        fs.writeFileSync(path.join(dir, "app.conf"), serverConfig);
        fs.writeFileSync(
            path.join(dir, "nginx.conf"),
            `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/app.conf;\n}\n`,
        );
        const r = spawnSync("/usr/sbin/nginx", ["-t", "-q", "-p", dir, "-c", path.join(dir, "nginx.conf")], { encoding: "utf8" });
        return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
