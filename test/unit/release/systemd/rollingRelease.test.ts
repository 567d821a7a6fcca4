import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { AppLoadBalancer, AppLoadBalancerArgs, planLoadBalancer } from "../../../../src/host/loadBalancer";
import { RollingRelease } from "../../../../src/release/systemd/rollingRelease";

// Unit layer: the Pulumi engine and the AWS API are stood in for by RecordingMocks (exact inputs recorded).

let mocks: RecordingMocks;
const settle = () => new Promise((r) => setTimeout(r, 100));
const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n";

describe("RollingRelease (Pulumi engine stood in for by RecordingMocks)", () => {
    let dir: string;
    let exe: string;
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "rolling-unit-"));
        exe = path.join(dir, "hello");
        fs.writeFileSync(exe, "content to hash", { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    beforeEach(async () => {
        mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    });

    const hosts = [
        { connection: { host: "10.0.0.1", port: 22, user: "admin", privateKey: key } },
        { connection: { host: "10.0.0.2", port: 22, user: "admin", privateKey: key }, port: 9090 },
    ];

    test("one SystemdRelease per host, in order, each depending on the one before", async () => {
        const r = new RollingRelease("web", { hosts, app: "hello", executable: { file: exe }, port: 8080 });
        expect(await valueOf(r.urls)).toEqual(["http://10.0.0.1:8080/", "http://10.0.0.2:9090/"]);
        await settle();
        expect(mocks.ofType("lisp-deploy:index:SystemdRelease").map((x) => x.name)).toEqual(["web-host0", "web-host1"]);
        // Host 1's first step waits for host 0's component, i.e. all of host 0's steps.
        const host1Prepare = mocks.resources.find((x) => x.name === "web-host1-prepare")!;
        expect(host1Prepare.inputs.create).toContain("prepare.sh");
        expect(mocks.resources[0].inputs).toEqual({});
    });

    test("the second host's release registers only after the first host's activation was answered", async () => {
        new RollingRelease("order", { hosts, app: "hello", executable: { file: exe }, port: 8080 });
        await settle();
        const names = mocks.resources.map((x) => x.name);
        expect(names.indexOf("order-host1-prepare")).toBeGreaterThan(names.indexOf("order-host0-activate"));
    });

    test.each([
        [{ hosts: [] }, "args.hosts"],
        [{ hosts: [{ connection: undefined }] }, "args.hosts[0].connection"],
        [{ hosts: [hosts[0], { ...hosts[1], port: 70000 }] }, "args.hosts[1].port"],
    ])("rejects %j naming %s", (patch, field) => {
        const call = () => new RollingRelease("bad", { app: "hello", executable: { file: exe }, port: 8080, ...(patch as any) });
        expect(call).toThrow(ValidationError);
        expect(call).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")}`));
    });
});

test("AppLoadBalancer's schema is inferable for multi-language use: plain inputs only", async () => {
    const provider = new ComponentProvider({ components: [AppLoadBalancer], name: "lisp-deploy", dirname: process.cwd(), version: "0.1.0" });
    const schema = JSON.parse(await provider.getSchema());
    const lb = schema.resources["lisp-deploy:index:AppLoadBalancer"];
    expect(lb.isComponent).toBe(true);
    expect([...lb.requiredInputs].sort()).toEqual(["instanceIds", "port", "subnetIds", "vpcId"]);
    expect(Object.keys(lb.properties).sort()).toEqual(["dnsName", "securityGroupId", "targetGroupArn", "targetSecurityGroupId", "url"]);
});

