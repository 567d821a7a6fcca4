import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { collectTree, contextHash, writeContext } from "../../../src/image/context";
import { planImage } from "../../../src/image/plan";
import { ValidationError } from "../../../src/errors";

const HELLO = path.resolve(__dirname, "../../../examples/hello");
const FIXTURES = path.resolve(__dirname, "../../fixtures");

function copyOfHello(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-ctx-"));
    fs.cpSync(HELLO, dir, { recursive: true });
    return dir;
}

function fileText(plan: ReturnType<typeof planImage>, p: string): string {
    const file = plan.files.find((f) => f.path === p);
    if (!file) throw new Error(`no ${p} in the context`);
    return file.content.toString("utf8");
}

/** The Dockerfile up to (not including) the build stage: what decides whether the dependencies stage is cached. */
function upToBuildStage(dockerfile: string): string {
    return dockerfile.slice(0, dockerfile.indexOf("FROM dependencies AS build"));
}

describe("planImage and the build context", () => {
    test("examples/hello with Debian packages: the files of the context, sorted, and the dependency list", () => {
        const plan = planImage({ appDir: HELLO, dependencySource: { kind: "debian" } });
        expect(plan.files.map((f) => f.path)).toEqual([
            "Dockerfile",
            "app/hello.asd",
            "app/src/app.lisp",
            "app/src/package.lisp",
            "lisp-deploy/build/common.lisp",
            "lisp-deploy/build/dependencies.lisp",
            "lisp-deploy/build/executable.lisp",
            "lisp-deploy/build/runtime-packages.sh",
            "lisp-deploy/build/runtime-rootfs.sh",
            "lisp-deploy/build/sbcl.lisp",
            "lisp-deploy/dependencies.txt",
            // hello uses the lisp-deploy runtime, which the app does not carry: the package bundles it.
            "lisp-deploy/runtime/lisp-deploy.asd",
            "lisp-deploy/runtime/src/config.lisp",
            "lisp-deploy/runtime/src/hunchentoot.lisp",
            "lisp-deploy/runtime/src/log.lisp",
            "lisp-deploy/runtime/src/main.lisp",
            "lisp-deploy/runtime/src/notify.lisp",
            "lisp-deploy/runtime/src/package.lisp",
            "lisp-deploy/runtime/src/sbcl.lisp",
            "lisp-deploy/runtime/src/swank.lisp",
        ]);
        expect(fileText(plan, "lisp-deploy/dependencies.txt")).toBe(
            "require sb-bsd-sockets\nrequire sb-posix\nsystem hunchentoot\nsystem lisp-deploy/hunchentoot\nsystem lisp-deploy/swank\nsystem swank\n",
        );
        expect(plan.spec.dependencySource).toEqual({ kind: "debian", packages: ["cl-hunchentoot", "cl-swank"] });
        expect(plan.executablePath).toBe("/app/hello");
        expect(fileText(plan, "Dockerfile")).toBe(plan.dockerfile);
    });

    test("the hash does not depend on where the app lives, and changes with any source byte", () => {
        const a = planImage({ appDir: HELLO, dependencySource: { kind: "debian" } });
        const copy = copyOfHello();
        expect(planImage({ appDir: copy, dependencySource: { kind: "debian" } }).contextHash).toBe(a.contextHash);
        fs.appendFileSync(path.join(copy, "src/app.lisp"), "\n;; edited\n");
        expect(planImage({ appDir: copy, dependencySource: { kind: "debian" } }).contextHash).not.toBe(a.contextHash);
    });

    test("editing app sources, or the .asd without touching dependencies, leaves the dependency stage's inputs unchanged", () => {
        const before = planImage({ appDir: HELLO, dependencySource: { kind: "debian" } });
        const copy = copyOfHello();
        fs.appendFileSync(path.join(copy, "src/app.lisp"), "\n(defun extra () 1)\n");
        const asd = fs.readFileSync(path.join(copy, "hello.asd"), "utf8").replace(':version "1.0.0"', ':version "1.0.1"');
        fs.writeFileSync(path.join(copy, "hello.asd"), asd);
        const after = planImage({ appDir: copy, dependencySource: { kind: "debian" } });
        expect(fileText(after, "lisp-deploy/dependencies.txt")).toBe(fileText(before, "lisp-deploy/dependencies.txt"));
        expect(upToBuildStage(after.dockerfile)).toBe(upToBuildStage(before.dockerfile));
        expect(fileText(after, "app/hello.asd")).not.toBe(fileText(before, "app/hello.asd"));

        // ...while a new dependency does change the list.
        fs.writeFileSync(path.join(copy, "hello.asd"), asd.replace('("hunchentoot" ', '("hunchentoot" "cl-ppcre" '));
        const moreDeps = planImage({ appDir: copy, dependencySource: { kind: "debian" } });
        expect(fileText(moreDeps, "lisp-deploy/dependencies.txt")).toBe(
            "require sb-bsd-sockets\nrequire sb-posix\nsystem cl-ppcre\nsystem hunchentoot\nsystem lisp-deploy/hunchentoot\nsystem lisp-deploy/swank\nsystem swank\n",
        );
        expect(upToBuildStage(moreDeps.dockerfile)).toContain("cl-hunchentoot cl-ppcre");
    });

    test(".dockerignore in the app is honoured, and fasls and .git are never copied", () => {
        const copy = copyOfHello();
        fs.writeFileSync(path.join(copy, ".dockerignore"), "notes/\n*.log\n");
        fs.mkdirSync(path.join(copy, "notes"));
        fs.writeFileSync(path.join(copy, "notes/todo.txt"), "x");
        fs.writeFileSync(path.join(copy, "debug.log"), "x");
        fs.writeFileSync(path.join(copy, "src/app.fasl"), "x");
        fs.mkdirSync(path.join(copy, ".git"));
        fs.writeFileSync(path.join(copy, ".git/HEAD"), "x");
        const paths = collectTree(copy, "app").map((f) => f.path);
        expect(paths).toEqual(["app/.dockerignore", "app/hello.asd", "app/src/app.lisp", "app/src/package.lisp"]);
    });

    test("an app that depends on lisp-deploy gets the package's runtime bundled, with its own dependencies", () => {
        const plan = planImage({
            appDir: path.join(FIXTURES, "image-vendored-app"),
            dependencySource: { kind: "vendored", dir: path.join(FIXTURES, "image-vendor") },
            lispDeploySystemDir: path.join(FIXTURES, "image-lisp-deploy"),
        });
        expect(plan.bundlesLispDeploy).toBe(true);
        const paths = plan.files.map((f) => f.path);
        expect(paths).toEqual(expect.arrayContaining([
            "lisp-deploy/runtime/lisp-deploy.asd",
            "lisp-deploy/runtime/src/runtime.lisp",
            "lisp-deploy/vendor/greeter/greeter.asd",
            "lisp-deploy/vendor/greeter/greeter.lisp",
            "app/vendored-app.asd",
        ]));
        expect(fileText(plan, "lisp-deploy/dependencies.txt")).toBe("require sb-posix\nsystem greeter\nsystem lisp-deploy\n");
    });

    test("an app that needs lisp-deploy where the package has none is a ValidationError naming the fix", () => {
        expect(() =>
            planImage({
                appDir: path.join(FIXTURES, "image-vendored-app"),
                dependencySource: { kind: "vendored", dir: path.join(FIXTURES, "image-vendor") },
                lispDeploySystemDir: path.join(FIXTURES, "image-vendor"),
            }),
        ).toThrow(/lispDeploySystemDir: the app depends on lisp-deploy but .* has no lisp-deploy.asd/);
    });

    test("Debian package mapping: defaults, exceptions, built-ins and overrides", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-deb-"));
        fs.writeFileSync(path.join(dir, "x.asd"), `(defsystem "x" :entry-point "x:main" :depends-on ("cl+ssl" "cl-ppcre" "uiop" "sb-posix" "alexandria/tests" "mylib"))`);
        const plan = planImage({ appDir: dir, dependencySource: { kind: "debian", packages: { mylib: "libmylib-lisp" } } });
        expect(plan.spec.dependencySource).toEqual({ kind: "debian", packages: ["cl-alexandria", "cl-plus-ssl", "cl-ppcre", "libmylib-lisp"] });
    });

    test("qlot ships qlfile and qlfile.lock; an SBCL tarball file is shipped in the context and copied in basepackages", () => {
        const copy = copyOfHello();
        fs.writeFileSync(path.join(copy, "qlfile"), "ql hunchentoot\n");
        fs.writeFileSync(path.join(copy, "qlfile.lock"), '("quicklisp" .\n (:class qlot/source/dist:source-dist))\n');
        const tarball = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "image-sbcl-")), "sbcl-2.4.0-x86-64-linux-binary.tar.bz2");
        fs.writeFileSync(tarball, "not really a tarball");
        const plan = planImage({ appDir: copy, dependencySource: { kind: "qlot" }, sbcl: { tarballFile: tarball } });
        expect(fileText(plan, "lisp-deploy/qlot/qlfile")).toBe("ql hunchentoot\n");
        expect(plan.files.map((f) => f.path)).toEqual(expect.arrayContaining(["lisp-deploy/qlot/qlfile.lock", "lisp-deploy/sbcl/sbcl-2.4.0-x86-64-linux-binary.tar.bz2"]));
        expect(plan.dockerfile).toContain("COPY lisp-deploy/sbcl/sbcl-2.4.0-x86-64-linux-binary.tar.bz2 /tmp/sbcl.tar");
        expect(plan.dockerfile).toContain("RUN cd /opt/lisp-deploy/qlot && qlot install");
    });

    test("Quicklisp ships quicklisp-https.lisp (the client and every download over HTTPS) and pins the client's info URL; other sources do not", () => {
        const ql = planImage({ appDir: HELLO, dependencySource: { kind: "quicklisp" } });
        const script = ql.files.find((f) => f.path === "lisp-deploy/build/quicklisp-https.lisp");
        expect(script?.content.toString()).toBe(fs.readFileSync(path.resolve(__dirname, "../../../lisp/build/quicklisp-https.lisp"), "utf8"));
        expect(ql.spec.dependencySource).toEqual({ kind: "quicklisp", distVersion: "2024-10-12", clientInfoUrl: "https://beta.quicklisp.org/client/2021-02-13/client-info.sexp" });
        expect(planImage({ appDir: HELLO, dependencySource: { kind: "debian" } }).files.map((f) => f.path)).not.toContain("lisp-deploy/build/quicklisp-https.lisp");
    });

    test("runtimeBase and dynamicSpaceSizeMb reach the spec; bad values name the field", () => {
        const plan = planImage({ appDir: HELLO, dependencySource: { kind: "debian" }, runtimeBase: "debian-slim", dynamicSpaceSizeMb: 2048 });
        expect(plan.spec.runtimeBase).toBe("debian-slim");
        expect(plan.spec.dynamicSpaceSizeMb).toBe(2048);
        expect(planImage({ appDir: HELLO, dependencySource: { kind: "debian" } }).spec.runtimeBase).toBe("slim");
        expect(() => planImage({ appDir: HELLO, dependencySource: { kind: "debian" }, runtimeBase: "alpine" as never })).toThrow(/args\.runtimeBase: must be "slim" or "debian-slim"/);
        expect(() => planImage({ appDir: HELLO, dependencySource: { kind: "debian" }, dynamicSpaceSizeMb: 100 })).toThrow(/args\.dynamicSpaceSizeMb: must be a whole number of MB from 256/);
    });

    test("bad options are ValidationErrors naming the field", () => {
        const field = (fn: () => unknown): string => {
            try { fn(); } catch (e) { expect(e).toBeInstanceOf(ValidationError); return (e as ValidationError).field; }
            throw new Error("no error");
        };
        expect(field(() => planImage({ appDir: HELLO, port: 0 }))).toBe("args.port");
        expect(field(() => planImage({ appDir: HELLO, runtimePackages: ["libssl3", "Bad Name"] }))).toBe("args.runtimePackages[1]");
        expect(field(() => planImage({ appDir: HELLO, dependencySource: { kind: "quicklisp", distVersion: "latest" } }))).toBe("args.dependencySource.distVersion");
        expect(field(() => planImage({ appDir: HELLO, dependencySource: { kind: "qlot" } }))).toBe("args.dependencySource.qlfileDir");
        expect(field(() => planImage({ appDir: HELLO, dependencySource: { kind: "vendored", dir: "/nonexistent" } }))).toBe("args.dependencySource.dir");
        expect(field(() => planImage({ appDir: HELLO, sbcl: { tarballUrl: "ftp://x" } }))).toBe("args.sbcl.tarballUrl");
        expect(field(() => planImage({ appDir: HELLO, sbcl: { tarballFile: "/nonexistent.tar.bz2" } }))).toBe("args.sbcl.tarballFile");
        expect(field(() => planImage({ appDir: "/nonexistent" }))).toBe("args.appDir");
    });
});

