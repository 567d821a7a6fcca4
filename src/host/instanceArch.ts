import { ValidationError } from "../errors";
import { Arch } from "./host";

/**
 * The CPU architecture of an EC2 instance type, from its name alone (no AWS call, so it is known at
 * preview time). AWS names Graviton (arm64) families with a `g` right after the generation digit:
 * t4g, m6g, m7gd, c6gn, r8g, x2gd, im4gn, is4gen, g5g, hpc7g. The one exception is `a1`, the first
 * Graviton. Every other family (m5, c7i, r7a, g4dn, p5, inf2, trn1, ...) is x86_64.
 *
 * @param instanceType e.g. `"t4g.small"`; `field` names the argument in error messages.
 */
export function archOfInstanceType(instanceType: string, field = "args.instanceType"): Arch {
    const match = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/.exec(instanceType);
    if (!match) {
        throw new ValidationError(
            field,
            `"${instanceType}" is not an EC2 instance type; give one like "t3.small" (amd64) or "t4g.small" (arm64).`,
        );
    }
    const family = match[1];
    if (family.startsWith("mac")) {
        throw new ValidationError(
            field,
            `"${instanceType}" is a macOS instance; Debian AMIs do not run there: choose a Linux type such as "m7g.large".`,
        );
    }
    return family === "a1" || /^[a-z]+[0-9]+g/.test(family) ? "arm64" : "amd64";
}
