import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi, RecordedRequest } from "../../support/heroku-api-fake";
import { LocalRegistry } from "../../support/registry";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { changedResources, copyExample, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/heroku, unmodified, under the REAL Pulumi CLI, its config pointed at Heroku's stand-ins: the
// contract-checking fake of the Platform API (support/heroku-api-fake.ts, the one thing stood in for) and
// a real registry standing in for registry.heroku.com (Debian's docker-registry with the API key as its
// password, support/registry.ts). Real: the Docker build of examples/hello, `docker login`/push, the
// engine and its dynamic-provider host. What Heroku would then run is run here too: the released image,
// pulled back from the registry by the digest the formation names, started as a web dyno (only PORT set).
// Ports: registry 18480, Platform API fake 18481, the dyno 18482.

jest.setTimeout(60 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "heroku";
const KEY = `hrku-example-${id}-5d1e0c7a-apikey`;
const APP = `lisp-hello-e2e-${id}`;
const DYNO_PORT = 18482;
const DYNO = `lisp-deploy-heroku-example-e2e-${id}`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello from a stood-in Heroku.";
const registry = new LocalRegistry(18480, { user: "_", password: KEY });
// The fake also runs the released image as the web dyno on 18483 (its web_url), where WebApp's health
// check (on by default) asks /healthz after each release.
const FAKE_DYNO_PORT = 18483;
const api = new FakeHerokuApi(18481, { dynoPort: FAKE_DYNO_PORT, containerPrefix: "examples-heroku-engine" });

let scratch = "";
let appDir = "";
let ws: PulumiWorkspace;

const calls = (rs: RecordedRequest[]) => rs.map((r) => `${r.method} ${r.path}`);

async function up(): Promise<RecordedRequest[]> {
    const before = api.requests.length;
    const r = await ws.up(STACK);
    if (r.code !== 0) throw new Error(`pulumi up exited ${r.code}:\n${r.out.slice(-12000)}`);
    return api.requests.slice(before);
}

/**
 * Runs what the formation says the web dyno runs, as Heroku would: the image pulled from the registry by
 * the released id (the config digest the formation names), its default command, only PORT set; returns
 * what it answers on /.
 */
async function dynoAnswer(): Promise<{ status: string; body: string }> {
    const released = String(api.apps.get(APP)!.formation.web.dockerImage);
    const outputs = await ws.outputs(STACK);
    const ref = outputs.imageRef as string;
    spawnSync("docker", ["rm", "-f", DYNO]);
    // Heroku's side of the registry: logged in with the API key, in a Docker config of the test's own.
    const dockerConfig = path.join(scratch, "dyno-docker-config");
    execFileSync("docker", ["--config", dockerConfig, "login", "-u", "_", "--password-stdin", registry.host], { input: KEY, stdio: ["pipe", "pipe", "pipe"] });
    execFileSync("docker", ["--config", dockerConfig, "pull", "-q", `${registry.host}/${APP}/web:latest`], { stdio: "pipe" });
    const pulledId = execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", `${registry.host}/${APP}/web:latest`], { encoding: "utf8" }).trim();
    // What was pushed is what was released, and is the image the stack reports.
    expect(pulledId).toBe(released);
    expect(execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", ref], { encoding: "utf8" }).toString().trim()).toBe(released);
    execFileSync("docker", ["run", "-d", "--name", DYNO, "--network", "host", "--env", `PORT=${DYNO_PORT}`, released], { stdio: "pipe" });
    try {
        const deadline = Date.now() + 60_000;
        for (;;) {
            const answer = httpGet(`http://127.0.0.1:${DYNO_PORT}/`);
            if (answer.status !== "000" || Date.now() > deadline) return answer;
            await new Promise((r) => setTimeout(r, 200));
        }
    } finally {
        spawnSync("docker", ["rm", "-f", DYNO]);
    }
}

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    requireCommand("curl", "curl");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");
    scratch = scratchDir("examples-heroku-engine");
    const example = copyExample(scratch, "heroku");
    appDir = example.appDir;
    ws = new PulumiWorkspace(example.projectDir, scratch);
    await ws.initStack(STACK, {
        herokuApp: APP,
        createApp: "true",
        region: "eu",
        herokuApiUrl: api.url,
        herokuRegistryHost: registry.host,
        dependencySource: "debian",
        buildNetwork: "host",
    });
    await ws.setSecret(STACK, "herokuApiKey", KEY);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK).catch(() => undefined);
    spawnSync("docker", ["rm", "-f", DYNO]);
    spawnSync("docker", ["image", "rm", "-f", `${registry.host}/${APP}/web:latest`]);
    await api.stop();
    await registry.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => expect(api.violations).toEqual([]));

/**
 * The calls that changed the app (all but reads). WebApp's health check (on by default) adds reads only:
 * the releases before and after, the new release's dynos; a rollback would be a write.
 */
function writesOf(requests: RecordedRequest[]): string[] {
    expect(calls(requests)).toContain(`GET /apps/${APP}/dynos`);
    return calls(requests).filter((call) => !call.startsWith("GET "));
}
const requestOf = (requests: RecordedRequest[], call: string) => requests.find((r) => `${r.method} ${r.path}` === call)!;

test("examples/heroku under the real engine, Heroku stood in for: up creates the app, pushes and releases the image, which serves as a dyno", async () => {
    const requests = await up();
    expect(writesOf(requests)).toEqual(["POST /apps", `PATCH /apps/${APP}/formation`]);
    expect(requestOf(requests, "POST /apps").body).toEqual({ name: APP, stack: "container", region: "eu" });
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(`http://127.0.0.1:${FAKE_DYNO_PORT}/`);
    expect(outputs.logsCommand).toContain(APP);
    expect(await dynoAnswer()).toEqual({ status: "200", body: FIRST });

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);
});

test("an app source change previews as the image and the release only; up releases the new image, which serves the new text", async () => {
    const before = api.apps.get(APP)!.formation.web.dockerImage;
    setGreeting(appDir, SECOND_GREETING);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    expect(changedResources(preview)).toEqual([
        "update docker:index/image:Image hello-image-image",
        "update pulumi-nodejs:dynamic:HerokuRelease hello-release-release",
    ]);
    const requests = await up();
    // Only the formation changes: the app stays, no config var was set.
    expect(writesOf(requests)).toEqual([`PATCH /apps/${APP}/formation`]);
    const after = api.apps.get(APP)!.formation.web.dockerImage;
    expect(after).not.toBe(before);
    expect(requestOf(requests, `PATCH /apps/${APP}/formation`).body).toEqual({ updates: [{ type: "web", docker_image: after }] });
    expect(await dynoAnswer()).toEqual({ status: "200", body: `${SECOND_GREETING} (hello 1.0.0)\n` });
});

test("destroy deletes the app it created and leaves nothing", async () => {
    const before = api.requests.length;
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect(calls(api.requests.slice(before))).toEqual([`DELETE /apps/${APP}`]);
    expect(api.apps.has(APP)).toBe(false);
    expect((await ws.exportState(STACK)).resources).toEqual([]);
});

test("no CLI output of the whole run held the API key", () => {
    expect(ws.transcript.length).toBeGreaterThan(3);
    for (const out of ws.transcript) expect(out).not.toContain(KEY);
});
