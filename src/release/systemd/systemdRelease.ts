import { activationParameters } from "./activation";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ValidationError } from "../../errors";
import { at, checkBoolean, checkDisjointEnvironments, checkEnvironment, checkHealthPath, checkObject, checkOneOf, checkReleaseCommand, checkReleaseId, checkStateDirectory, checkUserName, checkWholeNumber, FieldPath, PlanHandoff, planned, Problems } from "../../validate";
import { HostConnection } from "../../host/connection";
import { DYNAMIC_SPACE_SIZE_LIMITS_MB } from "../../image/dockerfile";
import { DEFAULT_START_TIMEOUT_SECONDS, releasePaths, renderReleaseCommandUnit, renderUnit, UnitSpec, unitTypeFor, validateAppName, validateExecutableName, validatePort, validateStartTimeout } from "./unit";
import { localScript, releaseScript, renderEnvironmentFile } from "./scripts";
import { planZeroDowntime, proxyUrl, renderSlotUnits, slotActivateParams, slotRemoveParams, ZeroDowntime } from "./zeroDowntime";

/** The executable comes from a file on the machine running Pulumi (e.g. `asdf:make` output). */
export interface ExecutableFile {
    /** Path of the executable; prefer a path relative to the Pulumi project so previews stay machine-independent. */
    readonly file: string;
}

/** The executable comes from an image (a LispImage's runtime stage), copied out with `docker create` + `docker cp`. */
export interface ExecutableInImage {
    /** The image reference, ideally `name@sha256:…` as LispImage outputs it, so a rebuild is a new release. */
    readonly image: pulumi.Input<string>;
    /** Absolute path of the executable inside the image, e.g. `/app/hello`. */
    readonly path: string;
}

/**
 * Where the executable comes from: `{ file }` (an ExecutableFile) or `{ image, path }` (an ExecutableInImage),
 * as one flat object rather than a union so Pulumi's schema inference can carry it to every language.
 */
export interface ExecutableSource {
    /** Path of a local executable (relative to the Pulumi project keeps previews machine-independent). */
    readonly file?: string;
    /** The image to copy the executable out of, ideally `name@sha256:…`. */
    readonly image?: pulumi.Input<string>;
    /** Absolute path of the executable inside `image`, e.g. `/app/hello`. */
    readonly path?: string;
}

/** How systemd learns the app is up (the enum form the schema inference understands). */
export const ServiceType = {
    /** The app sends READY=1 (lisp-deploy's runtime does). */
    Notify: "notify",
    /** Started as soon as the process runs, for apps that never notify. */
    Exec: "exec",
} as const;
/** How systemd learns the app is up. */
export type ServiceType = (typeof ServiceType)[keyof typeof ServiceType];

/** An HTTP check run on the host after each (re)start; a release that fails it is rolled back. */
export interface HealthCheck {
    /** Path requested on 127.0.0.1:<port>; default `/`. */
    readonly path?: string;
    /** The status that means healthy; default 200. */
    readonly expectedStatus?: number;
    /** Seconds to wait for that status after the restart; default 30. */
    readonly timeoutSeconds?: number;
}

/**
 * What every release to a systemd host takes, whatever ships the executable: the host, the app's name
 * and port, its unit, environment, health check and retention. SystemdRelease and DeltaRelease extend it,
 * so both validate and apply these the same way (planRelease, activateParameters).
 */
