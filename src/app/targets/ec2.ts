import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../errors";
import { Ec2Host, ec2HostPlans } from "../../host/ec2Host";
import { AppLoadBalancer, balancerPlans } from "../../host/loadBalancer";
import { RollingRelease, rollingPlans } from "../../release/systemd/rollingRelease";
import { Ec2TargetArgs, TargetOutputs } from "../args";
import { ec2HostArgsOf, systemdReleaseSettings } from "../plan";
import { logsCommandOf, newSystemdRelease, sshCommandOf, TargetContext } from "./common";

/** A new EC2 instance (or, with `hosts` of 2 or more, several behind a load balancer) running the app under systemd. */
export function wireEc2(ctx: TargetContext): TargetOutputs {
    return ctx.plan.hosts > 1 ? wireEc2Fleet(ctx) : wireEc2Host(ctx);
}

function wireEc2Host(ctx: TargetContext): TargetOutputs {
    const { parent, name, args, plan } = ctx;
    const ec2 = args.target!.ec2!;
    const host = new Ec2Host(`${name}-host`, ec2HostPlans.give(ec2HostArgsOf(args, ec2, plan.servingPorts!), plan.ec2Hosts![0]), { parent });
    const release = newSystemdRelease(ctx, host.connection, ec2.swankPort, ec2.zeroDowntime);
    return {
        url: release.url,
        unit: release.unit,
        userData: pulumi.output(host.userData),
        sshCommand: sshCommandOf(host.connection),
        swankTunnel: release.swankTunnel,
        logsCommand: logsCommandOf(host.connection, plan.release!),
        releaseId: release.releaseId,
        keptReleases: release.keptReleases,
    };
}

/**
 * Several EC2 hosts behind an Application Load Balancer: hosts `${name}-host<i>` spread round-robin over the
 * subnets, the balancer `${name}-lb` over their instances (health check on the app's health path), and one
 * RollingRelease `${name}-release` that releases host after host and stops at the first failure.
 */
function wireEc2Fleet(ctx: TargetContext): TargetOutputs {
    const { parent, name, args, plan, image } = ctx;
    const ec2 = args.target!.ec2!;
    const { vpcId, subnetIds } = fleetNetwork(parent, ec2);
    // The hosts need the balancer's target group before the balancer exists (it needs their instances):
    // a deferred Output closes the loop and carries the dependency on the group, so each instance waits for it.
    const [targetsGroupId, resolveTargetsGroupId] = pulumi.deferredOutput<string>();
    const hosts = Array.from({ length: plan.hosts }, (_, i) => {
        const hostArgs = {
            instanceType: ec2.instanceType,
            platform: args.app.platform,
            ami: ec2.ami,
            subnetId: subnetIds.apply((ids) => ids[i % ids.length]),
            publicKey: ec2.publicKey,
            privateKey: ec2.privateKey,
            sshCidrs: ec2.sshCidrs,
            sshPort: ec2.sshPort,
            allowSshFromAnywhere: ec2.allowSshFromAnywhere,
            // Nothing is open to the world: the app's port is reached through the balancer's group only.
            publicPorts: [],
            extraSecurityGroupIds: [targetsGroupId],
            tags: ec2.tags,
        };
        return new Ec2Host(`${name}-host${i}`, ec2HostPlans.give(hostArgs, plan.ec2Hosts![i]), { parent });
    });
    const balancerArgs = {
        vpcId,
        subnetIds,
        instanceIds: hosts.map((h) => h.instanceId),
        // With zero-downtime releases the balancer talks to each host's proxy, which follows the active slot.
        port: plan.servingPorts![0],
        healthCheckPath: plan.healthPath,
        tags: ec2.tags,
    };
    const balancer = new AppLoadBalancer(`${name}-lb`, balancerPlans.give(balancerArgs, plan.balancer!), { parent });
    resolveTargetsGroupId(balancer.targetSecurityGroupId);
    const releaseArgs = {
        ...systemdReleaseSettings(name, args, plan.port, plan.healthPath, image.usesLispDeployRuntime, ec2.swankPort, ec2.zeroDowntime),
        hosts: hosts.map((h) => ({ connection: h.connection })),
        executable: { image: image.imageRef, path: image.executablePathInImage },
    };
    const release = new RollingRelease(`${name}-release`, rollingPlans.give(releaseArgs, hosts.map(() => ({ port: plan.port, release: plan.release! }))), { parent });
    const sshCommands = pulumi.all(hosts.map((h) => sshCommandOf(h.connection)));
    const logsCommands = pulumi.all(hosts.map((h) => logsCommandOf(h.connection, plan.release!)));
    return {
        // Waits for the last host's release, so `url` answers only once every host runs the new build.
        url: pulumi.all([balancer.url, release.releaseId]).apply(([url]) => url),
        unit: release.units.apply((units) => units[0]),
        userData: pulumi.output(hosts[0].userData),
        sshCommand: sshCommands.apply((c) => c[0]),
        sshCommands,
        swankTunnel: release.swankTunnels.apply((t) => t[0]),
        swankTunnels: release.swankTunnels,
        logsCommand: logsCommands.apply((c) => c[0]),
        logsCommands,
        releaseId: release.releaseId,
        keptReleases: release.keptReleases,
    };
}

/**
 * The fleet's VPC and subnets: the given `subnetIds` (the VPC from the first), or the default VPC's default
 * subnets, sorted so that the same subnets always give the same placement, whatever order AWS lists them in.
 */
function fleetNetwork(parent: pulumi.Resource, ec2: Ec2TargetArgs): { vpcId: pulumi.Output<string>; subnetIds: pulumi.Output<string[]> } {
    const opts = { parent };
    if (ec2.subnetIds !== undefined) {
        return { vpcId: aws.ec2.getSubnetOutput({ id: ec2.subnetIds[0] }, opts).vpcId, subnetIds: pulumi.output(ec2.subnetIds) };
    }
    const vpcId = aws.ec2.getVpcOutput({ default: true }, opts).id;
    const found = aws.ec2.getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpcId] }, { name: "default-for-az", values: ["true"] }] }, opts);
    const subnetIds = found.ids.apply((ids) => {
        if (ids.length < 2) {
            // Known only once the account answers: raised inside the apply, it still reaches the user as one clean error.
            throw new ValidationError("args.target.ec2.subnetIds", `the default VPC has ${ids.length} default subnet(s), but a load balancer needs two in different availability zones; give subnetIds.`);
        }
        return [...ids].sort();
    });
    return { vpcId, subnetIds };
}
