import { execFileSync, spawnSync } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi, RecordedRequest } from "../../support/heroku-api-fake";
import { LocalRegistry } from "../../support/registry";
import { buildReleaseImage, releaseImageTag } from "../../src/release/heroku/provider";
import { PulumiWorkspace, REPO_ROOT, requirePulumiCli, scratchDir, writeProgram } from "../../support/pulumi-cli";

// HerokuRelease's release phase (releaseCommand) and its health check with rollback (issue 14 items 1 and
// 5) under the REAL Pulumi CLI. Real: the engine and its dynamic-provider host, `docker build` of the
// release image, `docker login`/push into a real registry (Debian's docker-registry, the API key as its
// password), the release phase run as a real container of the pushed release image, the web dyno a real
// container serving HTTP on 127.0.0.1. Stood in for: Heroku's Platform API, by the contract-checking fake
// (support/heroku-api-fake.ts), which runs that release phase and dyno on the local Docker engine.
// The app is a small image with a shell (debian-slim, perl as its HTTP server) whose executable takes a
// `migrate` command as examples/hello's does, so each version's migration and health can be chosen.
// A second suite runs examples/hello itself through WebApp's heroku target: its slim runtime image (no
// shell) runs `hello migrate` in the release phase from the release image's ENTRYPOINT.
// Ports: registry 19102, Platform API fakes 19103 and 19105, their web dynos 19104 and 19106.

jest.setTimeout(30 * 60 * 1000);

const KEY = "hrku-lifecycle-7e2d9c41-0b5a-4f3e-apikey";
const DB_URL = "postgres://life:db-pw-3c8e1f7a@db/lifecycle";
const IMAGE = "heroku-lifecycle-app:latest";
const APP = "heroku-lifecycle";
const STACK = "lifecycle";
const DYNO_PORT = 19104;
const registry = new LocalRegistry(19102, { user: "_", password: KEY });
const api = new FakeHerokuApi(19103, { dynoPort: DYNO_PORT, containerPrefix: "heroku-lifecycle" });

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { HerokuRelease } = require("lisp-deploy");

const cfg = new pulumi.Config();
const release = new HerokuRelease("blog", {
    image: cfg.require("image"),
    app: cfg.require("app"),
    createApp: true,
    secretConfig: { DATABASE_URL: cfg.requireSecret("databaseUrl") },
    apiKey: cfg.requireSecret("herokuApiKey"),
    apiUrl: cfg.require("apiUrl"),
    registryHost: cfg.require("registryHost"),
    releaseCommand: ["migrate"],
    executablePath: "/srv/app",
    healthCheck: { path: "/healthz", timeoutSeconds: 15 },
});
exports.imageId = release.imageId;
exports.url = release.url;
exports.releaseVersion = release.releaseVersion;
`;

/** The app's executable: `migrate` runs the migration (its exit status chosen per version), else it serves. */
const APP_SCRIPT = `#!/bin/sh
if [ "$1" = migrate ]; then
  echo "migrating the database to schema $APP_VERSION (DATABASE_URL is \${DATABASE_URL:+set})"
  if [ "$MIGRATE_EXIT" != 0 ]; then echo "migration to schema $APP_VERSION failed: column users.email already exists" >&2; fi
  exit "$MIGRATE_EXIT"