export interface ReleaseSettings {
    /** How to reach the host (Ec2Host's or SshHost's `connection`); the login user must be root or have passwordless sudo. */
    readonly connection: pulumi.Input<HostConnection>;
    /** App name: the unit is `<app>.service`, releases live in `/opt/<app>`. Lower-case letters, digits and '-'. */
    readonly app: string;
    /** TCP port the app listens on (passed as PORT). */
    readonly port: number;
    /**
     * `notify` for apps on lisp-deploy's runtime, which sends READY=1; `exec` for apps that never notify.
     * Default: from `notifiesReadiness` (see `unitTypeFor`); wins over it when given.
     */
    readonly serviceType?: ServiceType;
    /**
     * Whether the executable sends systemd READY=1: true for apps built on lisp-deploy's runtime (LispImage's
     * `notifiesReadiness` reads it from the `.asd`). Picks the unit type when `serviceType` is not given:
     * `notify` when true, `exec` when false; unknown (left out) means `notify`.
     */
    readonly notifiesReadiness?: boolean;
    /**
     * Seconds systemd waits for the app to start (TimeoutStartSec=; for `notify`, until READY=1); the health
     * check waits at least as long while the unit is starting. Default 30.
     */
    readonly startTimeoutSeconds?: number;
    /**
     * The executable's SBCL heap limit in MB (LispImage's `dynamicSpaceSizeMb`), when it was set: the unit's
     * `MemoryMax=` goes a little above it, so a leak ends in a journal line and a restart of this service,
     * not the kernel's OOM killer choosing a process on the host. Left out: no MemoryMax.
     */
    readonly dynamicSpaceSizeMb?: number;
    /** Non-secret environment variables, written into the unit (and so shown in previews). */
    readonly environment?: Record<string, pulumi.Input<string>>;
    /** Secret environment variables: sent on stdin into a 0600 file read through `EnvironmentFile=`; never in the unit or a command. */
    readonly secretEnvironment?: Record<string, pulumi.Input<string>>;
    /** The health check; defaults: `/`, 200, 30 s. */
    readonly healthCheck?: HealthCheck;
    /** How many release directories to keep on the host (current and previous are never pruned); default 5. */
    readonly keepReleases?: number;
    /** Run as this system user (created if missing). Default: a transient systemd DynamicUser. */
    readonly user?: string;
    /**
     * Start Swank on 127.0.0.1:<swankPort> (sets SWANK_PORT); reach it through the `swankTunnel` command.
     * With `zeroDowntime` each slot runs its own: the blue slot on `swankPort`, the green slot on
     * `swankPort + 1` (both slots run side by side during a switch), and the tunnel reaches the live one.
     */
    readonly swankPort?: number;
    /** Journal lines included in the error when a release fails its health check; default 30. */
    readonly journalLines?: number;
    /**
     * Arguments passed to the NEW release's executable, run once when a release is about to serve (e.g.
     * `["migrate"]` for database migrations): after the upload, before anything switches, from the release's
     * directory with the app's environment, secrets, user and sandbox (a oneshot `<app>-release@<id>.service`,
     * see renderReleaseCommandUnit). A non-zero exit fails the activation with the command's output, and
     * the current release keeps serving. It does not run again when a release that already serves is
     * re-activated (a changed environment alone). A RollingRelease runs it on its first host only.
     */
    readonly releaseCommand?: string[];
    /**
     * A directory for the app's data that survives every release and rollback: systemd's `StateDirectory=`
     * (`/var/lib/<stateDirectory>`), owned by the service user, its path in the app's `STATE_DIRECTORY`.
     * With a dynamic user (no `user`), every unit of the app runs as one dynamic user named after the app.
     */
    readonly stateDirectory?: string;
}

/** Arguments of a {@link SystemdRelease}. */
export interface SystemdReleaseArgs extends ReleaseSettings {
    /** Where the executable comes from: a local file or an image. */
    readonly executable: ExecutableSource;
    /** File name of the executable on the host; default the source's base name. */
    readonly executableName?: string;
    /**
     * Zero-downtime mode: a reverse proxy on the host in front of two slots (`port` and `port + 1` on
     * 127.0.0.1); each release starts on the idle slot, is health-checked there, then the proxy switches
     * to it and the old slot drains. A failed check leaves the old slot serving. Off by default.
     */
    readonly zeroDowntime?: ZeroDowntime;
    /**
     * Serve a release the host still keeps (an id from the `keptReleases` output) instead of the current
     * build: the kept release is activated and health-checked like any release (a failed check puts back
     * what served), and nothing is built on the host. The current build's copy and upload stay as they are
     * (with an unchanged build they do nothing), so removing `rollbackTo` serves that build again without
     * uploading it. When the host no longer keeps the release, the update fails listing the ids it keeps
     * and changes nothing. The release command does not run.
     */
    readonly rollbackTo?: string;
}

/** Plans made by the component that creates a SystemdRelease (WebApp, RollingRelease), handed to it. @internal */
export const releasePlans = new PlanHandoff<SystemdReleaseArgs, ReleasePlan>();

/** Short content hash of a file: the release id, so the same build is always the same release. */
export function releaseIdOfFile(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, 12);
}

/**
 * The local command that copies the executable out of an image to a deterministic relative path and
 * prints its release id (short sha256): scripts/extract-executable.sh.
 */
