import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../errors";
import { DEFAULT_API_URL, DEFAULT_HEALTH_TIMEOUT_SECONDS, DEFAULT_REGISTRY_HOST, herokuReleaseProvider } from "./provider";
import { at, checkBoolean, checkEnvironment, checkHealthPath, checkLater, checkReleaseCommand, checkString, FieldPath, isKnownLater, PlanHandoff, planned, Problems, shown } from "../../validate";
import {
    ArgProblem,
    validateApiUrl,
    validateAppName,
    validateConfigKeys,
    validateImageRef,
    validateProcessType,
    validateRegistryHost,
} from "./validate";

/** Arguments of a HerokuRelease. */
export interface HerokuReleaseArgs {
    /** The local image reference to release (LispImage's image output, or a tag such as `blog:latest`). */
    readonly image: pulumi.Input<string>;
    /** The Heroku app's name (3-30 lowercase letters, digits and dashes). */
    readonly app: pulumi.Input<string>;
    /** Create the app (with the `container` stack) instead of using an existing one. Deleting the release then deletes the app. Default false. */
    readonly createApp?: pulumi.Input<boolean>;
    /** Region of a created app (`us`, `eu`); Heroku's default when unset. Ignored unless `createApp`. */
    readonly region?: pulumi.Input<string>;
    /** The process type the image runs as. Default `web`. */
    readonly processType?: pulumi.Input<string>;
    /** Plain config vars (environment) this release manages; vars removed here are removed from the app. */
    readonly config?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Secret config vars: stored as secrets, and a diff names their keys only. */
    readonly secretConfig?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The Heroku API key (`heroku authorizations:create`). Always treated as a secret. */
    readonly apiKey: pulumi.Input<string>;
    /** Platform API base URL. Default `https://api.heroku.com` (tests point it at a local server). */
    readonly apiUrl?: pulumi.Input<string>;
    /** Registry host the image is pushed to. Default `registry.heroku.com`. */
    readonly registryHost?: pulumi.Input<string>;
    /**
     * Arguments passed to the image's executable in Heroku's release phase, once per release before it is
     * deployed (e.g. `["migrate"]`), with the app's config vars. Pushed as the `release` process type: the
     * same image with an ENTRYPOINT of the executable and these arguments. A non-zero exit fails the update
     * with the command's output, and Heroku keeps the previous release serving. Needs `executablePath`.
     */
    readonly releaseCommand?: string[];
    /** The executable inside the image (LispImage's `executablePath`); required with `releaseCommand`. */
    readonly executablePath?: pulumi.Input<string>;
    /**
     * After each release of a new image, request the app's URL on this path until it answers 200; if it
     * does not within the timeout, roll the app back to the release that served before (Heroku does not)
     * and fail the update with the app's recent log lines. Off when unset.
     */
    readonly healthCheck?: HerokuHealthCheck;
}

/** The health check a HerokuRelease makes after each release of a new image. */
export interface HerokuHealthCheck {
    /** The path requested, e.g. `/healthz`. */
    readonly path: string;
    /** Base URL requested instead of the app's web URL (`https://<app>-<id>.herokuapp.com`), e.g. a custom domain. Default the web URL. */
    readonly url?: pulumi.Input<string>;
    /** Seconds to wait for a 200 (Heroku's boot limit is 60). Default 90. */
    readonly timeoutSeconds?: number;
}

/** Copies a map with its keys in sorted order, so the same config always gives the same resource inputs. */
export function sortedMap(m: Record<string, string> | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of Object.keys(m ?? {}).sort()) out[k] = m![k];
    return out;
}

/** Validates the arguments whose values are known at construction time; throws one ValidationError listing every problem. */
export function validateHerokuReleaseArgs(args: HerokuReleaseArgs, field: FieldPath = "args"): void {
    planHerokuRelease(args, field);
}

/** The checked arguments of a HerokuRelease, with the values known later checked as they resolve. @internal */
export interface HerokuReleasePlan {
    /** The app name, checked now or once known. */
    readonly app: pulumi.Output<string>;
    /** The API key (a secret), checked to be non-empty now or once known. */
    readonly apiKey: pulumi.Output<string>;
}

/** Plans made by a WebApp for the HerokuRelease it creates. @internal */
export const herokuPlans = new PlanHandoff<HerokuReleaseArgs, HerokuReleasePlan>();

/**
 * Plans a HerokuRelease: checks every plain argument (all problems at once, under `field`) and arranges for
 * the values known only later (a secret API key, an app name from config) to be checked with the same
 * messages once they resolve.
 * @internal
 */
export function planHerokuRelease(args: HerokuReleaseArgs, field: FieldPath = "args"): HerokuReleasePlan {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "HerokuRelease needs arguments: at least image, app and apiKey.");
        if (args.image === undefined || typeof args.image === "string") problems.check(() => orThrow(validateImageRef(at(field, "image"), args.image as string ?? "")));
        const plan = problems.check(() => planHerokuSettings(args, field));
        problems.throwIfAny();
        return plan!;
    });
}