describe("AppLoadBalancer (AWS API and Pulumi engine stood in for by RecordingMocks)", () => {
    beforeEach(async () => {
        mocks = new RecordingMocks(async (a) =>
            a.type === "aws:lb/loadBalancer:LoadBalancer" ? { dnsName: "web-123.eu-west-1.elb.amazonaws.com", arn: "arn:aws:elasticloadbalancing:lb/web" }
            : a.type === "aws:lb/targetGroup:TargetGroup" ? { arn: "arn:aws:elasticloadbalancing:tg/web" }
            : undefined,
        );
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    });
    const args = (patch: Partial<AppLoadBalancerArgs> = {}): AppLoadBalancerArgs => ({
        vpcId: "vpc-1",
        subnetIds: ["subnet-a", "subnet-b"],
        instanceIds: ["i-1", "i-2"],
        port: 8080,
        healthCheckPath: "/healthz",
        ...patch,
    });
    const one = (type: string, name: string) => mocks.ofType(type).find((x) => x.name === name)!.inputs;

    test("HTTP: ALB, target group with the app's health check, one listener forwarding, one attachment per instance", async () => {
        const lb = new AppLoadBalancer("web", args());
        expect(await valueOf(lb.url)).toBe("http://web-123.eu-west-1.elb.amazonaws.com/");
        expect(await valueOf(lb.targetSecurityGroupId)).toBe("web-targets-sg-id");
        await settle();
        expect(one("aws:lb/loadBalancer:LoadBalancer", "web-alb")).toEqual({
            loadBalancerType: "application", internal: false, securityGroups: ["web-lb-sg-id"], subnets: ["subnet-a", "subnet-b"], dropInvalidHeaderFields: true,
        });
        expect(one("aws:lb/targetGroup:TargetGroup", "web-tg")).toEqual({
            port: 8080, protocol: "HTTP", targetType: "instance", vpcId: "vpc-1", deregistrationDelay: 30,
            healthCheck: { enabled: true, protocol: "HTTP", path: "/healthz", matcher: "200", interval: 10, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 2 },
        });
        expect(mocks.ofType("aws:lb/listener:Listener").map((x) => x.inputs)).toEqual([
            { loadBalancerArn: "arn:aws:elasticloadbalancing:lb/web", port: 80, protocol: "HTTP", defaultActions: [{ type: "forward", targetGroupArn: "arn:aws:elasticloadbalancing:tg/web" }] },
        ]);
        expect(mocks.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment").map((x) => [x.name, x.inputs])).toEqual([
            ["web-target0", { targetGroupArn: "arn:aws:elasticloadbalancing:tg/web", targetId: "i-1", port: 8080 }],
            ["web-target1", { targetGroupArn: "arn:aws:elasticloadbalancing:tg/web", targetId: "i-2", port: 8080 }],
        ]);
    });

    test("security groups: the ALB open on 80 to the world, the app port open to the ALB's group only", async () => {
        new AppLoadBalancer("web", args());
        await settle();
        const ingress = mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((x) => [x.name, x.inputs]);
        expect(ingress).toEqual([
            ["web-lb-in-80-v4", { securityGroupId: "web-lb-sg-id", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv4: "0.0.0.0/0", description: "HTTP from anywhere" }],
            ["web-lb-in-80-v6", { securityGroupId: "web-lb-sg-id", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv6: "::/0", description: "HTTP from anywhere" }],
            ["web-targets-in", { securityGroupId: "web-targets-sg-id", ipProtocol: "tcp", fromPort: 8080, toPort: 8080, referencedSecurityGroupId: "web-lb-sg-id", description: "app port from the load balancer only" }],
        ]);
        expect(mocks.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((x) => x.inputs)).toEqual([
            { securityGroupId: "web-lb-sg-id", ipProtocol: "tcp", fromPort: 8080, toPort: 8080, referencedSecurityGroupId: "web-targets-sg-id", description: "to the hosts' app port" },
        ]);
        // No rule anywhere opens the app port to a CIDR.
        for (const [, inputs] of ingress as [string, any][]) {
            if (inputs.fromPort === 8080) expect(inputs.cidrIpv4 ?? inputs.cidrIpv6).toBeUndefined();
        }
    });

    test("with a certificate: HTTPS on 443 forwards, 80 redirects, 443 open to the world", async () => {
        const lb = new AppLoadBalancer("tls", args({ certificateArn: "arn:aws:acm:cert/1" }));
        expect(await valueOf(lb.url)).toBe("https://web-123.eu-west-1.elb.amazonaws.com/");
        await settle();
        expect(mocks.ofType("aws:lb/listener:Listener").map((x) => [x.name, x.inputs])).toEqual([
            ["tls-http", { loadBalancerArn: "arn:aws:elasticloadbalancing:lb/web", port: 80, protocol: "HTTP", defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }] }],
            ["tls-https", { loadBalancerArn: "arn:aws:elasticloadbalancing:lb/web", port: 443, protocol: "HTTPS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", certificateArn: "arn:aws:acm:cert/1", defaultActions: [{ type: "forward", targetGroupArn: "arn:aws:elasticloadbalancing:tg/web" }] }],
        ]);
        expect(mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((x) => x.name)).toEqual([
            "tls-lb-in-80-v4", "tls-lb-in-80-v6", "tls-lb-in-443-v4", "tls-lb-in-443-v6", "tls-targets-in",
        ]);
    });

    test.each([
        [{ instanceIds: [] }, "args.instanceIds"],
        [{ port: 0 }, "args.port"],
        [{ healthCheckPath: "healthz" }, "args.healthCheckPath"],
        [{ healthCheckStatus: 503 }, "args.healthCheckStatus"],
        [{ deregistrationDelaySeconds: -1 }, "args.deregistrationDelaySeconds"],
    ])("rejects %j naming %s", (patch, field) => {
        expect(() => planLoadBalancer(args(patch as any))).toThrow(ValidationError);
        expect(() => new AppLoadBalancer("bad", args(patch as any))).toThrow(new RegExp(`^${field.replace(/\./g, "\\.")}`));
    });
});
