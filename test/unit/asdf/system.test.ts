import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAsd, readAppSystem, readSystemDependencies } from "../../../src/asdf/system";
import { ValidationError } from "../../../src/errors";
import { validationError } from "../../harness/errors";

const HELLO = path.resolve(__dirname, "../../../examples/hello");
const FIXTURES = path.resolve(__dirname, "../../fixtures");

function tempApp(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-asdf-"));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    return dir;
}


describe("parseAsd", () => {
    test("reduces every :depends-on form to system names and keeps (:require ...) apart", () => {
        const [sys] = parseAsd(
            `(asdf:defsystem #:web
               :version "2.1"
               :defsystem-depends-on ("cffi-grovel")
               :depends-on ("hunchentoot" #:cl-ppcre :alexandria (:version "local-time" "1.0")
                            (:feature :sbcl "sb-cltl2") (:feature :ccl "ccl-only") (:require "sb-posix")
                            #+sbcl "sbcl-only" #-sbcl "never")
               :entry-point "web:main" :build-pathname "web-server")`,
            "web.asd",
        );
        expect(sys).toEqual({
            name: "web",
            file: "web.asd",
            dependsOn: ["cffi-grovel", "hunchentoot", "cl-ppcre", "alexandria", "local-time", "sb-cltl2", "sbcl-only"],
            requires: ["sb-posix"],
            entryPoint: "web:main",
            buildPathname: "web-server",
            version: "2.1",
        });
    });

    test("finds several systems in one file, also inside progn", () => {
        const systems = parseAsd(`(defsystem "a") (progn (defsystem "a/test" :depends-on ("a" "fiveam")))`, "a.asd");
        expect(systems.map((s) => s.name)).toEqual(["a", "a/test"]);
    });
});

describe("usesLispDeployRuntime: does the app's main run on lisp-deploy's runtime (and so send READY=1)?", () => {
    const uses = (files: Record<string, string>) => readAppSystem(tempApp(files)).usesLispDeployRuntime;

    test("directly: lisp-deploy in the system's own :depends-on", () => {
        expect(uses({ "app.asd": `(defsystem "app" :depends-on ("hunchentoot" "lisp-deploy") :entry-point "app:main")` })).toBe(true);
    });

    test("through a secondary system: lisp-deploy/hunchentoot (examples/hello's way)", () => {
        expect(uses({ "app.asd": `(defsystem "app" :depends-on (#:hunchentoot #:lisp-deploy/hunchentoot) :entry-point "app:main")` })).toBe(true);
    });

    test("through a local system: the app's own library in another .asd of the tree depends on it", () => {
        expect(
            uses({
                "app.asd": `(defsystem "app" :depends-on ("app-core" "hunchentoot") :entry-point "app:main")`,
                "lib/core/app-core.asd": `(defsystem "app-core" :depends-on ((:version "lisp-deploy" "0.1")))`,
            }),
        ).toBe(true);
    });

    test("through a copy of lisp-deploy kept inside the app tree (a local system itself)", () => {
        expect(
            uses({
                "app.asd": `(defsystem "app" :depends-on ("lisp-deploy/hunchentoot") :entry-point "app:main")`,
                "vendor/lisp-deploy/lisp-deploy.asd": `(defsystem "lisp-deploy") (defsystem "lisp-deploy/hunchentoot" :depends-on ("lisp-deploy" "hunchentoot"))`,
            }),
        ).toBe(true);
    });

    test("absent: a plain Hunchentoot app with its own main; an unreached system or a look-alike name does not count", () => {
        expect(
            uses({
                "app.asd": `(defsystem "app" :depends-on ("hunchentoot" "bordeaux-threads" "lisp-deployer") :entry-point "app:main")
                            (defsystem "app/test" :depends-on ("app" "lisp-deploy" "fiveam"))`,
                "tools/ops.asd": `(defsystem "ops" :depends-on ("lisp-deploy"))`,
            }),
        ).toBe(false);
        expect(readAppSystem(path.resolve(__dirname, "../../../examples/plain-hunchentoot")).usesLispDeployRuntime).toBe(false);
    });

    test("with explicit dependencies, those decide", () => {
        const dir = tempApp({ "app.asd": `(defsystem "app" :depends-on ("lisp-deploy") :entry-point "app:main")` });
        expect(readAppSystem(dir, { dependencies: ["hunchentoot"] }).usesLispDeployRuntime).toBe(false);
        expect(readAppSystem(dir, { systemName: "other", dependencies: ["lisp-deploy/hunchentoot"], entryPoint: "other:main" }).usesLispDeployRuntime).toBe(true);
    });
});

