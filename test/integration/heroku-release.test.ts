import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi } from "../../support/heroku-api-fake";
import { bootOnPort, HEROKU_BOOT_LIMIT_MS } from "../../support/heroku-boot";
import { LocalRegistry, MEDIA_TYPES } from "../../support/registry";
import { herokuReleaseProvider, HerokuReleaseInputs, HerokuReleaseOutputs } from "../../src/release/heroku/provider";

// Real: the Docker engine (build, login, tag, push), a real registry (Debian's docker-registry) with
// htpasswd auth on 127.0.0.1. Stood in for: Heroku's Platform API, by a contract-checking fake on
// 127.0.0.1 (support/heroku-api-fake.ts). The provider object is called directly (what Pulumi's dynamic
// provider host would call); the component's registration is covered under mocks in test/unit.

jest.setTimeout(10 * 60 * 1000);

const KEY = "hrku-it-5d2b7c1e-8f44-4c3a-b6a1-apikey";
const IMAGE = "heroku-it-app:latest";
const BOOT_PORT = 18460;
const registry = new LocalRegistry(18450, { user: "_", password: KEY });
const api = new FakeHerokuApi(18451);
let buildDir = "";

/** Builds the small test image; `version` goes into a label so each version has its own image id. */
function buildImage(version: string): string {
    execFileSync("docker", ["build", "--network", "host", "--label", `heroku-it-version=${version}`, "-t", IMAGE, buildDir], { stdio: "pipe" });
    return execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE], { encoding: "utf8" }).trim();
}

function inputs(over: Partial<HerokuReleaseInputs> = {}): HerokuReleaseInputs {
    return {
        apiUrl: api.url,
        registryHost: registry.host,
        app: "heroku-it",
        createApp: true,
        region: "eu",
        processType: "web",
        image: IMAGE,
        config: { LOG_LEVEL: "info" },
        secretConfig: { DATABASE_URL: "postgres://it:secret-pw@db/it" },
        secretConfigKeys: ["DATABASE_URL"],
        apiKey: KEY,
        ...over,
    };
}

const calls = (from = 0) => api.requests.slice(from).map((r) => `${r.method} ${r.path}`);

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    buildDir = fs.mkdtempSync(path.join(os.tmpdir(), "heroku-it-build-"));
    // A tiny web process: binds $PORT on loopback (as the rules here require) and answers every request.
    fs.writeFileSync(
        path.join(buildDir, "Dockerfile"),
        [
            "FROM debian:bookworm-slim",
            'CMD ["perl", "-MIO::Socket::INET", "-e", ' +
                '"my $s = IO::Socket::INET->new(LocalAddr => q(127.0.0.1), LocalPort => $ENV{PORT}, Listen => 5, ReuseAddr => 1) or die $!; ' +
                'while (my $c = $s->accept) { print $c qq(HTTP/1.0 200 OK\\r\\n\\r\\nhello\\n); close $c }"]',
            "",
        ].join("\n"),
    );
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");
});

afterAll(async () => {
    await api.stop();
    await registry.stop();
    for (const ref of [IMAGE, `${registry.host}/heroku-it/web`, `${registry.host}/heroku-it/worker`]) {
        try {
            execFileSync("docker", ["image", "rm", "-f", ref], { stdio: "pipe" });
        } catch {
            /* already gone */
        }
    }
    // Earlier versions of the test image are left untagged by rebuilds: remove them by their label.
    const ids = execFileSync("docker", ["images", "-q", "--filter", "label=heroku-it-version"], { encoding: "utf8" }).split("\n").filter(Boolean);
    if (ids.length) execFileSync("docker", ["image", "rm", "-f", ...new Set(ids)], { stdio: "pipe" });
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
});

afterEach(() => expect(api.violations).toEqual([]));

let outs: HerokuReleaseOutputs;

test("create: creates the app, pushes a schema-2 manifest to the real registry and releases its config digest", async () => {
    const imageId = buildImage("1");
    const res = await herokuReleaseProvider.create(inputs());
    outs = res.outs as HerokuReleaseOutputs;

    expect(calls()).toEqual(["POST /apps", "PATCH /apps/heroku-it/config-vars", "PATCH /apps/heroku-it/formation"]);
    expect(api.requests[0].body).toEqual({ name: "heroku-it", stack: "container", region: "eu" });

    // The manifest the registry stored: Docker schema 2, not an index or an OCI manifest with attestations.
    const m = await registry.manifest("heroku-it/web", "latest");
    expect(m.mediaType).toBe(MEDIA_TYPES.dockerSchema2);
    expect(m.body.schemaVersion).toBe(2);
    expect(m.body.mediaType).toBe(MEDIA_TYPES.dockerSchema2);
    expect(m.body.manifests).toBeUndefined();
    expect(m.body.config.mediaType).toBe("application/vnd.docker.container.image.v1+json");
    // The image id Heroku is given is the local image's id, which is the pushed manifest's config digest.
    expect(outs.imageId).toBe(imageId);
    expect(m.body.config.digest).toBe(imageId);
    expect(outs.manifestDigest).toBe(m.digest);
    expect(outs.releasedImage).toBe(`${registry.host}/heroku-it/web`);

    const app = api.apps.get("heroku-it")!;
    expect(app.formation.web.dockerImage).toBe(imageId);
    expect(app.configVars).toEqual({ LOG_LEVEL: "info", DATABASE_URL: "postgres://it:secret-pw@db/it" });
    expect(outs.appCreated).toBe(true);
    expect(outs.webUrl).toMatch(/^https:\/\/heroku-it-/);

    // The push tag was removed and the login forgotten: no credential left in the user's docker config.
    expect(() => execFileSync("docker", ["image", "inspect", `${registry.host}/heroku-it/web`], { stdio: "pipe" })).toThrow();
    const dockerConfig = path.join(os.homedir(), ".docker", "config.json");
    if (fs.existsSync(dockerConfig)) expect(fs.readFileSync(dockerConfig, "utf8")).not.toContain(registry.host);
});

