import * as fs from "fs";
import * as path from "path";
import { ValidationError } from "../errors";
import { designatorName, FeatureTest, isSymbolNamed, LispList, readAll, sbclLinuxFeatures, Sexp, SexpReadError } from "./sexp";
import { at, FieldPath } from "../validate";

/** One `defsystem` form as read from an `.asd` file. */
export interface SystemDefinition {
    /** The system's name as ASDF sees it (`"hello"`, `"hello/test"`). */
    readonly name: string;
    /** The `.asd` file that defines it, relative to the app directory, with `/` separators. */
    readonly file: string;
    /** `:depends-on` and `:defsystem-depends-on` entries, reduced to system names (see `dependencyName`). */
    readonly dependsOn: readonly string[];
    /** `(:require "sb-posix")` entries: implementation modules loaded with `require`, not ASDF systems. */
    readonly requires: readonly string[];
    /** `:entry-point`, e.g. `"hello:main"`. */
    readonly entryPoint?: string;
    /** `:build-pathname`, e.g. `"hello"`. */
    readonly buildPathname?: string;
    /** `:version` when it is a literal string. */
    readonly version?: string;
}

/** What the image build needs to know about an app: its system and what it depends on. */
export interface AppSystem {
    /** The system to build. */
    readonly systemName: string;
    /** Its `.asd` file relative to the app directory (`"hello.asd"`), or undefined when given by explicit args. */
    readonly asdFile?: string;
    /** The function the executable calls, `package:function`. */
    readonly entryPoint: string;
    /** The executable's file name (no directories). */
    readonly buildPathname: string;
    /** `:version` when the `.asd` gives a literal one. */
    readonly version?: string;
    /**
     * External systems the app needs, sorted and unique: the dependency closure through the app's own
     * (local) systems, without the local systems themselves, which are app sources.
     */
    readonly dependencies: readonly string[];
    /** Implementation modules (`(:require "sb-posix")`) anywhere in that closure, sorted and unique. */
    readonly requires: readonly string[];
    /** The app's own systems the build system reaches (itself included), sorted. */
    readonly localSystems: readonly string[];
    /**
     * True when `lisp-deploy` or one of its systems (`lisp-deploy/hunchentoot`, ...) is in the transitive
     * `:depends-on` of the build system (directly or through the app's own systems): the app's `main` then
     * runs on lisp-deploy's runtime, which sends systemd READY=1 once it listens. See `usesLispDeployRuntime`.
     */
    readonly usesLispDeployRuntime: boolean;
}

/** Explicit values that replace what the `.asd` says, or stand in for an `.asd` that cannot be read. */
export interface AppSystemOverrides {
    /** The system to build; required when the app directory holds more than one top-level `.asd`. */
    readonly systemName?: string;
    /** External dependencies; replaces the closure computed from the `.asd` files. */
    readonly dependencies?: readonly string[];
    /** The entry point, `package:function`. */
    readonly entryPoint?: string;
    /** The executable's file name. */
    readonly buildPathname?: string;
}

/** Directories never searched for `.asd` files: version control, package managers' caches, build output. */
const IGNORED_DIRECTORIES = new Set([".git", "node_modules", ".qlot", ".lisp-deploy", "bin"]);

/**
 * Reduces one `:depends-on` entry to the system it names, or undefined when it does not apply on SBCL:
 * `"foo"`, `#:foo`, `:foo` -> `foo`; `(:version "foo" "1.2")` -> `foo`;
 * `(:feature :sbcl "foo")` -> `foo` when the feature holds; `(:require "sb-posix")` is reported separately.
 */
export function dependencyName(
    form: Sexp,
    features: FeatureTest = sbclLinuxFeatures,
): { system: string } | { require: string } | undefined {
    const plain = designatorName(form);
    if (plain !== undefined) return { system: plain };
    if (form.kind !== "list" || form.items.length < 2) return undefined;
    const [head, ...rest] = form.items;
    if (isSymbolNamed(head, "version")) return dependencyName(rest[0], features);
    if (isSymbolNamed(head, "feature")) {
        if (rest.length < 2 || !features(asKeywords(rest[0]))) return undefined;
        return dependencyName(rest[1], features);
    }
    if (isSymbolNamed(head, "require")) {
        const module = designatorName(rest[0]);
        return module === undefined ? undefined : { require: module };
    }
    return undefined;
}

function asKeywords(form: Sexp): Sexp {
    if (form.kind === "symbol") return { kind: "symbol", name: form.name, package: "keyword" };
    if (form.kind === "list") return { kind: "list", items: form.items.map(asKeywords) };
    return form;
}

