import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { renderUserData } from "../../../src/host/cloudInit";
import { Ec2Host, Ec2HostArgs } from "../../../src/host/ec2Host";
import { SSH_FROM_ANYWHERE_TAG, SSH_PORT_TAG } from "../../../src/host/firewall";
import { CLOUD_INIT_WAIT_SCRIPT } from "../../../src/host/readiness";
import {
    SSH_FROM_ANYWHERE_TAG as POLICY_SSH_FROM_ANYWHERE_TAG,
    SSH_PORT_TAG as POLICY_SSH_PORT_TAG,
} from "../../../src/policy/policies";
import { isSecretOutput, valueOf } from "../../harness/mocks";
import { policyViolations } from "../../harness/policy";
import { drain, installFakeAws, plainJson, PRIVATE_KEY, PRIVATE_KEY_BODY, PUBLIC_KEY } from "./host.fixtures";

// These tests stand in for AWS's API and the Pulumi engine (RecordingMocks): they check what Ec2Host
// would ask AWS for, not that AWS does it.

const args: Ec2HostArgs = {
    instanceType: "t4g.small",
    publicKey: PUBLIC_KEY,
    privateKey: pulumi.secret(PRIVATE_KEY),
    sshCidrs: ["203.0.113.7/32"],
};

async function build(a: Ec2HostArgs, name = "web") {
    const fake = installFakeAws();
    const host = new Ec2Host(name, a);
    const connection = await valueOf(host.connection);
    await drain();
    const inputs = (type: string) => fake.mocks.ofType(type).map((r) => r.inputs);
    return { fake, host, connection, inputs };
}

