import { ValidationError } from "../../../src/errors";
import { renderFirewall } from "../../../src/host/firewall";
import { mergeTags } from "../../../src/host/tags";
import { checkHostAddress, checkPrivateKey, checkPublicKey, parseCidr } from "../../../src/host/validate";
import { PRIVATE_KEY, PRIVATE_KEY_BODY, PUBLIC_KEY } from "./host.fixtures";

const base = { publicPorts: [443, 80], sshCidrs: ["203.0.113.7/32"], outboundTcpPorts: [443, 80] };

describe("renderFirewall", () => {
    test("public ports open to the world, SSH only from the named networks, out only on the named ports", () => {
        expect(renderFirewall({ ...base, sshCidrs: ["2001:db8::/48", "203.0.113.7/32", "198.51.100.0/24"] })).toEqual({
            ingress: [
                { description: "public port 80", protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                { description: "public port 443", protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                {
                    description: "ssh from the named networks",
                    protocol: "tcp",
                    fromPort: 22,
                    toPort: 22,
                    cidrBlocks: ["198.51.100.0/24", "203.0.113.7/32"],
                    ipv6CidrBlocks: ["2001:db8::/48"],
                },
            ],
            egress: [
                { description: "outbound port 80", protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                { description: "outbound port 443", protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
            ],
        });
    });

    test("no rule ever opens Swank or SSH to the world, and the SSH rule omits a family it has no CIDR for", () => {
        const { ingress } = renderFirewall({ ...base, publicPorts: [8080] });
        expect(ingress.map((r) => r.fromPort)).toEqual([8080, 22]);
        expect(ingress[1]).not.toHaveProperty("ipv6CidrBlocks");
    });

    test("reordering lists gives the same rules", () => {
        expect(renderFirewall({ ...base, sshCidrs: ["10.0.0.0/8", "192.168.1.0/24"] })).toEqual(
            renderFirewall({ ...base, publicPorts: [80, 443], sshCidrs: ["192.168.1.0/24", "10.0.0.0/8", "10.0.0.0/8"] }),
        );
    });

    test("SSH from anywhere needs the explicit opt-in", () => {
        expect(() => renderFirewall({ ...base, sshCidrs: ["203.0.113.7/32", "0.0.0.0/0"] })).toThrow(
            /^args\.sshCidrs\[1\]: "0\.0\.0\.0\/0" opens SSH to the whole Internet; .* set `allowSshFromAnywhere: true`/,
        );
        expect(() => renderFirewall({ ...base, sshCidrs: ["::/0"] })).toThrow(/^args\.sshCidrs\[0\]: "::\/0" opens SSH/);
        const opened = renderFirewall({ ...base, sshCidrs: ["0.0.0.0/0", "::/0"], allowSshFromAnywhere: true });
        expect(opened.ingress[2]).toMatchObject({ fromPort: 22, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] });
    });

    test.each([
        [{ sshCidrs: [] }, /^args\.sshCidrs: is empty/],
        [{ sshCidrs: ["300.1.2.3/32"] }, /^args\.sshCidrs\[0\]: "300\.1\.2\.3\/32" is not a valid IPv4 or IPv6 CIDR/],
        [{ sshCidrs: ["10.0.0.0/33"] }, /^args\.sshCidrs\[0\]: "10\.0\.0\.0\/33" is not a valid/],
        [{ sshCidrs: ["203.0.113.7"] }, /^args\.sshCidrs\[0\]: "203\.0\.113\.7" has no prefix length.* write "203\.0\.113\.7\/32"/],
        [{ sshCidrs: ["10.1.2.3/8"] }, /^args\.sshCidrs\[0\]: "10\.1\.2\.3\/8" has host bits set; write "10\.0\.0\.0\/8" for the network, or "10\.1\.2\.3\/32"/],
        [{ sshCidrs: ["2001:db8::1/48"] }, /^args\.sshCidrs\[0\]: "2001:db8::1\/48" has host bits set; write "2001:db8::\/48"/],
        [{ sshCidrs: ["010.0.0.0/8"] }, /^args\.sshCidrs\[0\]: .*(dotted-decimal|not a valid)/],
        [{ sshCidrs: ["example.com/32"] }, /^args\.sshCidrs\[0\]: "example\.com\/32" is not a valid/],
        [{ publicPorts: [80, 0] }, /^args\.publicPorts\[1\]: must be a whole number from 1 to 65535; got 0\./],
        [{ publicPorts: [65536] }, /^args\.publicPorts\[0\]: must be a whole number from 1 to 65535; got 65536\./],
        [{ publicPorts: [80.5] }, /^args\.publicPorts\[0\]: must be a whole number/],
        [{ publicPorts: [80, 80] }, /^args\.publicPorts\[1\]: port 80 is listed twice/],
        [{ publicPorts: [22] }, /^args\.publicPorts\[0\]: opens SSH \(22\) to the world/],
        [{ publicPorts: [443, 4005] }, /^args\.publicPorts\[1\]: 4005 is Swank's port.*ssh -L 4005:127\.0\.0\.1:4005/],
        [{ outboundTcpPorts: [-1] }, /^args\.outboundTcpPorts\[0\]: must be a whole number/],
    ])("bad firewall input %j is refused naming the field", (change, message) => {
        expect(() => renderFirewall({ ...base, ...change })).toThrow(ValidationError);
        expect(() => renderFirewall({ ...base, ...change })).toThrow(message);
    });
});

test("parseCidr keeps canonical forms and compresses IPv6", () => {
    expect(parseCidr("2001:0db8:0000::/32", "f")).toEqual({ family: "ipv6", cidr: "2001:db8::/32", anywhere: false });
    expect(parseCidr("0.0.0.0/0", "f")).toEqual({ family: "ipv4", cidr: "0.0.0.0/0", anywhere: true });
});

describe("key and host checks never echo a key", () => {
    test("a private key passes; a public key, a path or nothing does not", () => {
        expect(() => checkPrivateKey(PRIVATE_KEY, "args.privateKey")).not.toThrow();
        expect(() => checkPrivateKey("", "args.privateKey")).toThrow(/^args\.privateKey: is required/);
        expect(() => checkPrivateKey("~/.ssh/id_ed25519", "args.privateKey")).toThrow(/^args\.privateKey: is not a private key/);
        expect(() => checkPrivateKey(PUBLIC_KEY, "args.privateKey")).toThrow(/not its path or the public key/);
    });

    test("a private key given as the public key is refused without quoting it", () => {
        let message = "";
        try {
            checkPublicKey(PRIVATE_KEY, "args.publicKey");
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toMatch(/^args\.publicKey: holds a private key/);
        expect(message).not.toContain(PRIVATE_KEY_BODY);
        expect(() => checkPublicKey(PUBLIC_KEY, "args.publicKey")).not.toThrow();
        expect(() => checkPublicKey("ssh-dss AAAA x", "args.publicKey")).toThrow(/is not an OpenSSH public key/);
        expect(() => checkPublicKey("  ", "args.publicKey")).toThrow(/^args\.publicKey: is required/);
    });

    test.each(["203.0.113.7", "2001:db8::7", "vps.example.com", "host-1"])("%s is a host", (h) => expect(() => checkHostAddress(h, "args.host")).not.toThrow());
    test.each([
        ["", /^args\.host: is empty/],
        ["ssh://vps.example.com", /no "ssh:\/\/", "user@" or ":port"/],
        ["deploy@vps.example.com", /is not a DNS name or IP address/],
        ["vps.example.com:2222", /is not a DNS name or IP address/],
    ])("%j is not a host", (h, message) => expect(() => checkHostAddress(h, "args.host")).toThrow(message));
});

test("tags: Name first by default, keys sorted, user Name wins, aws: keys refused", () => {
    const tags = mergeTags("web", { team: "blog", Env: "prod" });
    expect(Object.keys(tags)).toEqual(["Env", "Name", "team"]);
    expect(tags.Name).toBe("web");
    expect(mergeTags("web", { Name: "blog-web" }).Name).toBe("blog-web");
    expect(() => mergeTags("web", { "aws:x": "1" })).toThrow(/^args\.tags\.aws:x: tag keys starting with "aws:" are reserved/);
});