/** Reads every `defsystem` form in one `.asd` text. `file` is only used to label the results. */
export function parseAsd(text: string, file: string, features: FeatureTest = sbclLinuxFeatures): SystemDefinition[] {
    const systems: SystemDefinition[] = [];
    const visit = (form: Sexp): void => {
        if (form.kind !== "list" || form.items.length === 0) return;
        if (isSymbolNamed(form.items[0], "defsystem") && form.items.length >= 2) {
            const name = designatorName(form.items[1]);
            if (name !== undefined) systems.push(definitionOf(name, form, file, features));
            return;
        }
        // defsystem forms are sometimes wrapped (progn, eval-when, #+sbcl (progn ...)).
        if (isSymbolNamed(form.items[0], "progn") || isSymbolNamed(form.items[0], "eval-when")) form.items.forEach(visit);
    };
    readAll(text, features).forEach(visit);
    return systems;
}

function definitionOf(name: string, form: LispList, file: string, features: FeatureTest): SystemDefinition {
    const options = new Map<string, Sexp>();
    const items = form.items.slice(2);
    for (let i = 0; i + 1 < items.length; i += 2) {
        const key = items[i];
        // The first occurrence wins, as with keyword arguments in Lisp.
        if (key.kind === "symbol" && !options.has(key.name)) options.set(key.name, items[i + 1]);
    }
    const dependsOn: string[] = [];
    const requires: string[] = [];
    for (const option of ["DEFSYSTEM-DEPENDS-ON", "DEPENDS-ON"]) {
        const list = options.get(option);
        if (list?.kind !== "list") continue;
        for (const entry of list.items) {
            const dep = dependencyName(entry, features);
            if (dep === undefined) continue;
            if ("system" in dep) dependsOn.push(dep.system);
            else requires.push(dep.require);
        }
    }
    const stringOption = (key: string): string | undefined => {
        const v = options.get(key);
        return v?.kind === "string" ? v.value : undefined;
    };
    return {
        name,
        file,
        dependsOn,
        requires,
        entryPoint: stringOption("ENTRY-POINT"),
        buildPathname: stringOption("BUILD-PATHNAME"),
        version: stringOption("VERSION"),
    };
}

/** Every `.asd` file under `appDir`, relative, with `/` separators, sorted (so results never depend on directory order). */
export function findAsdFiles(appDir: string, exclude: readonly string[] = []): string[] {
    const found: string[] = [];
    const excluded = new Set(exclude.map((e) => path.resolve(appDir, e)));
    const walk = (relative: string): void => {
        const absolute = path.join(appDir, relative);
        if (excluded.has(path.resolve(absolute))) return;
        for (const entry of fs.readdirSync(absolute, { withFileTypes: true })) {
            const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
            if (entry.isDirectory()) {
                if (!IGNORED_DIRECTORIES.has(entry.name)) walk(child);
            } else if (entry.isFile() && entry.name.endsWith(".asd")) {
                found.push(child);
            }
        }
    };
    walk("");
    return found.sort();
}

/** True for `lisp-deploy` and its secondary systems `lisp-deploy/...`: lisp-deploy's runtime. */
export function isLispDeploySystem(name: string): boolean {
    return primarySystemName(name) === "lisp-deploy";
}

/**
 * Whether an app reaching these systems (its external dependencies and its own systems) runs on
 * lisp-deploy's runtime: any `lisp-deploy` or `lisp-deploy/...` among them.
 */
export function usesLispDeployRuntime(systems: readonly string[]): boolean {
    return systems.some(isLispDeploySystem);
}

/** The primary system name of a (possibly secondary) system: `foo/test` -> `foo`. ASDF looks `foo/test` up in `foo.asd`. */
export function primarySystemName(name: string): string {
    const slash = name.indexOf("/");
    return slash < 0 ? name : name.slice(0, slash);
}

/**
 * Reads the app in `appDir`: finds its system's `.asd`, follows the app's own systems (other `.asd`
 * files in the tree), and returns the external dependency closure and the build settings. Explicit
 * `overrides` win over what the files say, and let an app whose `.asd` this reader cannot read still build.
 *
 * Throws ValidationError naming the file and the fix for a missing `.asd`, an unknown system or a
 * missing entry point.
 */
