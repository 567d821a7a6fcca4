import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { DEFAULT_API_URL, DEFAULT_REGISTRY_HOST, herokuReleaseProvider } from "./heroku/provider";
import {
    validateApiUrl,
    validateAppName,
    validateConfigKeys,
    validateImageRef,
    validateProcessType,
    validateRegistryHost,
} from "./heroku/validate";

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
}

/** Copies a map with its keys in sorted order, so the same config always gives the same resource inputs. */
export function sortedMap(m: Record<string, string> | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of Object.keys(m ?? {}).sort()) out[k] = m![k];
    return out;
}

/** Validates the arguments whose values are known at construction time; throws ValidationError. */
export function validateHerokuReleaseArgs(args: HerokuReleaseArgs): void {
    const plainKeys = (m: unknown) => (m && typeof m === "object" && !pulumi.Output.isInstance(m) ? Object.keys(m) : []);
    const str = (v: unknown): v is string => typeof v === "string";
    const problems = [
        args.apiKey === undefined || args.apiKey === ""
            ? { field: "args.apiKey", problem: 'is required: pass the Heroku API key as a secret, e.g. `config.requireSecret("herokuApiKey")`.' }
            : undefined,
        args.image === undefined || str(args.image) ? validateImageRef("args.image", args.image ?? "") : undefined,
        args.app === undefined || str(args.app) ? validateAppName("args.app", args.app ?? "") : undefined,
        str(args.processType) ? validateProcessType("args.processType", args.processType) : undefined,
        str(args.apiUrl) ? validateApiUrl("args.apiUrl", args.apiUrl) : undefined,
        str(args.registryHost) ? validateRegistryHost("args.registryHost", args.registryHost) : undefined,
        validateConfigKeys("args.config", plainKeys(args.config), "args.secretConfig", plainKeys(args.secretConfig)),
    ];
    const first = problems.find((p) => p !== undefined);
    if (first) throw new ValidationError(first.field, first.problem);
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

    constructor(name: string, props: Record<string, pulumi.Input<any>>, opts: pulumi.CustomResourceOptions) {
        super(
            herokuReleaseProvider,
            name,
            { ...props, imageId: undefined, releasedImage: undefined, manifestDigest: undefined, webUrl: undefined, appCreated: undefined },
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

    constructor(name: string, args: HerokuReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Never pass args to super: they would be stored in state, the API key included.
        super("lisp-deploy:index:HerokuRelease", name, {}, opts);
        validateHerokuReleaseArgs(args);

        const secretConfig = pulumi.output(args.secretConfig ?? {}).apply((m) => sortedMap(m));
        const release = new HerokuReleaseResource(
            `${name}-release`,
            {
                apiUrl: args.apiUrl ?? DEFAULT_API_URL,
                registryHost: args.registryHost ?? DEFAULT_REGISTRY_HOST,
                app: args.app,
                createApp: args.createApp ?? false,
                region: args.region ?? "",
                processType: args.processType ?? "web",
                image: args.image,
                config: pulumi.output(args.config ?? {}).apply((m) => sortedMap(m)),
                secretConfig: pulumi.secret(secretConfig),
                // Plain key names so a preview can say which secret changed without showing any value.
                secretConfigKeys: pulumi.unsecret(secretConfig.apply((m) => Object.keys(m))),
                apiKey: pulumi.secret(args.apiKey),
            },
            { parent: this },
        );

        this.imageId = release.imageId;
        this.releasedImage = release.releasedImage;
        this.manifestDigest = release.manifestDigest;
        this.url = release.webUrl;
        this.registerOutputs({
            imageId: this.imageId,
            releasedImage: this.releasedImage,
            manifestDigest: this.manifestDigest,
            url: this.url,
        });
    }
}
