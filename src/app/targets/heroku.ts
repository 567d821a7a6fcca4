import * as pulumi from "@pulumi/pulumi";
import { HerokuRelease, herokuPlans } from "../../release/heroku/herokuRelease";
import { TargetOutputs } from "../args";
import { TargetContext } from "./common";
import { herokuReleaseSettings } from "../plan";

/** Heroku's container runtime: one HerokuRelease of the image (built for linux/amd64). */
export function wireHeroku({ parent, name, args, plan, image }: TargetContext): TargetOutputs {
    const heroku = args.target!.heroku!;
    const releaseArgs = {
        ...herokuReleaseSettings(args, heroku, plan.healthPath),
        image: image.imageName,
        // The release command's arguments go to the image's executable (Heroku's release phase).
        executablePath: image.executablePath,
    };
    const release = new HerokuRelease(`${name}-release`, herokuPlans.give(releaseArgs, plan.heroku!), { parent });
    return { url: release.url, logsCommand: pulumi.interpolate`heroku logs --tail --app ${heroku.app}` };
}
