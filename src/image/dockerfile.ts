import { ValidationError } from "../errors";
import { shellWord } from "../shell";
import { checkPort } from "../validate";

/**
 * The pure Dockerfile renderer behind LispImage. Same spec in, same text out: the rendered Dockerfile is a
 * component output, so a preview diff shows exactly which stage a change touches.
 *
 * Stages, each a cache boundary the legacy builder reuses while its inputs are unchanged:
 *   basepackages  the OS, SBCL and build packages             (changes with those options only)
 *   quicklisp     where dependencies come from                 (Quicklisp client + pinned dist, qlot, Debian cl-* packages)
 *   dependencies  loads only the dependencies -> dependencies.core
 *                 (copies only the dependency list, vendored sources and bundled lisp-deploy: never the app)
 *   build         loads the app into that core -> the executable
 *   runtime       the image: by default ("slim") nothing but the executable, the shared libraries it loads
 *                 (copied from the build stage, so their versions are those it was built with), CA
 *                 certificates and a non-root user, on `scratch`: no shell, no package manager; or
 *                 ("debian-slim") the Debian base with those libraries' packages, for a shell when debugging
 */

/** Where SBCL comes from in the basepackages stage. */
export type SbclSource =
    /** Debian's `sbcl` package (the default). */
    | { readonly kind: "debian" }
    /** An SBCL binary tarball downloaded in the build; `sha256` is checked when given. */
    | { readonly kind: "url"; readonly url: string; readonly sha256?: string }
    /** An SBCL binary tarball shipped in the build context at `contextPath`. */
    | { readonly kind: "file"; readonly contextPath: string };

/** Where the dependencies' sources come from (rendered into the `quicklisp` and `dependencies` stages). */
export type DependencySourceSpec =
    /**
     * The Quicklisp client and a pinned dist (`distVersion`, e.g. "2024-10-12"); `ql:quickload` of the deps.
     * `clientInfoUrl` is the pinned client's `client-info.sexp` (its files' URLs and sha256 digests).
     */
    | { readonly kind: "quicklisp"; readonly distVersion: string; readonly clientInfoUrl: string }
    /** qlot: `qlfile` and `qlfile.lock` (in the context) installed with `qlot install`. */
    | { readonly kind: "qlot"; readonly installerUrl: string }
    /** Debian's `cl-*` packages, already mapped from system names. */
    | { readonly kind: "debian"; readonly packages: readonly string[] }
    /** A directory of sources shipped in the context (vendored). */
    | { readonly kind: "vendored" };

/**
 * What the runtime image is built on. "slim": `scratch` plus exactly the files the executable needs, taken
 * from the build stage (no shell, no package manager; the smallest image and the least to attack).
 * "debian-slim": the Debian base image with the libraries' packages installed, which has a shell and apt
 * for debugging inside the container.
 */
export const RuntimeBase = {
    /** `scratch` plus the files the executable needs (the default). */
    Slim: "slim",
    /** The Debian base image, with a shell and apt. */
    DebianSlim: "debian-slim",
} as const;
/** What the runtime image is built on. */
export type RuntimeBase = (typeof RuntimeBase)[keyof typeof RuntimeBase];
/** The runtime bases, the default first. */
export const RUNTIME_BASES: readonly RuntimeBase[] = [RuntimeBase.Slim, RuntimeBase.DebianSlim];

