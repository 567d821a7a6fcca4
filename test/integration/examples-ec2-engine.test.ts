import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { pulumiEnvironment, PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { diffInputs } from "../../support/providers/aws-standin/provider";
import { requireCommand, requireDocker } from "../../support/engines";
import { breakAppStart, changedResources, copyExample, expectRolledBack, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/ec2-systemd, unmodified, under the REAL Pulumi CLI, with AWS's API stood in for by the
// `pulumi-resource-aws` stand-in plugin (support/providers/aws-standin): its EC2 instance is a real machine,
// a systemd + sshd + cloud-init container booted from the rendered user data, sshd on 127.0.0.1:2280, the
// key pair authorized for `admin`. Everything else is real: the Docker build, the cloud-init wait and the
// release over OpenSSH (the command stand-in), the unit under systemd, the health check and the rollback.
// Ports: app 18850, sshd 2280.

jest.setTimeout(60 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const APP_PORT = 18850;
const SSH_PORT = 2280;
const PREFIX = `lisp-deploy-ec2-e2e-${id}`;
const URL = `http://127.0.0.1:${APP_PORT}/`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello again, from a stood-in EC2 instance.";
/** The resources an app source change touches: the image and the release, nothing of the host. */
const RELEASE_ONLY = [
    "update command:local:Command hello-release-extract",
    "update command:remote:Command hello-release-activate",
    "update command:remote:Command hello-release-prepare",
    "update command:remote:CopyToRemote hello-release-upload",
    "update docker:index/image:Image hello-image-image",
];

let scratch = "";
let appDir = "";
let ws: PulumiWorkspace;

/** The stood-in instances of this test (containers named <prefix>-i-...). */
function instances(): string[] {
    const out = execFileSync("docker", ["ps", "-a", "--filter", `name=^/${PREFIX}-`, "--format", "{{.Names}}"], { encoding: "utf8" });
    return out.split("\n").filter((l) => l !== "");
}

/** The CLI's environment: the AWS stand-in on PATH for this test only (scripts/pulumi-env.sh never puts it there), and what it needs to know. */
function standInEnv(): Record<string, string> {
    return {
        PATH: `${path.join(REPO_ROOT, "support", "providers", "aws-standin", "bin")}:${pulumiEnvironment().PATH}`,
        LISP_DEPLOY_AWS_STANDIN_SSH_PORTS: String(SSH_PORT),
        LISP_DEPLOY_AWS_STANDIN_PREFIX: PREFIX,
        LISP_DEPLOY_AWS_STANDIN_DIR: path.join(scratch, "aws-account"),
    };
}

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("examples-ec2-engine");
    const example = copyExample(scratch, "ec2-systemd");
    appDir = example.appDir;
    const keyFile = path.join(scratch, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "examples-ec2-engine", "-f", keyFile]);
    ws = new PulumiWorkspace(example.projectDir, scratch, standInEnv());
    await ws.initStack(STACK, {
        "aws:region": "eu-west-1",
        sshPublicKey: fs.readFileSync(`${keyFile}.pub`, "utf8").trim(),
        sshCidrs: JSON.stringify(["127.0.0.1/32"]),
        sshPort: String(SSH_PORT),
        port: String(APP_PORT),
        bindAddress: "127.0.0.1",
        dependencySource: "debian",
        buildNetwork: "host",
    });
    await ws.setSecret(STACK, "sshPrivateKey", fs.readFileSync(keyFile, "utf8"));
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    for (const c of instances()) spawnSync("docker", ["rm", "-f", c]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/ec2-systemd under the real engine, AWS API stood in for: up launches an instance and serves the app; a second preview changes nothing", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    expect(outputs.sshCommand).toBe(`ssh -p ${SSH_PORT} admin@127.0.0.1`);
    expect(httpGet(URL)).toEqual({ status: "200", body: FIRST });
    expect(instances()).toHaveLength(1);
    // cloud-init ran the rendered user data on the instance: the app user exists.
    expect(execFileSync("docker", ["exec", instances()[0], "id", "-un", "lisp-app"], { encoding: "utf8" }).trim()).toBe("lisp-app");

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);

    // A newer Debian AMI appears (getAmi answers another id): Ec2Host ignores it, the instance stays.
    const newerAmi = new PulumiWorkspace(ws.projectDir, scratch, { ...standInEnv(), LISP_DEPLOY_AWS_STANDIN_AMI: "ami-0fedcba9876543210" });
    expect(changedResources(await newerAmi.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]))).toEqual([]);
});

