import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { requireDocker } from "../../support/engines";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { httpGet, setGreeting } from "./examples-engine-helpers";

// releaseCommand and stateDirectory on the local target (issue 14 items 1, 3 and 6), under the REAL Pulumi
// CLI with the real Docker engine: a WebApp of examples/hello (copied beside the program, so the test edits
// its copy) runs `hello migrate` in a one-shot container of each new image before the serving container is
// replaced, and keeps its data in a named volume that outlives releases and the stack itself.
// Ports: 19070 (this suite's range is 19070-19079).

jest.setTimeout(30 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "lifecycle";
const PORT = 19070;
const CONTAINER = `lifecycle-local-${id}`;
const STATE = `lifecycle-local-${id}`;
/** The volume LocalRelease names after `stateDirectory` (stateVolumeOf). */
const VOLUME = `lisp-deploy-${STATE}`;
const SECOND_GREETING = `Hello from release two (${id}).`;
const THIRD_GREETING = `Hello from release three (${id}), which never serves.`;
/** The app's one secret: it must reach the release command, and never the CLI's output. */
const CANARY = `canary-${crypto.randomBytes(8).toString("hex")}`;
/** A release command that reports what it sees of the secret (its length only) and fails with status 3. */
const FAILING_COMMAND = ["--eval", '(format t "API_TOKEN has ~D characters~%" (length (uiop:getenv "API_TOKEN")))', "--eval", "(uiop:quit 3)"];

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { WebApp } = require("lisp-deploy");
const cfg = new pulumi.Config();
const app = new WebApp("life", {
    app: {
        path: "../hello",
        dependencySource: { kind: "debian" },
        buildNetwork: "host",
        healthPath: "/healthz",
        secretEnvironment: { API_TOKEN: cfg.requireSecret("token") },
        releaseCommand: cfg.requireObject("releaseCommand"),
        stateDirectory: "${STATE}",
    },
    target: { kind: "local", local: { port: ${PORT}, networkMode: "host", containerName: "${CONTAINER}" } },
});
exports.url = app.url;
exports.imageRef = app.imageRef;
`;

let scratch = "";
let appDir = "";
let ws: PulumiWorkspace;
const imagesBuilt = new Set<string>();

function docker(...args: string[]): string {
    return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

/** The serving container's id, or "" when there is none. */
function containerId(): string {
    return spawnSync("docker", ["inspect", "--format", "{{.Id}}", CONTAINER], { encoding: "utf8" }).stdout.trim();
}

/** Runs `sh -c script` in a throwaway Debian container with the state volume at /state (the app's image has no shell). */
function inVolume(script: string): string {
    return docker("run", "--rm", "--network", "none", "--volume", `${VOLUME}:/state`, "debian:bookworm-slim", "sh", "-c", script);
}

/**
 * The steps `pulumi up` reported, in order: each line naming a resource and what the engine did to it
 * ("life-release-release-command creating (0s)"). A step streaming output is reported again per line.
 */
function steps(out: string): { name: string; status: string }[] {
    return out.split("\n").flatMap((line) => {
        const m = /\s([A-Za-z0-9-]+) (creating|created|updating|updated|replacing|replaced|deleting|deleted|failed)\b/.exec(line);
        return m ? [{ name: m[1], status: m[2] }] : [];
    });
}

function firstIndex(out: string, name: string, status: string): number {
    return steps(out).findIndex((s) => s.name === name && s.status === status);
}

function lastIndex(out: string, name: string, status: string): number {
    return steps(out).map((s, i) => (s.name === name && s.status === status ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
}

function upOk(): Promise<string> {
    return ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
}

beforeAll(async () => {
    requireDocker();
    scratch = scratchDir("release-lifecycle-local");
    // The program and its own copy of examples/hello, side by side as in the repository.
    appDir = path.join(scratch, "examples", "hello");
    fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), appDir, { recursive: true });
    const project = path.join(scratch, "examples", "lifecycle");
    writeProgram(project, "release-lifecycle-local", PROGRAM);
    ws = new PulumiWorkspace(project, scratch);
    await ws.initStack(STACK, { releaseCommand: JSON.stringify(["migrate"]) });
    await ws.setSecret(STACK, "token", CANARY);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    spawnSync("docker", ["rm", "-f", CONTAINER]);
    spawnSync("docker", ["volume", "rm", "-f", VOLUME]);
    // Only this suite's own images: release 1's is examples/hello as every suite builds it.
    for (const ref of imagesBuilt) if (!ref.includes("@")) spawnSync("docker", ["rmi", ref]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("WebApp on the local target with releaseCommand and stateDirectory, under the real Pulumi CLI", () => {
    let servingContainer = "";

    test("releaseCommand: release 1 migrates the stateDirectory volume (owned by uid 10001) before the container serves", async () => {
        const up = await upOk();
        // The migration's own output, from the one-shot container of the new image.
        expect(up).toContain("migrated the state directory to schema 1");
        // The engine ran it to the end before it created the serving container.
        const commandDone = lastIndex(up, "life-release-release-command", "created");
        expect(commandDone).toBeGreaterThanOrEqual(0);
        expect(firstIndex(up, "life-release-container", "creating")).toBeGreaterThan(commandDone);
        // The volume's root belongs to the slim image's runtime user, and the migration wrote into it
        // before the serving container started.
        expect(inVolume("stat -c '%u %a' /state")).toBe("10001 700");
        expect(inVolume("cat /state/schema-version.txt")).toBe("1");
        const migratedAt = Number(inVolume("stat -c %Y /state/schema-version.txt"));
        // Docker prints nanoseconds; Date.parse takes milliseconds.
        const startedAt = Date.parse(docker("inspect", "--format", "{{.State.StartedAt}}", CONTAINER).replace(/(\.\d{3})\d*/, "$1")) / 1000;
        expect(migratedAt).toBeLessThanOrEqual(Math.ceil(startedAt));
        // The one-shot container is gone; only the serving one is left.
        expect(docker("ps", "-a", "--filter", `volume=${VOLUME}`, "--format", "{{.Names}}")).toBe(CONTAINER);

        expect(httpGet(`http://127.0.0.1:${PORT}/state`)).toEqual({ status: "200", body: "schema 1, visit 1 (hello 1.0.0)\n" });
        expect(httpGet(`http://127.0.0.1:${PORT}/state`).body).toBe("schema 1, visit 2 (hello 1.0.0)\n");
        servingContainer = containerId();
    });

    test("stateDirectory: release 2 (a new image) runs the migration once more and keeps counting visits", async () => {
        setGreeting(appDir, SECOND_GREETING);
        const up = await upOk();
        imagesBuilt.add((await ws.outputs(STACK)).imageRef);
        expect(up).toContain("migrated the state directory to schema 1");
        expect(up.match(/running the release command in a one-shot container/g)).toHaveLength(1);
        expect(firstIndex(up, "life-release-container", "creating")).toBeGreaterThan(lastIndex(up, "life-release-release-command", "created"));
        expect(containerId()).not.toBe(servingContainer);
        servingContainer = containerId();

        expect(httpGet(`http://127.0.0.1:${PORT}/`).body).toBe(`${SECOND_GREETING} (hello 1.0.0)\n`);
        expect(httpGet(`http://127.0.0.1:${PORT}/state`).body).toBe("schema 1, visit 3 (hello 1.0.0)\n");
    });

    test("releaseCommand: a release whose command exits 3 fails `pulumi up` with its output (the secret reached it) and the old container keeps serving", async () => {
        // A new image AND a failing command: without the command's verdict the container would be replaced.
        setGreeting(appDir, THIRD_GREETING);
        await ws.ok(["config", "set", "--stack", STACK, "releaseCommand", JSON.stringify(FAILING_COMMAND)]);
        const up = await ws.up(STACK);
        expect(up.code).not.toBe(0);
        expect(up.out).toContain("the release command failed (exit status 3); the serving container was not touched");
        // The command's own output is in the error: it ran from the new image with the release's secret.
        expect(up.out).toMatch(/hello 1\.0\.0: evaluating 2 --eval arguments/);
        expect(up.out).toContain(`API_TOKEN has ${CANARY.length} characters`);
        expect(steps(up.out).filter((s) => s.name === "life-release-container")).toEqual([]);

        expect(containerId()).toBe(servingContainer);
        expect(httpGet(`http://127.0.0.1:${PORT}/`).body).toBe(`${SECOND_GREETING} (hello 1.0.0)\n`);
        expect(httpGet(`http://127.0.0.1:${PORT}/state`).body).toBe("schema 1, visit 4 (hello 1.0.0)\n");
        // No one-shot container is left behind by the failure either.
        expect(docker("ps", "-a", "--filter", `volume=${VOLUME}`, "--format", "{{.Names}}")).toBe(CONTAINER);
        // The image this update built before the command failed (in state, though not in the stack's outputs).
        const image = (await ws.exportState(STACK)).resources.find((r) => r.type === "docker:index/image:Image");
        imagesBuilt.add(image.outputs.imageName);
    });

    test("the secret stays out of every command line and output the CLI printed, and out of plain state", async () => {
        expect(ws.transcript.join("\n")).not.toContain(CANARY);
        expect((await ws.exportState(STACK)).text).not.toContain(CANARY);
    });

    test("stateDirectory: destroy removes the container and keeps the volume with its data (retainOnDelete)", async () => {
        const down = await ws.destroy(STACK);
        expect(down.code).toBe(0);
        expect(containerId()).toBe("");
        expect(docker("volume", "ls", "--quiet", "--filter", `name=^${VOLUME}$`)).toBe(VOLUME);
        expect(inVolume("cat /state/visits.txt")).toBe("4");
        // What a user does when the data is no longer wanted (README: `docker volume rm`).
        docker("volume", "rm", VOLUME);
        expect(docker("volume", "ls", "--quiet", "--filter", `name=^${VOLUME}$`)).toBe("");
    });
});
