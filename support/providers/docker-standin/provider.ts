// A stand-in for the `pulumi-resource-docker` plugin (pulumi-docker v5), which cannot be built on this machine.
// It implements exactly the resources lisp-deploy registers, `docker:index/image:Image` (classic builder
// only), `docker:index/container:Container` and `docker:index/volume:Volume` (the subsets in
// src/release/local/localRelease.ts), with the real
// provider's diff semantics, and performs the real actions against the local Docker engine with the docker CLI.
// See README.md next to this file for what it implements, what it does not, and where each rule comes from.
//
// stdout belongs to the engine handshake (the port number): nothing here writes to it.
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import dockerignore from "@balena/dockerignore";
import type * as prov from "@pulumi/pulumi/provider";

const STANDIN = "docker stand-in (support/providers/docker-standin, standing in for pulumi-resource-docker)";
const IMAGE = "docker:index/image:Image";
const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";

// How the provider host hands over values it cannot express in plain JSON (see @pulumi/pulumi runtime/rpc).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

// ---------------------------------------------------------------------------------------------------------
// Values

function isSecret(v: any): boolean {
    return v !== null && typeof v === "object" && v[SECRET_SIG_KEY] === SECRET_SIG;
}

function makeSecret(value: any): any {
    return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

/** The plain value, with every secret wrapper removed (for acting on it, never for logging it). */
export function reveal(v: any): any {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    return v;
}

/** True when the value is, or contains, a value the engine does not know yet (only during previews). */
export function hasUnknown(v: any): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(hasUnknown);
    if (v !== null && typeof v === "object") return Object.values(v).some(hasUnknown);
    return false;
}

/** Stable JSON: object keys sorted, nulls dropped (the engine's SkipNulls), secrets revealed. */
function canonical(v: any): string {
    const norm = (x: any): any => {
        if (Array.isArray(x)) return x.map(norm);
        if (x !== null && typeof x === "object") {
            return Object.fromEntries(
                Object.keys(x)
                    .sort()
                    .filter((k) => x[k] !== null && x[k] !== undefined)
                    .map((k) => [k, norm(x[k])]),
            );
        }
        return x;
    };
    return JSON.stringify(norm(reveal(v)) ?? null);
}

function isEmpty(v: any): boolean {
    return v === undefined || v === null;
}

function typeOf(urn: string): string {
    // urn:pulumi:<stack>::<project>::<parent types$>type::<name>
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? "";
}

function notImplemented(urn: string): Error {
    return new Error(
        `${STANDIN}: resource type "${typeOf(urn)}" is not implemented; it implements only ${IMAGE}, ${CONTAINER} and ${VOLUME}, ` +
            `the ones lisp-deploy uses. The real provider cannot be built on this machine (see support/providers/docker-standin/README.md).`,
    );
}

