// A stand-in for pulumi-command v1.2.1's provider plugin (`pulumi-resource-command`), served by
// @pulumi/pulumi's provider host because the real plugin cannot be built or downloaded here. It does the
// real work: local commands through an interpreter, remote commands over OpenSSH `ssh`, uploads over
// OpenSSH `sftp`. What it implements and leaves out: README.md beside this file.
//
// Wire format: @pulumi/pulumi's provider server hands us the engine's property structs as plain JSON
// (`Struct.toJavaScript()`) and sends ours back the same way, and it tells the engine it accepts secrets.
// So inputs arrive with secrets wrapped ({[SIG]: SECRET_SIG, value}), unknowns as UNKNOWN and assets as
// {[SIG]: ASSET_SIG, path|text|uri, hash}; what we return is stored as given: a secret input we copy to
// an output must stay wrapped (the engine does not re-mark outputs of a provider that accepts secrets).
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as prov from "@pulumi/pulumi/provider";

export const VERSION = "1.2.1";

// Signatures from @pulumi/pulumi's runtime/rpc (the engine's wire constants).
export const SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
export const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const LOCAL = "command:local:Command";
const REMOTE = "command:remote:Command";
const COPY = "command:remote:CopyToRemote";

/** Input properties per type (schema.json of v1.2.1); the outputs repeat them, plus stdout/stderr for commands. */
export const INPUTS: Record<string, string[]> = {
    [LOCAL]: ["create", "update", "delete", "triggers", "stdin", "logging", "interpreter", "dir", "environment", "assetPaths", "archivePaths", "addPreviousOutputInEnv"],
    [REMOTE]: ["create", "update", "delete", "triggers", "stdin", "logging", "connection", "environment", "addPreviousOutputInEnv"],
    [COPY]: ["connection", "triggers", "source", "remotePath"],
};
/** Properties whose change replaces the resource: `triggers` carries replaceOnChanges in all three. */
const REPLACE_ON_CHANGES = ["triggers"];
const LOGGING = ["stdout", "stderr", "stdoutAndStderr", "none"];

// ---------------------------------------------------------------------------------------------------
// Wire values

export const isSecret = (v: any): boolean => !!v && typeof v === "object" && v[SIG] === SECRET_SIG;
const isAsset = (v: any): boolean => !!v && typeof v === "object" && v[SIG] === ASSET_SIG;
const isArchive = (v: any): boolean => !!v && typeof v === "object" && v[SIG] === ARCHIVE_SIG;
export const secret = (value: any) => ({ [SIG]: SECRET_SIG, value });

/** The value with every secret wrapper removed (for use and comparison only; never returned as state). */
export function reveal(v: any): any {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v && typeof v === "object" && !isAsset(v) && !isArchive(v)) {
        const out: Record<string, any> = {};
        for (const k of Object.keys(v)) out[k] = reveal(v[k]);
        return out;
    }
    return v;
}

export function containsUnknown(v: any): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v && typeof v === "object") return Object.keys(v).some((k) => containsUnknown(v[k]));
    return false;
}

/**
 * The strings to scrub from anything we print or put in an error: every string under a secret wrapper,
 * except that in a connection (secret as a whole) only the credentials count: its host and user are
 * what the real provider's messages name too.
 */
export function secretStrings(inputs: Record<string, any>): string[] {
    const out: string[] = [];
    const add = (s: string) => {
        for (const candidate of [s, s.trim(), ...s.split("\n").map((l) => l.trim())]) {
            if (candidate.length >= 8 || (candidate === s && s.length >= 4)) out.push(candidate);
        }
    };
    const walk = (v: any, inSecret: boolean): void => {
        if (isSecret(v)) return walk(v.value, true);
        if (typeof v === "string") {
            if (inSecret && v !== UNKNOWN) add(v);
        } else if (Array.isArray(v)) v.forEach((x) => walk(x, inSecret));
        else if (v && typeof v === "object") Object.keys(v).forEach((k) => walk(v[k], inSecret));
    };
    const credentials = (c: any): void => {
        const plain = reveal(c);
        if (!plain || typeof plain !== "object") return;
        for (const k of ["privateKey", "password", "privateKeyPassword"]) if (typeof plain[k] === "string") add(plain[k]);
        credentials(plain.proxy);
    };
    for (const k of Object.keys(inputs)) {
        if (k === "connection") credentials(inputs[k]);
        else walk(inputs[k], false);
    }
    return out;
}

