import * as pulumi from "@pulumi/pulumi";
import { HerokuRelease, herokuPlans } from "../../release/heroku";
import { TargetOutputs } from "../args";
import { TargetContext } from "./common";

/** Heroku's container runtime: one HerokuRelease of the image (built for linux/amd64). */
export function wireHeroku({ parent, name, args, plan, image }: TargetContext): TargetOutputs {
    const heroku = args.target!.heroku!;
    const releaseArgs = {
        image: image.imageName,
        app: heroku.app,
        apiKey: heroku.apiKey,
        createApp: heroku.createApp,
        region: heroku.region,
        apiUrl: heroku.apiUrl,
        registryHost: heroku.registryHost,
        // Heroku sets PORT itself; the rest of the environment becomes config vars.
        config: args.app.environment,
        secretConfig: args.app.secretEnvironment,
    };
    const release = new HerokuRelease(`${name}-release`, herokuPlans.give(releaseArgs, plan.heroku!), { parent });
    return { url: release.url, logsCommand: pulumi.interpolate`heroku logs --tail --app ${heroku.app}` };
}
