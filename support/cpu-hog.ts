import { ChildProcess, spawn } from "child_process";
import * as os from "os";

/**
 * Busy loops, one per core (at least `cores`), at normal priority: a machine busy with other work during a
 * release, as a user's server is. stop() ends them. Each loop also ends by itself after `maxSeconds`, so a
 * crashed caller never leaves one spinning.
 */
export function startCpuHog(opts: { cores?: number; maxSeconds?: number } = {}) {
    const cores = Math.max(opts.cores ?? os.cpus().length, 1);
    const maxSeconds = opts.maxSeconds ?? 900;
    const loops: ChildProcess[] = Array.from({ length: cores }, () =>
        spawn("timeout", [String(maxSeconds), "sh", "-c", "while :; do :; done"], { stdio: "ignore" }),
    );
    return {
        cores,
        stop(): void {
            for (const p of loops) if (p.exitCode === null) p.kill("SIGTERM"); // timeout passes SIGTERM on to its loop
        },
    };
}
