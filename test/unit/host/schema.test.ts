import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { Ec2Host } from "../../../src/host/ec2Host";
import { SshHost } from "../../../src/host/sshHost";

// Multi-language hosting infers the package schema from these classes' TypeScript types (offline, no
// Pulumi CLI); a type it cannot express (a bare string-literal union, say) would break every other language.
test("the hosts' schema is inferable: required inputs, enums for arch/platform/proxy, the shared connection type", async () => {
    const provider = new ComponentProvider({ components: [Ec2Host, SshHost], name: "lisp-deploy", dirname: process.cwd(), version: "0.1.0" });
    const schema = JSON.parse(await provider.getSchema());
    const ec2 = schema.resources["lisp-deploy:index:Ec2Host"];
    const ssh = schema.resources["lisp-deploy:index:SshHost"];
    expect(ec2.isComponent).toBe(true);
    expect([...ec2.requiredInputs].sort()).toEqual(["instanceType", "privateKey", "publicKey", "sshCidrs"]);
    expect([...ssh.requiredInputs].sort()).toEqual(["host", "privateKey"]);
    for (const r of [ec2, ssh]) {
        expect(r.properties.connection.$ref).toBe("#/types/lisp-deploy:index:HostConnection");
        expect(r.properties.arch.$ref).toBe("#/types/lisp-deploy:index:Arch");
        expect(r.properties.address.type).toBe("string");
    }
    expect(ec2.inputProperties.platform.$ref).toBe("#/types/lisp-deploy:index:Platform");
    expect(ec2.inputProperties.reverseProxy.$ref).toBe("#/types/lisp-deploy:index:ReverseProxy");
    expect(schema.types["lisp-deploy:index:Arch"].enum.map((e: { value: string }) => e.value)).toEqual(["amd64", "arm64"]);
    expect(schema.types["lisp-deploy:index:Platform"].enum.map((e: { value: string }) => e.value)).toEqual(["linux/amd64", "linux/arm64"]);
    expect(Object.keys(schema.types["lisp-deploy:index:HostConnection"].properties).sort()).toEqual(["host", "port", "privateKey", "user"]);
});
