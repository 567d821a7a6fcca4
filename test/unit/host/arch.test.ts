import { ValidationError } from "../../../src/errors";
import { debianAmiQuery } from "../../../src/host/ami";
import { archOfPlatform } from "../../../src/host/host";
import { archOfInstanceType } from "../../../src/host/instanceArch";

describe("archOfInstanceType", () => {
    test.each([
        "a1.large", "t4g.small", "m6g.large", "m6gd.xlarge", "m7g.medium", "m7gd.large", "m8g.large",
        "c6g.large", "c6gn.xlarge", "c7g.large", "c7gn.large", "r6g.large", "r7g.large", "r8g.large",
        "x2gd.large", "im4gn.large", "is4gen.large", "g5g.xlarge", "hpc7g.4xlarge", "i8g.large",
    ])("%s is a Graviton type: arm64", (t) => expect(archOfInstanceType(t)).toBe("arm64"));

    test.each([
        "t2.micro", "t3.small", "t3a.medium", "m5.large", "m5zn.large", "m7i-flex.large", "m7a.large", "c5n.large",
        "c7i.large", "r5b.large", "r7iz.large", "x2iedn.xlarge", "z1d.large", "g4dn.xlarge", "g5.xlarge", "g6e.xlarge",
        "gr6.4xlarge", "p5.48xlarge", "inf2.xlarge", "trn1.2xlarge", "u-6tb1.metal", "d3en.xlarge", "i4i.large",
    ])("%s is an x86 type: amd64", (t) => expect(archOfInstanceType(t)).toBe("amd64"));

    test.each(["", "t3", "T3.small", "t3.small ", "t3..small", "small"])("%j is not an instance type", (t) => {
        expect(() => archOfInstanceType(t)).toThrow(ValidationError);
        expect(() => archOfInstanceType(t)).toThrow(/args\.instanceType: .* is not an EC2 instance type; give one like "t3\.small"/);
    });

    test("macOS instances are refused: Debian does not run there", () => {
        expect(() => archOfInstanceType("mac2.metal", "args.x")).toThrow(/^args\.x: "mac2\.metal" is a macOS instance/);
    });
});

test("archOfPlatform maps Docker platforms to Debian architectures", () => {
    expect(archOfPlatform("linux/amd64")).toBe("amd64");
    expect(archOfPlatform("linux/arm64")).toBe("arm64");
});

test("the Debian AMI query names Debian's account, Debian 12 and the architecture in both spellings", () => {
    expect(debianAmiQuery("arm64")).toEqual({
        owners: ["136693071363"],
        mostRecent: true,
        filters: [
            { name: "name", values: ["debian-12-arm64-*"] },
            { name: "architecture", values: ["arm64"] },
            { name: "virtualization-type", values: ["hvm"] },
            { name: "root-device-type", values: ["ebs"] },
        ],
    });
    expect(debianAmiQuery("amd64").filters.slice(0, 2)).toEqual([
        { name: "name", values: ["debian-12-amd64-*"] },
        { name: "architecture", values: ["x86_64"] },
    ]);
});
