import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// The REAL Pulumi CLI driven from tests and benchmarks: each PulumiWorkspace is one project directory with
// its own file backend and PULUMI_HOME in a temp dir, the repository's offline settings and stand-in
// plugins (scripts/pulumi-env.sh, sourced rather than copied), and a transcript of everything the CLI
// printed (to search for secrets). Nothing here imitates the engine.

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** What one CLI run left behind. */
export interface CliRun {
    code: number;
    /** stdout and stderr, interleaved as they came. */
    out: string;
}

let cachedEnv: NodeJS.ProcessEnv | undefined;

/** The environment scripts/pulumi-env.sh sets up (offline settings, passphrase, plugins on PATH). */
export function pulumiEnvironment(): NodeJS.ProcessEnv {
    if (!cachedEnv) {
        const dump = execFileSync("bash", ["-c", `source "${REPO_ROOT}/scripts/pulumi-env.sh" && env -0`], { encoding: "utf8" });
        cachedEnv = {};
        for (const entry of dump.split("\0")) {
            const i = entry.indexOf("=");
            if (i > 0) cachedEnv[entry.slice(0, i)] = entry.slice(i + 1);
        }
    }
    return cachedEnv;
}

/** Fails loudly when the CLI is missing: a test that needs the real engine never passes without it. */
export function requirePulumiCli(): string {
    try {
        return execFileSync("pulumi", ["version"], { env: pulumiEnvironment(), encoding: "utf8", stdio: "pipe" }).trim();
    } catch (err) {
        throw new Error(
            "The Pulumi CLI is not installed (`pulumi version` failed): this needs the REAL engine. " +
                `Run \`bash scripts/setup-machine.sh\` (it runs scripts/setup-pulumi.sh). ${(err as Error).message}`,
        );
    }
}

/**
 * Links the repository's node_modules into `dir`, so a program there resolves @pulumi/* and `lisp-deploy`
 * (node_modules/lisp-deploy -> the repository, see scripts/link-package.js) from this checkout.
 */
export function linkNodeModules(dir: string): void {
    execFileSync("node", [path.join(REPO_ROOT, "scripts", "link-package.js")]);
    const link = path.join(dir, "node_modules");
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), link, "dir");
}

/** One Pulumi project directory driven by the real CLI, with state and PULUMI_HOME of its own. */
export class PulumiWorkspace {
    /** Everything the CLI printed, run by run. */
    readonly transcript: string[] = [];
    readonly stateDir: string;
    private readonly env: NodeJS.ProcessEnv;

    /**
     * @param projectDir the directory holding Pulumi.yaml
     * @param scratch a temp directory this workspace may fill (state, PULUMI_HOME)
     */
    constructor(
        readonly projectDir: string,
        scratch: string,
        extraEnv: Record<string, string> = {},
    ) {
        requirePulumiCli();
        this.stateDir = path.join(scratch, "state");
        fs.mkdirSync(this.stateDir, { recursive: true });
        this.env = {
            ...pulumiEnvironment(),
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_HOME: path.join(scratch, "pulumi-home"),
            NO_COLOR: "1",
            ...extraEnv,
        };
    }

    /** Runs `pulumi ARGS --non-interactive` in the project, bounded in time; never throws for a non-zero exit. */
    run(args: string[], timeoutMs = 15 * 60 * 1000, input?: string): Promise<CliRun> {
        return new Promise((resolve, reject) => {
            const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.projectDir, env: this.env, stdio: ["pipe", "pipe", "pipe"] });
            child.stdin.end(input ?? "");
            let out = "";
            child.stdout.on("data", (d) => (out += d));
            child.stderr.on("data", (d) => (out += d));
            const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
            child.on("error", reject);
            child.on("close", (code) => {
                clearTimeout(timer);
                this.transcript.push(`$ pulumi ${args.join(" ")}\n${out}`);
                resolve({ code: code ?? -1, out });
            });
        });
    }

    /** Like run, but throws with the CLI's output when it fails. */
    async ok(args: string[], timeoutMs?: number, input?: string): Promise<string> {
        const r = await this.run(args, timeoutMs, input);
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.out.slice(-12000)}`);
        return r.out;
    }

    /** Creates (or selects) a stack and sets plain config on it. */
    async initStack(stack: string, config: Record<string, string> = {}): Promise<void> {
        await this.ok(["stack", "select", "--create", stack]);
        for (const [k, v] of Object.entries(config)) await this.ok(["config", "set", "--stack", stack, k, v]);
    }

    /** `pulumi config set --secret`, the value on stdin (never on a command line a process list shows). */
    async setSecret(stack: string, key: string, value: string): Promise<void> {
        await this.ok(["config", "set", "--secret", "--stack", stack, key], undefined, value);
    }

    up(stack: string, flags: string[] = []): Promise<CliRun> {
        return this.run(["up", "--yes", "--skip-preview", "--stack", stack, ...flags]);
    }

    preview(stack: string, flags: string[] = []): Promise<CliRun> {
        return this.run(["preview", "--stack", stack, ...flags]);
    }

    destroy(stack: string): Promise<CliRun> {
        return this.run(["destroy", "--yes", "--skip-preview", "--stack", stack]);
    }

    /** The stack's outputs (`pulumi stack output --json`), secrets shown in plain form for assertions. */
    async outputs(stack: string): Promise<Record<string, any>> {
        return JSON.parse(await this.ok(["stack", "output", "--json", "--show-secrets", "--stack", stack]));
    }

    /** The state as `pulumi stack export` prints it (secrets stay encrypted). */
    async exportState(stack: string): Promise<{ text: string; resources: any[] }> {
        const text = await this.ok(["stack", "export", "--stack", stack]);
        return { text, resources: JSON.parse(text).deployment.resources ?? [] };
    }
}

/** A fresh temp directory for one workspace. */
export function scratchDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * Writes a throwaway JavaScript Pulumi project into `dir` (Pulumi.yaml, package.json, index.js holding
 * `program`) whose program resolves @pulumi/* and `lisp-deploy` from this checkout.
 */
export function writeProgram(dir: string, name: string, program: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\nmain: index.js\n`);
    fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name, private: true, main: "index.js" })}\n`);
    fs.writeFileSync(path.join(dir, "index.js"), program);
    linkNodeModules(dir);
}
