import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { Ec2TargetArgs, WebApp, WebAppArgs } from "../../../src/app/webApp";
import { RecordedResource, RecordingMocks, unwrapSecrets, valueOf } from "../../harness/mocks";
import { policyViolations } from "../../harness/policy";
import { readProject, runProgram, setStackConfig } from "../../harness/program";
import { PRIVATE_KEY, PUBLIC_KEY } from "../host/host.fixtures";

// WebApp's ec2 target with several hosts behind an AWS load balancer, under a stand-in for the Pulumi
// engine and for AWS's API (RecordingMocks answering like the providers would, from the inputs): these
// tests check what WebApp asks AWS and the hosts for, not that AWS does it. The components, renderers and
// the policy pack are the real ones. That it does it: test/integration/examples-ec2-fleet-engine.test.ts runs
// examples/ec2-systemd with hosts: 2 under the real engine, two instances of their own behind a real
// balancer (the AWS stand-in plugin).

const ROOT = path.resolve(__dirname, "../../..");
const GOLDEN = path.join(__dirname, "..", "..", "fixtures", "webapp-ec2-single-host.json");
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
/** Lets every registration reach the mocks before the next run installs new ones (see webapp-examples). */
const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));

/** What happened, in order: a registration, and the moment the stand-in answered it. */
type Event = `register ${string}` | `answer ${string}`;

/**
 * A stand-in for the Pulumi engine and AWS: instances get a public IP per host, the load balancer a DNS
 * name, the default VPC three default subnets (answered in an order that is not sorted, as AWS may).
 * Remote commands answer after a short delay, like a real command, so a release that did not wait for
 * the previous host's would register before that host's activation was answered.
 */
