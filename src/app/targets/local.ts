import { LocalRelease, localPlans } from "../../release/local/localRelease";
import { TargetOutputs } from "../args";
import { TargetContext } from "./common";

/** The local Docker engine: one LocalRelease of the image, published on 127.0.0.1. */
export function wireLocal({ parent, name, args, plan, image }: TargetContext): TargetOutputs {
    const local = args.target?.local ?? {};
    const releaseArgs = {
        image: image.imageRef,
        port: local.port,
        containerPort: plan.port,
        networkMode: local.networkMode,
        environment: args.app.environment,
        secretEnvironment: args.app.secretEnvironment,
        executablePath: image.executablePath,
        healthPath: plan.healthPath,
        containerName: local.containerName,
        ...(args.app.releaseCommand !== undefined ? { releaseCommand: args.app.releaseCommand } : {}),
        ...(args.app.stateDirectory !== undefined ? { stateDirectory: args.app.stateDirectory } : {}),
    };
    const release = new LocalRelease(`${name}-release`, localPlans.give(releaseArgs, { ...plan.local!, executablePath: releaseArgs.executablePath }), { parent });
    return { url: release.url, logsCommand: release.logsCommand };
}
