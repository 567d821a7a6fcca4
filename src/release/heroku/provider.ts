/**
 * The dynamic provider behind HerokuRelease: pushes a local image to Heroku's registry and releases it
 * through the Platform API (formation update), and keeps the app's config vars in step.
 *
 * Pulumi serializes a dynamic provider by closure and runs that text in another process. So this module is
 * self-contained: it imports nothing at the top level (only types), every Node built-in is `require`d inside
 * the function that uses it, and the provider object captures only the small functions of this file. A unit
 * test serializes the provider exactly as Pulumi does and runs the result, so a stray capture fails there.
 */
import type * as pulumi from "@pulumi/pulumi";
import { renderReleaseDockerfile } from "./releaseImage";
import {
    validateApiUrl,
    validateAppName,
    validateConfigKeys,
    validateImageRef,
    validateProcessType,
    validateRegistryHost,
} from "./validate";

/** The Platform API's base URL when none is given. */
export const DEFAULT_API_URL = "https://api.heroku.com";
/** Heroku's container registry when none is given. */
export const DEFAULT_REGISTRY_HOST = "registry.heroku.com";
/** Accept header of every Platform API call. */
export const ACCEPT_V3 = "application/vnd.heroku+json; version=3";
/** Accept header a formation update needs to take a `docker_image` (the docker-releases variant). */
export const ACCEPT_DOCKER_RELEASES = "application/vnd.heroku+json; version=3.docker-releases";
/** What the Pulumi engine passes for a value that is not known yet (during preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The inputs the provider receives (plain values: the engine unwraps secrets before calling it). */
export interface HerokuReleaseInputs {
    /** Platform API base URL, without a trailing slash. */
    apiUrl: string;
    /** Registry host (and optional port) images are pushed to. */
    registryHost: string;
    /** The Heroku app's name. */
    app: string;
    /** Create the app (POST /apps) if true; otherwise it must exist already. */
    createApp: boolean;
    /** Region for a created app ("" leaves Heroku's default). */
    region: string;
    /** The process type the image runs as (`web`, `worker`, ...). */
    processType: string;
    /** Local image reference (tag or id) to push. */
    image: string;
    /** Plain config vars this resource manages. */
    config: Record<string, string>;
    /** Secret config vars this resource manages (stored as secret outputs). */
    secretConfig: Record<string, string>;
    /** The keys of `secretConfig`, sorted, in plain text so a diff can name them without showing values. */
    secretConfigKeys: string[];
    /** The Heroku API key (secret output). */
    apiKey: string;
    /**
     * Arguments passed to the image's executable in Heroku's release phase (`[]`: no release phase). They
     * become a `release` process type image whose ENTRYPOINT is the executable and these arguments.
     */
    releaseCommand?: string[];
    /** The executable inside the image the release command's arguments are passed to ("" without one). */
    executablePath?: string;
    /** Path requested on the app's URL after a release; "" checks nothing. */
    healthCheckPath?: string;
    /** Base URL the health check requests instead of the app's web URL ("": the web URL). */
    healthCheckUrl?: string;
    /** Seconds the health check waits for a 200 before rolling back. */
    healthCheckTimeoutSeconds?: number;
}

/** The state the provider stores: the inputs plus what the release produced. */
export interface HerokuReleaseOutputs extends HerokuReleaseInputs {
    /** The released image's id (`docker inspect --format '{{.Id}}'`, the manifest's config digest). */
    imageId: string;
    /** Where the image was pushed: `<registryHost>/<app>/<processType>`. */
    releasedImage: string;
    /** Digest of the manifest the registry stored, as `docker push` reported it. */
    manifestDigest: string;
    /** True only if this resource created the app; then, and only then, delete removes the app. */
    appCreated: boolean;
    /** The app's URL as Heroku reports it (`web_url`). */
    webUrl: string;
    /** The id of the Heroku release this resource last waited for ("" when it waits for none: no release command, no health check). */
    releaseId?: string;
    /** That release's version (`v<N>` in `heroku releases`); 0 when there is none. */
    releaseVersion?: number;
}

/** Removes every occurrence of each secret from a text, so no error or log line can carry one. */
export function redact(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) {
        if (s && s.length >= 4) out = out.split(s).join("[secret]");
    }
    return out;
}

