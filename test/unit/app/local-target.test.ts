import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { LocalRelease, LocalReleaseArgs, planLocalRelease, renderContainerEnv, HEALTH_CHECK_SCRIPT, healthCheckEnvironment, renderSecretEnvFile } from "../../../src/release/local/localRelease";
import { toDependencySource, toSbclOrigin } from "../../../src/image/args";
import { planWebApp, WebApp, WebAppArgs } from "../../../src/app/webApp";
import { RecordingMocks, valueOf } from "../../harness/mocks";

/**
 * Lets every registration of the run reach its mocks before the next run installs new ones; longer than
 * the harness's settle() because on a loaded 2-core machine a straggler would land in the next run.
 */
const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));

// Stands in for the Pulumi engine (no container runs here): RecordingMocks records the exact inputs the
// components give their children.
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

async function runRelease(name: string, args: LocalReleaseArgs) {
    const mocks = new RecordingMocks();
    pulumi.runtime.setMocks(mocks, "webapp-unit", "test", false);
    const release = new LocalRelease(name, args);
    await valueOf(release.url);
    await quiet();
    return { mocks, release };
}

async function runWebApp(name: string, args: WebAppArgs) {
    const mocks = new RecordingMocks();
    pulumi.runtime.setMocks(mocks, "webapp-unit", "test", false);
    const app = new WebApp(name, args);
    await valueOf(app.url);
    await quiet();
    return { mocks, app };
}

