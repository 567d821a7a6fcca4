import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { writeContext } from "./context";
import { DependencySourceArgs, SbclOriginArgs, toDependencySource, toSbclOrigin } from "./args";
import { checkImageOptions, ImagePlan, planImage } from "./plan";
import { Platform } from "../host/host";
import { at, checkLater, checkObject, checkOneOf, FieldPath, isKnownLater, PlanHandoff, planned } from "../validate";
import type { RuntimeBase } from "./dockerfile";

// The option types LispImageArgs is made of, public through src/index.ts's single export line.
export type { DependencySource, ImagePlanOptions, SbclOrigin } from "./plan";
export { RuntimeBase } from "./dockerfile";
export * from "./args";

/** A registry to push the runtime image to (e.g. Heroku's `registry.heroku.com`, or a local registry). */
export interface LispImageRegistry {
    /** The registry's host (and port), e.g. `registry.heroku.com`. */
    readonly server: pulumi.Input<string>;
    /** The user to log in as. */
    readonly username: pulumi.Input<string>;
    /** The password or API token; always treated as a secret. */
    readonly password: pulumi.Input<string>;
}

/**
 * Arguments of LispImage. The image settings are plain values, not Outputs: the `.asd` is read, the
 * options checked and the build context written while the program runs, so that bad input fails at
 * preview time and the context exists before the Docker provider hashes it. They mirror ImagePlanOptions
 * in the shapes Pulumi's schema inference can carry to other languages (no unions, no readonly arrays).
 */
export interface LispImageArgs {
    /** The app directory: holds the system's `.asd` and its sources (relative to the program's directory). */
    readonly appDir: string;
    /** The system to build (default: the only `.asd` at the top of appDir). */
    readonly systemName?: string;
    /** External dependencies, replacing what the `.asd` files say (for an `.asd` this reader cannot read). */
    readonly dependencies?: string[];
    /** `package:function` the executable calls (default: the system's `:entry-point`). */
    readonly entryPoint?: string;
    /** The executable's file name (default: `:build-pathname`, else the system name). */
    readonly buildPathname?: string;
    /** Where dependencies come from (default: Quicklisp with a pinned dist). */
    readonly dependencySource?: DependencySourceArgs;
    /**
     * Extra Debian packages for the build stages: the libraries a dependency loads while it is compiled
     * (e.g. `libsqlite3-0` for cl-sqlite: without it, loading the dependency stops the build with CFFI's
     * "Unable to load foreign library" or "Unable to load any of the alternatives") and tools the build runs.
     */
    readonly buildPackages?: string[];
    /**
     * Extra Debian packages for the runtime stage, for foreign libraries the executable opens only after
     * start (e.g. through a late `cffi:load-foreign-library`) and data it reads (e.g. `tzdata` for time
     * zones); those it opens at start are found by the build and installed without being listed here. The
     * slim runtime takes every file of these packages (and the libraries they link) from the build stage.
     */
    readonly runtimePackages?: string[];
    /** Base image of all stages (default `debian:bookworm-slim`). */
    readonly baseImage?: string;
    /** Where SBCL comes from (default: Debian's `sbcl` package). */
    readonly sbcl?: SbclOriginArgs;
    /** Compress the executable's core (default false: starts faster; true: a file about 4x smaller). */
    readonly compression?: boolean;
    /** Default `PORT` of the runtime image (default 8080). */
    readonly port?: number;
    /**
     * What the runtime image is built on: "slim" (default) holds only the executable, the shared libraries
     * it loads, CA certificates and the non-root user, with no shell or package manager; "debian-slim" is
     * the Debian base with a shell and apt, for debugging inside the container.
     */
    readonly runtimeBase?: RuntimeBase;
    /**
     * SBCL's heap limit in MB (`--dynamic-space-size`), saved into the executable (default: the SBCL
     * build's own). A heap that fills up ends in SBCL's "Heap exhausted" error, not the kernel's OOM killer.
     */
    readonly dynamicSpaceSizeMb?: number;
    /** Directory holding this package's `lisp-deploy.asd` and `src/` (default: the package's own `lisp/`). */
    readonly lispDeploySystemDir?: string;
    /** Paths (relative to the current directory) never copied from the app tree. */
    readonly excludeFromApp?: string[];
    /** Image repository name, e.g. `registry.heroku.com/my-app/web` (default: the system name). */
    readonly imageName?: pulumi.Input<string>;
    /** Image tag (default: `ctx-` and the first 12 hex digits of the context hash, so it changes exactly when the build input does). */
    readonly tag?: pulumi.Input<string>;
    /** Push the runtime image here. Without it the image is only built on the local engine. */
    readonly registry?: LispImageRegistry;
    /** Images whose layers the build may reuse (`--cache-from`), e.g. the last pushed image. */
    readonly cacheFrom?: pulumi.Input<pulumi.Input<string>[]>;
    /** Target platform, e.g. `linux/amd64` (Heroku runs amd64 only). Default: the Docker engine's own platform. */
    readonly platform?: pulumi.Input<string>;
    /** Network mode of the build's RUN steps, e.g. `host` on machines without a bridge network. Default: the engine's default network. */
    readonly buildNetwork?: pulumi.Input<string>;
    /**
     * Where to write the build context, relative to the program's directory (default
     * `.lisp-deploy/images/<name>`). Relative, so resource inputs never hold a machine's absolute paths.
     */
    readonly contextDir?: string;
}

