import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ValidationError } from "../errors";
import { validatePort } from "../release/systemd/unit";
import { at, checkHealthPath, checkWholeNumber, FieldPath, PlanHandoff, planned, Problems } from "../validate";

/** Arguments of an {@link AppLoadBalancer}. */
export interface AppLoadBalancerArgs {
    /** The VPC the hosts run in. */
    readonly vpcId: pulumi.Input<string>;
    /** Public subnets for the load balancer, in at least two availability zones (an AWS requirement). */
    readonly subnetIds: pulumi.Input<string[]>;
    /** The hosts' instance ids (Ec2Host's `instanceId`), one target each. */
    readonly instanceIds: pulumi.Input<string>[];
    /** The HTTP port the hosts serve on: the app's port, or the proxy's `publicPort` in zero-downtime mode. */
    readonly port: number;
    /** Path the target group's health check requests; default `/`. Use the release's health check path. */
    readonly healthCheckPath?: string;
    /** Status that means healthy; default 200. */
    readonly healthCheckStatus?: number;
    /** An ACM certificate: HTTPS on 443, and port 80 redirects to it. Without one the load balancer serves HTTP on 80. */
    readonly certificateArn?: pulumi.Input<string>;
    /** Seconds a deregistered or unhealthy target keeps its in-flight requests; default 30. */
    readonly deregistrationDelaySeconds?: number;
    /** Tags for every resource. */
    readonly tags?: pulumi.Input<Record<string, string>>;
}

/** The plain settings of the load balancer, checked and with defaults: what the unit tests pin down. */
export interface LoadBalancerPlan {
    /** Ports the load balancer listens on, open to the Internet. */
    publicPorts: number[];
    /** The target group's health check, in the shape aws.lb.TargetGroup takes. */
    healthCheck: {
        enabled: true;
        protocol: "HTTP";
        path: string;
        matcher: string;
        interval: number;
        timeout: number;
        healthyThreshold: number;
        unhealthyThreshold: number;
    };
    /** Seconds of connection draining. */
    deregistrationDelay: number;
    /** Whether there is an HTTPS listener. */
    https: boolean;
}

/**
 * Plans an AppLoadBalancer: checks every plain argument, reporting all problems at once under `field`.
 * @internal
 */
export function planLoadBalancer(args: AppLoadBalancerArgs, field: FieldPath = "args"): LoadBalancerPlan {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "AppLoadBalancer needs arguments: at least vpcId, subnetIds, instanceIds and port.");
        if (args.vpcId === undefined) problems.add(at(field, "vpcId"), "is required: the VPC the hosts run in.");
        if (args.subnetIds === undefined) problems.add(at(field, "subnetIds"), 'is required: public subnets in at least two availability zones, e.g. ["subnet-a", "subnet-b"].');
        if (!Array.isArray(args.instanceIds) || args.instanceIds.length === 0) {
            problems.add(at(field, "instanceIds"), "give at least one instance id (each Ec2Host's `instanceId`).");
        }
        const plan = problems.check(() => planBalancerSettings(args, field));
        problems.throwIfAny();
        return plan!;
    });
}

/**
 * The balancer's own settings (port, health check, draining), planned before the hosts and network exist:
 * WebApp plans them from the user's `app.port` and `app.healthPath`.
 * @internal
 */
export function planBalancerSettings(args: Pick<AppLoadBalancerArgs, "port" | "healthCheckPath" | "healthCheckStatus" | "deregistrationDelaySeconds" | "certificateArn">, field: FieldPath = "args"): LoadBalancerPlan {
    const p = new Problems();
    p.check(() => validatePort(at(field, "port"), args.port));
    const path = args.healthCheckPath ?? "/";
    p.check(() => checkHealthPath(at(field, "healthCheckPath"), path, { query: false }));
    const status = args.healthCheckStatus ?? 200;
    p.check(() => checkWholeNumber(at(field, "healthCheckStatus"), status, 200, 499, "", "An ALB health check accepts statuses 200-499."));
    const delay = args.deregistrationDelaySeconds ?? 30;
    p.check(() => checkWholeNumber(at(field, "deregistrationDelaySeconds"), delay, 0, 3600, "seconds"));
    p.throwIfAny();
    const https = args.certificateArn !== undefined;
    return {
        publicPorts: https ? [80, 443] : [80],
        healthCheck: {
            enabled: true,
            protocol: "HTTP",
            path,
            matcher: String(status),
            // Two checks 10 s apart take a failing host out of rotation within about 20 s.
            interval: 10,
            timeout: 5,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
        },
        deregistrationDelay: delay,
        https,
    };
}

/** Plans made by a WebApp for the balancer it creates. @internal */
export const balancerPlans = new PlanHandoff<AppLoadBalancerArgs, LoadBalancerPlan>();

