import { execFileSync, spawn, spawnSync } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";

/**
 * A stand-in for Heroku's Platform API on 127.0.0.1 that checks every request against the documented
 * contract (method, path, headers, body shape) and answers with the documented response shapes,
 * including the error bodies `{ id, message }`. A request that breaks the contract is answered 400 and
 * recorded in `violations`, so a test can assert there were none.
 *
 * Contract as documented at https://devcenter.heroku.com/articles/platform-api-reference (app, config
 * vars, formation, release, dyno, log session) and https://devcenter.heroku.com/articles/container-registry-and-runtime
 * (releasing with `docker_image` needs Accept `application/vnd.heroku+json; version=3.docker-releases`).
 *
 * What Heroku does behind the API is done for real where a test needs it, on the local Docker engine (the
 * images were pushed from it, so it holds each released image id; Heroku would pull them from its registry):
 * - Releases: every formation update with a `docker_image`, config-var change and rollback makes a release.
 *   When the formation holds a `release` image, the release is `pending` while that image runs once
 *   (`docker run --rm`, the config vars in its environment: https://devcenter.heroku.com/articles/release-phase),
 *   then `succeeded`, and only then deployed to the formation, or `failed` and not deployed.
 * - With `dynoPort`, the web dyno: the released web image runs as one container with only PORT and the
 *   config vars set, restarted on each deployed release, and the app's `web_url` is that port on 127.0.0.1.
 * - Logs: the release phase's output and the dynos' output as `app[release.N]` / `app[web.1]` lines, read
 *   through a log session's `logplex_url`; the release phase's output also at its `output_stream_url`.
 */

/** One request the fake received. */
export interface RecordedRequest {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: any;
}

/** One app as the fake stores it. */
export interface FakeApp {
    id: string;
    name: string;
    region: string;
    stack: string;
    configVars: Record<string, string>;
    /** Process type → { quantity, dockerImage }. */
    formation: Record<string, { quantity: number; dockerImage?: string }>;
    /** Account that owns the app; another account's key gets 403 on it. */
    owner: string;
    /** Releases, oldest first. */
    releases: FakeRelease[];
    /** Log lines of finished processes (release phases, replaced dynos), oldest first. */
    logs: string[];
}

/** One release as the fake keeps it. */
export interface FakeRelease {
    id: string;
    version: number;
    status: "pending" | "succeeded" | "failed";
    description: string;
    /** The process types' images this release deploys. */
    images: Record<string, string>;
    /** The config vars of this release (a rollback restores them, as Heroku's does). */
    configVars: Record<string, string>;
    /** The release phase's output, once it ran. */
    output?: string;
    /** True if a release phase ran (then `output_stream_url` is set). */
    releasePhase: boolean;
}

/** Options of the fake. */
export interface FakeHerokuOptions {
    /** Run the released web image as a dyno on 127.0.0.1:<dynoPort> (and report that as the app's web_url). */
    dynoPort?: number;
    /** Name prefix of the containers the fake runs (dynos). Default `heroku-fake`. */
    containerPrefix?: string;
}

const V3 = "application/vnd.heroku+json; version=3";
const V3_DOCKER = "application/vnd.heroku+json; version=3.docker-releases";
const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

export class FakeHerokuApi {
    /** Every request, in order. */
    readonly requests: RecordedRequest[] = [];
    /** Contract violations found, as readable sentences. */
    readonly violations: string[] = [];
    /** Apps by name. */
    readonly apps = new Map<string, FakeApp>();
    /** API key → account. A key not listed here gets 401. */
    readonly keys = new Map<string, string>();
    /** When > 0, the next this-many requests are answered 429 (rate limit). */
    rateLimitNext = 0;
    /** When > 0, the next this-many requests have their connection dropped unanswered (a network failure). */
    dropNext = 0;
    /**
     * When false, `output_stream_url` streams nothing, as on Heroku for an image without curl (the slim
     * runtime image has none): the release phase's output is then only in the app's log.
     */
    streamReleaseOutput = true;
    /** Every release phase run: app, release version, exit code, output; in order. */
    readonly releasePhaseRuns: { app: string; version: number; exitCode: number; output: string; finishedAt: number }[] = [];
    /** Every web dyno started: app, release version, image, when; in order. */
    readonly dynoStarts: { app: string; version: number; image: string; startedAt: number }[] = [];
    private server?: http.Server;
    private nextId = 1;
    /** Per app, the chain of release work (release phases and dyno restarts run one at a time, as releases do). */
    private readonly work = new Map<string, Promise<void>>();
    /** The release each running dyno runs, by app. */
    private readonly dynoRelease = new Map<string, FakeRelease>();
    private readonly sessions = new Map<string, { app: string; lines: number; dyno?: string; source?: string }>();

