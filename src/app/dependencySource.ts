import { ValidationError } from "../errors";
import type { DependencySource } from "../image/plan";

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
    readonly debianPackages?: { [system: string]: string };
    /** vendored: the directory of library sources. */
    readonly vendoredDir?: string;
}

const FIELDS_OF_KIND: Record<DependencySourceKind, readonly (keyof DependencySourceArgs)[]> = {
    quicklisp: ["distVersion"],
    qlot: ["qlfileDir"],
    debian: ["debianPackages"],
    vendored: ["vendoredDir"],
};

/** Turns the flat form into LispImage's DependencySource, refusing fields that belong to another kind. */
export function toDependencySource(args: DependencySourceArgs | undefined, field: string): DependencySource {
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
            return { kind, packages: args?.debianPackages };
        case "vendored":
            if (!args?.vendoredDir) throw new ValidationError(`${field}.vendoredDir`, 'is required with kind "vendored": the directory of library sources.');
            return { kind, dir: args.vendoredDir };
    }
}
