import { ValidationError } from "../../errors";
import { checkEnvironment, checkPort, checkServiceName, checkStateDirectory, UNREPRESENTABLE } from "../../validate";

/**
 * What a unit needs to know about the service it runs. Everything here is plain data (no Outputs), so
 * `renderUnit` stays a pure function that tests call directly and a preview diff can show line by line.
 */
export interface UnitSpec {
    /** The app's name: the unit is `<app>.service` and the release tree is `/opt/<app>`. */
    app: string;
    /** File name of the executable inside each release directory. */
    executable: string;
    /** A one-line description for `systemctl status`. */
    description?: string;
    /**
     * `notify`: the executable sends READY=1 once it listens (lisp-deploy's runtime does when
     * NOTIFY_SOCKET is set), so `systemctl restart` returns only when the app can serve.
     * `exec`: for executables that never notify; systemd considers them started once exec() succeeded.
     */
    type: UnitType;
    /**
     * Seconds systemd waits for the start (TimeoutStartSec=): for `notify`, from exec to READY=1; a unit that
     * is not ready by then is killed and restarted. Default {@link DEFAULT_START_TIMEOUT_SECONDS}.
     */
    startTimeoutSeconds?: number;
    /** The TCP port the app listens on; passed as PORT. */
    port: number;
    /** Non-secret environment variables, written into the unit as `Environment=` lines, sorted by name. */
    environment: Record<string, string>;
    /** Whether a 0600 `EnvironmentFile=` holding the secret variables is read. */
    environmentFile: boolean;
    /** Run as this existing or created system user instead of a per-start DynamicUser. */
    user?: string;
    /** Extra arguments after the executable, each quoted for systemd. */
    args?: string[];
    /**
     * Zero-downtime mode: the slot (`blue` or `green`) this unit runs. The unit is `<app>-<slot>.service`,
     * runs the release `/opt/<app>/slots/<slot>` points at, has its own cache directory and secret file,
     * and listens on 127.0.0.1 only (BIND_ADDRESS): the reverse proxy in front is the public entry.
     */
    slot?: string;
    /**
     * The executable's SBCL heap limit in MB (LispImage's `dynamicSpaceSizeMb`), when known: the unit's
     * `MemoryMax=` is set a little above it ({@link memoryMaxFor}), so a leak ends in SBCL's "Heap
     * exhausted" error (or, past the margin, the kernel killing this service alone), a journal line and a
     * restart, never the OOM killer choosing a process on the whole host.
     */
    dynamicSpaceSizeMb?: number;
    /**
     * A directory that outlives releases and rollbacks: systemd's `StateDirectory=`, `/var/lib/<name>`,
     * owned by the service user and handed to the app as `STATE_DIRECTORY` (systemd sets it, systemd.exec(5)).
     * With a dynamic user, every unit of the app (both slots, the release command) runs as the one dynamic
     * user named after the app ({@link serviceUser}), so none takes the directory from another.
     */
    stateDirectory?: string;
}

/**
 * `MemoryMax=` in MB for an SBCL heap of `dynamicSpaceSizeMb`: the heap plus what SBCL and the app use
 * outside it (the runtime, thread stacks, C libraries such as OpenSSL, the GC's tables): a quarter of the
 * heap, at least 256 MB.
 */
export function memoryMaxFor(dynamicSpaceSizeMb: number): number {
    return dynamicSpaceSizeMb + Math.max(256, Math.ceil(dynamicSpaceSizeMb / 4));
}

/** How systemd learns the app has started: `notify` (the app sends READY=1) or `exec` (once exec() succeeded). */
export type UnitType = "notify" | "exec";

/** TimeoutStartSec= unless a release says otherwise: ample for an SBCL executable to map its core and listen. */
export const DEFAULT_START_TIMEOUT_SECONDS = 30;

