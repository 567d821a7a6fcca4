import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiWorkspace, REPO_ROOT, requirePulumiCli, scratchDir } from "../../support/pulumi-cli";
import { requireDocker } from "../../support/engines";
import { changedResources, copyPackage, httpGet } from "./examples-engine-helpers";

// examples/yaml, unmodified, under the REAL Pulumi CLI: a Pulumi YAML program using `lisp-deploy:index:WebApp`
// through its `packages:` entry, i.e. this repository as a source-based component package
// (PulumiPlugin.yaml, runtime nodejs). The CLI (through the YAML host's schema loader) starts the package
// with pulumi-language-nodejs's RunPlugin, which runs @pulumi/pulumi's run-plugin; that infers the schema
// from the TypeScript types and constructs the components.
//
// The package is a self-contained copy in a temp dir, laid out as in the repository (package files at the
// top, examples/yaml and examples/hello below, so `lisp-deploy: ../..` names it), with a real copy of
// node_modules: the CLI runs `npm install` in a local package's directory when it thinks it must
// (`pulumi package get-schema <dir>` does), and that must never touch this checkout.

jest.setTimeout(30 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const PORT = 18900;
const CONTAINER = `lisp-deploy-e2e-yaml-${id}`;
const URL = `http://127.0.0.1:${PORT}/`;
const HELLO = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";

let scratch = "";
let pkg = "";
let ws: PulumiWorkspace;
let destroyed = false;

function containersNamed(name: string): string[] {
    const out = execFileSync("docker", ["ps", "-a", "--filter", `name=^/${name}$`, "--format", "{{.ID}} {{.Image}} {{.Status}}"], { encoding: "utf8" });
    return out.split("\n").filter((l) => l !== "");
}

function sha256(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

beforeAll(async () => {
    requireDocker();
    requirePulumiCli();
    scratch = scratchDir("examples-yaml-engine");
    pkg = path.join(scratch, "lisp-deploy");
    copyPackage(pkg);
    fs.cpSync(path.join(REPO_ROOT, "examples", "yaml"), path.join(pkg, "examples", "yaml"), { recursive: true });
    fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), path.join(pkg, "examples", "hello"), { recursive: true });
    // scripts/pulumi-env.sh puts the CLI's own bin directory on PATH, where the YAML host looks for the
    // Node.js host when it loads the package's schema.
    ws = new PulumiWorkspace(path.join(pkg, "examples", "yaml"), path.join(scratch, "workspace"));
    await ws.initStack(STACK, {
        port: String(PORT),
        networkMode: "host",
        buildNetwork: "host",
        dependencySource: "debian",
        containerName: CONTAINER,
    });
});

afterAll(async () => {
    if (ws && !destroyed) await ws.destroy(STACK);
    spawnSync("docker", ["rm", "-f", CONTAINER]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/yaml under the real engine: WebApp from the source-based package serves hello; a second run changes nothing", async () => {
    const lockBefore = sha256(path.join(pkg, "package-lock.json"));

    await ws.ok(["up", "--yes", "--stack", STACK]);
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    expect(outputs.logsCommand).toBe(`docker logs -f ${CONTAINER}`);
    expect(httpGet(URL)).toEqual({ status: "200", body: HELLO });
    expect(containersNamed(CONTAINER)).toHaveLength(1);

    // The component and its children are registered as the TypeScript program would register them.
    const { resources } = await ws.exportState(STACK);
    const types = resources.map((r) => r.type);
    for (const t of ["lisp-deploy:index:WebApp", "lisp-deploy:index:LispImage", "lisp-deploy:index:LocalRelease", "docker:index/container:Container"]) {
        expect(types).toContain(t);
    }
    const webApp = resources.find((r) => r.type === "lisp-deploy:index:WebApp");
    expect(webApp.outputs.url).toBe(URL);

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);

    // Nothing ran npm in the package (the CLI may only start it).
    expect(sha256(path.join(pkg, "package-lock.json"))).toBe(lockBefore);
});

test("destroy leaves no container behind", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    destroyed = true;
    expect(containersNamed(CONTAINER)).toEqual([]);
    expect(httpGet(URL).status).toBe("000");
});
