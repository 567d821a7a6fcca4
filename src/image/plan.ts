import * as fs from "fs";
import * as path from "path";
import { AppSystem, isLispDeploySystem, primarySystemName, readAppSystem, readSystemDependencies } from "../asdf/system";
import { ValidationError } from "../errors";
import { at, checkBoolean, checkPort, checkString, checkStringList, FieldPath, Problems, shown } from "../validate";
import { collectTree, ContextFile, contextHash, sortContext, textFile } from "./context";
import {
    CONTEXT_PATHS,
    BUILD_STAGE_SCRIPTS,
    DEPENDENCY_BUILD_SCRIPTS,
    DependencySourceSpec,
    DockerfileSpec,
    DYNAMIC_SPACE_SIZE_LIMITS_MB,
    QUICKLISP_STAGE_SCRIPTS,
    RUNTIME_BASES,
    RuntimeBase,
    executablePath,
    renderDependencyList,
    renderDockerfile,
    SbclSource,
} from "./dockerfile";

/** The Quicklisp dist LispImage pins when none is given: a fixed version, so two builds get the same libraries. */
export const DEFAULT_QUICKLISP_DIST = "2024-10-12";
/** The Quicklisp client version LispImage installs: pinned, like the dist, so two builds get the same client. */
export const QUICKLISP_CLIENT_VERSION = "2021-02-13";
/** The pinned client's description (its files' URLs and sha256 digests), fetched over HTTPS. */
export const QUICKLISP_CLIENT_INFO_URL = `https://beta.quicklisp.org/client/${QUICKLISP_CLIENT_VERSION}/client-info.sexp`;
/** Where the qlot installer comes from. */
export const QLOT_INSTALLER_URL = "https://qlot.tech/installer";
/** The base image of every stage unless told otherwise (setup-machine.sh makes it locally). */
export const DEFAULT_BASE_IMAGE = "debian:bookworm-slim";
/** The port the runtime image listens on unless `PORT` says otherwise. */
export const DEFAULT_PORT = 8080;

/** Where the dependencies' sources come from. */
export type DependencySource =
    /** Quicklisp with a pinned dist (the default). `distVersion` like "2024-10-12". */
    | { readonly kind: "quicklisp"; readonly distVersion?: string }
    /** qlot: `qlfile` and `qlfile.lock` in `qlfileDir` (default: the app directory). */
    | { readonly kind: "qlot"; readonly qlfileDir?: string }
    /**
     * Debian's `cl-*` packages. `packages` maps system names to Debian package names, overriding the
     * default mapping (`foo` -> `cl-foo`); map a system to "" when no package is needed.
     */
    | { readonly kind: "debian"; readonly packages?: Readonly<Record<string, string>> }
    /** A directory of library sources (vendored), copied into the context and registered with ASDF. */
    | { readonly kind: "vendored"; readonly dir: string };

/** Where SBCL comes from: Debian's package (default), or an SBCL binary tarball by URL or local file. */
export type SbclOrigin = { readonly tarballUrl: string; readonly sha256?: string } | { readonly tarballFile: string };