function log(message: string): void {
    process.stderr.write(`docker-standin: ${message}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// Running docker

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

function run(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, argv, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(opts.stdin ?? "");
    });
}

/** Runs docker; throws with the (tail of the) output when it fails. `shown` is what the error says was run. */
async function docker(argv: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; shown?: string } = {}): Promise<Run> {
    const r = await run("docker", argv, opts);
    if (r.code !== 0) {
        const out = `${r.stdout}${r.stderr}`.trim();
        throw new Error(`${opts.shown ?? `docker ${argv.join(" ")}`} failed (exit ${r.code}): ${out.slice(-6000)}`);
    }
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// docker:index/image:Image
//
// Mirrors pulumi-docker's native Image resource (provider/provider.go, provider/image.go): Check fills in the
// build defaults (context ".", dockerfile <context>/Dockerfile, platform linux/<host arch>, buildOnPreview
// false) and an implicit `build.contextDigest`, a hash of the Dockerfile and of every file of the context not
// excluded by .dockerignore; Diff compares the old inputs with the new ones (a change of the registry's
// username or password alone is no change) and never asks for a replacement: any change rebuilds in place.
// The state keeps the outputs plus the inputs under `__inputs` (secret), like the real provider's checkpoint.

function hostPlatform(): string {
    const arch = ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[process.arch] ?? process.arch;
    return `linux/${arch}`;
}

function ignorePatterns(contextDir: string, dockerfile: string): string[] {
    // Like the real provider: <Dockerfile>.dockerignore first, else the context's .dockerignore.
    for (const candidate of [`${dockerfile}.dockerignore`, path.join(contextDir, ".dockerignore")]) {
        if (fs.existsSync(candidate)) return fs.readFileSync(candidate, "utf8").split(/\r?\n/);
    }
    return [];
}

/**
 * The digest of what a build would send: the Dockerfile (under the fixed name "Dockerfile") and each file of
 * the context that .dockerignore does not exclude, by relative path, mode and content (a symlink by its
 * target path). Changes whenever the build's input files change, whatever the resource inputs say.
 */
export function hashContext(contextDir: string, dockerfile: string): string {
    const patterns = ignorePatterns(contextDir, dockerfile);
    const ignore = dockerignore().add(patterns);
    // A directory that matches a rule is still entered when a `!` rule may re-include something under it.
    const reincludes = patterns.some((p) => p.trim().startsWith("!"));
    const acc = crypto.createHash("sha256");
    const add = (file: string, name: string, stat: fs.Stats | undefined) => {
        const h = crypto.createHash("sha256");
        let mode = "";
        if (stat?.isSymbolicLink()) {
            h.update(path.posix.normalize(fs.readlinkSync(file).split(path.sep).join("/")));
            mode = "L";
        } else {
            h.update(fs.readFileSync(file));
            mode = stat ? (stat.mode & 0o7777).toString(8) : "";
        }
        acc.update(name);
        acc.update(mode);
        acc.update(h.digest());
        acc.update(Buffer.from([0]));
    };
    add(dockerfile, "Dockerfile", undefined);
    const walk = (rel: string) => {
        const entries = fs.readdirSync(path.join(contextDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
            const relPath = rel === "" ? e.name : `${rel}/${e.name}`;
            if (ignore.ignores(relPath) && !(e.isDirectory() && reincludes)) continue;
            const full = path.join(contextDir, relPath);
            const stat = fs.lstatSync(full);
            if (stat.isDirectory()) walk(relPath);
            else if (!ignore.ignores(relPath) && (stat.isFile() || stat.isSymbolicLink())) add(full, relPath, stat);
        }
    };
    walk("");
    return acc.digest("hex");
}

async function checkImage(news: any): Promise<prov.CheckResult> {
    const inputs = { ...news };
    const failures: prov.CheckFailure[] = [];
    if (isEmpty(inputs.imageName)) failures.push({ property: "imageName", reason: "imageName is required" });
    if (isEmpty(inputs.buildOnPreview)) inputs.buildOnPreview = false;

    if (inputs.build === UNKNOWN) return { inputs, failures };
    const build = isEmpty(inputs.build) ? {} : { ...inputs.build };
    if (isEmpty(build.context)) build.context = ".";
    if (isEmpty(build.dockerfile) && build.context !== UNKNOWN) build.dockerfile = path.posix.join(build.context, "Dockerfile");
    if (isEmpty(build.platform)) build.platform = hostPlatform();
    if (!isEmpty(build.builderVersion) && build.builderVersion !== UNKNOWN && build.builderVersion !== "BuilderV1") {
        failures.push({
            property: "build.builderVersion",
            reason: `${STANDIN} builds with the classic builder only ("BuilderV1"); got "${build.builderVersion}"`,
        });
    }
    if (isEmpty(build.builderVersion)) {
        failures.push({
            property: "build.builderVersion",
            reason: `the real provider's default is BuildKit, which ${STANDIN} does not implement: set builderVersion "BuilderV1"`,
        });
    }
    if (typeof build.context === "string" && build.context !== UNKNOWN && typeof build.dockerfile === "string" && build.dockerfile !== UNKNOWN) {
        if (!fs.existsSync(build.dockerfile)) {
            const inContext = path.join(build.context, build.dockerfile);
            failures.push({
                property: "build.dockerfile",
                reason: fs.existsSync(inContext)
                    ? `could not open dockerfile at relative path "${build.dockerfile}". Try setting \`dockerfile\` to "${inContext}"`
                    : `could not open dockerfile at relative path "${build.dockerfile}" (relative to ${process.cwd()})`,
            });
        } else if (!fs.existsSync(build.context) || !fs.statSync(build.context).isDirectory()) {
            failures.push({ property: "build.context", reason: `build context "${build.context}" is not a directory (relative to ${process.cwd()})` });
        } else {
            build.contextDigest = hashContext(build.context, build.dockerfile);
        }
    }
    inputs.build = build;
    return { inputs, failures };
}

