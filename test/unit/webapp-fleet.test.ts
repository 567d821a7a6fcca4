import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { ValidationError } from "../../src/errors";
import { lispDeployPolicies } from "../../src/policy/policies";
import { Ec2TargetArgs, WebApp, WebAppArgs } from "../../src/app/webApp";
import { RecordedResource, RecordingMocks, valueOf } from "../harness/mocks";
import { readProject, runProgram, setStackConfig } from "../harness/program";
import { PRIVATE_KEY, PUBLIC_KEY } from "./hostFixtures";

// WebApp's ec2 target with several hosts behind an AWS load balancer, under a stand-in for the Pulumi
// engine and for AWS's API (RecordingMocks answering like the providers would, from the inputs): these
// tests check what WebApp asks AWS and the hosts for, not that AWS does it. The components, renderers and
// the policy pack are the real ones.

const ROOT = path.resolve(__dirname, "../..");
const GOLDEN = path.join(__dirname, "fixtures", "webapp-ec2-single-host.json");
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
/** Lets every registration reach the mocks before the next run installs new ones (see webapp-examples). */
const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));

function unwrap(value: any): any {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value && typeof value === "object" && !pulumi.asset.Asset.isInstance(value)) {
        if (value[rpc.specialSigKey] === rpc.specialSecretSig) return unwrap(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
    }
    return value;
}

/** What happened, in order: a registration, and the moment the stand-in answered it. */
type Event = `register ${string}` | `answer ${string}`;

/**
 * A stand-in for the Pulumi engine and AWS: instances get a public IP per host, the load balancer a DNS
 * name, the default VPC three default subnets (answered in an order that is not sorted, as AWS may).
 * Remote commands answer after a short delay, like a real command, so a release that did not wait for
 * the previous host's would register before that host's activation was answered.
 */
function standInMocks(events: Event[] = []): RecordingMocks {
    const calls: string[] = [];
    return new RecordingMocks(
        async (args) => {
            events.push(`register ${args.name}`);
            const inputs = unwrap(args.inputs);
            let answer: Record<string, any> | undefined;
            switch (args.type) {
                case "docker:index/image:Image":
                    answer = { repoDigest: `sha256:${sha(inputs.imageName)}` };
                    break;
                case "aws:ec2/instance:Instance": {
                    const i = /-host(\d+)-instance$/.exec(args.name);
                    answer = { publicIp: `198.51.100.${10 + (i ? Number(i[1]) : 0)}` };
                    break;
                }
                case "aws:ec2/keyPair:KeyPair":
                    answer = { keyName: `${args.name}-generated` };
                    break;
                case "aws:lb/loadBalancer:LoadBalancer":
                    answer = { dnsName: "hello-123.eu-west-1.elb.amazonaws.com", arn: "arn:aws:elasticloadbalancing:lb/hello" };
                    break;
                case "aws:lb/targetGroup:TargetGroup":
                    answer = { arn: "arn:aws:elasticloadbalancing:tg/hello" };
                    break;
                case "command:local:Command":
                    answer = { stdout: args.name.endsWith("-extract") ? sha(inputs.create).slice(0, 12) : "ok" };
                    break;
                case "command:remote:Command":
                    await new Promise((r) => setTimeout(r, 20));
                    answer = { stdout: "ok" };
                    break;
            }
            events.push(`answer ${args.name}`);
            return answer;
        },
        (args) => {
            calls.push(args.token);
            switch (args.token) {
                case "aws:ec2/getAmi:getAmi":
                    return { id: "ami-debian12-amd64" };
                case "aws:ec2/getVpc:getVpc":
                    return { id: "vpc-default0" };
                case "aws:ec2/getSubnets:getSubnets":
                    return { ids: ["subnet-c", "subnet-a", "subnet-b"], filters: args.inputs.filters };
                case "aws:ec2/getSubnet:getSubnet":
                    return { id: args.inputs.id, vpcId: args.inputs.id.startsWith("subnet-given") ? "vpc-given0" : "vpc-default0" };
                default:
                    throw new Error(`unexpected invoke ${args.token}`);
            }
        },
    );
}

const ec2 = (patch: Partial<Ec2TargetArgs> = {}): Ec2TargetArgs => ({
    instanceType: "t3.small",
    publicKey: PUBLIC_KEY,
    privateKey: pulumi.secret(PRIVATE_KEY),
    sshCidrs: ["203.0.113.7/32"],
    ...patch,
});
const appArgs = (target: Ec2TargetArgs): WebAppArgs => ({
    app: { path: "examples/hello", dependencySource: { kind: "debian" }, environment: { GREETING: "hi" }, healthPath: "/healthz" },
    target: { kind: "ec2", ec2: target },
});

/** Runs one WebApp under a fresh stand-in; returns what it registered and its app. */
async function run(target: Ec2TargetArgs, events: Event[] = []) {
    const mocks = standInMocks(events);
    await pulumi.runtime.setMocks(mocks, "webapp-fleet", "dev", false);
    const app = new WebApp("hello", appArgs(target));
    await valueOf(app.url);
    await quiet();
    return { mocks, app, resources: mocks.resources };
}

/** A recorded run as comparable JSON: `type name` and the exact inputs, secrets kept wrapped. */
const recorded = (resources: RecordedResource[]) => resources.map((r) => ({ resource: `${r.type} ${r.name}`, inputs: r.inputs })).sort((a, b) => a.resource.localeCompare(b.resource));

describe("WebApp ec2 target, one host (the default): unchanged by the fleet option (AWS API stood in for)", () => {
    test("without `hosts` the program records the same resources and inputs as main did before `hosts` existed", async () => {
        const { resources } = await run(ec2({ swankPort: 4005 }));
        const now = recorded(resources);
        if (process.env.LISP_DEPLOY_RECORD_GOLDEN === "1") {
            fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
            fs.writeFileSync(GOLDEN, JSON.stringify(now, null, 1) + "\n");
        }
        const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8"));
        expect(JSON.parse(JSON.stringify(now))).toEqual(golden);
    });
});