export function extractCommand(image: string, pathInImage: string, destination: string): string {
    return localScript("extract-executable", { IMAGE: image, PATH_IN_IMAGE: pathInImage, DESTINATION: destination });
}

/**
 * Ships a Common Lisp executable to a host and runs it under a hardened systemd unit: upload into
 * `/opt/<app>/releases/<id>/`, switch `current` atomically, restart, health-check on the host, roll back
 * to the previous release (and fail with the journal's last lines) when the check fails.
 */
export class SystemdRelease extends pulumi.ComponentResource {
    /**
     * The release serving after this activation: the executable's short sha256 (its directory under
     * /opt/<app>/releases), or `rollbackTo`. Known in a preview whenever the id is, so the preview names it.
     */
    readonly releaseId: pulumi.Output<string>;
    /** Where the app answers: http://<host>:<port>/. */
    readonly url: pulumi.Output<string>;
    /** The rendered unit file, so a preview diff shows unit changes line by line. */
    readonly unit: pulumi.Output<string>;
    /**
     * The `ssh -L` command that tunnels Swank to this machine's `swankPort`, when `swankPort` is set. With
     * `zeroDowntime` it reaches the slot serving after this activation (read back from the host), so it is
     * known only once the release ran, and changes with the live slot.
     */
    readonly swankTunnel: pulumi.Output<string | undefined>;
    /** The release ids the host keeps after this activation, newest first, read back from the host: what `rollbackTo` can name. */
    readonly keptReleases: pulumi.Output<string[]>;