/** Everything the Dockerfile depends on. The renderer reads nothing else. */
export interface DockerfileSpec {
    /** Base image of the build stages and of the runtime stage, e.g. `debian:bookworm-slim`. */
    readonly baseImage: string;
    /** Where SBCL comes from. */
    readonly sbcl: SbclSource;
    /** Where the dependencies come from. */
    readonly dependencySource: DependencySourceSpec;
    /** Extra Debian packages for the build stages (e.g. `libssl-dev`), sorted by the caller or not: they are sorted here. */
    readonly buildPackages: readonly string[];
    /** Extra Debian packages for the runtime stage, for foreign libraries the executable opens only after start (those it opens at start are found by the build). */
    readonly runtimePackages: readonly string[];
    /** True when the context bundles this package's `lisp-deploy` system (see context.ts). */
    readonly bundlesLispDeploy: boolean;
    /** The ASDF system to build. */
    readonly systemName: string;
    /** `package:function` the executable calls. */
    readonly entryPoint: string;
    /** The executable's file name; it lands at `/app/<buildPathname>`. */
    readonly buildPathname: string;
    /** Compress the executable's core (smaller, starts slightly slower). */
    readonly compression: boolean;
    /** The default `PORT` the runtime image sets and exposes. */
    readonly port: number;
    /** What the runtime image is built on (see {@link RuntimeBase}). */
    readonly runtimeBase: RuntimeBase;
    /**
     * SBCL's heap limit in MB (`--dynamic-space-size`), saved into the executable with its runtime options;
     * undefined keeps the SBCL build's default.
     */
    readonly dynamicSpaceSizeMb?: number;
}

/** Paths inside the build context (relative, `/`-separated). context.ts writes exactly these. */
export const CONTEXT_PATHS = {
    buildScripts: "lisp-deploy/build",
    dependencyList: "lisp-deploy/dependencies.txt",
    vendor: "lisp-deploy/vendor",
    runtimeSystem: "lisp-deploy/runtime",
    qlot: "lisp-deploy/qlot",
    sbclTarball: "lisp-deploy/sbcl",
    app: "app",
} as const;

/** Paths inside the images. `/app/<buildPathname>` is the documented place of the executable. */
export const IMAGE_PATHS = {
    root: "/opt/lisp-deploy",
    buildScripts: "/opt/lisp-deploy/build",
    dependencyList: "/opt/lisp-deploy/dependencies.txt",
    vendor: "/opt/lisp-deploy/vendor",
    runtimeSystem: "/opt/lisp-deploy/runtime",
    qlot: "/opt/lisp-deploy/qlot",
    quicklisp: "/opt/quicklisp",
    core: "/opt/lisp-deploy/dependencies.core",
    out: "/opt/lisp-deploy/out",
    app: "/opt/app",
    /** The slim runtime image's file system, assembled in the build stage. */
    rootfs: "/opt/lisp-deploy/rootfs",
    runtimeHome: "/app",
} as const;

/** The build scripts the dependencies stage copies (the build stage adds `executable.lisp`). */
export const DEPENDENCY_BUILD_SCRIPTS = ["common.lisp", "sbcl.lisp", "dependencies.lisp"] as const;
/** The scripts only the build stage copies (after the dependencies, so editing them rebuilds no dependency). */
export const BUILD_STAGE_SCRIPTS = ["executable.lisp", "runtime-packages.sh", "runtime-rootfs.sh"] as const;
/** The script the quicklisp stage copies (Quicklisp source only): the client and its downloads over HTTPS. */
export const QUICKLISP_STAGE_SCRIPTS = ["quicklisp-https.lisp"] as const;

/** The smallest and largest `dynamicSpaceSizeMb` accepted: below 256 MB SBCL cannot hold a loaded app. */
export const DYNAMIC_SPACE_SIZE_LIMITS_MB = { min: 256, max: 4 * 1024 * 1024 } as const;

/** The user the runtime image runs as: numeric, so orchestrators that require a non-root uid can check it. */
export const RUNTIME_UID = 10001;

/** Where the executable is inside the runtime image. */
export function executablePath(buildPathname: string): string {
    return `${IMAGE_PATHS.runtimeHome}/${buildPathname}`;
}

/** The stage names, in order. The last one is the image LispImage builds. */
export const STAGES = ["basepackages", "quicklisp", "dependencies", "build", "runtime"] as const;

