import * as pulumi from "@pulumi/pulumi";
import { Problem, ValidationError } from "./errors";

// The shared rules bad input is checked against (ports, environment variable names and values, health
// paths, names, types), and the machinery that lets a plan report every problem at once. Components plan
// with these before `super()`; WebApp plans every child with them before it registers anything.

/**
 * Where a component's arguments sit in what the user wrote. A plain prefix ("args" when the user builds the
 * component, "args.target.local" when WebApp does), or a prefix plus the names WebApp spells differently
 * (LispImage's `appDir` is the user's `args.app.path`): `{ base: "args.app", names: { appDir: "args.app.path" } }`.
 * @internal
 */
export type FieldPath = string | { readonly base: string; readonly names?: Readonly<Record<string, string>> };

/**
 * The user's path of argument `key` (e.g. "port", "healthCheck.path", "hosts[1].port") under `path`. A
 * renamed top-level key takes the rest of the path with it ("healthCheck.path" may map as a whole, or
 * "healthCheck" may).
 * @internal
 */
export function at(path: FieldPath, key: string): string {
    if (typeof path === "string") return key === "" ? path : `${path}.${key}`;
    const names = path.names ?? {};
    if (names[key] !== undefined) return names[key];
    const head = /^[^.[]+/.exec(key)?.[0] ?? key;
    if (head !== key && names[head] !== undefined) return names[head] + key.slice(head.length);
    return key === "" ? path.base : `${path.base}.${key}`;
}

/**
 * Collects problems while a plan runs, so a user with five mistakes reads five lines in one error instead
 * of fixing them one preview at a time.
 * @internal
 */
export class Problems {
    private readonly list: Problem[] = [];

    /** Records one problem. */
    add(field: string, problem: string): void {
        // Planning several children from one user field (the port reaches the image, the release and the
        // balancer) finds the same problem more than once: report it once.
        if (!this.list.some((p) => p.field === field && p.problem === problem)) this.list.push({ field, problem });
    }

    /** Runs one check (or a child's whole plan); a ValidationError it throws is recorded, not raised. */
    check<T>(run: () => T): T | undefined {
        try {
            return run();
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            for (const p of e.problems) this.add(p.field, p.problem);
            return undefined;
        }
    }

    /** Everything recorded so far. */
    get found(): readonly Problem[] {
        return this.list;
    }

    /** Raises one ValidationError listing every problem, if there is any. */
    throwIfAny(): void {
        if (this.list.length > 0) throw new ValidationError(this.list);
    }
}

/**
 * Runs a plan that records its problems, then raises them all as one ValidationError, or returns the plan.
 * The shape every `plan<Thing>(args, field)` has: it returns the plan or throws the full list of problems.
 * @internal
 */
export function planned<T>(plan: (problems: Problems) => T): T {
    const problems = new Problems();
    const result = problems.check(() => plan(problems));
    problems.throwIfAny();
    return result as T;
}

/** True for a value known only later (an Output or a Promise): its checks run in {@link checkLater}. */
export function isKnownLater(value: unknown): boolean {
    return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/**
 * Arguments with every `null` field left out, in plain objects and lists (Outputs, resources and assets are
 * kept as they are). Programs in other languages reach a component through Pulumi's provider host, which
 * turns Python's `None` (and YAML's `null`) into `null`, where TypeScript would leave the field out: both
 * mean "not given", so the same defaults and checks apply.
 * @internal
 */
export function withoutNulls<T>(value: T): T {
    if (Array.isArray(value)) return value.map(withoutNulls) as T;
    if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
    const kept: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== null) kept[key] = withoutNulls(v);
    return kept as T;
}

/**
 * The one place values known only later are checked: a plain value is checked now (so `pulumi preview`
 * fails before anything is registered); an Output is checked inside `apply` as it resolves, with the same
 * message and field, so `pulumi up` stops before the value reaches a resource. The ValidationError raised
 * there reaches the user as one clean message (see ValidationError).
 * @internal
 */
export function checkLater<T>(value: pulumi.Input<T>, check: (v: T) => void): pulumi.Output<T> {
    if (!isKnownLater(value)) {
        check(value as T);
        return pulumi.output(value) as pulumi.Output<T>;
    }
    return pulumi.output(value).apply((v) => {
        check(v as T);
        return v as T;
    }) as pulumi.Output<T>;
}

/** How a value reads in a message: JSON where it can, else its type. */
export function shown(value: unknown): string {
    if (value === undefined) return "undefined";
    if (typeof value === "function") return "a function";
    if (isKnownLater(value)) return "an Output";
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}

/** A whole number from `min` to `max`; `what` names the unit in the message (e.g. "seconds"). */
export function checkWholeNumber(field: string, value: unknown, min: number, max: number, what = "", fix = ""): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        const asNumber = typeof value === "string" && /^\d+$/.test(value) ? ` Write it as a number (${value}), not a string.` : "";
        throw new ValidationError(field, `must be a whole number${what ? ` of ${what}` : ""} from ${min} to ${max}; got ${shown(value)}.${asNumber}${fix ? ` ${fix}` : ""}`);
    }
}