describe("readAppSystem", () => {
    test("examples/hello: system, entry point, build pathname, version and dependencies", () => {
        expect(readAppSystem(HELLO)).toEqual({
            systemName: "hello",
            asdFile: "hello.asd",
            entryPoint: "hello:main",
            buildPathname: "hello",
            version: "1.0.0",
            dependencies: ["hunchentoot", "lisp-deploy/hunchentoot", "lisp-deploy/swank"],
            requires: [],
            localSystems: ["hello"],
            usesLispDeployRuntime: true,
        });
    });

    test("follows the app's own systems in other .asd files: their dependencies count, they do not", () => {
        const dir = tempApp({
            "shop.asd": `(defsystem "shop" :depends-on ("shop-db" "shop/web" "hunchentoot") :entry-point "shop:main")
                         (defsystem "shop/web" :depends-on ("cl-who" "hunchentoot"))`,
            "lib/db/shop-db.asd": `(defsystem "shop-db" :depends-on ("postmodern" (:require "sb-md5")))`,
            "lib/unused/other.asd": `(defsystem "other" :depends-on ("never-needed"))`,
        });
        const app = readAppSystem(dir);
        expect(app.dependencies).toEqual(["cl-who", "hunchentoot", "postmodern"]);
        expect(app.requires).toEqual(["sb-md5"]);
        expect(app.localSystems).toEqual(["shop", "shop-db", "shop/web"]);
        expect(app.buildPathname).toBe("shop");
    });

    test("the fixture app: vendored and bundled systems are external, its secondary system is local", () => {
        const app = readAppSystem(path.join(FIXTURES, "image-vendored-app"));
        expect(app.dependencies).toEqual(["greeter", "lisp-deploy"]);
        expect(app.requires).toEqual(["sb-posix"]);
        expect(app.localSystems).toEqual(["vendored-app", "vendored-app/core"]);
    });

    test("a missing .asd names the directory and the fix", () => {
        const e = validationError(() => readAppSystem(tempApp({ "src/app.lisp": "" })));
        expect(e.field).toBe("args.appDir");
        expect(e.message).toMatch(/no \.asd file at the top of .*add one/);
    });

    test("an unknown system names the systems found and the fix", () => {
        const e = validationError(() => readAppSystem(HELLO, { systemName: "helo" }));
        expect(e.field).toBe("args.systemName");
        expect(e.message).toContain('no .asd file under');
        expect(e.message).toContain("(found: hello)");
        expect(e.message).toContain("helo.asd");
    });

    test("no entry point names the .asd file and the fix", () => {
        const dir = tempApp({ "svc.asd": `(defsystem "svc" :depends-on ("alexandria"))` });
        const e = validationError(() => readAppSystem(dir));
        expect(e.field).toBe("args.entryPoint");
        expect(e.message).toContain(path.join(dir, "svc.asd"));
        expect(e.message).toContain(':entry-point "package:main"');
        expect(readAppSystem(dir, { entryPoint: "svc:main" }).entryPoint).toBe("svc:main");
    });

    test("an unreadable .asd is an error naming the file, unless explicit args stand in for it", () => {
        const dir = tempApp({ "odd.asd": `(defsystem "odd" :depends-on ("x"` });
        const e = validationError(() => readAppSystem(dir));
        expect(e.message).toContain(path.join(dir, "odd.asd"));
        expect(e.message).toContain("pass systemName, dependencies, entryPoint and buildPathname explicitly");
        expect(readAppSystem(dir, { systemName: "odd", dependencies: ["b", "a"], entryPoint: "odd:main", buildPathname: "odd-bin" })).toEqual({
            systemName: "odd",
            entryPoint: "odd:main",
            buildPathname: "odd-bin",
            dependencies: ["a", "b"],
            requires: [],
            localSystems: ["odd"],
            usesLispDeployRuntime: false,
        });
    });

    test("several top-level .asd files need systemName; a bad entry point or build pathname is rejected", () => {
        const dir = tempApp({ "a.asd": `(defsystem "a" :entry-point "a:main")`, "b.asd": `(defsystem "b" :entry-point "b:main")` });
        expect(validationError(() => readAppSystem(dir)).message).toContain("pass systemName");
        expect(readAppSystem(dir, { systemName: "b" }).entryPoint).toBe("b:main");
        expect(validationError(() => readAppSystem(dir, { systemName: "a", entryPoint: "main" })).field).toBe("args.entryPoint");
        expect(validationError(() => readAppSystem(dir, { systemName: "a", buildPathname: "../x" })).field).toBe("args.buildPathname");
    });
});

test("readSystemDependencies: the fixture runtime's closure, and an error for a system it lacks", () => {
    const dir = path.join(FIXTURES, "image-lisp-deploy");
    expect(readSystemDependencies(dir, ["lisp-deploy"], "f")).toEqual({ dependencies: [], requires: ["sb-posix"], localSystems: ["lisp-deploy"] });
    expect(readSystemDependencies(dir, ["lisp-deploy/extra"], "f").dependencies).toEqual(["greeter"]);
    expect(() => readSystemDependencies(dir, ["lisp-deploy/missing", "nope"], "f")).toThrow(ValidationError);
});
