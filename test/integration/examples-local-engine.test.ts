import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { linkNodeModules, PulumiWorkspace, scratchDir } from "../../support/pulumi-cli";
import { requireDocker } from "../../support/engines";
import { changedResources, copyExample, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/local, unmodified, under the REAL Pulumi CLI with the local Docker engine: what a user does on
// day one and on every pull request. Copied to a temp dir with examples/hello beside it (the test edits the
// app's source there, never the repository's), the package from this checkout (compiled by the
// integration layer's global setup). The docker
// and command plugins are this repository's stand-ins (support/providers), which act for real.

jest.setTimeout(40 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const PORT = 18800;
const CONTAINER = `lisp-deploy-e2e-${id}`;
const CANARY = `canary-${crypto.randomBytes(8).toString("hex")}`;
const URL = `http://127.0.0.1:${PORT}/`;

let scratch = "";
let appDir = "";
let ws: PulumiWorkspace;


/**
 * A file of the container's PID 1 under /proc, read from the host: the runtime image has no shell or cat
 * to run with `docker exec` (issue 13).
 */
function pid1File(container: string, file: "environ" | "cmdline"): string[] {
    const pid = execFileSync("docker", ["inspect", "--format", "{{.State.Pid}}", container], { encoding: "utf8" }).trim();
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8").split("\0");
}

function containersNamed(name: string): string[] {
    const out = execFileSync("docker", ["ps", "-a", "--filter", `name=^/${name}$`, "--format", "{{.ID}} {{.Image}} {{.Status}}"], { encoding: "utf8" });
    return out.split("\n").filter((l) => l !== "");
}



beforeAll(async () => {
    requireDocker();
    scratch = scratchDir("examples-local-engine");
    const example = copyExample(scratch, "local");
    appDir = example.appDir;
    ws = new PulumiWorkspace(example.projectDir, scratch);
    await ws.initStack(STACK, {
        port: String(PORT),
        networkMode: "host",
        buildNetwork: "host",
        dependencySource: "debian",
        containerName: CONTAINER,
    });
    await ws.setSecret(STACK, "apiToken", CANARY);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    spawnSync("docker", ["rm", "-f", CONTAINER]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/local under the real engine: up serves the app, a second run changes nothing", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    expect(httpGet(URL)).toEqual({ status: "200", body: "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n" });
    expect(containersNamed(CONTAINER)).toHaveLength(1);

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);
});

test("the state and the CLI's output hold the secret only encrypted; the app receives it", async () => {
    const { text, resources } = await ws.exportState(STACK);
    expect(text).not.toContain(CANARY);
    expect(ws.transcript.join("\n")).not.toContain(CANARY);
    const container = resources.find((r) => r.type === "docker:index/container:Container");
    // The secret travels in the container's uploads (a 0400 file), stored as ciphertext.
    expect(JSON.stringify(container.inputs.uploads)).toContain("ciphertext");
    const env = pid1File(CONTAINER, "environ");
    expect(env).toContain(`API_TOKEN=${CANARY}`);
    expect(execFileSync("docker", ["inspect", CONTAINER], { encoding: "utf8" })).not.toContain(CANARY);
});

test("an app source change previews as image and release only, and up serves the new text from a new container", async () => {
    const before = containersNamed(CONTAINER);
    setGreeting(appDir, "Hello again, from the real engine.");
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    // What a reviewer reads: the image is rebuilt, the container replaced, its health check run again.
    expect(changedResources(preview)).toEqual([
        "replace command:local:Command hello-release-health",
        "replace docker:index/container:Container hello-release-container",
        "update docker:index/image:Image hello-image-image",
    ]);
    expect(preview).not.toContain(CANARY);

    const up = await ws.ok(["up", "--yes", "--stack", STACK]);
    // The container cannot coexist with its successor: the engine deletes it first (deleteBeforeReplace).
    expect(up).toMatch(/hello-release-container deleting original/);
    expect(httpGet(URL)).toEqual({ status: "200", body: "Hello again, from the real engine. (hello 1.0.0)\n" });
    const after = containersNamed(CONTAINER);
    expect(after).toHaveLength(1);
    expect(after[0].split(" ")[0]).not.toBe(before[0].split(" ")[0]);
});

test("an environment change previews as the release only, never the image", async () => {
    await ws.ok(["config", "set", "--stack", STACK, "greeting", "hi"]);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    expect(changedResources(preview)).toEqual(["replace command:local:Command hello-release-health", "replace docker:index/container:Container hello-release-container"]);
    await ws.ok(["up", "--yes", "--stack", STACK]);
    const env = pid1File(CONTAINER, "environ");
    expect(env).toContain("GREETING=hi");
});

describe("LocalRelease on its own, under the real engine", () => {
    const STACK2 = "release";
    const NAME = `lisp-deploy-e2e-release-${id}`;
    let release: PulumiWorkspace;

    // A program of its own, in JavaScript, running the image the examples/local stack built.
    const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { LocalRelease } = require("lisp-deploy");
const config = new pulumi.Config();
const release = new LocalRelease("probe", {
    image: config.require("image"),
    port: ${PORT + 1},
    networkMode: "host",
    executablePath: "/app/hello",
    secretEnvironment: { API_TOKEN: config.requireSecret("token") },
    healthPath: config.require("healthPath"),
    healthTimeoutSeconds: 5,
    containerName: "${NAME}",
});
exports.url = release.url;
`;

    beforeAll(async () => {
        const dir = path.join(scratch, "release");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: lisp-deploy-e2e-release\nruntime: nodejs\nmain: index.js\n");
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "e2e-release", private: true, main: "index.js" }));
        fs.writeFileSync(path.join(dir, "index.js"), PROGRAM);
        linkNodeModules(dir);
        release = new PulumiWorkspace(dir, path.join(scratch, "release-scratch"));
        const image = (await ws.outputs(STACK)).imageRef;
        await release.initStack(STACK2, { image, healthPath: "/healthz" });
        // Quotes, a dollar and a space: the value must arrive byte for byte, through no shell's parsing.
        await release.setSecret(STACK2, "token", "tok 'en' $x");
    });

    afterAll(async () => {
        if (release) await release.destroy(STACK2);
        spawnSync("docker", ["rm", "-f", NAME]);
    });

    test("secret environment reaches the executable (PID 1) from its 0400 file, quotes intact, never the container's config", async () => {
        await release.ok(["up", "--yes", "--stack", STACK2]);
        expect(execFileSync("docker", ["inspect", "--format", "{{json .Config.Env}}", NAME], { encoding: "utf8" })).not.toContain("tok");
        const environ = pid1File(NAME, "environ");
        expect(environ).toContain("API_TOKEN=tok 'en' $x");
        expect(pid1File(NAME, "cmdline")[0]).toBe("/app/hello");
    });

    test("a release whose health path never answers 200 fails the update with the container's log", async () => {
        await release.ok(["config", "set", "--stack", STACK2, "healthPath", "/no-such-page"]);
        const r = await release.run(["up", "--yes", "--stack", STACK2]);
        expect(r.code).not.toBe(0);
        expect(r.out).toContain(`http://127.0.0.1:${PORT + 1}/no-such-page did not answer 200 from ${NAME} within 5 s (container: running restarts=0, last status 404)`);
        // The container's own log follows: the runtime's start line names the app.
        expect(r.out).toMatch(/hello 1\.0\.0/);
    });
});

test("destroy leaves no container behind", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect(containersNamed(CONTAINER)).toEqual([]);
    expect(httpGet(URL).status).toBe("000");
});
