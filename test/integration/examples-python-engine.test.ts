import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiWorkspace, REPO_ROOT, pulumiEnvironment, requirePulumiCli, scratchDir } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { changedResources, copyPackage, httpGet } from "./examples-engine-helpers";

// examples/python, unmodified, under the REAL Pulumi CLI: a Python program using lisp-deploy's WebApp
// through the SDK that `pulumi install` generates from its Pulumi.yaml's `packages:` entry (this
// repository as a source-based component package). `pulumi install` asks the package for its schema
// (the CLI runs PulumiPlugin.yaml's nodejs runtime, which infers it from the TypeScript types), has the
// Python language host generate the SDK into sdks/lisp-deploy and add it to requirements.txt, then makes
// the project's virtualenv and installs pulumi (PyPI) and that SDK into it. `pulumi up` runs the program
// there; the component is constructed by the package's provider, as from YAML.
//
// The package is a self-contained copy in a temp dir laid out as in the repository (see copyPackage).

jest.setTimeout(30 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const PORT = 18910;
const CONTAINER = `lisp-deploy-e2e-python-${id}`;
const URL = `http://127.0.0.1:${PORT}/`;
const HELLO = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";

let scratch = "";
let project = "";
let ws: PulumiWorkspace;
let destroyed = false;

function containersNamed(name: string): string[] {
    const out = execFileSync("docker", ["ps", "-a", "--filter", `name=^/${name}$`, "--format", "{{.ID}} {{.Image}} {{.Status}}"], { encoding: "utf8" });
    return out.split("\n").filter((l) => l !== "");
}

/** A pin of tools/versions.env, the one place versions are pinned. */
function pinned(name: string): string {
    const m = new RegExp(`^${name}=(\\S+)$`, "m").exec(fs.readFileSync(path.join(REPO_ROOT, "tools", "versions.env"), "utf8"));
    if (!m) throw new Error(`tools/versions.env pins no ${name}`);
    return m[1];
}

/**
 * Fails loudly unless python3 (with venv) and the Python language host scripts/setup-pulumi.sh installs are
 * there: pulumi-language-python beside the CLI, the v3.68 host it delegates to, and that host's executor.
 */
function requirePythonToolchain(): void {
    requireCommand("python3", "python3 python3-venv");
    const venv = spawnSync("python3", ["-c", "import venv, ensurepip"], { encoding: "utf8" });
    if (venv.status !== 0) throw new Error(`python3 cannot make virtualenvs (Debian package python3-venv): ${venv.stderr}`);
    const env = pulumiEnvironment();
    const cli = execFileSync("sh", ["-c", "readlink -f \"$(command -v pulumi)\""], { env, encoding: "utf8" }).trim();
    const bin = path.dirname(cli);
    for (const f of ["pulumi-language-python", "pulumi-language-python-delegate"]) {
        if (!fs.existsSync(path.join(bin, f))) {
            throw new Error(`The Python language host is not installed (no ${f} beside ${cli}): run \`bash scripts/setup-pulumi.sh\`.`);
        }
    }
    const exec = path.join(path.dirname(fs.realpathSync(path.join(bin, "pulumi-language-python-delegate"))), "pulumi-language-python-exec");
    if (!fs.existsSync(exec)) throw new Error(`The Python language host has no executor (${exec}): run \`bash scripts/setup-pulumi.sh\`.`);
}

beforeAll(async () => {
    requireDocker();
    requirePulumiCli();
    requirePythonToolchain();
    scratch = scratchDir("examples-python-engine");
    const pkg = path.join(scratch, "lisp-deploy");
    copyPackage(pkg);
    project = path.join(pkg, "examples", "python");
    // What a checkout holds, without what `pulumi install` makes (if someone ran it in this checkout).
    const made = new Set(["venv", "sdks", "__pycache__"]);
    fs.cpSync(path.join(REPO_ROOT, "examples", "python"), project, {
        recursive: true,
        filter: (src) => !made.has(path.basename(src)) || path.dirname(src) !== path.join(REPO_ROOT, "examples", "python"),
    });
    fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), path.join(pkg, "examples", "hello"), { recursive: true });
    ws = new PulumiWorkspace(project, path.join(scratch, "workspace"));
});

afterAll(async () => {
    if (ws && !destroyed) await ws.destroy(STACK);
    spawnSync("docker", ["rm", "-f", CONTAINER]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("pulumi install generates the lisp-deploy SDK from the package and installs it and the pinned pulumi into the project's virtualenv", async () => {
    const requirements = fs.readFileSync(path.join(project, "requirements.txt"), "utf8");
    expect(requirements.split("\n")).toContain(`pulumi==${pinned("PULUMI_PYTHON_SDK_VERSION")}`);

    await ws.ok(["install"]);

    // The SDK is generated from the schema the package's TypeScript types give.
    const webApp = fs.readFileSync(path.join(project, "sdks", "lisp-deploy", "pulumi_lisp_deploy", "web_app.py"), "utf8");
    expect(webApp).toContain("super(WebApp, __self__).__init__(\n            'lisp-deploy:index:WebApp',");
    expect(webApp).toContain("remote=True");
    // Linked once: requirements.txt already names the SDK's directory.
    expect(fs.readFileSync(path.join(project, "requirements.txt"), "utf8")).toBe(requirements);
    // Both are installed in the virtualenv Pulumi.yaml names, not in the machine's Python.
    const versions = execFileSync(
        path.join(project, "venv", "bin", "python"),
        ["-c", "import importlib.metadata as m; print(m.version('pulumi'), m.version('pulumi_lisp_deploy'))"],
        { encoding: "utf8" },
    ).trim();
    expect(versions).toBe(`${pinned("PULUMI_PYTHON_SDK_VERSION")} 0.1.0`);
});

test("examples/python under the real engine: WebApp serves hello; a second run changes nothing", async () => {
    await ws.initStack(STACK, {
        port: String(PORT),
        networkMode: "host",
        buildNetwork: "host",
        dependencySource: "debian",
        containerName: CONTAINER,
    });
    const up = await ws.ok(["up", "--yes", "--stack", STACK]);
    // The CLI loads the Python host from beside itself (scripts/setup-pulumi.sh's links), not from PATH.
    expect(up).not.toContain("using pulumi-language-python from $PATH");
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    expect(outputs.logsCommand).toBe(`docker logs -f ${CONTAINER}`);
    expect(outputs.dockerfile).toContain("Generated by lisp-deploy");
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
});

test("destroy leaves no container behind", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    destroyed = true;
    expect(containersNamed(CONTAINER)).toEqual([]);
    expect(httpGet(URL).status).toBe("000");
});