describe("writeContext", () => {
    test("writes exactly the planned files with fixed modes and times, and removes stale ones", () => {
        const plan = planImage({ appDir: HELLO, dependencySource: { kind: "debian" } });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-write-"));
        fs.writeFileSync(path.join(dir, "stale.txt"), "old");
        writeContext(dir, plan.files);
        expect(fs.existsSync(path.join(dir, "stale.txt"))).toBe(false);
        const back = collectTree(dir, "").map((f) => ({ ...f, path: f.path.slice(1) }));
        expect(contextHash(back)).toBe(plan.contextHash);
        const stat = fs.statSync(path.join(dir, "Dockerfile"));
        expect(stat.mode & 0o777).toBe(0o644);
        expect(stat.mtime.toISOString()).toBe("2000-01-01T00:00:00.000Z");
    });
});

test("the package's own lisp/ is found relative to the package, not the current directory", () => {
    const { packageLispDir } = jest.requireActual("../../../src/image/plan") as typeof import("../../../src/image/plan");
    const before = process.cwd();
    try {
        process.chdir(os.tmpdir());
        expect(packageLispDir()).toBe(path.resolve(__dirname, "../../../lisp"));
        expect(fs.existsSync(path.join(packageLispDir(), "build/sbcl.lisp"))).toBe(true);
    } finally {
        process.chdir(before);
    }
});