/**
 * A Common Lisp app's runtime image: reads the app's `.asd`, writes a deterministic build context, renders
 * a multi-stage Dockerfile (basepackages -> quicklisp -> dependencies -> build -> runtime) and builds the
 * `runtime` stage with the Docker provider. The image holds only the executable at `executablePath`, the
 * shared libraries it needs and a non-root user, and listens on `$PORT`.
 *
 * @example
 * const image = new LispImage("hello", {
 *     appDir: "../hello",                                  // holds hello.asd (:entry-point "hello:main")
 *     dependencySource: { kind: "quicklisp", distVersion: "2024-10-12" },
 *     // The Debian packages of the shared libraries the executable opens (libssl3 for Hunchentoot's
 *     // cl+ssl) are found during the build; runtimePackages is for libraries it opens only later.
 *     compression: true,
 * });
 * export const imageRef = image.imageRef;                  // sha256:... (or name@sha256:... once pushed)
 */
export class LispImage extends pulumi.ComponentResource {
    /** The rendered Dockerfile: shown in previews, so a diff says which stage a change touches. */
    readonly dockerfile: pulumi.Output<string>;
    /** sha256 of the build context (Dockerfile, build scripts, dependency list, sources). */
    readonly contextHash: pulumi.Output<string>;
    /** The image name with tag, as built (and pushed). */
    readonly imageName: pulumi.Output<string>;
    /** `name@sha256:...` after a push; the local image id (`sha256:...`) for a local-only build. */
    readonly repoDigest: pulumi.Output<string>;
    /** The most precise reference to run: repoDigest when known, else imageName. */
    readonly imageRef: pulumi.Output<string>;
    /** Where the executable is inside the image (`/app/<build-pathname>`): SystemdRelease copies it out from here. */
    readonly executablePath: pulumi.Output<string>;
    /** The same path as a plain string, known when the component is constructed (a release validates it before deploy time). */
    readonly executablePathInImage: string;
    /** The ASDF system built. */
    readonly systemName: pulumi.Output<string>;
    /** The external dependencies loaded into dependencies.core, sorted. */
    readonly dependencies: pulumi.Output<string[]>;
    /** The port the image listens on unless `PORT` is set. */
    readonly port: pulumi.Output<number>;
    /**
     * Whether the executable sends systemd READY=1: true when the app's systems depend on lisp-deploy's
     * runtime (`lisp-deploy` or `lisp-deploy/...`, directly or through the app's own systems), whose `main`
     * notifies once it listens. A release's unit is `Type=notify` then, `Type=exec` otherwise.
     */
    readonly notifiesReadiness: pulumi.Output<boolean>;
    /** The same, as a plain value known when the component is constructed (a release renders its unit from it). */
    readonly usesLispDeployRuntime: boolean;

