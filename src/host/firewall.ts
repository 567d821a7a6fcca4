import { ValidationError } from "../errors";
import { checkPorts, parseCidr } from "./validate";

/** SSH's port; Debian's sshd listens here and Ec2Host does not move it. */
export const SSH_PORT = 22;

/** Swank's default port. It is never opened: reach Swank with `ssh -L 4005:127.0.0.1:4005 host`. */
export const SWANK_PORT = 4005;

/**
 * The tag Ec2Host puts on its security group when the owner opted in to SSH from anywhere, so the
 * policy pack (src/policy) can tell the deliberate choice from an accident. Same text as the pack's
 * SSH_FROM_ANYWHERE_TAG (a unit test keeps them equal without making hosts load @pulumi/policy).
 */
export const SSH_FROM_ANYWHERE_TAG = "lisp-deploy:ssh-from-anywhere";

/**
 * The tag Ec2Host puts on its security group when sshd listens elsewhere than 22 (`sshPort`), so the
 * policy pack checks that port too. Same text as the pack's SSH_PORT_TAG.
 */
export const SSH_PORT_TAG = "lisp-deploy:ssh-port";

/** One security group rule in the shape aws.ec2.SecurityGroup takes for `ingress` and `egress`. */
export interface SecurityGroupRule {
    /** What the rule is for, shown in the AWS console and in previews. */
    description: string;
    /** Always TCP: a web app and sshd need nothing else. */
    protocol: "tcp";
    /** First port of the range (the one port: ranges are never opened). */
    fromPort: number;
    /** Last port of the range, equal to `fromPort`. */
    toPort: number;
    /** IPv4 CIDRs the rule applies to, sorted; absent when there are none. */
    cidrBlocks?: string[];
    /** IPv6 CIDRs the rule applies to, sorted; absent when there are none. */
    ipv6CidrBlocks?: string[];
}

/** What a host's firewall lets through. */
export interface FirewallOptions {
    /** TCP ports open to the whole Internet (the app's HTTP(S) ports). */
    publicPorts: number[];
    /** CIDRs allowed to reach sshd. */
    sshCidrs: string[];
    /** Must be true to let `sshCidrs` contain 0.0.0.0/0 or ::/0. */
    allowSshFromAnywhere?: boolean;
    /** TCP ports the host may connect out to, anywhere. */
    outboundTcpPorts: number[];
    /** sshd's port. Default 22. */
    sshPort?: number;
}

const WORLD_V4 = "0.0.0.0/0";
const WORLD_V6 = "::/0";

/**
 * Renders the ingress and egress rules of a host's security group: the public ports open to the world,
 * SSH only from the CIDRs named, nothing else in; out only on the ports named. Deterministic (ports
 * and CIDRs sorted) so reordering a list in the program shows no diff. `field` prefixes error paths.
 */
export function renderFirewall(options: FirewallOptions, field = "args"): { ingress: SecurityGroupRule[]; egress: SecurityGroupRule[] } {
    checkPorts(options.publicPorts, `${field}.publicPorts`);
    checkPorts(options.outboundTcpPorts, `${field}.outboundTcpPorts`);
    options.publicPorts.forEach((p, i) => {
        if (p === SSH_PORT) {
            throw new ValidationError(`${field}.publicPorts[${i}]`, `opens SSH (22) to the world; remove it and list who may SSH in \`sshCidrs\`.`);
        }
        if (p === SWANK_PORT) {
            throw new ValidationError(
                `${field}.publicPorts[${i}]`,
                `4005 is Swank's port, which runs code sent to it; never open it: tunnel instead with \`ssh -L 4005:127.0.0.1:4005 <host>\`.`,
            );
        }
    });
    if (!Array.isArray(options.sshCidrs) || options.sshCidrs.length === 0) {
        throw new ValidationError(
            `${field}.sshCidrs`,
            `is empty, so nobody (not even \`pulumi up\`, which waits for cloud-init over SSH) could reach the host; list your address, e.g. ["203.0.113.7/32"].`,
        );
    }
    const ssh = options.sshCidrs.map((c, i) => {
        const parsed = parseCidr(c, `${field}.sshCidrs[${i}]`);
        if (parsed.anywhere && options.allowSshFromAnywhere !== true) {
            throw new ValidationError(
                `${field}.sshCidrs[${i}]`,
                `"${c}" opens SSH to the whole Internet; list only the networks you deploy from, or set \`allowSshFromAnywhere: true\` if you mean it.`,
            );
        }
        return parsed;
    });
    const sshV4 = unique(ssh.filter((c) => c.family === "ipv4").map((c) => c.cidr));
    const sshV6 = unique(ssh.filter((c) => c.family === "ipv6").map((c) => c.cidr));

    const ingress: SecurityGroupRule[] = [
        ...[...options.publicPorts].sort((a, b) => a - b).map((port) => ({
            description: `public port ${port}`,
            ...tcp(port),
            cidrBlocks: [WORLD_V4],
            ipv6CidrBlocks: [WORLD_V6],
        })),
        {
            description: "ssh from the named networks",
            ...tcp(options.sshPort ?? SSH_PORT),
            ...(sshV4.length ? { cidrBlocks: sshV4 } : {}),
            ...(sshV6.length ? { ipv6CidrBlocks: sshV6 } : {}),
        },
    ];
    const egress: SecurityGroupRule[] = [...options.outboundTcpPorts].sort((a, b) => a - b).map((port) => ({
        description: `outbound port ${port}`,
        ...tcp(port),
        cidrBlocks: [WORLD_V4],
        ipv6CidrBlocks: [WORLD_V6],
    }));
    return { ingress, egress };
}

function tcp(port: number): { protocol: "tcp"; fromPort: number; toPort: number } {
    return { protocol: "tcp", fromPort: port, toPort: port };
}

function unique(values: string[]): string[] {
    return [...new Set(values)].sort();
}
