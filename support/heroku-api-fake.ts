import * as http from "http";
import { AddressInfo } from "net";

/**
 * A stand-in for Heroku's Platform API on 127.0.0.1 that checks every request against the documented
 * contract (method, path, headers, body shape) and answers with the documented response shapes,
 * including the error bodies `{ id, message }`. A request that breaks the contract is answered 400 and
 * recorded in `violations`, so a test can assert there were none.
 *
 * Contract as documented at https://devcenter.heroku.com/articles/platform-api-reference (app, config
 * vars, formation) and https://devcenter.heroku.com/articles/container-registry-and-runtime (releasing
 * with `docker_image` needs Accept `application/vnd.heroku+json; version=3.docker-releases`).
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
    private server?: http.Server;
    private nextId = 1;

    constructor(private readonly port: number) {}

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
        const app: FakeApp = { id: this.uuid(), name, region: "us", stack: "container", configVars: { ...configVars }, formation: {}, owner };
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
        if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
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
            web_url: `https://${a.name}-0123456789ab.herokuapp.com/`,
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
                return send(res, 200, this.appJson(app));
            }
            if (rest === "/config-vars" && method === "GET") return send(res, 200, app.configVars);
            if (rest === "/config-vars" && method === "PATCH") return this.patchConfig(res, app, body, path);
            if (rest === "/formation" && method === "PATCH") return this.patchFormation(res, app, body, path);
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
        for (const [k, v] of Object.entries(body)) {
            if (v === null) delete app.configVars[k];
            else app.configVars[k] = v as string;
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
        for (const u of body.updates) {
            const f = (app.formation[u.type] ??= { quantity: 1 });
            if ("docker_image" in u) f.dockerImage = u.docker_image;
            if ("quantity" in u) f.quantity = u.quantity;
        }
        return send(res, 200, body.updates.map((u: any) => this.formationJson(app, u.type)));
    }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Request-Id", "01234567-89ab-cdef-0123-456789abcdef");
    res.end(JSON.stringify(body));
}