function oldImageInputs(olds: any): any {
    return reveal(olds?.__inputs ?? olds ?? {});
}

/** The top-level input properties whose change makes an update (the real provider never replaces an Image). */
export function diffImage(olds: any, news: any): prov.DiffResult {
    const before = oldImageInputs(olds);
    const after = reveal(news);
    const changed: string[] = [];
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (key === "__inputs") continue;
        const a = before[key];
        const b = after[key];
        if (hasUnknown(b)) {
            changed.push(key);
            continue;
        }
        if (key === "registry") {
            // Only the server counts: credentials rotate without anything to rebuild.
            if ((a?.server ?? null) !== (b?.server ?? null)) changed.push(key);
            continue;
        }
        if (canonical(a) !== canonical(b)) changed.push(key);
    }
    return { changes: changed.length > 0, replaces: [] };
}

/** `registry/name` as the registry reports it in a digest reference (docker.io names normalized). */
function repositoryOf(imageName: string): string {
    let name = imageName;
    const at = name.indexOf("@");
    if (at >= 0) name = name.slice(0, at);
    const lastSlash = name.lastIndexOf("/");
    const colon = name.lastIndexOf(":");
    if (colon > lastSlash) name = name.slice(0, colon);
    const first = name.split("/")[0];
    const hasDomain = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    if (hasDomain) return name;
    return name.includes("/") ? `docker.io/${name}` : `docker.io/library/${name}`;
}

function registryHost(imageName: string, server: string | undefined): string {
    if (server) return server.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const repo = repositoryOf(imageName);
    return repo.split("/")[0];
}

async function buildImage(inputs: any): Promise<{ id: string; outs: any }> {
    const plain = reveal(inputs);
    const build = plain.build ?? {};
    const imageName: string = plain.imageName;
    if (build.builderVersion !== "BuilderV1") throw new Error(`${STANDIN}: only builderVersion "BuilderV1" is implemented`);

    const argv = ["build", "-f", build.dockerfile, "-t", imageName];
    if (build.target) argv.push("--target", build.target);
    if (build.network) argv.push("--network", build.network);
    if (build.platform) argv.push("--platform", build.platform);
    for (const host of build.addHosts ?? []) argv.push("--add-host", host);
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: "0" };
    // Build args travel in the environment (`--build-arg NAME` takes the value from it), not on the command line.
    for (const [k, v] of Object.entries<string>(build.args ?? {})) {
        argv.push("--build-arg", k);
        env[k] = String(v);
    }
    for (const image of build.cacheFrom?.images ?? []) argv.push("--cache-from", image);
    argv.push(build.context);

    const outs: Record<string, any> = {
        dockerfile: path.relative(build.context, build.dockerfile).split(path.sep).join("/"),
        context: build.context,
        baseImageName: imageName,
        registryServer: plain.registry?.server ?? "",
        imageName,
        platform: build.platform,
    };

    const needsLogin = !plain.skipPush && plain.registry?.username && plain.registry?.password;
    const configDir = needsLogin ? fs.mkdtempSync(path.join(os.tmpdir(), "docker-standin-config-")) : undefined;
    try {
        if (configDir) env.DOCKER_CONFIG = configDir;
        for (const image of build.cacheFrom?.images ?? []) {
            // Like the real provider: pull cache images first; a failure is not fatal.
            const r = await run("docker", ["pull", ...(build.platform ? ["--platform", build.platform] : []), image], { env });
            if (r.code !== 0) log(`cacheFrom image ${image} not available: ${r.stderr.trim().split("\n").pop()}`);
        }
        await docker(argv, { env });
        const imageId = (await docker(["image", "inspect", "--format", "{{.Id}}", imageName])).stdout.trim();
        if (plain.skipPush) {
            outs.repoDigest = imageId;
        } else {
            if (configDir) {
                const server = registryHost(imageName, plain.registry.server);
                await docker(["login", "--username", plain.registry.username, "--password-stdin", server], {
                    env,
                    stdin: plain.registry.password,
                    shown: `docker login --username ${plain.registry.username} --password-stdin ${server}`,
                });
            }
            const pushed = await docker(["push", imageName], { env });
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
            if (!digest) throw new Error(`docker push ${imageName} reported no digest:\n${pushed.stdout.slice(-2000)}`);
            outs.repoDigest = `${repositoryOf(imageName)}@${digest}`;
        }
    } finally {
        if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
    }
    // Secret inputs (the registry password) stay encrypted in the state: the whole input bag is kept as a secret.
    return { id: imageName, outs: { ...outs, __inputs: makeSecret(reveal(inputs)) } };
}