/**
 * Turns a Platform API error into a message that names the app, what failed and what to do.
 * `body` is Heroku's documented error shape `{ id, message }` when there is one.
 */
export function describeApiError(
    status: number,
    method: string,
    path: string,
    app: string,
    body: { id?: string; message?: string } | undefined,
    apiKey: string,
): string {
    const said = body?.message ? ` Heroku said: "${body.message}"${body.id ? ` (${body.id})` : ""}.` : "";
    const call = `${method} ${path}`;
    let advice: string;
    switch (status) {
        case 401:
            advice =
                `Heroku rejected the API key (401 Unauthorized) on ${call} for app "${app}". ` +
                "Set a valid key as a secret (e.g. `pulumi config set --secret herokuApiKey <key from `heroku authorizations:create`>`).";
            break;
        case 403:
            advice =
                `The API key's account may not change app "${app}" (403 Forbidden on ${call}). ` +
                "Use a key of an account that owns the app or is a collaborator with deploy rights.";
            break;
        case 404:
            advice =
                `Heroku has no app "${app}" visible to this API key (404 Not Found on ${call}). ` +
                "Check the app name, or set `createApp: true` so HerokuRelease creates it.";
            break;
        case 422:
            advice =
                `Heroku refused ${call} for app "${app}" (422 Unprocessable Entity). ` +
                "Fix the value it names (an app name must be unique across Heroku, 3-30 lowercase letters, digits and dashes).";
            break;
        case 429:
            advice =
                `Heroku's API rate limit was reached on ${call} for app "${app}" (429 Too Many Requests). ` +
                "Wait a few minutes and run `pulumi up` again; nothing after this call was applied.";
            break;
        default:
            advice = `Heroku answered ${status} to ${call} for app "${app}".`;
    }
    return redact(advice + said, [apiKey]);
}

/** An error a Platform API call raised: a plain Error with the HTTP status; its message never holds the key. */
export interface HerokuApiError extends Error {
    /** The HTTP status Heroku answered. */
    status: number;
}

/**
 * Makes a HerokuApiError. Deliberately not a class extending Error: Pulumi's closure serialization turns
 * classes into functions, and an Error subclass then loses its message in the provider host.
 */
export function herokuApiError(status: number, message: string): HerokuApiError {
    const e = new Error(message) as HerokuApiError;
    e.name = "HerokuApiError";
    e.status = status;
    return e;
}

/** True if `e` is a HerokuApiError with this status. */
export function isApiStatus(e: unknown, status: number): boolean {
    return e instanceof Error && (e as Partial<HerokuApiError>).status === status;
}

/**
 * One Platform API call: Bearer auth, the v3 Accept header (or the given variant), JSON body.
 * Non-2xx answers become a HerokuApiError with a clear message.
 */
export async function herokuApi(
    inputs: Pick<HerokuReleaseInputs, "apiUrl" | "apiKey" | "app">,
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    accept: string = ACCEPT_V3,
    extraHeaders: Record<string, string> = {},
): Promise<any> {
    const headers: Record<string, string> = { ...extraHeaders, Accept: accept, Authorization: `Bearer ${inputs.apiKey}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const send = () => fetch(inputs.apiUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let res: Response;
    try {
        res = await send();
    } catch (first) {
        // A kept-alive connection the server has just closed fails before any byte of the request is
        // handled. Every call here but POST /apps is idempotent (same body, same end state): retry those once.
        try {
            if (method === "POST") throw first;
            res = await send();
        } catch (e) {
            const cause = (e as { cause?: { code?: string } }).cause?.code;
            throw new Error(
                redact(
                    `Could not reach the Heroku Platform API at ${inputs.apiUrl} (${method} ${path}) for app "${inputs.app}": ` +
                        `${(e as Error).message}${cause ? ` (${cause})` : ""}. Check the network and \`apiUrl\`.`,
                    [inputs.apiKey],
                ),
            );
        }
    }
    const text = await res.text();
    let parsed: any;
    try {
        parsed = text ? JSON.parse(text) : undefined;
    } catch {
        parsed = undefined;
    }
    if (!res.ok) {
        throw herokuApiError(res.status, describeApiError(res.status, method, path, inputs.app, parsed, inputs.apiKey));
    }
    return parsed;
}

/** The path segment for an app, escaped. */
function appPath(app: string): string {
    return `/apps/${encodeURIComponent(app)}`;
}