/**
 * A HerokuRelease's settings apart from the image, planned before the image exists: WebApp plans them
 * from the user's `target.heroku` block and `app.environment`.
 * @internal
 */
export function planHerokuSettings(args: Omit<HerokuReleaseArgs, "image">, field: FieldPath = "args"): HerokuReleasePlan {
    const p = new Problems();
    const plainKeys = (m: unknown) => (m && typeof m === "object" && !isKnownLater(m) ? Object.keys(m) : []);
    const str = (v: unknown): v is string => typeof v === "string";
    const apiKeyField = at(field, "apiKey");
    const emptyKey = 'is required: pass the Heroku API key as a secret, e.g. `config.requireSecret("herokuApiKey")` (it is empty).';
    if (args.apiKey === undefined || args.apiKey === "") p.add(apiKeyField, emptyKey);
    else if (!str(args.apiKey) && !isKnownLater(args.apiKey)) p.check(() => checkString(apiKeyField, args.apiKey, "HRKU-..."));
    if (args.app === undefined || str(args.app)) p.check(() => orThrow(validateAppName(at(field, "app"), args.app as string ?? "")));
    else p.check(() => checkString(at(field, "app"), args.app, "blog-prod"));
    if (args.processType !== undefined) p.check(() => (str(args.processType) ? orThrow(validateProcessType(at(field, "processType"), args.processType)) : checkString(at(field, "processType"), args.processType, "web")));
    if (args.apiUrl !== undefined) p.check(() => (str(args.apiUrl) ? orThrow(validateApiUrl(at(field, "apiUrl"), args.apiUrl)) : checkString(at(field, "apiUrl"), args.apiUrl, DEFAULT_API_URL)));
    if (args.registryHost !== undefined) p.check(() => (str(args.registryHost) ? orThrow(validateRegistryHost(at(field, "registryHost"), args.registryHost)) : checkString(at(field, "registryHost"), args.registryHost, DEFAULT_REGISTRY_HOST)));
    if (args.createApp !== undefined && !isKnownLater(args.createApp)) p.check(() => checkBoolean(at(field, "createApp"), args.createApp));
    if (args.releaseCommand !== undefined) {
        p.check(() => checkReleaseCommand(at(field, "releaseCommand"), args.releaseCommand));
        if (args.executablePath === undefined || args.executablePath === "") {
            p.add(at(field, "executablePath"), "is required with releaseCommand: give the executable's absolute path inside the image (LispImage's executablePath), which the command's arguments are passed to.");
        } else if (typeof args.executablePath === "string" && !args.executablePath.startsWith("/")) {
            p.add(at(field, "executablePath"), `must be an absolute path inside the image, e.g. "/app/blog"; got ${shown(args.executablePath)}.`);
        }
    }
    if (args.healthCheck !== undefined) p.check(() => checkHealthCheck(field, args.healthCheck));
    if (args.config !== undefined) p.check(() => checkEnvironment(at(field, "config"), args.config));
    if (args.secretConfig !== undefined) p.check(() => checkEnvironment(at(field, "secretConfig"), args.secretConfig));
    p.check(() => orThrow(validateConfigKeys(at(field, "config"), plainKeys(args.config), at(field, "secretConfig"), plainKeys(args.secretConfig))));
    p.throwIfAny();
    // Values known only later get the same checks once they resolve (an empty secret key is the common case).
    return {
        app: checkLater(args.app, (app) => orThrow(validateAppName(at(field, "app"), app))),
        apiKey: checkLater(pulumi.secret(args.apiKey), (key) => {
            if (typeof key !== "string" || key.trim() === "") throw new ValidationError(apiKeyField, emptyKey);
        }),
    };
}

/** The health check's plain settings (under `field`.healthCheck): a path as every target's health path, a whole number of seconds. */
function checkHealthCheck(field: FieldPath, check: unknown): void {
    const p = new Problems();
    if (check === null || typeof check !== "object") throw new ValidationError(at(field, "healthCheck"), 'must be an object such as { path: "/healthz" }.');
    const c = check as HerokuHealthCheck;
    p.check(() => checkHealthPath(at(field, "healthCheck.path"), c.path));
    if (c.timeoutSeconds !== undefined && !(Number.isInteger(c.timeoutSeconds) && c.timeoutSeconds >= 1 && c.timeoutSeconds <= 3600)) {
        p.add(at(field, "healthCheck.timeoutSeconds"), `must be a whole number of seconds from 1 to 3600; got ${shown(c.timeoutSeconds)}.`);
    }
    if (typeof c.url === "string") {
        let u: URL | undefined;
        try {
            u = new URL(c.url);
        } catch {
            u = undefined;
        }
        if (!u || (u.protocol !== "https:" && u.protocol !== "http:")) p.add(at(field, "healthCheck.url"), `must be an http(s) base URL such as "https://blog.example.com"; got ${shown(c.url)}.`);
    }
    p.throwIfAny();
}