describe("Ec2Host (stand-in for AWS's API)", () => {
    test("records exactly the children a host needs, named after the component", async () => {
        const { fake } = await build(args);
        expect(fake.mocks.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            "aws:ec2/instance:Instance web-instance",
            "aws:ec2/keyPair:KeyPair web-key",
            "aws:ec2/securityGroup:SecurityGroup web-sg",
            "command:remote:Command web-cloud-init",
            "lisp-deploy:index:Ec2Host web",
        ]);
        // The component registers no args: nothing (no secret) is stored with it.
        expect(fake.mocks.ofType("lisp-deploy:index:Ec2Host")[0].inputs).toEqual({});
    });

    test("looks up the newest Debian 12 AMI for the type's architecture, in the default VPC", async () => {
        const { fake, host, inputs } = await build(args);
        const ami = fake.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi")!;
        expect(ami.inputs).toEqual({
            owners: ["136693071363"],
            mostRecent: true,
            filters: [
                { name: "name", values: ["debian-12-arm64-*"] },
                { name: "architecture", values: ["arm64"] },
                { name: "virtualization-type", values: ["hvm"] },
                { name: "root-device-type", values: ["ebs"] },
            ],
        });
        expect(fake.calls.find((c) => c.token === "aws:ec2/getVpc:getVpc")!.inputs).toEqual({ default: true });
        expect(inputs("aws:ec2/instance:Instance")[0].ami).toBe("ami-debian12-arm64");
        expect(inputs("aws:ec2/securityGroup:SecurityGroup")[0].vpcId).toBe("vpc-default0");
        expect(await valueOf(host.arch)).toBe("arm64");
    });

    test("the security group: 80 and 443 to the world, SSH from the named CIDR only, out on 80 and 443", async () => {
        const { inputs } = await build(args);
        const world = { cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] };
        expect(inputs("aws:ec2/securityGroup:SecurityGroup")[0]).toEqual({
            description: "lisp-deploy host web: public ports, SSH from named networks",
            vpcId: "vpc-default0",
            ingress: [
                { description: "public port 80", protocol: "tcp", fromPort: 80, toPort: 80, ...world },
                { description: "public port 443", protocol: "tcp", fromPort: 443, toPort: 443, ...world },
                { description: "ssh from the named networks", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] },
            ],
            egress: [
                { description: "outbound port 80", protocol: "tcp", fromPort: 80, toPort: 80, ...world },
                { description: "outbound port 443", protocol: "tcp", fromPort: 443, toPort: 443, ...world },
            ],
            tags: { Name: "web" },
        });
    });

    test("the instance: IMDSv2 required, encrypted gp3 root, user data from renderUserData, replaced when it changes", async () => {
        const { inputs } = await build({ ...args, rootVolumeSizeGiB: 30, tags: { team: "blog", Env: "prod" } });
        const tags = { Env: "prod", Name: "web", team: "blog" };
        const instance = inputs("aws:ec2/instance:Instance")[0];
        expect(instance).toEqual({
            ami: "ami-debian12-arm64",
            instanceType: "t4g.small",
            vpcSecurityGroupIds: ["web-sg-id"],
            associatePublicIpAddress: true,
            keyName: "web-key-generated",
            userData: renderUserData(),
            userDataReplaceOnChange: true,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 30, encrypted: true, deleteOnTermination: true, tags },
            tags,
        });
        expect(Object.keys(instance.tags)).toEqual(["Env", "Name", "team"]);
        expect(inputs("aws:ec2/keyPair:KeyPair")[0]).toEqual({ publicKey: PUBLIC_KEY, tags });
    });

    test("Docker raises the IMDS hop limit to 2 so containers reach IMDSv2, and adds Docker to the user data", async () => {
        const { inputs } = await build({ ...args, docker: true, reverseProxy: "caddy" });
        const instance = inputs("aws:ec2/instance:Instance")[0];
        expect(instance.metadataOptions.httpPutResponseHopLimit).toBe(2);
        expect(instance.metadataOptions.httpTokens).toBe("required");
        expect(instance.userData).toBe(renderUserData({ docker: true, reverseProxy: "caddy" }));
    });

    test("an Elastic IP is attached when asked for, and becomes the address", async () => {
        const { inputs, host, connection } = await build({ ...args, elasticIp: true });
        expect(inputs("aws:ec2/eip:Eip")).toEqual([{ domain: "vpc", instance: "web-instance-id", tags: { Name: "web" } }]);
        expect(await valueOf(host.address)).toBe("198.51.100.20");
        expect(connection.host).toBe("198.51.100.20");
    });

    test("an explicit AMI and subnet are used as given (no AMI lookup), the VPC comes from the subnet", async () => {
        const { fake, inputs } = await build({ ...args, instanceType: "t3.small", ami: "ami-0123456789abcdef0", subnetId: "subnet-0abc" });
        expect(fake.calls.map((c) => c.token)).toEqual(["aws:ec2/getSubnet:getSubnet"]);
        expect(inputs("aws:ec2/instance:Instance")[0]).toMatchObject({ ami: "ami-0123456789abcdef0", subnetId: "subnet-0abc" });
        expect(inputs("aws:ec2/securityGroup:SecurityGroup")[0].vpcId).toBe("vpc-given0");
    });

    test("the connection waits for cloud-init: it resolves only after the readiness command ran, over SSH to the address", async () => {
        const fake = installFakeAws();
        const host = new Ec2Host("web", args);
        const readyWhenResolved = await valueOf(host.connection.apply(() => fake.readinessRan.value));
        expect(readyWhenResolved).toBe(true);
        await drain();
        const ready = fake.mocks.ofType("command:remote:Command")[0].inputs;
        expect(ready.create).toBe(CLOUD_INIT_WAIT_SCRIPT);
        expect(ready.triggers).toEqual(["web-instance-id"]);
        expect(plainJson(ready.connection)).toBe('"[secret]"');
    });

    test("under preview the host is planned in full while its connection stays unknown (nothing has run)", async () => {
        const fake = installFakeAws(true);
        const host = new Ec2Host("web", args);
        await drain();
        expect(fake.mocks.resources.map((r) => r.type).sort()).toEqual([
            "aws:ec2/instance:Instance",
            "aws:ec2/keyPair:KeyPair",
            "aws:ec2/securityGroup:SecurityGroup",
            "command:remote:Command",
            "lisp-deploy:index:Ec2Host",
        ]);
        expect(fake.mocks.ofType("aws:ec2/instance:Instance")[0].inputs.userData).toBe(renderUserData());
        expect(await (host.connection as any).isKnown).toBe(false);
        expect(fake.readinessRan.value).toBe(false);
    });

    test("the private key stays secret end to end and never appears in plain form in any recorded input", async () => {
        const { fake, host, connection } = await build({ ...args, elasticIp: true, docker: true });
        expect(connection).toEqual({ host: "198.51.100.20", port: 22, user: "admin", privateKey: PRIVATE_KEY });
        expect(await isSecretOutput(host.connection)).toBe(true);
        const everything = fake.mocks.resources.map((r) => r.inputs);
        expect(JSON.stringify(everything)).toContain(PRIVATE_KEY_BODY.slice(0, 20)); // it is there, wrapped
        expect(plainJson(everything)).not.toContain(PRIVATE_KEY_BODY);
        expect(plainJson(fake.calls.map((c) => c.inputs))).not.toContain(PRIVATE_KEY_BODY);
        for (const out of [host.address, host.arch, host.instanceId, host.securityGroupId]) {
            expect(JSON.stringify(await valueOf(out as pulumi.Output<unknown>))).not.toContain(PRIVATE_KEY_BODY);
            expect(await isSecretOutput(out as pulumi.Output<unknown>)).toBe(false);
        }
    });

    test("a private key passed as a plain string is made secret anyway", async () => {
        const { fake, host } = await build({ ...args, privateKey: PRIVATE_KEY });
        expect(await isSecretOutput(host.connection)).toBe(true);
        expect(plainJson(fake.mocks.resources.map((r) => r.inputs))).not.toContain(PRIVATE_KEY_BODY);
    });

    test("the same args give byte-identical child inputs (previews stay quiet)", async () => {
        const first = (await build({ ...args, tags: { b: "2", a: "1" }, sshCidrs: ["10.0.0.0/8", "192.0.2.0/24"] })).fake.mocks.resources;
        const second = (await build({ ...args, tags: { a: "1", b: "2" }, sshCidrs: ["192.0.2.0/24", "10.0.0.0/8"] })).fake.mocks.resources;
        expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    });
});

