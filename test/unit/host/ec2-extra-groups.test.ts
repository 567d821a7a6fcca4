import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { renderUserData } from "../../../src/host/cloudInit";
import { Ec2Host, Ec2HostArgs } from "../../../src/host/ec2Host";
import { valueOf } from "../../harness/mocks";
import { drain, installFakeAws, PRIVATE_KEY, PUBLIC_KEY } from "./host.fixtures";

// Ec2Host's `extraSecurityGroupIds` under a stand-in for AWS's API and the Pulumi engine (RecordingMocks):
// what the instance would be asked for, not what AWS does with it.

const args: Ec2HostArgs = {
    instanceType: "t3.small",
    publicKey: PUBLIC_KEY,
    privateKey: pulumi.secret(PRIVATE_KEY),
    sshCidrs: ["203.0.113.7/32"],
};

async function instanceInputs(a: Ec2HostArgs) {
    const fake = installFakeAws();
    const host = new Ec2Host("web", a);
    await valueOf(host.connection);
    await drain();
    return { fake, instance: fake.mocks.ofType("aws:ec2/instance:Instance")[0].inputs };
}

describe("Ec2Host extraSecurityGroupIds (stand-in for AWS's API)", () => {
    test("the instance gets its own group first, then the extra ones in the order given (exact instance input)", async () => {
        const balancerGroup = pulumi.output("sg-balancer-targets");
        const { fake, instance } = await instanceInputs({ ...args, publicPorts: [], extraSecurityGroupIds: [balancerGroup, "sg-monitoring"] });
        expect(instance).toEqual({
            ami: "ami-debian12-amd64",
            instanceType: "t3.small",
            vpcSecurityGroupIds: ["web-sg-id", "sg-balancer-targets", "sg-monitoring"],
            associatePublicIpAddress: true,
            keyName: "web-key-generated",
            userData: renderUserData(),
            userDataReplaceOnChange: true,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 16, encrypted: true, deleteOnTermination: true, tags: { Name: "web" } },
            tags: { Name: "web" },
        });
        // With no public ports, the host's own group opens SSH to the named networks and nothing to the world.
        const sg = fake.mocks.ofType("aws:ec2/securityGroup:SecurityGroup")[0].inputs;
        expect(sg.ingress).toEqual([{ description: "ssh from the named networks", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"] }]);
    });

    test("an empty list and no list record the same instance: only the host's own group", async () => {
        const none = (await instanceInputs(args)).instance;
        const empty = (await instanceInputs({ ...args, extraSecurityGroupIds: [] })).instance;
        expect(none.vpcSecurityGroupIds).toEqual(["web-sg-id"]);
        expect(empty).toEqual(none);
    });

    test("a single id instead of a list is refused before anything is registered, naming the field", () => {
        const fake = installFakeAws();
        const call = () => new Ec2Host("bad", { ...args, extraSecurityGroupIds: "sg-1" as any });
        expect(call).toThrow(ValidationError);
        expect(call).toThrow(/^args\.extraSecurityGroupIds: .*list/);
        expect(fake.mocks.resources).toEqual([]);
    });
});
