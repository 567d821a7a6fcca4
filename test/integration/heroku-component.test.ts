import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RecordingMocks, unwrapSecrets, valueOf } from "../harness/mocks";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi } from "../../support/heroku-api-fake";
import { LocalRegistry, MEDIA_TYPES } from "../../support/registry";
import { herokuReleaseProvider, HerokuReleaseInputs } from "../../src/release/heroku/provider";

// Stand-ins: the Pulumi engine (RecordingMocks, whose `act` hands the registered inputs to the real
// provider's create, as the engine's dynamic provider host would) and Heroku's Platform API (a
// contract-checking fake on 127.0.0.1). Real: the Docker engine and a registry on 127.0.0.1.

jest.setTimeout(10 * 60 * 1000);

const KEY = "hrku-component-it-71c4-key";
const IMAGE = "heroku-itc-app:latest";
const registry = new LocalRegistry(18452, { user: "_", password: KEY });
const api = new FakeHerokuApi(18453);

/** Rejects with the provider's error, if one fails: an Output whose resource failed never resolves. */
let providerFailed: (e: Error) => void = () => undefined;
const failure = new Promise<never>((_, reject) => (providerFailed = reject));
failure.catch(() => undefined);

const mocks = new RecordingMocks(async (args) => {
    if (args.type !== "pulumi-nodejs:dynamic:HerokuRelease") return undefined;
    const { __provider, ...inputs } = unwrapSecrets(args.inputs);
    try {
        const res = await herokuReleaseProvider.create(inputs as HerokuReleaseInputs);
        return res.outs;
    } catch (e) {
        providerFailed(e as Error);
        throw e;
    }
});
pulumi.runtime.setMocks(mocks, "project", "stack", false);

import { HerokuRelease } from "../../src/release/heroku/herokuRelease";

let buildDir = "";

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    buildDir = fs.mkdtempSync(path.join(os.tmpdir(), "heroku-itc-build-"));
    fs.writeFileSync(path.join(buildDir, "Dockerfile"), 'FROM debian:bookworm-slim\nCMD ["sleep", "infinity"]\n');
    execFileSync("docker", ["build", "--network", "host", "--label", "heroku-itc=1", "-t", IMAGE, buildDir], { stdio: "pipe" });
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");
    api.addApp("blog-existing", "alice", { KEEP: "yes" });
});

afterAll(async () => {
    await api.stop();
    await registry.stop();
    try {
        execFileSync("docker", ["image", "rm", "-f", IMAGE], { stdio: "pipe" });
    } catch {
        /* already gone */
    }
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
});

test("HerokuRelease component, engine mocked: pushes and releases into an existing app via the real registry", async () => {
    const release = new HerokuRelease("blog", {
        image: IMAGE,
        app: "blog-existing",
        processType: "web",
        config: { LOG_LEVEL: "info" },
        secretConfig: pulumi.secret({ SESSION_SECRET: "s3cr3t-session" }),
        apiKey: pulumi.secret(KEY),
        apiUrl: api.url,
        registryHost: registry.host,
    });
    const imageId = await Promise.race([valueOf(release.imageId), failure]);
    const localId = execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", IMAGE], { encoding: "utf8" }).trim();
    expect(imageId).toBe(localId);
    expect(await valueOf(release.releasedImage)).toBe(`${registry.host}/blog-existing/web`);
    expect(await valueOf(release.url)).toMatch(/^https:\/\/blog-existing-/);

    const m = await registry.manifest("blog-existing/web", "latest");
    expect(m.mediaType).toBe(MEDIA_TYPES.dockerSchema2);
    expect(m.body.config.digest).toBe(localId);
    expect(await valueOf(release.manifestDigest)).toBe(m.digest);

    const app = api.apps.get("blog-existing")!;
    expect(app.formation.web.dockerImage).toBe(localId);
    expect(app.configVars).toEqual({ KEEP: "yes", LOG_LEVEL: "info", SESSION_SECRET: "s3cr3t-session" });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /apps/blog-existing",
        "PATCH /apps/blog-existing/config-vars",
        "PATCH /apps/blog-existing/formation",
    ]);
    expect(api.violations).toEqual([]);
    // No output of the component carries the key.
    for (const o of [release.imageId, release.releasedImage, release.manifestDigest, release.url]) {
        expect(String(await valueOf(o))).not.toContain(KEY);
    }
    // The key reached the API only in the Authorization header, never in a body.
    for (const r of api.requests) expect(JSON.stringify(r.body ?? null)).not.toContain(KEY);
});