    constructor(name: string, args: SystemdReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Planned before anything is registered, the component included: bad input leaves nothing behind.
        // A WebApp or RollingRelease that planned this release already hands its plan over.
        const plan = releasePlans.take(args) ?? planRelease(args);
        super("lisp-deploy:index:SystemdRelease", name, {}, opts);
        const connection = pulumi.secret(pulumi.output(args.connection));

        // The current build: its id and the file to upload.
        let buildId: pulumi.Output<string>;
        let localFile: pulumi.Output<string>;
        const file = args.executable.file;
        if (file !== undefined) {
            buildId = pulumi.output(releaseIdOfFile(file));
            localFile = pulumi.output(file);
        } else {
            const destination = `.lisp-deploy/${name}/${plan.executableName}`;
            const pathInImage = args.executable.path!;
            const extract = new command.local.Command(
                `${name}-extract`,
                { create: pulumi.output(args.executable.image!).apply((image) => extractCommand(image, pathInImage, destination)) },
                { parent: this },
            );
            buildId = extract.stdout.apply((out) => out.trim());
            localFile = extract.stdout.apply(() => destination);
        }

        // A rollback keeps the current build's extract and upload as they are: unchanged, they run nothing,
        // so its preview changes the activation alone, and removing rollbackTo serves the build the host
        // already has. (Dropping them would show them deleted, then upload the build again.) The activation
        // serves the kept release instead.
        const upload = uploadRelease(name, this, connection, buildId, localFile, plan);
        const releaseId = plan.rollbackTo !== undefined ? pulumi.output(plan.rollbackTo) : buildId;

        const environment = pulumi.output(args.environment ?? {}) as pulumi.Output<Record<string, string>>;
        const unitEnvironment = environment.apply((env) => withSwank(env, args.swankPort));
        const unit = unitEnvironment.apply((env) => renderUnit({ ...plan.unitSpec, environment: env }));
        const secretEnv = args.secretEnvironment
            ? pulumi.secret(pulumi.output(args.secretEnvironment).apply((env) => renderEnvironmentFile(env as Record<string, string>)))
            : undefined;

        const zeroDowntime = plan.zeroDowntime;
        // A rollback activates a kept release: no digest to check an upload against, no release command.
        const rollback = plan.rollbackTo !== undefined;
        const slotUnits = zeroDowntime ? unitEnvironment.apply((env) => renderSlotUnits({ ...plan.unitSpec, environment: env }, zeroDowntime)) : undefined;
        const activate = new command.remote.Command(
            `${name}-activate`,
            zeroDowntime && slotUnits ? {
                connection,
                create: pulumi.all([releaseId, slotUnits, unitEnvironment]).apply(([id, units, envNow]) =>
                    releaseScript("activate-slot", slotActivateParams({
                        app: args.app,
                        executable: plan.executableName,
                        releaseId: id,
                        ...(rollback ? { rollback } : { executableDigest: id }),
                        keepReleases: plan.keepReleases,
                        units,
                        secretEnvironment: secretEnv !== undefined,
                        user: args.user,
                        healthPath: plan.healthPath,
                        expectedStatus: plan.expectedStatus,
                        timeoutSeconds: plan.timeoutSeconds,
                        startTimeoutSeconds: plan.startTimeoutSeconds,
                        journalLines: plan.journalLines,
                        ...(rollback ? {} : { releaseCommand: releaseCommandParameters(plan, envNow) }),
                    }, zeroDowntime)),
                ),
                delete: releaseScript("remove-slots", slotRemoveParams(args.app, zeroDowntime)),
                stdin: secretEnv,
            } : {
                connection,
                create: pulumi.all([releaseId, unit, unitEnvironment]).apply(([id, unitText, envNow]) =>
                    releaseScript(
                        "activate",
                        // The release id is the executable's short sha256: the host checks the upload against it.
                        activateParameters(args, plan, {
                            releaseId: id,
                            executableName: plan.executableName,
                            unitText,
                            hasSecrets: !!secretEnv,
                            ...(rollback ? { rollback } : { executableDigest: id, releaseCommand: releaseCommandParameters(plan, envNow) }),
                        }),
                    ),
                ),
                delete: releaseScript("remove", { APP: args.app }),
                stdin: secretEnv,
            },
            { parent: this, dependsOn: [upload] },
        );
        const report = activate.stdout.apply(parseActivationReport);

        const host = pulumi.unsecret(connection.apply((c) => c.host));
        const sshTarget = pulumi.unsecret(connection.apply((c) => ({ host: c.host, port: c.port, user: c.user })));
        // The release this activation serves (the host reports the same id, or fails the update): known
        // before the activation runs whenever the id is (a file's hash, rollbackTo), so a preview's outputs
        // name the release that will serve. The URN (known in a preview) ties it to the activation.
        this.releaseId = pulumi.all([releaseId, activate.urn]).apply(([id]) => id);
        this.keptReleases = report.apply((r) => r.kept);
        this.url = pulumi.all([host, activate.stdout]).apply(([h]) => (zeroDowntime ? proxyUrl(h, zeroDowntime) : `http://${h}:${args.port}/`));
        // In zero-downtime mode: the blue slot's unit (green's differs only in slot name, port and Swank port).
        this.unit = slotUnits ? slotUnits.apply((u) => u.blue) : unit;
        const swankPort = args.swankPort;
        const swankPorts = zeroDowntime?.swankPorts;
        // Plain mode: one Swank port, known in a preview. Zero-downtime mode: the live slot's, which only the
        // activation knows (its `lisp-deploy-slot:` line).
        this.swankTunnel =
            swankPort === undefined
                ? pulumi.output(undefined)
                : swankPorts === undefined
                  ? sshTarget.apply((t) => swankTunnelCommand(swankPort, swankPort, t))
                  : pulumi.all([sshTarget, report]).apply(([t, r]) => (r.slot === undefined ? undefined : swankTunnelCommand(swankPort, swankPorts[r.slot], t)));
        this.registerOutputs({ releaseId: this.releaseId, url: this.url, unit: this.unit, swankTunnel: this.swankTunnel, keptReleases: this.keptReleases });
    }
}

/** Makes the release's directory on the host and uploads the executable into it (activate.sh moves it into place). */
function uploadRelease(
    name: string,
    parent: pulumi.Resource,
    connection: pulumi.Output<HostConnection>,
    releaseId: pulumi.Output<string>,
    localFile: pulumi.Output<string>,
    plan: ReleasePlan & { executableName: string },
): command.remote.CopyToRemote {
    const app = plan.unitSpec.app;
    const prepare = new command.remote.Command(
        `${name}-prepare`,
        { connection, create: releaseId.apply((id) => releaseScript("prepare", { APP: app, RELEASE_ID: id })) },
        { parent },
    );
    return new command.remote.CopyToRemote(
        `${name}-upload`,
        {
            connection,
            source: localFile.apply((file) => new pulumi.asset.FileAsset(file)),
            // A temporary name beside the executable: activate.sh renames it into place (see there why).
            remotePath: releaseId.apply((id) => `${plan.paths.releases}/${id}/.upload-${plan.executableName}`),
        },
        { parent, dependsOn: [prepare] },
    );
}

