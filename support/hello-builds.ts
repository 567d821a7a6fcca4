import * as fs from "fs";
import * as path from "path";
import { runOk } from "./run";

const HELLO = path.join(__dirname, "..", "examples", "hello");
/** lisp-deploy's runtime system, which hello's main runs on. */
const RUNTIME = path.join(__dirname, "..", "lisp");

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
    // A private fasl cache per build, so two builds in parallel never share compiled files.
    const cache = path.join(dir, "cache");
    await runOk("sbcl", [
        "--non-interactive", "--no-userinit",
        "--eval", "(require :asdf)",
        "--eval", `(asdf:initialize-output-translations '(:output-translations (t (${JSON.stringify(cache + "/")} :implementation)) :inherit-configuration))`,
        "--eval", `(push #p${JSON.stringify(RUNTIME + "/")} asdf:*central-registry*)`,
        "--eval", `(push #p${JSON.stringify(src + "/")} asdf:*central-registry*)`,
        "--eval", '(asdf:make "hello")',
    ]);
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
