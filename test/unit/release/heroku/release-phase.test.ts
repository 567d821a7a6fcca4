import * as fc from "fast-check";
import * as http from "http";
import { diffRelease, healthCheckTarget, herokuApi, HerokuReleaseInputs, HerokuReleaseOutputs, lastLines, releaseFormation } from "../../../../src/release/heroku/provider";
import { renderReleaseDockerfile } from "../../../../src/release/heroku/releaseImage";
import { FakeHerokuApi } from "../../../../support/heroku-api-fake";

// Heroku's release phase and the health check with rollback (issue 14 items 1 and 5), at the unit layer:
// the pure pieces directly, and the release lifecycle against the contract-checking fake of the Platform
// API (support/heroku-api-fake.ts, the stand-in for api.heroku.com) with no release image, so no Docker:
// the health check asks a local HTTP server standing in for the app. The release phase itself, run by the
// real Docker engine, is proved in test/integration/heroku-lifecycle.test.ts. Ports 19100-19101.

const KEY = "hrku-phase-unit-6d0e3c1a-key";
const SECRET = "db-password-4e1b7c0d-unit";
const IMG_OLD = "sha256:" + "1".repeat(64);
const IMG_NEW = "sha256:" + "2".repeat(64);

describe("renderReleaseDockerfile (pure)", () => {
    test("FROM the web image's id, the executable and the arguments as an exec-form ENTRYPOINT", () => {
        expect(renderReleaseDockerfile(IMG_NEW, "/app/blog", ["migrate"])).toBe(
            "# The release phase's image (rendered by lisp-deploy): the web image, started as its release command.\n" +
                `FROM ${IMG_NEW}\n` +
                'ENTRYPOINT ["/app/blog","migrate"]\n',
        );
    });
    test("any arguments: the ENTRYPOINT is one line that parses back (as Docker's exec form does, JSON) to exactly the executable and the arguments", () => {
        // Arguments as checkReleaseCommand admits them: non-empty, no NUL, well-formed UTF-16.
        const arg = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((a) => !a.includes("\0"));
        fc.assert(
            fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (command) => {
                const lines = renderReleaseDockerfile(IMG_NEW, "/app/blog", command).split("\n");
                expect(lines).toHaveLength(4);
                expect(lines[1]).toBe(`FROM ${IMG_NEW}`);
                expect(lines[2].startsWith("ENTRYPOINT [")).toBe(true);
                // Docker reads a Dockerfile line by line: no argument may break one.
                expect(lines[2]).not.toMatch(/[\n\r]/);
                expect(JSON.parse(lines[2].slice("ENTRYPOINT ".length))).toEqual(["/app/blog", ...command]);
            }),
            { numRuns: 300 },
        );
    });
    test("refuses what would not be the web image started as its command", () => {
        expect(() => renderReleaseDockerfile("blog:latest", "/app/blog", ["migrate"])).toThrow(/sha256/);
        expect(() => renderReleaseDockerfile(IMG_NEW, "app/blog", ["migrate"])).toThrow(/absolute/);
        expect(() => renderReleaseDockerfile(IMG_NEW, "/app/blog", [])).toThrow(/needs a command/);
    });
});

describe("small pure helpers", () => {
    test("healthCheckTarget joins a base URL and a path with one slash", () => {
        expect(healthCheckTarget("https://blog-1a2b.herokuapp.com/", "/healthz")).toBe("https://blog-1a2b.herokuapp.com/healthz");
        expect(healthCheckTarget("http://127.0.0.1:19101", "healthz")).toBe("http://127.0.0.1:19101/healthz");
    });
    test("lastLines keeps the last n lines", () => {
        expect(lastLines("a\nb\nc\n", 2)).toBe("b\nc");
        expect(lastLines("a\r\nb", 5)).toBe("a\nb");
    });
    test("a new release command, or executable, is a change that releases again; health-check settings are a change too", () => {
        const olds = { image: "blog:latest", registryHost: "r", processType: "web", imageId: IMG_OLD, releaseCommand: ["migrate"], executablePath: "/app/blog", app: "a", region: "", appCreated: false, config: {}, secretConfig: {}, apiUrl: "u", apiKey: "k" } as unknown as HerokuReleaseOutputs;
        expect(diffRelease(olds, { ...olds }, IMG_OLD).changes).toBe(false);
        expect(diffRelease(olds, { ...olds, releaseCommand: ["migrate", "--all"] }, IMG_OLD).changes).toBe(true);
        expect(diffRelease(olds, { ...olds, executablePath: "/app/other" }, IMG_OLD).changes).toBe(true);
        expect(diffRelease(olds, { ...olds, healthCheckPath: "/healthz" }, IMG_OLD).changes).toBe(true);
        // A stack from before these inputs existed (absent) equals one with them empty: no spurious update.
        const before = { ...olds, releaseCommand: undefined, executablePath: undefined } as unknown as HerokuReleaseOutputs;
        expect(diffRelease(before, { ...before, releaseCommand: [], executablePath: "", healthCheckPath: "", healthCheckUrl: "", healthCheckTimeoutSeconds: 0 }, IMG_OLD).changes).toBe(false);
    });
});

