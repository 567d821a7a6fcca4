import { ResourceValidationPolicy } from "@pulumi/policy";
import {
    imdsv2Required,
    noPlainSecretEnv,
    noSwankPortInSecurityGroup,
    sshNotOpenToWorld,
    SSH_FROM_ANYWHERE_TAG,
    SSH_PORT_TAG,
} from "../../../src/policy/policies";

/**
 * Runs one policy on one resource the way the Pulumi engine would hand it over (plain props, secrets
 * already unwrapped) and returns the violations it reported. Stands in for the policy engine only.
 */
async function violations(
    policy: ResourceValidationPolicy,
    type: string,
    props: Record<string, any>,
    config: Record<string, any> = {},
): Promise<string[]> {
    const reported: string[] = [];
    const validate = policy.validateResource;
    const fns = Array.isArray(validate) ? validate : [validate!];
    const args: any = { type, props, urn: `urn:pulumi:dev::p::${type}::r`, name: "r", opts: {}, getConfig: () => config };
    for (const fn of fns) await fn(args, (message: string) => reported.push(message));
    return reported;
}

const SG = "aws:ec2/securityGroup:SecurityGroup";
const sg = (ingress: object[], tags: Record<string, string> = {}) => ({ ingress, tags });

describe("ssh-not-open-to-world", () => {
    test("passes a group that opens SSH to one named network", async () => {
        expect(await violations(sshNotOpenToWorld, SG, sg([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] }]))).toEqual([]);
    });
    test("fails a group that opens SSH to 0.0.0.0/0, and names the fix", async () => {
        const v = await violations(sshNotOpenToWorld, SG, sg([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }]));
        expect(v).toHaveLength(1);
        expect(v[0]).toMatch(/opens SSH \(port 22\) to 0\.0\.0\.0\/0.*sshCidrs.*allowSshFromAnywhere/);
    });
    test("fails ::/0 in a standalone vpc ingress rule, and an all-traffic rule", async () => {
        expect(await violations(sshNotOpenToWorld, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            { ipProtocol: "tcp", fromPort: 20, toPort: 30, cidrIpv6: "::/0" })).toHaveLength(1);
        expect(await violations(sshNotOpenToWorld, SG, sg([{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }]))).toHaveLength(1);
    });
    test("checks the moved SSH port a group's tag names, besides 22", async () => {
        const rule = { protocol: "tcp", fromPort: 2222, toPort: 2222, cidrBlocks: ["0.0.0.0/0"] };
        expect(await violations(sshNotOpenToWorld, SG, sg([rule]))).toEqual([]);
        expect(await violations(sshNotOpenToWorld, SG, sg([rule], { [SSH_PORT_TAG]: "2222" }))).toEqual([expect.stringContaining("SSH (port 2222)")]);
    });
    test("accepts the explicit opt-in tag", async () => {
        const open = [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }];
        expect(await violations(sshNotOpenToWorld, SG, sg(open, { [SSH_FROM_ANYWHERE_TAG]: "true" }))).toEqual([]);
    });
    test("HTTP open to the world is not its concern", async () => {
        expect(await violations(sshNotOpenToWorld, SG, sg([{ protocol: "tcp", fromPort: 80, toPort: 443, cidrBlocks: ["0.0.0.0/0"] }]))).toEqual([]);
    });
});

describe("no-swank-port", () => {
    test("passes a group with HTTP and SSH only", async () => {
        expect(await violations(noSwankPortInSecurityGroup, SG, sg([
            { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"] },
            { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.1.0.0/16"] },
        ]))).toEqual([]);
    });
    test("fails 4005 and 4006 (the green slot's Swank) even when open only to a private network: Swank goes through an SSH tunnel", async () => {
        const v = await violations(noSwankPortInSecurityGroup, "aws:ec2/securityGroupRule:SecurityGroupRule",
            { type: "ingress", protocol: "tcp", fromPort: 4000, toPort: 4010, cidrBlocks: ["10.0.0.0/8"] });
        expect(v).toEqual([expect.stringContaining("Swank port 4005"), expect.stringContaining("Swank port 4006")]);
        expect(v[0]).toContain("ssh -L 4005:127.0.0.1:4005");
    });
    test("honours configured Swank ports and ignores egress rules", async () => {
        const rule = { type: "ingress", protocol: "tcp", fromPort: 4105, toPort: 4105, cidrBlocks: ["10.0.0.0/8"] };
        expect(await violations(noSwankPortInSecurityGroup, "aws:ec2/securityGroupRule:SecurityGroupRule", rule)).toEqual([]);
        expect(await violations(noSwankPortInSecurityGroup, "aws:ec2/securityGroupRule:SecurityGroupRule", rule, { swankPorts: [4105] })).toHaveLength(1);
        expect(await violations(noSwankPortInSecurityGroup, "aws:ec2/securityGroupRule:SecurityGroupRule", { ...rule, type: "egress" }, { swankPorts: [4105] })).toEqual([]);
    });
});

describe("imdsv2-required", () => {
    test("passes an instance that requires session tokens", async () => {
        expect(await violations(imdsv2Required, "aws:ec2/instance:Instance", { metadataOptions: { httpTokens: "required" } })).toEqual([]);
    });
    test("fails an instance left on the IMDSv1-compatible default", async () => {
        expect(await violations(imdsv2Required, "aws:ec2/instance:Instance", {})).toEqual([expect.stringContaining('httpTokens is "unset"')]);
        expect(await violations(imdsv2Required, "aws:ec2/launchTemplate:LaunchTemplate", { metadataOptions: { httpTokens: "optional" } })).toHaveLength(1);
    });
});

describe("no-plain-secret-env", () => {
    test("passes plain, harmless configuration", async () => {
        expect(await violations(noPlainSecretEnv, "docker:index/container:Container", { envs: ["PORT=8080", "LOG_LEVEL=info"] })).toEqual([]);
        expect(await violations(noPlainSecretEnv, "command:remote:Command", { environment: { APP: "blog" } })).toEqual([]);
    });
    test("fails a password in plain env without ever repeating its value", async () => {
        const v = await violations(noPlainSecretEnv, "docker:index/container:Container", { envs: ["DATABASE_PASSWORD=hunter2"] });
        expect(v).toEqual([expect.stringContaining("DATABASE_PASSWORD")]);
        expect(v.join()).not.toContain("hunter2");
    });
    test("fails a secret among HerokuRelease's plain config vars", async () => {
        const heroku = "pulumi-nodejs:dynamic:HerokuRelease";
        expect(await violations(noPlainSecretEnv, heroku, { config: { LOG_LEVEL: "info" }, secretConfig: { API_TOKEN: "x" } })).toEqual([]);
        expect(await violations(noPlainSecretEnv, heroku, { config: { STRIPE_API_KEY: "sk_live_x" } })).toEqual([expect.stringContaining("STRIPE_API_KEY")]);
    });
    test("fails a URL carrying a password, and a token in a command's environment", async () => {
        expect(await violations(noPlainSecretEnv, "command:remote:Command", { environment: { DATABASE_URL: "postgres://app:s3cret@db/app" } })).toHaveLength(1);
        expect(await violations(noPlainSecretEnv, "command:local:Command", { environment: { GITHUB_TOKEN: "x" } })).toHaveLength(1);
    });
});