export function readAppSystem(
    appDir: string,
    overrides: AppSystemOverrides = {},
    options: { field?: FieldPath; exclude?: readonly string[]; features?: FeatureTest } = {},
): AppSystem {
    const field = options.field ?? "args";
    if (!fs.existsSync(appDir) || !fs.statSync(appDir).isDirectory()) {
        throw new ValidationError(at(field, "appDir"), `"${appDir}" is not a directory; point appDir at the directory that holds the app's .asd file.`);
    }
    const files = findAsdFiles(appDir, options.exclude);
    const systems = new Map<string, SystemDefinition>();
    const unreadable: { file: string; reason: string }[] = [];
    for (const file of files) {
        try {
            for (const def of parseAsd(fs.readFileSync(path.join(appDir, file), "utf8"), file, options.features)) {
                if (!systems.has(def.name)) systems.set(def.name, def);
            }
        } catch (e) {
            if (!(e instanceof SexpReadError)) throw e;
            unreadable.push({ file, reason: e.message });
        }
    }

    const systemName = overrides.systemName ?? defaultSystemName(files, appDir, field);
    const main = systems.get(systemName);
    if (main === undefined) {
        const fullyOverridden = overrides.systemName !== undefined && overrides.dependencies !== undefined && overrides.entryPoint !== undefined;
        if (fullyOverridden) {
            const dependencies = sortedUnique(overrides.dependencies!);
            return checkBuildNames(
                {
                    systemName,
                    entryPoint: overrides.entryPoint!,
                    buildPathname: overrides.buildPathname ?? defaultBuildPathname(systemName),
                    dependencies,
                    requires: [],
                    localSystems: [systemName],
                    usesLispDeployRuntime: usesLispDeployRuntime(dependencies),
                },
                overrides,
                field,
            );
        }
        const expectedFile = `${primarySystemName(systemName)}.asd`;
        const broken = unreadable.find((u) => path.posix.basename(u.file) === expectedFile) ?? unreadable[0];
        if (broken !== undefined) {
            throw new ValidationError(
                at(field, "systemName"),
                `${path.join(appDir, broken.file)} could not be read (${broken.reason}); fix the file, or pass systemName, dependencies, entryPoint and buildPathname explicitly.`,
            );
        }
        if (files.length === 0) {
            throw new ValidationError(at(field, "appDir"), `no .asd file found under "${appDir}"; add ${expectedFile} with (defsystem "${systemName}" ...) or point appDir at the app.`);
        }
        throw new ValidationError(
            at(field, "systemName"),
            `no .asd file under "${appDir}" defines system "${systemName}" (found: ${[...systems.keys()].sort().join(", ") || "none"}); fix systemName or add (defsystem "${systemName}" ...) to ${expectedFile}.`,
        );
    }

    const entryPoint = overrides.entryPoint ?? main.entryPoint;
    if (entryPoint === undefined) {
        throw new ValidationError(
            at(field, "entryPoint"),
            `${path.join(appDir, main.file)} defines system "${systemName}" without :entry-point; add :entry-point "package:main" to its defsystem, or pass entryPoint.`,
        );
    }
    if (!/^[^\s:]+::?[^\s:]+$/.test(entryPoint)) {
        throw new ValidationError(at(field, "entryPoint"), `"${entryPoint}" is not of the form package:function; write e.g. "hello:main".`);
    }

    // Walk the closure through the app's own systems: their dependencies count, they themselves are sources.
    const closure = dependencyClosure(systems, [systemName]);

    const buildPathname = overrides.buildPathname ?? main.buildPathname ?? defaultBuildPathname(systemName);
    const dependencies = overrides.dependencies ? sortedUnique(overrides.dependencies) : closure.dependencies;
    return checkBuildNames({
        systemName,
        asdFile: main.file,
        entryPoint,
        buildPathname,
        version: main.version,
        dependencies,
        requires: closure.requires,
        localSystems: closure.localSystems,
        // A copy of lisp-deploy inside the app tree is one of its own systems, and counts as well.
        usesLispDeployRuntime: usesLispDeployRuntime([...dependencies, ...closure.localSystems]),
    }, overrides, field, main.file);
}

/**
 * A build pathname: a plain file name of letters, digits, '.', '_', '+' or '-', not hidden. It is written
 * unquoted into the Dockerfile's COPY and ENTRYPOINT and names the executable on a host, where nothing
 * may split, expand (COPY substitutes `$VAR` and globs) or escape it.
 */
export const BUILD_PATHNAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** A system name is written on one line (quoted): no control character or Unicode line break. */
// eslint-disable-next-line no-control-regex
const ONE_LINE = /^[^\x00-\x1f\x7f\u0085\u2028\u2029]+$/u;
/** Entry points and dependencies are one word on one line: no whitespace either. */
// eslint-disable-next-line no-control-regex
const ONE_WORD = /^[^\s\x00-\x1f\x7f\u0085\u2028\u2029]+$/u;

/**
 * Checks the names the build writes into the Dockerfile and the dependency list (system name, entry point,
 * build pathname, dependencies), naming the argument the user gave or the `.asd` it came from.
 */