/** The plain (non-Output) settings that shape the image; LispImageArgs is built on them. */
export interface ImagePlanOptions {
    /** The app directory: holds the system's `.asd` and its sources. */
    readonly appDir: string;
    /** The system to build (default: the only `.asd` at the top of appDir). */
    readonly systemName?: string;
    /** External dependencies, replacing what the `.asd` files say (for an `.asd` this reader cannot read). */
    readonly dependencies?: readonly string[];
    /** `package:function` the executable calls (default: the system's `:entry-point`). */
    readonly entryPoint?: string;
    /** The executable's file name (default: `:build-pathname`, else the system name). */
    readonly buildPathname?: string;
    /** Where dependencies come from (default: Quicklisp with a pinned dist). */
    readonly dependencySource?: DependencySource;
    /** Extra Debian packages for the build stages. */
    readonly buildPackages?: readonly string[];
    /** Extra Debian packages for the runtime stage, for foreign libraries the executable opens only after start (those it opens at start are found by the build and installed automatically). */
    readonly runtimePackages?: readonly string[];
    /** Base image of all stages (default `debian:bookworm-slim`). */
    readonly baseImage?: string;
    /** Where SBCL comes from (default: Debian's `sbcl` package). */
    readonly sbcl?: SbclOrigin;
    /** Compress the executable's core (default false: starts faster; true: a file about 4x smaller). */
    readonly compression?: boolean;
    /** Default `PORT` of the runtime image (default 8080). */
    readonly port?: number;
    /** What the runtime image is built on: "slim" (default; no shell, no package manager) or "debian-slim" (a shell for debugging). */
    readonly runtimeBase?: RuntimeBase;
    /** SBCL's heap limit in MB, saved into the executable (default: the SBCL build's own, usually 8 GB on x86-64). */
    readonly dynamicSpaceSizeMb?: number;
    /** Directory holding this package's `lisp-deploy.asd` and `src/` (default: the package's own `lisp/`). */
    readonly lispDeploySystemDir?: string;
    /** Paths (relative to the current directory) never copied from the app tree, e.g. the context directory. */
    readonly excludeFromApp?: readonly string[];
}

/** Everything needed to write the context and build the image. */
export interface ImagePlan {
    /** What the `.asd` files say (after overrides). */
    readonly app: AppSystem;
    /** All external systems the dependencies stage loads (the app's plus bundled lisp-deploy's), sorted. */
    readonly dependencies: readonly string[];
    /** True when the context bundles this package's lisp-deploy system. */
    readonly bundlesLispDeploy: boolean;
    /** The spec the Dockerfile is rendered from. */
    readonly spec: DockerfileSpec;
    /** The rendered Dockerfile (also a file of the context). */
    readonly dockerfile: string;
    /** Every file of the context, sorted by path, Dockerfile included. */
    readonly files: readonly ContextFile[];
    /** sha256 of the context (see contextHash). */
    readonly contextHash: string;
    /** Where the executable is inside the runtime image. */
    readonly executablePath: string;
}

/** The package's own `lisp/` directory: resolved from this file (src/image or bin/image), never from the cwd. */
export function packageLispDir(): string {
    return path.resolve(__dirname, "..", "..", "lisp");
}

/** Systems that ship with SBCL or ASDF itself: no Debian package, nothing to download. */
function isBuiltIn(system: string): boolean {
    const primary = primarySystemName(system);
    return primary === "asdf" || primary === "uiop" || primary.startsWith("sb-");
}

/**
 * Debian package names of systems whose package is not simply `cl-<system>` (Debian names packages after
 * projects, not systems). Systems named `cl-...` map to themselves.
 */
export const DEBIAN_PACKAGE_EXCEPTIONS: Readonly<Record<string, string>> = {
    "cl+ssl": "cl-plus-ssl",
};

/** The Debian package providing `system`, or undefined when none is needed. `overrides` win. */
export function debianPackageFor(system: string, overrides: Readonly<Record<string, string>> = {}): string | undefined {
    const primary = primarySystemName(system);
    const override = overrides[system] ?? overrides[primary];
    if (override !== undefined) return override === "" ? undefined : override;
    if (isBuiltIn(primary)) return undefined;
    if (DEBIAN_PACKAGE_EXCEPTIONS[primary]) return DEBIAN_PACKAGE_EXCEPTIONS[primary];
    return primary.startsWith("cl-") ? primary : `cl-${primary}`;
}

const DEBIAN_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

function checkPackages(field: string, packages: unknown): void {
    checkStringList(field, packages, "libssl3");
    const problems = new Problems();
    (packages as readonly string[]).forEach((p, i) => {
        if (!DEBIAN_PACKAGE_NAME.test(p)) problems.add(`${field}[${i}]`, `"${p}" is not a Debian package name; use lower-case names like "libssl3".`);
    });
    problems.throwIfAny();
}