test("an app source change previews as image and release only, never the host; up serves the new text on the same instance", async () => {
    const before = instances();
    setGreeting(appDir, SECOND_GREETING);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    // What a reviewer reads: the image rebuilt, the release's steps run again; no aws:ec2 resource, and not
    // the host's readiness command (hello-host-cloud-init).
    expect(changedResources(preview)).toEqual(RELEASE_ONLY);
    expect(preview).not.toMatch(/aws:ec2/);
    expect(preview).not.toContain("hello-host-");

    await ws.ok(["up", "--yes", "--stack", STACK]);
    expect(httpGet(URL)).toEqual({ status: "200", body: `${SECOND_GREETING} (hello 1.0.0)\n` });
    expect(instances()).toEqual(before);
});

test("a release that fails its health check fails the update with the journal's lines and rolls back: the old version keeps serving", async () => {
    breakAppStart(appDir);
    expectRolledBack(await ws.up(STACK), URL, `${SECOND_GREETING} (hello 1.0.0)\n`);
});

test("destroy terminates the instance and leaves nothing: no container, no key pair, nothing answering", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect(instances()).toEqual([]);
    expect(fs.readdirSync(path.join(scratch, "aws-account", "key-pairs"))).toEqual([]);
    expect(httpGet(URL).status).toBe("000");
});

