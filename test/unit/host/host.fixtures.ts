import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "../../harness/mocks";

/** Key text only the tests use; its body line is what the secret-leak checks search for. */
export const PRIVATE_KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAAunit-test-only-not-a-real-key";
export const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${PRIVATE_KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n`;
export const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostsUnitTestKey deployer@example";

/** What the stand-in for AWS's API answers, and the invokes it was asked. */
export interface FakeAws {
    mocks: RecordingMocks;
    calls: pulumi.runtime.MockCallArgs[];
    /** Set by the stand-in for the readiness command once it has "run". */
    readinessRan: { value: boolean };
}

/**
 * Installs a RecordingMocks that stands in for the Pulumi engine and AWS's API: invokes (getAmi,
 * getVpc, getSubnet) get fixed answers, created resources echo their inputs plus the few outputs AWS
 * would compute (ids, public IPs), and remote commands answer after a short delay, like a real wait.
 */
export function installFakeAws(preview = false): FakeAws {
    const calls: pulumi.runtime.MockCallArgs[] = [];
    const readinessRan = { value: false };
    const mocks = new RecordingMocks(
        async (args) => {
            switch (args.type) {
                case "aws:ec2/instance:Instance":
                    return { publicIp: "198.51.100.10", arn: "arn:aws:ec2:eu-west-1:123456789012:instance/i-0test" };
                case "aws:ec2/eip:Eip":
                    return { publicIp: "198.51.100.20" };
                case "aws:ec2/keyPair:KeyPair":
                    return { keyName: `${args.name}-generated` };
                case "command:remote:Command":
                    // Like the real provider, a preview runs no command, so its outputs stay unknown.
                    if (preview) return undefined;
                    await new Promise((r) => setTimeout(r, 30));
                    readinessRan.value = true;
                    return { stdout: "status: done" };
                default:
                    return undefined;
            }
        },
        (args) => {
            calls.push(args);
            switch (args.token) {
                case "aws:ec2/getAmi:getAmi":
                    return { id: `ami-debian12-${JSON.stringify(args.inputs.filters).includes("arm64") ? "arm64" : "amd64"}` };
                case "aws:ec2/getVpc:getVpc":
                    return { id: "vpc-default0", cidrBlock: "172.31.0.0/16" };
                case "aws:ec2/getSubnet:getSubnet":
                    return { id: args.inputs.id, vpcId: "vpc-given0" };
                default:
                    throw new Error(`unexpected invoke ${args.token}`);
            }
        },
    );
    pulumi.runtime.setMocks(mocks, "hosts-test", "dev", preview);
    return { mocks, calls, readinessRan };
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** JSON of a recorded value with every secret-wrapped part replaced by "[secret]": what state would show in plain. */
export function plainJson(value: unknown): string {
    const strip = (v: any): any => {
        if (Array.isArray(v)) return v.map(strip);
        if (v && typeof v === "object") {
            if (Object.values(v).includes(SECRET_SIG) && "value" in v) return "[secret]";
            return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
        }
        return v;
    };
    return JSON.stringify(strip(value));
}

/** Waits for every registration the program started to be answered. */
export async function drain(): Promise<void> {
    await new Promise((r) => setTimeout(r, 150));
}
