import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { WebApp, WebAppArgs } from "../../../src/app/webApp";
import { RecordedResource, RecordingMocks, unwrapSecrets, valueOf } from "../../harness/mocks";
import { policyViolations } from "../../harness/policy";
import { readProject, runProgram, setStackConfig } from "../../harness/program";
import { PRIVATE_KEY, PUBLIC_KEY } from "../host/host.fixtures";

/**
 * Lets every registration of the run reach its mocks before the next run installs new ones; longer than
 * the harness's settle() because on a loaded 2-core machine a straggler would land in the next run.
 */
const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));

// The example programs and WebApp's targets under a stand-in for the Pulumi engine and for AWS's API (no
// build, no host, no cloud): resources answer with what the providers would compute, derived from their
// inputs (a new image digest for a new build context, a new release id for a new image), so what a
// preview would show can be compared run against run. Only these stand-ins are fake; the programs,
// components, renderers and the policy pack are the real ones.

const ROOT = path.resolve(__dirname, "../../..");
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** A stand-in for the Pulumi engine and AWS that answers like the providers would, from the inputs. */
function standInMocks(): RecordingMocks {
    return new RecordingMocks(
        async (args) => {
            const inputs = unwrapSecrets(args.inputs);
            switch (args.type) {
                case "docker:index/image:Image":
                    // A build's digest follows its context (the context hash is in the tag).
                    return { repoDigest: `sha256:${sha(inputs.imageName)}` };
                case "aws:ec2/instance:Instance":
                    return { publicIp: "198.51.100.10" };
                case "aws:ec2/keyPair:KeyPair":
                    return { keyName: `${args.name}-generated` };
                case "command:local:Command":
                    // The release id of an extracted executable follows the image it came from.
                    return { stdout: args.name.endsWith("-extract") ? sha(inputs.create).slice(0, 12) : "ok" };
                case "command:remote:Command":
                    return { stdout: "ok" };
                case "pulumi-nodejs:dynamic:HerokuRelease":
                    return { webUrl: `https://${inputs.app}.herokuapp.com/`, imageId: "sha256:1", releasedImage: "r", manifestDigest: "sha256:2" };
                default:
                    return undefined;
            }
        },
        (args) => {
            switch (args.token) {
                case "aws:ec2/getAmi:getAmi":
                    return { id: "ami-debian12-amd64" };
                case "aws:ec2/getVpc:getVpc":
                    return { id: "vpc-default0" };
                default:
                    throw new Error(`unexpected invoke ${args.token}`);
            }
        },
    );
}

/** Config and secrets each example needs (what `pulumi config set` would hold). */
const EXAMPLE_CONFIG: Record<string, { values: Record<string, string>; secrets: Record<string, string> }> = {
    local: { values: { dependencySource: "debian", networkMode: "host", buildNetwork: "host", port: "18530" }, secrets: {} },
    "ec2-systemd": {
        values: { sshPublicKey: PUBLIC_KEY, sshCidrs: JSON.stringify(["203.0.113.7/32"]), swankPort: "4005" },
        secrets: { sshPrivateKey: PRIVATE_KEY, apiToken: "token-value-never-shown" },
    },
    "ssh-host": { values: { host: "vps.example.com", user: "deploy" }, secrets: { sshPrivateKey: PRIVATE_KEY } },
    heroku: { values: { herokuApp: "lisp-hello" }, secrets: { herokuApiKey: "heroku-key-never-shown" } },
};

/** Runs an example program, unmodified, under the stand-in; returns what it registered and exported. */
async function runExample(example: string, extra: Record<string, string> = {}) {
    const project = readProject(path.join(ROOT, "examples", example, "Pulumi.yaml"));
    const mocks = standInMocks();
    await pulumi.runtime.setMocks(mocks, project.name, "dev", false);
    setStackConfig(project, { ...EXAMPLE_CONFIG[example].values, ...extra }, EXAMPLE_CONFIG[example].secrets);
    const outputs = await runProgram(project.programDir);
    await quiet();
    return { resources: mocks.resources, outputs };
}

/** The resources whose inputs differ between two runs, as `type name` (added and removed ones too). */
function changed(a: RecordedResource[], b: RecordedResource[]): string[] {
    const index = (rs: RecordedResource[]) => new Map(rs.map((r) => [`${r.type} ${r.name}`, JSON.stringify(r.inputs)]));
    const [x, y] = [index(a), index(b)];
    return [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).sort();
}