function scrubber(secrets: string[]): (text: string) => string {
    const sorted = [...new Set(secrets)].sort((a, b) => b.length - a.length);
    return (text) => sorted.reduce((t, s) => t.split(s).join("[secret]"), text);
}

// ---------------------------------------------------------------------------------------------------
// Check, Diff

export function typeOf(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? "";
}
const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;

function sha256(data: Buffer | string): string {
    return crypto.createHash("sha256").update(data).digest("hex");
}

/** A content hash for an asset or archive we can read here (the engine's asset hash is sha256 of the bytes). */
function contentHash(v: any): string | undefined {
    try {
        if (isAsset(v)) {
            if (typeof v.text === "string") return sha256(v.text);
            if (typeof v.path === "string") return sha256(fs.readFileSync(path.resolve(v.path)));
        }
        if (isArchive(v) && typeof v.path === "string") {
            const root = path.resolve(v.path);
            if (fs.statSync(root).isFile()) return sha256(fs.readFileSync(root));
            const h = crypto.createHash("sha256");
            const walk = (dir: string) => {
                for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
                    const full = path.join(dir, entry.name);
                    if (entry.isDirectory()) walk(full);
                    else h.update(`${path.relative(root, full)}\0`).update(fs.readFileSync(full)).update("\0");
                }
            };
            walk(root);
            return h.digest("hex");
        }
    } catch {
        return undefined;
    }
    return undefined;
}

/** Connection defaults from v1.2.1's connection.go (user root, port 22, dialErrorLimit 10, perDialTimeout 15). */
function withConnectionDefaults(c: Record<string, any>): Record<string, any> {
    const out: Record<string, any> = { user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15, ...c };
    if (out.proxy && typeof out.proxy === "object" && !Array.isArray(out.proxy)) {
        out.proxy = { user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15, ...out.proxy };
    }
    return out;
}

function checkInputs(type: string, news: Record<string, any>): prov.CheckResult {
    const failures: prov.CheckFailure[] = [];
    const inputs: Record<string, any> = {};
    const allowed = INPUTS[type];
    if (!allowed) return { inputs: news, failures: [{ property: "", reason: `the command stand-in does not implement ${type}` }] };
    for (const k of Object.keys(news)) {
        if (allowed.includes(k) || k.startsWith("__")) inputs[k] = news[k];
        else failures.push({ property: k, reason: `${type} has no input "${k}"` });
    }
    const known = (k: string) => inputs[k] !== undefined && inputs[k] !== null && !containsUnknown(inputs[k]);
    const plain = (k: string) => reveal(inputs[k]);
    for (const k of ["create", "update", "delete", "stdin", "dir", "remotePath"]) {
        if (known(k) && typeof plain(k) !== "string") failures.push({ property: k, reason: "must be a string" });
    }
    if (known("logging") && !LOGGING.includes(plain("logging"))) {
        failures.push({ property: "logging", reason: `must be one of ${LOGGING.join(", ")}` });
    }
    if (known("interpreter") && !(Array.isArray(plain("interpreter")) && plain("interpreter").every((s: any) => typeof s === "string"))) {
        failures.push({ property: "interpreter", reason: "must be a list of strings" });
    }
    if (known("environment")) {
        const env = plain("environment");
        if (!env || typeof env !== "object" || Array.isArray(env) || Object.values(env).some((v) => typeof v !== "string")) {
            failures.push({ property: "environment", reason: "must be a map of strings" });
        }
    }
    for (const k of ["assetPaths", "archivePaths"]) {
        if (inputs[k] !== undefined && inputs[k] !== null) {
            failures.push({ property: k, reason: `not implemented by the command stand-in (support/providers/command-standin/README.md)` });
        }
    }
    if (type === REMOTE || type === COPY) {
        const c = inputs.connection;
        if (c === undefined || c === null) failures.push({ property: "connection", reason: "missing required property" });
        else if (reveal(c) !== UNKNOWN) {
            // A connection may arrive as a secret wrapping an unknown (a new host's address in a preview).
            const revealed = reveal(c);
            if (!revealed || typeof revealed !== "object" || Array.isArray(revealed)) {
                failures.push({ property: "connection", reason: "must be an object" });
            } else {
                if (revealed.host === undefined || revealed.host === null) failures.push({ property: "connection.host", reason: "missing required property" });
                // The whole connection is a secret, as the real schema marks it (its private key, its password).
                inputs.connection = secret(withConnectionDefaults(revealed));
            }
        } else {
            inputs.connection = secret(UNKNOWN);
        }
    }
    if (type === COPY) {
        for (const k of ["source", "remotePath"]) {
            if (inputs[k] === undefined || inputs[k] === null) failures.push({ property: k, reason: "missing required property" });
        }
        const s = inputs.source;
        if (s !== undefined && s !== null && !containsUnknown(s)) {
            const src = isSecret(s) ? s.value : s;
            if (isAsset(src)) {
                if (typeof src.path !== "string" && typeof src.text !== "string") {
                    failures.push({ property: "asset", reason: "asset must be a path-based file asset or a text asset" });
                }
            } else if (isArchive(src)) {
                if (typeof src.path !== "string") failures.push({ property: "archive", reason: "archive must be a path to a file or directory" });
            } else {
                failures.push({ property: "asset", reason: "either asset or archive must be set" });
            }
            const hash = contentHash(src);
            if (hash !== undefined) {
                const hashed = { ...src, hash };
                inputs.source = isSecret(s) ? secret(hashed) : hashed;
            }
        }
    }
    return { inputs, failures };
}

