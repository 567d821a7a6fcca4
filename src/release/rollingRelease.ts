import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { HostConnection } from "../host/connection";
import { validatePort } from "./unit";
import { SystemdRelease, SystemdReleaseArgs } from "./systemdRelease";

/** One host of a {@link RollingRelease}. */
export interface RollingHost {
    /** How to reach the host (Ec2Host's or SshHost's `connection`). */
    readonly connection: pulumi.Input<HostConnection>;
    /** The app's port on this host; default the release's `port`. Hosts sharing one network (tests, one big box) need different ones. */
    readonly port?: number;
}

/** Arguments of a {@link RollingRelease}: a SystemdRelease's, with a list of hosts instead of one connection. */
export interface RollingReleaseArgs extends Omit<SystemdReleaseArgs, "connection"> {
    /** The hosts, released in this order, one at a time; at least one. */
    readonly hosts: RollingHost[];
}

/**
 * Releases the same build to several hosts one at a time, in list order, stopping at the first failure:
 * host i+1's release `dependsOn` host i's, so the Pulumi engine itself orders them, and a failed health
 * check (which rolls that host back) leaves every later host untouched. Behind a load balancer whose
 * health check takes a restarting host out of rotation, or with `zeroDowntime` on each host, no request
 * is dropped.
 */
export class RollingRelease extends pulumi.ComponentResource {
    /** Each host's URL, in order. */
    readonly urls: pulumi.Output<string[]>;
    /** The release id (the same build on every host). */
    readonly releaseId: pulumi.Output<string>;
    /** Each host's rendered systemd unit, in order (they differ only when a host has its own port). */
    readonly units: pulumi.Output<string[]>;
    /** Each host's Swank tunnel command, in order, when `swankPort` is set; empty otherwise. */
    readonly swankTunnels: pulumi.Output<string[]>;

    constructor(name: string, args: RollingReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lisp-deploy:index:RollingRelease", name, {}, opts);
        const plans = planRollingRelease(args);
        const releases: SystemdRelease[] = [];
        plans.forEach((plan, i) => {
            const { hosts: _hosts, ...common } = args;
            const previous = releases[i - 1];
            releases.push(
                new SystemdRelease(
                    `${name}-host${i}`,
                    { ...common, connection: args.hosts[i].connection, port: plan.port },
                    // Depending on a component waits for all of its children: the previous host's activation included.
                    { parent: this, dependsOn: previous ? [previous] : [] },
                ),
            );
        });
        this.urls = pulumi.all(releases.map((r) => r.url));
        this.releaseId = releases[releases.length - 1].releaseId;
        this.units = pulumi.all(releases.map((r) => r.unit));
        this.swankTunnels = pulumi.all(releases.map((r) => r.swankTunnel)).apply((ts) => ts.filter((t): t is string => t !== undefined));
        this.registerOutputs({ urls: this.urls, releaseId: this.releaseId, units: this.units, swankTunnels: this.swankTunnels });
    }
}

/** Validates the host list; each host's SystemdRelease validates the rest at construction. */
export function planRollingRelease(args: RollingReleaseArgs): { port: number }[] {
    if (!Array.isArray(args.hosts) || args.hosts.length === 0) {
        throw new ValidationError("args.hosts", "give at least one host ({ connection }), e.g. each Ec2Host's `connection`.");
    }
    return args.hosts.map((host, i) => {
        if (!host || host.connection === undefined) {
            throw new ValidationError(`args.hosts[${i}].connection`, "is missing: pass the host's `connection` output.");
        }
        const port = host.port ?? args.port;
        validatePort(`args.hosts[${i}].port`, port);
        return { port };
    });
}
