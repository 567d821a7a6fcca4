import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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

const ROOT = path.resolve(__dirname, "../..");
const ENV_SCRIPT = path.join(ROOT, "scripts/pulumi-env.sh");
const POLICY_PACK = path.join(ROOT, "policy-pack");
const STEP_TIMEOUT_MS = 5 * 60 * 1000;

let work = "";
let project = "";
let fakeBin = "";

interface Ran {
    code: number;
    out: string;
}

/** Runs the real `pulumi` with the repository's offline settings (sourced) in the throwaway project. */
function pulumi(args: string[]): Ran {
    const r = spawnSync("bash", ["-c", `source "${ENV_SCRIPT}" && PATH="${fakeBin}:$PATH" && exec pulumi "$@"`, "pulumi", ...args], {
        cwd: project,
        encoding: "utf8",
        timeout: STEP_TIMEOUT_MS,
        env: {
            ...process.env,
            PULUMI_HOME: path.join(work, "pulumi-home"),
            PULUMI_CONFIG_PASSPHRASE: "policy-pack-test",
            NO_COLOR: "1",
        },
    });
    if (r.error) throw new Error(`pulumi ${args.join(" ")}: ${r.error.message}`);
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function pulumiOk(args: string[]): string {
    const r = pulumi(args);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.out.slice(-8000)}`);
    return r.out;
}

/** A preview of `scenario` with the pack, on its own stack. */
function previewWithPack(scenario: string): Ran {
    pulumiOk(["stack", "init", scenario, "--non-interactive"]);
    pulumiOk(["config", "set", "scenario", scenario, "--stack", scenario]);
    return pulumi(["preview", "--non-interactive", "--stack", scenario, "--policy-pack", POLICY_PACK]);
}

// The aws provider stand-in, for previews only: Check returns the inputs, Diff finds nothing, the default-VPC
// lookup answers a fixed id. Any other invoke, and any real operation (up, refresh), fails loudly.
// An Instance's checked inputs also carry a documentation address as publicIp (a preview's outputs are the
// checked inputs): with it unknown, Ec2Host's readiness command would get a secret wrapping an unknown
// connection, which the command stand-in's Check rejects ("property connection value {[secret]} has a
// problem: must be an object"), a stand-in limitation unrelated to the policies under test.
const FAKE_AWS = `#!/usr/bin/env node
"use strict";
const provider = require(${JSON.stringify(path.join(ROOT, "node_modules/@pulumi/pulumi/provider"))});
provider.main({
    version: "7.48.0",
    // urn:pulumi:<stack>::<project>::<parent types$>type::name
    check: async (urn, olds, news) =>
        ({ inputs: urn.split("::")[2].endsWith("aws:ec2/instance:Instance") ? { ...news, publicIp: "192.0.2.10" } : news }),
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
    const version = spawnSync("bash", ["-c", `source "${ENV_SCRIPT}" && pulumi version`], { encoding: "utf8" });
    if (version.status !== 0) {
        throw new Error(
            "policy-pack integration test: the real Pulumi CLI is not available (`pulumi version` failed after sourcing " +
                `scripts/pulumi-env.sh: ${`${version.stdout}${version.stderr}`.trim() || version.error?.message}). ` +
                "Build it with scripts/setup-pulumi.sh; this test does not skip.",
        );
    }
    for (const built of ["bin/index.js", "bin/policy/pack.js"]) {
        if (!fs.existsSync(path.join(ROOT, built))) {
            throw new Error(`policy-pack integration test: ${built} is missing; run \`npm run build\` first.`);
        }
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), "policy-pack-it-"));
    project = path.join(work, "project");
    fakeBin = path.join(work, "bin");
    fs.mkdirSync(project);
    fs.mkdirSync(fakeBin);
    fs.mkdirSync(path.join(work, "state"));
    fs.writeFileSync(path.join(fakeBin, "pulumi-resource-aws"), FAKE_AWS, { mode: 0o755 });

    // The program's node_modules: this repository's packages, and lisp-deploy itself -> this checkout (as
    // `npm install lisp-deploy` would give an infra repository; one @pulumi/pulumi for both).
    const modules = path.join(project, "node_modules");
    fs.mkdirSync(modules);
    for (const entry of fs.readdirSync(path.join(ROOT, "node_modules"))) {
        if (entry !== "lisp-deploy" && !entry.startsWith(".")) fs.symlinkSync(path.join(ROOT, "node_modules", entry), path.join(modules, entry));
    }
    fs.symlinkSync(ROOT, path.join(modules, "lisp-deploy"));

    fs.writeFileSync(
        path.join(project, "Pulumi.yaml"),
        "name: policy-pack-it\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n" +
            `backend:\n  url: file://${path.join(work, "state")}\n`,
    );
    fs.writeFileSync(path.join(project, "package.json"), `${JSON.stringify({ name: "policy-pack-it", private: true, main: "index.js" })}\n`);
    fs.writeFileSync(path.join(project, "index.js"), PROGRAM);
    const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "policy-pack-it", "-f", path.join(project, "key")], { encoding: "utf8" });
    if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
});

afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("policy pack under the real pulumi CLI", () => {
    test("a program using Ec2Host as documented passes every policy", () => {
        const r = previewWithPack("documented");
        expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringContaining("lisp-deploy@v0.1.0") });
        // The pack ran (it is listed as passed) and saw the resources: nothing reported, nothing failed.
        expect(r.out).toMatch(/✅ lisp-deploy@v0\.1\.0 \(local: .*policy-pack\)/);
        expect(r.out).not.toMatch(/\[mandatory\]|\[advisory\]/);
        expect(r.out).toMatch(/\+\s+aws:ec2:SecurityGroup\s+web-sg\s+create/);
        expect(r.out).toMatch(/\+\s+aws:ec2:Instance\s+web-instance\s+create/);
    });

    test("a rule opening the host's SSH to 0.0.0.0/0 without the opt-in fails the preview with the policy's message", () => {
        const r = previewWithPack("ssh-rule");
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/❌ lisp-deploy@v0\.1\.0/);
        expect(r.out).toContain("[mandatory]  lisp-deploy-ssh-not-open-to-world  (aws:ec2:SecurityGroupRule: debug-ssh)");
        expect(r.out).toContain("debug-ssh opens SSH (port 22) to 0.0.0.0/0.");
        // The opted-in bastion and the documented host are not reported.
        expect(r.out).not.toMatch(/ (web|bastion)-sg opens SSH/);
    });

    test("a security group reaching the Swank port fails the preview with the policy's message", () => {
        const r = previewWithPack("swank-group");
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("[mandatory]  lisp-deploy-no-swank-port  (aws:ec2:SecurityGroup: swank)");
        expect(r.out).toContain("swank opens the Swank port 4005.");
    });
});