/** Values as the diff compares them: secrets unwrapped, assets by content hash (as the engine's Asset.Equals), null = absent. */
function comparable(v: any): any {
    if (isSecret(v)) return comparable(v.value);
    if (isAsset(v) || isArchive(v)) return { content: v.hash ?? contentHash(v) ?? `unreadable:${JSON.stringify(v)}` };
    if (Array.isArray(v)) return v.map(comparable);
    if (v && typeof v === "object") {
        const out: Record<string, any> = {};
        for (const k of Object.keys(v).sort()) if (v[k] !== null && v[k] !== undefined) out[k] = comparable(v[k]);
        return out;
    }
    return v;
}

/**
 * pulumi-go-provider's default Diff (v1.2.1 uses it: no custom Diff): compare old inputs with new; any
 * change is an update, except `triggers`, whose change replaces (schema replaceOnChanges, and the SDK also
 * passes replaceOnChanges: ["triggers[*]"]). Create-before-delete (DeleteBeforeReplace unset). An unknown
 * value (preview) counts as a change.
 */
export function diffInputs(type: string, olds: Record<string, any>, news: Record<string, any>): prov.DiffResult {
    const keys = INPUTS[type] ?? [...new Set([...Object.keys(olds), ...Object.keys(news)])];
    const changed: string[] = [];
    for (const k of keys) {
        if (k.startsWith("__")) continue;
        const n = news[k];
        const o = olds[k];
        const absent = (v: any) => v === undefined || v === null;
        if (absent(o) && absent(n)) continue;
        if (containsUnknown(n) || JSON.stringify(comparable(o)) !== JSON.stringify(comparable(n))) changed.push(k);
    }
    const replaces = changed.filter((k) => REPLACE_ON_CHANGES.includes(k));
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
}

// ---------------------------------------------------------------------------------------------------
// Running processes

interface Ran {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** stdout and stderr interleaved as they came, for error messages (as the real one keeps). */
    combined: string;
    spawnError?: Error;
}

const running = new Set<ChildProcess>();

type Logger = (urn: string, message: string) => void;
let engineLog: Logger | null | undefined;

/**
 * An ephemeral info message on `urn`, as the real provider's InfoStatus: sent to the engine's Log service
 * (the engine passes its address as our argument), or to stderr when run without an engine. Never stdout:
 * that carries the handshake. Callers scrub secrets first.
 */
