import { ValidationError } from "../errors";
import type { DependencySource, SbclOrigin } from "./plan";

// Pulumi's schema inference (multi-language components) rejects unions of object shapes and readonly
// arrays, so component Args use these flat forms; plan.ts keeps the precise unions it plans from.

/** Where an app's Lisp dependencies come from (the enum form Pulumi's schema inference understands). */
export const DependencySourceKind = {
    /** Quicklisp with a pinned dist (the default). */
    Quicklisp: "quicklisp",
    /** qlot: `qlfile` and `qlfile.lock`. */
    Qlot: "qlot",
    /** Debian's `cl-*` packages. */
    Debian: "debian",
    /** A directory of library sources copied into the build. */
    Vendored: "vendored",
} as const;
/** Where an app's Lisp dependencies come from. */
export type DependencySourceKind = (typeof DependencySourceKind)[keyof typeof DependencySourceKind];

/**
 * Where the dependencies come from, as one flat object rather than a union of shapes: every language
 * Pulumi supports can express it. Only the fields of the chosen `kind` may be given.
 */
export interface DependencySourceArgs {
    /** "quicklisp" (default), "qlot", "debian" or "vendored". */
    readonly kind?: DependencySourceKind;
    /** quicklisp: the dist version, a date like "2024-10-12" (default: the pinned one). */
    readonly distVersion?: string;
    /** qlot: the directory holding `qlfile` and `qlfile.lock` (default: the app directory). */
    readonly qlfileDir?: string;
    /** debian: system name to Debian package overrides (default `foo` -> `cl-foo`; "" for none). */
    readonly packages?: { [system: string]: string };
    /** vendored: the directory of library sources. */
    readonly dir?: string;
}

const FIELDS_OF_KIND: Record<DependencySourceKind, readonly (keyof DependencySourceArgs)[]> = {
    quicklisp: ["distVersion"],
    qlot: ["qlfileDir"],
    debian: ["packages"],
    vendored: ["dir"],
};

/** Turns the flat form into LispImage's DependencySource, refusing fields that belong to another kind. */
export function toDependencySource(args: DependencySourceArgs | undefined, field: string): DependencySource {
    if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args))) {
        throw new ValidationError(field, `must be an object such as { kind: "debian" }; got ${JSON.stringify(args)}.${typeof args === "string" ? ` Write { kind: ${JSON.stringify(args)} }.` : ""}`);
    }
    const kind = args?.kind ?? DependencySourceKind.Quicklisp;
    if (!(kind in FIELDS_OF_KIND)) {
        throw new ValidationError(`${field}.kind`, `must be one of ${Object.keys(FIELDS_OF_KIND).map((k) => `"${k}"`).join(", ")}; got ${JSON.stringify(kind)}.`);
    }
    for (const [other, fields] of Object.entries(FIELDS_OF_KIND)) {
        if (other === kind) continue;
        for (const f of fields) {
            if (args?.[f] !== undefined) throw new ValidationError(`${field}.${f}`, `belongs to kind "${other}", but kind is "${kind}"; remove it or set kind: "${other}".`);
        }
    }
    switch (kind) {
        case "quicklisp":
            return { kind, distVersion: args?.distVersion };
        case "qlot":
            return { kind, qlfileDir: args?.qlfileDir };
        case "debian":
            return { kind, packages: args?.packages };
        case "vendored":
            if (!args?.dir) throw new ValidationError(`${field}.dir`, 'is required with kind "vendored": the directory of library sources.');
            return { kind, dir: args.dir };
    }
}

/** Where SBCL comes from, as one flat object: give `tarballUrl` (and optionally `sha256`) or `tarballFile`, or nothing for Debian's package. */
export interface SbclOriginArgs {
    /** URL of an SBCL binary tarball. */
    readonly tarballUrl?: string;
    /** The tarball's sha256, checked after download. */
    readonly sha256?: string;
    /** Path of a local SBCL binary tarball, copied into the build context. */
    readonly tarballFile?: string;
}

/** Turns the flat form into the plan's SbclOrigin (undefined: Debian's package). */
export function toSbclOrigin(args: SbclOriginArgs | undefined, field: string): SbclOrigin | undefined {
    if (!args || (args.tarballUrl === undefined && args.tarballFile === undefined)) {
        if (args?.sha256 !== undefined) throw new ValidationError(`${field}.sha256`, "needs tarballUrl: it checks a downloaded tarball.");
        return undefined;
    }
    if (args.tarballUrl !== undefined && args.tarballFile !== undefined) {
        throw new ValidationError(`${field}.tarballFile`, "and tarballUrl are both given; give one of them.");
    }
    if (args.tarballFile !== undefined) {
        if (args.sha256 !== undefined) throw new ValidationError(`${field}.sha256`, "applies to tarballUrl only; a local tarballFile is used as it is.");
        return { tarballFile: args.tarballFile };
    }
    return { tarballUrl: args.tarballUrl!, sha256: args.sha256 };
}
