/**
 * How much memory an EC2 instance type has, and the share of it an SBCL app's heap gets by default on
 * the ec2 target. Pure functions of the type's name: no AWS call, so a preview computes the same numbers
 * offline. Types this table does not know get no default (SBCL's own heap limit and no MemoryMax), never
 * a guess.
 */

/** MiB per GiB. */
const GIB = 1024;

/** Burstable families: the memory of each size, in GiB (the same across t2, t3, t3a and t4g). */
const BURSTABLE_GIB: Readonly<Record<string, number>> = {
    nano: 0.5,
    micro: 1,
    small: 2,
    medium: 4,
    large: 8,
    xlarge: 16,
    "2xlarge": 32,
};
const BURSTABLE_FAMILIES = /^t(2|3|3a|4g)$/;

/**
 * Fixed-ratio families from the 5th generation on: GiB per vCPU by the family's letter (general purpose
 * m: 4, compute c: 2, memory r: 8). The suffix letters (a: AMD, g: Graviton, i: Intel, d: local disk,
 * n: more network) keep the ratio, except compute's n variants (c5n.large has 5.25 GiB), left unknown.
 */
const GIB_PER_VCPU: Readonly<Record<string, number>> = { m: 4, c: 2, r: 8 };
const FIXED_RATIO_FAMILY = /^([mcr])([5-8])(a|g|i)?(d|n|dn)?$/;

/** vCPUs of a size name: medium 1, large 2, xlarge 4, Nxlarge 4N; undefined for metal and unknown names. */
function vcpusOf(size: string): number | undefined {
    if (size === "medium") return 1;
    if (size === "large") return 2;
    if (size === "xlarge") return 4;
    const m = /^(\d+)xlarge$/.exec(size);
    return m ? 4 * Number(m[1]) : undefined;
}

/**
 * The memory of `instanceType` (e.g. "t3.small", "m6i.xlarge") in MiB, or undefined when the table does
 * not know the type (older generations with irregular sizes, metal, exotic families).
 */
export function instanceMemoryMiB(instanceType: string): number | undefined {
    const m = /^([a-z0-9-]+)\.([a-z0-9]+)$/.exec(instanceType);
    if (!m) return undefined;
    const [, family, size] = m;
    if (BURSTABLE_FAMILIES.test(family)) {
        const gib = BURSTABLE_GIB[size];
        return gib === undefined ? undefined : gib * GIB;
    }
    const fixed = FIXED_RATIO_FAMILY.exec(family);
    if (fixed) {
        const vcpus = vcpusOf(size);
        // medium exists only for Graviton (g) families; an Intel "m5.medium" is not a real type.
        if (vcpus === undefined || (size === "medium" && fixed[3] !== "g")) return undefined;
        if (fixed[1] === "c" && fixed[4] !== undefined && fixed[4].includes("n")) return undefined;
        return vcpus * GIB_PER_VCPU[fixed[1]] * GIB;
    }
    return undefined;
}

/** What the OS, sshd, journald and a reverse proxy keep for themselves before the app's share is taken. */
export const HOST_RESERVE_MIB = 256;
/** The app's heap gets this share of what remains: the rest covers SBCL's non-heap memory and the page cache. */
export const HEAP_SHARE = 0.75;
/** Heap sizes are whole multiples of this (SBCL rounds to its own page size anyway). */
const HEAP_STEP_MIB = 64;
/** The smallest heap lisp-deploy chooses: below it a loaded web app does not fit (see DYNAMIC_SPACE_SIZE_LIMITS_MB). */
const MIN_HEAP_MIB = 256;

/**
 * The default `dynamicSpaceSizeMb` for an app alone on an instance of `instanceType`: 75% of its memory
 * after a 256 MiB reserve for the host, rounded down to 64 MiB, at least 256; undefined when the type's
 * memory is unknown (then SBCL's own default applies and the unit gets no MemoryMax).
 */
export function defaultDynamicSpaceSizeMb(instanceType: string): number | undefined {
    const memory = instanceMemoryMiB(instanceType);
    if (memory === undefined) return undefined;
    const share = Math.floor(((memory - HOST_RESERVE_MIB) * HEAP_SHARE) / HEAP_STEP_MIB) * HEAP_STEP_MIB;
    return Math.max(MIN_HEAP_MIB, share);
}
