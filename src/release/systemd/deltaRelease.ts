import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ValidationError } from "../../errors";
import { writeContext } from "../../image/context";
import { DEPENDENCIES_EXECUTABLE, dependenciesExecutableCommand, planDelta, readDependenciesExecutableScript } from "./deltaPlan";
import { DependencySourceArgs, toDependencySource } from "../../image/args";
import { ImagePlanOptions } from "../../image/plan";
import { renderUnit } from "./unit";
import { releaseScript, renderEnvironmentFile } from "./scripts";
import { activateParameters, planReleaseSettings, releaseCommandParameters, ReleaseSettings, withSwank } from "./systemdRelease";
import { at, FieldPath, planned } from "../../validate";
import { contextDirName } from "../../image/lispImage";

/** Which artifacts a delta release ships: only the sources, or the dependencies executable too. */
export const DeltaKind = {
    /** The host already had the dependencies executable: only the source archive was uploaded. */
    SourceOnly: "source-only",
    /** The dependencies changed (or this is the first release): the dependencies executable was uploaded as well. */
    DependenciesAndSource: "dependencies-and-source",
} as const;
/** See {@link DeltaKind}. */
export type DeltaKind = (typeof DeltaKind)[keyof typeof DeltaKind];

/**
 * Arguments of a {@link DeltaRelease}: SystemdRelease's release settings, and the app's sources as
 * LispImage reads them (flat and without unions, so Pulumi's schema inference can express them).
 */
export interface DeltaReleaseArgs extends ReleaseSettings {
    /** The app directory holding its `.asd`, relative to the program's directory (as for LispImage). */
    readonly appDir: string;
    /** The system to build (default: the only `.asd` at the top of appDir). */
    readonly systemName?: string;
    /** `package:function` the executable calls (default: the system's `:entry-point`). */
    readonly entryPoint?: string;
    /** Where dependencies come from (default: Quicklisp with the pinned dist), exactly as in LispImage. */
    readonly dependencySource?: DependencySourceArgs;
    /** Extra Debian packages for the dependencies stage. */
    readonly buildPackages?: string[];
    /** Base image of the dependencies stage (default `debian:bookworm-slim`, matching Debian bookworm hosts). */
    readonly baseImage?: string;
    /** Compress the executable built on the host (default false). */
    readonly compression?: boolean;
    /** Network of the local `docker build`/`docker create` that make the dependencies executable, e.g. "host". */
    readonly buildNetwork?: string;
    /** Repository of the local dependencies-stage image (tagged with the dependencies key); default `<system>-dependencies`. */
    readonly dependenciesImageName?: string;
    /** Where local artifacts go, relative to the program's directory; default `.lisp-deploy/delta/<name>`. */
    readonly workDir?: string;
    /**
     * This release's `dependenciesKey` from the last deployment (e.g. read from this same stack with a
     * StackReference). When given, `deltaKind` is computed from it and so is known at preview time;
     * otherwise the host reports it after the update.
     */
    readonly previousDependenciesKey?: pulumi.Input<string>;
}

/** Which kind of delta an update ships, given the dependencies key deployed last (if any) and the new one. */
export function deltaKindOf(previousKey: string | undefined, key: string): DeltaKind {
    return previousKey === key ? DeltaKind.SourceOnly : DeltaKind.DependenciesAndSource;
}

/** LispImage's plan options from a DeltaRelease's flat arguments; throws ValidationError naming the field. */
export function deltaImageOptions(args: DeltaReleaseArgs, excludeFromApp: readonly string[] = []): ImagePlanOptions {
    if (typeof args.appDir !== "string" || args.appDir === "") {
        throw new ValidationError("args.appDir", "give the app directory (holding its .asd), as for LispImage.");
    }
    const dependencySource = toDependencySource(args.dependencySource, "args.dependencySource");
    return {
        appDir: args.appDir,
        systemName: args.systemName,
        entryPoint: args.entryPoint,
        dependencySource,
        buildPackages: args.buildPackages,
        baseImage: args.baseImage,
        compression: args.compression,
        excludeFromApp,
    };
}

/**
 * Plans a DeltaRelease: its work directory, the app's delta plan (reads the app) and the release settings
 * (SystemdRelease's rules), reporting every problem at once under `field`.
 * @internal
 */