/** Runs docker with arguments (never a shell), optional stdin, and a clear, redacted error. */
export function docker(args: string[], opts: { input?: string; env?: Record<string, string>; secrets?: string[] } = {}): string {
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const r = spawnSync("docker", args, {
        input: opts.input,
        env: { ...process.env, ...(opts.env ?? {}) },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error || r.status !== 0) {
        const why = r.error ? r.error.message : (r.stderr || r.stdout || "").trim();
        throw new Error(redact(`docker ${args[0]} failed: ${why}`, opts.secrets ?? []));
    }
    return r.stdout;
}

/** The local image's id (config digest), as Heroku's formation update wants it. */
export function localImageId(image: string): string {
    try {
        return docker(["image", "inspect", "--format", "{{.Id}}", image]).trim();
    } catch (e) {
        throw new Error(
            `The image "${image}" is not in the local Docker engine (${(e as Error).message.split("\n")[0]}). ` +
                "Build it first (LispImage does) or pass an existing local image reference as `image`.",
        );
    }
}

/** Where an image for this app and process type lives in the registry. */
export function remoteImageRef(registryHost: string, app: string, processType: string): string {
    return `${registryHost}/${app}/${processType}`;
}

/**
 * Pushes the local image to `<registryHost>/<app>/<processType>`. The API key reaches `docker login` on
 * stdin only, into a throwaway DOCKER_CONFIG directory (0700) that is removed afterwards, so the key is
 * never on a command line nor left in ~/.docker. Returns the manifest digest the registry reported.
 */
export function pushImage(inputs: Pick<HerokuReleaseInputs, "image" | "registryHost" | "app" | "processType" | "apiKey">): {
    releasedImage: string;
    manifestDigest: string;
} {
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const target = remoteImageRef(inputs.registryHost, inputs.app, inputs.processType);
    const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-heroku-"));
    fs.chmodSync(configDir, 0o700);
    const env = { DOCKER_CONFIG: configDir };
    const secrets = [inputs.apiKey];
    try {
        docker(["login", inputs.registryHost, "--username", "_", "--password-stdin"], { input: inputs.apiKey, env, secrets });
        docker(["tag", inputs.image, target], { env, secrets });
        const out = docker(["push", target], { env, secrets });
        const m = /digest: (sha256:[0-9a-f]{64})/.exec(out);
        if (!m) throw new Error(`docker push ${target} did not report a manifest digest; it printed: ${redact(out, secrets)}`);
        return { releasedImage: target, manifestDigest: m[1] };
    } finally {
        // Untag (the source reference keeps the image) and forget the login.
        try {
            docker(["image", "rm", target], { env });
        } catch {
            /* the tag may not exist if tagging failed */
        }
        fs.rmSync(configDir, { recursive: true, force: true });
    }
}

/** All config vars this resource manages, plain and secret, keyed by name. */
function managedConfig(s: Pick<HerokuReleaseInputs, "config" | "secretConfig">): Record<string, string> {
    return { ...(s.config ?? {}), ...(s.secretConfig ?? {}) };
}

/**
 * The config-vars PATCH body that takes the app from `olds` to `news`: changed or new keys with their
 * value, keys no longer managed set to null (Heroku's way to remove one). Keys sorted; empty if no change.
 */
export function configPatch(
    olds: Pick<HerokuReleaseInputs, "config" | "secretConfig"> | undefined,
    news: Pick<HerokuReleaseInputs, "config" | "secretConfig">,
): Record<string, string | null> {
    const before = olds ? managedConfig(olds) : {};
    const after = managedConfig(news);
    const keys = Array.from(new Set([...Object.keys(before), ...Object.keys(after)])).sort();
    const patch: Record<string, string | null> = {};
    for (const k of keys) {
        if (!(k in after)) patch[k] = null;
        else if (before[k] !== after[k]) patch[k] = after[k];
    }
    return patch;
}

/** True if `a` and `b` hold the same keys with the same values. */
function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
    const x = a ?? {};
    const y = b ?? {};
    const kx = Object.keys(x).sort();
    const ky = Object.keys(y).sort();
    return kx.length === ky.length && kx.every((k, i) => k === ky[i] && x[k] === y[k]);
}

/** True if any string in a value is the engine's "not known yet" marker. */
function hasUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (v && typeof v === "object") return Object.values(v as object).some(hasUnknown);
    return false;
}