// ---------------------------------------------------------------------------------------------------------
// docker:index/container:Container
//
// Mirrors the Terraform-bridged Container (pulumi-docker's schema.json `willReplaceOnChanges`, i.e. the
// upstream kreuzwerker/terraform-provider-docker ForceNew attributes). The state holds the inputs plus what
// inspection reports.

/** Container inputs this stand-in implements, and whether a change to each replaces the container. */
export const CONTAINER_PROPERTIES: Record<string, "replace" | "update"> = {
    name: "replace",
    image: "replace",
    envs: "replace",
    networkMode: "replace",
    ports: "replace",
    entrypoints: "replace",
    uploads: "replace",
    volumes: "replace",
    restart: "update",
    mustRun: "update",
};
/** Properties Terraform holds as sets: their order is no change. */
const SET_PROPERTIES = new Set(["envs", "uploads", "volumes"]);
/** The fields of a Container's `volumes` entry this stand-in implements. */
const VOLUME_MOUNT_FIELDS = ["containerPath", "volumeName", "hostPath", "readOnly"];

function checkContainer(news: any): prov.CheckResult {
    const failures: prov.CheckFailure[] = [];
    if (isEmpty(news.image)) failures.push({ property: "image", reason: "image is required" });
    for (const key of Object.keys(news)) {
        if (!(key in CONTAINER_PROPERTIES) && !isEmpty(news[key])) {
            failures.push({ property: key, reason: `${STANDIN} does not implement Container.${key}; it implements ${Object.keys(CONTAINER_PROPERTIES).join(", ")}` });
        }
    }
    for (const [i, u] of (Array.isArray(news.uploads) ? news.uploads : []).entries()) {
        const upload = reveal(u);
        if (upload === UNKNOWN || upload === null || typeof upload !== "object") continue;
        for (const key of Object.keys(upload)) {
            if (!["file", "content", "permissions", "owner", "group", "executable"].includes(key) && !isEmpty(upload[key])) {
                failures.push({ property: `uploads[${i}].${key}`, reason: `${STANDIN} implements uploads with file, content, permissions, owner, group, executable only` });
            }
        }
    }
    for (const [i, v] of (Array.isArray(news.volumes) ? news.volumes : []).entries()) {
        const mount = reveal(v);
        if (mount === UNKNOWN || mount === null || typeof mount !== "object") continue;
        for (const key of Object.keys(mount)) {
            if (!VOLUME_MOUNT_FIELDS.includes(key) && !isEmpty(mount[key])) {
                failures.push({ property: `volumes[${i}].${key}`, reason: `${STANDIN} implements volumes with ${VOLUME_MOUNT_FIELDS.join(", ")} only` });
            }
        }
        if (isEmpty(mount.containerPath)) failures.push({ property: `volumes[${i}].containerPath`, reason: "containerPath is required" });
    }
    return { inputs: news, failures };
}

function setKey(v: any): string {
    const plain = reveal(v);
    return Array.isArray(plain) ? JSON.stringify(plain.map((x) => canonical(x)).sort()) : canonical(plain);
}

