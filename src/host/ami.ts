import { Arch } from "./host";

/** The AWS account Debian publishes its official AMIs from (https://wiki.debian.org/Cloud/AmazonEC2Image). */
export const DEBIAN_AMI_OWNER = "136693071363";

/**
 * The `aws.ec2.getAmi` query for the newest official Debian 12 AMI of an architecture. Filtering on the
 * name and on the architecture both guards against a future name that happens to match the pattern.
 */
export function debianAmiQuery(arch: Arch): {
    owners: string[];
    mostRecent: boolean;
    filters: { name: string; values: string[] }[];
} {
    return {
        owners: [DEBIAN_AMI_OWNER],
        mostRecent: true,
        filters: [
            { name: "name", values: [`debian-12-${arch}-*`] },
            { name: "architecture", values: [arch === "arm64" ? "arm64" : "x86_64"] },
            { name: "virtualization-type", values: ["hvm"] },
            { name: "root-device-type", values: ["ebs"] },
        ],
    };
}
