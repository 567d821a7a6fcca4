import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi, RecordedRequest } from "../../support/heroku-api-fake";
import { LocalRegistry, MEDIA_TYPES } from "../../support/registry";
import { linkNodeModules, PulumiWorkspace, requirePulumiCli, scratchDir } from "../../support/pulumi-cli";

// HerokuRelease under the REAL Pulumi engine (the `pulumi` CLI, its Node.js language host and the
// dynamic-provider host from @pulumi/pulumi): a throwaway project whose plain index.js requires
// "lisp-deploy" (this checkout's bin/, built by the integration global setup) and creates a HerokuRelease from config, the API
// key and one config var as SECRET config. The engine serializes the provider into state, runs it in its
// own process and decides what to create, update and delete.
// Real: the Pulumi CLI and hosts, the Docker engine (build, login, tag, push), a registry (Debian's
// docker-registry with htpasswd auth on 127.0.0.1). Stood in for: Heroku's Platform API, by the
// contract-checking fake on 127.0.0.1 (support/heroku-api-fake.ts).

jest.setTimeout(20 * 60 * 1000);

const KEY = "hrku-engine-3f9a61d2-7c0b-4e55-a1d8-apikey";
const DB_URL = "postgres://eng:db-pw-8e1c4b7a@db/engine";
const DB_URL_2 = "postgres://eng:db-pw-rotated-51f0d9@db/engine";
const IMAGE = "heroku-engine-app:latest";
const APP = "heroku-engine";
const STACK = "dev";
/** A second stack releasing into an app that exists already (not created by the release). */
const EXISTING_STACK = "existing";
const EXISTING_APP = "heroku-engine-old";
const registry = new LocalRegistry(18456, { user: "_", password: KEY });
const api = new FakeHerokuApi(18457);
const SECRETS = [KEY, DB_URL, DB_URL_2, "db-pw-8e1c4b7a", "db-pw-rotated-51f0d9"];

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { HerokuRelease } = require("lisp-deploy");

