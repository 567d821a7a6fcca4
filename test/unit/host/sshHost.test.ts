import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../../../src/shell";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { existingServerCheckScript } from "../../../src/host/readiness";
import { SshHost, SshHostArgs } from "../../../src/host/sshHost";
import { isSecretOutput, valueOf } from "../../harness/mocks";
import { drain, installFakeAws, plainJson, PRIVATE_KEY, PRIVATE_KEY_BODY } from "./host.fixtures";

// These tests stand in for the Pulumi engine (RecordingMocks): the server check is recorded, not run over SSH.

const args: SshHostArgs = { host: "vps.example.com", privateKey: pulumi.secret(PRIVATE_KEY) };

describe("SshHost (stand-in for the Pulumi engine)", () => {
    test("wraps an existing server: one check command, no other child, the same connection shape as Ec2Host", async () => {
        const fake = installFakeAws();
        const host = new SshHost("vps", { ...args, port: 2222, user: "deploy", arch: "arm64" });
        const connection = await valueOf(host.connection);
        await drain();
        expect(fake.mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual(["lisp-deploy:index:SshHost vps", "command:remote:Command vps-check"]);
        expect(fake.mocks.resources[0].inputs).toEqual({});
        expect(connection).toEqual({ host: "vps.example.com", port: 2222, user: "deploy", privateKey: PRIVATE_KEY });
        expect(await valueOf(host.address)).toBe("vps.example.com");
        expect(await valueOf(host.arch)).toBe("arm64");
        const check = fake.mocks.resources[1].inputs;
        expect(check.create).toBe(existingServerCheckScript("arm64"));
        expect(check.create).toContain("MACHINE='aarch64'");
        expect(Object.keys(check).sort()).toEqual(["connection", "create", "triggers"]);
        expect(check.triggers).toEqual(["vps.example.com", 2222, "deploy"]);
    });

    test("defaults: port 22, user root, amd64", async () => {
        installFakeAws();
        const host = new SshHost("vps", args);
        expect(await valueOf(host.connection)).toMatchObject({ port: 22, user: "root" });
        expect(await valueOf(host.arch)).toBe("amd64");
    });

    test("the connection resolves only after the server check ran", async () => {
        const fake = installFakeAws();
        const host = new SshHost("vps", args);
        expect(await valueOf(host.connection.apply(() => fake.readinessRan.value))).toBe(true);
    });

    test("the private key is secret end to end, even when given as a plain string, and never recorded in plain form", async () => {
        const fake = installFakeAws();
        const host = new SshHost("vps", { ...args, privateKey: PRIVATE_KEY });
        await valueOf(host.connection);
        await drain();
        expect(await isSecretOutput(host.connection)).toBe(true);
        expect(await isSecretOutput(host.address)).toBe(false);
        const everything = fake.mocks.resources.map((r) => r.inputs);
        expect(JSON.stringify(everything)).toContain(PRIVATE_KEY_BODY.slice(0, 20));
        expect(plainJson(everything)).not.toContain(PRIVATE_KEY_BODY);
        expect(plainJson(everything[1].connection)).toBe('"[secret]"');
    });

    test.each([
        [{ host: "" }, /^args\.host: is empty/],
        [{ host: "  " }, /^args\.host: is empty/],
        [{ host: undefined }, /^args\.host: is required/],
        [{ host: "root@vps.example.com" }, /^args\.host: "root@vps\.example\.com" is not a DNS name or IP address/],
        [{ port: 0 }, /^args\.port: must be a whole number from 1 to 65535; got 0\./],
        [{ port: 65536 }, /^args\.port: must be a whole number from 1 to 65535; got 65536\./],
        [{ user: "" }, /^args\.user: "" is not a valid user name/],
        [{ privateKey: undefined }, /^args\.privateKey: is required/],
        [{ privateKey: "" }, /^args\.privateKey: is required/],
        [{ privateKey: "/home/me/.ssh/id_ed25519" }, /^args\.privateKey: is not a private key/],
        [{ arch: "x86_64" as any }, /^args\.arch: must be one of "amd64", "arm64"; got "x86_64"\./],
    ])("bad input %j is refused at construction, naming the field, with nothing registered", async (change, message) => {
        const fake = installFakeAws(true);
        expect(() => new SshHost("vps", { ...args, ...(change as Partial<SshHostArgs>) })).toThrow(ValidationError);
        expect(() => new SshHost("vps2", { ...args, ...(change as Partial<SshHostArgs>) })).toThrow(message);
        await drain();
        expect(fake.mocks.resources).toEqual([]); // not even the component itself
    });
});

describe("existingServerCheckScript", () => {
    test("runs scripts/existing-server-check.sh as it is in the file, told the declared arch and its uname -m name", () => {
        const file = fs.readFileSync(path.join(__dirname, "..", "..", "..", "src", "host", "scripts", "existing-server-check.sh"), "utf8");
        const command = existingServerCheckScript("amd64");
        expect(command).toContain(`sh -c ${shellQuote(file)} existing-server-check.sh`);
        expect(command).toContain("ARCH='amd64'");
        expect(command).toContain("MACHINE='x86_64'");
        expect(existingServerCheckScript("arm64")).toContain("MACHINE='aarch64'");
    });
});
