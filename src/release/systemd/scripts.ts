import { ValidationError } from "../../errors";
import { environmentAssignments, readShellScript, shellQuote, shellScriptsDirectory, shScriptCommand } from "../../shell";
import { UNREPRESENTABLE } from "../../validate";

/** The scripts SystemdRelease runs on a host; each lives as a file in src/release/systemd/scripts/. */
export type ReleaseScriptName = "prepare" | "activate" | "remove" | "activate-slot" | "remove-slots" | "delta-build" | "prepare-dependencies";

/** Where the systemd family's script files are (beside this module, or in the published package's src/). */
export function scriptsDirectory(): string {
    return shellScriptsDirectory("release/systemd/scripts", "activate.sh");
}

/**
 * The text of one script, read at construction time so the command carries exactly the files in the repo:
 * the functions the scripts share (scripts/lib/common.sh), then the script itself.
 */
export function readReleaseScript(name: ReleaseScriptName): string {
    return readShellScript("release/systemd/scripts/lib", "common") + "\n" + readShellScript("release/systemd/scripts", name);
}

// Quoting has one home (src/shell.ts); re-exported here for the scripts' callers.
export { shellQuote };

/**
 * The command text a remote.Command runs: the script with its (non-secret) parameters as environment
 * variables, as root (through `sudo -n` when the login user is not root). Parameters are sorted by name
 * so the same parameters always give the same text, and a preview shows no change when nothing changed.
 * Stdin passes through untouched: that is where secrets travel.
 */
export function releaseScript(name: ReleaseScriptName, params: Record<string, string>, script = readReleaseScript(name)): string {
    const assignments = environmentAssignments(params);
    return [
        `# lisp-deploy ${name}.sh (src/release/systemd/scripts/${name}.sh)`,
        `if [ "$(id -u)" = 0 ]; then as_root=; else as_root="sudo -n"; fi`,
        `$as_root env \\`,
        ...assignments.map((a) => `  ${a} \\`),
        `  bash -c ${shellQuote(script)} ${name}.sh`,
        "",
    ].join("\n");
}

/** The systemd family's scripts that run on the machine running Pulumi (command.local.Command), in scripts/. */
export type LocalScriptName = "extract-executable" | "dependencies-executable";

/** The text of one local script, read at construction time like the host scripts (it needs no lib/common.sh). */
export function readLocalScript(name: LocalScriptName): string {
    return readShellScript("release/systemd/scripts", name);
}

/**
 * The command text a command.local.Command runs (under `/bin/sh -c`): the script, given to `sh -c` as one
 * quoted word, with its (non-secret) parameters as environment variables, sorted by name so the same
 * parameters always give the same text, and `args` (each quoted) as the script's own arguments.
 */
export function localScript(name: LocalScriptName, params: Record<string, string>, script = readLocalScript(name), args: readonly string[] = []): string {
    return shScriptCommand(name, `src/release/systemd/scripts/${name}.sh`, script, params, args);
}

/**
 * The secret environment file's content: `KEY="value"` lines sorted by name. Inside double quotes,
 * systemd's EnvironmentFile= parser (systemd.exec(5)) takes every character as itself, `%` included,
 * except the backslash escapes of `\`, `"` and `$` (and of a backquote), which this writes for the first
 * three; a newline or carriage return stays part of the value (a PEM key arrives as written). It cannot
 * carry NUL (the value would end there) nor text systemd's UTF-8 check refuses (a lone surrogate, a
 * noncharacter such as U+FFFE): with one of those systemd does not start the unit at all, so they are
 * refused here, naming `<field>.<KEY>`. test/integration/env-readback.test.ts reads both back with systemd.
 */
export function renderEnvironmentFile(env: Record<string, string>, field = "args.secretEnvironment"): string {
    return Object.keys(env)
        .sort()
        .map((key) => {
            const value = env[key];
            if (typeof value !== "string") throw new ValidationError(`${field}.${key}`, `must be a string; got ${typeof value}.`);
            if (value.includes("\0")) throw new ValidationError(`${field}.${key}`, "must not contain NUL: no environment variable can hold it; remove it.");
            if (UNREPRESENTABLE.test(value)) {
                throw new ValidationError(`${field}.${key}`, "contains an unpaired UTF-16 surrogate or a Unicode noncharacter (U+FFFE...): systemd would refuse the whole file and not start the app; remove it.");
            }
            return `${key}="${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"\n`;
        })
        .join("");
}
