import { execFileSync } from "child_process";
import * as net from "net";

/** Heroku stops a web dyno that has not bound $PORT within 60 s of starting (error R10, boot timeout). */
export const HEROKU_BOOT_LIMIT_MS = 60_000;

/** What a boot check saw. */
export interface BootResult {
    /** Milliseconds from `docker run` returning the container id until a TCP connect to PORT succeeded. */
    bindMs: number;
    /** True if that was within Heroku's 60 s boot limit. */
    withinHerokuLimit: boolean;
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port });
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

/**
 * Starts an image the way Heroku starts a web dyno (its default command, only PORT set in the environment,
 * host network so the port is on 127.0.0.1) and measures how long it takes to bind that port. Fails like
 * Heroku's R10 if it has not bound within 60 s, or if the container exits first. The container is always
 * removed. test/integration/heroku-lisp.test.ts uses it on the Lisp runtime image LispImage builds.
 */
export async function bootOnPort(image: string, port: number, containerName: string): Promise<BootResult> {
    if (await canConnect(port)) throw new Error(`127.0.0.1:${port} is already in use; pick a free port for the boot check.`);
    const rm = () => {
        try {
            execFileSync("docker", ["rm", "-f", containerName], { stdio: "pipe" });
        } catch {
            /* not there */
        }
    };
    rm();
    try {
        execFileSync("docker", ["run", "-d", "--name", containerName, "--network", "host", "--env", `PORT=${port}`, image], { stdio: "pipe" });
        const started = Date.now();
        for (;;) {
            if (await canConnect(port)) {
                const bindMs = Date.now() - started;
                return { bindMs, withinHerokuLimit: bindMs <= HEROKU_BOOT_LIMIT_MS };
            }
            const running = execFileSync("docker", ["inspect", "--format", "{{.State.Running}}", containerName], { encoding: "utf8" }).trim();
            if (running !== "true") {
                const logs = execFileSync("docker", ["logs", containerName], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
                throw new Error(`${image} exited before binding PORT=${port}. Its output:\n${logs}`);
            }
            if (Date.now() - started > HEROKU_BOOT_LIMIT_MS) {
                throw new Error(`${image} did not bind PORT=${port} within Heroku's 60 s boot limit (R10 boot timeout).`);
            }
            await new Promise((r) => setTimeout(r, 50));
        }
    } finally {
        rm();
    }
}