/**
 * The image options that need no file read, checked all at once (types included: a string where a list
 * belongs, "yes" for a boolean), so a user reads every such problem in one error before the app is read.
 * @internal
 */
export function checkImageOptions(options: ImagePlanOptions, field: FieldPath = "args"): void {
    const p = new Problems();
    if (typeof options.appDir !== "string" || options.appDir === "") {
        p.add(at(field, "appDir"), `is required: the app directory holding its .asd, relative to the program (e.g. "../hello"); got ${shown(options.appDir)}.`);
    }
    for (const key of ["systemName", "entryPoint", "buildPathname", "baseImage", "lispDeploySystemDir"] as const) {
        if (options[key] !== undefined) p.check(() => checkString(at(field, key), options[key], key === "baseImage" ? DEFAULT_BASE_IMAGE : "hello"));
    }
    if (options.port !== undefined) p.check(() => checkPort(at(field, "port"), options.port));
    if (options.buildPackages !== undefined) p.check(() => checkPackages(at(field, "buildPackages"), options.buildPackages));
    if (options.runtimePackages !== undefined) p.check(() => checkPackages(at(field, "runtimePackages"), options.runtimePackages));
    if (options.dependencies !== undefined) p.check(() => checkStringList(at(field, "dependencies"), options.dependencies, "hunchentoot"));
    if (options.excludeFromApp !== undefined) p.check(() => checkStringList(at(field, "excludeFromApp"), options.excludeFromApp, "node_modules"));
    if (options.compression !== undefined) p.check(() => checkBoolean(at(field, "compression"), options.compression));
    if (options.runtimeBase !== undefined && !RUNTIME_BASES.includes(options.runtimeBase)) {
        p.add(at(field, "runtimeBase"), `must be ${RUNTIME_BASES.map((b) => `"${b}"`).join(" or ")} ("debian-slim" has a shell for debugging); got ${shown(options.runtimeBase)}.`);
    }
    const size = options.dynamicSpaceSizeMb;
    if (size !== undefined && (!Number.isInteger(size) || size < DYNAMIC_SPACE_SIZE_LIMITS_MB.min || size > DYNAMIC_SPACE_SIZE_LIMITS_MB.max)) {
        p.add(at(field, "dynamicSpaceSizeMb"), `must be a whole number of MB from ${DYNAMIC_SPACE_SIZE_LIMITS_MB.min} to ${DYNAMIC_SPACE_SIZE_LIMITS_MB.max} (SBCL's heap limit); got ${shown(size)}.`);
    }
    if (typeof options.baseImage === "string" && !/^[a-z0-9][a-z0-9._/:@-]*$/i.test(options.baseImage)) {
        p.add(at(field, "baseImage"), `"${options.baseImage}" is not an image reference; write e.g. "debian:bookworm-slim".`);
    }
    p.throwIfAny();
}

function requireDirectory(field: string, dir: string, what: string): void {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ValidationError(field, `"${dir}" is not a directory; point it at ${what}.`);
}

/**
 * Reads the app, validates every option (throwing ValidationError naming the field and the fix) and plans
 * the build context and Dockerfile. Reads files; writes nothing.
 */
