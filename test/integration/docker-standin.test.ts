import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiWorkspace, scratchDir, writeProgram } from "../../support/pulumi-cli";

// The docker stand-in plugin (support/providers/docker-standin) under the REAL Pulumi CLI: the engine starts
// `pulumi-resource-docker` from PATH (scripts/pulumi-env.sh), a throwaway TypeScript-free project builds an
// image with the classic builder and runs a container from it on the local Docker engine. What is checked is
// the real provider's behaviour the stand-in promises: no change on a second run, a rebuild when a file of
// the build context changes, the fixed-name container replacement failing with docker's Conflict unless the
// resource says deleteBeforeReplace, secrets kept out of the state, and destroy removing the container.
// Nothing is skipped: without the CLI every test here fails and says so.

jest.setTimeout(15 * 60 * 1000);

const id = crypto.randomBytes(4).toString("hex");
const IMAGE = `lisp-deploy-standin-it-${id}:latest`;
const CONTAINER = `lisp-deploy-standin-it-${id}`;
const SECRET = `standin-secret-${crypto.randomBytes(8).toString("hex")}`;

let work = "";
let project = "";
/** Every image id a run produced (a rebuild under the same tag leaves the previous one untagged). */
const builtImageIds = new Set<string>();

interface Ran {
    code: number;
    out: string;
}

let ws: PulumiWorkspace;

function docker(args: string[]): Ran {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.trim() };
}

function writeContext(message: string): void {
    fs.writeFileSync(path.join(project, "app", "message.txt"), `${message}\n`);
}

const PROGRAM = `
"use strict";
const pulumi = require("@pulumi/pulumi");
const docker = require("@pulumi/docker");
const config = new pulumi.Config();

const image = new docker.Image("img", {
    imageName: config.require("imageName"),
    skipPush: true,
    build: { context: "app", dockerfile: "app/Dockerfile", target: "runtime", builderVersion: "BuilderV1", network: "host" },
});

const container = new docker.Container("web", {
    name: config.require("containerName"),
    image: image.repoDigest,
    restart: "unless-stopped",
    networkMode: "host",
    mustRun: true,
    envs: pulumi.all([config.requireSecret("token")]).apply(([token]) => ["GREETING=hello", "TOKEN=" + token]),
    uploads: [{ file: "/etc/standin/secret.txt", content: config.requireSecret("token"), permissions: "0400", owner: "0", group: "0" }],
}, { deleteBeforeReplace: config.getBoolean("deleteBeforeReplace") === true });

exports.repoDigest = image.repoDigest;
exports.containerId = container.id;
`;

beforeAll(async () => {
    work = scratchDir("docker-standin-it");
    project = path.join(work, "project");
    writeProgram(project, "docker-standin-it", PROGRAM);
    fs.mkdirSync(path.join(project, "app"));
    ws = new PulumiWorkspace(project, work);
    fs.writeFileSync(
        path.join(project, "app", "Dockerfile"),
        [
            "FROM debian:bookworm-slim AS base",
            "COPY message.txt /srv/message.txt",
            "FROM base AS runtime",
            'CMD ["sleep", "infinity"]',
            "",
        ].join("\n"),
    );
    fs.writeFileSync(path.join(project, "app", ".dockerignore"), "ignored.txt\n");
    writeContext("one");
    await ws.initStack("dev", { imageName: IMAGE, containerName: CONTAINER });
    await ws.setSecret("dev", "token", SECRET);
});

