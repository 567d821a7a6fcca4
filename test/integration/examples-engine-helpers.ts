import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { linkNodeModules, REPO_ROOT } from "../../support/pulumi-cli";

// What the end-to-end tests of the examples under the real Pulumi CLI share (examples-*-engine.test.ts):
// copying an example beside examples/hello, reading a `pulumi preview --diff` as a reviewer does, and editing
// the copy of examples/hello they deploy.

/** Status and body of a GET, or status "000" when nothing answers. */
export function httpGet(url: string): { status: string; body: string } {
    const r = spawnSync("curl", ["-s", "-m", "5", "-w", "\n%{http_code}", url], { encoding: "utf8" });
    const lines = (r.stdout ?? "").split("\n");
    return { status: lines.pop() ?? "", body: lines.join("\n") };
}

/**
 * The resources a `pulumi preview --diff` changes, as "<op> <type> <name>", sorted, e.g.
 * "replace command:remote:Command hello-release-activate". The name comes from the [urn=...] line below
 * each resource's line.
 */
export function changedResources(previewText: string): string[] {
    const found: string[] = [];
    const lines = previewText.split("\n");
    lines.forEach((line, i) => {
        const m = /^\s*(\+-|-\+|\+|-|~)\s*([a-z0-9-]+:[A-Za-z0-9/:]+)\s*:\s*\((update|replace|create|delete|create-replacement|delete-replaced)\)/.exec(line);
        if (!m) return;
        const urn = lines.slice(i + 1, i + 4).map((l) => /\[urn=(\S+)\]/.exec(l)?.[1]).find((u) => u !== undefined);
        found.push(`${m[3]} ${m[2]} ${urn ? urn.split("::").pop() : "?"}`);
    });
    return found.sort();
}

/**
 * A copy of this package that the CLI may do anything to: its own files, bin/ (compiled by the global setup)
 * and node_modules. A program in `<dest>/examples/<name>` names it as the package `../..`; the CLI runs
 * `npm install` in a local package's directory when it thinks it must (`pulumi package get-schema`,
 * `pulumi install`), and that must never touch this checkout.
 */
export function copyPackage(dest: string): void {
    fs.mkdirSync(dest, { recursive: true });
    for (const f of ["package.json", "package-lock.json", "PulumiPlugin.yaml", "tsconfig.json"]) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dest, f));
    for (const d of ["src", "lisp", "bin"]) fs.cpSync(path.join(REPO_ROOT, d), path.join(dest, d), { recursive: true });
    // cp -a: symlinks (node_modules/.bin) kept as they are, ~260 MB in a few seconds.
    execFileSync("cp", ["-a", path.join(REPO_ROOT, "node_modules"), path.join(dest, "node_modules")]);
    // The checkout's node_modules/lisp-deploy links back to the checkout (scripts/link-package.js).
    fs.rmSync(path.join(dest, "node_modules", "lisp-deploy"), { force: true });
}

/**
 * Copies examples/<example> and the app it deploys (examples/hello) into `scratch`, side by side as in the
 * repository, and links the project to this checkout's package; answers the project and the app's copies.
 */
export function copyExample(scratch: string, example: string): { projectDir: string; appDir: string } {
    const examples = path.join(scratch, "examples");
    for (const dir of [example, "hello"]) fs.cpSync(path.join(REPO_ROOT, "examples", dir), path.join(examples, dir), { recursive: true });
    const projectDir = path.join(examples, example);
    linkNodeModules(projectDir);
    return { projectDir, appDir: path.join(examples, "hello") };
}

const appSource = (appDir: string) => path.join(appDir, "src", "app.lisp");

/** Changes the front page's text of examples/hello (a copy). */
export function setGreeting(appDir: string, text: string): void {
    const file = appSource(appDir);
    const source = fs.readFileSync(file, "utf8");
    const changed = source.replace(/\(defparameter \+greeting\+ "[^"]*"/, `(defparameter +greeting+ "${text}"`);
    if (changed === source) throw new Error(`no greeting to change in ${file}`);
    fs.writeFileSync(file, changed);
}

/** Makes examples/hello (a copy) exit at start, saying so on stderr (which the journal keeps). */
export function breakAppStart(appDir: string): void {
    const file = appSource(appDir);
    const source = fs.readFileSync(file, "utf8");
    const broken = source.replace(
        "(lisp-deploy:main :name",
        '(progn (format *error-output* "hello: refusing to start (test)~%") (finish-output *error-output*) (uiop:quit 3))\n  (lisp-deploy:main :name',
    );
    if (broken === source) throw new Error(`no lisp-deploy:main call to break in ${file}`);
    fs.writeFileSync(file, broken);
}

/**
 * What a failed release on a systemd host must show and leave: the update failed with the health check's
 * verdict, the rollback, the journal's lines including the app's own last words (breakAppStart), and the
 * previous version still serving `servedBody` at `url`.
 */
export function expectRolledBack(update: { code: number; out: string }, url: string, servedBody: string): void {
    expect(update.code).not.toBe(0);
    expect(update.out).toContain("failed its health check; rolling back");
    expect(update.out).toMatch(/rolled back to releases\/[0-9a-f]+, which is serving/);
    expect(update.out).toContain("journal lines of hello.service:");
    expect(update.out).toContain("hello: refusing to start (test)");
    // The command stand-in's ssh clients ride on its authenticated master: no warning about the removed key.
    expect(update.out).not.toContain("not accessible");
    expect(httpGet(url)).toEqual({ status: "200", body: servedBody });
}