    constructor(name: string, args: LispImageArgs, opts?: pulumi.ComponentResourceOptions) {
        // Planned before anything is registered, the component included: bad input leaves nothing behind.
        // A WebApp that planned this image already hands its plan over (reading the app once).
        const { contextDir, plan, repository: defaultRepository } = imagePlans.take(args) ?? planLispImage(name, args);
        super("lisp-deploy:index:LispImage", name, {}, opts);
        writeContext(contextDir, plan.files);

        const repository = args.imageName ?? defaultRepository;
        const tag = args.tag ?? `ctx-${plan.contextHash.slice(0, 12)}`;
        const fullName = pulumi.interpolate`${repository}:${tag}`;

        const image = new docker.Image(
            `${name}-image`,
            {
                imageName: fullName,
                build: {
                    context: contextDir,
                    // Relative to the program's directory, as the provider expects (not to the context).
                    dockerfile: `${contextDir}/Dockerfile`,
                    target: "runtime",
                    // BuilderV1, the classic builder, on purpose: BuildKit attaches provenance attestations and
                    // pushes an OCI image index, which Heroku's registry rejects; the classic builder pushes a
                    // plain Docker v2 schema 2 manifest. It is also the only builder on engines without buildx.
                    builderVersion: "BuilderV1",
                    platform: args.platform === undefined ? undefined : checkLater(args.platform, (p) => checkOneOf("args.platform", p, Object.values(Platform))),
                    network: args.buildNetwork,
                    cacheFrom: args.cacheFrom ? { images: args.cacheFrom } : undefined,
                },
                skipPush: args.registry === undefined,
                registry: args.registry
                    ? { server: args.registry.server, username: args.registry.username, password: pulumi.secret(args.registry.password) }
                    : undefined,
            },
            { parent: this },
        );

        this.dockerfile = pulumi.output(plan.dockerfile);
        this.contextHash = pulumi.output(plan.contextHash);
        this.imageName = image.imageName;
        this.repoDigest = image.repoDigest;
        this.imageRef = pulumi.all([image.repoDigest, image.imageName]).apply(([digest, imageName]) => digest || imageName);
        this.executablePath = pulumi.output(plan.executablePath);
        this.executablePathInImage = plan.executablePath;
        this.systemName = pulumi.output(plan.app.systemName);
        this.dependencies = pulumi.output([...plan.dependencies]);
        this.port = pulumi.output(plan.spec.port);
        this.usesLispDeployRuntime = plan.app.usesLispDeployRuntime;
        this.notifiesReadiness = pulumi.output(plan.app.usesLispDeployRuntime);
        this.registerOutputs({
            dockerfile: this.dockerfile,
            contextHash: this.contextHash,
            imageName: this.imageName,
            repoDigest: this.repoDigest,
            imageRef: this.imageRef,
            executablePath: this.executablePath,
            executablePathInImage: this.executablePathInImage,
            systemName: this.systemName,
            dependencies: this.dependencies,
            port: this.port,
            notifiesReadiness: this.notifiesReadiness,
        });
    }
}

/** A LispImage's plan: where its context goes, the image plan, and the repository name it is built under. @internal */
export interface LispImagePlan {
    /** The build context directory, relative to the program's directory. */
    readonly contextDir: string;
    /** The image plan (the app read, the context and Dockerfile rendered). */
    readonly plan: ImagePlan;
    /** The repository name when `imageName` is not given: derived from the system name. */
    readonly repository: string;
}

/** Plans made by a WebApp for the LispImage it creates. @internal */
export const imagePlans = new PlanHandoff<LispImageArgs, LispImagePlan>();

/**
 * Plans a LispImage: checks every argument (the ones needing no file first, all at once, under `field`),
 * reads the app and renders the context. Reads files; writes nothing.
 * @internal
 */
