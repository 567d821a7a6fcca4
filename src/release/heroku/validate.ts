import { ValidationError } from "../../errors";

/** Heroku's rule for app names: 3-30 characters, lowercase letters, digits and dashes, starting with a letter. */
const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
/** Process types as a Procfile or `heroku container:push <type>` accepts them. */
const PROCESS_TYPE = /^[a-z0-9][a-z0-9_-]{0,29}$/;
/** A config var must be a usable environment variable name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** host, host:port, or [v6]:port: no scheme, no path. */
const REGISTRY_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Checks an app name when it is known at construction time. */
export function validateAppName(field: string, app: string): void {
    if (!APP_NAME.test(app)) {
        throw new ValidationError(
            field,
            `"${app}" is not a Heroku app name: use 3-30 lowercase letters, digits and dashes, starting with a letter (e.g. "blog-prod").`,
        );
    }
}

/** Checks a process type when it is known at construction time. */
export function validateProcessType(field: string, processType: string): void {
    if (!PROCESS_TYPE.test(processType)) {
        throw new ValidationError(
            field,
            `"${processType}" is not a process type: use lowercase letters, digits, "_" or "-" (e.g. "web" or "worker").`,
        );
    }
}

/** Checks config var names, and that no name is both plain and secret. */
export function validateConfigKeys(field: string, keys: readonly string[], secretField: string, secretKeys: readonly string[]): void {
    for (const [f, ks] of [
        [field, keys],
        [secretField, secretKeys],
    ] as const) {
        for (const k of ks) {
            if (!ENV_NAME.test(k)) {
                throw new ValidationError(`${f}.${k}`, `"${k}" is not an environment variable name: use letters, digits and "_", not starting with a digit.`);
            }
        }
    }
    const secret = new Set(secretKeys);
    const both = keys.filter((k) => secret.has(k)).sort();
    if (both.length > 0) {
        throw new ValidationError(
            `${secretField}.${both[0]}`,
            `"${both[0]}" is set both as a plain and as a secret config var: keep it in ${secretField} only.`,
        );
    }
}

/**
 * The API URL must be https, except plain http to a loopback address (what tests use): anything else would
 * send the API key in clear text.
 */
export function validateApiUrl(field: string, apiUrl: string): void {
    let u: URL;
    try {
        u = new URL(apiUrl);
    } catch {
        throw new ValidationError(field, `"${apiUrl}" is not a URL: use "https://api.heroku.com" or leave it unset.`);
    }
    const loopback = u.hostname === "localhost" || /^127\./.test(u.hostname) || u.hostname === "[::1]";
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
        throw new ValidationError(field, `"${apiUrl}" would send the API key unencrypted: use an https:// URL (plain http only for 127.0.0.1 in tests).`);
    }
    if (u.pathname !== "/" || u.search || u.hash) {
        throw new ValidationError(field, `"${apiUrl}" must be a base URL with no path (e.g. "https://api.heroku.com").`);
    }
}

/** The registry host is a host name with an optional port, no scheme or path. */
export function validateRegistryHost(field: string, host: string): void {
    if (!REGISTRY_HOST.test(host)) {
        throw new ValidationError(field, `"${host}" is not a registry host: give host[:port] only, e.g. "registry.heroku.com".`);
    }
}

/** A local image reference must be a non-empty string without spaces. */
export function validateImageRef(field: string, image: string): void {
    if (!image || /\s/.test(image)) {
        throw new ValidationError(field, `"${image}" is not a local image reference: pass the LispImage's image output or a tag like "blog:latest".`);
    }
}