/** A TCP port: a whole number from 1 to 65535. The one port rule. */
export function checkPort(field: string, port: unknown): void {
    checkWholeNumber(field, port, 1, 65535, "", "Give the TCP port as a number, e.g. 8080.");
}

/** true or false, not a string that looks like one. */
export function checkBoolean(field: string, value: unknown): void {
    if (typeof value !== "boolean") {
        throw new ValidationError(field, `must be true or false; got ${shown(value)}.${typeof value === "string" ? ` Write ${/^(yes|true|on|1)$/i.test(value) ? "true" : "false"} without quotes.` : ""}`);
    }
}

/** One of a fixed set of strings. */
export function checkOneOf(field: string, value: unknown, allowed: readonly string[]): void {
    if (typeof value !== "string" || !allowed.includes(value)) {
        throw new ValidationError(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}; got ${shown(value)}.`);
    }
}

/** A plain string (an Output is accepted as it is: its value is checked later, if at all). */
export function checkString(field: string, value: unknown, example: string): void {
    if (typeof value !== "string" && !isKnownLater(value)) {
        throw new ValidationError(field, `must be a string such as ${JSON.stringify(example)}; got ${shown(value)}.`);
    }
}

/** A list of strings: a single string where a list belongs is the common slip. */
export function checkStringList(field: string, value: unknown, example: string): void {
    if (isKnownLater(value)) return;
    if (!Array.isArray(value)) {
        const hint = typeof value === "string" ? ` Write [${JSON.stringify(value)}].` : "";
        throw new ValidationError(field, `must be a list of strings, e.g. [${JSON.stringify(example)}]; got ${shown(value)}.${hint}`);
    }
    const problems = new Problems();
    value.forEach((v, i) => {
        if (typeof v !== "string" && !isKnownLater(v)) problems.add(`${field}[${i}]`, `must be a string such as ${JSON.stringify(example)}; got ${shown(v)}.`);
    });
    problems.throwIfAny();
}

/** An object (a map of settings), not a list or a scalar. */
export function checkObject(field: string, value: unknown, example: string): void {
    if (isKnownLater(value)) return;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new ValidationError(field, `must be an object such as ${example}; got ${shown(value)}.`);
    }
}

/**
 * Keys nobody reads are almost always typos (`healthpath`, `ports`): name them instead of ignoring them.
 * Only for objects whose keys are all listed (never for maps of user names).
 */
export function checkKnownKeys(field: string, value: unknown, known: readonly string[]): void {
    if (value === null || typeof value !== "object" || Array.isArray(value) || isKnownLater(value)) return;
    const problems = new Problems();
    for (const key of Object.keys(value)) {
        if (!known.includes(key) && (value as Record<string, unknown>)[key] !== undefined) {
            const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
            problems.add(`${field}.${key}`, `is not a setting here${near ? `; did you mean ${near}?` : `; the settings are ${known.join(", ")}.`}`);
        }
    }
    problems.throwIfAny();
}

/** An environment variable name: letters, digits and '_', not starting with a digit. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Text systemd cannot take: a lone UTF-16 surrogate has no UTF-8 form (every file we write would carry
 * U+FFFD instead), and systemd's UTF-8 check refuses the Unicode noncharacters (U+FDD0-U+FDEF, U+xFFFE,
 * U+xFFFF), ignoring the whole assignment.
 */
export const UNREPRESENTABLE = /[\uD800-\uDFFF\uFDD0-\uFDEF\uFFFE\uFFFF]|[\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{EFFFE}\u{EFFFF}\u{FFFFE}\u{FFFFF}\u{10FFFE}\u{10FFFF}]/u;

/** How a target passes environment values on, which decides the values it can carry. */
export interface EnvironmentRules {
    /** Names the release sets itself (a user value would fight it), e.g. PORT. */
    readonly reserved?: readonly string[];
    /** What a reserved name is set from, for the fix ("the `port` argument"). */
    readonly reservedBy?: string;
    /** systemd passes the value on (a unit or an EnvironmentFile): no NUL, and none of the code points it refuses. */
    readonly systemd?: boolean;
    /**
     * ...from a unit's `Environment=` line. renderUnit could escape line breaks (systemd reads `\x0a` back
     * intact), but a multi-line value in a unit is almost always a mistake, and secrets (keys, certificates)
     * travel in the EnvironmentFile, which carries CR and LF as written.
     */
    readonly oneLine?: boolean;
}

/** Checks one environment value (plain, or once known): a string, and one line where the target needs it. */
export function checkEnvironmentValue(field: string, value: unknown, rules: EnvironmentRules = {}): void {
    if (typeof value !== "string") {
        throw new ValidationError(field, `must be a string; got ${shown(value)}.${typeof value === "number" || typeof value === "boolean" ? ` Write "${value}".` : ""}`);
    }
    const systemd = rules.systemd || rules.oneLine;
    if (systemd && value.includes("\0")) {
        throw new ValidationError(field, "must not contain NUL: no environment variable can hold it; remove it.");
    }
    if (rules.oneLine && /[\n\r]/.test(value)) {
        throw new ValidationError(field, "must not contain a newline or carriage return in a unit's Environment= line. Give multi-line values (keys, certificates) as secretEnvironment, whose file carries them as written.");
    }
    if (systemd && UNREPRESENTABLE.test(value)) {
        throw new ValidationError(field, "contains an unpaired UTF-16 surrogate or a Unicode noncharacter (U+FFFE...), which systemd cannot pass on; remove it.");
    }
}

/**
 * The one rule for environment maps: an object, every name a variable name and not reserved, every plain
 * value a string the target can carry. Values known later are checked by the release once known.
 */
export function checkEnvironment(field: string, env: unknown, rules: EnvironmentRules = {}): void {
    if (env === undefined || isKnownLater(env)) return;
    checkObject(field, env, '{ DATABASE_URL: "postgres://..." }');
    const problems = new Problems();
    for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
        const f = `${field}.${name}`;
        if (!ENV_NAME.test(name)) {
            problems.add(f, "is not a valid environment variable name: use letters, digits and '_', not starting with a digit.");
            continue;
        }
        if ((rules.reserved ?? []).includes(name)) {
            problems.add(f, `is set by the release itself; use ${rules.reservedBy ?? "the `port` argument"} instead of ${name}.`);
            continue;
        }
        if (!isKnownLater(value)) problems.check(() => checkEnvironmentValue(f, value, rules));
    }
    problems.throwIfAny();
}

/** The same variable in the plain and the secret map: say which one to drop. */
export function checkDisjointEnvironments(plainField: string, plain: unknown, secretField: string, secret: unknown): void {
    if (!plain || !secret || isKnownLater(plain) || isKnownLater(secret) || typeof plain !== "object" || typeof secret !== "object") return;
    const problems = new Problems();
    for (const name of Object.keys(secret)) {
        if (name in plain) problems.add(`${secretField}.${name}`, `is also in ${plainField}: give each variable once (secret values belong in the secret map only).`);
    }
    problems.throwIfAny();
}

/** A health check path: '/' then URL path characters, and an optional query; at most 1024 (what a load balancer takes). */
const HEALTH_PATH = /^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]*(\?[A-Za-z0-9._~!$&()*+,;=:@%/?-]*)?$/;

/**
 * The one rule for health check paths, whichever target requests them. A load balancer's check takes no
 * query (`query: false`); the hosts' own checks do.
 */
export function checkHealthPath(field: string, path: unknown, options: { query?: boolean } = {}): void {
    if (typeof path !== "string" || !HEALTH_PATH.test(path) || path.length > 1024) {
        throw new ValidationError(
            field,
            `must be a URL path starting with "/" of at most 1024 URL characters (letters, digits and -._~!$&()*+,;=:@%/, then an optional ?query; no spaces, quotes, braces or "#"), e.g. "/health"; got ${shown(path)}. Percent-encode other characters.`,
        );
    }
    if (options.query === false && path.includes("?")) {
        throw new ValidationError(field, `has a query (${shown(path)}), but the load balancer's health check requests a path only; give a path without "?", e.g. "/health".`);
    }
}

