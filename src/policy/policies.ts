import { ResourceValidationPolicy } from "@pulumi/policy";
import { ingressPermissions, looksSecret, openToWorld, opensPort, plainEnvironment } from "./rules";

/**
 * The tag a security group carries when its owner explicitly chose to open SSH to the whole internet
 * (Ec2Host's `allowSshFromAnywhere`). The policy accepts that choice; it rejects the accident.
 */
export const SSH_FROM_ANYWHERE_TAG = "lisp-deploy:ssh-from-anywhere";

/** The tag a security group carries when its sshd listens on another port than 22 (Ec2Host's `sshPort`). */
export const SSH_PORT_TAG = "lisp-deploy:ssh-port";

/**
 * Ports Swank listens on by default: SLIME's 4005, and 4006, where the green slot's Swank listens in
 * zero-downtime mode (swankPort + 1). A Swank port in a security group is a remote-code-execution hole.
 */
export const DEFAULT_SWANK_PORTS = [4005, 4006];

/** SSH is never open to 0.0.0.0/0 or ::/0 unless the security group carries the explicit opt-in tag. */
export const sshNotOpenToWorld: ResourceValidationPolicy = {
    name: "lisp-deploy-ssh-not-open-to-world",
    description: "SSH (port 22) is open only to named networks, unless the owner explicitly opted in.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.props.tags?.[SSH_FROM_ANYWHERE_TAG] === "true") return;
        const movedPort = Number(args.props.tags?.[SSH_PORT_TAG]);
        const sshPorts = Number.isInteger(movedPort) && movedPort > 0 ? [22, movedPort] : [22];
        for (const p of ingressPermissions(args.type, args.props)) {
            for (const port of sshPorts.filter((sp) => opensPort(p, sp) && openToWorld(p))) {
                reportViolation(
                    `${args.name} opens SSH (port ${port}) to ${p.cidrs.filter((c) => c.endsWith("/0")).join(", ")}. ` +
                        `Name the networks that may connect (Ec2Host's sshCidrs), or opt in explicitly ` +
                        `(allowSshFromAnywhere: true, which tags the group ${SSH_FROM_ANYWHERE_TAG}=true).`,
                );
            }
        }
    },
};

/** No security group lets anyone reach a Swank port: Swank is reached through an SSH tunnel only. */
export const noSwankPortInSecurityGroup: ResourceValidationPolicy = {
    name: "lisp-deploy-no-swank-port",
    description: "No security group rule opens a Swank port; use the SSH tunnel command lisp-deploy prints.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: { swankPorts: { type: "array", items: { type: "number" }, default: DEFAULT_SWANK_PORTS } },
    },
    validateResource: (args, reportViolation) => {
        const swankPorts: number[] = args.getConfig<{ swankPorts?: number[] }>().swankPorts ?? DEFAULT_SWANK_PORTS;
        for (const p of ingressPermissions(args.type, args.props)) {
            for (const port of swankPorts.filter((sp) => opensPort(p, sp))) {
                reportViolation(
                    `${args.name} opens the Swank port ${port}${p.allPorts ? " (it allows all traffic)" : ""}. ` +
                        `Remove that rule: Swank listens on 127.0.0.1 only and is reached with \`ssh -L ${port}:127.0.0.1:${port}\`.`,
                );
            }
        }
    },
};

/** EC2 instances and launch templates require IMDSv2 session tokens (no SSRF-readable credentials). */
export const imdsv2Required: ResourceValidationPolicy = {
    name: "lisp-deploy-imdsv2-required",
    description: "EC2 instances require IMDSv2 (metadataOptions.httpTokens = \"required\").",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== "aws:ec2/instance:Instance" && args.type !== "aws:ec2/launchTemplate:LaunchTemplate") return;
        const tokens = args.props.metadataOptions?.httpTokens;
        if (tokens !== "required") {
            reportViolation(
                `${args.name} allows IMDSv1 (metadataOptions.httpTokens is ${JSON.stringify(tokens ?? "unset")}). ` +
                    `Set metadataOptions: { httpTokens: "required" }; Ec2Host does this for you.`,
            );
        }
    },
};

/** Secret-looking environment values never travel in plain-text resource inputs. */
export const noPlainSecretEnv: ResourceValidationPolicy = {
    name: "lisp-deploy-no-plain-secret-env",
    description: "Secret environment values (passwords, tokens, keys) travel as secrets, never in plain env.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        for (const [name, value] of plainEnvironment(args.type, args.props)) {
            if (looksSecret(name, value)) {
                // Name the variable, never its value: the report itself must not leak the secret.
                reportViolation(
                    `${args.name} carries ${name} in plain text. Pass it in secretEnv (or secretConfigVars on Heroku) ` +
                        `as pulumi.secret(...), so it travels on stdin into a 0600 file and stays encrypted in state.`,
                );
            }
        }
    },
};

/** Every policy of the pack, in the order reports list them. */
export const lispDeployPolicies: ResourceValidationPolicy[] = [
    sshNotOpenToWorld,
    noSwankPortInSecurityGroup,
    imdsv2Required,
    noPlainSecretEnv,
];
