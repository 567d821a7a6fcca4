import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../errors";
import { RUNTIME_UID } from "../../image/dockerfile";
import { readShellScript, shellQuote, shScriptCommand } from "../../shell";
import { at, checkDisjointEnvironments, checkEnvironment, checkHealthPath, checkOneOf, checkPort, checkReleaseCommand, checkStateDirectory, checkWholeNumber, FieldPath, isKnownLater, PlanHandoff, planned, Problems } from "../../validate";

/**
 * How the container reaches the network. Written as a `const` object plus a type, the enum form Pulumi's
 * schema inference understands; TypeScript callers write plain strings ("host").
 */
export const NetworkMode = {
    /** Docker's default bridge: the container's port is published on 127.0.0.1:<port> only. */
    Bridge: "bridge",
    /** The host's network: for engines started without a bridge (`dockerd --bridge=none`); the app binds 127.0.0.1:<port> itself. */
    Host: "host",
} as const;
/** How the container reaches the network. */
export type NetworkMode = (typeof NetworkMode)[keyof typeof NetworkMode];

/** Arguments of a {@link LocalRelease}. */
export interface LocalReleaseArgs {
    /** The image to run, ideally the image id or `name@sha256:...` (LispImage's `imageRef`), so a rebuild is a new release. */
    readonly image: pulumi.Input<string>;
    /** The port on 127.0.0.1 the app answers on. Default 8080. */
    readonly port?: number;
    /** The port the app listens on inside the container (bridge mode only; host mode uses `port`). Default 8080. */
    readonly containerPort?: number;
    /** "bridge" (default) publishes the container's port on 127.0.0.1; "host" shares the host's network. */
    readonly networkMode?: NetworkMode;
    /** Non-secret environment variables (shown in previews). PORT and BIND_ADDRESS are set by the release. */
    readonly environment?: { [name: string]: pulumi.Input<string> };
    /**
     * Secret environment variables: never shown in previews or logs, never in the container's configuration
     * (`docker inspect`). They are uploaded as a secret 0400 file the app's user reads, and the executable
     * LispImage built reads that file into its environment before the app starts (the image has no shell to
     * source it). Needs `executablePath`.
     */
    readonly secretEnvironment?: { [name: string]: pulumi.Input<string> };
    /** The executable inside the image (LispImage's `executablePath`); required with `secretEnvironment`. */
    readonly executablePath?: pulumi.Input<string>;
    /** Path the health check requests on 127.0.0.1:<port> after the container starts. Default "/". */
    readonly healthPath?: string;
    /** Seconds the health check waits for a 200 before failing the update. Default 30. */
    readonly healthTimeoutSeconds?: number;
    /** The container's name. Default `lisp-deploy-<name>`. */
    readonly containerName?: string;
    /**
     * Arguments passed to the new image's executable, run once per release in a one-shot container of the
     * new image (same environment, secret file, network and state volume) before the serving container is
     * replaced; a non-zero exit fails the update with its output and leaves the serving container alone.
     * Needs `executablePath`.
     */
    readonly releaseCommand?: string[];
    /**
     * A Docker volume, `lisp-deploy-<stateDirectory>`, mounted at `/var/lib/<stateDirectory>` (its path in
     * the app's `STATE_DIRECTORY`) and owned by the image's runtime user: the app's data survives every
     * release. The volume is kept when the release is destroyed (`retainOnDelete`): remove it with
     * `docker volume rm` when the data is no longer wanted.
     */
    readonly stateDirectory?: string;
}

/** The plain, validated settings a LocalRelease renders its resources from. */
export interface LocalReleasePlan {
    readonly containerName: string;
    readonly port: number;
    readonly containerPort: number;
    readonly networkMode: NetworkMode;
    readonly healthPath: string;
    readonly healthTimeoutSeconds: number;
    readonly executablePath?: pulumi.Input<string>;
    readonly releaseCommand?: readonly string[];
    /** The state volume and where it is mounted, when `stateDirectory` is given. */
    readonly state?: { readonly volume: string; readonly path: string };
}

