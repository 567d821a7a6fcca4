import {
    ACCEPT_DOCKER_RELEASES,
    checkInputs,
    ACCEPT_V3,
    configPatch,
    describeApiError,
    diffRelease,
    herokuApi,
    herokuReleaseProvider,
    HerokuReleaseOutputs,
    redact,
    remoteImageRef,
} from "../../../../src/release/heroku/provider";
import { FakeHerokuApi } from "../../../../support/heroku-api-fake";

// The Platform API is stood in for by a contract-checking fake on 127.0.0.1 (support/heroku-api-fake.ts).
const KEY = "hrku-unit-0f3c9a7d-5e21-4b8e-a9d0-key";
const OTHER_KEY = "hrku-unit-other-account-key-77aa";
const IMG_A = "sha256:" + "a".repeat(64);
const IMG_B = "sha256:" + "b".repeat(64);

function state(over: Partial<HerokuReleaseOutputs> = {}): HerokuReleaseOutputs {
    return {
        apiUrl: "https://api.heroku.com",
        registryHost: "registry.heroku.com",
        app: "blog-prod",
        createApp: false,
        region: "",
        processType: "web",
        image: "blog:latest",
        config: { LOG_LEVEL: "info" },
        secretConfig: { DATABASE_URL: "postgres://u:p@h/db" },
        secretConfigKeys: ["DATABASE_URL"],
        apiKey: KEY,
        imageId: IMG_A,
        releasedImage: "registry.heroku.com/blog-prod/web",
        manifestDigest: "sha256:" + "c".repeat(64),
        appCreated: false,
        webUrl: "https://blog-prod.herokuapp.com/",
        ...over,
    };
}

describe("configPatch (pure)", () => {
    test("on create every managed var is set, keys sorted", () => {
        expect(configPatch(undefined, { config: { B: "2", A: "1" }, secretConfig: { S: "x" } })).toEqual({ A: "1", B: "2", S: "x" });
        expect(Object.keys(configPatch(undefined, { config: { B: "2", A: "1" }, secretConfig: {} }))).toEqual(["A", "B"]);
    });
    test("only changed vars are sent; removed vars are set to null", () => {
        const olds = { config: { A: "1", B: "2" }, secretConfig: { S: "old" } };
        const news = { config: { A: "1", C: "3" }, secretConfig: { S: "new" } };
        expect(configPatch(olds, news)).toEqual({ B: null, C: "3", S: "new" });
    });
    test("no change gives an empty patch", () => {
        const s = { config: { A: "1" }, secretConfig: { S: "x" } };
        expect(configPatch(s, { config: { A: "1" }, secretConfig: { S: "x" } })).toEqual({});
    });
});