/** A service name: it names /opt/<app>, <app>.service and shell words on the host. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The one rule for an app name used on a host. */
export function checkServiceName(field: string, name: unknown): void {
    if (typeof name !== "string" || !SERVICE_NAME.test(name)) {
        throw new ValidationError(
            field,
            `must be 1-63 lower-case letters, digits or '-', starting with a letter (it names /opt/<app> and <app>.service); got ${shown(name)}.`,
        );
    }
}

/** A Unix login or system user name as Debian's adduser accepts it by default. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The one rule for user names (SSH logins, service users). */
export function checkUserName(field: string, user: unknown): void {
    if (typeof user !== "string" || !USER_NAME.test(user)) {
        throw new ValidationError(field, `${shown(user)} is not a valid user name; use lower-case letters, digits, "_" or "-" (at most 32), starting with a letter or "_".`);
    }
}

/**
 * The one rule for a release command (`releaseCommand`): the arguments passed to the new release's own
 * executable, e.g. ["migrate"]. A non-empty list of non-empty strings, each something an argv can carry
 * (no NUL, no unpaired surrogate or noncharacter), at most 64 of them.
 */
export function checkReleaseCommand(field: string, command: unknown): void {
    checkStringList(field, command, "migrate");
    if (isKnownLater(command)) return;
    const list = command as unknown[];
    if (list.length === 0) throw new ValidationError(field, 'must list at least one argument for the executable, e.g. ["migrate"]; leave releaseCommand out to run nothing.');
    if (list.length > 64) throw new ValidationError(field, `lists ${list.length} arguments; at most 64.`);
    const problems = new Problems();
    list.forEach((arg, i) => {
        if (typeof arg !== "string") return;
        if (arg === "") problems.add(`${field}[${i}]`, 'is empty: give the argument, e.g. "migrate", or remove it.');
        else if (arg.includes("\0") || UNREPRESENTABLE.test(arg)) problems.add(`${field}[${i}]`, "must be text without NUL, unpaired UTF-16 surrogates or Unicode noncharacters: no argv can carry them; remove them.");
    });
    problems.throwIfAny();
}