/**
 * Whether the image must be pushed and released again: a different local image id (or one that cannot be
 * known yet), a different image reference, registry or process type. `currentImageId` is undefined when
 * the local image cannot be inspected (not built yet): then a push is assumed, which is the honest answer.
 */
export function needsPush(olds: HerokuReleaseOutputs, news: HerokuReleaseInputs, currentImageId: string | undefined): boolean {
    return (
        currentImageId === undefined ||
        currentImageId !== olds.imageId ||
        news.image !== olds.image ||
        news.registryHost !== olds.registryHost ||
        news.processType !== olds.processType ||
        // A new release command is a new release image, released with the web image it belongs to.
        !sameList(olds.releaseCommand, news.releaseCommand) ||
        (news.executablePath ?? "") !== (olds.executablePath ?? "")
    );
}

/** True if two optional lists hold the same strings in the same order (absent is empty). */
function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
    const x = a ?? [];
    const y = b ?? [];
    return x.length === y.length && x.every((w, i) => w === y[i]);
}

/**
 * The diff Pulumi shows: replace when the app (or a created app's region) changes; update when the image,
 * process type, config or API settings change; nothing otherwise. Pure, so it is tested directly.
 */
export function diffRelease(
    olds: HerokuReleaseOutputs,
    news: HerokuReleaseInputs,
    currentImageId: string | undefined,
): pulumi.dynamic.DiffResult {
    const replaces: string[] = [];
    if (news.app !== olds.app) replaces.push("app");
    if (olds.appCreated && news.region !== olds.region) replaces.push("region");
    const changes =
        replaces.length > 0 ||
        needsPush(olds, news, currentImageId) ||
        hasUnknown(news) ||
        !sameMap(olds.config, news.config) ||
        !sameMap(olds.secretConfig, news.secretConfig) ||
        news.apiUrl !== olds.apiUrl ||
        // Health-check settings are stored for the next release; changing them calls no API.
        (news.healthCheckPath ?? "") !== (olds.healthCheckPath ?? "") ||
        (news.healthCheckUrl ?? "") !== (olds.healthCheckUrl ?? "") ||
        (news.healthCheckTimeoutSeconds ?? 0) !== (olds.healthCheckTimeoutSeconds ?? 0) ||
        // A rotated key is stored so a later delete or refresh uses it; update makes no API call for it.
        news.apiKey !== olds.apiKey;
    return {
        changes,
        replaces,
        // A created app keeps its name: the old one must go before a new one of that name can be created.
        deleteBeforeReplace: replaces.length > 0 && olds.appCreated && news.app === olds.app,
    };
}

/** A release as the Platform API returns it (the fields used here). */
export interface HerokuReleaseObject {
    id: string;
    version: number;
    /** `pending` while the release phase runs, then `succeeded` or `failed`. */
    status: "pending" | "succeeded" | "failed";
    /** Where the release phase's output streams (absent without a release phase). */
    output_stream_url?: string | null;
}

/** How often release status, dynos and the health check are asked again while waiting. */
const POLL_MS = 1000;
/** Heroku stops a release phase after one hour; waiting a little longer than that never cuts one short. */
const RELEASE_PHASE_LIMIT_MS = 65 * 60 * 1000;
/** How many of the app's recent log lines a failed health check reports. */
export const LOG_LINES = 100;
/** Default seconds the health check waits: Heroku's 60 s boot limit (R10) and some time to answer. */
export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 90;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The app's newest releases, newest first (the list Range header asks for `max` of them). */
async function newestReleases(inputs: HerokuReleaseInputs, max: number): Promise<HerokuReleaseObject[]> {
    const list = await herokuApi(inputs, "GET", `${appPath(inputs.app)}/releases`, undefined, ACCEPT_V3, { Range: `version ..; max=${max}, order=desc` });
    return Array.isArray(list) ? list : [];
}

/**
 * The release that serves before this one: the newest that succeeded, once any still pending (a config
 * change just made, running its release phase) has settled, so a rollback never targets a release that is
 * about to fail.
 */
async function servingRelease(inputs: HerokuReleaseInputs): Promise<{ newest?: HerokuReleaseObject; serving?: HerokuReleaseObject }> {
    let list = await newestReleases(inputs, 20);
    if (list[0]?.status === "pending") {
        await settledRelease(inputs, list[0]);
        list = await newestReleases(inputs, 20);
    }
    return { newest: list[0], serving: list.find((r) => r.status === "succeeded") };
}

