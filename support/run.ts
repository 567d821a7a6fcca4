import { spawn } from "child_process";

/** What a finished process left behind. */
export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs a program without blocking the event loop (Pulumi's mock monitor must keep answering while
 * a real action runs), feeding `input` on stdin. Never throws for a non-zero exit: callers decide.
 */
export function run(file: string, args: string[], options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.on("error", () => undefined);
        child.stdin.end(options.input ?? "");
    });
}

/** Like {@link run} but throws with the output when the exit code is not 0. */
export async function runOk(file: string, args: string[], options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    const result = await run(file, args, options);
    if (result.code !== 0) {
        throw new Error(`${file} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    }
    return result;
}