function status(urn: string, message: string): void {
    if (engineLog === undefined) engineLog = connectEngineLog();
    if (engineLog) engineLog(urn, message);
    else process.stderr.write(`${nameOf(urn)}: ${message}\n`);
}

function connectEngineLog(): Logger | null {
    try {
        const args = process.argv.slice(2);
        if (args[0] === "command-standin") args.shift(); // launch.js's folder argument
        const parsed = require("@pulumi/pulumi/provider/internals").parseArgs(args);
        if (!parsed?.engineAddress) return null;
        const grpc = require("@grpc/grpc-js");
        const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        const engproto = require("@pulumi/pulumi/proto/engine_pb");
        const client = new engrpc.EngineClient(parsed.engineAddress, grpc.credentials.createInsecure());
        return (urn, message) => {
            const req = new engproto.LogRequest();
            req.setSeverity(engproto.LogSeverity.INFO);
            req.setMessage(message);
            req.setUrn(urn);
            req.setEphemeral(true);
            client.log(req, () => undefined);
        };
    } catch (e) {
        process.stderr.write(`command-standin: no engine log (${(e as Error).message}); status goes to stderr\n`);
        return null;
    }
}

interface RunOptions {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    stdin?: string;
    /** No pipes at all (for `ssh -f`, whose backgrounded master would otherwise hold them open). */
    quiet?: boolean;
    /** Lines of output go to the engine as status messages of `urn`, scrubbed, when set. */
    log?: { stdout: boolean; stderr: boolean; urn: string; scrub: (s: string) => string };
}

function runProcess(file: string, args: string[], opts: RunOptions = {}): Promise<Ran> {
    return new Promise((resolve) => {
        const hasStdin = opts.stdin !== undefined && opts.stdin.length > 0;
        const child = spawn(file, args, {
            cwd: opts.cwd,
            env: opts.env ?? process.env,
            stdio: opts.quiet ? "ignore" : [hasStdin ? "pipe" : "ignore", "pipe", "pipe"],
        });
        running.add(child);
        const r: Ran = { code: null, signal: null, stdout: "", stderr: "", combined: "" };
        const logLines = (which: "stdout" | "stderr") => {
            let pending = "";
            return (chunk: string, flush = false) => {
                if (!opts.log || !opts.log[which]) return;
                pending += chunk;
                const lines = pending.split("\n");
                pending = flush ? "" : lines.pop()!;
                for (const line of lines) if (line !== "" || !flush) status(opts.log.urn, opts.log.scrub(line));
            };
        };
        const logOut = logLines("stdout");
        const logErr = logLines("stderr");
        child.stdout?.setEncoding("utf8").on("data", (d: string) => ((r.stdout += d), (r.combined += d), logOut(d)));
        child.stderr?.setEncoding("utf8").on("data", (d: string) => ((r.stderr += d), (r.combined += d), logErr(d)));
        if (hasStdin) {
            child.stdin!.on("error", () => undefined); // a command that does not read its stdin
            child.stdin!.end(opts.stdin);
        }
        child.on("error", (e) => {
            running.delete(child);
            r.spawnError = e;
            resolve(r);
        });
        child.on("close", (code, signal) => {
            running.delete(child);
            logOut("", true);
            logErr("", true);
            r.code = code;
            r.signal = signal;
            resolve(r);
        });
    });
}

const trimNewline = (s: string) => (s.endsWith("\n") ? s.slice(0, -1) : s);

function loggingOf(inputs: Record<string, any>, urn: string, scrub: (s: string) => string): RunOptions["log"] {
    const l = reveal(inputs.logging) ?? "stdoutAndStderr";
    return { stdout: l === "stdout" || l === "stdoutAndStderr", stderr: l === "stderr" || l === "stdoutAndStderr", urn, scrub };
}