/** Waits until a release leaves `pending` (its release phase finished) and returns it as it ended. */
async function settledRelease(inputs: HerokuReleaseInputs, release: HerokuReleaseObject): Promise<HerokuReleaseObject> {
    const deadline = Date.now() + RELEASE_PHASE_LIMIT_MS;
    let current = release;
    while (current.status === "pending") {
        if (Date.now() > deadline) throw new Error(`Heroku's release v${current.version} of app "${inputs.app}" stayed pending past the release phase's one-hour limit.`);
        await sleep(POLL_MS);
        current = await herokuApi(inputs, "GET", `${appPath(inputs.app)}/releases/${encodeURIComponent(current.id)}`);
    }
    return current;
}

/** A text fetched from a URL the API handed out (a stream or a log session): signed URLs, so no API key is sent. */
async function fetchText(url: string): Promise<string> {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`GET ${url.split("?")[0]} answered ${res.status}`);
    return await res.text();
}

/** The last `lines` lines of a text, without a trailing empty line. */
export function lastLines(text: string, lines: number): string {
    const all = text.replace(/\r\n/g, "\n").replace(/\n+$/, "").split("\n");
    return all.slice(Math.max(0, all.length - lines)).join("\n");
}

/**
 * The app's recent log lines (a log session of `lines` lines, optionally one dyno's), redacted of every
 * secret this release knows; a sentence saying why when they cannot be had, never an error of its own.
 */
async function recentLogs(inputs: HerokuReleaseInputs, dyno?: string): Promise<string> {
    try {
        const session = await herokuApi(inputs, "POST", `${appPath(inputs.app)}/log-sessions`, { lines: LOG_LINES, ...(dyno ? { dyno } : {}), tail: false });
        const text = lastLines(await fetchText(String(session?.logplex_url)), LOG_LINES);
        return text.trim() === "" ? "(the log session returned no lines)" : text;
    } catch (e) {
        return `(the app's logs could not be read: ${(e as Error).message})`;
    }
}

/** Every value that must never appear in an error: the API key and the secret config values. */
function secretsOf(inputs: HerokuReleaseInputs): string[] {
    return [inputs.apiKey, ...Object.values(inputs.secretConfig ?? {})];
}

/**
 * What a failed release phase printed: its output stream, or, when that is empty (Heroku streams it only
 * from images that hold curl, which the slim runtime image does not), the release dyno's lines in the app's log.
 */
async function releasePhaseOutput(inputs: HerokuReleaseInputs, release: HerokuReleaseObject): Promise<string> {
    if (release.output_stream_url) {
        try {
            const text = lastLines(await fetchText(release.output_stream_url), LOG_LINES);
            if (text.trim() !== "") return text;
        } catch {
            /* fall back to the log */
        }
    }
    return recentLogs(inputs, "release");
}

/** The local tag of an app's newest release image: tagged, so pushing it (which tags and untags) never removes it. */
export function releaseImageTag(app: string): string {
    return `lisp-deploy-heroku-release/${app}:latest`;
}

/**
 * Builds the release image (the web image started as the release command) with the real `docker build`
 * and tags it `tag`; returns its id. It stays in the local engine: a config-only image over the web image,
 * it costs no space, and an unchanged build is answered from the build cache with the same id.
 */
export function buildReleaseImage(webImageId: string, executable: string, command: readonly string[], tag: string): string {
    const out = docker(["build", "--quiet", "--label", "lisp-deploy.heroku.release-image=1", "--tag", tag, "-"], { input: renderReleaseDockerfile(webImageId, executable, command) });
    const id = out.trim().split("\n").pop()!.trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new Error(`docker build of the release image did not print an image id; it printed: ${out.trim()}`);
    return id;
}

/**
 * Waits until every dyno of the process type runs `version` and is up, so the health check asks the new
 * release and not a dyno of the old one still serving. Gives up quietly at the deadline: the health check
 * that follows then fails or passes on what serves.
 */