test("the AWS stand-in's Diff replaces where pulumi-aws's schema says ForceNew, and only there", () => {
    const instance = "aws:ec2/instance:Instance";
    const base = { ami: "ami-1", instanceType: "t3.small", keyName: "k", userData: "#cloud-config\n", userDataReplaceOnChange: true, vpcSecurityGroupIds: ["sg-a", "sg-b"], tags: { Name: "h" } };
    const diff = (change: Record<string, unknown>, olds: Record<string, unknown> = base) => diffInputs(instance, olds, { ...olds, ...change });
    expect(diff({})).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(diff({ userData: "#cloud-config\npackages: [curl]\n" }).replaces).toEqual(["userData"]);
    expect(diff({ userData: "x" }, { ...base, userDataReplaceOnChange: false })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(diff({ ami: "ami-2" }).replaces).toEqual(["ami"]);
    expect(diff({ instanceType: "t3.medium" })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(diff({ vpcSecurityGroupIds: ["sg-b", "sg-a"] }).changes).toBe(false);
    expect(diff({ tags: { Name: "h2" } }).replaces).toEqual([]);
    expect(diff({ rootBlockDevice: { encrypted: false } }, { ...base, rootBlockDevice: { encrypted: true, volumeSize: 16 } }).replaces).toEqual(["rootBlockDevice"]);
    expect(diff({ rootBlockDevice: { encrypted: true, volumeSize: 20 } }, { ...base, rootBlockDevice: { encrypted: true, volumeSize: 16 } })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(diffInputs("aws:ec2/keyPair:KeyPair", { keyName: "k", publicKey: "a" }, { keyName: "k", publicKey: "b" }).replaces).toEqual(["publicKey"]);
    expect(diffInputs("aws:ec2/securityGroup:SecurityGroup", { name: "n", description: "d", ingress: [] }, { name: "n", description: "d", ingress: [{ fromPort: 22 }] }).replaces).toEqual([]);
});

test("the AWS stand-in's Diff of the load balancer family (hosts: 2) replaces where pulumi-aws's schema says ForceNew, and only there", () => {
    const change = (type: string, olds: Record<string, unknown>, news: Record<string, unknown>) => diffInputs(`aws:${type}`, olds, { ...olds, ...news });
    const update = { changes: true, replaces: [], deleteBeforeReplace: false };

    const alb = { name: "hello-lb-alb-1a2b3c4", loadBalancerType: "application", internal: false, securityGroups: ["sg-a"], subnets: ["subnet-a", "subnet-b"], dropInvalidHeaderFields: true, tags: { app: "hello" } };
    expect(change("lb/loadBalancer:LoadBalancer", alb, {})).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(change("lb/loadBalancer:LoadBalancer", alb, { subnets: ["subnet-b", "subnet-a"] }).changes).toBe(false);
    // An application load balancer's subnets and groups change in place (the ForceNewIf is for network load balancers).
    expect(change("lb/loadBalancer:LoadBalancer", alb, { subnets: ["subnet-a", "subnet-c"], securityGroups: ["sg-b"], dropInvalidHeaderFields: false, tags: {} })).toEqual(update);
    expect(change("lb/loadBalancer:LoadBalancer", alb, { internal: true }).replaces).toEqual(["internal"]);
    expect(change("lb/loadBalancer:LoadBalancer", alb, { name: "other" }).replaces).toEqual(["name"]);
    expect(change("lb/loadBalancer:LoadBalancer", alb, { loadBalancerType: "network" }).replaces).toEqual(["loadBalancerType"]);

    const healthCheck = { enabled: true, protocol: "HTTP", path: "/healthz", matcher: "200", interval: 10, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 2 };
    const tg = { name: "hello-lb-tg-1a2b3c4", port: 8080, protocol: "HTTP", targetType: "instance", vpcId: "vpc-1", healthCheck, deregistrationDelay: 30 };
    expect(change("lb/targetGroup:TargetGroup", tg, { healthCheck: { ...healthCheck, path: "/up", interval: 30 }, deregistrationDelay: 10, tags: { a: "b" } })).toEqual(update);
    expect(change("lb/targetGroup:TargetGroup", tg, { port: 8081 }).replaces).toEqual(["port"]);
    expect([...(change("lb/targetGroup:TargetGroup", tg, { vpcId: "vpc-2", protocol: "HTTPS" }).replaces ?? [])].sort()).toEqual(["protocol", "vpcId"]);
    expect(change("lb/targetGroup:TargetGroup", tg, { targetType: "ip" }).replaces).toEqual(["targetType"]);

    const listener = { loadBalancerArn: "arn:lb/1", port: 80, protocol: "HTTP", defaultActions: [{ type: "forward", targetGroupArn: "arn:tg/1" }] };
    expect(change("lb/listener:Listener", listener, { port: 8080, defaultActions: [{ type: "forward", targetGroupArn: "arn:tg/2" }] })).toEqual(update);
    expect(change("lb/listener:Listener", listener, { loadBalancerArn: "arn:lb/2" }).replaces).toEqual(["loadBalancerArn"]);

    // A target group attachment has no update: every argument replaces it.
    const attachment = { targetGroupArn: "arn:tg/1", targetId: "i-1", port: 8080 };
    expect(change("lb/targetGroupAttachment:TargetGroupAttachment", attachment, { targetId: "i-2" }).replaces).toEqual(["targetId"]);
    expect(change("lb/targetGroupAttachment:TargetGroupAttachment", attachment, { port: 8081 }).replaces).toEqual(["port"]);
    expect(change("lb/targetGroupAttachment:TargetGroupAttachment", attachment, { targetGroupArn: "arn:tg/2" }).replaces).toEqual(["targetGroupArn"]);

    for (const rule of ["vpc/securityGroupIngressRule:SecurityGroupIngressRule", "vpc/securityGroupEgressRule:SecurityGroupEgressRule"]) {
        const olds = { securityGroupId: "sg-a", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv4: "0.0.0.0/0", description: "HTTP" };
        expect(change(rule, olds, { fromPort: 8080, toPort: 8080, cidrIpv4: "10.0.0.0/8", description: "x" })).toEqual(update);
        expect(change(rule, olds, { securityGroupId: "sg-b" }).replaces).toEqual(["securityGroupId"]);
    }
    // Anything the stand-in does not implement fails loudly rather than being half-imitated.
    expect(() => diffInputs("aws:lb/listenerRule:ListenerRule", {}, {})).toThrow(/does not implement aws:lb\/listenerRule:ListenerRule/);
});