describe("every example program under the stand-in, checked by the policy pack", () => {
    test.each(Object.keys(EXAMPLE_CONFIG))("examples/%s: runs unmodified, and the four policies find no violation", async (example) => {
        const { resources, outputs } = await runExample(example);
        expect(resources.length).toBeGreaterThan(3);
        expect(outputs.url).toMatch(/^https?:\/\//);
        expect(await policyViolations(resources)).toEqual([]);
        // No secret of the config appears in plain text in any resource input.
        for (const r of resources) {
            const plain = JSON.stringify(r.inputs, (_k, v) => (v && typeof v === "object" && v[rpc.specialSigKey] === rpc.specialSecretSig ? "[secret]" : v));
            for (const secret of Object.values(EXAMPLE_CONFIG[example].secrets)) expect(plain).not.toContain(secret.split("\n")[1] ?? secret);
        }
    });

    test("examples/ec2-systemd with sshPort: the security group opens that port to sshCidrs only, and the host is reached on it", async () => {
        const { resources, outputs } = await runExample("ec2-systemd", { sshPort: "2230" });
        const [sg] = resources.filter((r) => r.type === "aws:ec2/securityGroup:SecurityGroup");
        const ssh = sg.inputs.ingress.filter((rule: any) => rule.description === "ssh from the named networks");
        expect(ssh).toEqual([expect.objectContaining({ fromPort: 2230, toPort: 2230, cidrBlocks: ["203.0.113.7/32"] })]);
        expect(sg.inputs.ingress.some((rule: any) => rule.fromPort === 22)).toBe(false);
        const [ready] = resources.filter((r) => r.name === "hello-host-cloud-init");
        expect(unwrapSecrets(ready.inputs.connection).port).toBe(2230);
        expect(outputs.sshCommand).toBe("ssh -p 2230 admin@198.51.100.10");
    });

    test("the check bites: a plain secret-looking variable, and SSH opened to the world behind the component's back", async () => {
        const { resources } = await runExample("ec2-systemd");
        const tampered = resources.map((r) =>
            r.type === "aws:ec2/securityGroup:SecurityGroup"
                ? { ...r, inputs: { ...r.inputs, ingress: [...r.inputs.ingress, { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] } }
                : r,
        );
        expect((await policyViolations(tampered)).filter((v) => v.startsWith("lisp-deploy-ssh-not-open-to-world"))).toHaveLength(1);

        const mocks = standInMocks();
        await pulumi.runtime.setMocks(mocks, "webapp-unit", "dev", false);
        const app = new WebApp("leaky", { app: { path: "examples/hello", dependencySource: { kind: "debian" }, environment: { DATABASE_PASSWORD: "hunter2" } }, target: { local: { port: 18531 } } });
        await valueOf(app.url);
        await quiet();
        const violations = await policyViolations(mocks.resources);
        expect(violations).toHaveLength(1);
        expect(violations[0]).toMatch(/no-plain-secret-env: .*DATABASE_PASSWORD/);
        expect(violations[0]).not.toContain("hunter2");
    });
});

describe("previews worth reading: what a change touches", () => {
    const COPY = ".lisp-deploy/test-apps/webapp-preview-hello";

    beforeAll(() => {
        fs.rmSync(COPY, { recursive: true, force: true });
        fs.cpSync(path.join(ROOT, "examples/hello"), COPY, { recursive: true });
    });
    afterAll(() => fs.rmSync(COPY, { recursive: true, force: true }));

    const ec2Target: WebAppArgs["target"] = {
        kind: "ec2",
        ec2: { instanceType: "t3.small", publicKey: PUBLIC_KEY, privateKey: pulumi.secret(PRIVATE_KEY), sshCidrs: ["203.0.113.7/32"] },
    };
    const localTarget: WebAppArgs["target"] = { local: { port: 18532, networkMode: "host" } };

    async function run(target: WebAppArgs["target"], environment: Record<string, string>) {
        const mocks = standInMocks();
        await pulumi.runtime.setMocks(mocks, "webapp-preview", "dev", false);
        const app = new WebApp("hello", { app: { path: COPY, dependencySource: { kind: "debian" }, environment, healthPath: "/healthz" }, target });
        await valueOf(app.url);
        await quiet();
        return { resources: mocks.resources, unit: await valueOf(app.unit), dockerfile: await valueOf(app.dockerfile), userData: await valueOf(app.userData) };
    }
    function editSource(greeting: string) {
        const file = path.join(COPY, "src/app.lisp");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/\(defparameter \+greeting\+ "[^"]*"/, `(defparameter +greeting+ "${greeting}"`));
    }

    test("ec2: the same program twice records identical resource inputs; the rendered unit and user data are outputs", async () => {
        editSource("one");
        const first = await run(ec2Target, { GREETING: "hi" });
        const second = await run(ec2Target, { GREETING: "hi" });
        expect(changed(first.resources, second.resources)).toEqual([]);
        expect(JSON.stringify(second.resources)).not.toContain(ROOT);
        expect(first.unit).toContain("ExecStart=/opt/hello/current/hello");
        expect(first.unit).toContain("GREETING=hi");
        expect(first.userData).toMatch(/^#cloud-config/);
        expect(first.dockerfile).toContain("AS runtime");
    });

    test("ec2: an app source change touches only the image and the release, never the host", async () => {
        editSource("one");
        const before = await run(ec2Target, {});
        editSource("two");
        const after = await run(ec2Target, {});
        const diff = changed(before.resources, after.resources);
        expect(diff).toEqual([
            "command:local:Command hello-release-extract",
            "command:remote:Command hello-release-activate",
            "command:remote:Command hello-release-prepare",
            "command:remote:CopyToRemote hello-release-upload",
            "docker:index/image:Image hello-image-image",
        ]);
        expect(diff.filter((k) => k.startsWith("aws:") || k.includes("-host"))).toEqual([]);
    });

    test("ec2: a config change (a new environment variable) touches only the release, not the image, not the host", async () => {
        editSource("one");
        const before = await run(ec2Target, {});
        const after = await run(ec2Target, { FEATURE_FLAG: "on" });
        expect(changed(before.resources, after.resources)).toEqual(["command:remote:Command hello-release-activate"]);
        expect(after.unit).toContain("FEATURE_FLAG=on");
    });

    test("local: a source change rebuilds the image and replaces the container; a new variable replaces only the container", async () => {
        editSource("one");
        const base = await run(localTarget, {});
        const same = await run(localTarget, {});
        expect(changed(base.resources, same.resources)).toEqual([]);
        editSource("two");
        const source = await run(localTarget, {});
        expect(changed(base.resources, source.resources)).toEqual([
            "command:local:Command hello-release-health",
            "docker:index/container:Container hello-release-container",
            "docker:index/image:Image hello-image-image",
        ]);
        editSource("one");
        const config = await run(localTarget, { FEATURE_FLAG: "on" });
        expect(changed(base.resources, config.resources)).toEqual([
            "command:local:Command hello-release-health",
            "docker:index/container:Container hello-release-container",
        ]);
    });
});