function standInMocks(events: Event[] = [], opts: { failing?: string; calls?: pulumi.runtime.MockCallArgs[] } = {}): RecordingMocks {
    const calls = opts.calls ?? [];
    return new RecordingMocks(
        async (args) => {
            events.push(`register ${args.name}`);
            const inputs = unwrapSecrets(args.inputs);
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
                    // A failed health check: the release script exits non-zero, so the provider fails the command.
                    // Like the real engine: a failed resource never answers, so nothing that depends on it
                    // ever runs.
                    if (args.name === opts.failing) {
                        events.push(`answer ${args.name}`);
                        return new Promise<never>(() => undefined);
                    }
                    answer = { stdout: "ok" };
                    break;
            }
            events.push(`answer ${args.name}`);
            return answer;
        },
        (args) => {
            calls.push(args);
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
async function run(target: Ec2TargetArgs, events: Event[] = [], calls: pulumi.runtime.MockCallArgs[] = []) {
    const mocks = standInMocks(events, { calls });
    await pulumi.runtime.setMocks(mocks, "webapp-fleet", "dev", false);
    const app = new WebApp("hello", appArgs(target));
    await valueOf(app.url);
    await quiet();
    return { mocks, app, resources: mocks.resources };
}

/** A recorded run as comparable JSON: `type name` and the exact inputs, secrets kept wrapped. */
const recorded = (resources: RecordedResource[]) => resources.map((r) => ({ resource: `${r.type} ${r.name}`, inputs: r.inputs })).sort((a, b) => a.resource.localeCompare(b.resource));

// The golden was first recorded by this test at main's commit before `hosts` existed
// (LISP_DEPLOY_RECORD_GOLDEN=1), and re-recorded since only for deliberate changes to what the single
// host records (the release scripts now carry lib/common.sh). It holds the image's context hash and the
// scripts' text, so a deliberate change to examples/hello or to the image/release renderers means
// recording it again; a change to it from the fleet option never should.
describe("WebApp ec2 target, one host (the default): unchanged by the fleet option (AWS API stood in for)", () => {
    test("without `hosts` the program records exactly the single-host resources and inputs of the golden", async () => {
        const { resources } = await run(ec2({ swankPort: 4005 }));
        const now = recorded(resources);
        if (process.env.LISP_DEPLOY_RECORD_GOLDEN === "1") {
            fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
            fs.writeFileSync(GOLDEN, JSON.stringify(now, null, 1) + "\n");
        }
        const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8"));
        expect(JSON.parse(JSON.stringify(now))).toEqual(golden);
    });

    test("`hosts: 1` records exactly what leaving it out records", async () => {
        const { resources } = await run(ec2({ swankPort: 4005, hosts: 1 }));
        expect(JSON.parse(JSON.stringify(recorded(resources)))).toEqual(JSON.parse(fs.readFileSync(GOLDEN, "utf8")));
    });
});

describe("WebApp ec2 target with two hosts behind a load balancer (AWS API and Pulumi engine stood in for)", () => {
    let fleet: Awaited<ReturnType<typeof run>>;
    const events: Event[] = [];
    const calls: pulumi.runtime.MockCallArgs[] = [];
    beforeAll(async () => {
        fleet = await run(ec2({ hosts: 2, swankPort: 4005, tags: { team: "blog" } }), events, calls);
    });
    const inputsOf = (type: string) => fleet.mocks.ofType(type).map((r) => [r.name, unwrapSecrets(r.inputs)]);
    const one = (name: string) => unwrapSecrets(fleet.resources.find((r) => r.name === name)!.inputs);

    test("two hosts named <name>-host<i>, one balancer, one rolling release; no single-host children", () => {
        const components = fleet.resources.filter((r) => r.type.startsWith("lisp-deploy:")).map((r) => `${r.type} ${r.name}`).sort();
        expect(components).toEqual([
            "lisp-deploy:index:AppLoadBalancer hello-lb",
            "lisp-deploy:index:Ec2Host hello-host0",
            "lisp-deploy:index:Ec2Host hello-host1",
            "lisp-deploy:index:LispImage hello-image",
            "lisp-deploy:index:RollingRelease hello-release",
            "lisp-deploy:index:SystemdRelease hello-release-host0",
            "lisp-deploy:index:SystemdRelease hello-release-host1",
            "lisp-deploy:index:WebApp hello",
        ]);
        for (const r of fleet.resources.filter((x) => x.type.startsWith("lisp-deploy:"))) expect(r.inputs).toEqual({});
    });

    test("the hosts are spread over the default VPC's default subnets, sorted, whatever order AWS lists them in", () => {
        const lookup = calls.find((c) => c.token === "aws:ec2/getSubnets:getSubnets")!;
        expect(lookup.inputs).toEqual({ filters: [{ name: "vpc-id", values: ["vpc-default0"] }, { name: "default-for-az", values: ["true"] }] });
        expect(inputsOf("aws:ec2/instance:Instance").map(([n, i]) => [n, i.subnetId])).toEqual([
            ["hello-host0-instance", "subnet-a"],
            ["hello-host1-instance", "subnet-b"],
        ]);
    });

    test("each instance carries its own group and the balancer's target group; its own group opens nothing to the world", () => {
        expect(inputsOf("aws:ec2/instance:Instance").map(([n, i]) => [n, i.vpcSecurityGroupIds])).toEqual([
            ["hello-host0-instance", ["hello-host0-sg-id", "hello-lb-targets-sg-id"]],
            ["hello-host1-instance", ["hello-host1-sg-id", "hello-lb-targets-sg-id"]],
        ]);
        for (const name of ["hello-host0-sg", "hello-host1-sg"]) {
            expect(one(name).ingress).toEqual([{ description: "ssh from the named networks", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] }]);
        }
    });

    test("the balancer: ALB over all the subnets, target group health-checking the app's path, one HTTP listener, one attachment per instance", () => {
        const tags = { team: "blog" };
        expect(one("hello-lb-alb")).toEqual({
            loadBalancerType: "application", internal: false, securityGroups: ["hello-lb-lb-sg-id"], subnets: ["subnet-a", "subnet-b", "subnet-c"], dropInvalidHeaderFields: true, tags,
        });
        expect(one("hello-lb-tg")).toEqual({
            port: 8080, protocol: "HTTP", targetType: "instance", vpcId: "vpc-default0", deregistrationDelay: 30, tags,
            healthCheck: { enabled: true, protocol: "HTTP", path: "/healthz", matcher: "200", interval: 10, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
        });
        expect(inputsOf("aws:lb/listener:Listener")).toEqual([
            ["hello-lb-http", { loadBalancerArn: "arn:aws:elasticloadbalancing:lb/hello", port: 80, protocol: "HTTP", defaultActions: [{ type: "forward", targetGroupArn: "arn:aws:elasticloadbalancing:tg/hello" }], tags }],
        ]);
        expect(inputsOf("aws:lb/targetGroupAttachment:TargetGroupAttachment")).toEqual([
            ["hello-lb-target0", { targetGroupArn: "arn:aws:elasticloadbalancing:tg/hello", targetId: "hello-host0-instance-id", port: 8080 }],
            ["hello-lb-target1", { targetGroupArn: "arn:aws:elasticloadbalancing:tg/hello", targetId: "hello-host1-instance-id", port: 8080 }],
        ]);
    });

    test("the app port is open to the balancer's group only: no rule anywhere opens it to a CIDR", () => {
        expect(one("hello-lb-targets-in")).toEqual({
            securityGroupId: "hello-lb-targets-sg-id", ipProtocol: "tcp", fromPort: 8080, toPort: 8080, referencedSecurityGroupId: "hello-lb-lb-sg-id", description: "app port from the load balancer only", tags: { team: "blog" },
        });
        for (const [, rule] of inputsOf("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) {
            if (rule.fromPort <= 8080 && 8080 <= rule.toPort) expect([rule.cidrIpv4, rule.cidrIpv6]).toEqual([undefined, undefined]);
        }
        for (const [, sg] of inputsOf("aws:ec2/securityGroup:SecurityGroup")) {
            for (const rule of sg.ingress ?? []) expect(rule.fromPort <= 8080 && 8080 <= rule.toPort).toBe(false);
        }
    });

    test("releases roll in host order: host 1's first step registers only after host 0's activation was answered", () => {
        const at = (e: Event) => events.indexOf(e);
        expect(at("answer hello-release-host0-activate")).toBeGreaterThan(-1);
        expect(at("register hello-release-host1-prepare")).toBeGreaterThan(at("answer hello-release-host0-activate"));
        // Each release goes to its own host, in order.
        const hostOf = (n: string) => one(n).connection.host;
        expect([hostOf("hello-release-host0-prepare"), hostOf("hello-release-host1-prepare")]).toEqual(["198.51.100.10", "198.51.100.11"]);
    });

    test("outputs: the balancer's URL, per-host SSH and Swank commands in host order, the first host's for the single outputs", async () => {
        const app = fleet.app;
        expect(await valueOf(app.url)).toBe("http://hello-123.eu-west-1.elb.amazonaws.com/");
        expect(await valueOf(app.sshCommands)).toEqual(["ssh -p 22 admin@198.51.100.10", "ssh -p 22 admin@198.51.100.11"]);
        expect(await valueOf(app.sshCommand)).toBe("ssh -p 22 admin@198.51.100.10");
        expect(await valueOf(app.swankTunnels)).toEqual([
            "ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@198.51.100.10",
            "ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@198.51.100.11",
        ]);
        expect(await valueOf(app.swankTunnel)).toBe("ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@198.51.100.10");
        expect(await valueOf(app.logsCommand)).toBe("ssh -p 22 admin@198.51.100.10 journalctl -fu hello.service");
        expect(await valueOf(app.unit)).toContain("ExecStart=/opt/hello/current/hello");
        expect(await valueOf(app.userData)).toMatch(/^#cloud-config/);
    });

    test("the policy pack finds no violation", async () => {
        expect(await policyViolations(fleet.resources)).toEqual([]);
    });

    test("the same program twice records identical inputs", async () => {
        const again = await run(ec2({ hosts: 2, swankPort: 4005, tags: { team: "blog" } }));
        expect(JSON.stringify(recorded(again.resources))).toBe(JSON.stringify(recorded(fleet.resources)));
    });
});

describe("WebApp ec2 fleet: the rest (AWS API and Pulumi engine stood in for)", () => {
    test("a failed release on host 0 stops the roll: host 1 is never touched", async () => {
        const events: Event[] = [];
        const mocks = standInMocks(events, { failing: "hello-release-host0-activate" });
        await pulumi.runtime.setMocks(mocks, "webapp-fleet", "dev", false);
        new WebApp("hello", appArgs(ec2({ hosts: 2 })));
        // Wait until the failure was answered, then longer than a whole successful roll takes here.
        for (let i = 0; i < 100 && !events.includes("answer hello-release-host0-activate"); i++) await quiet();
        for (let i = 0; i < 4; i++) await quiet();
        const names = mocks.resources.map((r) => r.name);
        expect(names).toContain("hello-release-host0-activate");
        expect(names).toContain("hello-host1-instance");
        expect(names.filter((n) => n.startsWith("hello-release-host1"))).toEqual([]);
    });

    test("given subnetIds: the VPC comes from the first, three hosts go round-robin, the balancer spans exactly those", async () => {
        const calls: pulumi.runtime.MockCallArgs[] = [];
        const { mocks } = await run(ec2({ hosts: 3, subnetIds: ["subnet-given-a", pulumi.output("subnet-given-b")] }), [], calls);
        expect(calls.map((c) => c.token).filter((t) => t === "aws:ec2/getSubnets:getSubnets" || t === "aws:ec2/getVpc:getVpc")).toEqual([]);
        expect(mocks.ofType("aws:ec2/instance:Instance").map((r) => r.inputs.subnetId)).toEqual(["subnet-given-a", "subnet-given-b", "subnet-given-a"]);
        const alb = mocks.ofType("aws:lb/loadBalancer:LoadBalancer")[0].inputs;
        expect(alb.subnets).toEqual(["subnet-given-a", "subnet-given-b"]);
        expect(mocks.ofType("aws:lb/targetGroup:TargetGroup")[0].inputs.vpcId).toBe("vpc-given0");
        expect(mocks.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment")).toHaveLength(3);
    });

    test.each([
        [{ hosts: 0 }, "args.target.ec2.hosts", /whole number from 1 to 20/],
        [{ hosts: 21 }, "args.target.ec2.hosts", /whole number from 1 to 20/],
        [{ hosts: 1.5 }, "args.target.ec2.hosts", /whole number/],
        [{ hosts: "2" }, "args.target.ec2.hosts", /whole number/],
        [{ hosts: 2, elasticIp: true }, "args.target.ec2.hosts", /remove elasticIp/],
        [{ hosts: 2, subnetId: "subnet-1" }, "args.target.ec2.hosts", /two availability zones; give subnetIds/],
        [{ hosts: 2, subnetIds: ["subnet-1"] }, "args.target.ec2.subnetIds", /at least two/],
        [{ hosts: 2, subnetIds: "subnet-1" }, "args.target.ec2.subnetIds", /list/],
        [{ hosts: 2, subnetIds: ["subnet-1", ""] }, "args.target.ec2.subnetIds[1]", /empty/],
        [{ subnetIds: ["subnet-1", "subnet-2"] }, "args.target.ec2.hosts", /set hosts to 2 or more/],
    ])("rejects %j at preview time naming %s, registering nothing", async (patch, field, why) => {
        const mocks = standInMocks();
        await pulumi.runtime.setMocks(mocks, "webapp-fleet", "dev", true);
        const call = () => new WebApp("hello", appArgs(ec2(patch as Partial<Ec2TargetArgs>)));
        expect(call).toThrow(ValidationError);
        expect(call).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")}: `));
        expect(call).toThrow(why);
        await quiet();
        expect(mocks.resources).toEqual([]);
    });

    test("zeroDowntime with two hosts: the balancer targets each host's proxy port, which only the balancer reaches", async () => {
        const { mocks, app } = await run(ec2({ hosts: 2, zeroDowntime: { proxy: "caddy", publicPort: 8000 } }));
        const tg = mocks.ofType("aws:lb/targetGroup:TargetGroup")[0].inputs;
        expect([tg.port, tg.healthCheck.path]).toEqual([8000, "/healthz"]);
        expect(mocks.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment").map((r) => r.inputs.port)).toEqual([8000, 8000]);
        const rule = mocks.resources.find((r) => r.name === "hello-lb-targets-in")!.inputs;
        expect([rule.fromPort, rule.toPort, rule.referencedSecurityGroupId, rule.cidrIpv4]).toEqual([8000, 8000, "hello-lb-lb-sg-id", undefined]);
        for (const sg of mocks.ofType("aws:ec2/securityGroup:SecurityGroup")) {
            expect((sg.inputs.ingress ?? []).map((r: any) => r.fromPort)).not.toContain(8000);
            expect((sg.inputs.ingress ?? []).map((r: any) => r.fromPort)).not.toContain(8080);
        }
        // Each host's release is a zero-downtime one: the activation switches slots behind the proxy.
        expect(unwrapSecrets(mocks.resources.find((r) => r.name === "hello-release-host1-activate")!.inputs).create).toContain("active-slot");
        expect(await valueOf(app.url)).toBe("http://hello-123.eu-west-1.elb.amazonaws.com/");
    });

    test("zeroDowntime on one host: the host opens the proxy's port to the world instead of the app's", async () => {
        const { mocks, app } = await run(ec2({ zeroDowntime: { proxy: "nginx" } }));
        const [sg] = mocks.ofType("aws:ec2/securityGroup:SecurityGroup");
        expect(sg.inputs.ingress.map((r: any) => [r.fromPort, r.cidrBlocks])).toEqual([[80, ["0.0.0.0/0"]], [22, ["203.0.113.7/32"]]]);
        expect(await valueOf(app.url)).toBe("http://198.51.100.10/");
    });

    test.each([
        [{ hosts: 2, zeroDowntime: { domain: "blog.example.com" } }, "args.target.ec2.zeroDowntime.domain", /TLS for several hosts ends at the load balancer/],
        [{ hosts: 2, zeroDowntime: {}, swankPort: 8081 }, "args.target.ec2.swankPort", /blue slot's Swank .* the green slot's app port \(args\.app\.port \+ 1\)/],
        [{ zeroDowntime: { publicPort: 8080 } }, "args.target.ec2.zeroDowntime.publicPort", /slot/],
    ])("rejects %j naming %s", (patch, field, why) => {
        const call = () => new WebApp("hello", appArgs(ec2(patch as Partial<Ec2TargetArgs>)));
        expect(call).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")}: `));
        expect(call).toThrow(why);
    });

    test("a health path the balancer cannot check is refused naming args.app.healthPath", () => {
        const args = appArgs(ec2({ hosts: 2 }));
        const call = () => new WebApp("hello", { ...args, app: { ...args.app, healthPath: "/health?deep=1" } });
        expect(call).toThrow(/^args\.app\.healthPath: .*load balancer/);
    });
});

describe("examples/ec2-systemd with the `hosts` config key (AWS API and Pulumi engine stood in for)", () => {
    const CONFIG = { sshPublicKey: PUBLIC_KEY, sshCidrs: JSON.stringify(["203.0.113.7/32"]) };

    test("hosts: 2 runs unmodified: a balancer URL, two hosts, and the policy pack finds no violation", async () => {
        const project = readProject(path.join(ROOT, "examples", "ec2-systemd", "Pulumi.yaml"));
        const mocks = standInMocks();
        await pulumi.runtime.setMocks(mocks, project.name, "dev", false);
        setStackConfig(project, { ...CONFIG, hosts: "2" }, { sshPrivateKey: PRIVATE_KEY });
        const outputs = await runProgram(project.programDir);
        await quiet();
        expect(outputs.url).toBe("http://hello-123.eu-west-1.elb.amazonaws.com/");
        expect(outputs.sshCommands).toEqual(["ssh -p 22 admin@198.51.100.10", "ssh -p 22 admin@198.51.100.11"]);
        expect(mocks.ofType("lisp-deploy:index:Ec2Host").map((r) => r.name)).toEqual(["hello-host0", "hello-host1"]);
        expect(mocks.ofType("aws:lb/targetGroup:TargetGroup")[0].inputs.healthCheck.path).toBe("/healthz");
        expect(await policyViolations(mocks.resources)).toEqual([]);
    });
});
