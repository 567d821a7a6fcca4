import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { LispImage, LispImageArgs } from "../../../src/image/lispImage";
import { RecordingMocks, settle, valueOf } from "../../harness/mocks";

// Stands in for the Pulumi engine (no Docker build happens here): RecordingMocks records the exact inputs
// the component gives the docker.Image resource.
// Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts: specialSigKey, specialSecretSig).
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const FIXTURES = path.resolve(__dirname, "../../fixtures");
const helloArgs: LispImageArgs = { appDir: "examples/hello", dependencySource: { kind: "debian" }, runtimePackages: ["libssl3"] };

async function run(name: string, args: LispImageArgs): Promise<{ mocks: RecordingMocks; image: LispImage }> {
    const mocks = new RecordingMocks();
    pulumi.runtime.setMocks(mocks, "image-unit", "test", false);
    const image = new LispImage(name, args);
    await valueOf(image.imageRef); // resolves once the mock answered the docker.Image
    // Let the component's registerOutputs reach this mock before a later test installs another one.
    await settle();
    return { mocks, image };
}

describe("LispImage under a mocked Pulumi engine", () => {
    test("registers one docker.Image with exactly these inputs: relative context, runtime target, BuilderV1, content tag", async () => {
        const { mocks, image } = await run("image-unit-hello", { ...helloArgs, buildNetwork: "host", cacheFrom: ["hello:cache"], platform: "linux/amd64" });
        const [component] = mocks.resources.filter((r) => r.type === "lisp-deploy:index:LispImage");
        expect(component.inputs).toEqual({});
        const images = mocks.ofType("docker:index/image:Image");
        expect(images).toHaveLength(1);
        const hash = await valueOf(image.contextHash);
        expect(images[0].name).toBe("image-unit-hello-image");
        expect(images[0].inputs).toEqual({
            imageName: `hello:ctx-${hash.slice(0, 12)}`,
            build: {
                context: ".lisp-deploy/images/image-unit-hello",
                dockerfile: ".lisp-deploy/images/image-unit-hello/Dockerfile",
                target: "runtime",
                builderVersion: "BuilderV1",
                platform: "linux/amd64",
                network: "host",
                cacheFrom: { images: ["hello:cache"] },
            },
            skipPush: true,
            // Set by @pulumi/docker itself: a preview does not build.
            buildOnPreview: false,
        });
        expect(JSON.stringify(images[0].inputs)).not.toContain(process.cwd());
        expect(await valueOf(image.dockerfile)).toBe(fs.readFileSync(".lisp-deploy/images/image-unit-hello/Dockerfile", "utf8"));
        expect(await valueOf(image.executablePath)).toBe("/app/hello");
        expect(await valueOf(image.systemName)).toBe("hello");
        expect(await valueOf(image.port)).toBe(8080);
        expect(await valueOf(image.dependencies)).toEqual(["hunchentoot", "lisp-deploy/hunchentoot", "lisp-deploy/swank", "swank"]);
    });

    test("the same program twice gives identical resource inputs and outputs", async () => {
        const first = await run("image-unit-twice", helloArgs);
        const second = await run("image-unit-twice", helloArgs);
        expect(second.mocks.resources).toEqual(first.mocks.resources);
        expect(await valueOf(second.image.dockerfile)).toBe(await valueOf(first.image.dockerfile));
        expect(await valueOf(second.image.contextHash)).toBe(await valueOf(first.image.contextHash));
    });

    test("a registry push: the password is a secret, skipPush is off, the name and tag are the user's", async () => {
        const { mocks, image } = await run("image-unit-push", {
            ...helloArgs,
            imageName: "registry.heroku.com/my-app/web",
            tag: "v1",
            registry: { server: "registry.heroku.com", username: "_", password: pulumi.secret("api-key") },
        });
        const [img] = mocks.ofType("docker:index/image:Image");
        expect(img.inputs.skipPush).toBe(false);
        expect(img.inputs.imageName).toBe("registry.heroku.com/my-app/web:v1");
        // The engine receives the registry block marked secret (Pulumi's secret signature), never in plain view.
        expect(img.inputs.registry).toEqual({ [SECRET_SIG_KEY]: SECRET_SIG, value: { server: "registry.heroku.com", username: "_", password: "api-key" } });
        expect(await valueOf(image.imageName)).toBe("registry.heroku.com/my-app/web:v1");
        // A password given in plain text is wrapped as a secret by the component all the same.
        const plain = await run("image-unit-push2", { ...helloArgs, registry: { server: "r", username: "u", password: "plain-password" } });
        expect(plain.mocks.ofType("docker:index/image:Image")[0].inputs.registry).toEqual({ [SECRET_SIG_KEY]: SECRET_SIG, value: { server: "r", username: "u", password: "plain-password" } });
    });

    test("bad input throws a ValidationError at construction, before any resource is registered", () => {
        const mocks = new RecordingMocks();
        pulumi.runtime.setMocks(mocks, "image-unit", "test", false);
        expect(() => new LispImage("image-unit-bad", { appDir: "examples/hello", systemName: "nope" })).toThrow(ValidationError);
        expect(() => new LispImage("image-unit-bad2", { ...helloArgs, contextDir: "/tmp/abs" })).toThrow(/args.contextDir/);
        expect(() => new LispImage("image-unit-bad3", { appDir: path.join(FIXTURES, "image-vendor") })).toThrow(/args.appDir: no .asd file at the top/);
        expect(mocks.ofType("docker:index/image:Image")).toHaveLength(0);
    });

    test("an app depending on lisp-deploy bundles the runtime from the given directory into the context", async () => {
        const { image } = await run("image-unit-bundle", {
            appDir: path.relative(process.cwd(), path.join(FIXTURES, "image-vendored-app")),
            dependencySource: { kind: "vendored", dir: path.relative(process.cwd(), path.join(FIXTURES, "image-vendor")) },
            lispDeploySystemDir: path.join(FIXTURES, "image-lisp-deploy"),
        });
        expect(await valueOf(image.dockerfile)).toContain("COPY lisp-deploy/runtime/ /opt/lisp-deploy/runtime/");
        expect(fs.existsSync(".lisp-deploy/images/image-unit-bundle/lisp-deploy/runtime/src/runtime.lisp")).toBe(true);
        expect(await valueOf(image.dependencies)).toEqual(["greeter", "lisp-deploy"]);
    });
});