/** Raises a pure check's problem (heroku/validate.ts returns them, as the serialized provider needs). */
function orThrow(problem: ArgProblem | undefined): void {
    if (problem) throw new ValidationError(problem.field, problem.problem);
}

/**
 * The dynamic resource that does the work (see ./heroku/provider.ts). Its secret outputs (API key, secret
 * config values) are marked with additionalSecretOutputs so state and diffs never hold them in plain form.
 */
class HerokuReleaseResource extends pulumi.dynamic.Resource {
    declare readonly imageId: pulumi.Output<string>;
    declare readonly releasedImage: pulumi.Output<string>;
    declare readonly manifestDigest: pulumi.Output<string>;
    declare readonly webUrl: pulumi.Output<string>;
    declare readonly releaseId: pulumi.Output<string>;
    declare readonly releaseVersion: pulumi.Output<number>;

    constructor(name: string, props: Record<string, pulumi.Input<any>>, opts: pulumi.CustomResourceOptions) {
        super(
            herokuReleaseProvider,
            name,
            { ...props, imageId: undefined, releasedImage: undefined, manifestDigest: undefined, webUrl: undefined, appCreated: undefined, releaseId: undefined, releaseVersion: undefined },
            { ...opts, additionalSecretOutputs: ["apiKey", "secretConfig"] },
            undefined,
            "HerokuRelease",
        );
    }
}

/**
 * Releases a container image on Heroku, declaratively: pushes it to `registry.heroku.com/<app>/<process>`
 * (login with the API key on stdin), releases it with the Platform API's formation update, and manages the
 * app's config vars. What `heroku container:push` and `container:release` do by hand, with a preview diff.
 *
 * Delete: an app this release created is deleted; an existing app is left, with the process type scaled to
 * 0 and the config vars this release set removed.
 */
export class HerokuRelease extends pulumi.ComponentResource {
    /** The released image's id (its config digest), what the formation now runs. */
    public readonly imageId: pulumi.Output<string>;
    /** Where the image was pushed: `<registryHost>/<app>/<processType>`. */
    public readonly releasedImage: pulumi.Output<string>;
    /** The pushed manifest's digest. */
    public readonly manifestDigest: pulumi.Output<string>;
    /** The app's URL as Heroku reports it. */
    public readonly url: pulumi.Output<string>;
    /** The Heroku release that serves after the last release of an image, when the release waits for one (a `releaseCommand` or `healthCheck`); "" otherwise. */
    public readonly releaseId: pulumi.Output<string>;
    /** That release's version, as `heroku releases` lists it (`v<releaseVersion>`); 0 when there is none. */
    public readonly releaseVersion: pulumi.Output<number>;

    constructor(name: string, args: HerokuReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Planned before anything is registered, the component included: bad input leaves nothing behind.
        const plan = herokuPlans.take(args) ?? planHerokuRelease(args);
        // Never pass args to super: they would be stored in state, the API key included.
        super("lisp-deploy:index:HerokuRelease", name, {}, opts);

        const secretConfig = pulumi.output(args.secretConfig ?? {}).apply((m) => sortedMap(m));
        const release = new HerokuReleaseResource(
            `${name}-release`,
            {
                apiUrl: args.apiUrl ?? DEFAULT_API_URL,
                registryHost: args.registryHost ?? DEFAULT_REGISTRY_HOST,
                app: plan.app,
                createApp: args.createApp ?? false,
                region: args.region ?? "",
                processType: args.processType ?? "web",
                image: args.image,
                config: pulumi.output(args.config ?? {}).apply((m) => sortedMap(m)),
                secretConfig: pulumi.secret(secretConfig),
                // Plain key names so a preview can say which secret changed without showing any value.
                secretConfigKeys: pulumi.unsecret(secretConfig.apply((m) => Object.keys(m))),
                apiKey: plan.apiKey,
                releaseCommand: args.releaseCommand ? [...args.releaseCommand] : [],
                executablePath: args.releaseCommand ? args.executablePath ?? "" : "",
                healthCheckPath: args.healthCheck?.path ?? "",
                healthCheckUrl: args.healthCheck?.url ?? "",
                healthCheckTimeoutSeconds: args.healthCheck ? args.healthCheck.timeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS : 0,
            },
            { parent: this },
        );

        this.imageId = release.imageId;
        this.releasedImage = release.releasedImage;
        this.manifestDigest = release.manifestDigest;
        this.url = release.webUrl;
        this.releaseId = release.releaseId.apply((id) => id ?? "");
        this.releaseVersion = release.releaseVersion.apply((v) => v ?? 0);
        this.registerOutputs({
            releaseId: this.releaseId,
            releaseVersion: this.releaseVersion,
            imageId: this.imageId,
            releasedImage: this.releasedImage,
            manifestDigest: this.manifestDigest,
            url: this.url,
        });
    }
}