/** A word for /bin/sh, bare when it needs no quotes (quoting's one home is src/shell.ts). */
export const shellQuote = shellWord;

function sortedUnique(items: readonly string[]): string[] {
    return [...new Set(items)].sort();
}

/**
 * One `apt-get install` that leaves no package lists, downloaded .debs or apt's binary caches behind: a
 * debootstrapped base lacks the official image's docker-clean hook, and those files add about 100 MB.
 */
function aptInstall(packages: readonly string[]): string {
    return [
        "RUN apt-get update \\",
        ` && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${sortedUnique(packages).join(" ")} \\`,
        " && apt-get clean && rm -rf /var/lib/apt/lists/*",
    ].join("\n");
}

const QUICKLISP_STAGE_COMMENT: Record<DependencySourceSpec["kind"], string> = {
    quicklisp: "# quicklisp: the Quicklisp client with a pinned dist, so a rebuild gets the same library versions.",
    qlot: "# quicklisp: the qlot installer; the dependencies stage installs what qlfile.lock pins.",
    debian: "# quicklisp: the dependencies as Debian cl-* packages (ASDF finds /usr/share/common-lisp by default).",
    vendored: "# quicklisp: nothing to fetch; the dependencies are vendored sources copied in the next stage.",
};

const SBCL_FLAGS = "--non-interactive --no-sysinit --no-userinit";

/** The pinned Quicklisp dist's index, over HTTPS. */
export function quicklispDistUrl(distVersion: string): string {
    return `https://beta.quicklisp.org/dist/quicklisp/${distVersion}/distinfo.txt`;
}

/** The source trees ASDF must search in the dependencies stage (vendored sources, the bundled runtime). */
function dependencySourceTrees(spec: DockerfileSpec): string[] {
    const trees: string[] = [];
    if (spec.dependencySource.kind === "vendored") trees.push(IMAGE_PATHS.vendor);
    if (spec.bundlesLispDeploy) trees.push(IMAGE_PATHS.runtimeSystem);
    return trees;
}

/** The Debian packages SBCL needs at run time: its runtime links libzstd (core compression in SBCL >= 2.2.6); older SBCLs compress with zlib. */
export function runtimeLibraries(spec: Pick<DockerfileSpec, "compression">): string[] {
    return spec.compression ? ["libzstd1", "zlib1g"] : ["libzstd1"];
}

// eslint-disable-next-line no-control-regex
const ONE_WORD = /^[^\s\x00-\x1f\x7f\u0085\u2028\u2029]+$/u;
// eslint-disable-next-line no-control-regex
const ONE_LINE = /^[^\x00-\x1f\x7f\u0085\u2028\u2029]+$/u;
const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * The renderer's own guard (LispImage checks the same earlier, naming the argument): every value it writes
 * is one word on one line, and those written unquoted into COPY, ENTRYPOINT or `apt-get install` use only
 * characters Docker and the shell read as themselves. A newline would add an instruction; a space, `$` or
 * glob character in a COPY source would split, expand or match.
 */