/**
 * What an activation reports on stdout (report_releases in lib/common.sh): the serving release and the
 * releases the host keeps, newest first; in zero-downtime mode also the live slot (activate-slot.sh's
 * `lisp-deploy-slot:` line). Lines it does not know are ignored (the scripts' own log is on stderr).
 */
export function parseActivationReport(stdout: string): { serving?: string; kept: string[]; slot?: "blue" | "green" } {
    let serving: string | undefined;
    let kept: string[] = [];
    let slot: "blue" | "green" | undefined;
    for (const line of (stdout ?? "").split("\n")) {
        const s = /^lisp-deploy-serving: (\S+)\s*$/.exec(line);
        if (s) serving = s[1];
        const k = /^lisp-deploy-kept:(.*)$/.exec(line);
        if (k) kept = k[1].split(" ").filter((id) => id !== "");
        const l = /^lisp-deploy-slot: (blue|green)\s*$/.exec(line);
        if (l) slot = l[1] as "blue" | "green";
    }
    return { serving, kept, ...(slot === undefined ? {} : { slot }) };
}

/**
 * `ssh -N -L <localPort>:127.0.0.1:<remotePort> -p <port> <user>@<host>`: forwards this machine's
 * `localPort` to Swank on the host's loopback (Swank never listens anywhere else), then SLIME or SLY
 * connects to localhost:<localPort>.
 */
export function swankTunnelCommand(localPort: number, remotePort: number, target: { host: string; port: number; user: string }): string {
    return `ssh -N -L ${localPort}:127.0.0.1:${remotePort} -p ${target.port} ${target.user}@${target.host}`;
}

/** Adds SWANK_PORT when Swank is wanted; the runtime then binds Swank to 127.0.0.1 only. Shared with DeltaRelease. */
export function withSwank(env: Record<string, string>, swankPort: number | undefined): Record<string, string> {
    return swankPort === undefined ? env : { ...env, SWANK_PORT: String(swankPort) };
}

/**
 * The parameters of activate.sh (plain mode), shared by SystemdRelease and DeltaRelease so the two switch,
 * health-check, roll back and prune a release in exactly the same way.
 */
export function activateParameters(
    args: Pick<SystemdReleaseArgs, "app" | "port" | "user">,
    plan: Pick<ReturnType<typeof planRelease>, "keepReleases" | "healthPath" | "expectedStatus" | "timeoutSeconds" | "startTimeoutSeconds" | "journalLines">,
    release: {
        releaseId: string;
        executableName: string;
        unitText: string;
        hasSecrets: boolean;
        /** The start of the executable's sha256 when the release id is its content address; activate.sh refuses a mismatch. */
        executableDigest?: string;
        /** The release command's parameters (releaseCommandParameters); none without one. */
        releaseCommand?: Record<string, string>;
        /** True when the release is a kept one named by `rollbackTo`: the host's error then lists the kept ids. */
        rollback?: boolean;
    },
): Record<string, string> {
    return {
        ...activationParameters({
            app: args.app,
            executable: release.executableName,
            releaseId: release.releaseId,
            executableDigest: release.executableDigest,
            keepReleases: plan.keepReleases,
            hasSecrets: release.hasSecrets,
            user: args.user,
            expectedStatus: plan.expectedStatus,
            timeoutSeconds: plan.timeoutSeconds,
            startTimeoutSeconds: plan.startTimeoutSeconds,
            journalLines: plan.journalLines,
            releaseCommand: release.releaseCommand,
            rollback: release.rollback,
        }),
        UNIT_CONTENT: release.unitText,
        HEALTH_URL: `http://127.0.0.1:${args.port}${plan.healthPath}`,
    };
}

/**
 * The release command's parameters of activate.sh and activate-slot.sh (none without a release command):
 * its template unit (RELEASE_COMMAND_UNIT, rendered with the unit's own spec and environment, so a preview
 * diff shows the command) and the command as one line for the log (RELEASE_COMMAND).
 */
export function releaseCommandParameters(plan: Pick<ReleasePlan, "releaseCommand" | "unitSpec">, environment: Record<string, string>): Record<string, string> {
    if (plan.releaseCommand === undefined) return {};
    return {
        RELEASE_COMMAND: [plan.unitSpec.executable, ...plan.releaseCommand].map((w) => JSON.stringify(w)).join(" "),
        RELEASE_COMMAND_UNIT: renderReleaseCommandUnit({ ...plan.unitSpec, environment }, plan.releaseCommand),
    };
}