fi
exec perl /srv/server.pl
`;

/** A one-file HTTP server on 127.0.0.1:$PORT: "version N" on /, /healthz 200 unless HEALTHY=0; a log line per request. */
const SERVER = `use strict; use IO::Socket::INET; $| = 1;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "cannot bind $ENV{PORT}: $!";
print STDERR "version $ENV{APP_VERSION} listening on $ENV{PORT}\\n";
while (my $c = $s->accept) {
  my $line = <$c> // ""; my ($path) = $line =~ m{^GET (\\S+)}; $path //= "?";
  while (my $h = <$c>) { last if $h =~ /^\\r?\\n$/ }
  my ($status, $body) = $path eq "/healthz" ? ($ENV{HEALTHY} ? ("200 OK", "ok\\n") : ("500 Internal Server Error", "no database\\n")) : ("200 OK", "version $ENV{APP_VERSION}\\n");
  print STDERR "GET $path -> $status" . ($ENV{HEALTHY} ? "" : " (cannot reach the database: connection refused)") . "\\n";
  print $c "HTTP/1.0 $status\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($body) . "\\r\\nConnection: close\\r\\n\\r\\n$body";
  close $c;
}
`;

let buildDir = "";
let scratch = "";
let ws: PulumiWorkspace;

/** Builds version `version` of the app under IMAGE; returns its id. */
function buildImage(version: number, opts: { migrateExit: number; healthy: boolean }): string {
    fs.writeFileSync(
        path.join(buildDir, "Dockerfile"),
        [
            "FROM debian:bookworm-slim",
            "COPY app server.pl /srv/",
            `ENV APP_VERSION=${version} MIGRATE_EXIT=${opts.migrateExit} HEALTHY=${opts.healthy ? 1 : 0}`,
            'ENTRYPOINT ["/srv/app"]',
            "",
        ].join("\n"),
    );
    execFileSync("docker", ["build", "--network", "host", "--label", `heroku-lifecycle-version=${version}`, "-t", IMAGE, buildDir], { stdio: "pipe" });
    return execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE], { encoding: "utf8" }).trim();
}

/** What the web dyno answers on / (curl: status and body). */
function served(): string {
    const r = spawnSync("curl", ["-s", "--max-time", "5", `http://127.0.0.1:${DYNO_PORT}/`], { encoding: "utf8" });
    return r.stdout;
}

const calls = (rs: RecordedRequest[]) => rs.map((r) => `${r.method} ${r.path}`);

async function up(): Promise<{ code: number; out: string; requests: RecordedRequest[] }> {
    const before = api.requests.length;
    const r = await ws.up(STACK);
    await api.settled();
    return { ...r, requests: api.requests.slice(before) };
}

const runsOfApp = () => api.releasePhaseRuns.filter((r) => r.app === APP);

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    requireCommand("curl", "curl");
    requirePulumiCli();
    buildDir = scratchDir("heroku-lifecycle-build");
    fs.writeFileSync(path.join(buildDir, "app"), APP_SCRIPT, { mode: 0o755 });
    fs.writeFileSync(path.join(buildDir, "server.pl"), SERVER);
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");
    scratch = scratchDir("heroku-lifecycle");
    const projectDir = path.join(scratch, "project");
    writeProgram(projectDir, "heroku-lifecycle", PROGRAM);
    ws = new PulumiWorkspace(projectDir, scratch);
    await ws.initStack(STACK, { app: APP, image: IMAGE, apiUrl: api.url, registryHost: registry.host });
    await ws.setSecret(STACK, "herokuApiKey", KEY);
    await ws.setSecret(STACK, "databaseUrl", DB_URL);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK).catch(() => undefined);
    await api.stop();
    await registry.stop();
    for (const ref of [IMAGE, `${registry.host}/${APP}/web`, `${registry.host}/${APP}/release`, releaseImageTag(APP)]) spawnSync("docker", ["image", "rm", "-f", ref]);
    for (const label of ["heroku-lifecycle-version", "lisp-deploy.heroku.release-image"]) {
        const ids = execFileSync("docker", ["images", "-q", "--filter", `label=${label}`], { encoding: "utf8" }).split("\n").filter(Boolean);
        if (ids.length) spawnSync("docker", ["image", "rm", "-f", ...new Set(ids)]);
    }
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => expect(api.violations).toEqual([]));