export function planDeltaRelease(name: string, args: DeltaReleaseArgs, field: FieldPath = "args") {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "DeltaRelease needs arguments: at least connection, app, port and appDir.");
        if (args.connection === undefined) problems.add(at(field, "connection"), "is required: pass the host's `connection` (an Ec2Host's or SshHost's).");
        const workDir = toPosix(path.normalize(args.workDir ?? path.join(".lisp-deploy", "delta", contextDirName(name))));
        if (path.isAbsolute(workDir) || workDir === ".." || workDir.startsWith("../")) {
            problems.add(at(field, "workDir"), `"${args.workDir}" must be a path inside the program's directory (relative, no ".."), so previews do not depend on the machine.`);
        }
        const delta = problems.check(() => planDelta(deltaImageOptions(args, [workDir]), "args"));
        // The executable is built on the host, named after :build-pathname; the unit type follows the app's
        // .asd (see unitTypeFor) unless serviceType is given.
        const executableName = delta?.image.app.buildPathname ?? "app";
        const plan = problems.check(() =>
            planReleaseSettings({ ...args, notifiesReadiness: args.notifiesReadiness ?? delta?.image.app.usesLispDeployRuntime }, executableName, field),
        );
        problems.throwIfAny();
        return { workDir, delta: delta!, executableName, plan: plan! };
    });
}

/**
 * A systemd release that ships deltas (the idea Consfigurator showed for Lisp): the host keeps a
 * dependencies executable (SBCL runtime + dependencies.core, saved with :executable t, so the host needs
 * no SBCL; built on Debian bookworm like the hosts, and the host script checks the architecture), and a
 * code-only change ships just a deterministic source archive that the host builds into the new
 * executable with lisp/build/executable.lisp. The release then switches, health-checks and rolls back
 * exactly as SystemdRelease does (the same prepare/activate scripts).
 *
 * The preview shows which of the two happens: `-dependencies-*` resources are keyed by the dependencies
 * hash only (no change on a code-only change), `-source-upload` and `-build` by the sources.
 */
export class DeltaRelease extends pulumi.ComponentResource {
    /** The release directory's id: a hash of the dependencies key and the source archive. */
    readonly releaseId: pulumi.Output<string>;
    /** sha256 of the dependencies stage's inputs: the key of the dependencies executable on the host. */
    readonly dependenciesKey: pulumi.Output<string>;
    /** sha256 of the source archive shipped. */
    readonly sourceHash: pulumi.Output<string>;
    /** Size in bytes of the source archive. */
    readonly sourceArchiveBytes: pulumi.Output<number>;
    /**
     * What the update ships: "source-only" or "dependencies-and-source". Known at preview time when
     * `previousDependenciesKey` is given; otherwise reported by the host's build step after the update.
     */
    readonly deltaKind: pulumi.Output<string>;
    /** Where the app answers: http://<host>:<port>/. */
    readonly url: pulumi.Output<string>;
    /** The rendered unit file. */
    readonly unit: pulumi.Output<string>;