describe("LocalRelease renderers", () => {
    const plan = planLocalRelease("web", { image: "img", port: 18500 });

    test("the environment is sorted and carries the release's PORT and BIND_ADDRESS", () => {
        expect(renderContainerEnv(plan, { ZED: "z", ALPHA: "a" })).toEqual(["ALPHA=a", "BIND_ADDRESS=0.0.0.0", "PORT=8080", "ZED=z"]);
        const host = planLocalRelease("web", { image: "img", port: 18500, networkMode: "host" });
        expect(renderContainerEnv(host, {})).toEqual(["BIND_ADDRESS=127.0.0.1", "PORT=18500"]);
    });

    test("the health check is fixed shell text; the URL, container and timeout travel in its environment", () => {
        expect(healthCheckEnvironment(plan, "abc123")).toEqual({
            CONTAINER_ID: "abc123",
            CONTAINER_NAME: "lisp-deploy-web",
            HEALTH_LOG_LINES: "30",
            HEALTH_TIMEOUT: "30",
            HEALTH_URL: "http://127.0.0.1:18500/",
        });
        expect(HEALTH_CHECK_SCRIPT).not.toContain("18500");
        // The provider's default interpreter is /bin/sh (dash on Debian): parse it with that shell.
        execFileSync("sh", ["-n", "-c", HEALTH_CHECK_SCRIPT]);
        execFileSync("shellcheck", ["-s", "sh", "-"], { input: HEALTH_CHECK_SCRIPT });
    });

    test("the health check fails within its timeout when the container does not exist (real sh, docker and curl)", () => {
        const quick = planLocalRelease("nothing-here", { image: "img", port: 18599, healthTimeoutSeconds: 1 });
        let error: any;
        try {
            execFileSync("sh", ["-c", HEALTH_CHECK_SCRIPT], { stdio: "pipe", env: { ...process.env, ...healthCheckEnvironment(quick, "no-such-container") } });
        } catch (e) {
            error = e;
        }
        expect(error).toBeDefined();
        expect(String(error.stderr)).toContain("did not answer 200 from lisp-deploy-nothing-here within 1 s (container: missing");
    });

    test("a health path cannot break out of its quoting: it is never part of the shell text", () => {
        const path_ = "/$(touch${IFS}pwned)\"'`x`";
        // The shared health-path rule refuses it at preview time (braces, quotes, backquotes)...
        expect(() => planLocalRelease("web", { image: "i", port: 18598, healthPath: path_ })).toThrow(/args\.healthPath: must be a URL path/);
        // ...and even a plan carrying it (as if it had slipped past) never lets the shell read it as code.
        const hostile = { ...planLocalRelease("web", { image: "i", port: 18598, healthTimeoutSeconds: 1 }), healthPath: path_ };
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "health-quote-"));
        try {
            execFileSync("sh", ["-c", HEALTH_CHECK_SCRIPT], { cwd: dir, stdio: "pipe", env: { ...process.env, ...healthCheckEnvironment(hostile, "no-such-container") } });
        } catch {
            // expected: nothing answers
        }
        expect(fs.readdirSync(dir)).toEqual([]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test.each([
        [{ image: "i", port: 0 }, "args.port"],
        [{ image: "i", port: 1.5 }, "args.port"],
        [{ image: "i", networkMode: "none" as any }, "args.networkMode"],
        [{ image: "i", environment: { "1BAD": "x" } }, "args.environment.1BAD"],
        [{ image: "i", environment: { PORT: "9" } }, "args.environment.PORT"],
        [{ image: "i", environment: { A: "x" }, secretEnvironment: { A: "y" } }, "args.secretEnvironment.A"],
        [{ image: "i", healthPath: "health" }, "args.healthPath"],
        [{ image: "i", healthTimeoutSeconds: 0 }, "args.healthTimeoutSeconds"],
        [{ image: "i", containerName: "-bad name" }, "args.containerName"],
        [{ image: "" }, "args.image"],
    ])("bad input %j throws a ValidationError naming %s", (args, field) => {
        expect(() => planLocalRelease("web", args as LocalReleaseArgs)).toThrow(ValidationError);
        try {
            planLocalRelease("web", args as LocalReleaseArgs);
        } catch (e) {
            expect((e as ValidationError).field).toBe(field);
        }
    });
});

describe("LocalRelease under a mocked Pulumi engine", () => {
    test("registers a restarting container published on 127.0.0.1 only, then a health check triggered by it", async () => {
        const { mocks, release } = await runRelease("unit-local", { image: "sha256:abc", port: 18501, environment: { GREETING: "hi" } });
        expect(mocks.ofType("lisp-deploy:index:LocalRelease")[0].inputs).toEqual({});
        const [container] = mocks.ofType("docker:index/container:Container");
        expect(container.name).toBe("unit-local-container");
        expect(container.inputs).toMatchObject({
            name: "lisp-deploy-unit-local",
            image: "sha256:abc",
            restart: "unless-stopped",
            envs: ["BIND_ADDRESS=0.0.0.0", "GREETING=hi", "PORT=8080"],
            networkMode: "bridge",
            ports: [{ internal: 8080, external: 18501, ip: "127.0.0.1", protocol: "tcp" }],
        });
        const [health] = mocks.ofType("command:local:Command");
        expect(health.name).toBe("unit-local-health");
        expect(health.inputs.create).toBe(HEALTH_CHECK_SCRIPT);
        expect(health.inputs.environment).toMatchObject({ HEALTH_URL: "http://127.0.0.1:18501/", CONTAINER_NAME: "lisp-deploy-unit-local", HEALTH_TIMEOUT: "30" });
        expect(await valueOf(release.url)).toBe("http://127.0.0.1:18501/");
    });

    test("secret environment values travel only in a secret 0400 file the executable reads, never in envs or commands", async () => {
        const { mocks, release } = await runRelease("unit-secret", {
            image: "i",
            executablePath: "/app/hello",
            environment: { GREETING: "hi" },
            secretEnvironment: { API_TOKEN: pulumi.secret("s3cr3t 'value'") },
        });
        const [container] = mocks.ofType("docker:index/container:Container");
        // Only the file's path is in the environment; the executable itself (no shell) reads the file.
        expect(container.inputs.envs).toEqual(["BIND_ADDRESS=0.0.0.0", "GREETING=hi", "LISP_DEPLOY_ENV_FILE=/etc/lisp-deploy-secret.env", "PORT=8080"]);
        expect(container.inputs.entrypoints).toEqual(["/app/hello"]);
        // The mock monitor keeps secrets wrapped: the uploads (the file's content) are marked secret.
        expect(container.inputs.uploads[SECRET_SIG_KEY]).toBeDefined();
        const [upload] = container.inputs.uploads.value;
        expect(upload).toMatchObject({ file: "/etc/lisp-deploy-secret.env", permissions: "0400", owner: "10001", group: "10001" });
        expect(upload.content).toBe(`API_TOKEN='s3cr3t '\\''value'\\'''\n`);
        const [health] = mocks.ofType("command:local:Command");
        const others = mocks.resources.filter((r) => r !== health).map((r) => (r.type === "docker:index/container:Container" ? { ...r.inputs, uploads: undefined } : r.inputs));
        expect(JSON.stringify(others)).not.toContain("s3cr3t");
        expect(health.inputs.create).not.toContain("s3cr3t");
        expect(await valueOf(release.url)).toBe("http://127.0.0.1:8080/");
    });

    test("the secret file is read by a real POSIX shell into the environment, quotes intact", () => {
        const file = renderSecretEnvFile({ B: "it's", A: "x y" });
        expect(file).toBe(`A='x y'\nB='it'\\''s'\n`);
        const out = execFileSync("sh", ["-c", `set -a; eval "$0"; set +a; env`, file], { encoding: "utf8" });
        expect(out).toContain("A=x y\n");
        expect(out).toContain("B=it's\n");
    });

    test("secretEnvironment without executablePath is refused", () => {
        expect(() => planLocalRelease("web", { image: "i", secretEnvironment: { A: "x" } })).toThrow("args.executablePath: is required with secretEnvironment");
    });
});

describe("WebApp, local target (the default)", () => {
    const hello: WebAppArgs = {
        app: { path: "examples/hello", dependencySource: { kind: "debian" }, runtimePackages: ["libssl3"], buildNetwork: "host", environment: { GREETING: "hi" } },
        target: { local: { port: 18502, networkMode: "host", containerName: "webapp-unit-hello" } },
    };

    test("builds the image and runs exactly that image on host networking, with the outputs a reviewer needs", async () => {
        const { mocks, app } = await runWebApp("unit-hello", hello);
        const [image] = mocks.ofType("docker:index/image:Image");
        expect(image.inputs.build).toMatchObject({ context: ".lisp-deploy/images/unit-hello-image", target: "runtime", network: "host" });
        const [container] = mocks.ofType("docker:index/container:Container");
        // The mock answers the image with its inputs: no repoDigest, so the tagged name is the reference.
        expect(container.inputs.image).toBe(image.inputs.imageName);
        expect(container.inputs.envs).toEqual(["BIND_ADDRESS=127.0.0.1", "GREETING=hi", "PORT=18502"]);
        expect(container.inputs.networkMode).toBe("host");
        expect(container.inputs.ports).toBeUndefined();
        expect(await valueOf(app.url)).toBe("http://127.0.0.1:18502/");
        expect(await valueOf(app.targetKind)).toBe("local");
        expect(await valueOf(app.dockerfile)).toContain("AS runtime");
        expect(await valueOf(app.logsCommand)).toBe("docker logs -f webapp-unit-hello");
        expect(await valueOf(app.unit)).toBe("");
        expect(mocks.resources.map((r) => r.name)).toEqual(expect.arrayContaining(["unit-hello", "unit-hello-image", "unit-hello-release"]));
    });

    test("children are named after the app and no component registers its args", async () => {
        const { mocks } = await runWebApp("unit-names", hello);
        for (const t of ["lisp-deploy:index:WebApp", "lisp-deploy:index:LispImage", "lisp-deploy:index:LocalRelease"]) {
            expect(mocks.ofType(t)[0].inputs).toEqual({});
        }
        const names = mocks.resources.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
    });

    test.each([
        [{ app: undefined }, "args.app"],
        [{ app: { path: "" } }, "args.app.path"],
        [{ app: { path: "examples/hello" }, target: { kind: "mars" } }, "args.target.kind"],
        [{ app: { path: "examples/hello" }, target: { kind: "ec2" } }, "args.target.ec2"],
        [{ app: { path: "examples/hello" }, target: { kind: "local", heroku: { app: "a", apiKey: "k" } } }, "args.target.heroku"],
        [{ app: { path: "examples/hello" }, target: { local: { port: 70000 } } }, "args.target.local.port"],
        [{ app: { path: "examples/hello", port: -1 } }, "args.app.port"],
        [{ app: { path: "examples/hello", environment: { "A-B": "x" } } }, "args.app.environment.A-B"],
        [{ app: { path: "examples/hello", healthPath: "x" } }, "args.app.healthPath"],
        [{ app: { path: "examples/hello", environment: { BIND_ADDRESS: "127.0.0.1" } } }, "args.app.environment.BIND_ADDRESS"],
        [{ app: { path: "examples/hello", port: 4005 }, target: { kind: "ssh", ssh: { host: "h", privateKey: "k", swankPort: 4005 } } }, "args.target.ssh.swankPort"],
        [{ app: { path: "examples/hello" }, target: { kind: "heroku", heroku: { app: "Bad_Name", apiKey: "k" } } }, "args.target.heroku.app"],
    ])("bad input %j throws a ValidationError naming %s before anything is registered", async (args, field) => {
        const mocks = new RecordingMocks();
        pulumi.runtime.setMocks(mocks, "webapp-unit", "test", false);
        let error: unknown;
        try {
            new WebApp("bad", args as unknown as WebAppArgs);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
        await quiet();
        expect(mocks.resources).toEqual([]);
        expect(() => planWebApp("bad", args as unknown as WebAppArgs)).toThrow(ValidationError);
    });

    test("dependency source: the flat form maps to LispImage's, and refuses another kind's fields", () => {
        expect(toDependencySource(undefined, "f")).toEqual({ kind: "quicklisp", distVersion: undefined });
        expect(toDependencySource({ kind: "debian", packages: { "cl+ssl": "" } }, "f")).toEqual({ kind: "debian", packages: { "cl+ssl": "" } });
        expect(toDependencySource({ kind: "vendored", dir: "vendor" }, "f")).toEqual({ kind: "vendored", dir: "vendor" });
        expect(() => toDependencySource({ kind: "debian", distVersion: "2024-10-12" }, "f")).toThrow("f.distVersion: belongs to kind \"quicklisp\"");
        expect(() => toDependencySource({ kind: "vendored" }, "f")).toThrow("f.dir");
        expect(toSbclOrigin(undefined, "s")).toBeUndefined();
        expect(toSbclOrigin({ tarballUrl: "https://x/sbcl.tar.bz2", sha256: "a" }, "s")).toEqual({ tarballUrl: "https://x/sbcl.tar.bz2", sha256: "a" });
        expect(toSbclOrigin({ tarballFile: "sbcl.tar.bz2" }, "s")).toEqual({ tarballFile: "sbcl.tar.bz2" });
        expect(() => toSbclOrigin({ tarballFile: "f", tarballUrl: "u" }, "s")).toThrow("s.tarballFile");
    });
});