describe("Ec2Host passes the project's policy pack (stand-in for AWS's API and the policy engine)", () => {

    test("the pack's opt-in and SSH-port tags are the ones Ec2Host writes", () => {
        expect(SSH_FROM_ANYWHERE_TAG).toBe(POLICY_SSH_FROM_ANYWHERE_TAG);
        expect(SSH_PORT_TAG).toBe(POLICY_SSH_PORT_TAG);
    });

    test("a moved SSH port is tagged on the group, so the pack checks it: open to the world without opt-in, it is reported", async () => {
        const { fake } = await build({ ...args, sshPort: 2230, sshCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true });
        const group = fake.mocks.resources.find((r) => r.type === "aws:ec2/securityGroup:SecurityGroup")!;
        expect(group.inputs.tags).toEqual(expect.objectContaining({ [SSH_PORT_TAG]: "2230", [SSH_FROM_ANYWHERE_TAG]: "true" }));
        expect(await policyViolations(fake.mocks.resources)).toEqual([]);
        const withoutOptIn = fake.mocks.resources.map((r) =>
            r === group ? { ...r, inputs: { ...r.inputs, tags: { Name: "web", [SSH_PORT_TAG]: "2230" } } } : r,
        );
        expect(await policyViolations(withoutOptIn)).toEqual([expect.stringMatching(/web-sg opens SSH \(port 2230\) to 0\.0\.0\.0\/0/)]);
    });

    test.each([
        ["default", {}],
        ["docker, reverse proxy, Elastic IP", { docker: true, reverseProxy: "nginx" as const, elasticIp: true }],
        ["SSH from anywhere, opted in", { sshCidrs: ["0.0.0.0/0", "::/0"], allowSshFromAnywhere: true }],
    ])("%s: no violation", async (_name, change) => {
        const { fake } = await build({ ...args, ...change });
        expect(await policyViolations(fake.mocks.resources)).toEqual([]);
    });

    test("the check can fail: the same group without its opt-in tag is reported", async () => {
        const { fake } = await build({ ...args, sshCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true });
        const stripped = fake.mocks.resources.map((r) =>
            r.type === "aws:ec2/securityGroup:SecurityGroup" ? { ...r, inputs: { ...r.inputs, tags: { Name: "web" } } } : r,
        );
        expect(await policyViolations(stripped)).toEqual([expect.stringMatching(/^lisp-deploy-ssh-not-open-to-world: web-sg opens SSH \(port 22\) to 0\.0\.0\.0\/0/)]);
    });
});