export function diffContainer(olds: any, news: any): prov.DiffResult {
    const replaces: string[] = [];
    let changes = false;
    for (const key of Object.keys(CONTAINER_PROPERTIES)) {
        const a = olds?.[key];
        const b = news?.[key];
        let changed: boolean;
        if (hasUnknown(b)) changed = true;
        else if (SET_PROPERTIES.has(key)) changed = setKey(a ?? []) !== setKey(b ?? []);
        else if (key === "mustRun" || key === "restart") {
            // Unset means the upstream default (must_run true, restart "no").
            const dflt = key === "mustRun" ? true : "no";
            changed = (reveal(a) ?? dflt) !== (reveal(b) ?? dflt);
        } else if (key === "entrypoints") changed = canonical(a ?? []) !== canonical(b ?? []);
        else changed = canonical(a) !== canonical(b);
        if (!changed) continue;
        changes = true;
        if (CONTAINER_PROPERTIES[key] === "replace") replaces.push(key);
    }
    return { changes, replaces };
}

/** The `docker create` arguments (the environment is in `envFile`, never on the command line). */
export function containerCreateArgs(plain: any, envFile: string): string[] {
    const argv = ["create", "--env-file", envFile];
    if (plain.name) argv.push("--name", plain.name);
    const [entrypoint, ...entrypointArgs] = plain.entrypoints ?? [];
    if (entrypoint !== undefined) argv.push("--entrypoint", entrypoint);
    argv.push("--restart", plain.restart ?? "no");
    if (plain.networkMode) argv.push("--network", plain.networkMode);
    for (const p of plain.ports ?? []) {
        argv.push("-p", `${p.ip ?? "0.0.0.0"}:${p.external ?? ""}:${p.internal}/${p.protocol ?? "tcp"}`);
    }
    for (const v of plain.volumes ?? []) {
        // A named volume, a host path, or (neither) an anonymous volume, as upstream's `docker_container` mounts them.
        const source = v.volumeName ?? v.hostPath;
        argv.push("--volume", `${source ? `${source}:` : ""}${v.containerPath}${v.readOnly ? ":ro" : ""}`);
    }
    argv.push(plain.image, ...entrypointArgs);
    return argv;
}