/** Environment for the next run: PULUMI_COMMAND_STDOUT/STDERR from the previous create/update unless turned off. */
function previousOutputEnv(state: Record<string, any>): Record<string, string> {
    const env: Record<string, string> = {};
    if (reveal(state.addPreviousOutputInEnv) === false) return env;
    const out = reveal(state.stdout);
    const err = reveal(state.stderr);
    if (typeof out === "string" && out !== "") env.PULUMI_COMMAND_STDOUT = out;
    if (typeof err === "string" && err !== "") env.PULUMI_COMMAND_STDERR = err;
    return env;
}

/** local/commandOutputs.go's run: interpreter (default /bin/sh -c), dir, environment, stdin. */
async function runLocal(urn: string, commandText: string, inputs: Record<string, any>, previous: Record<string, any>): Promise<{ stdout: string; stderr: string }> {
    const plain = reveal(inputs);
    const scrub = scrubber(secretStrings(inputs));
    const interpreter: string[] = Array.isArray(plain.interpreter) && plain.interpreter.length > 0 ? plain.interpreter : ["/bin/sh", "-c"];
    const env: NodeJS.ProcessEnv = { ...process.env, ...(plain.environment ?? {}), ...previousOutputEnv(previous) };
    const r = await runProcess(interpreter[0], [...interpreter.slice(1), commandText], {
        cwd: plain.dir ?? process.cwd(),
        env,
        stdin: plain.stdin,
        log: loggingOf(inputs, urn, scrub),
    });
    if (r.spawnError || r.code !== 0) {
        const why = r.spawnError ? `exec: ${JSON.stringify(interpreter[0])}: ${r.spawnError.message}` : r.signal ? `signal: ${r.signal}` : `exit status ${r.code}`;
        throw new Error(scrub(`${why}: running ${JSON.stringify(commandText)}:\n${r.combined}`));
    }
    return { stdout: trimNewline(r.stdout), stderr: trimNewline(r.stderr) };
}

// ---------------------------------------------------------------------------------------------------
// SSH: one connection (an OpenSSH ControlMaster) per operation, dialled with retries like the real
// provider's Dial; the command and the upload then run over it and are never retried.

interface Connection {
    host: string;
    port: number;
    user: string;
    privateKey?: string;
    password?: string;
    privateKeyPassword?: string;
    agentSocketPath?: string;
    dialErrorLimit: number;
    perDialTimeout: number;
    hostKey?: string;
    proxy?: Connection;
}

function connectionOf(value: any): Connection {
    const c = withConnectionDefaults(reveal(value) ?? {});
    if (typeof c.host !== "string" || c.host === "") throw new Error("connection.host is required");
    return c as Connection;
}

