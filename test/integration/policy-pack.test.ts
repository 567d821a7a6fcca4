import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CliRun, pulumiEnvironment, PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";

// lisp-deploy's policy pack (policy-pack/, compiled from src/policy by `npm run build`) under the REAL Pulumi
// CLI: `pulumi preview --policy-pack <repo>/policy-pack` on throwaway stacks whose program uses the package
// (`require("lisp-deploy")`). The CLI starts a Node.js pack through the language host's RunPlugin, which
// tools/pulumi-language-nodejs provides; a pass here proves that path end to end.
//
// Ec2Host registers aws resources, and a preview asks the aws provider to Check each one before the policy
// pack sees its inputs. The aws provider plugin cannot be built here (and AWS is unreachable), so the test
// puts on PATH a test double named pulumi-resource-aws: a few lines over @pulumi/pulumi/provider that echo
// Check's inputs back, answer the vpc lookup Ec2Host makes, and never reach AWS. What the pack is shown is
// therefore exactly what the program registered. Nothing is skipped: without the CLI every test fails.

const POLICY_PACK = path.join(REPO_ROOT, "policy-pack");

let work = "";
let ws: PulumiWorkspace;

/** A preview of `scenario` with the pack, on its own stack. */
async function previewWithPack(scenario: string): Promise<CliRun> {
    await ws.initStack(scenario, { scenario });
    return ws.run(["preview", "--stack", scenario, "--policy-pack", POLICY_PACK]);
}

// The aws provider stand-in, for previews only: Check returns the inputs, Diff finds nothing, the default-VPC
// lookup answers a fixed id. Any other invoke, and any real operation (up, refresh), fails loudly.
const FAKE_AWS = `#!/usr/bin/env node
"use strict";
const provider = require(${JSON.stringify(path.join(REPO_ROOT, "node_modules/@pulumi/pulumi/provider"))});
provider.main({
    version: "7.48.0",
    // urn:pulumi:<stack>::<project>::<parent types$>type::name
    check: async (urn, olds, news) => ({ inputs: news }),
    diff: async () => ({ changes: false }),
    invoke: async (token) => {
        if (token === "aws:ec2/getVpc:getVpc") return { outputs: { id: "vpc-0policytest", default: true } };
        throw new Error("policy-pack test stand-in for pulumi-resource-aws: no " + token + " here (preview only)");
    },
}, process.argv.slice(2));
`;

const PROGRAM = `
"use strict";
const fs = require("fs");
const pulumi = require("@pulumi/pulumi");
const aws = require("@pulumi/aws");
const { Ec2Host } = require("lisp-deploy");
const scenario = new pulumi.Config().require("scenario");

const common = {
    instanceType: "t3.small",
    ami: "ami-0123456789abcdef0",
    publicKey: fs.readFileSync("key.pub", "utf8").trim(),
    privateKey: pulumi.secret(fs.readFileSync("key", "utf8")),
};
// As documented: SSH from one named network; and a host whose owner opted in to SSH from anywhere.
const host = new Ec2Host("web", { ...common, sshCidrs: ["203.0.113.7/32"] });
new Ec2Host("bastion", { ...common, sshCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true });

if (scenario === "ssh-rule") {
    // Tampered: a rule added beside the component opens the host's SSH to the world, without the opt-in.
    new aws.ec2.SecurityGroupRule("debug-ssh", {
        type: "ingress", securityGroupId: host.securityGroupId,
        protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"],
    });
}
if (scenario === "swank-group") {
    // Tampered: a security group reaching Swank from an office network.
    new aws.ec2.SecurityGroup("swank", {
        ingress: [{ protocol: "tcp", fromPort: 4005, toPort: 4005, cidrBlocks: ["198.51.100.0/24"] }],
    });
}
exports.securityGroupId = host.securityGroupId;
`;

beforeAll(() => {
    for (const built of ["bin/index.js", "bin/policy/pack.js"]) {
        if (!fs.existsSync(path.join(REPO_ROOT, built))) {
            throw new Error(`policy-pack integration test: ${built} is missing; run \`npm run build\` first.`);
        }
    }
    work = scratchDir("policy-pack-it");
    const project = path.join(work, "project");
    const fakeBin = path.join(work, "bin");
    fs.mkdirSync(fakeBin);
    fs.writeFileSync(path.join(fakeBin, "pulumi-resource-aws"), FAKE_AWS, { mode: 0o755 });
    writeProgram(project, "policy-pack-it", PROGRAM);
    // A JavaScript program: no ts-node for it or for the (JavaScript) pack.
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: policy-pack-it\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n");
    const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "policy-pack-it", "-f", path.join(project, "key")], { encoding: "utf8" });
    if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
    ws = new PulumiWorkspace(project, work, { PATH: `${fakeBin}:${pulumiEnvironment().PATH}` });
});

afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("policy pack under the real pulumi CLI", () => {
    test("a program using Ec2Host as documented passes every policy", async () => {
        const r = await previewWithPack("documented");
        expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringContaining("lisp-deploy@v0.1.0") });
        // The pack ran (it is listed as passed) and saw the resources: nothing reported, nothing failed.
        expect(r.out).toMatch(/✅ lisp-deploy@v0\.1\.0 \(local: .*policy-pack\)/);
        expect(r.out).not.toMatch(/\[mandatory\]|\[advisory\]/);
        expect(r.out).toMatch(/\+\s+aws:ec2:SecurityGroup\s+web-sg\s+create/);
        expect(r.out).toMatch(/\+\s+aws:ec2:Instance\s+web-instance\s+create/);
    });

    test("a rule opening the host's SSH to 0.0.0.0/0 without the opt-in fails the preview with the policy's message", async () => {
        const r = await previewWithPack("ssh-rule");
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/❌ lisp-deploy@v0\.1\.0/);
        expect(r.out).toContain("[mandatory]  lisp-deploy-ssh-not-open-to-world  (aws:ec2:SecurityGroupRule: debug-ssh)");
        expect(r.out).toContain("debug-ssh opens SSH (port 22) to 0.0.0.0/0.");
        // The opted-in bastion and the documented host are not reported.
        expect(r.out).not.toMatch(/ (web|bastion)-sg opens SSH/);
    });

    test("a security group reaching the Swank port fails the preview with the policy's message", async () => {
        const r = await previewWithPack("swank-group");
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("[mandatory]  lisp-deploy-no-swank-port  (aws:ec2:SecurityGroup: swank)");
        expect(r.out).toContain("swank opens the Swank port 4005.");
    });
});
