import * as fs from "fs";
import * as path from "path";

/** The scripts SystemdRelease runs on a host; each lives as a file in src/release/scripts/. */
export type ReleaseScriptName = "prepare" | "activate" | "remove" | "activate-slot" | "remove-slots" | "delta-build" | "prepare-dependencies";

/**
 * Where the script files are: beside this module in the source tree, or in `src/release/scripts`
 * of the published package when this module runs from `bin/release`.
 */
export function scriptsDirectory(): string {
    const candidates = [path.join(__dirname, "scripts"), path.join(__dirname, "..", "..", "src", "release", "scripts")];
    const found = candidates.find((dir) => fs.existsSync(path.join(dir, "activate.sh")));
    if (!found) {
        throw new Error(`lisp-deploy's release scripts are missing: looked in ${candidates.join(" and ")}.`);
    }
    return found;
}

/**
 * The text of one script, read at construction time so the command carries exactly the files in the repo:
 * the functions the scripts share (scripts/lib/common.sh), then the script itself.
 */
export function readReleaseScript(name: ReleaseScriptName): string {
    const dir = scriptsDirectory();
    return fs.readFileSync(path.join(dir, "lib", "common.sh"), "utf8") + "\n" + fs.readFileSync(path.join(dir, `${name}.sh`), "utf8");
}

/** Quotes a word for a POSIX shell: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command text a remote.Command runs: the script with its (non-secret) parameters as environment
 * variables, as root (through `sudo -n` when the login user is not root). Parameters are sorted by name
 * so the same parameters always give the same text, and a preview shows no change when nothing changed.
 * Stdin passes through untouched: that is where secrets travel.
 */
export function releaseScript(name: ReleaseScriptName, params: Record<string, string>, script = readReleaseScript(name)): string {
    const assignments = parameterAssignments("releaseScript", params);
    return [
        `# lisp-deploy ${name}.sh (src/release/scripts/${name}.sh)`,
        `if [ "$(id -u)" = 0 ]; then as_root=; else as_root="sudo -n"; fi`,
        `$as_root env \\`,
        ...assignments.map((a) => `  ${a} \\`),
        `  bash -c ${shellQuote(script)} ${name}.sh`,
        "",
    ].join("\n");
}

/** The scripts that run on the machine running Pulumi (command.local.Command); each lives as a file in src/release/scripts/. */
export type LocalScriptName = "extract-executable" | "dependencies-executable";

/** The text of one local script, read at construction time like the host scripts (it needs no lib/common.sh). */
export function readLocalScript(name: LocalScriptName): string {
    return fs.readFileSync(path.join(scriptsDirectory(), `${name}.sh`), "utf8");
}

/**
 * The command text a command.local.Command runs (under `/bin/sh -c`): the script, given to `sh -c` as one
 * quoted word, with its (non-secret) parameters as environment variables, sorted by name so the same
 * parameters always give the same text.
 */
export function localScript(name: LocalScriptName, params: Record<string, string>, script = readLocalScript(name)): string {
    return [
        `# lisp-deploy ${name}.sh (src/release/scripts/${name}.sh)`,
        `env \\`,
        ...parameterAssignments("localScript", params).map((a) => `  ${a} \\`),
        `  sh -c ${shellQuote(script)} ${name}.sh`,
        "",
    ].join("\n");
}

/** A script's parameters as `NAME='value'` words, sorted by name (the same parameters, the same text). */
function parameterAssignments(caller: string, params: Record<string, string>): string[] {
    return Object.keys(params)
        .sort()
        .map((key) => {
            if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`${caller}: parameter name ${JSON.stringify(key)} is not an environment variable name.`);
            return `${key}=${shellQuote(params[key])}`;
        });
}

/**
 * The secret environment file's content: `KEY=value` lines sorted by name. systemd's EnvironmentFile=
 * parser takes the value verbatim when it is double-quoted with backslash escapes, which this writes.
 */
export function renderEnvironmentFile(env: Record<string, string>): string {
    return Object.keys(env)
        .sort()
        .map((key) => `${key}="${env[key].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "\\$")}"\n`)
        .join("");
}
