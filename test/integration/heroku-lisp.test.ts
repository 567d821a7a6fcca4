import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { requireCommand, requireDocker } from "../../support/engines";
import { FakeHerokuApi } from "../../support/heroku-api-fake";
import { bootOnPort, HEROKU_BOOT_LIMIT_MS } from "../../support/heroku-boot";
import { docker, dockerBuildAct, RecordedBuild, removeDockerObjects, waitFor200 } from "../harness/imageBuild";
import { RecordingMocks, unwrapSecrets, valueOf } from "../harness/mocks";
import { LocalRegistry, MEDIA_TYPES } from "../../support/registry";
import { herokuReleaseProvider, HerokuReleaseInputs } from "../../src/release/heroku/provider";
import { LispImage } from "../../src/image/lispImage";
import { HerokuRelease } from "../../src/release/heroku/herokuRelease";

// examples/hello built by LispImage and released by HerokuRelease in one program. Real: Docker engine,
// SBCL and Debian's Lisp libraries in the build, a registry with htpasswd auth on 127.0.0.1. Stood in
// for: the Pulumi engine (RecordingMocks whose act runs the docker build and the HerokuRelease provider's
// create with the registered inputs) and Heroku's Platform API (the contract-checking fake).

jest.setTimeout(25 * 60 * 1000);

const KEY = "hrku-lisp-it-4e0a-key";
const IMAGE_NAME = "lisp-deploy-heroku-it/hello";
const BOOT_PORT = 18470;
const registry = new LocalRegistry(18454, { user: "_", password: KEY });
const api = new FakeHerokuApi(18455);
const builds: RecordedBuild[] = [];
let appDir = "";

let providerFailed: (e: Error) => void = () => undefined;
const failure = new Promise<never>((_, reject) => (providerFailed = reject));
failure.catch(() => undefined);
const build = dockerBuildAct(builds);

pulumi.runtime.setMocks(
    new RecordingMocks(async (args) => {
        try {
            if (args.type === "pulumi-nodejs:dynamic:HerokuRelease") {
                const { __provider, ...inputs } = unwrapSecrets(args.inputs);
                return (await herokuReleaseProvider.create(inputs as HerokuReleaseInputs)).outs;
            }
            return await build(args);
        } catch (e) {
            providerFailed(e as Error);
            throw e;
        }
    }),
    "heroku-lisp-it",
    "test",
    false,
);

beforeAll(async () => {
    requireDocker();
    requireCommand("docker-registry", "docker-registry");
    requireCommand("python3", "python3");
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), "heroku-lisp-it-"));
    fs.cpSync(path.resolve(__dirname, "../../examples/hello"), appDir, { recursive: true });
    await registry.start();
    await api.start();
    api.keys.set(KEY, "alice");
});

afterAll(async () => {
    await api.stop();
    await registry.stop();
    removeDockerObjects(["heroku-lisp-it-boot"], builds.map((b) => b.imageName));
    if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
});

test("LispImage → HerokuRelease: the Lisp runtime image is pushed as schema 2, released by id, and binds PORT within 60 s", async () => {
    const image = new LispImage("heroku-lisp-it", {
        appDir,
        dependencySource: { kind: "debian" },
        runtimePackages: ["libssl3"],
        compression: true,
        imageName: IMAGE_NAME,
        buildNetwork: "host",
    });
    const release = new HerokuRelease("hello", {
        image: image.imageRef,
        app: "lisp-hello",
        createApp: true,
        config: { LOG_LEVEL: "info" },
        apiKey: pulumi.secret(KEY),
        apiUrl: api.url,
        registryHost: registry.host,
    });
    const imageId = await Promise.race([valueOf(release.imageId), failure]);
    const imageRef = await valueOf(image.imageRef);
    expect(imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(imageId).toBe(imageRef);

    const m = await registry.manifest("lisp-hello/web", "latest");
    expect(m.mediaType).toBe(MEDIA_TYPES.dockerSchema2);
    expect(m.body.config.digest).toBe(imageId);
    expect(api.apps.get("lisp-hello")!.formation.web.dockerImage).toBe(imageId);
    expect(api.violations).toEqual([]);

    // Heroku starts a web dyno with PORT set and nothing else, and kills it (R10) if PORT is not bound in 60 s.
    const boot = await bootOnPort(imageRef, BOOT_PORT, "heroku-lisp-it-boot");
    expect(boot.bindMs).toBeLessThanOrEqual(HEROKU_BOOT_LIMIT_MS);
    expect(boot.withinHerokuLimit).toBe(true);
    // The container was removed by the helper; start it again to see it serve, not just listen.
    docker("run", "-d", "--name", "heroku-lisp-it-boot", "--network", "host", "-e", `PORT=${BOOT_PORT}`, imageRef);
    expect((await waitFor200(BOOT_PORT, "/healthz")).body).toMatch(/^ok /);
});
