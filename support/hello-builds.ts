import * as fs from "fs";
import * as path from "path";
import { runOk } from "./run";

const HELLO = path.join(__dirname, "..", "examples", "hello");
/** lisp-deploy's runtime system, which hello's main runs on. */
const RUNTIME = path.join(__dirname, "..", "lisp");

/**
 * Where compiled dependencies (Hunchentoot and the rest from Debian's cl-* packages, lisp-deploy's runtime)
 * are kept between builds: compiling them is most of a build (about 20 s of 25), and they are the same in
 * every build. Each build's own copy of the app still compiles from its own sources (they live under the
 * build's directory, so their fasls land under a path of their own).
 */
const SHARED_FASLS = path.join(__dirname, "..", ".build", "hello-builds", "fasls");

/** The SBCL arguments that compile with fasls in SHARED_FASLS and find lisp-deploy's runtime and `appDir`. */
function sbclArguments(appDir: string, form: string): string[] {
    return [
        "--non-interactive", "--no-userinit",
        "--eval", "(require :asdf)",
        "--eval", `(asdf:initialize-output-translations '(:output-translations (t (${JSON.stringify(SHARED_FASLS + "/")} :implementation)) :inherit-configuration))`,
        "--eval", `(push #p${JSON.stringify(RUNTIME + "/")} asdf:*central-registry*)`,
        "--eval", `(push #p${JSON.stringify(appDir + "/")} asdf:*central-registry*)`,
        "--eval", form,
    ];
}

let dependenciesCompiled: Promise<void> | undefined;

/**
 * Compiles hello's dependencies into SHARED_FASLS once per process, before any build starts: builds run
 * in parallel, and two SBCLs must never compile the same file into the same place at once (ASDF writes
 * through one fixed temporary name). Afterwards every build only loads them. ASDF recompiles what changed.
 */
function compileDependencies(): Promise<void> {
    dependenciesCompiled ??= runOk("sbcl", sbclArguments(HELLO, '(asdf:load-systems "hunchentoot" "lisp-deploy/hunchentoot" "lisp-deploy/swank")')).then(() => undefined);
    return dependenciesCompiled;
}

/**
 * Builds examples/hello with the local SBCL (same Debian bookworm glibc as the host container) into
 * `dir`, optionally with a different greeting, and returns the executable's path.
 */
export async function buildHello(dir: string, greeting?: string): Promise<string> {
    const src = path.join(dir, "app");
    fs.mkdirSync(dir, { recursive: true });
    fs.cpSync(HELLO, src, { recursive: true });
    if (greeting !== undefined) {
        const app = path.join(src, "src", "app.lisp");
        const text = fs.readFileSync(app, "utf8");
        const changed = text.replace(/\(defparameter \+greeting\+ "[^"]*"/, `(defparameter +greeting+ ${JSON.stringify(greeting)}`);
        if (changed === text) throw new Error("could not find +greeting+ in examples/hello/src/app.lisp");
        fs.writeFileSync(app, changed);
    }
    await compileDependencies();
    await runOk("sbcl", sbclArguments(src, '(asdf:make "hello")'));
    const built = path.join(src, "src", "hello");
    const executable = path.join(dir, "hello");
    fs.renameSync(built, executable);
    return executable;
}

/** An executable that dies at start with a message, standing in for a release that cannot serve. */
export function writeBrokenExecutable(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "hello");
    fs.writeFileSync(file, "#!/bin/sh\necho 'boom: this release cannot start' >&2\nexit 3\n", { mode: 0o755 });
    return file;
}