/** A release id as the host names its directory: SystemdRelease's are 12 hex digits (a content address). */
const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The one rule for a release id the user names (`rollbackTo`): a plain directory name, as `keptReleases` lists them. */
export function checkReleaseId(field: string, id: unknown): void {
    if (typeof id !== "string" || !RELEASE_ID.test(id)) {
        throw new ValidationError(field, `must be a release id as the \`keptReleases\` output lists them, e.g. "3f2a9c0d1b7e"; got ${shown(id)}.`);
    }
}

/** A state directory's name: one path component under /var/lib (systemd's StateDirectory=), or a Docker volume's name suffix. */
const STATE_DIRECTORY = /^[a-z][a-z0-9-]{0,62}$/;

/** The one rule for `stateDirectory`: a plain lower-case name, no '/', nothing systemd or Docker would read twice. */
export function checkStateDirectory(field: string, name: unknown): void {
    if (typeof name !== "string" || !STATE_DIRECTORY.test(name)) {
        throw new ValidationError(field, `must be 1-63 lower-case letters, digits or '-', starting with a letter (it names /var/lib/<stateDirectory> on a host, a volume locally), e.g. "blog"; got ${shown(name)}.`);
    }
}

/**
 * Plans a parent component made for a child it creates, handed over with the child's arguments, so the
 * child does not plan (validate, read files) again. Keyed by the arguments object itself: a plan is used
 * only with exactly the arguments it was made for, and only once.
 * @internal
 */
export class PlanHandoff<A extends object, P> {
    private readonly plans = new WeakMap<A, P>();

    /** Attaches `plan` to `args` and returns `args`, for `new Child(name, handoff.give(args, plan))`. */
    give(args: A, plan: P): A {
        this.plans.set(args, plan);
        return args;
    }

    /** The plan attached to `args`, if any (then forgotten). */
    take(args: A): P | undefined {
        if (args === null || typeof args !== "object") return undefined;
        const plan = this.plans.get(args);
        this.plans.delete(args);
        return plan;
    }
}