/** The plan of a SystemdRelease: its checked settings with defaults filled in. @internal */
export type ReleasePlan = ReturnType<typeof planReleaseSettings>;

/**
 * Plans a SystemdRelease from its arguments: checks every plain argument, reporting all problems at once
 * (each under the caller's `field` path), and fills in defaults. Pure apart from looking at a local
 * executable file. Throws one ValidationError listing every problem.
 * @internal
 */
export function planRelease(args: SystemdReleaseArgs, field: FieldPath = "args"): ReleasePlan {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "SystemdRelease needs arguments: at least connection, app, port and executable.");
        if (args.connection === undefined) problems.add(at(field, "connection"), "is required: pass the host's `connection` (an Ec2Host's or SshHost's).");
        const executableName = problems.check(() => planExecutable(args.executable, args.executableName, field));
        const plan = problems.check(() => planReleaseSettings(args, executableName ?? "app", field));
        problems.throwIfAny();
        return plan!;
    });
}

/**
 * The executable's file name on the host, from where the executable comes from: `{ file }` or `{ image, path }`.
 * @internal
 */
export function planExecutable(executable: ExecutableSource | undefined, executableName: string | undefined, field: FieldPath = "args"): string {
    if (!executable || typeof executable !== "object" || (executable.file === undefined) === (executable.image === undefined)) {
        throw new ValidationError(at(field, "executable"), "give either { file } (a local executable) or { image, path } (an image and the executable's path in it).");
    }
    let sourceName: string;
    if (executable.file !== undefined) {
        if (typeof executable.file !== "string" || !executable.file || !fs.existsSync(executable.file) || !fs.statSync(executable.file).isFile()) {
            throw new ValidationError(at(field, "executable.file"), `no file at ${JSON.stringify(executable.file)}: build the executable first (e.g. asdf:make) or fix the path.`);
        }
        sourceName = path.basename(executable.file);
    } else {
        if (typeof executable.path !== "string" || !path.posix.isAbsolute(executable.path)) {
            throw new ValidationError(at(field, "executable.path"), `must be the absolute path of the executable inside the image, e.g. "/app/hello"; got ${JSON.stringify(executable.path)}.`);
        }
        sourceName = path.posix.basename(executable.path);
    }
    const name = executableName ?? sourceName;
    validateExecutableName(at(field, executableName !== undefined ? "executableName" : "executable"), name);
    return name;
}

/**
 * Plans the settings every systemd release shares (everything but the connection and where the executable
 * comes from), for an executable named `executableName`. Reports every problem at once, under `field`.
 * @internal
 */