/**
 * The one rule for a unit's `Type=`. An explicit `serviceType` wins. Otherwise it follows the app:
 * `notify` when the app runs on lisp-deploy's runtime (which sends READY=1 once it listens; LispImage's
 * `notifiesReadiness`, read from the `.asd`), `exec` when it does not (an app with its own `main` never
 * notifies, and under `notify` systemd would kill it when TimeoutStartSec ran out, every time). When
 * nothing is known about the app (a SystemdRelease of a bare executable), `notify`, as before: a wrong
 * guess then fails the release, saying so, instead of passing it.
 */
export function unitTypeFor(serviceType: UnitType | undefined, notifiesReadiness: boolean | undefined): UnitType {
    if (serviceType !== undefined) return serviceType;
    return notifiesReadiness === false ? "exec" : "notify";
}

/** Where a release tree lives on the host; the one place these paths are spelled out. With a slot (zero-downtime mode), that slot's link, secret file and unit. */
export function releasePaths(app: string, executable: string, slot?: string) {
    const root = `/opt/${app}`;
    const current = slot === undefined ? `${root}/current` : `${root}/slots/${slot}`;
    const service = slot === undefined ? app : `${app}-${slot}`;
    return {
        root,
        releases: `${root}/releases`,
        /** DeltaRelease's dependencies executables, one directory per dependencies key. */
        dependencies: `${root}/dependencies`,
        current,
        executable: `${current}/${executable}`,
        environmentFile: slot === undefined ? `${root}/secret.env` : `${root}/secret-${slot}.env`,
        unitName: `${service}.service`,
        unitFile: `/etc/systemd/system/${service}.service`,
        /** The release command's template unit: `<app>-release@<releaseId>.service` runs it for one release. */
        releaseCommandUnitName: `${app}-release@.service`,
        /** The secret file the release command reads: a copy of the release's, present only while it runs. */
        releaseCommandEnvironmentFile: `${root}/release-command.env`,
    };
}

const EXECUTABLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Checks an app name at construction time; the name ends up in paths, unit names and shell text (the shared rule). */
export function validateAppName(field: string, app: string): void {
    checkServiceName(field, app);
}

/** Checks an executable file name: a plain name, no directories, nothing the shell or systemd would read twice. */
export function validateExecutableName(field: string, executable: string): void {
    if (!EXECUTABLE_NAME.test(executable)) {
        throw new ValidationError(
            field,
            `must be a plain file name of letters, digits, '.', '_' or '-' (no '/'); got ${JSON.stringify(executable)}.`,
        );
    }
}

/** Checks environment variables, which become `Environment=` keys and shell-free file lines: the shared rule, one line each. */
export function validateEnvironmentNames(field: string, env: Record<string, string>): void {
    checkEnvironment(field, env, { oneLine: true });
}

/** Checks a start timeout (TimeoutStartSec=): whole seconds, 1 to 600. */
export function validateStartTimeout(field: string, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
        throw new ValidationError(field, `must be a whole number of seconds between 1 and 600; got ${JSON.stringify(seconds)}.`);
    }
}

/** Checks a port number (the shared rule). */
export function validatePort(field: string, port: number): void {
    checkPort(field, port);
}

/** What systemd reads as itself in an unquoted word: no specifier (`%`), `$`, quote, backslash, whitespace or `;`. */
const SYSTEMD_BARE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * One word in systemd's C-style double quotes (systemd.syntax(7)): `\` and `"` escaped, `%` doubled (a
 * specifier otherwise: `%n` would become the unit name and `%4` fails the whole line), control characters
 * as `\xNN`. `$` is doubled only where systemd expands variables (`ExecStart=`, systemd.service(5));
 * in `Environment=` it has no meaning (systemd.exec(5)) and doubling it would reach the app as `$$`.
 */
