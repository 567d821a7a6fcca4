import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// Real actions for the Docker provider's resources, shared by the acting stand-in for the Pulumi engine,
// the integration tests and `npm run up`. Each takes the inputs exactly as the program registered them
// (secrets already unwrapped) and does what @pulumi/docker would do with the local engine.
// They run docker asynchronously: Pulumi's mock monitor must keep answering while a build runs.

/** What a finished docker command left behind. */
export interface DockerResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs `docker` without blocking the event loop; never throws for a non-zero exit. */
export function dockerAsync(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<DockerResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("docker", argv, { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

async function dockerOk(argv: string[], env?: NodeJS.ProcessEnv): Promise<DockerResult> {
    const r = await dockerAsync(argv, env);
    if (r.code !== 0) throw new Error(`docker ${argv.join(" ")} failed (exit ${r.code}):\n${`${r.stdout}${r.stderr}`.slice(-6000)}`);
    return r;
}

/** One `docker build` performed for a `docker:index/image:Image`, with its full output. */
export interface BuildRecord {
    imageName: string;
    args: string[];
    output: string;
    imageId: string;
}

/**
 * `docker:index/image:Image`: a real classic-builder `docker build` of exactly the recorded inputs, answered
 * with the image id as repoDigest (what the provider reports for a local-only image).
 */
export async function buildImage(inputs: Record<string, any>, builds?: BuildRecord[]): Promise<Record<string, any>> {
    const build = inputs.build;
    if (build.builderVersion !== "BuilderV1") throw new Error(`expected the classic builder, got ${build.builderVersion}`);
    const argv = ["build", "-f", build.dockerfile, "--target", build.target, "-t", inputs.imageName];
    if (build.network) argv.push("--network", build.network);
    if (build.platform) argv.push("--platform", build.platform);
    for (const image of build.cacheFrom?.images ?? []) argv.push("--cache-from", image);
    argv.push(build.context);
    const r = await dockerOk(argv, { ...process.env, DOCKER_BUILDKIT: "0" });
    const imageId = (await dockerOk(["image", "inspect", "--format", "{{.Id}}", inputs.imageName])).stdout.trim();
    builds?.push({ imageName: inputs.imageName, args: argv, output: `${r.stdout}${r.stderr}`, imageId });
    return { repoDigest: imageId };
}

/**
 * The `docker run` arguments for a `docker:index/container:Container`'s inputs (the subset lisp-deploy
 * uses). The environment travels in `envFile` (0600), never on the command line, where secret values
 * would show in the process list.
 */
export function containerRunArgs(inputs: Record<string, any>, envFile: string): string[] {
    const argv = ["run", "-d", "--name", inputs.name, "--env-file", envFile];
    if (inputs.restart) argv.push("--restart", inputs.restart);
    if (inputs.networkMode) argv.push("--network", inputs.networkMode);
    for (const p of inputs.ports ?? []) argv.push("-p", `${p.ip ? `${p.ip}:` : ""}${p.external ?? ""}:${p.internal}/${p.protocol ?? "tcp"}`);
    argv.push(inputs.image);
    return argv;
}

/**
 * `docker:index/container:Container` created or replaced (the provider replaces a container whose image or
 * environment changed): remove any container of that name, then `docker run -d`. Answers with its id.
 */
export async function runContainer(inputs: Record<string, any>): Promise<Record<string, any>> {
    await removeContainer(inputs);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "container-env-"));
    const envFile = path.join(dir, "env");
    fs.writeFileSync(envFile, (inputs.envs ?? []).map((e: string) => `${e}\n`).join(""), { mode: 0o600 });
    try {
        const r = await dockerOk(containerRunArgs(inputs, envFile));
        return { containerId: r.stdout.trim() };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `docker:index/container:Container` deleted: `docker rm -f`, quietly when it is already gone. */
export async function removeContainer(inputs: Record<string, any>): Promise<void> {
    await dockerAsync(["rm", "-f", inputs.name]);
}
