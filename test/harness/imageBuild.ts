import { spawnSync } from "child_process";
import * as http from "http";
import * as pulumi from "@pulumi/pulumi";
import { BuildRecord, buildImage } from "./dockerActs";

/** One `docker build` the acting mock ran, with its full output. */
export type RecordedBuild = BuildRecord;

/**
 * An `act` for RecordingMocks that performs what the Docker provider would for `docker:index/image:Image`:
 * a real `docker build` with exactly the recorded inputs, answered with the built image's id as repoDigest.
 * The build fails the program when docker build fails, with its output in the error.
 */
export function dockerBuildAct(builds: RecordedBuild[]) {
    return async (args: pulumi.runtime.MockResourceArgs): Promise<Record<string, any> | undefined> =>
        args.type === "docker:index/image:Image" ? buildImage(args.inputs, builds) : undefined;
}

/** For each stage of a classic-builder build output: its steps and whether each came from cache. */
export function stepsByStage(output: string): Map<string, { instruction: string; cached: boolean }[]> {
    const stages = new Map<string, { instruction: string; cached: boolean }[]>();
    let current = "";
    for (const chunk of output.split(/^Step \d+\/\d+ : /m).slice(1)) {
        const instruction = chunk.split("\n")[0];
        const from = /^FROM \S+ AS (\S+)/i.exec(instruction);
        if (from) {
            current = from[1];
            stages.set(current, []);
            continue;
        }
        stages.get(current)?.push({ instruction, cached: /^ ---> Using cache$/m.test(chunk) });
    }
    return stages;
}

/** GET http://127.0.0.1:port/path once. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("timeout")));
    });
}

/** Polls until GET answers 200 (or `timeoutMs` passes, then throws with the last error). */
export async function waitFor200(port: number, path = "/", timeoutMs = 30000): Promise<{ status: number; body: string }> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const res = await httpGet(port, path);
            if (res.status === 200) return res;
            last = new Error(`status ${res.status}`);
        } catch (e) {
            last = e;
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no 200 from 127.0.0.1:${port}${path} within ${timeoutMs} ms: ${(last as Error)?.message}`);
}

/** Runs `docker` and returns stdout; throws with stderr on failure. */
export function docker(...argv: string[]): string {
    const r = spawnSync("docker", argv, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`docker ${argv.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
    return r.stdout;
}

/** Removes containers and images by name, ignoring ones already gone (test teardown). */
export function removeDockerObjects(containers: string[], images: string[]): void {
    if (containers.length) spawnSync("docker", ["rm", "-f", ...containers], { stdio: "ignore" });
    if (images.length) spawnSync("docker", ["rmi", "-f", ...images], { stdio: "ignore" });
}