async function dynosOnRelease(inputs: HerokuReleaseInputs, version: number, deadline: number): Promise<void> {
    for (;;) {
        const dynos: any[] = (await herokuApi(inputs, "GET", `${appPath(inputs.app)}/dynos`)) ?? [];
        const ours = dynos.filter((d) => d?.type === inputs.processType);
        // No dyno of the type (scaled to 0): nothing to wait for; the health check says what serves.
        if (ours.every((d) => d?.release?.version === version && d?.state === "up")) return;
        if (Date.now() > deadline) return;
        await sleep(POLL_MS);
    }
}

/** The URL the health check requests: the base (the override, else the app's web URL) joined with the path. */
export function healthCheckTarget(base: string, path: string): string {
    return base.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

/** Asks `url` until it answers 200 or the deadline passes; returns what it saw last when it never did. */
async function healthy(url: string, deadline: number): Promise<{ ok: boolean; last: string }> {
    let last = "no answer yet";
    for (;;) {
        try {
            const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(5_000) });
            await res.arrayBuffer();
            if (res.status === 200) return { ok: true, last: "200" };
            last = `HTTP ${res.status}`;
        } catch (e) {
            const cause = (e as { cause?: { code?: string } }).cause?.code;
            last = `${(e as Error).message}${cause ? ` (${cause})` : ""}`;
        }
        if (Date.now() > deadline) return { ok: false, last };
        await sleep(POLL_MS);
    }
}

/**
 * Releases the pushed images (the formation update: the web image, and the release image when there is a
 * release command), waits for Heroku's release phase, then health-checks the app. A failed release phase
 * fails the update with its output; Heroku does not deploy such a release, so the previous one keeps
 * serving. A failed health check rolls the app back to the release that served before (Heroku itself does
 * not) and fails the update with the app's recent log lines. Returns the release that now serves, or
 * undefined without a release command and a health check (then nothing is waited for). Exported for tests.
 */
export async function releaseFormation(inputs: HerokuReleaseInputs, webUrl: string, imageId: string, releaseImageId: string | undefined): Promise<HerokuReleaseObject | undefined> {
    const updates: { type: string; docker_image: string }[] = [{ type: inputs.processType, docker_image: imageId }];
    if (releaseImageId) updates.push({ type: "release", docker_image: releaseImageId });
    // Without a release phase or a health check there is nothing to wait for or undo: one call, as before.
    if (!releaseImageId && !inputs.healthCheckPath) {
        await herokuApi(inputs, "PATCH", `${appPath(inputs.app)}/formation`, { updates }, ACCEPT_DOCKER_RELEASES);
        return undefined;
    }
    const { newest, serving: previous } = await servingRelease(inputs);
    await herokuApi(inputs, "PATCH", `${appPath(inputs.app)}/formation`, { updates }, ACCEPT_DOCKER_RELEASES);
    const [made] = await newestReleases(inputs, 1);
    if (!made || (newest && made.id === newest.id)) return previous; // nothing new was released
    const secrets = secretsOf(inputs);
    const release = await settledRelease(inputs, made);
    if (release.status === "failed") {
        const output = await releasePhaseOutput(inputs, release);
        throw new Error(
            redact(
                `The release command ${JSON.stringify(inputs.releaseCommand ?? [])} failed in Heroku's release phase of app "${inputs.app}" (release v${release.version}), ` +
                    `so Heroku did not deploy it: ${previous ? `v${previous.version}` : "the app's previous state"} keeps serving. Its output:\n${output}`,
                secrets,
            ),
        );
    }
    if (!inputs.healthCheckPath) return release;

    const timeoutMs = (inputs.healthCheckTimeoutSeconds || DEFAULT_HEALTH_TIMEOUT_SECONDS) * 1000;
    const deadline = Date.now() + timeoutMs;
    const url = healthCheckTarget(inputs.healthCheckUrl || webUrl, inputs.healthCheckPath);
    await dynosOnRelease(inputs, release.version, deadline);
    const check = await healthy(url, deadline);
    if (check.ok) return release;

    const logs = await recentLogs(inputs);
    let outcome: string;
    if (previous) {
        try {
            const back = await herokuApi(inputs, "POST", `${appPath(inputs.app)}/releases`, { release: previous.id });
            const settled = await settledRelease(inputs, back);
            outcome =
                settled.status === "succeeded"
                    ? `rolled the app back to v${previous.version} (as release v${settled.version}), which serves again`
                    : `tried to roll the app back to v${previous.version}, but that rollback's release phase failed too (release v${settled.version}): roll back by hand with \`heroku rollback v${previous.version} --app ${inputs.app}\``;
        } catch (e) {
            outcome = `could not roll the app back to v${previous.version} (${(e as Error).message}): roll back by hand with \`heroku rollback v${previous.version} --app ${inputs.app}\``;
        }
    } else {
        outcome = "had no earlier release to roll back to (this was the app's first)";
    }
    throw new Error(
        redact(
            `The health check of app "${inputs.app}" failed after release v${release.version}: ${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${check.last}). ` +
                `lisp-deploy ${outcome}. The app's recent log lines:\n${logs}`,
            secrets,
        ),
    );
}

