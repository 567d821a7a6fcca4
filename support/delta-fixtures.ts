import * as fs from "fs";
import * as path from "path";

const HELLO = path.join(__dirname, "..", "examples", "hello");

/**
 * Copies examples/hello to `dir` (replacing what was there) and edits the copy: a new +greeting+ (a
 * code-only change), a source text to append to app.lisp (e.g. a syntax error), or one more dependency
 * in the .asd (a dependency change). Returns `dir`.
 */
export function helloCopy(dir: string, edit: { greeting?: string; appendToApp?: string; extraDependency?: string } = {}): string {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(HELLO, dir, { recursive: true });
    const app = path.join(dir, "src", "app.lisp");
    if (edit.greeting !== undefined) {
        const text = fs.readFileSync(app, "utf8");
        const changed = text.replace(/\(defparameter \+greeting\+ "[^"]*"/, `(defparameter +greeting+ ${JSON.stringify(edit.greeting)}`);
        if (changed === text) throw new Error("could not find +greeting+ in examples/hello/src/app.lisp");
        fs.writeFileSync(app, changed);
    }
    if (edit.appendToApp !== undefined) fs.appendFileSync(app, edit.appendToApp);
    if (edit.extraDependency !== undefined) {
        const asd = path.join(dir, "hello.asd");
        const text = fs.readFileSync(asd, "utf8");
        const changed = text.replace(':depends-on ("hunchentoot"', `:depends-on ("hunchentoot" ${JSON.stringify(edit.extraDependency)}`);
        if (changed === text) throw new Error("could not find :depends-on in examples/hello/hello.asd");
        fs.writeFileSync(asd, changed);
    }
    return dir;
}