export function planReleaseSettings(args: Omit<ReleaseSettings, "connection"> & { readonly zeroDowntime?: ZeroDowntime; readonly rollbackTo?: string }, executableName: string, field: FieldPath = "args") {
    const p = new Problems();
    p.check(() => validateAppName(at(field, "app"), args.app));
    p.check(() => validatePort(at(field, "port"), args.port));
    // The unit sets PORT itself (and the health check requests that port): a user value would fight it.
    // With a state directory, systemd sets STATE_DIRECTORY itself.
    const reserved = args.stateDirectory !== undefined
        ? { reserved: ["PORT", "STATE_DIRECTORY"], reservedBy: `\`${at(field, "port")}\` and \`${at(field, "stateDirectory")}\`` }
        : { reserved: ["PORT"], reservedBy: `\`${at(field, "port")}\`` };
    p.check(() => checkEnvironment(at(field, "environment"), args.environment, { ...reserved, oneLine: true }));
    // The secret file (renderEnvironmentFile) carries line breaks as written: a PEM key arrives intact.
    p.check(() => checkEnvironment(at(field, "secretEnvironment"), args.secretEnvironment, { ...reserved, systemd: true }));
    p.check(() => checkDisjointEnvironments(at(field, "environment"), args.environment, at(field, "secretEnvironment"), args.secretEnvironment));
    if (args.swankPort !== undefined) {
        p.check(() => validatePort(at(field, "swankPort"), args.swankPort!));
        // With zeroDowntime, planZeroDowntime checks each slot's Swank port against every port on the host.
        if (args.swankPort === args.port && !args.zeroDowntime) p.add(at(field, "swankPort"), `must differ from the app's port (${args.port}); choose another port for Swank, e.g. 4005.`);
    }
    const keepReleases = args.keepReleases ?? 5;
    p.check(() => checkWholeNumber(at(field, "keepReleases"), keepReleases, 2, 1000, "", "Keep at least the current and the previous release."));
    p.check(() => checkObject(at(field, "healthCheck"), args.healthCheck ?? {}, '{ path: "/health" }'));
    const health = args.healthCheck ?? {};
    const healthPath = health.path ?? "/";
    p.check(() => checkHealthPath(at(field, "healthCheck.path"), healthPath));
    const expectedStatus = health.expectedStatus ?? 200;
    p.check(() => checkWholeNumber(at(field, "healthCheck.expectedStatus"), expectedStatus, 100, 599, "", "Give an HTTP status such as 200."));
    const timeoutSeconds = health.timeoutSeconds ?? 30;
    p.check(() => checkWholeNumber(at(field, "healthCheck.timeoutSeconds"), timeoutSeconds, 1, 3600, "seconds"));
    const journalLines = args.journalLines ?? 30;
    p.check(() => checkWholeNumber(at(field, "journalLines"), journalLines, 1, 100000, "lines"));
    if (args.serviceType !== undefined) p.check(() => checkOneOf(at(field, "serviceType"), args.serviceType, Object.values(ServiceType)));
    if (args.notifiesReadiness !== undefined) p.check(() => checkBoolean(at(field, "notifiesReadiness"), args.notifiesReadiness));
    const startTimeoutSeconds = args.startTimeoutSeconds ?? DEFAULT_START_TIMEOUT_SECONDS;
    p.check(() => validateStartTimeout(at(field, "startTimeoutSeconds"), startTimeoutSeconds));
    if (args.dynamicSpaceSizeMb !== undefined) {
        p.check(() => checkWholeNumber(at(field, "dynamicSpaceSizeMb"), args.dynamicSpaceSizeMb, DYNAMIC_SPACE_SIZE_LIMITS_MB.min, DYNAMIC_SPACE_SIZE_LIMITS_MB.max, "MB"));
    }
    if (args.user !== undefined) p.check(() => checkUserName(at(field, "user"), args.user));
    if (args.releaseCommand !== undefined) p.check(() => checkReleaseCommand(at(field, "releaseCommand"), args.releaseCommand));
    if (args.rollbackTo !== undefined) p.check(() => checkReleaseId(at(field, "rollbackTo"), args.rollbackTo));
    if (args.stateDirectory !== undefined) {
        p.check(() => checkStateDirectory(at(field, "stateDirectory"), args.stateDirectory));
        if (args.user === undefined && typeof args.app === "string" && args.app.length > 32) {
            p.add(at(field, "stateDirectory"), `needs one user for every unit of the app, and a dynamic user is named after the app, which is longer than 32 characters: give \`${at(field, "user")}\` (or a shorter app name).`);
        }
    }
    const zeroDowntime = args.zeroDowntime !== undefined && Number.isInteger(args.port)
        ? p.check(() =>
              planZeroDowntime(at(field, "zeroDowntime"), args.app, args.port, args.zeroDowntime!, at(field, "port"),
                  args.swankPort === undefined ? undefined : { port: args.swankPort, field: at(field, "swankPort") }),
          )
        : undefined;
    p.throwIfAny();
    const unitSpec = {
        app: args.app,
        executable: executableName,
        type: unitTypeFor(args.serviceType, args.notifiesReadiness),
        startTimeoutSeconds,
        port: args.port,
        environmentFile: args.secretEnvironment !== undefined,
        user: args.user,
        dynamicSpaceSizeMb: args.dynamicSpaceSizeMb,
        stateDirectory: args.stateDirectory,
    } as const satisfies Omit<UnitSpec, "environment">;
    // Render once with no environment so anything else the unit refuses fails now, at construction time.
    renderUnit({ ...unitSpec, environment: {} });
    if (args.releaseCommand !== undefined) renderReleaseCommandUnit({ ...unitSpec, environment: {} }, args.releaseCommand);
    return {
        executableName,
        keepReleases,
        healthPath,
        expectedStatus,
        timeoutSeconds,
        startTimeoutSeconds,
        journalLines,
        paths: releasePaths(args.app, executableName),
        unitSpec,
        zeroDowntime,
        releaseCommand: args.releaseCommand === undefined ? undefined : [...args.releaseCommand],
        rollbackTo: args.rollbackTo,
    };
}
