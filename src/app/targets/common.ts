import * as pulumi from "@pulumi/pulumi";
import { HostConnection } from "../../host/connection";
import { LispImage } from "../../image/lispImage";
import { servingUnits, ZeroDowntime } from "../../release/systemd/zeroDowntime";
import { ReleasePlan, releasePlans, SystemdRelease } from "../../release/systemd/systemdRelease";
import { WebAppArgs } from "../args";
import { systemdReleaseSettings, WebAppPlan } from "../plan";

/** What a target's wiring needs: the WebApp (parent of every child), its name, the user's args and the plans. */
export interface TargetContext {
    readonly parent: pulumi.ComponentResource;
    readonly name: string;
    readonly args: WebAppArgs;
    readonly plan: WebAppPlan;
    readonly image: LispImage;
}

/** `ssh -p <port> <user>@<host>`, from the connection's non-secret parts. */
export function sshCommandOf(connection: pulumi.Output<HostConnection>): pulumi.Output<string> {
    return pulumi.unsecret(connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host}`));
}

/**
 * The command that follows the app's journal on a host: every unit that serves it (`<app>.service`, or
 * both slots' units in zero-downtime mode, since either may be live), interleaved by journalctl.
 */
export function logsCommandOf(connection: pulumi.Output<HostConnection>, release: ReleasePlan): pulumi.Output<string> {
    const units = servingUnits(release.unitSpec.app, release.executableName, release.zeroDowntime !== undefined);
    return pulumi.unsecret(connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host} journalctl -fu ${units.join(" -u ")}`));
}

/** The SystemdRelease of the ec2 and ssh targets, handed the release plan WebApp made. */
export function newSystemdRelease(ctx: TargetContext, connection: pulumi.Output<HostConnection>, swankPort: number | undefined, zeroDowntime?: ZeroDowntime): SystemdRelease {
    const { parent, name, args, plan, image } = ctx;
    const releaseArgs = {
        ...systemdReleaseSettings(name, args, plan.port, plan.healthPath, image.usesLispDeployRuntime, swankPort, zeroDowntime),
        connection,
        // Plain data, not the LispImage: the release copies the executable out of this exact image.
        executable: { image: image.imageRef, path: image.executablePathInImage },
    };
    return new SystemdRelease(`${name}-release`, releasePlans.give(releaseArgs, plan.release!), { parent });
}