/** Where the secret environment file is uploaded inside the container. */
export const SECRET_ENV_FILE = "/etc/lisp-deploy-secret.env";

/**
 * The variable naming that file. The executable's toplevel (lisp/build/sbcl.lisp, `load-environment-file`)
 * reads the file it names before the app starts: the slim runtime image has no shell that could source it.
 */
export const ENV_FILE_VARIABLE = "LISP_DEPLOY_ENV_FILE";

/** How many of the container's last log lines a failed health check includes in its error. */
export const HEALTH_LOG_LINES = 30;

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Variables the release sets itself: a user value would silently fight the published port. */
const RESERVED_ENV = ["PORT", "BIND_ADDRESS"];

/** Checks environment variable names (the shared rule; values may be Outputs and are checked once known). */
export function checkEnvironmentNames(field: string, env: Record<string, unknown> | undefined, reserved: readonly string[] = RESERVED_ENV): void {
    checkEnvironment(field, env, { reserved });
}

/** Plans made by a WebApp for the LocalRelease it creates. @internal */
export const localPlans = new PlanHandoff<LocalReleaseArgs, LocalReleasePlan>();

/**
 * Plans a LocalRelease: checks every plain argument, reporting all problems at once under `field`, and
 * fills in defaults.
 * @internal
 */
export function planLocalRelease(name: string, args: LocalReleaseArgs, field: FieldPath = "args"): LocalReleasePlan {
    return planned((problems) => {
        if (args === undefined || args === null) throw new ValidationError(at(field, ""), "LocalRelease needs arguments: at least image.");
        if (args.image === undefined || args.image === "") {
            problems.add(at(field, "image"), "is required: pass the image to run, e.g. a LispImage's imageRef.");
        }
        const plan = problems.check(() => planLocalSettings(name, args, field));
        problems.throwIfAny();
        return plan!;
    });
}

/**
 * A LocalRelease's settings apart from the image, planned before the image exists: WebApp plans them from
 * the user's `app` and `target.local` blocks.
 * @internal
 */
