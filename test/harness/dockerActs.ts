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

/** One `docker build` performed for a `docker:index/image:Image`, with its full output (`imageId` "" when it failed). */
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
    const r = await dockerAsync(argv, { ...process.env, DOCKER_BUILDKIT: "0" });
    const output = `${r.stdout}${r.stderr}`;
    if (r.code !== 0) {
        // Recorded all the same: a test of a failing build reads what the build printed.
        builds?.push({ imageName: inputs.imageName, args: argv, output, imageId: "" });
        throw new Error(`docker ${argv.join(" ")} failed (exit ${r.code}):\n${output.slice(-6000)}`);
    }
    const imageId = (await dockerOk(["image", "inspect", "--format", "{{.Id}}", inputs.imageName])).stdout.trim();
    builds?.push({ imageName: inputs.imageName, args: argv, output, imageId });
    return { repoDigest: imageId };
}

/**
 * The `docker run` arguments for a `docker:index/container:Container`'s inputs (the subset lisp-deploy
 * uses). The environment travels in `envFile` (0600), never on the command line, where secret values
 * would show in the process list.
 */
export function containerCreateArgs(inputs: Record<string, any>, envFile: string): string[] {
    const argv = ["create", "--name", inputs.name, "--env-file", envFile];
    const [entrypoint, ...entrypointArgs] = inputs.entrypoints ?? [];
    if (entrypoint) argv.push("--entrypoint", entrypoint);
    if (inputs.restart) argv.push("--restart", inputs.restart);
    if (inputs.networkMode) argv.push("--network", inputs.networkMode);
    for (const p of inputs.ports ?? []) argv.push("-p", `${p.ip ? `${p.ip}:` : ""}${p.external ?? ""}:${p.internal}/${p.protocol ?? "tcp"}`);
    argv.push(inputs.image, ...entrypointArgs);
    return argv;
}

/**
 * `docker:index/container:Container` created or replaced (the provider replaces a container whose image or
 * environment changed): remove any container of that name, `docker create`, upload the files (owner and
 * mode kept, from 0600 temp files), `docker start`. Answers with its id.
 */
export async function runContainer(inputs: Record<string, any>): Promise<Record<string, any>> {
    await removeContainer(inputs);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "container-env-"));
    const envFile = path.join(dir, "env");
    fs.writeFileSync(envFile, (inputs.envs ?? []).map((e: string) => `${e}\n`).join(""), { mode: 0o600 });
    try {
        const id = (await dockerOk(containerCreateArgs(inputs, envFile))).stdout.trim();
        for (const [i, upload] of (inputs.uploads ?? []).entries()) {
            // Like the provider: a tar stream carrying the file's owner and mode, unpacked by the engine.
            const staged = path.join(dir, `upload-${i}`);
            fs.mkdirSync(staged);
            fs.writeFileSync(path.join(staged, path.posix.basename(upload.file)), upload.content ?? "", { mode: 0o600 });
            const tar = [
                "tar", "-c", "-C", staged,
                `--owner=${upload.owner ?? 0}`, `--group=${upload.group ?? upload.owner ?? 0}`, `--mode=${upload.permissions ?? "0644"}`, "--numeric-owner",
                path.posix.basename(upload.file),
            ];
            const script = `${tar.map(shellWord).join(" ")} | docker cp - ${shellWord(`${id}:${path.posix.dirname(upload.file)}`)}`;
            const r = await new Promise<DockerResult>((resolve, reject) => {
                const child = spawn("bash", ["-o", "pipefail", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
                let out = "";
                child.stdout.on("data", (d) => (out += d));
                child.stderr.on("data", (d) => (out += d));
                child.on("error", reject);
                child.on("close", (code) => resolve({ code: code ?? -1, stdout: out, stderr: "" }));
            });
            if (r.code !== 0) throw new Error(`upload of ${upload.file} into ${inputs.name} failed: ${r.stdout}`);
        }
        await dockerOk(["start", id]);
        return { containerId: id };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `docker:index/container:Container` deleted: `docker rm -f`, quietly when it is already gone. */
export async function removeContainer(inputs: Record<string, any>): Promise<void> {
    await dockerAsync(["rm", "-f", inputs.name]);
}

function shellWord(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}
