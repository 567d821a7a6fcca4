import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { RecordingMocks, RecordedResource, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { dependencyStagesText, planDelta } from "../../../../src/release/systemd/deltaPlan";
import { ARCHIVE_MTIME, deterministicTar } from "../../../../src/image/sourceArchive";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { deltaImageOptions, deltaKindOf, DeltaRelease, DeltaReleaseArgs } from "../../../../src/release/systemd/deltaRelease";
import { helloCopy } from "../../../../support/delta-fixtures";

// Unit layer: the Pulumi engine is stood in for by RecordingMocks; nothing runs on a host or in Docker.
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };
let work: string;
let cwd: string;

beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "delta-unit-"));
    cwd = process.cwd();
    // DeltaRelease writes its local artifacts relative to the program's directory.
    process.chdir(work);
});
afterAll(() => {
    process.chdir(cwd);
    fs.rmSync(work, { recursive: true, force: true });
});

const debian = { kind: "debian" } as const;

describe("deterministicTar", () => {
    const files = [
        { path: "b/two.lisp", mode: 0o644, content: Buffer.from("(two)\n") },
        { path: "a/one.lisp", mode: 0o755, content: Buffer.from("(one)\n") },
    ];

    test("sorted entries, owner 0:0, fixed mtime, modes kept; GNU tar reads it back byte for byte", () => {
        const tar = deterministicTar(files);
        expect(tar.length % 512).toBe(0);
        const file = path.join(work, "t.tar");
        fs.writeFileSync(file, tar);
        const listing = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", file], { env: { ...process.env, TZ: "UTC" } }).toString();
        expect(listing.trim().split("\n").map((l) => l.split(/\s+/).filter((_, i) => i !== 2).join(" "))).toEqual([
            "-rwxr-xr-x 0/0 2000-01-01 00:00:00 a/one.lisp",
            "-rw-r--r-- 0/0 2000-01-01 00:00:00 b/two.lisp",
        ]);
        expect(ARCHIVE_MTIME).toBe(Date.parse("2000-01-01T00:00:00Z") / 1000);
        const out = path.join(work, "x");
        fs.mkdirSync(out);
        execFileSync("tar", ["-xf", file, "-C", out]);
        expect(fs.readFileSync(path.join(out, "b/two.lisp"), "utf8")).toBe("(two)\n");
    });

    test("the same files in any order give the same bytes; a changed byte gives different bytes", () => {
        expect(deterministicTar(files).equals(deterministicTar([...files].reverse()))).toBe(true);
        const changed = [files[0], { ...files[1], content: Buffer.from("(ONE)\n") }];
        expect(deterministicTar(changed).equals(deterministicTar(files))).toBe(false);
    });

    test("paths over 100 bytes use the ustar prefix field", () => {
        const long = `${"d".repeat(80)}/${"e".repeat(60)}/file.lisp`;
        const file = path.join(work, "long.tar");
        fs.writeFileSync(file, deterministicTar([{ path: long, mode: 0o644, content: Buffer.from("x") }]));
        expect(execFileSync("tar", ["-tf", file]).toString().trim()).toBe(long);
    });
});

describe("planDelta", () => {
    test("the same sources in two directories give the same key, archive and release id", () => {
        const a = planDelta({ appDir: helloCopy(path.join(work, "same-a")), dependencySource: debian });
        const b = planDelta({ appDir: helloCopy(path.join(work, "same-b")), dependencySource: debian });
        expect(a.dependenciesKey).toMatch(/^[0-9a-f]{64}$/);
        expect(b.dependenciesKey).toBe(a.dependenciesKey);
        expect(b.sourceArchive.equals(a.sourceArchive)).toBe(true);
        expect(b.releaseId).toBe(a.releaseId);
        expect(a.sourceFiles.map((f) => f.path)).toEqual(["app/hello.asd", "app/src/app.lisp", "app/src/package.lisp", "lisp-deploy/build/executable.lisp"]);
    });

    test("a code-only change keeps the dependencies key and changes the archive; a dependency change changes the key", () => {
        const base = planDelta({ appDir: helloCopy(path.join(work, "base")), dependencySource: debian });
        const code = planDelta({ appDir: helloCopy(path.join(work, "code"), { greeting: "Changed." }), dependencySource: debian });
        const deps = planDelta({ appDir: helloCopy(path.join(work, "deps"), { extraDependency: "cl-ppcre" }), dependencySource: debian });
        expect(code.dependenciesKey).toBe(base.dependenciesKey);
        expect(code.sourceHash).not.toBe(base.sourceHash);
        expect(code.releaseId).not.toBe(base.releaseId);
        expect(deps.dependenciesKey).not.toBe(base.dependenciesKey);
        // Compression is a build-stage setting: it does not touch the dependencies executable.
        const compressed = planDelta({ appDir: path.join(work, "base"), dependencySource: debian, compression: true });
        expect(compressed.dependenciesKey).toBe(base.dependenciesKey);
    });

    test("the key covers the Dockerfile only up to the dependencies stage", () => {
        const plan = planDelta({ appDir: helloCopy(path.join(work, "stages")), dependencySource: debian });
        const text = dependencyStagesText(plan.image.dockerfile);
        expect(text).toContain("FROM quicklisp AS dependencies");
        expect(text).not.toContain("AS build");
        expect(text).not.toContain("# build:");
    });
});