describe("release lifecycle against the fake Platform API: health check and rollback (no release image, so no Docker)", () => {
    const api = new FakeHerokuApi(19100);
    /** The stand-in for the app's URL: answers `status` on every path and counts what it was asked. */
    let status = 200;
    const asked: string[] = [];
    const app = http.createServer((req, res) => {
        asked.push(req.url ?? "");
        res.statusCode = status;
        res.end(status === 200 ? "ok\n" : "broken\n");
    });

    function inputs(name: string): HerokuReleaseInputs {
        return {
            apiUrl: api.url,
            registryHost: "127.0.0.1:1",
            app: name,
            createApp: false,
            region: "",
            processType: "web",
            image: "unused",
            config: {},
            secretConfig: { DATABASE_URL: `postgres://u:${SECRET}@db/x` },
            secretConfigKeys: ["DATABASE_URL"],
            apiKey: KEY,
            releaseCommand: [],
            executablePath: "",
            healthCheckPath: "/healthz",
            healthCheckUrl: "http://127.0.0.1:19101",
            healthCheckTimeoutSeconds: 3,
        };
    }

    beforeAll(async () => {
        await api.start();
        api.keys.set(KEY, "alice");
        await new Promise<void>((r) => app.listen(19101, "127.0.0.1", () => r()));
    });
    afterAll(async () => {
        await api.stop();
        await new Promise<void>((r) => app.close(() => r()));
    });
    afterEach(() => expect(api.violations).toEqual([]));

    test("a healthy release: the formation update makes release v1, the health check asks the path, and v1 is returned", async () => {
        api.addApp("phase-healthy", "alice");
        status = 200;
        asked.length = 0;
        const release = await releaseFormation(inputs("phase-healthy"), "https://unused.example/", IMG_OLD, undefined);
        expect(release).toMatchObject({ version: 1, status: "succeeded" });
        expect(asked).toEqual(["/healthz"]);
        const calls = api.requests.filter((r) => r.path.startsWith("/apps/phase-healthy")).map((r) => `${r.method} ${r.path}`);
        expect(calls).toEqual([
            "GET /apps/phase-healthy/releases",
            "PATCH /apps/phase-healthy/formation",
            "GET /apps/phase-healthy/releases",
            "GET /apps/phase-healthy/dynos",
        ]);
        // The newest release is found with the list Range header, as `heroku container:release` does.
        expect(api.requests.find((r) => r.path === "/apps/phase-healthy/releases")!.headers.range).toBe("version ..; max=20, order=desc");
    });

    test("rollback: a release whose health check fails is rolled back to the release that served before, and the update fails with the app's recent log lines, secrets redacted", async () => {
        const a = api.addApp("phase-rollback", "alice");
        status = 200;
        const v1 = await releaseFormation(inputs("phase-rollback"), "", IMG_OLD, undefined);
        expect(v1!.version).toBe(1);
        // What the app printed (the fake's log, as a log session reads it), one line holding a secret.
        a.logs.push("2026-01-01T00:00:00.000000+00:00 app[web.1]: Error: cannot connect to " + `postgres://u:${SECRET}@db/x`);
        a.logs.push("2026-01-01T00:00:00.000000+00:00 app[web.1]: boom: the new release cannot serve");
        status = 500;
        const err = await releaseFormation(inputs("phase-rollback"), "", IMG_NEW, undefined).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        const message = (err as Error).message;
        expect(message).toMatch(/The health check of app "phase-rollback" failed after release v2: http:\/\/127\.0\.0\.1:19101\/healthz did not answer 200 within 3 s \(last: HTTP 500\)/);
        expect(message).toMatch(/rolled the app back to v1 \(as release v3\), which serves again/);
        expect(message).toContain("app[web.1]: boom: the new release cannot serve");
        expect(message).not.toContain(SECRET);
        expect(message).not.toContain(KEY);
        // On the fake: the rollback was POST /apps/{app}/releases {"release": <v1's id>}, and v1's image serves again.
        const rollback = api.requests.find((r) => r.method === "POST" && r.path === "/apps/phase-rollback/releases")!;
        expect(rollback.body).toEqual({ release: v1!.id });
        const session = api.requests.find((r) => r.method === "POST" && r.path === "/apps/phase-rollback/log-sessions")!;
        expect(session.body).toEqual({ lines: 100, tail: false });
        expect(a.formation.web.dockerImage).toBe(IMG_OLD);
        expect(a.releases.map((r) => [r.version, r.status, r.description])).toEqual([
            [1, "succeeded", "Deployed web"],
            [2, "succeeded", "Deployed web"],
            [3, "succeeded", "Rollback to v1"],
        ]);
    });

    test("the first release has nothing to roll back to: the update fails with the logs and says so", async () => {
        const a = api.addApp("phase-first", "alice");
        a.logs.push("2026-01-01T00:00:00.000000+00:00 app[web.1]: listening on nothing");
        status = 503;
        const err = await releaseFormation(inputs("phase-first"), "", IMG_NEW, undefined).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/had no earlier release to roll back to \(this was the app's first\)/);
        expect((err as Error).message).toContain("listening on nothing");
        expect(api.requests.some((r) => r.method === "POST" && r.path === "/apps/phase-first/releases")).toBe(false);
    });

    test("the fake's contract: a rollback body other than {release} and an unknown Range are violations; an unknown release is 404", async () => {
        api.addApp("phase-contract", "alice");
        const i = inputs("phase-contract");
        await expect(herokuApi(i, "POST", "/apps/phase-contract/releases", { slug: "x" })).rejects.toThrow(/400|contract/);
        await expect(herokuApi(i, "GET", "/apps/phase-contract/releases", undefined, undefined, { Range: "id ..; max=1" })).rejects.toThrow(/400|contract/);
        await expect(herokuApi(i, "POST", "/apps/phase-contract/releases", { release: "01234567-0000-0000-0000-000000000000" })).rejects.toThrow(/404/);
        api.violations.length = 0;
    });
});
