import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalRelease } from "../../src/release/localRelease";
import { docker, removeDockerObjects, waitFor200 } from "../harness/imageBuild";
import { requireCommand, requireDocker } from "../harness/engines";
import { ActingEngine } from "../harness/acting-engine";
import { valueOf } from "../harness/mocks";
import { upProject } from "../harness/up";

// The repository's own stack (root Pulumi.yaml -> examples/local) run like `npm run up` does: the Pulumi
// engine is stood in for by the acting engine, whose handlers act for real (docker build, docker run, the
// health check in bash with curl) and which keeps state between runs like a stack. Ports 18520-18529.
const ROOT = path.resolve(__dirname, "../..");
const CONTAINER = "webapp-it-local";
const PORT = 18520;

beforeAll(() => {
    requireDocker();
    requireCommand("curl", "curl");
});

describe("root Pulumi.yaml, local target, Pulumi engine stood in for (real docker build, docker run, health check)", () => {
    let imageRef = "";
    const stack = new ActingEngine("lisp-deploy-hello", "webapp-it");
    afterAll(() => removeDockerObjects([CONTAINER, "webapp-it-unhealthy", "webapp-it-secret"], stack.builds.map((b) => b.imageName)));

    test("the program builds hello, runs it on 127.0.0.1 and its url answers with the app's text", async () => {
        const outputs = await upProject(path.join(ROOT, "Pulumi.yaml"), [`port=${PORT}`, `containerName=${CONTAINER}`], stack);
        expect(outputs.url).toBe(`http://127.0.0.1:${PORT}/`);
        expect(outputs.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
        imageRef = outputs.imageRef;
        const res = await waitFor200(PORT, "/");
        expect(res.body).toContain("Hello from Common Lisp, deployed by lisp-deploy.");
        // Restarts unless stopped, runs exactly the image built, reachable on loopback only.
        expect(docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}} {{.Image}}", CONTAINER).trim()).toBe(`unless-stopped ${imageRef}`);
        expect(docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", CONTAINER)).toContain("BIND_ADDRESS=127.0.0.1");
    });

    test("a config change (a new environment variable) replaces the container and it serves again", async () => {
        const before = docker("inspect", "--format", "{{.Id}}", CONTAINER).trim();
        const done = stack.actions.length;
        const outputs = await upProject(path.join(ROOT, "Pulumi.yaml"), [`port=${PORT}`, `containerName=${CONTAINER}`, "greeting=hi"], stack);
        expect(outputs.imageRef).toBe(imageRef);
        // Only the release moved: no build, the container and its health check updated.
        expect(stack.actions.slice(done).map((a) => `${a.op} ${a.name}`)).toEqual(["update hello-release-container", "update hello-release-health"]);
        expect(docker("inspect", "--format", "{{.Id}}", CONTAINER).trim()).not.toBe(before);
        expect(docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", CONTAINER)).toContain("GREETING=hi");
        expect((await waitFor200(PORT, "/healthz")).body).toContain("ok 1.0.0");
    });

    test("a release whose health path never answers 200 fails the update with the container's log", async () => {
        expect(imageRef).not.toBe("");
        const engine = new ActingEngine("webapp-it", "unhealthy");
        const update = engine.up(() =>
            new LocalRelease("unhealthy", {
                image: imageRef,
                port: PORT + 1,
                networkMode: "host",
                healthPath: "/no-such-page",
                healthTimeoutSeconds: 3,
                containerName: "webapp-it-unhealthy",
            }),
        );
        const failure: Error = await update.then(() => new Error("the update succeeded"), (e) => e);
        expect(failure.message).toContain(`http://127.0.0.1:${PORT + 1}/no-such-page did not answer 200 within 3 s (last status 404)`);
        // The container's own log follows: the runtime's start line names the app.
        expect(failure.message).toMatch(/hello 1\.0\.0/);
    });

    test("secret environment reaches the app's process from the 0400 file, and not the container's config", async () => {
        expect(imageRef).not.toBe("");
        const engine = new ActingEngine("webapp-it", "secret");
        const release = await engine.up(() => new LocalRelease("secret", {
            image: imageRef,
            port: PORT + 2,
            networkMode: "host",
            executablePath: "/app/hello",
            secretEnvironment: { API_TOKEN: pulumi.secret("tok 'en' $x") },
            healthPath: "/healthz",
            containerName: "webapp-it-secret",
        }));
        const url = await valueOf(release.url);
        expect(url).toBe(`http://127.0.0.1:${PORT + 2}/`);
        expect(docker("inspect", "--format", "{{json .Config.Env}}", "webapp-it-secret")).not.toContain("tok");
        // PID 1 is the executable itself (exec), with the secret in its environment.
        const environ = docker("exec", "webapp-it-secret", "cat", "/proc/1/environ").split("\0");
        expect(environ).toContain("API_TOKEN=tok 'en' $x");
        expect(docker("exec", "webapp-it-secret", "cat", "/proc/1/cmdline").split("\0")[0]).toBe("/app/hello");
    });
});