    constructor(
        private readonly port: number,
        private readonly options: FakeHerokuOptions = {},
    ) {}

    /** Base URL to pass as `apiUrl`. */
    get url(): string {
        return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    }

    /** Requests that change something (everything but GET). */
    mutations(): RecordedRequest[] {
        return this.requests.filter((r) => r.method !== "GET");
    }

    /** Adds an app owned by `owner` (as if created earlier by hand). */
    addApp(name: string, owner: string, configVars: Record<string, string> = {}): FakeApp {
        const app: FakeApp = { id: this.uuid(), name, region: "us", stack: "container", configVars: { ...configVars }, formation: {}, owner, releases: [], logs: [] };
        this.apps.set(name, app);
        return app;
    }

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c) => chunks.push(c));
            req.on("end", () => this.handle(req, Buffer.concat(chunks).toString("utf8"), res));
        });
        await new Promise<void>((resolve, reject) => {
            this.server!.once("error", reject);
            this.server!.listen(this.port, "127.0.0.1", () => resolve());
        });
    }

    async stop(): Promise<void> {
        await Promise.all(this.work.values()).catch(() => undefined);
        for (const app of this.apps.keys()) spawnSync("docker", ["rm", "-f", this.dynoName(app)]);
        if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }

    /** Resolves once every release phase and dyno restart started so far has finished. */
    async settled(): Promise<void> {
        await Promise.all(this.work.values());
    }

    /** The container name of an app's web dyno. */
    dynoName(app: string): string {
        return `${this.options.containerPrefix ?? "heroku-fake"}-${app}-web`;
    }

    private uuid(): string {
        const n = (this.nextId++).toString(16).padStart(12, "0");
        return `01234567-89ab-cdef-0123-${n}`;
    }

    private appJson(a: FakeApp): object {
        return {
            id: a.id,
            name: a.name,
            region: { id: this.uuid(), name: a.region },
            stack: { id: this.uuid(), name: a.stack },
            build_stack: { id: this.uuid(), name: a.stack },
            web_url: this.options.dynoPort ? `http://127.0.0.1:${this.options.dynoPort}/` : `https://${a.name}-0123456789ab.herokuapp.com/`,
            git_url: `https://git.heroku.com/${a.name}.git`,
            owner: { id: this.uuid(), email: `${a.owner}@example.com` },
            maintenance: false,
            created_at: "2026-01-01T00:00:00Z",
            updated_at: "2026-01-01T00:00:00Z",
        };
    }

    private formationJson(a: FakeApp, type: string): object {
        return {
            app: { id: a.id, name: a.name },
            command: "",
            created_at: "2026-01-01T00:00:00Z",
            id: this.uuid(),
            quantity: a.formation[type].quantity,
            size: "basic",
            type,
            updated_at: "2026-01-01T00:00:00Z",
        };
    }

    private violation(res: http.ServerResponse, text: string): void {
        this.violations.push(text);
        send(res, 400, { id: "contract_violation", message: text });
    }

    private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
        if (this.dropNext > 0) {
            this.dropNext--;
            req.socket.destroy();
            return;
        }
        const method = req.method ?? "";
        const path = (req.url ?? "").split("?")[0];
        // The signed URLs the API hands out (output streams, log sessions) are not API calls: no key, plain text.
        let signed: RegExpExecArray | null;
        if (method === "GET" && (signed = /^\/streams\/([^/]+)$/.exec(path))) return this.streamOutput(res, signed[1]);
        if (method === "GET" && (signed = /^\/log-sessions\/([^/]+)$/.exec(path))) return this.logSessionText(res, signed[1]);
        let body: any;
        if (raw) {
            try {
                body = JSON.parse(raw);
            } catch {
                return this.violation(res, `${method} ${path}: body is not JSON`);
            }
        }
        this.requests.push({ method, path, headers: req.headers, body });

        // Headers every call must carry.
        const accept = req.headers["accept"];
        const isFormationPatch = method === "PATCH" && /^\/apps\/[^/]+\/formation$/.test(path);
        const wantsDocker = isFormationPatch && Array.isArray(body?.updates) && body.updates.some((u: any) => u && "docker_image" in u);
        if (wantsDocker ? accept !== V3_DOCKER : accept !== V3 && accept !== V3_DOCKER) {
            return this.violation(res, `${method} ${path}: Accept must be "${wantsDocker ? V3_DOCKER : V3}", got "${accept}"`);
        }
        if (raw && !(req.headers["content-type"] ?? "").startsWith("application/json")) {
            return this.violation(res, `${method} ${path}: a JSON body needs Content-Type application/json`);
        }
        const auth = /^Bearer (.+)$/.exec(req.headers["authorization"] ?? "");
        if (!auth) return this.violation(res, `${method} ${path}: Authorization must be "Bearer <key>"`);

        if (this.rateLimitNext > 0) {
            this.rateLimitNext--;
            res.setHeader("RateLimit-Remaining", "0");
            return send(res, 429, { id: "rate_limit", message: "Your account reached the API rate limit\nPlease wait a few minutes before making new requests" });
        }
        const account = this.keys.get(auth[1]);
        if (!account) return send(res, 401, { id: "unauthorized", message: "Invalid credentials provided." });

        // Routes.
        let m: RegExpExecArray | null;
        if (method === "POST" && path === "/apps") return this.createApp(res, body, account);
        if ((m = /^\/apps\/([^/]+)(\/.*)?$/.exec(path))) {
            const name = decodeURIComponent(m[1]);
            const rest = m[2] ?? "";
            const app = this.apps.get(name);
            if (!app) return send(res, 404, { id: "not_found", message: "Couldn't find that app.", resource: "app" });
            if (app.owner !== account) return send(res, 403, { id: "forbidden", message: "You do not have access to the app " + name + "." });
            if (rest === "" && method === "GET") return send(res, 200, this.appJson(app));
            if (rest === "" && method === "DELETE") {
                this.apps.delete(name);
                spawnSync("docker", ["rm", "-f", this.dynoName(name)]);
                return send(res, 200, this.appJson(app));
            }
            if (rest === "/config-vars" && method === "GET") return send(res, 200, app.configVars);
            if (rest === "/config-vars" && method === "PATCH") return this.patchConfig(res, app, body, path);
            if (rest === "/formation" && method === "PATCH") return this.patchFormation(res, app, body, path);
            if (rest === "/releases" && method === "GET") return this.listReleases(res, app, req.headers["range"], path);
            if (rest === "/releases" && method === "POST") return this.rollback(res, app, body, path);
            if ((m = /^\/releases\/([^/]+)$/.exec(rest)) && method === "GET") {
                const key = decodeURIComponent(m[1]);
                const r = app.releases.find((x) => x.id === key || String(x.version) === key);
                if (!r) return send(res, 404, { id: "not_found", message: "Couldn't find that release.", resource: "release" });
                return send(res, 200, this.releaseJson(app, r));
            }
            if (rest === "/dynos" && method === "GET") return send(res, 200, this.dynosJson(app));
            if (rest === "/log-sessions" && method === "POST") return this.createLogSession(res, app, body, path);
            if ((m = /^\/formation\/([^/]+)$/.exec(rest)) && method === "GET") {
                if (!app.formation[m[1]]) return send(res, 404, { id: "not_found", message: "Couldn't find that formation.", resource: "formation" });
                return send(res, 200, this.formationJson(app, m[1]));
            }
        }
        return this.violation(res, `${method} ${path}: no such endpoint in the Platform API`);
    }

    private createApp(res: http.ServerResponse, body: any, account: string): void {
        if (!body || typeof body !== "object") return this.violation(res, "POST /apps: body must be an object");
        const allowed = ["name", "region", "stack", "feature_flags"];
        const extra = Object.keys(body).filter((k) => !allowed.includes(k));
        if (extra.length) return this.violation(res, `POST /apps: unknown fields ${extra.join(", ")}`);
        if (body.name !== undefined && (typeof body.name !== "string" || !APP_NAME.test(body.name))) {
            return send(res, 422, { id: "invalid_params", message: "Name must start with a letter, end with a letter or digit and can only contain lowercase letters, digits, and dashes." });
        }
        if (this.apps.has(body.name)) return send(res, 422, { id: "invalid_params", message: "Name " + body.name + " is already taken" });
        const app = this.addApp(body.name, account);
        app.region = body.region ?? "us";
        app.stack = body.stack ?? "heroku-24";
        return send(res, 201, this.appJson(app));
    }

    private patchConfig(res: http.ServerResponse, app: FakeApp, body: any, path: string): void {
        if (!body || typeof body !== "object" || Array.isArray(body)) return this.violation(res, `PATCH ${path}: body must be an object of name → string|null`);
        for (const [k, v] of Object.entries(body)) {
            if (v !== null && typeof v !== "string") return this.violation(res, `PATCH ${path}: value of ${k} must be a string or null`);
        }
        const before = JSON.stringify(app.configVars);
        for (const [k, v] of Object.entries(body)) {
            if (v === null) delete app.configVars[k];
            else app.configVars[k] = v as string;
        }
        // A config change is a new release of the images that serve, with the release phase if there is one.
        if (JSON.stringify(app.configVars) !== before && this.currentImages(app).web !== undefined) {
            this.startRelease(app, this.currentImages(app), `Set ${Object.keys(body).sort().join(", ")} config vars`);
        }
        return send(res, 200, app.configVars);
    }

    private patchFormation(res: http.ServerResponse, app: FakeApp, body: any, path: string): void {
        if (!body || !Array.isArray(body.updates) || Object.keys(body).length !== 1) {
            return this.violation(res, `PATCH ${path}: body must be {"updates":[...]}`);
        }
        for (const u of body.updates) {
            if (!u || typeof u.type !== "string") return this.violation(res, `PATCH ${path}: each update needs a "type"`);
            const extra = Object.keys(u).filter((k) => !["type", "quantity", "size", "docker_image"].includes(k));
            if (extra.length) return this.violation(res, `PATCH ${path}: unknown update fields ${extra.join(", ")}`);
            if ("docker_image" in u && !(typeof u.docker_image === "string" && IMAGE_ID.test(u.docker_image))) {
                return send(res, 422, { id: "invalid_params", message: "docker_image must be an image id like sha256:<64 hex>" });
            }
            if ("quantity" in u && !(Number.isInteger(u.quantity) && u.quantity >= 0)) {
                return this.violation(res, `PATCH ${path}: quantity must be a non-negative integer`);
            }
        }
        const images: Record<string, string> = {};
        for (const u of body.updates) {
            const f = (app.formation[u.type] ??= { quantity: u.type === "release" ? 0 : 1 });
            if ("docker_image" in u) images[u.type] = u.docker_image;
            if ("quantity" in u) f.quantity = u.quantity;
            if (u.type === "web" && u.quantity === 0) spawnSync("docker", ["rm", "-f", this.dynoName(app.name)]);
        }
        // New images are a new release: deployed to the formation only once its release phase succeeded.
        if (Object.keys(images).length > 0) this.startRelease(app, { ...this.currentImages(app), ...images }, `Deployed ${Object.keys(images).sort().join(", ")}`);
        return send(res, 200, body.updates.map((u: any) => this.formationJson(app, u.type)));
    }

    /** The images of the newest succeeded release (what the formation runs). */
    private currentImages(app: FakeApp): Record<string, string> {
        const current = [...app.releases].reverse().find((r) => r.status === "succeeded");
        const images: Record<string, string> = { ...(current?.images ?? {}) };
        for (const [type, f] of Object.entries(app.formation)) if (f.dockerImage && !(type in images)) images[type] = f.dockerImage;
        return images;
    }

    /**
     * Makes release vN of `images` with the app's config vars now: pending while the release image (if
     * any) runs, then deployed (formation images set, the web dyno restarted) if it exited 0, else failed.
     * A release without a release phase is deployed before the API answers, as the formation update used to be.
     */
    private startRelease(app: FakeApp, images: Record<string, string>, description: string, configVars: Record<string, string> = app.configVars): FakeRelease {
        const release: FakeRelease = {
            id: this.uuid(),
            version: (app.releases.at(-1)?.version ?? 0) + 1,
            status: "pending",
            description,
            images: { ...images },
            configVars: { ...configVars },
            releasePhase: images.release !== undefined,
        };
        app.releases.push(release);
        if (!release.releasePhase) {
            this.deploy(app, release);
            if (this.options.dynoPort) this.enqueue(app.name, () => this.restartDyno(app, release));
            return release;
        }
        this.enqueue(app.name, async () => {
            const { code, output } = await runReleasePhase(release.images.release, release.configVars);
            release.output = output;
            for (const line of output.replace(/\n$/, "").split("\n")) if (line) app.logs.push(logLine(`release.${1000 + release.version}`, line));
            this.releasePhaseRuns.push({ app: app.name, version: release.version, exitCode: code, output, finishedAt: Date.now() });
            if (code !== 0) {
                release.status = "failed";
                return;
            }
            if (this.options.dynoPort) await this.restartDyno(app, release);
            this.deploy(app, release);
        });
        return release;
    }

    private deploy(app: FakeApp, release: FakeRelease): void {
        for (const [type, image] of Object.entries(release.images)) (app.formation[type] ??= { quantity: type === "release" ? 0 : 1 }).dockerImage = image;
        release.status = "succeeded";
    }

    private enqueue(app: string, step: () => Promise<void>): void {
        const next = (this.work.get(app) ?? Promise.resolve()).then(step, step);
        this.work.set(app, next.catch(() => undefined));
    }

    /** Replaces the web dyno with one running `release`'s web image: only PORT and the config vars set. */
    private async restartDyno(app: FakeApp, release: FakeRelease): Promise<void> {
        const name = this.dynoName(app.name);
        const old = spawnSync("docker", ["logs", name], { encoding: "utf8" });
        if (old.status === 0) for (const line of (old.stdout + old.stderr).split("\n")) if (line) app.logs.push(logLine("web.1", line));
        spawnSync("docker", ["rm", "-f", name]);
        this.dynoRelease.delete(app.name);
        const image = release.images.web;
        if (!image || (app.formation.web?.quantity ?? 1) === 0) return;
        const env = { ...release.configVars, PORT: String(this.options.dynoPort) };
        execFileSync("docker", ["run", "-d", "--name", name, "--network", "host", ...Object.keys(env).flatMap((k) => ["--env", k]), image], {
            env: { ...process.env, ...env },
            stdio: "pipe",
        });
        this.dynoRelease.set(app.name, release);
        this.dynoStarts.push({ app: app.name, version: release.version, image, startedAt: Date.now() });
    }

    private releaseJson(a: FakeApp, r: FakeRelease): object {
        const current = [...a.releases].reverse().find((x) => x.status === "succeeded");
        return {
            addon_plan_names: [],
            app: { id: a.id, name: a.name },
            created_at: "2026-01-01T00:00:00Z",
            description: r.description,
            status: r.status,
            id: r.id,
            slug: null,
            updated_at: "2026-01-01T00:00:00Z",
            user: { id: this.uuid(), email: `${a.owner}@example.com` },
            version: r.version,
            current: current === r,
            output_stream_url: r.releasePhase ? `${this.url}/streams/${r.id}` : null,
            eligible_for_rollback: r.status === "succeeded",
        };
    }

    /** GET /apps/{app}/releases with the list Range header (`version ..; max=N, order=desc`) or none. */
    private listReleases(res: http.ServerResponse, app: FakeApp, range: string | undefined, path: string): void {
        let list = [...app.releases];
        let max = 200;
        if (range !== undefined) {
            const m = /^version \.\.(?:; *(.*))?$/.exec(range.trim());
            if (!m) return this.violation(res, `GET ${path}: Range must be "version ..[; max=N, order=asc|desc]", got "${range}"`);
            for (const part of (m[1] ?? "").split(",").map((x) => x.trim()).filter(Boolean)) {
                const [k, v] = part.split("=");
                if (k === "max" && /^[0-9]+$/.test(v) && Number(v) >= 1 && Number(v) <= 1000) max = Number(v);
                else if (k === "order" && (v === "asc" || v === "desc")) list = v === "desc" ? list.reverse() : list;
                else return this.violation(res, `GET ${path}: unknown Range part "${part}"`);
            }
        }
        const page = list.slice(0, max);
        return send(res, page.length < list.length ? 206 : 200, page.map((r) => this.releaseJson(app, r)));
    }

    /** POST /apps/{app}/releases {release}: a rollback, a new release of that release's images and config vars. */
    private rollback(res: http.ServerResponse, app: FakeApp, body: any, path: string): void {
        if (!body || typeof body !== "object" || Object.keys(body).join() !== "release" || typeof body.release !== "string") {
            return this.violation(res, `POST ${path}: a rollback's body is {"release": "<release id>"} (a slug release is not what this client makes)`);
        }
        const target = app.releases.find((r) => r.id === body.release || String(r.version) === body.release);
        if (!target) return send(res, 404, { id: "not_found", message: "Couldn't find that release.", resource: "release" });
        if (target.status !== "succeeded") return send(res, 422, { id: "invalid_params", message: `Release v${target.version} was never deployed and cannot be rolled back to.` });
        app.configVars = { ...target.configVars };
        const release = this.startRelease(app, target.images, `Rollback to v${target.version}`, target.configVars);
        return send(res, 201, this.releaseJson(app, release));
    }

    private dynosJson(a: FakeApp): object[] {
        const r = this.dynoRelease.get(a.name);
        if (!r) return [];
        return [{ app: { id: a.id, name: a.name }, attach_url: null, command: "", created_at: "2026-01-01T00:00:00Z", id: this.uuid(), name: "web.1", release: { id: r.id, version: r.version }, size: "basic", state: "up", type: "web", updated_at: "2026-01-01T00:00:00Z" }];
    }

    private createLogSession(res: http.ServerResponse, app: FakeApp, body: any, path: string): void {
        const b = body ?? {};
        const extra = Object.keys(b).filter((k) => !["dyno", "lines", "source", "tail"].includes(k));
        if (extra.length) return this.violation(res, `POST ${path}: unknown fields ${extra.join(", ")}`);
        if (b.lines !== undefined && !(Number.isInteger(b.lines) && b.lines >= 1 && b.lines <= 1500)) return this.violation(res, `POST ${path}: lines must be 1-1500`);
        if (b.tail !== undefined && typeof b.tail !== "boolean") return this.violation(res, `POST ${path}: tail must be a boolean`);
        for (const k of ["dyno", "source"]) if (b[k] !== undefined && typeof b[k] !== "string") return this.violation(res, `POST ${path}: ${k} must be a string`);
        const id = this.uuid();
        this.sessions.set(id, { app: app.name, lines: b.lines ?? 100, dyno: b.dyno, source: b.source });
        return send(res, 201, { created_at: "2026-01-01T00:00:00Z", id, logplex_url: `${this.url}/log-sessions/${id}`, updated_at: "2026-01-01T00:00:00Z" });
    }

    /** The app's log as a log session reads it: finished processes' lines, then the running dyno's. */
    private logSessionText(res: http.ServerResponse, id: string): void {
        const s = this.sessions.get(id);
        const app = s && this.apps.get(s.app);
        if (!s || !app) return sendText(res, 404, "no such log session\n");
        let lines = [...app.logs];
        const live = spawnSync("docker", ["logs", this.dynoName(app.name)], { encoding: "utf8" });
        if (live.status === 0) for (const line of (live.stdout + live.stderr).split("\n")) if (line) lines.push(logLine("web.1", line));
        if (s.source !== undefined && s.source !== "app") lines = [];
        if (s.dyno !== undefined) lines = lines.filter((l) => l.includes(` app[${s.dyno}`));
        return sendText(res, 200, lines.slice(-s.lines).map((l) => l + "\n").join(""));
    }

    private streamOutput(res: http.ServerResponse, id: string): void {
        for (const app of this.apps.values()) {
            const r = app.releases.find((x) => x.id === id);
            if (r) return sendText(res, 200, this.streamReleaseOutput ? (r.output ?? "") : "");
        }
        return sendText(res, 404, "no such stream\n");
    }
}

/** A line of Heroku's log format: timestamp, source[dyno]: text. */
function logLine(dyno: string, text: string): string {
    return `2026-01-01T00:00:00.000000+00:00 app[${dyno}]: ${text}`;
}

/** Runs a release image once, as Heroku's release dyno: its ENTRYPOINT, the config vars in its environment (names on the command line only). */
function runReleasePhase(image: string, configVars: Record<string, string>): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
        const child = spawn("docker", ["run", "--rm", "--network", "host", ...Object.keys(configVars).flatMap((k) => ["--env", k]), image], {
            env: { ...process.env, ...configVars },
        });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("close", (code) => resolve({ code: code ?? 1, output }));
    });
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
    res.statusCode = status;
    res.setHeader("Content-Type", "text/plain; charset=utf-8");
    res.end(text);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Request-Id", "01234567-89ab-cdef-0123-456789abcdef");
    res.end(JSON.stringify(body));
}