describe("diffRelease (pure)", () => {
    test("nothing changed: no changes, no replaces", () => {
        expect(diffRelease(state(), state(), IMG_A)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    });
    test("a new local image id under the same tag is an update", () => {
        expect(diffRelease(state(), state(), IMG_B)).toMatchObject({ changes: true, replaces: [] });
    });
    test("an image that cannot be inspected yet counts as changed (honest preview)", () => {
        expect(diffRelease(state(), state(), undefined).changes).toBe(true);
    });
    test("a value the engine does not know yet counts as changed", () => {
        const news = state({ config: { LOG_LEVEL: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } });
        expect(diffRelease(state(), news, IMG_A).changes).toBe(true);
    });
    test("config, secret config, process type, registry and key changes are updates", () => {
        for (const over of [
            { config: { LOG_LEVEL: "debug" } },
            { secretConfig: { DATABASE_URL: "postgres://other" } },
            { processType: "worker" },
            { registryHost: "127.0.0.1:18450" },
            { apiKey: "rotated-key-123456" },
        ]) {
            expect(diffRelease(state(), state(over), IMG_A)).toMatchObject({ changes: true, replaces: [] });
        }
    });
    test("another app replaces; a created app's region change replaces, deleting first", () => {
        expect(diffRelease(state(), state({ app: "blog-two" }), IMG_A)).toEqual({ changes: true, replaces: ["app"], deleteBeforeReplace: false });
        expect(diffRelease(state({ appCreated: true }), state({ region: "eu" }), IMG_A)).toEqual({
            changes: true,
            replaces: ["region"],
            deleteBeforeReplace: true,
        });
        // Region means nothing for an app this release did not create.
        expect(diffRelease(state(), state({ region: "eu" }), IMG_A).changes).toBe(false);
    });
});

describe("checkInputs (validation of values that were Outputs at construction)", () => {
    test("valid state passes; unknown values are skipped", () => {
        expect(checkInputs(state())).toEqual([]);
        expect(checkInputs(state({ app: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }))).toEqual([]);
    });
    test("each bad field is reported with its name and fix", () => {
        const f = checkInputs(state({ app: "X", processType: "a b", apiUrl: "http://example.com", config: { DATABASE_URL: "x" } }));
        expect(f.map((x) => x.property)).toEqual(["app", "processType", "apiUrl", "config"]);
        expect(f[0].reason).toMatch(/^args\.app: "X" is not a Heroku app name/);
        expect(f[3].reason).toMatch(/both as a plain and as a secret/);
    });
});

describe("error messages (pure)", () => {
    test.each([
        [401, /API key.*401.*"blog-prod".*pulumi config set --secret/],
        [403, /"blog-prod".*403.*collaborator/],
        [404, /no app "blog-prod".*404.*createApp: true/],
        [422, /"blog-prod".*422.*unique/],
        [429, /rate limit.*"blog-prod".*Wait a few minutes/],
    ])("%i names the app and what to do", (status, re) => {
        const msg = describeApiError(status, "GET", "/apps/blog-prod", "blog-prod", { id: "x", message: `echo ${KEY}` }, KEY);
        expect(msg).toMatch(re);
        expect(msg).not.toContain(KEY);
    });
    test("redact removes every occurrence", () => {
        expect(redact(`a ${KEY} b ${KEY}`, [KEY])).toBe("a [secret] b [secret]");
    });
    test("remote reference is registry/app/process", () => {
        expect(remoteImageRef("registry.heroku.com", "blog-prod", "web")).toBe("registry.heroku.com/blog-prod/web");
    });
});

describe("Platform API client against the contract-checking fake (stand-in for api.heroku.com)", () => {
    const api = new FakeHerokuApi(18401);
    beforeAll(() => api.start());
    afterAll(() => api.stop());
    beforeEach(() => {
        api.requests.length = 0;
        api.violations.length = 0;
        api.apps.clear();
        api.keys.clear();
        api.keys.set(KEY, "alice");
        api.keys.set(OTHER_KEY, "bob");
        api.rateLimitNext = 0;
        api.dropNext = 0;
    });
    afterEach(() => expect(api.violations).toEqual([]));
    const as = (apiKey: string, app = "blog-prod") => ({ apiUrl: api.url, apiKey, app });

    test("sends Bearer auth and the v3 Accept header, and parses the app", async () => {
        api.addApp("blog-prod", "alice");
        const app = await herokuApi(as(KEY), "GET", "/apps/blog-prod");
        expect(app.name).toBe("blog-prod");
        expect(api.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
        expect(api.requests[0].headers.accept).toBe(ACCEPT_V3);
    });

    test("the fake itself rejects a formation update with docker_image but the plain Accept header", async () => {
        api.addApp("blog-prod", "alice");
        await expect(
            herokuApi(as(KEY), "PATCH", "/apps/blog-prod/formation", { updates: [{ type: "web", docker_image: IMG_A }] }),
        ).rejects.toThrow(/400/);
        expect(api.violations[0]).toMatch(/docker-releases/);
        api.violations.length = 0;
        await herokuApi(as(KEY), "PATCH", "/apps/blog-prod/formation", { updates: [{ type: "web", docker_image: IMG_A }] }, ACCEPT_DOCKER_RELEASES);
        expect(api.apps.get("blog-prod")!.formation.web.dockerImage).toBe(IMG_A);
    });

    const errorCases: [number, () => void, string, RegExp][] = [
        [401, () => api.keys.delete(KEY), "blog-prod", /rejected the API key/],
        [403, () => api.addApp("blog-prod", "bob"), "blog-prod", /may not change app "blog-prod"/],
        [404, () => undefined, "blog-prod", /no app "blog-prod"/],
        [429, () => (api.rateLimitNext = 1), "blog-prod", /rate limit/],
    ];
    test.each(errorCases)("HTTP %i surfaces as a clear error without the key", async (status, arrange, app, re) => {
        arrange();
        const err = await herokuApi(as(KEY, app), "GET", `/apps/${app}`).catch((e) => e);
        expect(err).toBeInstanceOf(Error);
        expect(err.name).toBe("HerokuApiError");
        expect(err.status).toBe(status);
        expect(err.message).toMatch(re);
        expect(err.message).not.toContain(KEY);
        expect(JSON.stringify(err)).not.toContain(KEY);
    });

    test("HTTP 422 (name taken) carries Heroku's own message", async () => {
        api.addApp("blog-prod", "bob");
        const err = await herokuApi(as(KEY), "POST", "/apps", { name: "blog-prod", stack: "container" }).catch((e) => e);
        expect(err.status).toBe(422);
        expect(err.message).toMatch(/422.*already taken/);
        expect(err.message).not.toContain(KEY);
    });

    test("a dropped connection is retried once for idempotent calls, never for POST /apps", async () => {
        api.addApp("blog-prod", "alice");
        api.dropNext = 1;
        expect((await herokuApi(as(KEY), "GET", "/apps/blog-prod")).name).toBe("blog-prod");
        api.dropNext = 1;
        const err = await herokuApi(as(KEY, "blog-new"), "POST", "/apps", { name: "blog-new", stack: "container" }).catch((e) => e);
        expect(err.message).toMatch(/Could not reach the Heroku Platform API.*POST \/apps.*"blog-new"/);
        expect(api.apps.has("blog-new")).toBe(false);
        api.dropNext = 2;
        await expect(herokuApi(as(KEY), "GET", "/apps/blog-prod")).rejects.toThrow(/Could not reach/);
    });

    test("an unreachable API is a clear error without the key", async () => {
        const err = await herokuApi({ apiUrl: "http://127.0.0.1:18499", apiKey: KEY, app: "blog-prod" }, "GET", "/apps/blog-prod").catch((e) => e);
        expect(err.message).toMatch(/Could not reach the Heroku Platform API.*"blog-prod"/);
        expect(err.message).not.toContain(KEY);
    });

    test("read (refresh) makes GETs only and returns the managed vars as Heroku has them", async () => {
        api.addApp("blog-prod", "alice", { LOG_LEVEL: "warn", DATABASE_URL: "postgres://remote", UNMANAGED: "x" });
        const r = await herokuReleaseProvider.read!("id-1", state({ apiUrl: api.url }));
        expect(api.mutations()).toEqual([]);
        expect(r.id).toBe("id-1");
        expect(r.props!.config).toEqual({ LOG_LEVEL: "warn" });
        expect(r.props!.secretConfig).toEqual({ DATABASE_URL: "postgres://remote" });
        expect(r.props).not.toHaveProperty("config.UNMANAGED");
        // Drift shows up as a change in the next diff.
        expect(diffRelease(r.props!, state({ apiUrl: api.url }), IMG_A).changes).toBe(true);
    });

    test("read of a deleted app says the release is gone", async () => {
        expect(await herokuReleaseProvider.read!("id-1", state({ apiUrl: api.url }))).toEqual({});
    });

    test("delete of an existing app scales the process to 0 and removes only the vars it set", async () => {
        const app = api.addApp("blog-prod", "alice", { LOG_LEVEL: "info", DATABASE_URL: "postgres://u:p@h/db", KEEP: "me" });
        app.formation.web = { quantity: 1, dockerImage: IMG_A };
        await herokuReleaseProvider.delete!("id-1", state({ apiUrl: api.url }));
        expect(api.apps.has("blog-prod")).toBe(true);
        expect(app.formation.web.quantity).toBe(0);
        expect(app.configVars).toEqual({ KEEP: "me" });
        const patch = api.requests.find((r) => r.path.endsWith("/config-vars"))!;
        expect(patch.body).toEqual({ DATABASE_URL: null, LOG_LEVEL: null });
    });

    test("delete of an app this release created deletes the app", async () => {
        api.addApp("blog-prod", "alice");
        await herokuReleaseProvider.delete!("id-1", state({ apiUrl: api.url, appCreated: true }));
        expect(api.apps.has("blog-prod")).toBe(false);
        expect(api.mutations().map((r) => `${r.method} ${r.path}`)).toEqual(["DELETE /apps/blog-prod"]);
    });

    test("delete when the app is already gone succeeds", async () => {
        await expect(herokuReleaseProvider.delete!("id-1", state({ apiUrl: api.url }))).resolves.toBeUndefined();
    });

    test("delete with a revoked key fails clearly, without the key", async () => {
        api.addApp("blog-prod", "alice");
        api.keys.delete(KEY);
        const err = await herokuReleaseProvider.delete!("id-1", state({ apiUrl: api.url })).catch((e) => e);
        expect(err.message).toMatch(/401/);
        expect(err.message).not.toContain(KEY);
    });
});