/**
 * An Application Load Balancer in front of several hosts (for a RollingRelease): a target group
 * health-checking the app's path, a listener (HTTPS with redirect from 80 when a certificate is given),
 * one attachment per instance, and two security groups: the load balancer's, open on 80/443, and the
 * targets', which opens `port` to the load balancer's group only. Attach `targetSecurityGroupId` to the
 * instances and do not list `port` in Ec2Host's `publicPorts`: then only the load balancer reaches the app.
 */
export class AppLoadBalancer extends pulumi.ComponentResource {
    /** The load balancer's DNS name. */
    readonly dnsName: pulumi.Output<string>;
    /** `http://<dns>/` or `https://<dns>/`. */
    readonly url: pulumi.Output<string>;
    /** The load balancer's security group. */
    readonly securityGroupId: pulumi.Output<string>;
    /** The group to attach to the instances: `port` open to the load balancer only. */
    readonly targetSecurityGroupId: pulumi.Output<string>;
    /** The target group's ARN. */
    readonly targetGroupArn: pulumi.Output<string>;

    constructor(name: string, args: AppLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Planned before anything is registered, the component included: bad input leaves nothing behind.
        const plan = balancerPlans.take(args) ?? planLoadBalancer(args);
        super("lisp-deploy:index:AppLoadBalancer", name, {}, opts);
        const child = { parent: this };
        const tags = args.tags;

        // Rules are separate resources (no inline rules): the two groups refer to each other.
        const lbGroup = new aws.ec2.SecurityGroup(`${name}-lb-sg`, { description: `lisp-deploy load balancer ${name}: HTTP(S) from anywhere`, vpcId: args.vpcId, tags }, child);
        const targetGroupSg = new aws.ec2.SecurityGroup(`${name}-targets-sg`, { description: `lisp-deploy hosts behind ${name}: port ${args.port} from the load balancer only`, vpcId: args.vpcId, tags }, child);
        for (const port of plan.publicPorts) {
            for (const [family, cidr] of [["v4", { cidrIpv4: "0.0.0.0/0" }], ["v6", { cidrIpv6: "::/0" }]] as const) {
                new aws.vpc.SecurityGroupIngressRule(
                    `${name}-lb-in-${port}-${family}`,
                    { securityGroupId: lbGroup.id, ipProtocol: "tcp", fromPort: port, toPort: port, ...cidr, description: `HTTP${port === 443 ? "S" : ""} from anywhere`, tags },
                    child,
                );
            }
        }
        new aws.vpc.SecurityGroupEgressRule(
            `${name}-lb-out`,
            { securityGroupId: lbGroup.id, ipProtocol: "tcp", fromPort: args.port, toPort: args.port, referencedSecurityGroupId: targetGroupSg.id, description: "to the hosts' app port", tags },
            child,
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-targets-in`,
            { securityGroupId: targetGroupSg.id, ipProtocol: "tcp", fromPort: args.port, toPort: args.port, referencedSecurityGroupId: lbGroup.id, description: "app port from the load balancer only", tags },
            child,
        );

        const lb = new aws.lb.LoadBalancer(
            `${name}-alb`,
            { loadBalancerType: "application", internal: false, securityGroups: [lbGroup.id], subnets: args.subnetIds, dropInvalidHeaderFields: true, tags },
            child,
        );
        const targetGroup = new aws.lb.TargetGroup(
            `${name}-tg`,
            { port: args.port, protocol: "HTTP", targetType: "instance", vpcId: args.vpcId, healthCheck: plan.healthCheck, deregistrationDelay: plan.deregistrationDelay, tags },
            child,
        );
        const forward = [{ type: "forward", targetGroupArn: targetGroup.arn }];
        if (plan.https) {
            new aws.lb.Listener(
                `${name}-http`,
                { loadBalancerArn: lb.arn, port: 80, protocol: "HTTP", defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }], tags },
                child,
            );
            new aws.lb.Listener(
                `${name}-https`,
                { loadBalancerArn: lb.arn, port: 443, protocol: "HTTPS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", certificateArn: args.certificateArn, defaultActions: forward, tags },
                child,
            );
        } else {
            new aws.lb.Listener(`${name}-http`, { loadBalancerArn: lb.arn, port: 80, protocol: "HTTP", defaultActions: forward, tags }, child);
        }
        args.instanceIds.forEach((instanceId, i) => {
            new aws.lb.TargetGroupAttachment(`${name}-target${i}`, { targetGroupArn: targetGroup.arn, targetId: instanceId, port: args.port }, child);
        });

        this.dnsName = lb.dnsName;
        this.url = lb.dnsName.apply((dns) => `${plan.https ? "https" : "http"}://${dns}/`);
        this.securityGroupId = lbGroup.id;
        this.targetSecurityGroupId = targetGroupSg.id;
        this.targetGroupArn = targetGroup.arn;
        this.registerOutputs({ dnsName: this.dnsName, url: this.url, securityGroupId: this.securityGroupId, targetSecurityGroupId: this.targetSecurityGroupId, targetGroupArn: this.targetGroupArn });
    }
}