/** Applies a config-vars patch if it changes anything. */
async function patchConfig(inputs: HerokuReleaseInputs, patch: Record<string, string | null>): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    await herokuApi(inputs, "PATCH", `${appPath(inputs.app)}/config-vars`, patch);
}

/** What a push and release produced: where the image went, and the release that serves. */
interface Released {
    releasedImage: string;
    manifestDigest: string;
    releaseId: string;
    releaseVersion: number;
}

/** Pushes, sets config and releases: the one path create and update share. */
async function pushConfigureRelease(
    olds: HerokuReleaseOutputs | undefined,
    news: HerokuReleaseInputs,
    imageId: string,
    push: boolean,
    webUrl: string,
): Promise<Released> {
    if (!push) {
        await patchConfig(news, configPatch(olds, news));
        return { releasedImage: olds!.releasedImage, manifestDigest: olds!.manifestDigest, releaseId: olds!.releaseId ?? "", releaseVersion: olds!.releaseVersion ?? 0 };
    }
    // Push before any API change, so a failing push (or release image build) leaves the app as it was.
    const command = news.releaseCommand ?? [];
    const releaseImageId = command.length > 0 ? buildReleaseImage(imageId, news.executablePath ?? "", command, releaseImageTag(news.app)) : undefined;
    const pushed = pushImage(news);
    if (releaseImageId) pushImage({ ...news, image: releaseImageId, processType: "release" });
    await patchConfig(news, configPatch(olds, news));
    const release = await releaseFormation(news, webUrl, imageId, releaseImageId);
    return { ...pushed, releaseId: release?.id ?? "", releaseVersion: release?.version ?? 0 };
}

/** Deletes an app this create made, adding to the error what happened to it. */
async function rollBackCreatedApp(news: HerokuReleaseInputs, cause: Error): Promise<void> {
    try {
        await herokuApi(news, "DELETE", appPath(news.app));
        cause.message += ` The app "${news.app}" created by this release was deleted again.`;
    } catch (e) {
        cause.message += ` The app "${news.app}" was created but could not be deleted again (${(e as Error).message}); delete it by hand.`;
    }
}

/** The provider's create: optionally create the app, then push, configure and release. */
async function createRelease(news: HerokuReleaseInputs): Promise<pulumi.dynamic.CreateResult> {
    const imageId = localImageId(news.image);
    let app: any;
    if (news.createApp) {
        const body: Record<string, string> = { name: news.app, stack: "container" };
        if (news.region) body.region = news.region;
        app = await herokuApi(news, "POST", "/apps", body);
    } else {
        app = await herokuApi(news, "GET", appPath(news.app));
    }
    const webUrl = String(app?.web_url ?? "");
    let pushed: Released;
    try {
        pushed = await pushConfigureRelease(undefined, news, imageId, true, webUrl);
    } catch (e) {
        // Nothing half-applied: a failed create leaves no resource in Pulumi's state, so an app created
        // moments ago would be orphaned (and the next run would fail with "name already taken").
        if (news.createApp) await rollBackCreatedApp(news, e as Error);
        throw e;
    }
    const outs: HerokuReleaseOutputs = {
        ...news,
        imageId,
        ...pushed,
        appCreated: news.createApp,
        webUrl,
    };
    return { id: String(app?.id ?? news.app), outs };
}

/** The provider's update: only the calls the change needs; none at all for a rotated key alone. */
async function updateRelease(olds: HerokuReleaseOutputs, news: HerokuReleaseInputs): Promise<pulumi.dynamic.UpdateResult> {
    const imageId = localImageId(news.image);
    const push = needsPush(olds, news, imageId);
    const pushed = await pushConfigureRelease(olds, news, imageId, push, olds.webUrl);
    if (push && olds.processType !== news.processType) {
        // The old process type would keep running the old image: scale it down.
        await herokuApi(news, "PATCH", `${appPath(news.app)}/formation`, { updates: [{ type: olds.processType, quantity: 0 }] });
    }
    return { outs: { ...olds, ...news, imageId, ...pushed, appCreated: olds.appCreated } };
}