export function planLocalSettings(name: string, args: Omit<LocalReleaseArgs, "image">, field: FieldPath = "args"): LocalReleasePlan {
    const p = new Problems();
    const port = args.port ?? 8080;
    p.check(() => checkPort(at(field, "port"), port));
    const containerPort = args.containerPort ?? 8080;
    p.check(() => checkPort(at(field, "containerPort"), containerPort));
    const networkMode = args.networkMode ?? NetworkMode.Bridge;
    p.check(() => checkOneOf(at(field, "networkMode"), networkMode, Object.values(NetworkMode)));
    // The release owns PORT and BIND_ADDRESS (it publishes the port): a user value would fight it.
    // With a state volume, STATE_DIRECTORY is the release's too (where it mounts the volume).
    const reserved = args.stateDirectory !== undefined ? [...RESERVED_ENV, "STATE_DIRECTORY"] : RESERVED_ENV;
    const reservedBy = `\`${at(field, "port")}\` (published on 127.0.0.1)${args.stateDirectory !== undefined ? ` and \`${at(field, "stateDirectory")}\`` : ""}`;
    const rules = { reserved, reservedBy };
    p.check(() => checkEnvironment(at(field, "environment"), args.environment, rules));
    p.check(() => checkEnvironment(at(field, "secretEnvironment"), args.secretEnvironment, rules));
    p.check(() => checkDisjointEnvironments(at(field, "environment"), args.environment, at(field, "secretEnvironment"), args.secretEnvironment));
    const healthPath = args.healthPath ?? "/";
    p.check(() => checkHealthPath(at(field, "healthPath"), healthPath));
    const healthTimeoutSeconds = args.healthTimeoutSeconds ?? 30;
    p.check(() => checkWholeNumber(at(field, "healthTimeoutSeconds"), healthTimeoutSeconds, 1, 3600, "seconds"));
    if (args.secretEnvironment !== undefined && !isKnownLater(args.secretEnvironment) && Object.keys(args.secretEnvironment).length > 0) {
        const exe = args.executablePath;
        if (!exe || (typeof exe === "string" && !exe.startsWith("/"))) {
            p.add(at(field, "executablePath"), "is required with secretEnvironment: give the executable's absolute path inside the image (LispImage's executablePath), which starts after the secrets are read.");
        }
    }
    if (args.releaseCommand !== undefined) {
        p.check(() => checkReleaseCommand(at(field, "releaseCommand"), args.releaseCommand));
        const exe = args.executablePath;
        if (!exe || (typeof exe === "string" && !exe.startsWith("/"))) {
            p.add(at(field, "executablePath"), "is required with releaseCommand: give the executable's absolute path inside the image (LispImage's executablePath), which the command's arguments are passed to.");
        }
    }
    if (args.stateDirectory !== undefined) p.check(() => checkStateDirectory(at(field, "stateDirectory"), args.stateDirectory));
    const containerName = args.containerName ?? `lisp-deploy-${name}`;
    if (typeof containerName !== "string" || !CONTAINER_NAME.test(containerName)) {
        p.add(
            at(field, "containerName"),
            args.containerName === undefined
                ? `the default container name ${JSON.stringify(containerName)} (from the resource name) is not a Docker container name; give containerName (letters, digits, '_', '.' and '-').`
                : `${JSON.stringify(containerName)} is not a Docker container name; use letters, digits, '_', '.' and '-'.`,
        );
    }
    p.throwIfAny();
    return {
        containerName,
        port,
        containerPort,
        networkMode,
        healthPath,
        healthTimeoutSeconds,
        executablePath: args.executablePath,
        ...(args.releaseCommand !== undefined ? { releaseCommand: [...args.releaseCommand] } : {}),
        ...(args.stateDirectory !== undefined ? { state: stateVolumeOf(args.stateDirectory) } : {}),
    };
}

/** The state volume of `stateDirectory`: its Docker volume and where the container mounts it (the app's STATE_DIRECTORY). */
export function stateVolumeOf(stateDirectory: string): { volume: string; path: string } {
    return { volume: `lisp-deploy-${stateDirectory}`, path: `/var/lib/${stateDirectory}` };
}

/**
 * The container's environment as Docker's `NAME=value` list, sorted by name so the same settings always
 * give the same resource input. PORT and BIND_ADDRESS come from the plan: in host mode the app must bind
 * 127.0.0.1:<port> itself, in bridge mode it listens on all of the container's interfaces and Docker
 * publishes the port on 127.0.0.1 only.
 */
export function renderContainerEnv(plan: LocalReleasePlan, environment: Record<string, string>, hasSecrets = false): string[] {
    const own: Record<string, string> =
        plan.networkMode === NetworkMode.Host
            ? { PORT: String(plan.port), BIND_ADDRESS: "127.0.0.1" }
            : { PORT: String(plan.containerPort), BIND_ADDRESS: "0.0.0.0" };
    // Only the file's path: its contents (the secrets) never enter the container's configuration.
    if (hasSecrets) own[ENV_FILE_VARIABLE] = SECRET_ENV_FILE;
    // As systemd sets it on a host (StateDirectory=): the app finds its data the same way on every target.
    if (plan.state !== undefined) own.STATE_DIRECTORY = plan.state.path;
    const all: Record<string, string> = { ...environment, ...own };
    return Object.keys(all)
        .sort()
        .map((k) => `${k}=${all[k]}`);
}

/**
 * The secret environment file: `export`-free shell assignments, sorted, each value single-quoted. The
 * executable parses exactly this quoting (lisp/build/common.lisp, `parse-environment-file`); a shell reads it
 * the same way, which a debian-slim image allows for debugging.
 */
export function renderSecretEnvFile(environment: Record<string, string>): string {
    return Object.keys(environment)
        .sort()
        .map((k) => `${k}=${shellQuote(environment[k])}\n`)
        .join("");
}


/**
 * The health check the release runs on the machine running Pulumi (scripts/health-check.sh, which says what
 * it checks): fixed text, everything that varies in its environment ({@link healthCheckEnvironment}).
 */
export const HEALTH_CHECK_SCRIPT = readShellScript("release/local/scripts", "health-check");

/** The health check's parameters, as environment variables of {@link HEALTH_CHECK_SCRIPT}. */
export function healthCheckEnvironment(plan: LocalReleasePlan, containerId: string): Record<string, string> {
    return {
        CONTAINER_ID: containerId,
        CONTAINER_NAME: plan.containerName,
        HEALTH_TIMEOUT: String(plan.healthTimeoutSeconds),
        HEALTH_URL: `http://127.0.0.1:${plan.port}${plan.healthPath}`,
        HEALTH_LOG_LINES: String(HEALTH_LOG_LINES),
    };
}