function shellWord(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function upload(id: string, u: any, dir: string, i: number): Promise<void> {
    // Like the real provider (CopyToContainer of a one-entry tar named by the file's full path, unpacked at
    // "/", so missing parent directories are made): the entry carries the mode, owner and group. The content
    // goes through a 0600 file, never a command line.
    const staged = path.join(dir, `upload-${i}`);
    fs.mkdirSync(staged, { mode: 0o700 });
    fs.writeFileSync(path.join(staged, "f"), u.content ?? "", { mode: 0o600 });
    const target = path.posix.normalize(u.file).replace(/^\/+/, "");
    if (!path.posix.isAbsolute(u.file) || target === "" || target.startsWith("..")) throw new Error(`${STANDIN}: upload file "${u.file}" must be an absolute path`);
    const mode = u.permissions ?? (u.executable ? "0744" : "0644");
    const transform = `s,^f$,${target.replace(/[\\,&]/g, (c) => `\\${c}`)},`;
    const tar = ["tar", "-c", "-C", staged, `--transform=${transform}`, `--owner=${u.owner ?? 0}`, `--group=${u.group ?? 0}`, `--mode=${mode}`, "--numeric-owner", "f"];
    const script = `${tar.map(shellWord).join(" ")} | docker cp - ${shellWord(`${id}:/`)}`;
    const r = await run("bash", ["-o", "pipefail", "-c", script]);
    if (r.code !== 0) throw new Error(`upload of ${u.file} into container ${id} failed: ${`${r.stdout}${r.stderr}`.trim()}`);
}

async function inspect(id: string): Promise<any | undefined> {
    const r = await run("docker", ["container", "inspect", id]);
    if (r.code !== 0) {
        if (/No such (container|object)/i.test(r.stderr)) return undefined;
        throw new Error(`docker container inspect ${id} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout)[0];
}

function containerOuts(inputs: any, info: any): any {
    const outs: Record<string, any> = { ...inputs, name: String(info.Name ?? "").replace(/^\//, "") || reveal(inputs.name) };
    if (info.State && !info.State.Running) outs.exitCode = info.State.ExitCode;
    return outs;
}

async function createContainer(inputs: any): Promise<{ id: string; outs: any }> {
    const plain = reveal(inputs);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docker-standin-container-"));
    const envFile = path.join(dir, "env");
    let id: string | undefined;
    try {
        const envs: string[] = plain.envs ?? [];
        for (const e of envs) {
            // --env-file takes one line per variable, verbatim: a newline would split the value.
            if (/[\r\n]/.test(e)) throw new Error(`${STANDIN}: an envs entry (${e.split("=")[0]}) holds a line break, which it cannot pass through --env-file`);
            // A NAME without "=" in an env file would copy NAME's value from this process's environment.
            if (!/^[^=]+=/.test(e)) throw new Error(`${STANDIN}: envs entry "${e.split("=")[0]}" is not NAME=value`);
        }
        fs.writeFileSync(envFile, envs.map((e) => `${e}\n`).join(""), { mode: 0o600 });
        // No removal of an existing container of that name first: like the real provider, docker answers
        // `Conflict. The container name "/<name>" is already in use` (the engine's create-before-delete).
        id = (await docker(containerCreateArgs(plain, envFile))).stdout.trim();
        for (const [i, u] of (plain.uploads ?? []).entries()) await upload(id, u, dir, i);
        await docker(["start", id]);
        const info = await inspect(id);
        return { id, outs: containerOuts(inputs, info ?? {}) };
    } catch (err) {
        // Create is transactional: nothing half-made stays behind.
        if (id) await run("docker", ["rm", "-f", id]);
        throw err;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function updateContainer(id: string, olds: any, news: any): Promise<any> {
    const plain = reveal(news);
    if ((reveal(olds.restart) ?? "no") !== (plain.restart ?? "no")) await docker(["update", "--restart", plain.restart ?? "no", id]);
    const info = await inspect(id);
    if (!info) throw new Error(`container ${id} no longer exists; run \`pulumi refresh\``);
    if ((plain.mustRun ?? true) && !info.State?.Running) await docker(["start", id]);
    return containerOuts(news, (await inspect(id)) ?? info);
}

async function readContainer(id: string, props: any): Promise<prov.ReadResult> {
    const info = await inspect(id);
    if (!info) return { id: "", props: {} };
    const outs = containerOuts(props, info);
    // Upstream: a stopped container whose must_run is true reads back must_run false, so the next update starts it.
    if (!info.State?.Running && (reveal(props.mustRun) ?? true)) outs.mustRun = false;
    return { id: info.Id, props: outs };
}

// ---------------------------------------------------------------------------------------------------------
// docker:index/volume:Volume
//
// Upstream's `docker_volume` (kreuzwerker/terraform-provider-docker) forces a new volume on any change of
// its arguments. Only `name` and `driver` are implemented: LocalRelease names its state volume and keeps it
// (retainOnDelete), so the engine never asks this to delete it.

const VOLUME_PROPERTIES = ["name", "driver"];

function checkVolume(news: any): prov.CheckResult {
    const failures: prov.CheckFailure[] = [];
    for (const key of Object.keys(news)) {
        if (!VOLUME_PROPERTIES.includes(key) && !isEmpty(news[key])) {
            failures.push({ property: key, reason: `${STANDIN} does not implement Volume.${key}; it implements ${VOLUME_PROPERTIES.join(", ")}` });
        }
    }
    return { inputs: news, failures };
}

export function diffVolume(olds: any, news: any): prov.DiffResult {
    const replaces = VOLUME_PROPERTIES.filter((key) => hasUnknown(news?.[key]) || canonical(olds?.[key]) !== canonical(news?.[key]));
    return { changes: replaces.length > 0, replaces };
}

async function inspectVolume(name: string): Promise<any | undefined> {
    const r = await run("docker", ["volume", "inspect", name]);
    if (r.code !== 0) {
        if (/no such volume/i.test(r.stderr)) return undefined;
        throw new Error(`docker volume inspect ${name} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout)[0];
}

function volumeOuts(inputs: any, info: any): any {
    return { ...inputs, name: info.Name, driver: info.Driver, mountpoint: info.Mountpoint };
}

async function createVolume(inputs: any): Promise<{ id: string; outs: any }> {
    const plain = reveal(inputs);
    // `docker volume create` of an existing name answers that name, as upstream does: the volume is adopted.
    const name = (await docker(["volume", "create", ...(plain.driver ? ["--driver", plain.driver] : []), ...(plain.name ? [plain.name] : [])])).stdout.trim();
    return { id: name, outs: volumeOuts(inputs, (await inspectVolume(name)) ?? { Name: name }) };
}

async function readVolume(id: string, props: any): Promise<prov.ReadResult> {
    const info = await inspectVolume(id);
    return info ? { id: info.Name, props: volumeOuts(props, info) } : { id: "", props: {} };
}

// ---------------------------------------------------------------------------------------------------------
// The provider

export const provider: prov.Provider = {
    // The SDK this stands in for is @pulumi/docker 5.2.0; the build metadata says what it is.
    version: "5.2.0+standin",

    async check(urn, _olds, news) {
        switch (typeOf(urn)) {
            case IMAGE:
                return checkImage(news);
            case CONTAINER:
                return checkContainer(news);
            case VOLUME:
                return checkVolume(news);
            default:
                throw notImplemented(urn);
        }
    },

    async diff(_id, urn, olds, news) {
        switch (typeOf(urn)) {
            case IMAGE:
                return diffImage(olds, news);
            case CONTAINER:
                return diffContainer(olds, news);
            case VOLUME:
                return diffVolume(olds, news);
            default:
                throw notImplemented(urn);
        }
    },

    async create(urn, inputs) {
        if (hasUnknown(inputs)) throw new Error(`${STANDIN}: create called with unknown inputs for ${urn}`);
        switch (typeOf(urn)) {
            case IMAGE:
                return buildImage(inputs);
            case CONTAINER:
                return createContainer(inputs);
            case VOLUME:
                return createVolume(inputs);
            default:
                throw notImplemented(urn);
        }
    },

    async read(id, urn, props) {
        switch (typeOf(urn)) {
            case IMAGE:
                // Like the real provider: no reconciliation, the state is returned as it is.
                return { id, props };
            case CONTAINER:
                return readContainer(id, props ?? {});
            case VOLUME:
                return readVolume(id, props ?? {});
            default:
                throw notImplemented(urn);
        }
    },

    async update(id, urn, olds, news) {
        switch (typeOf(urn)) {
            case IMAGE:
                return { outs: (await buildImage(news)).outs };
            case CONTAINER: {
                const d = diffContainer(olds, news);
                if (d.replaces && d.replaces.length > 0) throw new Error(`${STANDIN}: update asked for a change that needs a replacement (${d.replaces.join(", ")})`);
                return { outs: await updateContainer(id, olds, news) };
            }
            case VOLUME:
                // Every change of a volume replaces it (diffVolume): an update is never asked for.
                throw new Error(`${STANDIN}: a Volume is never updated in place, only replaced`);
            default:
                throw notImplemented(urn);
        }
    },

    async delete(id, urn, _props) {
        switch (typeOf(urn)) {
            case IMAGE:
                // Like the real provider: the image (and any pushed tag) is left where it is.
                return;
            case CONTAINER: {
                const r = await run("docker", ["rm", "-f", id]);
                if (r.code !== 0 && !/No such container/i.test(r.stderr)) throw new Error(`docker rm -f ${id} failed: ${r.stderr.trim()}`);
                return;
            }
            case VOLUME: {
                // Like upstream: a volume still mounted by a container fails the delete with docker's message.
                const r = await run("docker", ["volume", "rm", id]);
                if (r.code !== 0 && !/no such volume/i.test(r.stderr)) throw new Error(`docker volume rm ${id} failed: ${r.stderr.trim()}`);
                return;
            }
            default:
                throw notImplemented(urn);
        }
    },
};