export function planImage(options: ImagePlanOptions, field: FieldPath = "args"): ImagePlan {
    checkImageOptions(options, field);
    const source: DependencySource = options.dependencySource ?? { kind: "quicklisp" };
    const port = options.port ?? DEFAULT_PORT;
    const baseImage = options.baseImage ?? DEFAULT_BASE_IMAGE;
    const runtimeBase = options.runtimeBase ?? "slim";

    const excludeFromApp = [...(options.excludeFromApp ?? [])];
    if (source.kind === "vendored") {
        requireDirectory(at(field, "dependencySource.dir"), source.dir, "the directory of vendored library sources");
        excludeFromApp.push(source.dir);
    }
    const app = readAppSystem(
        options.appDir,
        { systemName: options.systemName, dependencies: options.dependencies, entryPoint: options.entryPoint, buildPathname: options.buildPathname },
        { field, exclude: excludeFromApp.map((e) => path.relative(options.appDir, path.resolve(e))) },
    );

    const files: ContextFile[] = [];
    const buildScriptsDir = path.join(packageLispDir(), "build");
    for (const script of [...DEPENDENCY_BUILD_SCRIPTS, ...BUILD_STAGE_SCRIPTS]) {
        files.push(textFile(`${CONTEXT_PATHS.buildScripts}/${script}`, fs.readFileSync(path.join(buildScriptsDir, script), "utf8")));
    }

    // The lisp-deploy runtime ships inside this package: bundle it when the app needs it and does not carry its own copy.
    const lispDeployRoots = app.dependencies.filter(isLispDeploySystem);
    const bundlesLispDeploy = lispDeployRoots.length > 0;
    let dependencies = [...app.dependencies];
    let requires = [...app.requires];
    if (bundlesLispDeploy) {
        const dir = options.lispDeploySystemDir ?? packageLispDir();
        const runtimeField = at(field, "lispDeploySystemDir");
        if (!fs.existsSync(path.join(dir, "lisp-deploy.asd"))) {
            throw new ValidationError(runtimeField, `the app depends on ${lispDeployRoots.join(", ")} but "${dir}" has no lisp-deploy.asd; install a lisp-deploy release that ships it, or point lispDeploySystemDir at one.`);
        }
        const runtime = readSystemDependencies(dir, lispDeployRoots, runtimeField);
        dependencies = [...new Set([...dependencies, ...runtime.dependencies])].sort();
        requires = [...new Set([...requires, ...runtime.requires])].sort();
        files.push(textFile(`${CONTEXT_PATHS.runtimeSystem}/lisp-deploy.asd`, fs.readFileSync(path.join(dir, "lisp-deploy.asd"), "utf8")));
        if (fs.existsSync(path.join(dir, "src"))) files.push(...collectTree(path.join(dir, "src"), `${CONTEXT_PATHS.runtimeSystem}/src`));
    }

    let dependencySpec: DependencySourceSpec;
    switch (source.kind) {
        case "quicklisp": {
            const distVersion = source.distVersion ?? DEFAULT_QUICKLISP_DIST;
            if (!/^\d{4}-\d{2}-\d{2}$/.test(distVersion)) {
                throw new ValidationError(at(field, "dependencySource.distVersion"), `"${distVersion}" is not a Quicklisp dist version; write a date like "${DEFAULT_QUICKLISP_DIST}".`);
            }
            dependencySpec = { kind: "quicklisp", distVersion, clientInfoUrl: QUICKLISP_CLIENT_INFO_URL };
            for (const script of QUICKLISP_STAGE_SCRIPTS) {
                files.push(textFile(`${CONTEXT_PATHS.buildScripts}/${script}`, fs.readFileSync(path.join(buildScriptsDir, script), "utf8")));
            }
            break;
        }
        case "qlot": {
            const dir = source.qlfileDir ?? options.appDir;
            for (const name of ["qlfile", "qlfile.lock"]) {
                const file = path.join(dir, name);
                if (!fs.existsSync(file)) throw new ValidationError(at(field, "dependencySource.qlfileDir"), `${file} does not exist; run \`qlot install\` in the app to create it, or point qlfileDir at it.`);
                files.push(textFile(`${CONTEXT_PATHS.qlot}/${name}`, fs.readFileSync(file, "utf8")));
            }
            dependencySpec = { kind: "qlot", installerUrl: QLOT_INSTALLER_URL };
            break;
        }
        case "debian": {
            const overrides = source.packages ?? {};
            Object.entries(overrides).forEach(([system, pkg]) => {
                if (pkg !== "" && !DEBIAN_PACKAGE_NAME.test(pkg)) throw new ValidationError(at(field, `dependencySource.packages["${system}"]`), `"${pkg}" is not a Debian package name; use e.g. "cl-hunchentoot", or "" for none.`);
            });
            const packages = dependencies.filter((d) => !isLispDeploySystem(d)).map((d) => debianPackageFor(d, overrides)).filter((p): p is string => p !== undefined);
            for (const system of dependencies) {
                const pkg = isLispDeploySystem(system) ? undefined : debianPackageFor(system, overrides);
                if (pkg !== undefined && !DEBIAN_PACKAGE_NAME.test(pkg)) {
                    throw new ValidationError(at(field, `dependencySource.packages["${primarySystemName(system)}"]`), `system ${JSON.stringify(system)} would map to ${JSON.stringify(pkg)}, which is not a Debian package name; map it to its package (e.g. "cl-foo"), or to "" for none.`);
                }
            }
            dependencySpec = { kind: "debian", packages: [...new Set(packages)].sort() };
            break;
        }
        case "vendored":
            files.push(...collectTree(source.dir, CONTEXT_PATHS.vendor));
            dependencySpec = { kind: "vendored" };
            break;
    }

    let sbcl: SbclSource = { kind: "debian" };
    if (options.sbcl && "tarballUrl" in options.sbcl) {
        if (!/^https?:\/\/[^\s\x00-\x1f\x7f\u0085\u2028\u2029]+$/u.test(options.sbcl.tarballUrl)) {
            throw new ValidationError(at(field, "sbcl.tarballUrl"), `${JSON.stringify(options.sbcl.tarballUrl)} is not an http(s) URL (no spaces or control characters; percent-encode them); give the URL of an SBCL binary tarball.`);
        }
        if (options.sbcl.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(options.sbcl.sha256)) throw new ValidationError(at(field, "sbcl.sha256"), "must be 64 lower-case hex digits (the tarball's sha256sum).");
        sbcl = { kind: "url", url: options.sbcl.tarballUrl, sha256: options.sbcl.sha256 };
    } else if (options.sbcl && "tarballFile" in options.sbcl) {
        const file = options.sbcl.tarballFile;
        if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new ValidationError(at(field, "sbcl.tarballFile"), `"${file}" is not a file; give the path of an SBCL binary tarball.`);
        // The name is written unquoted into a COPY instruction: only characters Docker reads as themselves.
        if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(path.basename(file))) {
            throw new ValidationError(at(field, "sbcl.tarballFile"), `the file name ${JSON.stringify(path.basename(file))} must be letters, digits, '.', '_', '+' or '-' (it is copied into the image by name); rename the tarball.`);
        }
        const contextPath = `${CONTEXT_PATHS.sbclTarball}/${path.basename(file)}`;
        files.push({ path: contextPath, mode: 0o644, content: fs.readFileSync(file) });
        sbcl = { kind: "file", contextPath };
    }

    files.push(textFile(CONTEXT_PATHS.dependencyList, renderDependencyList(dependencies, requires)));
    files.push(...collectTree(options.appDir, CONTEXT_PATHS.app, excludeFromApp));

    const spec: DockerfileSpec = {
        baseImage,
        sbcl,
        dependencySource: dependencySpec,
        buildPackages: [...(options.buildPackages ?? [])].sort(),
        runtimePackages: [...(options.runtimePackages ?? [])].sort(),
        bundlesLispDeploy,
        systemName: app.systemName,
        entryPoint: app.entryPoint,
        buildPathname: app.buildPathname,
        compression: options.compression ?? false,
        port,
        runtimeBase,
        dynamicSpaceSizeMb: options.dynamicSpaceSizeMb,
    };
    const dockerfile = renderDockerfile(spec);
    files.push(textFile("Dockerfile", dockerfile));
    const sorted = sortContext(files);
    return {
        app,
        dependencies,
        bundlesLispDeploy,
        spec,
        dockerfile,
        files: sorted,
        contextHash: contextHash(sorted),
        executablePath: executablePath(app.buildPathname),
    };
}
