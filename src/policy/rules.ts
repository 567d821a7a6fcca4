/**
 * Pure readers of resource inputs the policies share: which ports a security-group rule opens to which
 * networks, and which environment variables look like secrets. Kept free of @pulumi/policy so they can
 * be tested on plain objects.
 */

/** One ingress permission, normalised from the three ways @pulumi/aws can express it. */
export interface IngressPermission {
    /** First port, inclusive; 0 with `allPorts` for protocol "-1". */
    fromPort: number;
    /** Last port, inclusive. */
    toPort: number;
    /** True for protocol "-1"/"all": every port of every protocol. */
    allPorts: boolean;
    /** IPv4 and IPv6 CIDRs the permission is open to. */
    cidrs: string[];
}

const WORLD_CIDRS = new Set(["0.0.0.0/0", "::/0"]);

/** The ingress permissions a resource grants, whatever its type; [] for any other resource. */
export function ingressPermissions(type: string, props: Record<string, any>): IngressPermission[] {
    switch (type) {
        case "aws:ec2/securityGroup:SecurityGroup":
            return (props.ingress ?? []).map((rule: Record<string, any>) =>
                permission(rule.protocol, rule.fromPort, rule.toPort, [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? [])]),
            );
        case "aws:ec2/securityGroupRule:SecurityGroupRule":
            return props.type === "ingress"
                ? [permission(props.protocol, props.fromPort, props.toPort, [...(props.cidrBlocks ?? []), ...(props.ipv6CidrBlocks ?? [])])]
                : [];
        case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
            return [permission(props.ipProtocol, props.fromPort, props.toPort, [props.cidrIpv4, props.cidrIpv6].filter(Boolean))];
        default:
            return [];
    }
}

function permission(protocol: unknown, fromPort: unknown, toPort: unknown, cidrs: string[]): IngressPermission {
    const allPorts = String(protocol) === "-1" || String(protocol).toLowerCase() === "all";
    return {
        fromPort: allPorts ? 0 : Number(fromPort ?? 0),
        toPort: allPorts ? 65535 : Number(toPort ?? fromPort ?? 0),
        allPorts,
        cidrs,
    };
}

/** True when the permission lets `port` in. */
export function opensPort(p: IngressPermission, port: number): boolean {
    return p.allPorts || (p.fromPort <= port && port <= p.toPort);
}

/** True when the permission is open to the whole IPv4 or IPv6 internet. */
export function openToWorld(p: IngressPermission): boolean {
    return p.cidrs.some((c) => WORLD_CIDRS.has(c));
}

/** Names that by convention hold credentials (DATABASE_PASSWORD, STRIPE_API_KEY, GITHUB_TOKEN, ...). */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)/i;
/** A URL carrying a password, as in postgres://user:pass@host/db. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/:@\s]+:[^/@\s]+@/i;

/** True when a variable, by its name or its value's shape, is a secret that must not travel in plain text. */
export function looksSecret(name: string, value: unknown): boolean {
    return SECRET_NAME.test(name) || (typeof value === "string" && URL_WITH_PASSWORD.test(value));
}

/**
 * The plain-text environment a resource carries, as name/value pairs: docker containers' `envs`
 * ("K=V" strings), @pulumi/command commands' `environment`, and lisp-deploy's Heroku config vars.
 * Secret values never appear in these fields when lisp-deploy components are used as documented: they
 * travel on stdin, in 0600 files, or in fields marked secret. So a secret-looking pair here is a leak.
 */
export function plainEnvironment(type: string, props: Record<string, any>): Array<[string, unknown]> {
    switch (type) {
        case "docker:index/container:Container":
            return (props.envs ?? []).map((kv: string) => {
                const i = kv.indexOf("=");
                return i < 0 ? [kv, ""] : [kv.slice(0, i), kv.slice(i + 1)];
            });
        case "command:remote:Command":
        case "command:local:Command":
            return Object.entries(props.environment ?? {});
        case "pulumi-nodejs:dynamic:HerokuRelease":
            // HerokuRelease's plain config vars; its secretConfig is never listed here.
            return Object.entries(props.config ?? {});
        default:
            return [];
    }
}
