import * as pulumi from "@pulumi/pulumi";
import * as ipaddr from "ipaddr.js";
import { ValidationError } from "../errors";
import { checkPort } from "../validate";

/**
 * Renders from several Inputs: right now (so bad values throw at construction) when all are plain,
 * otherwise inside `apply` once they are known, with the same messages.
 */
export function renderOnceKnown<T extends Record<string, unknown>, R>(
    inputs: { [K in keyof T]: pulumi.Input<T[K]> },
    render: (values: T) => R,
): pulumi.Output<R> {
    const plain = Object.values(inputs).every((v) => !pulumi.Output.isInstance(v) && !(v instanceof Promise));
    if (plain) return pulumi.output(render(inputs as T)) as pulumi.Output<R>;
    return pulumi.all(inputs as Record<string, pulumi.Input<unknown>>).apply((v) => render(v as T)) as pulumi.Output<R>;
}

/** A CIDR split by family, in the canonical text AWS accepts. */
export interface ParsedCidr {
    family: "ipv4" | "ipv6";
    cidr: string;
    /** True for a prefix of length 0: the whole Internet of that family. */
    anywhere: boolean;
}

/**
 * Parses one CIDR strictly: the address must be the network address (AWS rejects `10.0.0.1/8`,
 * and a user who wrote it most likely meant `10.0.0.1/32`), and a bare address needs its prefix.
 */
export function parseCidr(text: string, field: string): ParsedCidr {
    if (typeof text !== "string" || text.trim() !== text || text === "") {
        throw new ValidationError(field, `${JSON.stringify(text)} is not a CIDR; write one like "203.0.113.7/32".`);
    }
    if (!text.includes("/")) {
        const hint = ipaddr.isValid(text) ? ` To allow this one address write "${text}/${text.includes(":") ? 128 : 32}".` : "";
        throw new ValidationError(field, `"${text}" has no prefix length; a CIDR looks like "203.0.113.0/24".${hint}`);
    }
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    let prefix: number;
    try {
        [addr, prefix] = ipaddr.parseCIDR(text);
    } catch {
        throw new ValidationError(field, `"${text}" is not a valid IPv4 or IPv6 CIDR; write one like "203.0.113.0/24" or "2001:db8::/48".`);
    }
    // ipaddr.js accepts IPv4-mapped and odd textual forms; AWS wants the plain dotted form for IPv4.
    if (addr.kind() === "ipv4" && !ipaddr.IPv4.isValidFourPartDecimal(text.split("/")[0])) {
        throw new ValidationError(field, `"${text}" is not in dotted-decimal form; write it like "203.0.113.0/24".`);
    }
    const network =
        addr.kind() === "ipv4"
            ? ipaddr.IPv4.networkAddressFromCIDR(text).toString()
            : ipaddr.IPv6.networkAddressFromCIDR(text).toNormalizedString();
    const given = addr.kind() === "ipv4" ? addr.toString() : (addr as ipaddr.IPv6).toNormalizedString();
    if (network !== given) {
        const host = addr.kind() === "ipv4" ? 32 : 128;
        const canonical = addr.kind() === "ipv4" ? network : ipaddr.parse(network).toString();
        throw new ValidationError(
            field,
            `"${text}" has host bits set; write "${canonical}/${prefix}" for the network, or "${addr.toString()}/${host}" for the one address.`,
        );
    }
    const cidr = `${addr.kind() === "ipv4" ? network : ipaddr.parse(network).toString()}/${prefix}`;
    return { family: addr.kind() as "ipv4" | "ipv6", cidr, anywhere: prefix === 0 };
}

/** Checks a list of TCP ports and that none repeats (a repeat is almost always a typo). */
export function checkPorts(ports: number[], field: string): void {
    if (!Array.isArray(ports)) {
        throw new ValidationError(field, `must be a list of port numbers, e.g. [80, 443]; got ${JSON.stringify(ports)}.`);
    }
    ports.forEach((p, i) => checkPort(`${field}[${i}]`, p));
    const seen = new Set<number>();
    ports.forEach((p, i) => {
        if (seen.has(p)) throw new ValidationError(`${field}[${i}]`, `port ${p} is listed twice; list each port once.`);
        seen.add(p);
    });
}

/**
 * Checks that a private key is present and looks like one (OpenSSH or PEM). The key itself never
 * appears in the message: a ValidationError ends up in logs.
 */
export function checkPrivateKey(key: string, field: string): void {
    if (typeof key !== "string" || key.trim() === "") {
        throw new ValidationError(field, "is required: pass the SSH private key (e.g. `config.requireSecret(\"sshPrivateKey\")`).");
    }
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(key)) {
        throw new ValidationError(
            field,
            "is not a private key in OpenSSH or PEM form (no \"-----BEGIN ... PRIVATE KEY-----\" line); pass the key file's contents, not its path or the public key.",
        );
    }
}

/** Checks that a public key is present and is an OpenSSH public key line, not a private key. */
export function checkPublicKey(key: string, field: string): void {
    if (typeof key !== "string" || key.trim() === "") {
        throw new ValidationError(field, "is required: pass the OpenSSH public key line (the contents of e.g. ~/.ssh/id_ed25519.pub).");
    }
    if (key.includes("PRIVATE KEY")) {
        // Refuse before the value goes anywhere: a private key here would be stored in plain state.
        throw new ValidationError(field, "holds a private key; pass the public key (the .pub file) here and the private key as `privateKey`.");
    }
    if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(key.trim())) {
        throw new ValidationError(
            field,
            "is not an OpenSSH public key; give one line like \"ssh-ed25519 AAAA... you@laptop\" (EC2 accepts ed25519, rsa and ecdsa keys).",
        );
    }
}

/** Checks an SSH host: a bare DNS name or IP address, no scheme, user or port. */
export function checkHostAddress(host: string, field: string): void {
    if (typeof host !== "string" || host.trim() === "") {
        throw new ValidationError(field, "is empty; give the server's DNS name or IP address, e.g. \"203.0.113.7\".");
    }
    if (ipaddr.isValid(host)) return;
    if (!/^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/.test(host)) {
        throw new ValidationError(
            field,
            `"${host}" is not a DNS name or IP address; give the bare host (no "ssh://", "user@" or ":port"; those have their own arguments).`,
        );
    }
}