describe("DeltaRelease under mocks (Pulumi engine stood in for by RecordingMocks)", () => {
    function args(appDir: string, patch: Partial<DeltaReleaseArgs> = {}): DeltaReleaseArgs {
        return {
            connection,
            app: "hello",
            appDir,
            dependencySource: { kind: "debian" },
            compression: true,
            port: 8080,
            secretEnvironment: { API_TOKEN: pulumi.secret("tok-123") },
            buildNetwork: "host",
            ...patch,
        };
    }

    /** Runs the program once under fresh mocks and returns each child resource's inputs by name. */
    async function program(appDir: string): Promise<Map<string, RecordedResource>> {
        const mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const r = new DeltaRelease("web", args(appDir));
        await valueOf(r.url);
        await new Promise((res) => setTimeout(res, 100));
        return new Map(mocks.resources.map((x) => [x.name, x]));
    }

    const DEPENDENCY_RESOURCES = ["web-dependencies-executable", "web-dependencies-prepare", "web-dependencies-upload"];
    const SOURCE_RESOURCES = ["web-prepare", "web-source-upload", "web-build", "web-activate"];

    /** Names of the child resources whose inputs differ between two runs (assets compared by path). */
    function changed(a: Map<string, RecordedResource>, b: Map<string, RecordedResource>): string[] {
        const norm = (r: RecordedResource) => JSON.stringify(r.inputs, (_k, v) => (pulumi.asset.FileAsset.isInstance(v) ? { file: (v as any).path } : v));
        return [...a.keys()].filter((name) => name !== "web" && norm(a.get(name)!) !== norm(b.get(name)!)).sort();
    }

    test("wires dependencies (executable, prepare, upload) and sources (prepare, upload, build, activate)", async () => {
        const run = await program(helloCopy(path.join(work, "wire")));
        expect([...run.keys()].sort()).toEqual(["web", ...DEPENDENCY_RESOURCES, ...SOURCE_RESOURCES].sort());
        const plan = planDelta({ appDir: path.join(work, "wire"), dependencySource: debian });
        const key = plan.dependenciesKey;
        expect(run.get("web-dependencies-upload")!.inputs.remotePath).toBe(`/opt/hello/dependencies/${key}/.upload-lisp-deploy-dependencies`);
        expect(run.get("web-source-upload")!.inputs.remotePath).toBe(`/opt/hello/releases/${plan.releaseId}/.source.tar`);
        const build = run.get("web-build")!.inputs.create as string;
        expect(build).toContain(`DEPENDENCIES_KEY='${key}'`);
        expect(build).toContain("ENTRY_POINT='hello:main'");
        expect(build).toContain("COMPRESSION='true'");
        const local = run.get("web-dependencies-executable")!.inputs.create as string;
        expect(local).toContain("--target dependencies");
        expect(local).toContain(`IMAGE_TAG='hello-dependencies:${key.slice(0, 12)}'`);
        // Relative paths only: previews do not depend on the machine.
        expect(local).not.toContain(work);
        expect(JSON.stringify(run.get("web-source-upload")!.inputs)).not.toContain(work);
        // The secret travels on stdin only.
        const activate = run.get("web-activate")!.inputs;
        expect(activate.create).not.toContain("tok-123");
        expect(activate.stdin[rpc.specialSigKey]).toBe(rpc.specialSecretSig);
    });

    test("a second run of unchanged sources gives identical inputs", async () => {
        const dir = helloCopy(path.join(work, "again"));
        expect(changed(await program(dir), await program(dir))).toEqual([]);
    });

    test("a code-only change changes only the source resources' inputs", async () => {
        const dir = path.join(work, "evolve");
        const first = await program(helloCopy(dir));
        const second = await program(helloCopy(dir, { greeting: "Hello from a code-only change." }));
        expect(changed(first, second)).toEqual([...SOURCE_RESOURCES].sort());
    });

    test("a dependency change changes both the dependency and the source resources", async () => {
        const dir = path.join(work, "evolve-deps");
        const first = await program(helloCopy(dir));
        const second = await program(helloCopy(dir, { extraDependency: "cl-ppcre" }));
        expect(changed(first, second)).toEqual([...DEPENDENCY_RESOURCES, ...SOURCE_RESOURCES].sort());
    });

    test("with the previous dependencies key, deltaKind is known without the host: same key source-only, else both", async () => {
        const dir = helloCopy(path.join(work, "kind"));
        const key = planDelta({ appDir: dir, dependencySource: debian }).dependenciesKey;
        // Nothing runs on a host here (the mocks answer the build with no stdout), yet the kind is computed.
        await pulumi.runtime.setMocks(new RecordingMocks(), "lisp-deploy", "unit", false);
        const same = new DeltaRelease("same", args(dir, { previousDependenciesKey: key }));
        const other = new DeltaRelease("other", args(dir, { previousDependenciesKey: "0".repeat(64) }));
        const first = new DeltaRelease("first", args(dir, { previousDependenciesKey: "" }));
        expect(await valueOf(same.deltaKind)).toBe("source-only");
        expect(await valueOf(other.deltaKind)).toBe("dependencies-and-source");
        expect(await valueOf(first.deltaKind)).toBe("dependencies-and-source");
        expect(deltaKindOf(undefined, key)).toBe("dependencies-and-source");
        // Without it, the kind is the host's report: here there is none.
        const host = new DeltaRelease("host", args(dir));
        expect(await valueOf(host.deltaKind)).toBe("");
        // Let every component register its outputs before the next test replaces the mocks.
        await Promise.all([same, other, first, host].map((r) => valueOf(r.url)));
        await new Promise((res) => setTimeout(res, 200));
    });

    test("releaseCommand and stateDirectory reach the activation the way SystemdRelease's do (issue 14)", async () => {
        const mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const r = new DeltaRelease("web", args(helloCopy(path.join(work, "lifecycle")), { releaseCommand: ["migrate"], stateDirectory: "hello" }));
        await valueOf(r.url);
        await new Promise((res) => setTimeout(res, 200));
        const create: string = mocks.resources.find((x) => x.name === "web-activate")!.inputs.create;
        expect(create).toMatch(/^ {2}RELEASE_COMMAND_UNIT='[^']*ExecStart=\/opt\/hello\/releases\/%i\/hello migrate\n/m);
        expect(create).toContain("StateDirectory=hello\n");
        expect(create.indexOf('run_release_command "${secret_for_command}"')).toBeLessThan(create.indexOf('ln -sfn "${target}" "${root}/.current.new"'));
    });

    test("bad input fails at construction, naming the field", async () => {
        await pulumi.runtime.setMocks(new RecordingMocks(), "lisp-deploy", "unit", false);
        const dir = helloCopy(path.join(work, "bad"));
        expect(() => new DeltaRelease("bad1", args(dir, { workDir: "/abs/dir" }))).toThrow(ValidationError);
        expect(() => new DeltaRelease("bad1", args(dir, { workDir: "/abs/dir" }))).toThrow(/args\.workDir/);
        expect(() => new DeltaRelease("bad2", args(dir, { app: "Bad App" }))).toThrow(/args\.app/);
        expect(() => new DeltaRelease("bad3", args(dir, { port: 0 }))).toThrow(/args\.port/);
        expect(() => new DeltaRelease("bad4", args(dir, { dependencySource: { kind: "pip" as any } }))).toThrow(/args\.dependencySource\.kind/);
        expect(() => new DeltaRelease("bad5", args(dir, { dependencySource: { kind: "vendored" } }))).toThrow(/args\.dependencySource\.dir/);
        expect(() => new DeltaRelease("bad6", args(path.join(work, "no-such-app")))).toThrow(ValidationError);
    });

    test("the flat arguments map to LispImage's plan options", () => {
        expect(deltaImageOptions(args("app", { dependencySource: { kind: "quicklisp", distVersion: "2024-10-12" } }), ["w"])).toEqual({
            appDir: "app",
            systemName: undefined,
            entryPoint: undefined,
            dependencySource: { kind: "quicklisp", distVersion: "2024-10-12" },
            buildPackages: undefined,
            baseImage: undefined,
            compression: true,
            excludeFromApp: ["w"],
        });
        expect(deltaImageOptions(args("app", { dependencySource: { kind: "vendored", dir: "vendor" } })).dependencySource).toEqual({ kind: "vendored", dir: "vendor" });
    });

    test("the component's schema is inferable by Pulumi's multi-language hosting (no unions, plain data)", async () => {
        const provider = new ComponentProvider({ components: [DeltaRelease], name: "lisp-deploy", dirname: cwd, version: "0.1.0" });
        const schema = JSON.parse(await provider.getSchema());
        const delta = schema.resources["lisp-deploy:index:DeltaRelease"];
        expect([...delta.requiredInputs].sort()).toEqual(["app", "appDir", "connection", "port"]);
        // The same flat dependency source LispImage takes, so one type serves both in every language.
        expect(delta.inputProperties.dependencySource.$ref).toBe("#/types/lisp-deploy:index:DependencySourceArgs");
        expect(delta.properties.deltaKind.type).toBe("string");
        expect(schema.types["lisp-deploy:index:DependencySourceKind"].enum.map((e: { value: string }) => e.value)).toEqual(["quicklisp", "qlot", "debian", "vendored"]);
    });
});