function systemdQuoted(word: string, doubleDollar: boolean): string {
    let out = "";
    for (const ch of word) {
        const code = ch.codePointAt(0)!;
        if (ch === "\\" || ch === '"') out += `\\${ch}`;
        else if (ch === "%") out += "%%";
        else if (ch === "$" && doubleDollar) out += "$$";
        else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
        else out += ch;
    }
    return `"${out}"`;
}

/** Quotes one `NAME=value` word of an `Environment=` line so the app receives exactly `value`. */
export function quoteEnvironmentForSystemd(assignment: string): string {
    return SYSTEMD_BARE_WORD.test(assignment) ? assignment : systemdQuoted(assignment, false);
}

/** Quotes one word of an `ExecStart=` line so the executable receives exactly `word` as that argument. */
export function quoteArgumentForSystemd(word: string): string {
    return SYSTEMD_BARE_WORD.test(word) ? word : systemdQuoted(word, true);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Checks `ExecStart=` arguments: any text except NUL (no argv can hold it) and lone surrogates. */
export function validateArguments(field: string, args: readonly string[]): void {
    args.forEach((arg, i) => {
        if (typeof arg !== "string" || arg.includes("\0") || UNREPRESENTABLE.test(arg)) {
            throw new ValidationError(`${field}[${i}]`, "must be text without NUL, unpaired UTF-16 surrogates or Unicode noncharacters: systemd cannot pass them on; remove them.");
        }
    });
}

/**
 * Checks a unit's description, written raw into `Description=`: one non-empty line (a newline would add
 * directives; systemd reads an empty one as unset),
 * no control characters, no trailing backslash (it would join the next directive to the description) and
 * no leading or trailing blanks (systemd strips them). `%` is allowed: it is written as `%%`.
 */
export function validateDescription(field: string, description: string): void {
    if (typeof description !== "string" || description === "" || CONTROL.test(description) || UNREPRESENTABLE.test(description) || /\\$/.test(description) || description.trim() !== description) {
        throw new ValidationError(
            field,
            `must be one non-empty line of text without control characters, surrounding blanks or a trailing backslash (systemd would read the next line as part of it); got ${JSON.stringify(description)}.`,
        );
    }
}

/**
 * Renders the hardened unit. Each protection is there because the app needs nothing it takes away:
 * it reads its own release, listens on TCP, logs to stdout (journald) and writes nowhere.
 *
 * Deliberately absent: `MemoryDenyWriteExecute=yes`. SBCL maps its heap spaces writable and executable
 * (it compiles native code into them at run time), so under W^X it dies at start with
 * "mmap: Operation not permitted" (test/integration/systemd-release.test.ts shows it on a real systemd).
 * Also absent: `PrivateUsers=yes`. It needs user namespaces, which hosts (and containers) may lack; there
 * the service cannot start at all ("Failed to set up user namespacing"). The score stays well under 2.5.
 */
export function renderUnit(spec: UnitSpec): string {
    checkUnitSpec(spec);
    const paths = releasePaths(spec.app, spec.executable, spec.slot);
    // Each slot gets its own cache directory: two dynamic users sharing one would take it from each other.
    const cache = spec.slot === undefined ? spec.app : `${spec.app}-${spec.slot}`;
    // A slot is reached only through the proxy on the same host, so it listens on loopback only.
    const bind: Record<string, string> = spec.slot === undefined ? {} : { BIND_ADDRESS: "127.0.0.1" };
    const execStart = [paths.executable, ...(spec.args ?? [])].map(quoteArgumentForSystemd).join(" ");
    const startTimeout = spec.startTimeoutSeconds ?? DEFAULT_START_TIMEOUT_SECONDS;

    const lines = [
        "# Rendered by lisp-deploy (SystemdRelease); changes here are overwritten by the next release.",
        "[Unit]",
        `Description=${(spec.description ?? `${spec.app}${spec.slot === undefined ? "" : ` slot ${spec.slot}`} (Common Lisp web app)`).replace(/%/g, "%%")}`,
        "Wants=network-online.target",
        "After=network-online.target",
        // Restart=always must never give up: without this, five quick crashes stop the restarts for good.
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        `Type=${spec.type}`,
        ...(spec.type === "notify" ? ["NotifyAccess=main"] : []),
        `ExecStart=${execStart}`,
        `WorkingDirectory=${paths.current}`,
        ...environmentLines(spec, cache, bind),
        ...(spec.environmentFile ? [`EnvironmentFile=${paths.environmentFile}`] : []),
        "Restart=always",
        "RestartSec=1",
        // A notify unit that never sends READY=1 is killed after this; the release's health check waits as long.
        `TimeoutStartSec=${startTimeout}`,
        "TimeoutStopSec=20",
        // SBCL's SIGTERM handler unwinds and exits; SIGINT is what examples without a handler expect.
        "KillSignal=SIGTERM",
        ...sandboxLines(spec, cache),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ];
    return lines.join("\n");
}

/** How long a release command may run (TimeoutStartSec= of its unit): migrations can be slow, but never hang a release forever. */
export const RELEASE_COMMAND_TIMEOUT_SECONDS = 900;

/**
 * The release command's template unit, `<app>-release@.service`: `<app>-release@<releaseId>.service` runs
 * the release's own executable with `command` as its arguments, once (Type=oneshot: `systemctl start`
 * returns when it has finished, failing when it failed), from that release's directory, with the app's
 * environment (the same `Environment=` lines, PORT included), a copy of its secret file, its user and every
 * protection of its unit. Its own cache directory (HOME) keeps it from touching the running app's. Its
 * output goes to a file under /run (opened by systemd before the sandbox is set up) that the release script
 * puts into the error when the command fails, and into the log when it succeeds.
 */
export function renderReleaseCommandUnit(spec: UnitSpec, command: readonly string[]): string {
    checkUnitSpec(spec);
    validateArguments("releaseCommand", command);
    const paths = releasePaths(spec.app, spec.executable);
    // %i is the instance, the release id; %p the unit's prefix (<app>-release). `%` in the executable's
    // name cannot occur (validateExecutableName), so only the arguments are quoted.
    const directory = `${paths.releases}/%i`;
    const execStart = [`${directory}/${spec.executable}`, ...command.map(quoteArgumentForSystemd)].join(" ");
    const cache = `${spec.app}-release`;
    const lines = [
        "# Rendered by lisp-deploy (releaseCommand); changes here are overwritten by the next release.",
        "[Unit]",
        `Description=${spec.app} release command for release %i`,
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=${execStart}`,
        `WorkingDirectory=${directory}`,
        ...environmentLines(spec, cache, {}),
        ...(spec.environmentFile ? [`EnvironmentFile=${paths.releaseCommandEnvironmentFile}`] : []),
        `TimeoutStartSec=${RELEASE_COMMAND_TIMEOUT_SECONDS}`,
        "StandardOutput=truncate:/run/lisp-deploy/%p-%i.log",
        "StandardError=inherit",
        "KillSignal=SIGTERM",
        ...sandboxLines(spec, cache),
        "",
    ];
    return lines.join("\n");
}

/** What renderUnit and renderReleaseCommandUnit refuse: the rules of every field of a UnitSpec. */
function checkUnitSpec(spec: UnitSpec): void {
    validateAppName("app", spec.app);
    validateExecutableName("executable", spec.executable);
    validatePort("port", spec.port);
    validateEnvironmentNames("environment", spec.environment);
    validateStartTimeout("startTimeoutSeconds", spec.startTimeoutSeconds ?? DEFAULT_START_TIMEOUT_SECONDS);
    if (spec.user !== undefined && !USER_NAME.test(spec.user)) {
        throw new ValidationError("user", `must be a system user name (lower-case letters, digits, '_' or '-'); got ${JSON.stringify(spec.user)}.`);
    }
    if (spec.description !== undefined) validateDescription("description", spec.description);
    validateArguments("args", spec.args ?? []);
    if (spec.dynamicSpaceSizeMb !== undefined && (!Number.isInteger(spec.dynamicSpaceSizeMb) || spec.dynamicSpaceSizeMb < 1)) {
        throw new ValidationError("dynamicSpaceSizeMb", `must be a whole number of MB; got ${JSON.stringify(spec.dynamicSpaceSizeMb)}.`);
    }
    if (spec.slot !== undefined && !/^[a-z]{1,16}$/.test(spec.slot)) {
        throw new ValidationError("slot", `must be a short lower-case word such as "blue"; got ${JSON.stringify(spec.slot)}.`);
    }
    if (spec.stateDirectory !== undefined) {
        checkStateDirectory("stateDirectory", spec.stateDirectory);
        if (spec.user === undefined && !USER_NAME.test(spec.app)) {
            throw new ValidationError("stateDirectory", `needs a user name shared by every unit of the app, and the app name ${JSON.stringify(spec.app)} is longer than 32 characters: give \`user\`.`);
        }
    }
}