test("re-run with nothing changed: diff says no changes, refresh makes only GETs", async () => {
    const before = api.requests.length;
    expect(await herokuReleaseProvider.diff!(outs.app, outs, inputs())).toMatchObject({ changes: false, replaces: [] });
    const r = await herokuReleaseProvider.read!(outs.app, outs);
    expect(r.props).toEqual(outs);
    expect(api.requests.slice(before).every((q) => q.method === "GET")).toBe(true);
    expect(await herokuReleaseProvider.diff!(outs.app, r.props!, inputs())).toMatchObject({ changes: false });
});

test("a rebuilt image under the same tag: diff sees it, update pushes and releases the new id, config untouched", async () => {
    const newId = buildImage("2");
    expect(newId).not.toBe(outs.imageId);
    expect((await herokuReleaseProvider.diff!(outs.app, outs, inputs())).changes).toBe(true);
    const before = api.requests.length;
    outs = (await herokuReleaseProvider.update!(outs.app, outs, inputs())).outs as HerokuReleaseOutputs;
    expect(calls(before)).toEqual(["PATCH /apps/heroku-it/formation"]);
    expect(api.apps.get("heroku-it")!.formation.web.dockerImage).toBe(newId);
    const m = await registry.manifest("heroku-it/web", "latest");
    expect(m.body.config.digest).toBe(newId);
    expect(outs.imageId).toBe(newId);
});

test("a config change only: one config-vars PATCH (removed var set to null), no push, no release", async () => {
    const manifestBefore = await registry.manifest("heroku-it/web", "latest");
    const before = api.requests.length;
    const news = inputs({ config: { WORKERS: "4" } });
    expect((await herokuReleaseProvider.diff!(outs.app, outs, news)).changes).toBe(true);
    outs = (await herokuReleaseProvider.update!(outs.app, outs, news)).outs as HerokuReleaseOutputs;
    expect(calls(before)).toEqual(["PATCH /apps/heroku-it/config-vars"]);
    expect(api.requests[before].body).toEqual({ LOG_LEVEL: null, WORKERS: "4" });
    expect((await registry.manifest("heroku-it/web", "latest")).digest).toBe(manifestBefore.digest);
});

test("a wrong registry password fails the push clearly, without the key, before any API change", async () => {
    const wrong = "hrku-it-wrong-key-0000-1111";
    api.keys.set(wrong, "alice");
    const before = api.requests.length;
    const err = await herokuReleaseProvider.update!(outs.app, outs, inputs({ apiKey: wrong, processType: "worker" })).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/docker login failed/);
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(KEY);
    expect(api.requests.length).toBe(before);
});

test("the created app is deleted with the release", async () => {
    const before = api.requests.length;
    await herokuReleaseProvider.delete!(outs.app, outs);
    expect(calls(before)).toEqual(["DELETE /apps/heroku-it"]);
    expect(api.apps.has("heroku-it")).toBe(false);
});

test("an existing app owned by another account: 403 surfaces with the app name and no key", async () => {
    buildImage("1");
    api.addApp("someone-elses", "bob");
    const err = await herokuReleaseProvider.create(inputs({ app: "someone-elses", createApp: false })).catch((e) => e);
    expect(err.message).toMatch(/"someone-elses".*403/);
    expect(err.message).not.toContain(KEY);
});

test("a failed push after creating the app deletes the app again (nothing half-applied)", async () => {
    const wrong = "hrku-it-wrong-key-2222-3333";
    api.keys.set(wrong, "alice");
    const before = api.requests.length;
    const err = await herokuReleaseProvider.create(inputs({ app: "heroku-it-rollback", apiKey: wrong })).catch((e) => e);
    expect(err.message).toMatch(/docker login failed.*"heroku-it-rollback" created by this release was deleted again/s);
    expect(err.message).not.toContain(wrong);
    expect(calls(before)).toEqual(["POST /apps", "DELETE /apps/heroku-it-rollback"]);
    expect(api.apps.has("heroku-it-rollback")).toBe(false);
});

test("boot check helper: the image started with only PORT set binds it within Heroku's 60 s limit", async () => {
    const r = await bootOnPort(IMAGE, BOOT_PORT, "heroku-it-boot");
    expect(r.bindMs).toBeGreaterThanOrEqual(0);
    expect(r.bindMs).toBeLessThanOrEqual(HEROKU_BOOT_LIMIT_MS);
    expect(r.withinHerokuLimit).toBe(true);
    // The container is removed afterwards.
    expect(() => execFileSync("docker", ["inspect", "heroku-it-boot"], { stdio: "pipe" })).toThrow();
});