export function validateDockerfileSpec(spec: DockerfileSpec): void {
    const fail = (field: string, value: unknown, rule: string) => {
        throw new ValidationError(field, `${JSON.stringify(value)} ${rule}`);
    };
    if (!/^[a-z0-9][a-z0-9._/:@-]*$/i.test(spec.baseImage)) fail("baseImage", spec.baseImage, 'is not an image reference; write e.g. "debian:bookworm-slim".');
    if (!ONE_LINE.test(spec.systemName)) fail("systemName", spec.systemName, "must be one line without control characters.");
    if (!ONE_WORD.test(spec.entryPoint)) fail("entryPoint", spec.entryPoint, "must be one word without spaces or control characters.");
    if (!PLAIN_FILE_NAME.test(spec.buildPathname)) fail("buildPathname", spec.buildPathname, "must be a plain file name of letters, digits, '.', '_', '+' or '-'.");
    spec.buildPackages.forEach((p, i) => DEBIAN_PACKAGE.test(p) || fail(`buildPackages[${i}]`, p, 'is not a Debian package name; use names like "libssl-dev".'));
    spec.runtimePackages.forEach((p, i) => DEBIAN_PACKAGE.test(p) || fail(`runtimePackages[${i}]`, p, 'is not a Debian package name; use names like "libssl3".'));
    if (spec.dependencySource.kind === "debian") {
        spec.dependencySource.packages.forEach((p, i) => DEBIAN_PACKAGE.test(p) || fail(`dependencySource.packages[${i}]`, p, "is not a Debian package name."));
    }
    if (spec.dependencySource.kind === "quicklisp") {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(spec.dependencySource.distVersion)) fail("dependencySource.distVersion", spec.dependencySource.distVersion, 'is not a date like "2024-10-12".');
        if (!/^https:\/\/[^"\\]+$/.test(spec.dependencySource.clientInfoUrl) || !ONE_WORD.test(spec.dependencySource.clientInfoUrl)) {
            fail("dependencySource.clientInfoUrl", spec.dependencySource.clientInfoUrl, "must be an https URL without spaces, quotes, backslashes or control characters.");
        }
    }
    if (spec.dependencySource.kind === "qlot" && !ONE_WORD.test(spec.dependencySource.installerUrl)) {
        fail("dependencySource.installerUrl", spec.dependencySource.installerUrl, "must be a URL without spaces or control characters.");
    }
    if (spec.sbcl.kind === "url") {
        if (!/^https?:\/\//.test(spec.sbcl.url) || !ONE_WORD.test(spec.sbcl.url)) fail("sbcl.tarballUrl", spec.sbcl.url, "must be an http(s) URL without spaces or control characters.");
        if (spec.sbcl.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(spec.sbcl.sha256)) fail("sbcl.sha256", spec.sbcl.sha256, "must be 64 lower-case hex digits.");
    }
    if (spec.sbcl.kind === "file" && !/^[A-Za-z0-9._/+-]+$/.test(spec.sbcl.contextPath)) {
        fail("sbcl.tarballFile", spec.sbcl.contextPath, "must be a file name of letters, digits, '.', '_', '+' or '-'.");
    }
    checkPort("port", spec.port);
    if (!RUNTIME_BASES.includes(spec.runtimeBase)) fail("runtimeBase", spec.runtimeBase, `must be one of ${RUNTIME_BASES.map((b) => `"${b}"`).join(", ")}.`);
    const size = spec.dynamicSpaceSizeMb;
    if (size !== undefined && (!Number.isInteger(size) || size < DYNAMIC_SPACE_SIZE_LIMITS_MB.min || size > DYNAMIC_SPACE_SIZE_LIMITS_MB.max)) {
        fail("dynamicSpaceSizeMb", size, `must be a whole number of MB from ${DYNAMIC_SPACE_SIZE_LIMITS_MB.min} to ${DYNAMIC_SPACE_SIZE_LIMITS_MB.max}.`);
    }
}

/** Renders the multi-stage Dockerfile for `spec`. Pure: no clock, no file system, no randomness. */
export function renderDockerfile(spec: DockerfileSpec): string {
    validateDockerfileSpec(spec);
    const out: string[] = [];
    const src = spec.dependencySource;

    out.push(
        `# Generated by lisp-deploy for the ASDF system "${spec.systemName}". Do not edit: change the LispImage arguments.`,
        "# Stages: basepackages -> quicklisp -> dependencies -> build -> runtime (the image).",
        "",
    );

    // basepackages ------------------------------------------------------------------------------------
    const basePackages = ["ca-certificates", ...spec.buildPackages];
    if (spec.sbcl.kind === "debian") basePackages.push("sbcl");
    else basePackages.push("bzip2", "xz-utils", "libzstd1", "zlib1g");
    if (spec.sbcl.kind === "url" || src.kind === "quicklisp" || src.kind === "qlot") basePackages.push("curl");
    if (src.kind === "qlot") basePackages.push("git");
    out.push(
        "# basepackages: the OS, SBCL and the packages the build needs.",
        `FROM ${spec.baseImage} AS basepackages`,
        aptInstall(basePackages),
    );
    if (spec.sbcl.kind !== "debian") {
        const fetch =
            spec.sbcl.kind === "url"
                ? [`RUN curl -fsSL -o /tmp/sbcl.tar ${shellQuote(spec.sbcl.url)} \\`]
                : [`COPY ${spec.sbcl.contextPath} /tmp/sbcl.tar`, "RUN true \\"];
        if (spec.sbcl.kind === "url" && spec.sbcl.sha256) {
            fetch.push(` && echo ${shellQuote(`${spec.sbcl.sha256}  /tmp/sbcl.tar`)} | sha256sum -c - \\`);
        }
        out.push(
            ...fetch,
            " && mkdir /tmp/sbcl && tar -xf /tmp/sbcl.tar -C /tmp/sbcl --strip-components=1 \\",
            " && cd /tmp/sbcl && sh install.sh \\",
            " && cd / && rm -rf /tmp/sbcl /tmp/sbcl.tar",
        );
    }
    out.push("");

    // quicklisp ---------------------------------------------------------------------------------------
    out.push(QUICKLISP_STAGE_COMMENT[src.kind], `FROM basepackages AS quicklisp`);
    let setup = "";
    switch (src.kind) {
        case "quicklisp": {
            // Quicklisp's own client speaks no TLS: quicklisp-https.lisp installs the client (its files checked
            // against the pinned client-info's sha256) and the dist with curl over HTTPS, and the dependencies
            // stage loads it again before downloading archives.
            out.push(
                `COPY ${QUICKLISP_STAGE_SCRIPTS.map((f) => `${CONTEXT_PATHS.buildScripts}/${f}`).join(" ")} ${IMAGE_PATHS.buildScripts}/`,
                `RUN sbcl ${SBCL_FLAGS} --load ${IMAGE_PATHS.buildScripts}/quicklisp-https.lisp \\`,
                `      --eval ${shellQuote(`(lisp-deploy-quicklisp:install "${IMAGE_PATHS.quicklisp}/" "${src.clientInfoUrl}" "${quicklispDistUrl(src.distVersion)}")`)}`,
            );
            setup = `${IMAGE_PATHS.quicklisp}/setup.lisp`;
            break;
        }
        case "qlot":
            out.push(`RUN curl -fsSL ${shellQuote(src.installerUrl)} | sh`, 'ENV PATH="/root/.qlot/bin:${PATH}"');
            setup = `${IMAGE_PATHS.qlot}/.qlot/setup.lisp`;
            break;
        case "debian":
            if (src.packages.length > 0) out.push(aptInstall(src.packages));
            else out.push("# (no Debian packages needed)");
            break;
        case "vendored":
            break;
    }
    out.push("");

    // dependencies ------------------------------------------------------------------------------------
    const trees = dependencySourceTrees(spec);
    out.push(
        "# dependencies: loads only the dependencies and saves dependencies.core. It copies the generated",
        "# dependency list (and dependency sources), never the app, so editing the app does not rebuild it.",
        "FROM quicklisp AS dependencies",
        `COPY ${DEPENDENCY_BUILD_SCRIPTS.map((f) => `${CONTEXT_PATHS.buildScripts}/${f}`).join(" ")} ${IMAGE_PATHS.buildScripts}/`,
        `COPY ${CONTEXT_PATHS.dependencyList} ${IMAGE_PATHS.dependencyList}`,
    );
    if (src.kind === "vendored") out.push(`COPY ${CONTEXT_PATHS.vendor}/ ${IMAGE_PATHS.vendor}/`);
    if (spec.bundlesLispDeploy) out.push(`COPY ${CONTEXT_PATHS.runtimeSystem}/ ${IMAGE_PATHS.runtimeSystem}/`);
    if (src.kind === "qlot") {
        out.push(
            `COPY ${CONTEXT_PATHS.qlot}/qlfile ${CONTEXT_PATHS.qlot}/qlfile.lock ${IMAGE_PATHS.qlot}/`,
            `RUN cd ${IMAGE_PATHS.qlot} && qlot install`,
        );
    }
    const depEnv = [
        `LISP_DEPLOY_DEPENDENCIES=${IMAGE_PATHS.dependencyList}`,
        `LISP_DEPLOY_SOURCE_TREES=${shellQuote(trees.join(":"))}`,
        `LISP_DEPLOY_SETUP=${shellQuote(setup)}`,
        `LISP_DEPLOY_CORE=${IMAGE_PATHS.core}`,
    ];
    out.push(
        `RUN ${depEnv.join(" \\\n    ")} \\`,
        `    sbcl ${SBCL_FLAGS} --load ${IMAGE_PATHS.buildScripts}/dependencies.lisp`,
        "",
    );

    // build -------------------------------------------------------------------------------------------
    const buildEnv = [
        `LISP_DEPLOY_SOURCE_TREES=${shellQuote([IMAGE_PATHS.app, ...trees].join(":"))}`,
        `LISP_DEPLOY_SYSTEM=${shellQuote(spec.systemName)}`,
        `LISP_DEPLOY_ENTRY_POINT=${shellQuote(spec.entryPoint)}`,
        `LISP_DEPLOY_OUTPUT=${IMAGE_PATHS.out}/${shellQuote(spec.buildPathname)}`,
        `LISP_DEPLOY_COMPRESSION=${spec.compression ? "true" : "false"}`,
    ];
    const built = `${IMAGE_PATHS.out}/${spec.buildPathname}`;
    const sharedObjects = `${IMAGE_PATHS.out}/shared-objects.txt`;
    // A runtime option must come before the toplevel options; save-runtime-options then keeps it in the executable.
    const runtimeOptions = spec.dynamicSpaceSizeMb === undefined ? "" : ` --dynamic-space-size ${spec.dynamicSpaceSizeMb}MB`;
    const slim = spec.runtimeBase === "slim";
    const runtimePackages = sortedUnique(spec.runtimePackages);
    out.push("# build: loads the app into dependencies.core and saves the executable.", "FROM dependencies AS build");
    if (slim && runtimePackages.length > 0) {
        out.push("# The runtime packages, installed here: the slim runtime image takes their files from this stage.", aptInstall(runtimePackages));
    }
    out.push(
        `COPY ${BUILD_STAGE_SCRIPTS.map((f) => `${CONTEXT_PATHS.buildScripts}/${f}`).join(" ")} ${IMAGE_PATHS.buildScripts}/`,
        `COPY ${CONTEXT_PATHS.app}/ ${IMAGE_PATHS.app}/`,
        `RUN mkdir -p ${IMAGE_PATHS.out} && ${buildEnv.join(" \\\n    ")} \\`,
        `    sbcl --core ${IMAGE_PATHS.core}${runtimeOptions} ${SBCL_FLAGS} --load ${IMAGE_PATHS.buildScripts}/executable.lisp \\`,
        slim
            ? ` && sh ${IMAGE_PATHS.buildScripts}/runtime-rootfs.sh ${built} ${sharedObjects} ${IMAGE_PATHS.rootfs} ${RUNTIME_UID}${runtimePackages.map((p) => ` ${p}`).join("")}`
            : ` && sh ${IMAGE_PATHS.buildScripts}/runtime-packages.sh ${sharedObjects} ${IMAGE_PATHS.out}/runtime-packages.txt`,
        "",
    );

    // runtime -----------------------------------------------------------------------------------------
    const exe = executablePath(spec.buildPathname);
    if (slim) {
        out.push(
            "# runtime: nothing but the executable, the shared libraries it loads (with their own), CA certificates",
            "# and /etc/passwd naming the non-root user, all from the build stage: no shell, no package manager,",
            "# no SBCL, no sources. The libraries are one layer and the executable another, so a code change",
            "# ships only the executable's layer. PORT is honoured, so the same image runs on Heroku (which runs",
            "# an ENTRYPOINT as it is, without a shell), Docker and a host.",
            "FROM scratch AS runtime",
            `COPY --from=build ${IMAGE_PATHS.rootfs}/ /`,
            `COPY --from=build ${built} ${exe}`,
        );
    } else {
        out.push(
            "# runtime: the Debian base with the executable, the packages of the shared libraries it needs, CA",
            "# certificates and a non-root user; a shell and apt for debugging. No SBCL, no sources. PORT is",
            "# honoured, so the same image runs on Heroku, Docker and a host.",
            `FROM ${spec.baseImage} AS runtime`,
            aptInstall(["ca-certificates", ...runtimeLibraries(spec), ...spec.runtimePackages]).replace(
                " && rm -rf /var/lib/apt/lists/*",
                ` && rm -rf /var/lib/apt/lists/* \\\n && groupadd --system --gid ${RUNTIME_UID} app \\\n && useradd --system --uid ${RUNTIME_UID} --gid ${RUNTIME_UID} --home-dir ${IMAGE_PATHS.runtimeHome} --no-create-home --shell /usr/sbin/nologin app`,
            ),
            "# The Debian packages of the shared libraries the executable opens, found in the build stage. An unchanged",
            "# list keeps this layer cached, so a code change does not reinstall them.",
            `COPY --from=build ${IMAGE_PATHS.out}/runtime-packages.txt /tmp/lisp-deploy-runtime-packages.txt`,
            "RUN packages=$(cat /tmp/lisp-deploy-runtime-packages.txt); rm /tmp/lisp-deploy-runtime-packages.txt; \\",
            '    if [ -n "$packages" ]; then apt-get update \\',
            "     && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages \\",
            "     && apt-get clean && rm -rf /var/lib/apt/lists/*; fi",
            `COPY --from=build ${built} ${exe}`,
            "# Fail the build, not the first start, when a foreign library the executable opens is missing.",
            `COPY --from=build ${sharedObjects} /tmp/lisp-deploy-shared-objects.txt`,
            "RUN missing=''; for lib in $(cat /tmp/lisp-deploy-shared-objects.txt); do \\",
            '      if [ -e "$lib" ] || ldconfig -p | grep -qF "$lib ("; then :; else missing="$missing $lib"; fi; done; \\',
            "    rm /tmp/lisp-deploy-shared-objects.txt; \\",
            '    if [ -n "$missing" ]; then echo "lisp-deploy: the executable opens$missing at start, but the runtime image lacks it;' +
                ' no Debian package owns it, so add the package that provides it to runtimePackages." >&2; exit 1; fi',
        );
    }
    out.push(
        `USER ${RUNTIME_UID}:${RUNTIME_UID}`,
        `WORKDIR ${IMAGE_PATHS.runtimeHome}`,
        `ENV PORT=${spec.port}`,
        `EXPOSE ${spec.port}`,
        `ENTRYPOINT ["${exe}"]`,
        "",
    );
    return out.join("\n");
}

/**
 * The generated dependency list the dependencies stage copies: one `require NAME` or `system NAME` line
 * per entry, sorted and unique, so it changes only when the dependencies do.
 */
export function renderDependencyList(systems: readonly string[], requires: readonly string[]): string {
    const lines = [...sortedUnique(requires).map((r) => `require ${r}`), ...sortedUnique(systems).map((s) => `system ${s}`)];
    return lines.join("\n") + "\n";
}