/**
 * The dynamic user's name, when the app keeps a state directory: every unit of the app (both slots, the
 * release command) then runs as this one user, so the directory systemd hands each of them stays theirs
 * (units with their own dynamic users would each re-own it at start, taking it from the one running).
 * Undefined otherwise: each unit's dynamic user is named after the unit, as before.
 */
export function serviceUser(spec: Pick<UnitSpec, "app" | "user" | "stateDirectory">): string | undefined {
    return spec.user ?? (spec.stateDirectory !== undefined ? spec.app : undefined);
}

/** The `Environment=` lines: HOME, the user's variables, the slot's BIND_ADDRESS and PORT, sorted by name. */
function environmentLines(spec: UnitSpec, cache: string, bind: Record<string, string>): string[] {
    // SBCL executables (UIOP's image restore) resolve the home directory at start and die without one;
    // a dynamic user has none, so HOME is the service's own cache directory, which systemd creates for it.
    const env: Record<string, string> = { HOME: `/var/cache/${cache}`, ...spec.environment, ...bind, PORT: String(spec.port) };
    return Object.keys(env)
        .sort()
        .map((name) => `Environment=${quoteEnvironmentForSystemd(`${name}=${env[name]}`)}`);
}

/**
 * The user, memory limit, directories and protections every unit of the app shares. Each protection is
 * there because the app needs nothing it takes away (see renderUnit).
 */