const cfg = new pulumi.Config();
const release = new HerokuRelease("blog", {
    image: cfg.require("image"),
    app: cfg.require("app"),
    createApp: cfg.getBoolean("createApp") ?? true,
    region: "eu",
    config: { LOG_LEVEL: cfg.require("logLevel") },
    secretConfig: { DATABASE_URL: cfg.requireSecret("databaseUrl") },
    apiKey: cfg.requireSecret("herokuApiKey"),
    apiUrl: cfg.require("apiUrl"),
    registryHost: cfg.require("registryHost"),
});
exports.imageId = release.imageId;
exports.releasedImage = release.releasedImage;
exports.manifestDigest = release.manifestDigest;
exports.url = release.url;
`;

let buildDir = "";
let scratch = "";
let ws: PulumiWorkspace;

/** Builds the small test image; `version` goes into a label so each version has its own image id. */
function buildImage(version: string): string {
    execFileSync("docker", ["build", "--network", "host", "--label", `heroku-engine-version=${version}`, "-t", IMAGE, buildDir], { stdio: "pipe" });
    return execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE], { encoding: "utf8" }).trim();
}

const calls = (rs: RecordedRequest[]) => rs.map((r) => `${r.method} ${r.path}`);

/** Runs `pulumi up` and returns its output with the API requests it caused. */
async function up(stack = STACK): Promise<{ out: string; requests: RecordedRequest[] }> {
    const before = api.requests.length;
    const r = await ws.up(stack);
    if (r.code !== 0) throw new Error(`pulumi up exited ${r.code}:\n${r.out}`);
    return { out: r.out, requests: api.requests.slice(before) };
}

/** Runs `pulumi preview` and returns its output; fails with that output if the CLI failed. */
async function preview(flags: string[]): Promise<string> {
    const r = await ws.preview(STACK, flags);
    if (r.code !== 0) throw new Error(`pulumi preview ${flags.join(" ")} exited ${r.code}:\n${r.out}`);
    return r.out;
}

/** The dynamic resource's state entry in `pulumi stack export`. */
async function releaseState(): Promise<{ text: string; res: any }> {
    const { text, resources } = await ws.exportState(STACK);
    const res = resources.find((r) => r.type === "pulumi-nodejs:dynamic:HerokuRelease" && r.urn.endsWith("::blog-release"));
    expect(res).toBeDefined();
    return { text, res };
}

/** Asserts no secret appears in a text. */
function expectNoSecrets(text: string, where: string): void {
    for (const s of SECRETS) {
        if (text.includes(s)) throw new Error(`${where} holds the secret "${s.slice(0, 12)}…" in plain form`);
    }
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const isSecretValue = (v: any) => v && typeof v === "object" && v[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270" && typeof v.ciphertext === "string";

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    requirePulumiCli();
    // `require("lisp-deploy")` resolves to bin/index.js: build it from this checkout.

    buildDir = scratchDir("heroku-engine-build");
    fs.writeFileSync(path.join(buildDir, "Dockerfile"), 'FROM debian:bookworm-slim\nCMD ["sleep", "infinity"]\n');
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");

    scratch = scratchDir("heroku-engine");
    const projectDir = path.join(scratch, "project");
    fs.mkdirSync(projectDir);
    fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), "name: heroku-engine\nruntime: nodejs\ndescription: HerokuRelease under the real engine\n");
    fs.writeFileSync(path.join(projectDir, "index.js"), PROGRAM);
    fs.writeFileSync(path.join(projectDir, "package.json"), JSON.stringify({ name: "heroku-engine", main: "index.js" }) + "\n");
    linkNodeModules(projectDir);
    ws = new PulumiWorkspace(projectDir, scratch);
    await ws.initStack(STACK, { app: APP, image: IMAGE, logLevel: "info", apiUrl: api.url, registryHost: registry.host });
    await ws.setSecret(STACK, "herokuApiKey", KEY);
    await ws.setSecret(STACK, "databaseUrl", DB_URL);
});

afterAll(async () => {
    // A test that failed half-way leaves a stack: destroy it (bounded), so nothing outlives the run.
    if (ws) for (const stack of [STACK, EXISTING_STACK]) await ws.destroy(stack).catch(() => undefined);
    await api.stop();
    await registry.stop();
    for (const ref of [IMAGE, `${registry.host}/${APP}/web`, `${registry.host}/${EXISTING_APP}/web`]) {
        try {
            execFileSync("docker", ["image", "rm", "-f", ref], { stdio: "pipe" });
        } catch {
            /* already gone */
        }
    }
    const ids = execFileSync("docker", ["images", "-q", "--filter", "label=heroku-engine-version"], { encoding: "utf8" }).split("\n").filter(Boolean);
    if (ids.length) execFileSync("docker", ["image", "rm", "-f", ...new Set(ids)], { stdio: "pipe" });
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

afterEach(() => expect(api.violations).toEqual([]));

describe("HerokuRelease under the real Pulumi engine", () => {
    let imageV1 = "";

    test("create: pulumi up creates the app, pushes the image to the registry and releases its config digest", async () => {
        imageV1 = buildImage("1");
        const { requests } = await up();
        expect(calls(requests)).toEqual(["POST /apps", `PATCH /apps/${APP}/config-vars`, `PATCH /apps/${APP}/formation`]);
        expect(requests[0].body).toEqual({ name: APP, stack: "container", region: "eu" });
        expect(requests[1].body).toEqual({ DATABASE_URL: DB_URL, LOG_LEVEL: "info" });
        expect(requests[2].headers.accept).toBe("application/vnd.heroku+json; version=3.docker-releases");
        expect(requests[2].body).toEqual({ updates: [{ type: "web", docker_image: imageV1 }] });
        // The key reached the API in the Authorization header only.
        for (const r of requests) {
            expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
            expect(JSON.stringify(r.body ?? null)).not.toContain(KEY);
        }

        // What the registry stored: a Docker schema-2 manifest whose config digest is what was released.
        const m = await registry.manifest(`${APP}/web`, "latest");
        expect(m.mediaType).toBe(MEDIA_TYPES.dockerSchema2);
        expect(m.body.config.digest).toBe(imageV1);

        const app = api.apps.get(APP)!;
        expect(app.formation.web.dockerImage).toBe(imageV1);
        expect(app.configVars).toEqual({ DATABASE_URL: DB_URL, LOG_LEVEL: "info" });

        const outputs = await ws.outputs(STACK);
        expect(outputs).toEqual({
            imageId: imageV1,
            releasedImage: `${registry.host}/${APP}/web`,
            manifestDigest: m.digest,
            url: expect.stringMatching(new RegExp(`^https://${APP}-`)),
        });
    });

    test("the state holds the key and the secret config var only encrypted, and the serialized provider captures neither", async () => {
        const { text, res } = await releaseState();
        expectNoSecrets(text, "pulumi stack export");
        for (const props of [res.inputs, res.outputs]) {
            expect(isSecretValue(props.apiKey)).toBe(true);
            expect(isSecretValue(props.secretConfig)).toBe(true);
            // The plain key names, so a diff can name a changed secret without showing it.
            expect(props.secretConfigKeys).toEqual(["DATABASE_URL"]);
            expect(props.config).toEqual({ LOG_LEVEL: "info" });
        }
        // The provider is stored as the text of a function; it must not have captured any secret value.
        const provider: string = res.inputs.__provider;
        expect(typeof provider).toBe("string");
        expect(provider).toContain("exports.handler");
        expectNoSecrets(provider, "the serialized provider");
        expect(provider).not.toContain(registry.host);
        expect(provider).not.toContain(api.url);
    });

    test("a second pulumi up with nothing changed makes no changing call and leaves the release unchanged", async () => {
        await preview(["--expect-no-changes", "--diff"]);
        const { out, requests } = await up();
        expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
        expect(out).toMatch(/3 unchanged/);
        expect(out).not.toMatch(/\bupdated\b|\bcreated\b|\bdeleted\b|\breplaced\b/);
        expect(api.apps.get(APP)!.formation.web.dockerImage).toBe(imageV1);
    });

    test("a changed plain config var: preview --diff shows it without any secret, up patches that var only", async () => {
        await ws.ok(["config", "set", "--stack", STACK, "logLevel", "debug"]);
        const shown = await preview(["--diff"]);
        expect(shown).toMatch(/~\s+pulumi-nodejs:dynamic:HerokuRelease: \(update\)/);
        expect(shown).toMatch(/LOG_LEVEL\s*:\s*"info" => "debug"/);
        expectNoSecrets(shown, "pulumi preview --diff");

        const { requests } = await up();
        expect(calls(requests)).toEqual([`PATCH /apps/${APP}/config-vars`]);
        expect(requests[0].body).toEqual({ LOG_LEVEL: "debug" });
        expect(api.apps.get(APP)!.configVars).toEqual({ DATABASE_URL: DB_URL, LOG_LEVEL: "debug" });
        expect(api.apps.get(APP)!.formation.web.dockerImage).toBe(imageV1);
    });

    test("a rotated secret config var: preview --diff shows an update with the value as [secret], up patches that var only", async () => {
        await ws.setSecret(STACK, "databaseUrl", DB_URL_2);
        const shown = await preview(["--diff"]);
        // The engine masks every secret as "[secret]" before it renders a diff, and a dynamic provider's diff
        // cannot name changed properties (the host passes on only changes/replaces): so the preview says
        // "update" and shows the secret masked, without marking which property changed.
        expect(shown).toMatch(/~\s+pulumi-nodejs:dynamic:HerokuRelease: \(update\)/);
        expect(shown).toMatch(/secretConfig\s*:\s*\[secret\]/);
        expect(shown).toMatch(/apiKey\s*:\s*\[secret\]/);
        expectNoSecrets(shown, "pulumi preview --diff");

        const { requests } = await up();
        expect(calls(requests)).toEqual([`PATCH /apps/${APP}/config-vars`]);
        expect(requests[0].body).toEqual({ DATABASE_URL: DB_URL_2 });
        expect(api.apps.get(APP)!.configVars).toEqual({ DATABASE_URL: DB_URL_2, LOG_LEVEL: "debug" });
    });

    test("a rebuilt image under the same tag: preview shows an update, up pushes and releases the new id only", async () => {
        const imageV2 = buildImage("2");
        expect(imageV2).not.toBe(imageV1);
        const shown = await preview(["--diff"]);
        expect(shown).toMatch(/~\s+pulumi-nodejs:dynamic:HerokuRelease: \(update\)/);
        expectNoSecrets(shown, "pulumi preview --diff");

        const { requests } = await up();
        expect(calls(requests)).toEqual([`PATCH /apps/${APP}/formation`]);
        expect(requests[0].body).toEqual({ updates: [{ type: "web", docker_image: imageV2 }] });
        const m = await registry.manifest(`${APP}/web`, "latest");
        expect(m.body.config.digest).toBe(imageV2);
        expect(api.apps.get(APP)!.formation.web.dockerImage).toBe(imageV2);
        expect((await ws.outputs(STACK)).imageId).toBe(imageV2);

        const { text, res } = await releaseState();
        expectNoSecrets(text, "pulumi stack export after updates");
        expect(isSecretValue(res.outputs.apiKey)).toBe(true);
        expect(isSecretValue(res.outputs.secretConfig)).toBe(true);
        expect(res.outputs.imageId).toBe(imageV2);
    });

    test("destroy: the app the release created is deleted", async () => {
        const before = api.requests.length;
        const r = await ws.destroy(STACK);
        if (r.code !== 0) throw new Error(`pulumi destroy exited ${r.code}:\n${r.out}`);
        expect(calls(api.requests.slice(before))).toEqual([`DELETE /apps/${APP}`]);
        expect(api.apps.has(APP)).toBe(false);
        expect((await ws.exportState(STACK)).resources).toEqual([]);
    });

    test("an existing app: up releases into it without creating it; destroy scales it to 0 and removes only the vars it set", async () => {
        api.addApp(EXISTING_APP, "alice", { KEEP: "yes" });
        await ws.initStack(EXISTING_STACK, {
            app: EXISTING_APP,
            createApp: "false",
            image: IMAGE,
            logLevel: "info",
            apiUrl: api.url,
            registryHost: registry.host,
        });
        await ws.setSecret(EXISTING_STACK, "herokuApiKey", KEY);
        await ws.setSecret(EXISTING_STACK, "databaseUrl", DB_URL);
        const imageId = execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE], { encoding: "utf8" }).trim();

        const { requests } = await up(EXISTING_STACK);
        expect(calls(requests)).toEqual([`GET /apps/${EXISTING_APP}`, `PATCH /apps/${EXISTING_APP}/config-vars`, `PATCH /apps/${EXISTING_APP}/formation`]);
        expect(requests[2].body).toEqual({ updates: [{ type: "web", docker_image: imageId }] });
        expect(api.apps.get(EXISTING_APP)!.configVars).toEqual({ KEEP: "yes", DATABASE_URL: DB_URL, LOG_LEVEL: "info" });
        expectNoSecrets((await ws.exportState(EXISTING_STACK)).text, "pulumi stack export (existing app)");

        const before = api.requests.length;
        const r = await ws.destroy(EXISTING_STACK);
        if (r.code !== 0) throw new Error(`pulumi destroy exited ${r.code}:\n${r.out}`);
        const destroyed = api.requests.slice(before);
        expect(calls(destroyed)).toEqual([`PATCH /apps/${EXISTING_APP}/formation`, `PATCH /apps/${EXISTING_APP}/config-vars`]);
        expect(destroyed[0].body).toEqual({ updates: [{ type: "web", quantity: 0 }] });
        expect(destroyed[1].body).toEqual({ DATABASE_URL: null, LOG_LEVEL: null });
        const app = api.apps.get(EXISTING_APP)!;
        expect(app.formation.web.quantity).toBe(0);
        expect(app.configVars).toEqual({ KEEP: "yes" });
    });

    test("no CLI output of the whole run held the API key or a secret config value", () => {
        expect(ws.transcript.length).toBeGreaterThan(5);
        expectNoSecrets(ws.transcript.join("\n"), "the CLI transcript");
    });
});
