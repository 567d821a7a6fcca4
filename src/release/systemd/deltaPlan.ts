import * as fs from "fs";
import * as path from "path";
import { ContextFile } from "../../image/context";
import { BUILD_STAGE_SCRIPTS, CONTEXT_PATHS, IMAGE_PATHS } from "../../image/dockerfile";
import { ImagePlan, ImagePlanOptions, packageLispDir, planImage } from "../../image/plan";
import { deterministicTar, sha256Hex } from "../../image/sourceArchive";
import { localScript } from "./scripts";

/** The file name of the dependencies executable, locally and on the host. */
export const DEPENDENCIES_EXECUTABLE = "lisp-deploy-dependencies";

/** The Lisp script that turns dependencies.core into the dependencies executable (run in the dependencies stage). */
export const DEPENDENCIES_EXECUTABLE_SCRIPT = "sbcl-dependencies-executable.lisp";

/**
 * What a delta release needs from the same plan LispImage builds: the key of the dependencies stage,
 * and the app's sources as a deterministic archive.
 */
export interface DeltaPlan {
    /** The image plan (context files and Dockerfile) the dependencies executable is built from. */
    readonly image: ImagePlan;
    /**
     * sha256 of everything the Dockerfile's stages up to `dependencies` consume: their Dockerfile text (OS
     * packages, SBCL, dependency source), the dependency list, the dependency build scripts and any
     * vendored or bundled dependency sources. It is what keeps the image's dependencies stage cached, so
     * it changes on a dependency change and never on an app change.
     */
    readonly dependenciesKey: string;
    /** The files of the source archive: the app (under `app/`) and the build stage's scripts, sorted. */
    readonly sourceFiles: readonly ContextFile[];
    /** The deterministic ustar archive of `sourceFiles`. */
    readonly sourceArchive: Buffer;
    /** sha256 of `sourceArchive`. */
    readonly sourceHash: string;
    /** Short id of the release: both hashes, since the executable is built from both. */
    readonly releaseId: string;
}

/** True for context files the app's own stage (build) consumes and the dependencies stage never sees. */
function isBuildStageFile(file: ContextFile): boolean {
    return (
        file.path === "Dockerfile" ||
        file.path.startsWith(`${CONTEXT_PATHS.app}/`) ||
        BUILD_STAGE_SCRIPTS.some((s) => file.path === `${CONTEXT_PATHS.buildScripts}/${s}`)
    );
}

/** The Dockerfile up to (not including) the build stage: the part the dependencies stage's cache depends on. */
export function dependencyStagesText(dockerfile: string): string {
    const at = dockerfile.indexOf("\nFROM dependencies AS build");
    if (at < 0) throw new Error("the rendered Dockerfile has no build stage after the dependencies stage");
    // Drop the build stage's comment lines too: they sit just before its FROM.
    return dockerfile.slice(0, dockerfile.lastIndexOf("\n# build:", at));
}

/** Plans a delta release's artifacts from the same options LispImage takes. Reads files; writes nothing. */
export function planDelta(options: ImagePlanOptions, field = "args.source"): DeltaPlan {
    const image = planImage(options, field);
    const keyParts = image.files.filter((f) => !isBuildStageFile(f));
    const keyHash = sha256Hex(
        Buffer.concat([
            Buffer.from(`${dependencyStagesText(image.dockerfile)}\0`),
            ...keyParts.flatMap((f) => [Buffer.from(`${f.path}\0${f.mode.toString(8)}\0${f.content.length}\0`), f.content]),
        ]),
    );
    const sourceFiles = image.files.filter((f) => f.path.startsWith(`${CONTEXT_PATHS.app}/`));
    // Only executable.lisp: common.lisp and sbcl.lisp are already loaded in the dependencies executable.
    const executableScript = `${CONTEXT_PATHS.buildScripts}/executable.lisp`;
    const script = image.files.find((f) => f.path === executableScript);
    if (!script) throw new Error(`the image plan has no ${executableScript}`);
    const files = [...sourceFiles, script].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const sourceArchive = deterministicTar(files);
    const sourceHash = sha256Hex(sourceArchive);
    return {
        image,
        dependenciesKey: keyHash,
        sourceFiles: files,
        sourceArchive,
        sourceHash,
        releaseId: sha256Hex(`${keyHash}\n${sourceHash}`).slice(0, 12),
    };
}

/** The text of lisp/build/sbcl-dependencies-executable.lisp, carried in the command that runs it. */
export function readDependenciesExecutableScript(): string {
    return fs.readFileSync(path.join(packageLispDir(), "build", DEPENDENCIES_EXECUTABLE_SCRIPT), "utf8");
}

/**
 * The local command that builds the Dockerfile's `dependencies` stage (the same stage, and so the same
 * layer cache, as LispImage's build) and saves the dependencies executable from it to `destination`
 * (relative to the program's directory): src/release/systemd/scripts/dependencies-executable.sh. Pure: all paths
 * relative, no clock, so the same key gives the same text. The container is removed even when a step fails.
 */
export function dependenciesExecutableCommand(opts: {
    /** The written build context, relative. */
    readonly contextDir: string;
    /** Tag of the dependencies stage image, e.g. `hello-dependencies:<key12>`. */
    readonly imageTag: string;
    /** Where to write the executable, relative. */
    readonly destination: string;
    /** `docker build --network` value, e.g. "host". */
    readonly network?: string;
    /** The Lisp script's text. */
    readonly script: string;
}): string {
    return localScript("dependencies-executable", {
        CONTEXT_DIR: opts.contextDir,
        IMAGE_TAG: opts.imageTag,
        DESTINATION: opts.destination,
        NETWORK: opts.network ?? "",
        CORE: IMAGE_PATHS.core,
        LISP_SCRIPT: opts.script,
        SCRIPT_IN_IMAGE: `/tmp/${DEPENDENCIES_EXECUTABLE_SCRIPT}`,
        OUTPUT_IN_IMAGE: `/tmp/${DEPENDENCIES_EXECUTABLE}`,
    });
}