function sandboxLines(spec: UnitSpec, cache: string): string[] {
    const shared = serviceUser(spec);
    return [
        // Above the SBCL heap limit: the app's own memory error comes first; only past the margin does the
        // kernel kill this service (and nothing else), which systemd logs and restarts.
        ...(spec.dynamicSpaceSizeMb === undefined ? [] : [`MemoryMax=${memoryMaxFor(spec.dynamicSpaceSizeMb)}M`, "MemorySwapMax=0"]),
        ...(spec.user === undefined
            ? ["DynamicUser=yes", ...(shared === undefined ? [] : [`User=${shared}`, `Group=${shared}`])]
            : [`User=${spec.user}`, `Group=${spec.user}`]),
        `CacheDirectory=${cache}`,
        // systemd sets STATE_DIRECTORY=/var/lib/<name> itself; the directory survives every release. It
        // would be 0755 (systemd's default, seen on a real host): the app's data is for the service user alone.
        ...(spec.stateDirectory === undefined ? [] : [`StateDirectory=${spec.stateDirectory}`, "StateDirectoryMode=0700"]),
        "UMask=0077",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "PrivateMounts=yes",
        "DevicePolicy=closed",
        "ProtectHostname=yes",
        "ProtectClock=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "RemoveIPC=yes",
        "KeyringMode=private",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "RestrictNamespaces=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallErrorNumber=EPERM",
    ];
}