afterAll(() => {
    docker(["rm", "-f", CONTAINER]);
    docker(["rmi", "-f", IMAGE, ...builtImageIds]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("docker-standin under the real pulumi CLI", () => {
    let firstContainerId = "";

    it("builds the image and runs the container on pulumi up", async () => {
        const out = await ws.ok(["up", "--yes", "--skip-preview"]);
        expect(out).toMatch(/3 created/);
        const outputs = JSON.parse(await ws.ok(["stack", "output", "--json"]));
        expect(outputs.repoDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
        builtImageIds.add(outputs.repoDigest);
        expect(docker(["image", "inspect", "--format", "{{.Id}}", IMAGE]).out).toBe(outputs.repoDigest);
        firstContainerId = outputs.containerId;
        expect(docker(["container", "inspect", "--format", "{{.State.Running}} {{.Name}}", firstContainerId]).out).toBe(`true /${CONTAINER}`);
        expect(docker(["exec", CONTAINER, "cat", "/srv/message.txt"]).out).toBe("one");
        expect(docker(["exec", CONTAINER, "printenv", "TOKEN"]).out).toBe(SECRET);
        expect(docker(["exec", CONTAINER, "stat", "-c", "%a %u", "/etc/standin/secret.txt"]).out).toBe("400 0");
        expect(docker(["exec", CONTAINER, "cat", "/etc/standin/secret.txt"]).out).toBe(SECRET);
    });

    it("keeps the secret out of the state and the output", async () => {
        const state = await ws.ok(["stack", "export"]);
        expect(state).not.toContain(SECRET);
        expect(ws.transcript.join("\n")).not.toContain(SECRET);
        expect(state).toContain("docker:index/container:Container");
    });

    it("shows no change on a second run, nor when only an ignored file changes", async () => {
        fs.writeFileSync(path.join(project, "app", "ignored.txt"), "not part of the build\n");
        const preview = await ws.run(["preview", "--diff", "--expect-no-changes"]);
        expect({ code: preview.code, out: preview.out }).toEqual({ code: 0, out: expect.stringMatching(/3 unchanged/) });
        const up = await ws.ok(["up", "--yes", "--skip-preview"]);
        expect(up).toMatch(/3 unchanged/);
        expect(up).not.toMatch(/\b(created|updated|replaced|deleted)\b/);
    });

    it("previews a rebuild and a container replacement when a file of the build context changes", async () => {
        writeContext("two");
        const preview = await ws.ok(["preview", "--diff"]);
        expect(preview).toMatch(/~ docker:index\/image:Image: \(update\)/);
        expect(preview).toMatch(/\+-docker:index\/container:Container: \(replace\)/);
        expect(preview).toMatch(/1 to update/);
        expect(preview).toMatch(/1 to replace/);
    });

    it("fails the fixed-name replacement with docker's Conflict when the container is created before the old one is deleted", async () => {
        const up = await ws.run(["up", "--yes", "--skip-preview"]);
        expect(up.code).not.toBe(0);
        expect(up.out).toContain(`Conflict. The container name "/${CONTAINER}" is already in use`);
        // The old container is untouched and still serves the old build.
        expect(docker(["container", "inspect", "--format", "{{.Id}}", CONTAINER]).out).toBe(firstContainerId);
        expect(docker(["exec", CONTAINER, "cat", "/srv/message.txt"]).out).toBe("one");
    });

    it("replaces the container with deleteBeforeReplace", async () => {
        await ws.ok(["config", "set", "deleteBeforeReplace", "true"]);
        const up = await ws.ok(["up", "--yes", "--skip-preview"]);
        expect(up).toMatch(/1 replaced/);
        const outputs = JSON.parse(await ws.ok(["stack", "output", "--json"]));
        builtImageIds.add(outputs.repoDigest);
        expect(outputs.containerId).not.toBe(firstContainerId);
        expect(docker(["container", "inspect", "--format", "{{.State.Running}}", outputs.containerId]).out).toBe("true");
        expect(docker(["exec", CONTAINER, "cat", "/srv/message.txt"]).out).toBe("two");
        expect(docker(["container", "inspect", firstContainerId]).code).not.toBe(0);
    });

    it("removes the container on pulumi destroy and leaves the image, as the real provider does", async () => {
        await ws.ok(["destroy", "--yes", "--skip-preview"]);
        expect(docker(["container", "inspect", CONTAINER]).code).not.toBe(0);
        expect(docker(["image", "inspect", IMAGE]).code).toBe(0);
    });
});
