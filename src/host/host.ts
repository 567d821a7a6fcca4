import * as pulumi from "@pulumi/pulumi";
import { HostConnection } from "./connection";

// Both are written as `const` objects plus a type, the enum form Pulumi's schema inference understands,
// so other languages get real enums; TypeScript callers still write plain strings ("arm64").

/** The CPU architectures a host may have, in Debian's (and Docker's) spelling. */
export const Arch = {
    /** x86_64 (Intel and AMD). */
    Amd64: "amd64",
    /** AArch64 (AWS Graviton). */
    Arm64: "arm64",
} as const;
/** The CPU architectures a host may have, in Debian's (and Docker's) spelling. */
export type Arch = (typeof Arch)[keyof typeof Arch];

/** A container image platform as Docker spells it; LispImage builds for one of these. */
export const Platform = {
    /** Images for x86_64 hosts. */
    LinuxAmd64: "linux/amd64",
    /** Images for AArch64 (Graviton) hosts. */
    LinuxArm64: "linux/arm64",
} as const;
/** A container image platform as Docker spells it; LispImage builds for one of these. */
export type Platform = (typeof Platform)[keyof typeof Platform];

/**
 * What every host offers a release, whether Pulumi created the machine (Ec2Host) or it already
 * existed (SshHost). A release takes a `Host` and never asks which kind it is.
 */
export interface Host {
    /**
     * How to reach the host over SSH. A secret (it carries the private key), and it only resolves once
     * the host is ready for a release (cloud-init finished, or the existing server answered).
     */
    readonly connection: pulumi.Output<HostConnection>;
    /** The address clients use to reach the host (public IP or DNS name). */
    readonly address: pulumi.Output<string>;
    /** The host's CPU architecture; the image a release ships must be built for it. */
    readonly arch: pulumi.Output<Arch>;
}

/** The architecture a Docker platform string names. */
export function archOfPlatform(platform: Platform): Arch {
    return platform === "linux/arm64" ? "arm64" : "amd64";
}
