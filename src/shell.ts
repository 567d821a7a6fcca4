import * as fs from "fs";
import * as path from "path";

// Quoting for POSIX shells: the one home of it. Every shell text this package renders (release scripts'
// parameters, the Dockerfile's RUN lines, the local target's secret file) quotes its words here.

/**
 * Quotes a word for a POSIX shell: single quotes, with embedded single quotes closed and escaped. The
 * shell reads back exactly `word`, whatever it holds (NUL aside, which no shell word can carry).
 */
export function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Characters every POSIX shell reads as themselves outside quotes, in any position. */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * A word for a POSIX shell, left bare when it needs no quotes (so rendered text such as a Dockerfile
 * stays readable) and {@link shellQuote}d otherwise.
 */
export function shellWord(word: string): string {
    return BARE_WORD.test(word) ? word : shellQuote(word);
}

/**
 * The text of a shell script shipped with the package, `src/<directory>/<name>.sh`. Scripts live as files
 * so shellcheck reads every line that runs anywhere (test/unit/shell-scripts.test.ts); they are read at
 * construction time, so a command carries exactly the file in this checkout. Found beside this module in
 * the source tree, or under `src/` of the published package when this module runs from `bin/`.
 */
export function readShellScript(directory: string, name: string): string {
    return fs.readFileSync(path.join(shellScriptsDirectory(directory, `${name}.sh`), `${name}.sh`), "utf8");
}

/** Where the package's scripts under `src/<directory>` are (see {@link readShellScript}); `probe` is a file that must be there. */
export function shellScriptsDirectory(directory: string, probe: string): string {
    const candidates = [path.join(__dirname, directory), path.join(__dirname, "..", "src", directory)];
    const found = candidates.find((dir) => fs.existsSync(path.join(dir, probe)));
    if (!found) throw new Error(`lisp-deploy's script ${probe} is missing: looked in ${candidates.join(" and ")}.`);
    return found;
}

/**
 * The command text that runs a script under `sh -c` wherever a command runs it (a local shell, or the
 * login shell over SSH): the script given as one quoted word, its (non-secret) parameters as environment
 * variables sorted by name (the same parameters always give the same text, so a preview shows no change
 * when nothing changed), and `args`, each quoted, as its own arguments. `source` names the file in the
 * first line, for whoever reads the command in a preview or a log.
 */
export function shScriptCommand(name: string, source: string, script: string, params: Record<string, string>, args: readonly string[] = []): string {
    return [
        `# lisp-deploy ${name}.sh (${source})`,
        `env \\`,
        ...environmentAssignments(params).map((a) => `  ${a} \\`),
        `  sh -c ${shellQuote(script)} ${name}.sh${args.map((a) => ` ${shellQuote(a)}`).join("")}`,
        "",
    ].join("\n");
}

/** Parameters as `NAME='value'` words, sorted by name (the same parameters, the same text). */
export function environmentAssignments(params: Record<string, string>): string[] {
    return Object.keys(params)
        .sort()
        .map((key) => {
            if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`script parameter name ${JSON.stringify(key)} is not an environment variable name.`);
            return `${key}=${shellQuote(params[key])}`;
        });
}