describe("Heroku release phase and rollback under the real Pulumi engine", () => {
    let v1 = "";

    test("Heroku releaseCommand: a passing migration runs once, in the release phase, before the new version serves", async () => {
        v1 = buildImage(1, { migrateExit: 0, healthy: true });
        const { code, out, requests } = await up();
        if (code !== 0) throw new Error(`pulumi up exited ${code}:\n${out.slice(-8000)}`);
        // One formation update releases the web image and the release image together, as `heroku container:release web release` does.
        const formation = requests.filter((r) => r.method === "PATCH" && r.path === `/apps/${APP}/formation`);
        expect(formation).toHaveLength(1);
        const [web, release] = formation[0].body.updates;
        expect(web).toEqual({ type: "web", docker_image: v1 });
        expect(release.type).toBe("release");
        // The release image is the web image started as `/srv/app migrate` (exec form: no shell needed).
        const entrypoint = JSON.parse(execFileSync("docker", ["image", "inspect", "--format", "{{json .Config.Entrypoint}}", release.docker_image], { encoding: "utf8" }));
        expect(entrypoint).toEqual(["/srv/app", "migrate"]);
        // It ran exactly once, with the config vars, and finished before the dyno of that release started.
        const runs = runsOfApp();
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatchObject({ exitCode: 0 });
        expect(runs[0].output).toContain("migrating the database to schema 1 (DATABASE_URL is set)");
        const start = api.dynoStarts.find((d) => d.app === APP && d.version === runs[0].version)!;
        expect(start.image).toBe(v1);
        expect(start.startedAt).toBeGreaterThanOrEqual(runs[0].finishedAt);
        expect(served()).toBe("version 1\n");
        expect(calls(requests)).toContain(`GET /apps/${APP}/dynos`);
        const outputs = await ws.outputs(STACK);
        expect(outputs.releaseVersion).toBe(runs[0].version);
        expect(outputs.imageId).toBe(v1);
    });

    test("Heroku releaseCommand: a failing migration (exit 3) fails the update with its output, and the old version keeps serving", async () => {
        // As on Heroku for an image without curl, the release phase streams nothing: its output comes from the app's log.
        api.streamReleaseOutput = false;
        const v2 = buildImage(2, { migrateExit: 3, healthy: true });
        const before = runsOfApp().length;
        const { code, out } = await up();
        api.streamReleaseOutput = true;
        expect(code).not.toBe(0);
        expect(out).toMatch(/The release command \["migrate"\] failed in Heroku's release phase of app "heroku-lifecycle" \(release v\d+\), so Heroku did not deploy it: v\d+ keeps serving/);
        expect(out).toContain("migration to schema 2 failed: column users.email already exists");
        expect(out).toContain("app[release.");
        expect(runsOfApp().slice(before).map((r) => r.exitCode)).toEqual([3]);
        // Nothing switched: the formation and the dyno still run version 1, and the state still records it.
        expect(api.apps.get(APP)!.formation.web.dockerImage).toBe(v1);
        expect(api.dynoStarts.filter((d) => d.app === APP && d.image === v2)).toEqual([]);
        expect(served()).toBe("version 1\n");
        expect((await ws.outputs(STACK)).imageId).toBe(v1);
    });

    test("Heroku rollback: a release whose new image fails its health check is rolled back to the old one, and the update fails with the app's recent log lines", async () => {
        const v3 = buildImage(3, { migrateExit: 0, healthy: false });
        const { code, out, requests } = await up();
        expect(code).not.toBe(0);
        expect(out).toMatch(/The health check of app "heroku-lifecycle" failed after release v(\d+): http:\/\/127\.0\.0\.1:19104\/healthz did not answer 200 within 15 s \(last: HTTP 500\)/);
        expect(out).toMatch(/rolled the app back to v\d+ \(as release v\d+\), which serves again/);
        // The new dyno's own log lines, read through a log session.
        expect(out).toContain("app[web.1]: GET /healthz -> 500 Internal Server Error (cannot reach the database: connection refused)");
        expect(out).not.toContain(DB_URL);
        // The rollback on the fake: POST /apps/{app}/releases {"release": <the id of the release that served v1>}.
        const rollback = requests.find((r) => r.method === "POST" && r.path === `/apps/${APP}/releases`)!;
        const target = api.apps.get(APP)!.releases.find((r) => r.id === rollback.body.release)!;
        expect(target.images.web).toBe(v1);
        expect(api.apps.get(APP)!.releases.at(-1)!.description).toBe(`Rollback to v${target.version}`);
        // v3 did serve (its dyno started), and v1 serves again after it.
        const starts = api.dynoStarts.filter((d) => d.app === APP);
        expect(starts.at(-2)!.image).toBe(v3);
        expect(starts.at(-1)!.image).toBe(v1);
        expect(api.apps.get(APP)!.formation.web.dockerImage).toBe(v1);
        expect(served()).toBe("version 1\n");
        expect((await ws.outputs(STACK)).imageId).toBe(v1);
    });

    test("Heroku: a fixed version after the failures releases, migrates once and serves", async () => {
        const v4 = buildImage(4, { migrateExit: 0, healthy: true });
        const before = runsOfApp().length;
        const { code, out } = await up();
        if (code !== 0) throw new Error(`pulumi up exited ${code}:\n${out.slice(-8000)}`);
        const runs = runsOfApp().slice(before);
        expect(runs.map((r) => r.exitCode)).toEqual([0]);
        expect(runs[0].output).toContain("schema 4");
        expect(served()).toBe("version 4\n");
        expect((await ws.outputs(STACK)).imageId).toBe(v4);
    });

    test("no CLI output of the whole run held the API key or the secret config value", () => {
        expect(ws.transcript.length).toBeGreaterThan(3);
        const all = ws.transcript.join("\n");
        for (const s of [KEY, DB_URL, "db-pw-3c8e1f7a"]) expect(all).not.toContain(s);
    });
});

describe("the release image's Dockerfile read by its real consumer (docker build)", () => {
    test("any release command: the built image's ENTRYPOINT is exactly the executable and the arguments", () => {
        const base = execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", "debian:bookworm-slim"], { encoding: "utf8" }).trim();
        const arg = fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((a) => !a.includes("\0"));
        const seen = new Set<string>();
        fc.assert(
            fc.property(fc.array(arg, { minLength: 1, maxLength: 4 }), (command) => {
                const id = buildReleaseImage(base, "/srv/app", command, "heroku-lifecycle-release-check:latest");
                seen.add(id);
                const entrypoint = JSON.parse(execFileSync("docker", ["image", "inspect", "--format", "{{json .Config.Entrypoint}}", id], { encoding: "utf8" }));
                expect(entrypoint).toEqual(["/srv/app", ...command]);
                const cmd = execFileSync("docker", ["image", "inspect", "--format", "{{json .Config.Cmd}}", id], { encoding: "utf8" }).trim();
                expect(cmd).toBe("null");
            }),
            { numRuns: 12, examples: [[["migrate"]], [['say "hi"', "a\\b", "$HOME", "ends\\"]], [["two words", "ünïcode ✓", "tab\there"]]] },
        );
        spawnSync("docker", ["image", "rm", "-f", "heroku-lifecycle-release-check:latest"]);
        for (const id of seen) spawnSync("docker", ["image", "rm", "-f", id]);
    });
});

// examples/hello through WebApp's heroku target: the image LispImage builds (slim: no shell, so only an
// exec-form ENTRYPOINT can start the release command), its real `migrate` command in the release phase,
// the health check on its /healthz; a failing command (`--eval` quitting 3) keeps the old greeting serving.
describe("WebApp's heroku target with examples/hello: releaseCommand on the slim image, under the real engine", () => {
    const HELLO_APP = "heroku-lifecycle-hello";
    const HELLO_STACK = "hello";
    const HELLO_DYNO = 19106;
    const helloApi = new FakeHerokuApi(19105, { dynoPort: HELLO_DYNO, containerPrefix: "heroku-lifecycle-hello" });
    let helloWs: PulumiWorkspace;
    let helloScratch = "";
    let appDir = "";
    const HELLO_PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { WebApp } = require("lisp-deploy");
const cfg = new pulumi.Config();
const app = new WebApp("hello", {
    app: {
        path: "../hello",
        dependencySource: { kind: "debian" },
        compression: true,
        buildNetwork: "host",
        healthPath: "/healthz",
        releaseCommand: JSON.parse(cfg.require("releaseCommand")),
    },
    target: {
        kind: "heroku",
        heroku: {
            app: cfg.require("herokuApp"),
            apiKey: cfg.requireSecret("herokuApiKey"),
            createApp: true,
            apiUrl: cfg.require("herokuApiUrl"),
            registryHost: cfg.require("herokuRegistryHost"),
            healthCheck: { timeoutSeconds: 60 },
        },
    },
});
exports.url = app.url;
`;
    const helloServed = () => spawnSync("curl", ["-s", "--max-time", "5", `http://127.0.0.1:${HELLO_DYNO}/`], { encoding: "utf8" }).stdout;
    const helloRuns = () => helloApi.releasePhaseRuns.filter((r) => r.app === HELLO_APP);

    beforeAll(async () => {
        await helloApi.start();
        helloApi.keys.set(KEY, "alice");
        helloScratch = scratchDir("heroku-lifecycle-hello");
        appDir = path.join(helloScratch, "examples", "hello");
        fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), appDir, { recursive: true });
        const projectDir = path.join(helloScratch, "examples", "lifecycle");
        writeProgram(projectDir, "heroku-lifecycle-hello", HELLO_PROGRAM);
        helloWs = new PulumiWorkspace(projectDir, helloScratch);
        await helloWs.initStack(HELLO_STACK, { herokuApp: HELLO_APP, herokuApiUrl: helloApi.url, herokuRegistryHost: registry.host, releaseCommand: '["migrate"]' });
        await helloWs.setSecret(HELLO_STACK, "herokuApiKey", KEY);
    });

    afterAll(async () => {
        if (helloWs) await helloWs.destroy(HELLO_STACK).catch(() => undefined);
        await helloApi.stop();
        for (const ref of [`${registry.host}/${HELLO_APP}/web`, `${registry.host}/${HELLO_APP}/release`, releaseImageTag(HELLO_APP)]) spawnSync("docker", ["image", "rm", "-f", ref]);
        if (helloScratch) fs.rmSync(helloScratch, { recursive: true, force: true });
    });

    afterEach(() => expect(helloApi.violations).toEqual([]));

    test("Heroku releaseCommand [\"migrate\"] runs hello's migrate command from the slim image's release image, then the health check passes", async () => {
        const r = await helloWs.up(HELLO_STACK);
        await helloApi.settled();
        if (r.code !== 0) throw new Error(`pulumi up exited ${r.code}:\n${r.out.slice(-8000)}`);
        const runs = helloRuns();
        expect(runs.map((x) => x.exitCode)).toEqual([0]);
        expect(runs[0].output).toMatch(/running command migrate/);
        expect(runs[0].output).toMatch(/no STATE_DIRECTORY: nothing to migrate/);
        expect(helloServed()).toBe("Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n");
        // The release image is the web image started as `/app/hello migrate`, and that image has no shell:
        // a CMD (which Heroku runs through /bin/sh -c) could not have started it.
        const formation = helloApi.apps.get(HELLO_APP)!.formation;
        const entrypoint = JSON.parse(execFileSync("docker", ["image", "inspect", "--format", "{{json .Config.Entrypoint}}", formation.release.dockerImage!], { encoding: "utf8" }));
        expect(entrypoint).toEqual(["/app/hello", "migrate"]);
        expect(spawnSync("docker", ["run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", formation.web.dockerImage!, "-c", "true"]).status).not.toBe(0);
    });

    test("Heroku releaseCommand failing on hello (exit 3) fails the update with hello's own log lines, and the old greeting keeps serving", async () => {
        const text = fs.readFileSync(path.join(appDir, "src", "app.lisp"), "utf8");
        fs.writeFileSync(path.join(appDir, "src", "app.lisp"), text.replace(/\(defparameter \+greeting\+ "[^"]*"/, '(defparameter +greeting+ "A greeting that must not be served."'));
        await helloWs.ok(["config", "set", "--stack", HELLO_STACK, "releaseCommand", '["--eval", "(progn (format t \\"migration failed: schema locked~%\\") (finish-output) (uiop:quit 3))"]']);
        const r = await helloWs.up(HELLO_STACK);
        await helloApi.settled();
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/failed in Heroku's release phase of app "heroku-lifecycle-hello"/);
        expect(r.out).toContain("migration failed: schema locked");
        expect(helloRuns().map((x) => x.exitCode)).toEqual([0, 3]);
        expect(helloServed()).toBe("Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n");
    });
});
