import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ValidationError } from "../errors";
import { validatePort } from "./unit";

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

/** Validates the plain arguments; throws ValidationError naming the field. */
export function planLoadBalancer(args: AppLoadBalancerArgs): LoadBalancerPlan {
    validatePort("args.port", args.port);
    if (!Array.isArray(args.instanceIds) || args.instanceIds.length === 0) {
        throw new ValidationError("args.instanceIds", "give at least one instance id (each Ec2Host's `instanceId`).");
    }
    const path = args.healthCheckPath ?? "/";
    if (!/^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]*$/.test(path) || path.length > 1024) {
        throw new ValidationError("args.healthCheckPath", `must start with '/' and hold only URL path characters (no query); got ${JSON.stringify(path)}.`);
    }
    const status = args.healthCheckStatus ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 499) {
        throw new ValidationError("args.healthCheckStatus", `an ALB health check accepts 200-499; got ${JSON.stringify(status)}.`);
    }
    const delay = args.deregistrationDelaySeconds ?? 30;
    if (!Number.isInteger(delay) || delay < 0 || delay > 3600) {
        throw new ValidationError("args.deregistrationDelaySeconds", `must be a whole number of seconds between 0 and 3600; got ${JSON.stringify(delay)}.`);
    }
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
        super("lisp-deploy:index:AppLoadBalancer", name, {}, opts);
        const plan = planLoadBalancer(args);
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