function checkBuildNames(app: AppSystem, overrides: AppSystemOverrides, field: FieldPath, asdFile?: string): AppSystem {
    const from = (given: unknown, option: string) => (given !== undefined || asdFile === undefined ? "" : ` (from ${option} in ${asdFile}; fix it there or pass the argument)`);
    if (!ONE_LINE.test(app.systemName)) {
        throw new ValidationError(at(field, "systemName"), `${JSON.stringify(app.systemName)} is not an ASDF system name: it must be one line without control characters, e.g. "hello".`);
    }
    if (!ONE_WORD.test(app.entryPoint) || !/^[^:]+::?[^:]+$/.test(app.entryPoint)) {
        throw new ValidationError(at(field, "entryPoint"), `${JSON.stringify(app.entryPoint)} is not of the form package:function (one word, no spaces or control characters); write e.g. "hello:main"${from(overrides.entryPoint, ":entry-point")}.`);
    }
    if (!BUILD_PATHNAME.test(app.buildPathname)) {
        throw new ValidationError(
            at(field, "buildPathname"),
            `${JSON.stringify(app.buildPathname)} must be a plain file name of letters, digits, '.', '_', '+' or '-' (no directories, spaces or control characters, not hidden), e.g. "hello"${from(overrides.buildPathname, ":build-pathname")}.`,
        );
    }
    for (const dependency of [...app.dependencies, ...app.requires]) {
        if (!ONE_WORD.test(dependency)) {
            const where = overrides.dependencies !== undefined ? "" : ` (from :depends-on in ${asdFile ?? "the .asd files"}; fix it there or pass dependencies)`;
            throw new ValidationError(at(field, "dependencies"), `${JSON.stringify(dependency)} is not an ASDF system name: one word without spaces or control characters${where}.`);
        }
    }
    return app;
}

/**
 * The external dependency closure of `roots` (systems defined under `dir`, e.g. `["lisp-deploy"]`):
 * used for a library shipped alongside the app, whose own dependencies must be installed too.
 * Throws ValidationError (on `field`) when `dir` has no `.asd` defining a root.
 */
export function readSystemDependencies(
    dir: string,
    roots: readonly string[],
    field: string,
    features: FeatureTest = sbclLinuxFeatures,
): { dependencies: string[]; requires: string[]; localSystems: string[] } {
    const systems = new Map<string, SystemDefinition>();
    for (const file of fs.existsSync(dir) ? findAsdFiles(dir) : []) {
        let defs: SystemDefinition[];
        try {
            defs = parseAsd(fs.readFileSync(path.join(dir, file), "utf8"), file, features);
        } catch (e) {
            if (!(e instanceof SexpReadError)) throw e;
            throw new ValidationError(field, `${path.join(dir, file)} could not be read (${e.message}); fix the file.`);
        }
        for (const def of defs) if (!systems.has(def.name)) systems.set(def.name, def);
    }
    for (const root of roots) {
        if (!isDefinedIn(systems, root)) {
            throw new ValidationError(field, `no .asd file under "${dir}" defines system "${root}"; point ${field} at the directory that holds ${primarySystemName(root)}.asd.`);
        }
    }
    return dependencyClosure(systems, roots);
}

/** True when `name` or its primary system is defined in `systems` (ASDF finds `foo/bar` in `foo.asd`). */
function isDefinedIn(systems: ReadonlyMap<string, SystemDefinition>, name: string): boolean {
    return systems.has(name) || systems.has(primarySystemName(name));
}

/**
 * Walks `:depends-on` from `roots` through the systems defined in `systems` (the tree's own systems):
 * their dependencies count, they themselves do not. Everything else is an external dependency.
 */
function dependencyClosure(
    systems: ReadonlyMap<string, SystemDefinition>,
    roots: readonly string[],
): { dependencies: string[]; requires: string[]; localSystems: string[] } {
    const local = new Set<string>();
    const external = new Set<string>();
    const requires = new Set<string>();
    const visit = (name: string): void => {
        if (local.has(name)) return;
        local.add(name);
        const def = systems.get(name);
        if (def === undefined) return; // a secondary system this reader did not see: ASDF will find it in its primary's file
        def.requires.forEach((r) => requires.add(r));
        for (const dep of def.dependsOn) {
            if (isDefinedIn(systems, dep)) visit(dep);
            else external.add(dep);
        }
    };
    roots.forEach(visit);
    return { dependencies: sortedUnique([...external]), requires: sortedUnique([...requires]), localSystems: sortedUnique([...local]) };
}

function defaultSystemName(files: readonly string[], appDir: string, field: FieldPath): string {
    const topLevel = files.filter((f) => !f.includes("/"));
    if (topLevel.length === 1) return topLevel[0].slice(0, -".asd".length);
    if (topLevel.length === 0) {
        throw new ValidationError(at(field, "appDir"), `no .asd file at the top of "${appDir}"; add one (e.g. app.asd with (defsystem "app" ...)) or point appDir at the app.`);
    }
    throw new ValidationError(at(field, "systemName"), `"${appDir}" holds several .asd files (${topLevel.join(", ")}); pass systemName to say which system to build.`);
}

function defaultBuildPathname(systemName: string): string {
    return systemName.replace(/\//g, "-");
}

function sortedUnique(names: readonly string[]): string[] {
    return [...new Set(names)].sort();
}
