import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../errors";
import { HostConnection } from "../../host/connection";
import { validatePort } from "./unit";
import { planExecutable, planReleaseSettings, ReleasePlan, releasePlans, SystemdRelease, SystemdReleaseArgs } from "./systemdRelease";
import { at, FieldPath, PlanHandoff, planned } from "../../validate";

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
 * Releases the same build to several hosts one at a time, in list order, stopping at the first failure
 * (a `releaseCommand` runs once, on the first host, before its switch, so it is for what the hosts share,
 * such as a database: each host's `stateDirectory` is its own, and only the first host's sees the command):
 * host i+1's release `dependsOn` host i's, so the Pulumi engine itself orders them, and a failed health
 * check (which rolls that host back) leaves every later host untouched. Behind a load balancer the other
 * hosts serve while one restarts, but a request the balancer sends to the restarting host fails: an ALB
 * does not retry, and its health check takes a host out of rotation only after failed checks. With
 * `zeroDowntime` on each host the balancer targets each host's proxy, which keeps listening while the host
 * switches slots. Measured through the AWS stand-in's balancer (test/integration/examples-ec2-fleet-zdt-engine.test.ts):
 * no request dropped in five of six runs; in one, 1 of 1,182 requests on a kept-alive connection failed, not
 * yet explained.
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
    /** The release ids the last host keeps, newest first (every host keeps the same ones when every release reached them all). */
    readonly keptReleases: pulumi.Output<string[]>;

    constructor(name: string, args: RollingReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Every host's release is planned before anything is registered, the component included.
        const plans = rollingPlans.take(args) ?? planRollingRelease(args);
        super("lisp-deploy:index:RollingRelease", name, {}, opts);
        const releases: SystemdRelease[] = [];
        plans.forEach((plan, i) => {
            const { hosts: _hosts, releaseCommand, ...common } = args;
            const previous = releases[i - 1];
            // The release command runs once per release, on the first host: the later hosts wait for it
            // (dependsOn), and a failure leaves every host on the release it serves.
            const first = i === 0;
            releases.push(
                new SystemdRelease(
                    `${name}-host${i}`,
                    releasePlans.give(
                        { ...common, ...(first && releaseCommand !== undefined ? { releaseCommand } : {}), connection: args.hosts[i].connection, port: plan.port },
                        first ? plan.release : { ...plan.release, releaseCommand: undefined },
                    ),
                    // Depending on a component waits for all of its children: the previous host's activation included.
                    { parent: this, dependsOn: previous ? [previous] : [] },
                ),
            );
        });
        this.urls = pulumi.all(releases.map((r) => r.url));
        this.releaseId = releases[releases.length - 1].releaseId;
        this.units = pulumi.all(releases.map((r) => r.unit));
        this.swankTunnels = pulumi.all(releases.map((r) => r.swankTunnel)).apply((ts) => ts.filter((t): t is string => t !== undefined));
        this.keptReleases = releases[releases.length - 1].keptReleases;
        this.registerOutputs({ urls: this.urls, releaseId: this.releaseId, units: this.units, swankTunnels: this.swankTunnels, keptReleases: this.keptReleases });
    }
}

/** One host's plan: its port and its SystemdRelease's plan. @internal */
export interface RollingHostPlan {
    readonly port: number;
    readonly release: ReleasePlan;
}

/** Plans made by a WebApp for the RollingRelease it creates. @internal */
export const rollingPlans = new PlanHandoff<RollingReleaseArgs, RollingHostPlan[]>();

/**
 * Plans a RollingRelease: the host list, and each host's SystemdRelease (the shared settings once, each
 * host's port), reporting every problem at once under `field`.
 * @internal
 */
export function planRollingRelease(args: RollingReleaseArgs, field: FieldPath = "args"): RollingHostPlan[] {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "RollingRelease needs arguments: at least hosts, app, port and executable.");
        if (!Array.isArray(args.hosts) || args.hosts.length === 0) {
            problems.add(at(field, "hosts"), "give at least one host ({ connection }), e.g. each Ec2Host's `connection`.");
        }
        const executableName = problems.check(() => planExecutable(args.executable, args.executableName, field));
        const hosts = Array.isArray(args.hosts) ? args.hosts : [];
        const ports = hosts.map((host, i) => {
            if (!host || host.connection === undefined) problems.add(at(field, `hosts[${i}].connection`), "is missing: pass the host's `connection` output.");
            const port = host?.port ?? args.port;
            return problems.check(() => (validatePort(host?.port !== undefined ? at(field, `hosts[${i}].port`) : at(field, "port"), port), port));
        });
        // The settings are the same on every host but the port: check them once, then plan each host's port.
        const common = problems.check(() => planReleaseSettings(args, executableName ?? "app", field));
        problems.throwIfAny();
        return ports.map((port) => ({ port: port!, release: port === args.port ? common! : planReleaseSettings({ ...args, port: port! }, executableName!, field) }));
    });
}
