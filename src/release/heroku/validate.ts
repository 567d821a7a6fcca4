/**
 * Pure checks of HerokuRelease's arguments. Each returns a problem (field and fix) or undefined, and never
 * throws: the component turns a problem into a ValidationError at construction, and the serialized dynamic
 * provider reports it from `check` at preview time. (A class extending Error loses its message when
 * Pulumi serializes a closure, so nothing here may depend on one.)
 */

/** A bad argument: the field at fault and what to do, as one sentence. */
export interface ArgProblem {
    /** The argument path, e.g. `args.app`. */
    field: string;
    /** What is wrong and how to fix it. */
    problem: string;
}

/** Heroku's rule for app names: 3-30 characters, lowercase letters, digits and dashes, starting with a letter. */
const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
/** Process types as a Procfile or `heroku container:push <type>` accepts them. */
const PROCESS_TYPE = /^[a-z0-9][a-z0-9_-]{0,29}$/;
/** A config var must be a usable environment variable name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** host, host:port, or [v6]:port: no scheme, no path. */
const REGISTRY_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** An app name Heroku accepts. */
export function validateAppName(field: string, app: string): ArgProblem | undefined {
    if (!APP_NAME.test(app)) {
        return problem(
            field,
            `"${app}" is not a Heroku app name: use 3-30 lowercase letters, digits and dashes, starting with a letter (e.g. "blog-prod").`,
        );
    }
    return undefined;
}

/** A process type Heroku accepts. */
export function validateProcessType(field: string, processType: string): ArgProblem | undefined {
    if (!PROCESS_TYPE.test(processType)) {
        return problem(
            field,
            `"${processType}" is not a process type: use lowercase letters, digits, "_" or "-" (e.g. "web" or "worker").`,
        );
    }
    return undefined;
}

/** Checks config var names, and that no name is both plain and secret. */
export function validateConfigKeys(field: string, keys: readonly string[], secretField: string, secretKeys: readonly string[]): ArgProblem | undefined {
    for (const [f, ks] of [
        [field, keys],
        [secretField, secretKeys],
    ] as const) {
        for (const k of ks) {
            if (!ENV_NAME.test(k)) {
                return problem(`${f}.${k}`, `"${k}" is not an environment variable name: use letters, digits and "_", not starting with a digit.`);
            }
        }
    }
    const secret = new Set(secretKeys);
    const both = keys.filter((k) => secret.has(k)).sort();
    if (both.length > 0) {
        return problem(
            `${secretField}.${both[0]}`,
            `"${both[0]}" is set both as a plain and as a secret config var: keep it in ${secretField} only.`,
        );
    }
    return undefined;
}

/**
 * The API URL must be https, except plain http to a loopback address (what tests use): anything else would
 * send the API key in clear text.
 */
export function validateApiUrl(field: string, apiUrl: string): ArgProblem | undefined {
    let u: URL;
    try {
        u = new URL(apiUrl);
    } catch {
        return problem(field, `"${apiUrl}" is not a URL: use "https://api.heroku.com" or leave it unset.`);
    }
    const loopback = u.hostname === "localhost" || /^127\./.test(u.hostname) || u.hostname === "[::1]";
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
        return problem(field, `"${apiUrl}" would send the API key unencrypted: use an https:// URL (plain http only for 127.0.0.1 in tests).`);
    }
    if (u.pathname !== "/" || u.search || u.hash) {
        return problem(field, `"${apiUrl}" must be a base URL with no path (e.g. "https://api.heroku.com").`);
    }
    return undefined;
}

/** The registry host is a host name with an optional port, no scheme or path. */
export function validateRegistryHost(field: string, host: string): ArgProblem | undefined {
    if (!REGISTRY_HOST.test(host)) {
        return problem(field, `"${host}" is not a registry host: give host[:port] only, e.g. "registry.heroku.com".`);
    }
    return undefined;
}

/** A local image reference must be a non-empty string without spaces. */
export function validateImageRef(field: string, image: string): ArgProblem | undefined {
    if (!image || /\s/.test(image)) {
        return problem(field, `"${image}" is not a local image reference: pass the LispImage's image output or a tag like "blog:latest".`);
    }
    return undefined;
}

function problem(field: string, text: string): ArgProblem {
    return { field, problem: text };
}