export function planLispImage(name: string, args: LispImageArgs, field: FieldPath = "args"): LispImagePlan {
    return planned((problems) => {
        if (args === undefined || args === null || typeof args !== "object") {
            throw new ValidationError(at(field, ""), 'LispImage needs arguments: at least { appDir: "<the app directory holding its .asd>" }.');
        }
        const contextDir = problems.check(() => buildContextDir(name, args.contextDir, at(field, "contextDir")));
        if (args.dependencySource !== undefined) problems.check(() => checkObject(at(field, "dependencySource"), args.dependencySource, '{ kind: "quicklisp" }'));
        const dependencySource = problems.check(() => toDependencySource(args.dependencySource, at(field, "dependencySource")));
        if (args.sbcl !== undefined) problems.check(() => checkObject(at(field, "sbcl"), args.sbcl, '{ tarballUrl: "https://..." }'));
        const sbcl = problems.check(() => toSbclOrigin(args.sbcl, at(field, "sbcl")));
        if (args.platform !== undefined && !isKnownLater(args.platform)) {
            problems.check(() => checkOneOf(at(field, "platform"), args.platform, Object.values(Platform)));
        }
        const options = { ...args, dependencySource, sbcl, excludeFromApp: [...(Array.isArray(args.excludeFromApp) ? args.excludeFromApp : []), contextDir ?? ""] };
        problems.check(() => checkImageOptions(options, field));
        problems.throwIfAny();
        const plan = planImage(options, field);
        return { contextDir: contextDir!, plan, repository: dockerRepositoryName(plan.app.systemName) };
    });
}

/**
 * A Docker repository name for an ASDF system: Docker takes lower-case letters and digits, separated by
 * '.', '_', '__' or dashes, so "MyApp" builds as "myapp" and "cl+web" as "cl-web". Deterministic: the same
 * system always gets the same repository, and a name Docker already accepts is kept as it is.
 * @internal
 */
export function dockerRepositoryName(systemName: string): string {
    if (DOCKER_REPOSITORY.test(systemName)) return systemName;
    const name = systemName
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-")
        .replace(/[._-]{2,}/g, (run) => (/^-+$/.test(run) || run === "__" ? run : "-"))
        .replace(/^[._-]+|[._-]+$/g, "");
    return DOCKER_REPOSITORY.test(name) ? name : "app";
}

/** One path component of a Docker repository name, as the distribution spec defines it. */
const DOCKER_REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * The resource name as one directory name: characters other than letters, digits, '_' and '-' (and '.'
 * after the first) become `%XX`, so a name holding '/' or '..' ("web/api", "../src") stays one directory
 * below `.lisp-deploy/images/` instead of naming (and having deleted and rewritten) another directory.
 */
export function contextDirName(name: string): string {
    // "" would name .lisp-deploy/images/ itself, every image's directory; "%" alone is no encoding's output.
    if (name === "") return "%";
    return Array.from(Buffer.from(name, "utf8"))
        .map((b, i) => {
            const c = String.fromCharCode(b);
            return /[A-Za-z0-9_-]/.test(c) || (c === "." && i > 0) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
        })
        .join("");
}

/**
 * Where the build context is written, relative to the program's directory. writeContext deletes and
 * rewrites it, so it must be a directory of its own inside the program: never the program's directory
 * itself, never outside it, and (when derived from the resource name) always below `.lisp-deploy/images/`.
 */
export function buildContextDir(name: string, given: string | undefined, field = "args.contextDir"): string {
    if (given === undefined) return `.lisp-deploy/images/${contextDirName(name)}`;
    const contextDir = typeof given === "string" ? toPosix(path.normalize(given)) : "";
    if (typeof given !== "string" || /[\x00-\x1f\x7f]/.test(given) || path.isAbsolute(contextDir) || contextDir === ".." || contextDir.startsWith("../") || contextDir === "." || contextDir === "") {
        throw new ValidationError(
            field,
            `${JSON.stringify(given)} must be a directory of its own inside the program's directory (relative, no "..", not "." itself, no control characters): it is deleted and rewritten on every run. Leave it out for .lisp-deploy/images/<name>.`,
        );
    }
    return contextDir.replace(/\/$/, "");
}

function toPosix(p: string): string {
    return p.split(path.sep).join("/");
}