/** The provider's read (refresh): GETs only. The managed config vars come back as Heroku has them. */
async function readRelease(id: string, props: HerokuReleaseOutputs): Promise<pulumi.dynamic.ReadResult> {
    let app: any;
    try {
        app = await herokuApi(props, "GET", appPath(props.app));
    } catch (e) {
        if (isApiStatus(e, 404)) return {}; // the app is gone: so is this release
        throw e;
    }
    const remote: Record<string, string> = (await herokuApi(props, "GET", `${appPath(props.app)}/config-vars`)) ?? {};
    const pick = (keys: string[]) => {
        const out: Record<string, string> = {};
        for (const k of keys.slice().sort()) if (k in remote && remote[k] !== null) out[k] = remote[k];
        return out;
    };
    return {
        id,
        props: {
            ...props,
            config: pick(Object.keys(props.config ?? {})),
            secretConfig: pick(Object.keys(props.secretConfig ?? {})),
            webUrl: String(app?.web_url ?? props.webUrl),
        },
    };
}

/**
 * The provider's delete. If this resource created the app, the app is deleted (that is what created it).
 * If the app existed before, it is not ours to delete: the process type is scaled to 0 and the config vars
 * this resource set are removed, leaving everything else on the app as it was. A 404 means already gone.
 */
async function deleteRelease(_id: string, props: HerokuReleaseOutputs): Promise<void> {
    try {
        if (props.appCreated) {
            await herokuApi(props, "DELETE", appPath(props.app));
            return;
        }
        await herokuApi(props, "PATCH", `${appPath(props.app)}/formation`, { updates: [{ type: props.processType, quantity: 0 }] });
        await patchConfig(props, configPatch(props, { config: {}, secretConfig: {} }));
    } catch (e) {
        if (isApiStatus(e, 404)) return;
        throw e;
    }
}

/**
 * Validates inputs whose values were Outputs at construction time (so the component could not check them):
 * the engine calls this during preview, so bad input still fails before anything is applied. Values not
 * known yet are skipped; they are checked again when known.
 */
export function checkInputs(news: HerokuReleaseInputs): pulumi.dynamic.CheckFailure[] {
    const known = (v: unknown): v is string => typeof v === "string" && v !== UNKNOWN;
    const keys = (m: unknown) => (m && typeof m === "object" ? Object.keys(m) : []);
    const found: [string, { field: string; problem: string } | undefined][] = [
        ["app", known(news.app) ? validateAppName("args.app", news.app) : undefined],
        ["processType", known(news.processType) ? validateProcessType("args.processType", news.processType) : undefined],
        ["apiUrl", known(news.apiUrl) ? validateApiUrl("args.apiUrl", news.apiUrl) : undefined],
        ["registryHost", known(news.registryHost) ? validateRegistryHost("args.registryHost", news.registryHost) : undefined],
        ["image", known(news.image) ? validateImageRef("args.image", news.image) : undefined],
        ["config", validateConfigKeys("args.config", keys(news.config), "args.secretConfig", keys(news.secretConfig))],
    ];
    return found.filter(([, p]) => p).map(([property, p]) => ({ property, reason: `${p!.field}: ${p!.problem}` }));
}

/** The provider object Pulumi serializes into the state of each HerokuRelease. */
export const herokuReleaseProvider: pulumi.dynamic.ResourceProvider<HerokuReleaseInputs, HerokuReleaseOutputs> = {
    async check(_olds, news) {
        const failures = checkInputs(news);
        return failures.length ? { failures } : { inputs: news };
    },
    async diff(_id, olds, news) {
        let current: string | undefined;
        try {
            current = news.image === UNKNOWN ? undefined : localImageId(news.image);
        } catch {
            current = undefined;
        }
        return diffRelease(olds, news, current);
    },
    create: createRelease,
    update: (_id, olds, news) => updateRelease(olds, news),
    read: (id, props) => readRelease(id, props as HerokuReleaseOutputs),
    delete: deleteRelease,
};