/** Options for one hop; key and known_hosts files live in `dir` (0700). Nothing secret is on the command line. */
function hopOptions(c: Connection, dir: string, tag: string): string[] {
    const opts = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", `User=${c.user}`, "-o", `Port=${c.port}`];
    if (c.perDialTimeout > 0) opts.push("-o", `ConnectTimeout=${c.perDialTimeout}`);
    if (c.privateKeyPassword !== undefined && c.privateKeyPassword !== null) {
        throw new Error("connection.privateKeyPassword is not supported by the command stand-in (OpenSSH would prompt for it)");
    }
    if (c.privateKey) {
        const keyFile = path.join(dir, `${tag}.key`);
        fs.writeFileSync(keyFile, c.privateKey.endsWith("\n") ? c.privateKey : `${c.privateKey}\n`, { mode: 0o600 });
        opts.push("-i", keyFile, "-o", "IdentitiesOnly=yes");
    } else if (c.password !== undefined && c.password !== null) {
        throw new Error("password authentication is not supported by the command stand-in (OpenSSH reads passwords from a terminal only); use privateKey");
    }
    if (c.hostKey) {
        const known = path.join(dir, `${tag}.known_hosts`);
        const name = c.port === 22 ? c.host : `[${c.host}]:${c.port}`;
        fs.writeFileSync(known, `${name} ${c.hostKey.trim()}\n`, { mode: 0o600 });
        opts.push("-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${known}`);
    } else {
        opts.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null");
    }
    return opts;
}

/** Temporary directories (keys, sockets) of operations under way: removed if the plugin exits mid-operation. */
const liveDirs = new Set<string>();
process.on("exit", () => {
    for (const dir of liveDirs) fs.rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => process.exit(128 + (signal === "SIGINT" ? 2 : 15)));
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

class SshSession {
    private constructor(
        private readonly dir: string,
        private readonly options: string[],
        private readonly host: string,
        private readonly env: NodeJS.ProcessEnv,
    ) {}

    static async open(connection: Connection, scrub: (s: string) => string, progress: (msg: string) => void): Promise<SshSession> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmd-ssh-"));
        fs.chmodSync(dir, 0o700);
        liveDirs.add(dir);
        try {
            const options = hopOptions(connection, dir, "target");
            if (connection.proxy) {
                const proxyOpts = hopOptions(connection.proxy, dir, "proxy");
                const proxyCommand = ["ssh", ...proxyOpts, "-W", "%h:%p", connection.proxy.host].map((a) => (a === "%h:%p" ? a : shQuote(a))).join(" ");
                options.push("-o", `ProxyCommand=${proxyCommand}`);
            }
            options.push("-o", `ControlPath=${path.join(dir, "cm")}`);
            const env: NodeJS.ProcessEnv = { ...process.env };
            if (connection.agentSocketPath) env.SSH_AUTH_SOCK = connection.agentSocketPath;
            const session = new SshSession(dir, options, connection.host, env);
            await session.dial(connection, scrub, progress);
            return session;
        } catch (e) {
            fs.rmSync(dir, { recursive: true, force: true });
            liveDirs.delete(dir);
            throw e;
        }
    }

    /** remote/connection.go's dialWithRetry: 100ms delay growing 1.5x up to 5s; gives up when dials > dialErrorLimit (-1: never). */
    private async dial(c: Connection, scrub: (s: string) => string, progress: (msg: string) => void): Promise<void> {
        const limit = c.dialErrorLimit;
        let delay = 100;
        for (let attempt = 0; ; attempt++) {
            const log = path.join(this.dir, "dial.log");
            fs.rmSync(log, { force: true });
            // -f: background once authenticated, so exit 0 means the connection is up (stdio ignored: the
            // backgrounded master must not hold our pipes; its messages go to the -E file). SendEnv=*: the
            // master forwards only what its own SendEnv allows of what a client sends, and the client
            // sends only the names its SendEnv lists (see exec).
            const r = await runProcess("ssh", [...this.options, "-o", "ControlMaster=yes", "-o", "ControlPersist=120", "-o", "SendEnv=*", "-E", log, "-f", "-N", this.host], { env: this.env, quiet: true });
            if (!r.spawnError && r.code === 0) {
                // Authenticated: the master holds the connection, so the key files go now, not at close.
                for (const f of fs.readdirSync(this.dir)) if (f.endsWith(".key")) fs.rmSync(path.join(this.dir, f), { force: true });
                // The commands that follow ride on the master: naming the removed key would only make each
                // ssh/sftp client warn "Identity file ... not accessible" into the command's output.
                for (let i = this.options.length - 2; i >= 0; i--) {
                    if (this.options[i] === "-i" && this.options[i + 1].startsWith(this.dir)) this.options.splice(i, 2);
                }
                return;
            }
            const message = r.spawnError ? r.spawnError.message : (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim() : "") || `ssh exited ${r.code}`;
            const dials = attempt + 1;
            if (limit > -1 && dials > limit) throw new Error(scrub(`after ${attempt} failed attempts: ${message}`));
            progress(`Dial ${dials}/${limit === -1 ? "inf" : limit} failed: retrying (${scrub(message.split("\n").pop() ?? "")})`);
            delay = Math.min(delay * 1.5, 5000);
            await new Promise((res) => setTimeout(res, delay));
        }
    }

    /** Runs `commandText` as the session's command (the login shell runs it, as session.Run does). */
    exec(commandText: string, opts: { stdin?: string; env: Record<string, string>; log: RunOptions["log"] }): Promise<Ran> {
        const names = Object.keys(opts.env);
        // Values travel in the ssh client's own environment and go out as SSH "env" requests (SendEnv);
        // sshd applies those its AcceptEnv allows, as with the real provider's session.Setenv.
        const sendEnv = names.length > 0 ? ["-o", `SendEnv=${names.join(" ")}`] : [];
        return runProcess("ssh", [...this.options, "-o", "ControlMaster=no", ...sendEnv, "-T", this.host, commandText], {
            env: { ...this.env, ...opts.env },
            stdin: opts.stdin,
            log: opts.log,
        });
    }

    /** sftp in batch mode over the same connection: parents made (errors ignored, like MkdirAll), then put. */
    async put(localPath: string, remotePath: string, recursive: boolean): Promise<Ran> {
        const q = (p: string) => {
            if (/[\n\r]/.test(p)) throw new Error(`path ${JSON.stringify(p)} holds a newline`);
            return `"${p.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
        };
        const parents: string[] = [];
        const absolute = remotePath.startsWith("/");
        const parts = path.posix.dirname(remotePath).split("/").filter((p) => p !== "" && p !== ".");
        for (let i = 1; i <= parts.length; i++) parents.push((absolute ? "/" : "") + parts.slice(0, i).join("/"));
        const batch = [...parents.map((p) => `-mkdir ${q(p)}`), `put ${recursive ? "-r " : ""}${q(localPath)} ${q(remotePath)}`].join("\n") + "\n";
        const batchFile = path.join(this.dir, "sftp.batch");
        fs.writeFileSync(batchFile, batch, { mode: 0o600 });
        return runProcess("sftp", [...this.options, "-o", "ControlMaster=no", "-q", "-b", batchFile, this.host], { env: this.env });
    }

    async close(): Promise<void> {
        await runProcess("ssh", [...this.options, "-O", "exit", this.host], { env: this.env });
        fs.rmSync(this.dir, { recursive: true, force: true });
        liveDirs.delete(this.dir);
    }
}

async function withSession<T>(urn: string, connectionValue: any, scrub: (s: string) => string, use: (s: SshSession) => Promise<T>): Promise<T> {
    const connection = connectionOf(connectionValue);
    const session = await SshSession.open(connection, scrub, (msg) => status(urn, msg));
    try {
        return await use(session);
    } finally {
        await session.close();
    }
}

/** remote/commandOutputs.go's run. */
async function runRemote(urn: string, commandText: string, inputs: Record<string, any>, previous: Record<string, any>): Promise<{ stdout: string; stderr: string }> {
    const plain = reveal(inputs);
    const scrub = scrubber(secretStrings(inputs));
    const env: Record<string, string> = { ...(plain.environment ?? {}), ...previousOutputEnv(previous) };
    const r = await withSession(urn, inputs.connection, scrub, (s) =>
        s.exec(commandText, { stdin: plain.stdin, env, log: loggingOf(inputs, urn, scrub) }),
    );
    if (r.spawnError || r.code !== 0) {
        const why = r.spawnError ? r.spawnError.message : r.signal ? `Process exited from signal ${r.signal}` : `Process exited with status ${r.code}`;
        throw new Error(scrub(`${why}: running ${JSON.stringify(commandText)}:\n${r.combined}`));
    }
    return { stdout: trimNewline(r.stdout), stderr: trimNewline(r.stderr) };
}

/** remote/copyController.go's copyToRemote: a file, a text asset or a directory archive, by sftp. */
async function copyToRemote(urn: string, inputs: Record<string, any>): Promise<void> {
    const scrub = scrubber(secretStrings(inputs));
    const source = reveal(inputs.source);
    const remotePath: string = reveal(inputs.remotePath);
    let local: string;
    let cleanup: string | undefined;
    if (isAsset(source) && typeof source.text === "string") {
        cleanup = fs.mkdtempSync(path.join(os.tmpdir(), "cmd-text-"));
        liveDirs.add(cleanup);
        local = path.join(cleanup, path.posix.basename(remotePath) || "asset");
        fs.writeFileSync(local, source.text, { mode: 0o644 }); // sftp gives a new remote file this mode
    } else if ((isAsset(source) || isArchive(source)) && typeof source.path === "string") {
        local = path.resolve(source.path);
    } else {
        throw new Error("source must be a path-based file asset, a text asset or a path archive");
    }
    try {
        const recursive = fs.statSync(local).isDirectory();
        const r = await withSession(urn, inputs.connection, scrub, (s) => s.put(local, remotePath, recursive));
        if (r.spawnError || r.code !== 0) {
            throw new Error(scrub(`copying ${local} to ${remotePath}: ${r.spawnError?.message ?? `sftp exited ${r.code}`}\n${r.combined}`));
        }
    } finally {
        if (cleanup) {
            fs.rmSync(cleanup, { recursive: true, force: true });
            liveDirs.delete(cleanup);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The provider

function randomHex(n = 8): string {
    return crypto.randomBytes(Math.ceil(n / 2)).toString("hex").slice(0, n);
}

/** State = the inputs as given (secrets stay wrapped; the connection is always secret) + outputs. */
function stateOf(inputs: Record<string, any>, outputs: Record<string, any> = {}): Record<string, any> {
    const state: Record<string, any> = {};
    for (const k of Object.keys(inputs)) if (!k.startsWith("__")) state[k] = inputs[k];
    if (state.connection !== undefined && !isSecret(state.connection)) state.connection = secret(reveal(state.connection));
    return { ...state, ...outputs };
}

const textOf = (v: any): string | undefined => {
    const t = reveal(v);
    return typeof t === "string" ? t : undefined;
};

export const provider: prov.Provider = {
    version: VERSION,

    async getSchema() {
        // Enough for the engine to know the package; the SDK in node_modules carries the full schema.
        return JSON.stringify({ name: "command", version: VERSION });
    },

    async check(urn, _olds, news) {
        return checkInputs(typeOf(urn), news ?? {});
    },

    async diff(_id, urn, olds, news) {
        return diffInputs(typeOf(urn), olds ?? {}, news ?? {});
    },

    async create(urn, inputs) {
        const type = typeOf(urn);
        const name = nameOf(urn);
        switch (type) {
            case LOCAL:
            case REMOTE: {
                const create = textOf(inputs.create);
                const out = create === undefined ? { stdout: "", stderr: "" } : await (type === LOCAL ? runLocal : runRemote)(urn, create, inputs, {});
                return { id: `${name}${randomHex()}`, outs: stateOf(inputs, out) };
            }
            case COPY:
                await copyToRemote(urn, inputs);
                return { id: randomHex(), outs: stateOf(inputs) };
            default:
                throw new Error(`the command stand-in does not implement ${type}`);
        }
    },

    async update(_id, urn, olds, news) {
        const type = typeOf(urn);
        switch (type) {
            case LOCAL:
            case REMOTE: {
                // `update` when given, else `create` again; neither: keep the previous stdout/stderr.
                const text = textOf(news.update) ?? textOf(news.create);
                const previous = { stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" };
                const out = text === undefined ? previous : await (type === LOCAL ? runLocal : runRemote)(urn, text, news, { ...previous, addPreviousOutputInEnv: news.addPreviousOutputInEnv });
                return { outs: stateOf(news, out) };
            }
            case COPY: {
                // Copy again only when the content or the destination changed (a new connection alone copies nothing).
                const oldHash = comparable(olds.source);
                const newHash = comparable(news.source);
                if (JSON.stringify(oldHash) !== JSON.stringify(newHash) || textOf(olds.remotePath) !== textOf(news.remotePath)) {
                    await copyToRemote(urn, news);
                }
                return { outs: stateOf(news) };
            }
            default:
                throw new Error(`the command stand-in does not implement ${type}`);
        }
    },

    async delete(_id, urn, props) {
        const type = typeOf(urn);
        if (type === COPY) return; // the real provider has no Delete: uploaded files stay
        if (type !== LOCAL && type !== REMOTE) throw new Error(`the command stand-in does not implement ${type}`);
        const text = textOf(props.delete);
        if (text === undefined) return;
        await (type === LOCAL ? runLocal : runRemote)(urn, text, props, props);
    },

    async cancel() {
        for (const child of running) child.kill("SIGTERM");
    },
};