    constructor(name: string, args: DeltaReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Planned before anything is registered, the component included: bad input leaves nothing behind.
        const { workDir, delta, executableName, plan } = planDeltaRelease(name, args);
        super("lisp-deploy:index:DeltaRelease", name, {}, opts);
        const contextDir = `${workDir}/context`;
        const key = delta.dependenciesKey;
        const key12 = key.slice(0, 12);
        const releaseId = delta.releaseId;

        // Local artifacts, written now like LispImage's context: deterministic bytes at paths named by their hash.
        writeContext(contextDir, delta.image.files);
        const archiveFile = `${workDir}/sources/${delta.sourceHash.slice(0, 12)}.tar`;
        fs.mkdirSync(path.dirname(archiveFile), { recursive: true });
        if (!fs.existsSync(archiveFile) || !fs.readFileSync(archiveFile).equals(delta.sourceArchive)) fs.writeFileSync(archiveFile, delta.sourceArchive);

        const connection = pulumi.secret(pulumi.output(args.connection));

        // Dependencies: keyed by the dependencies hash alone.
        const depsFile = `${workDir}/dependencies/${key12}/${DEPENDENCIES_EXECUTABLE}`;
        const depsExecutable = new command.local.Command(
            `${name}-dependencies-executable`,
            {
                create: dependenciesExecutableCommand({
                    contextDir,
                    imageTag: `${args.dependenciesImageName ?? `${delta.image.app.systemName}-dependencies`}:${key12}`,
                    destination: depsFile,
                    network: args.buildNetwork,
                    script: readDependenciesExecutableScript(),
                }),
            },
            { parent: this },
        );
        const depsPrepare = new command.remote.Command(
            `${name}-dependencies-prepare`,
            { connection, create: releaseScript("prepare-dependencies", { APP: args.app, DEPENDENCIES_KEY: key }) },
            { parent: this },
        );
        const depsUpload = new command.remote.CopyToRemote(
            `${name}-dependencies-upload`,
            {
                connection,
                // The path is known now; waiting for stdout orders the upload after the local build.
                source: depsExecutable.stdout.apply(() => new pulumi.asset.FileAsset(depsFile)),
                remotePath: `${plan.paths.dependencies}/${key}/.upload-${DEPENDENCIES_EXECUTABLE}`,
            },
            { parent: this, dependsOn: [depsPrepare] },
        );

        // Sources: keyed by the archive (and the release id).
        const prepare = new command.remote.Command(
            `${name}-prepare`,
            { connection, create: releaseScript("prepare", { APP: args.app, RELEASE_ID: releaseId }) },
            { parent: this },
        );
        const sourceUpload = new command.remote.CopyToRemote(
            `${name}-source-upload`,
            { connection, source: new pulumi.asset.FileAsset(archiveFile), remotePath: `${plan.paths.releases}/${releaseId}/.source.tar` },
            { parent: this, dependsOn: [prepare] },
        );
        const build = new command.remote.Command(
            `${name}-build`,
            {
                connection,
                create: releaseScript("delta-build", {
                    APP: args.app,
                    RELEASE_ID: releaseId,
                    DEPENDENCIES_KEY: key,
                    EXECUTABLE: executableName,
                    SYSTEM: delta.image.app.systemName,
                    ENTRY_POINT: delta.image.app.entryPoint,
                    COMPRESSION: delta.image.spec.compression ? "true" : "false",
                }),
            },
            { parent: this, dependsOn: [depsUpload, sourceUpload] },
        );

        const environment = pulumi.output(args.environment ?? {}) as pulumi.Output<Record<string, string>>;
        const unitEnvironment = environment.apply((env) => withSwank(env, args.swankPort));
        const unit = unitEnvironment.apply((env) => renderUnit({ ...plan.unitSpec, environment: env }));
        const secretEnv = args.secretEnvironment
            ? pulumi.secret(pulumi.output(args.secretEnvironment).apply((env) => renderEnvironmentFile(env as Record<string, string>)))
            : undefined;
        const activate = new command.remote.Command(
            `${name}-activate`,
            {
                connection,
                create: pulumi.all([unit, unitEnvironment]).apply(([unitText, env]) =>
                    releaseScript(
                        "activate",
                        activateParameters(args, plan, { releaseId, executableName, unitText, hasSecrets: !!secretEnv, releaseCommand: releaseCommandParameters(plan, env) }),
                    ),
                ),
                // remove.sh removes /opt/<app> whole, dependencies included.
                delete: releaseScript("remove", { APP: args.app }),
                stdin: secretEnv,
            },
            { parent: this, dependsOn: [build] },
        );

        const host = pulumi.unsecret(connection.apply((c) => c.host));
        this.releaseId = pulumi.all([activate.stdout]).apply(() => releaseId);
        this.dependenciesKey = pulumi.output(key);
        this.sourceHash = pulumi.output(delta.sourceHash);
        this.sourceArchiveBytes = pulumi.output(delta.sourceArchive.length);
        this.deltaKind =
            args.previousDependenciesKey !== undefined
                ? pulumi.output(args.previousDependenciesKey).apply((previous) => deltaKindOf(previous || undefined, key))
                : build.stdout.apply((out) => (out ?? "").trim().split("\n").pop() ?? "");
        this.url = pulumi.all([host, activate.stdout]).apply(([h]) => `http://${h}:${args.port}/`);
        this.unit = unit;
        this.registerOutputs({
            releaseId: this.releaseId,
            dependenciesKey: this.dependenciesKey,
            sourceHash: this.sourceHash,
            sourceArchiveBytes: this.sourceArchiveBytes,
            deltaKind: this.deltaKind,
            url: this.url,
            unit: this.unit,
        });
    }
}

function toPosix(p: string): string {
    return p.split(path.sep).join("/");
}