describe("Ec2Host keeps apps and releases away from the host (stand-in for AWS's API)", () => {
    // A stand-in release: what SystemdRelease does with a host (copy and restart over its connection).
    function program(app: { name: string; version: string; port: number }) {
        const fake = installFakeAws();
        const host = new Ec2Host("web", { ...args, publicPorts: [80, 443] });
        new command.remote.Command(`${app.name}-release`, {
            connection: host.connection,
            create: `systemctl restart ${app.name} # ${app.version} on ${app.port}`,
        });
        return fake;
    }

    test("two programs differing only in the app a release ships record identical host inputs", async () => {
        const a = program({ name: "blog", version: "1.0.0", port: 8080 });
        await drain();
        const b = program({ name: "shop", version: "2.3.1", port: 9090 });
        await drain();
        const hostPart = (fake: ReturnType<typeof installFakeAws>) => fake.mocks.resources.filter((r) => r.name === "web" || r.name.startsWith("web-"));
        expect(hostPart(a).length).toBe(5);
        expect(JSON.stringify(hostPart(b))).toBe(JSON.stringify(hostPart(a)));
        // ...while the releases did differ, so the comparison could have failed.
        const release = (fake: ReturnType<typeof installFakeAws>) => fake.mocks.resources.filter((r) => r.name.endsWith("-release"));
        expect(release(a)[0].inputs.create).not.toBe(release(b)[0].inputs.create);
    });
});

describe("Ec2Host refuses bad input at construction, before anything is registered", () => {
    test.each([
        [{ instanceType: "t4g.small", platform: "linux/amd64" as const }, /^args\.instanceType: "t4g\.small" is arm64, but the image is built for linux\/amd64; choose an amd64 type/],
        [{ instanceType: "t3.small", platform: "linux/arm64" as const }, /^args\.instanceType: "t3\.small" is amd64, but the image is built for linux\/arm64; choose an arm64 \(Graviton\) type/],
        [{ instanceType: "tiny" }, /^args\.instanceType: "tiny" is not an EC2 instance type/],
        [{ sshCidrs: ["0.0.0.0/0"] }, /^args\.sshCidrs\[0\]: "0\.0\.0\.0\/0" opens SSH to the whole Internet/],
        [{ sshCidrs: ["10.0.0.300/32"] }, /^args\.sshCidrs\[0\]: .* is not a valid IPv4 or IPv6 CIDR/],
        [{ sshCidrs: undefined }, /^args\.sshCidrs: is required/],
        [{ publicPorts: [70000] }, /^args\.publicPorts\[0\]: must be a whole number from 1 to 65535; got 70000\./],
        [{ publicKey: undefined }, /^args\.publicKey: is required/],
        [{ publicKey: PRIVATE_KEY }, /^args\.publicKey: holds a private key/],
        [{ privateKey: undefined }, /^args\.privateKey: is required/],
        [{ privateKey: "" }, /^args\.privateKey: is required/],
        [{ rootVolumeSizeGiB: 4 }, /^args\.rootVolumeSizeGiB: must be a whole number of GiB from 8/],
        [{ sshUser: "Admin" }, /^args\.sshUser: "Admin" is not a valid user name/],
        [{ appUser: "root" }, /^args\.appUser: "root" is an existing system account/],
        [{ tags: { "aws:owner": "me" } }, /^args\.tags\.aws:owner: tag keys starting with "aws:" are reserved/],
    ])("%j", async (change, message) => {
        const fake = installFakeAws(true);
        expect(() => new Ec2Host("web", { ...args, ...(change as Partial<Ec2HostArgs>) })).toThrow(ValidationError);
        expect(() => new Ec2Host("web2", { ...args, ...(change as Partial<Ec2HostArgs>) })).toThrow(message);
        await drain();
        expect(fake.mocks.resources).toEqual([]); // not even the component itself
    });

    test("SSH from anywhere is allowed with the explicit opt-in, which the group carries as a tag", async () => {
        const { inputs } = await build({ ...args, sshCidrs: ["0.0.0.0/0"], allowSshFromAnywhere: true, tags: { team: "blog" } });
        const group = inputs("aws:ec2/securityGroup:SecurityGroup")[0];
        expect(group.ingress[2].cidrBlocks).toEqual(["0.0.0.0/0"]);
        expect(group.tags).toEqual({ Name: "web", "lisp-deploy:ssh-from-anywhere": "true", team: "blog" });
        expect(Object.keys(group.tags)).toEqual(["Name", "lisp-deploy:ssh-from-anywhere", "team"]);
        // Only the group: the instance's tags stay the user's.
        expect(inputs("aws:ec2/instance:Instance")[0].tags).toEqual({ Name: "web", team: "blog" });
    });
});