/** `NAME=value` entries as a record (the first `=` separates: a value may hold more). */
function environmentRecord(entries: string[]): Record<string, string> {
    return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/**
 * The local command that runs the release command in a one-shot container of `image`
 * (scripts/release-command-container.sh): the command's words as the script's arguments, the
 * variable names only (their values travel in the command's environment), the state volume when there is one.
 */
export function releaseCommandContainerCommand(plan: LocalReleasePlan, image: string, executable: string, containerEnv: string[], hasSecrets: boolean): string {
    return localReleaseScript(
        "release-command-container",
        {
            IMAGE: image,
            EXECUTABLE: executable,
            NETWORK_MODE: plan.networkMode,
            ENV_NAMES: Object.keys(environmentRecord(containerEnv)).join(" "),
            SECRET_ENV: hasSecrets ? "1" : "0",
            SECRET_FILE: SECRET_ENV_FILE,
            RUNTIME_UID: String(RUNTIME_UID),
            ...(plan.state ? { VOLUME: `${plan.state.volume}:${plan.state.path}` } : {}),
        },
        plan.releaseCommand ?? [],
    );
}

/** The local command that gives the state volume to the image's runtime user (scripts/state-volume.sh). */
export function stateVolumeCommand(image: string, state: { volume: string; path: string }): string {
    return localReleaseScript("state-volume", { IMAGE: image, VOLUME: state.volume, MOUNT_PATH: state.path, RUNTIME_UID: String(RUNTIME_UID) });
}

/** The scripts LocalRelease runs on the machine running Pulumi, each a file in scripts/. */
export type LocalReleaseScriptName = "release-command-container" | "state-volume";

/** The command text that runs one of LocalRelease's scripts under `sh -c` (see shScriptCommand). */
export function localReleaseScript(name: LocalReleaseScriptName, params: Record<string, string>, args: readonly string[] = []): string {
    return shScriptCommand(name, `src/release/local/scripts/${name}.sh`, readShellScript("release/local/scripts", name), params, args);
}

/**
 * Runs an app's image on the local Docker engine: the default target, needing no cloud account. The
 * container restarts unless stopped, is reachable on 127.0.0.1 only, and the update fails (with the
 * container's last log lines) unless the app answers 200 on its health path.
 */
export class LocalRelease extends pulumi.ComponentResource {
    /** Where the app answers: http://127.0.0.1:<port>/. */
    readonly url: pulumi.Output<string>;
    /** The container's name (for `docker logs <name>`). */
    readonly containerName: pulumi.Output<string>;
    /** The image the container runs. */
    readonly image: pulumi.Output<string>;
    /** The command that follows the app's log. */
    readonly logsCommand: pulumi.Output<string>;

    constructor(name: string, args: LocalReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered: bad input leaves nothing behind.
        const plan = localPlans.take(args) ?? planLocalRelease(name, args);
        super("lisp-deploy:index:LocalRelease", name, {}, opts);

        const plainEnv = pulumi.output(args.environment ?? {}) as pulumi.Output<Record<string, string>>;
        const secretFile =
            args.secretEnvironment !== undefined && plan.executablePath !== undefined
                ? pulumi.secret(pulumi.output(args.secretEnvironment ?? {}) as pulumi.Output<Record<string, string>>).apply(renderSecretEnvFile)
                : undefined;
        const envs = plainEnv.apply((plain) => renderContainerEnv(plan, plain, secretFile !== undefined));

        // The state volume outlives the release (retainOnDelete): a destroy must not take the app's data.
        const state = plan.state;
        const stateOwner = state
            ? new command.local.Command(
                  `${name}-state`,
                  { create: pulumi.output(args.image).apply((image) => stateVolumeCommand(image, state)) },
                  {
                      parent: this,
                      dependsOn: [new docker.Volume(`${name}-state-volume`, { name: state.volume }, { parent: this, retainOnDelete: true })],
                  },
              )
            : undefined;

        // Before the serving container is replaced (it depends on this), so a failure leaves it serving.
        const releaseCommand = plan.releaseCommand
            ? new command.local.Command(
                  `${name}-release-command`,
                  {
                      create: pulumi.all([args.image, pulumi.output(plan.executablePath!), envs]).apply(([image, exe, env]) =>
                          releaseCommandContainerCommand(plan, image, exe, env, secretFile !== undefined),
                      ),
                      // The values reach `docker create --env NAME` through the environment, never the command text.
                      environment: envs.apply(environmentRecord),
                      stdin: secretFile,
                  },
                  { parent: this, dependsOn: stateOwner ? [stateOwner] : [] },
              )
            : undefined;

        const container = new docker.Container(
            `${name}-container`,
            {
                name: plan.containerName,
                image: args.image,
                restart: "unless-stopped",
                envs,
                networkMode: plan.networkMode,
                ports:
                    plan.networkMode === NetworkMode.Bridge
                        ? [{ internal: plan.containerPort, external: plan.port, ip: "127.0.0.1", protocol: "tcp" }]
                        : undefined,
                // Our own health check below reports the app's log on failure; the provider's wait would only time out.
                mustRun: true,
                // The executable itself, no shell in front: it reads the secret file named in its environment.
                entrypoints: secretFile ? pulumi.output(plan.executablePath!).apply((exe) => [exe]) : undefined,
                volumes: state ? [{ volumeName: state.volume, containerPath: state.path }] : undefined,
                uploads: secretFile
                    ? [{ file: SECRET_ENV_FILE, content: secretFile, permissions: "0400", owner: String(RUNTIME_UID), group: String(RUNTIME_UID) }]
                    : undefined,
            },
            {
                parent: this,
                // The container has a fixed name and holds a port, so it cannot coexist with its successor:
                // Pulumi's default create-before-delete would fail with Docker's "Conflict. The container
                // name ... is already in use" (pulumi-docker issue 1356, "by design"). Stop the old one first.
                deleteBeforeReplace: true,
                dependsOn: [...(stateOwner ? [stateOwner] : []), ...(releaseCommand ? [releaseCommand] : [])],
            },
        );

        const health = new command.local.Command(
            `${name}-health`,
            {
                create: HEALTH_CHECK_SCRIPT,
                environment: container.id.apply((id) => healthCheckEnvironment(plan, id)),
                // A new container (new image, new environment) is a new release: check it again. The image and
                // environment are named too because a replaced container may keep its id's shape in state.
                triggers: secretFile ? [container.id, args.image, envs, secretFile] : [container.id, args.image, envs],
            },
            { parent: this, dependsOn: [container] },
        );

        this.url = health.stdout.apply(() => `http://127.0.0.1:${plan.port}/`);
        this.containerName = container.name;
        this.image = pulumi.output(args.image);
        this.logsCommand = pulumi.output(`docker logs -f ${plan.containerName}`);
        this.registerOutputs({ url: this.url, containerName: this.containerName, image: this.image, logsCommand: this.logsCommand });
    }
}
