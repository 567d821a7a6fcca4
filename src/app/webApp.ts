import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { Platform } from "../host/host";
import { LispImage } from "../image/lispImage";
import { Ec2Host } from "../host/ec2Host";
import { SshHost } from "../host/sshHost";
import { HostConnection } from "../host/connection";
import { HerokuRelease, validateHerokuReleaseArgs } from "../release/heroku";
import { planRelease, ServiceType, SystemdRelease } from "../release/systemdRelease";
import { validateAppName } from "../release/unit";
import { checkEnvironmentNames, LocalRelease, NetworkMode, planLocalRelease } from "../release/localRelease";
import { DependencySourceArgs, toDependencySource } from "../image/args";
import { RollingRelease } from "../release/rollingRelease";
import { AppLoadBalancer, planLoadBalancer } from "../release/loadBalancer";
import { planZeroDowntime, ZeroDowntime } from "../release/slots";

/** Where a WebApp runs (the enum form Pulumi's schema inference understands). */
export const TargetKind = {
    /** The local Docker engine, published on 127.0.0.1: the default, no cloud account needed. */
    Local: "local",
    /** A new EC2 instance (Ec2Host) running the app under systemd (SystemdRelease). */
    Ec2: "ec2",
    /** An existing server reached over SSH (SshHost) running the app under systemd (SystemdRelease). */
    Ssh: "ssh",
    /** Heroku's container runtime (HerokuRelease). */
    Heroku: "heroku",
} as const;
/** Where a WebApp runs. */
export type TargetKind = (typeof TargetKind)[keyof typeof TargetKind];

/** The app: an ASDF system on disk and how to build and run it. */
export interface WebAppSourceArgs {
    /** The app directory holding its `.asd`, relative to the Pulumi program's directory (e.g. "../hello"). */
    readonly path: string;
    /** The ASDF system to build (default: the only `.asd` in `path`). */
    readonly system?: string;
    /** `package:function` the executable calls (default: the system's `:entry-point`). */
    readonly entryPoint?: string;
    /** Where the Lisp dependencies come from (default: Quicklisp, pinned dist). */
    readonly dependencySource?: DependencySourceArgs;
    /**
     * Extra Debian packages in the runtime image, for foreign libraries the executable opens only after
     * start; those it opens at start (libssl3 for Hunchentoot's cl+ssl) are found by the build and installed
     * without being listed here.
     */
    readonly runtimePackages?: string[];
    /** Extra Debian packages for the build stages: libraries a dependency loads while it is compiled (e.g. "libsqlite3-0"), tools the build runs. */
    readonly buildPackages?: string[];
    /** Compress the executable's core (smaller file, slightly slower start). Default false. */
    readonly compression?: boolean;
    /** The port the app listens on (passed as PORT). Default 8080. */
    readonly port?: number;
    /** Non-secret environment variables (shown in previews). */
    readonly environment?: { [name: string]: pulumi.Input<string> };
    /** Secret environment variables: secrets end to end, never in previews, commands or logs. */
    readonly secretEnvironment?: { [name: string]: pulumi.Input<string> };
    /** The path a health check requests after each release. Default "/". */
    readonly healthPath?: string;
    /** Platform to build the image for (default: the engine's own); an ec2 target checks it against the instance type. */
    readonly platform?: Platform;
    /** Network mode of the image build's RUN steps, e.g. "host" on engines without a bridge network. Default: the engine's default network. */
    readonly buildNetwork?: string;
    /**
     * ec2 and ssh targets: how systemd learns the app has started. Default: `notify` when the app depends
     * on lisp-deploy's runtime (read from its `.asd`; the runtime sends READY=1 once it listens), `exec`
     * when it does not (an app with its own `main`). Given, it wins.
     */
    readonly serviceType?: ServiceType;
    /** ec2 and ssh targets: seconds systemd waits for the app to start (TimeoutStartSec=; for `notify`, until READY=1). Default 30. */
    readonly startTimeoutSeconds?: number;
}

/** The local Docker engine target. */
export interface LocalTargetArgs {
    /** The port on 127.0.0.1 the app is published on. Default 8080. */
    readonly port?: number;
    /** "bridge" (default) publishes the port on 127.0.0.1; "host" for engines started without a bridge. */
    readonly networkMode?: NetworkMode;
    /** The container's name. Default `lisp-deploy-<name>`. */
    readonly containerName?: string;
}

/** A new EC2 instance running the app under systemd. */
export interface Ec2TargetArgs {
    /** EC2 instance type, e.g. "t3.small" (amd64) or "t4g.small" (arm64). */
    readonly instanceType: pulumi.Input<string>;
    /** OpenSSH public key line installed for the login user. */
    readonly publicKey: pulumi.Input<string>;
    /** The matching private key (a secret). */
    readonly privateKey: pulumi.Input<string>;
    /** CIDRs allowed to reach SSH, e.g. ["203.0.113.7/32"]. */
    readonly sshCidrs: pulumi.Input<string[]>;
    /** Set to true to allow 0.0.0.0/0 in `sshCidrs`. Default false. */
    readonly allowSshFromAnywhere?: boolean;
    /** Give the host an Elastic IP. Default false. */
    readonly elasticIp?: boolean;
    /** An AMI id instead of the newest official Debian 12 image. */
    readonly ami?: pulumi.Input<string>;
    /** The subnet to launch in (default: a default subnet of the default VPC). One host only: see `subnetIds`. */
    readonly subnetId?: pulumi.Input<string>;
    /**
     * How many instances run the app. Default 1: one host, the app's port open to the world. With 2 to 20,
     * the hosts sit behind an Application Load Balancer (health-checking `app.healthPath`), only the balancer
     * reaches the app's port, and each release rolls one host at a time, stopping at the first failure.
     */
    readonly hosts?: number;
    /**
     * With `hosts` of 2 or more: the subnets (at least two, in different availability zones, as the load
     * balancer requires) the hosts are spread over, round-robin, and the balancer spans. Default: the
     * default VPC's default subnets (one per zone).
     */
    readonly subnetIds?: pulumi.Input<string>[];
    /** sshd's port on the instance. Default 22. */
    readonly sshPort?: number;
    /** Start Swank on the host's 127.0.0.1:<swankPort>; WebApp outputs the tunnel command. */
    readonly swankPort?: number;
    /**
     * Release through a reverse proxy in front of two slots, so a restart drops no request (see
     * SystemdRelease's `zeroDowntime`). The host opens the proxy's ports instead of the app's; behind a
     * load balancer (`hosts` of 2 or more) the balancer targets the proxy's `publicPort` and ends TLS itself,
     * so `domain` is not available there.
     */
    readonly zeroDowntime?: ZeroDowntime;
    /** Tags for every AWS resource. */
    readonly tags?: pulumi.Input<{ [key: string]: string }>;
}

/** An existing server reached over SSH, running the app under systemd. */
export interface SshTargetArgs {
    /** The server's address (IP or DNS name). */
    readonly host: pulumi.Input<string>;
    /** sshd's port. Default 22. */
    readonly port?: pulumi.Input<number>;
    /** The login user (root or passwordless sudo). Default "root". */
    readonly user?: pulumi.Input<string>;
    /** The private key (a secret). */
    readonly privateKey: pulumi.Input<string>;
    /** Start Swank on the server's 127.0.0.1:<swankPort>; WebApp outputs the tunnel command. */
    readonly swankPort?: number;
}

/** Heroku's container runtime. */
export interface HerokuTargetArgs {
    /** The Heroku app's name. */
    readonly app: pulumi.Input<string>;
    /** The Heroku API key (a secret). */
    readonly apiKey: pulumi.Input<string>;
    /** Create the app if it does not exist. Default false. */
    readonly createApp?: pulumi.Input<boolean>;
    /** The region for a created app, e.g. "eu". */
    readonly region?: pulumi.Input<string>;
    /** The Platform API's base URL (default Heroku's). */
    readonly apiUrl?: pulumi.Input<string>;
    /** The registry's host (default registry.heroku.com). */
    readonly registryHost?: pulumi.Input<string>;
}

/**
 * Where the app runs: `kind` picks the target (default "local") and only that kind's block may be given.
 * One object with a block per kind rather than a union, so every Pulumi language can express it.
 */
export interface WebAppTargetArgs {
    /** "local" (default), "ec2", "ssh" or "heroku". */
    readonly kind?: TargetKind;
    /** Settings of the local target. */
    readonly local?: LocalTargetArgs;
    /** Settings of the ec2 target (required when kind is "ec2"). */
    readonly ec2?: Ec2TargetArgs;
    /** Settings of the ssh target (required when kind is "ssh"). */
    readonly ssh?: SshTargetArgs;
    /** Settings of the heroku target (required when kind is "heroku"). */
    readonly heroku?: HerokuTargetArgs;
}

/** Arguments of a {@link WebApp}. */
export interface WebAppArgs {
    /** The app to build and run: its directory (the `.asd`), how the image is built, its port, environment and health path. */
    readonly app: WebAppSourceArgs;
    /** Where to run it (default: the local Docker engine). */
    readonly target?: WebAppTargetArgs;
}

/** What every target's wiring hands back to the WebApp. */
export interface TargetOutputs {
    readonly url: pulumi.Output<string>;
    readonly sshCommands?: pulumi.Output<string[]>;
    readonly swankTunnels?: pulumi.Output<string[]>;
    readonly unit?: pulumi.Output<string>;
    readonly userData?: pulumi.Output<string>;
    readonly sshCommand?: pulumi.Output<string>;
    readonly swankTunnel?: pulumi.Output<string | undefined>;
    readonly logsCommand?: pulumi.Output<string>;
}

/** The validated plan of a WebApp: which target, and the app's settings with defaults filled in. */
export interface WebAppPlan {
    readonly kind: TargetKind;
    readonly port: number;
    readonly healthPath: string;
    /** How many hosts (ec2 target; 1 for every other target). */
    readonly hosts: number;
}

/** The most hosts one WebApp spreads over: beyond it, a fleet wants its own autoscaling, not a list of hosts. */
export const MAX_EC2_HOSTS = 20;

/**
 * Validates the ec2 target's fleet settings (`hosts`, and what a load balancer rules out); returns the
 * number of hosts. Plain values only, so a bad combination fails at preview time with nothing registered.
 */
export function planEc2Fleet(ec2: Ec2TargetArgs): number {
    const hosts = ec2.hosts ?? 1;
    if (typeof hosts !== "number" || !Number.isInteger(hosts) || hosts < 1 || hosts > MAX_EC2_HOSTS) {
        throw new ValidationError("args.target.ec2.hosts", `must be a whole number from 1 to ${MAX_EC2_HOSTS}; got ${JSON.stringify(ec2.hosts)}. Use 1 for a single host, 2 or more for hosts behind a load balancer.`);
    }
    if (ec2.subnetIds !== undefined && !Array.isArray(ec2.subnetIds)) {
        throw new ValidationError("args.target.ec2.subnetIds", "must be a list of subnet ids, e.g. [\"subnet-a\", \"subnet-b\"].");
    }
    if (hosts === 1) {
        if (ec2.subnetIds !== undefined) {
            throw new ValidationError("args.target.ec2.hosts", "is 1 but subnetIds is given: subnetIds are for several hosts behind a load balancer; set hosts to 2 or more, or give one subnetId instead.");
        }
        return hosts;
    }
    // The balancer's DNS name is the app's stable address, and the hosts' own addresses serve SSH only:
    // an Elastic IP per host would cost money and keep an address nobody should send traffic to.
    if (ec2.elasticIp) {
        throw new ValidationError("args.target.ec2.hosts", `is ${hosts} with elasticIp: true; the load balancer's DNS name is the stable address of several hosts, so remove elasticIp (or set hosts to 1).`);
    }
    if (ec2.zeroDowntime?.domain !== undefined) {
        throw new ValidationError("args.target.ec2.zeroDowntime.domain", `is not available with hosts: ${hosts}: TLS for several hosts ends at the load balancer; leave domain out (each host's proxy then serves plain HTTP on publicPort to the balancer only).`);
    }
    if (ec2.subnetId !== undefined) {
        throw new ValidationError("args.target.ec2.hosts", `is ${hosts} with a single subnetId, but a load balancer needs subnets in at least two availability zones; give subnetIds (two or more, in different zones) instead of subnetId, or leave both out to use the default VPC's subnets.`);
    }
    if (ec2.subnetIds !== undefined) {
        if (ec2.subnetIds.length < 2) {
            throw new ValidationError("args.target.ec2.subnetIds", `lists ${ec2.subnetIds.length} subnet(s); a load balancer needs at least two, in different availability zones.`);
        }
        ec2.subnetIds.forEach((id, i) => {
            if (id === undefined || id === null || id === "") throw new ValidationError(`args.target.ec2.subnetIds[${i}]`, "is empty: give a subnet id such as \"subnet-0abc\".");
        });
    }
    return hosts;
}

const KINDS = Object.values(TargetKind) as string[];

/** Validates a WebApp's arguments (the target's shape, the app's plain settings); throws ValidationError naming the field. */
export function planWebApp(name: string, args: WebAppArgs): WebAppPlan {
    if (!args || !args.app) throw new ValidationError("args.app", 'is required: give at least { path: "<the app directory holding its .asd>" }.');
    if (!args.app.path) throw new ValidationError("args.app.path", 'is required: the app directory holding its .asd, relative to the program (e.g. "../hello").');
    const target = args.target ?? {};
    const kind = (target.kind ?? TargetKind.Local) as TargetKind;
    if (!KINDS.includes(kind)) throw new ValidationError("args.target.kind", `must be one of ${KINDS.map((k) => `"${k}"`).join(", ")}; got ${JSON.stringify(kind)}.`);
    for (const other of KINDS) {
        if (other !== kind && (target as Record<string, unknown>)[other] !== undefined) {
            throw new ValidationError(`args.target.${other}`, `is given but target.kind is "${kind}"; remove the ${other} block or set kind: "${other}".`);
        }
    }
    if (kind !== TargetKind.Local && (target as Record<string, unknown>)[kind] === undefined) {
        throw new ValidationError(`args.target.${kind}`, `is required when target.kind is "${kind}": give its settings block.`);
    }
    const port = args.app.port ?? 8080;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ValidationError("args.app.port", `must be a whole number from 1 to 65535; got ${JSON.stringify(port)}.`);
    // The local target publishes the port itself and so owns BIND_ADDRESS too; on a host, binding
    // 127.0.0.1 behind a reverse proxy is the app's choice.
    const reserved = kind === TargetKind.Local ? ["PORT", "BIND_ADDRESS"] : ["PORT"];
    checkEnvironmentNames("args.app.environment", args.app.environment, reserved);
    checkEnvironmentNames("args.app.secretEnvironment", args.app.secretEnvironment, reserved);
    const healthPath = args.app.healthPath ?? "/";
    if (!healthPath.startsWith("/") || /\s/.test(healthPath)) {
        throw new ValidationError("args.app.healthPath", `must be a URL path starting with "/" and without spaces; got ${JSON.stringify(healthPath)}.`);
    }
    if (kind === TargetKind.Local) {
        // The release's own checks, run now so a bad local block fails before the WebApp registers anything.
        const local = target.local ?? {};
        planLocalRelease(`${name}-release`, { image: "planned", executablePath: "/planned", port: local.port, containerPort: port, networkMode: local.networkMode, containerName: local.containerName }, "args.target.local");
    }
    const hosts = kind === TargetKind.Ec2 ? planEc2Fleet(target.ec2!) : 1;
    if (hosts > 1) {
        try {
            planLoadBalancer({ vpcId: "planned", subnetIds: ["planned-a", "planned-b"], instanceIds: ["planned"], port, healthCheckPath: healthPath });
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            throw new ValidationError(e.field.replace(/^args\.healthCheckPath/, "args.app.healthPath"), `${e.problem} (the load balancer's health check requests it)`);
        }
    }
    if (kind === TargetKind.Ec2 || kind === TargetKind.Ssh) {
        // The unit names /opt/<app> and <app>.service after the WebApp: check it, and the release's other
        // plain settings, before anything is registered.
        validateAppName("name", name);
        const swankPort = kind === TargetKind.Ec2 ? target.ec2!.swankPort : target.ssh!.swankPort;
        const zeroDowntime = kind === TargetKind.Ec2 ? target.ec2!.zeroDowntime : undefined;
        try {
            planRelease({ ...systemdReleaseSettings(name, args, { kind, port, healthPath, hosts }, undefined, swankPort, zeroDowntime), connection: { host: "planned", port: 22, user: "root", privateKey: "planned" }, executable: { image: "planned", path: "/app/planned" } });
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            // Name the WebApp's own field, not the release's.
            const field = e.field
                .replace(/^args\.swankPort/, `args.target.${kind}.swankPort`)
                .replace(/^args\.zeroDowntime/, `args.target.${kind}.zeroDowntime`)
                .replace(/^args\.(environment|secretEnvironment|port|serviceType|startTimeoutSeconds)/, "args.app.$1")
                .replace(/^args\.healthCheck\.path/, "args.app.healthPath");
            throw new ValidationError(field, e.problem);
        }
    }
    if (kind === TargetKind.Heroku) {
        const heroku = target.heroku!;
        try {
            validateHerokuReleaseArgs({ ...heroku, image: "planned", config: args.app.environment, secretConfig: args.app.secretEnvironment });
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            // Name the WebApp's own field: the user wrote target.heroku.app, not the release's args.app.
            const field = e.field.replace(/^args\.config/, "args.app.environment").replace(/^args\.secretConfig/, "args.app.secretEnvironment").replace(/^args\./, "args.target.heroku.");
            throw new ValidationError(field, e.problem);
        }
    }
    return { kind, port, healthPath, hosts };
}

/**
 * A Common Lisp web app, deployed: one object naming the app and a target. It builds the app's image
 * (LispImage) and runs it on the target, the local Docker engine by default, and outputs the `url` plus
 * what a reviewer and an operator need next: the rendered Dockerfile, unit and user data (so a preview
 * diff shows them), the SSH, Swank-tunnel and log commands.
 *
 * @example
 * const app = new WebApp("hello", {
 *     app: { path: "../hello", runtimePackages: ["libssl3"], environment: { GREETING: "hi" } },
 *     target: { kind: "local", local: { port: 8080 } },
 * });
 * export const url = app.url;
 */
export class WebApp extends pulumi.ComponentResource {
    /** Where the app answers. */
    readonly url: pulumi.Output<string>;
    /** The target this app runs on. */
    readonly targetKind: pulumi.Output<string>;
    /** The image the release runs (image id or `name@sha256:...`). */
    readonly imageRef: pulumi.Output<string>;
    /** The rendered Dockerfile. */
    readonly dockerfile: pulumi.Output<string>;
    /** The rendered systemd unit (ec2 and ssh targets; empty otherwise). */
    readonly unit: pulumi.Output<string>;
    /** The rendered cloud-init user data (ec2 target; empty otherwise). */
    readonly userData: pulumi.Output<string>;
    /** The command that opens a shell on the host (ec2 and ssh targets; empty otherwise). */
    readonly sshCommand: pulumi.Output<string>;
    /** The command that tunnels Swank to this machine (when a swankPort is set; empty otherwise). */
    readonly swankTunnel: pulumi.Output<string>;
    /** The command that follows the app's log (on the first host, with several). */
    readonly logsCommand: pulumi.Output<string>;
    /** One SSH command per host, in host order (ec2 and ssh targets; empty otherwise). `sshCommand` is the first. */
    readonly sshCommands: pulumi.Output<string[]>;
    /** One Swank tunnel command per host, in host order, when a swankPort is set; empty otherwise. */
    readonly swankTunnels: pulumi.Output<string[]>;

    constructor(name: string, args: WebAppArgs, opts?: pulumi.ComponentResourceOptions) {
        // Everything plain is checked before anything is registered: bad input leaves nothing behind.
        const plan = planWebApp(name, args);
        const dependencySource = toDependencySource(args.app.dependencySource, "args.app.dependencySource");
        super("lisp-deploy:index:WebApp", name, {}, opts);

        const image = new LispImage(
            `${name}-image`,
            {
                appDir: args.app.path,
                systemName: args.app.system,
                entryPoint: args.app.entryPoint,
                dependencySource,
                runtimePackages: args.app.runtimePackages,
                buildPackages: args.app.buildPackages,
                compression: args.app.compression,
                port: plan.port,
                // Heroku runs amd64 only.
                platform: args.app.platform ?? (plan.kind === TargetKind.Heroku ? "linux/amd64" : undefined),
                buildNetwork: args.app.buildNetwork,
            },
            { parent: this },
        );

        const outputs = wireTarget(this, name, args, plan, image);

        const empty = pulumi.output("");
        this.url = outputs.url;
        this.targetKind = pulumi.output(plan.kind);
        this.imageRef = image.imageRef;
        this.dockerfile = image.dockerfile;
        this.unit = outputs.unit ?? empty;
        this.userData = outputs.userData ?? empty;
        this.sshCommand = outputs.sshCommand ?? empty;
        this.swankTunnel = outputs.swankTunnel ? outputs.swankTunnel.apply((t) => t ?? "") : empty;
        this.logsCommand = outputs.logsCommand ?? empty;
        this.sshCommands = outputs.sshCommands ?? (outputs.sshCommand ? outputs.sshCommand.apply((c) => [c]) : pulumi.output([]));
        this.swankTunnels = outputs.swankTunnels ?? this.swankTunnel.apply((t) => (t ? [t] : []));
        this.registerOutputs({
            url: this.url,
            targetKind: this.targetKind,
            imageRef: this.imageRef,
            dockerfile: this.dockerfile,
            unit: this.unit,
            userData: this.userData,
            sshCommand: this.sshCommand,
            swankTunnel: this.swankTunnel,
            logsCommand: this.logsCommand,
            sshCommands: this.sshCommands,
            swankTunnels: this.swankTunnels,
        });
    }
}

function wireTarget(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage): TargetOutputs {
    switch (plan.kind) {
        case TargetKind.Local:
            return wireLocal(parent, name, args, plan, image);
        case TargetKind.Heroku:
            return wireHeroku(parent, name, args, image);
        case TargetKind.Ec2:
            return plan.hosts > 1 ? wireEc2Fleet(parent, name, args, plan, image) : wireEc2(parent, name, args, plan, image);
        case TargetKind.Ssh:
            return wireSsh(parent, name, args, plan, image);
        default:
            throw new ValidationError("args.target.kind", `"${plan.kind}" is not a target kind.`);
    }
}

function wireLocal(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage): TargetOutputs {
    const local = args.target?.local ?? {};
    const release = new LocalRelease(
        `${name}-release`,
        {
            image: image.imageRef,
            port: local.port,
            containerPort: plan.port,
            networkMode: local.networkMode,
            environment: args.app.environment,
            secretEnvironment: args.app.secretEnvironment,
            executablePath: image.executablePath,
            healthPath: plan.healthPath,
            containerName: local.containerName,
        },
        { parent },
    );
    return { url: release.url, logsCommand: release.logsCommand };
}

function wireHeroku(parent: WebApp, name: string, args: WebAppArgs, image: LispImage): TargetOutputs {
    const heroku = args.target!.heroku!;
    const release = new HerokuRelease(
        `${name}-release`,
        {
            image: image.imageName,
            app: heroku.app,
            apiKey: heroku.apiKey,
            createApp: heroku.createApp,
            region: heroku.region,
            apiUrl: heroku.apiUrl,
            registryHost: heroku.registryHost,
            // Heroku sets PORT itself; the rest of the environment becomes config vars.
            config: args.app.environment,
            secretConfig: args.app.secretEnvironment,
        },
        { parent },
    );
    return { url: release.url, logsCommand: pulumi.interpolate`heroku logs --tail --app ${heroku.app}` };
}

/**
 * The SystemdRelease settings both SSH-reached targets share: everything but the connection and the executable.
 * `notifiesReadiness` comes from the image (its `.asd`): the unit type follows the app unless `serviceType` is given.
 */
function systemdReleaseSettings(name: string, args: WebAppArgs, plan: WebAppPlan, notifiesReadiness: boolean | undefined, swankPort: number | undefined, zeroDowntime?: ZeroDowntime) {
    return {
        ...(zeroDowntime !== undefined ? { zeroDowntime } : {}),
        ...(args.app.serviceType !== undefined ? { serviceType: args.app.serviceType } : {}),
        ...(args.app.startTimeoutSeconds !== undefined ? { startTimeoutSeconds: args.app.startTimeoutSeconds } : {}),
        ...(notifiesReadiness !== undefined ? { notifiesReadiness } : {}),
        app: name,
        port: plan.port,
        environment: args.app.environment,
        secretEnvironment: args.app.secretEnvironment,
        healthCheck: { path: plan.healthPath },
        swankPort,
    };
}

/** `ssh -p <port> <user>@<host>`, from the connection's non-secret parts. */
function sshCommandOf(connection: pulumi.Output<HostConnection>): pulumi.Output<string> {
    return pulumi.unsecret(connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host}`));
}

function wireEc2(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage): TargetOutputs {
    const ec2 = args.target!.ec2!;
    const host = new Ec2Host(
        `${name}-host`,
        {
            instanceType: ec2.instanceType,
            platform: args.app.platform,
            ami: ec2.ami,
            subnetId: ec2.subnetId,
            publicKey: ec2.publicKey,
            privateKey: ec2.privateKey,
            sshCidrs: ec2.sshCidrs,
            sshPort: ec2.sshPort,
            allowSshFromAnywhere: ec2.allowSshFromAnywhere,
            elasticIp: ec2.elasticIp,
            // The app serves HTTP itself on its port (or the proxy on its ports); nothing else is opened to the world.
            publicPorts: ec2.zeroDowntime ? proxyPorts(name, plan, ec2.zeroDowntime) : [plan.port],
            tags: ec2.tags,
        },
        { parent },
    );
    const release = newSystemdRelease(parent, name, args, plan, image, host.connection, ec2.swankPort, ec2.zeroDowntime);
    return {
        url: release.url,
        unit: release.unit,
        userData: pulumi.output(host.userData),
        sshCommand: sshCommandOf(host.connection),
        swankTunnel: release.swankTunnel,
        logsCommand: pulumi.unsecret(host.connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host} journalctl -fu ${name}.service`)),
    };
}

/**
 * Several EC2 hosts behind an Application Load Balancer: hosts `${name}-host<i>` spread round-robin over the
 * subnets, the balancer `${name}-lb` over their instances (health check on the app's health path), and one
 * RollingRelease `${name}-release` that releases host after host and stops at the first failure.
 */
function wireEc2Fleet(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage): TargetOutputs {
    const ec2 = args.target!.ec2!;
    const { vpcId, subnetIds } = fleetNetwork(parent, ec2);
    // The hosts need the balancer's target group before the balancer exists (it needs their instances):
    // a deferred Output closes the loop and carries the dependency on the group, so each instance waits for it.
    const [targetsGroupId, resolveTargetsGroupId] = pulumi.deferredOutput<string>();
    const hosts = Array.from({ length: plan.hosts }, (_, i) =>
        new Ec2Host(
            `${name}-host${i}`,
            {
                instanceType: ec2.instanceType,
                platform: args.app.platform,
                ami: ec2.ami,
                subnetId: subnetIds.apply((ids) => ids[i % ids.length]),
                publicKey: ec2.publicKey,
                privateKey: ec2.privateKey,
                sshCidrs: ec2.sshCidrs,
                sshPort: ec2.sshPort,
                allowSshFromAnywhere: ec2.allowSshFromAnywhere,
                // Nothing is open to the world: the app's port is reached through the balancer's group only.
                publicPorts: [],
                extraSecurityGroupIds: [targetsGroupId],
                tags: ec2.tags,
            },
            { parent },
        ),
    );
    const balancer = new AppLoadBalancer(
        `${name}-lb`,
        {
            vpcId,
            subnetIds,
            instanceIds: hosts.map((h) => h.instanceId),
            // With zero-downtime releases the balancer talks to each host's proxy, which follows the active slot.
            port: ec2.zeroDowntime ? proxyPorts(name, plan, ec2.zeroDowntime)[0] : plan.port,
            healthCheckPath: plan.healthPath,
            tags: ec2.tags,
        },
        { parent },
    );
    resolveTargetsGroupId(balancer.targetSecurityGroupId);
    const release = new RollingRelease(
        `${name}-release`,
        {
            ...systemdReleaseSettings(name, args, plan, image.usesLispDeployRuntime, ec2.swankPort, ec2.zeroDowntime),
            hosts: hosts.map((h) => ({ connection: h.connection })),
            executable: { image: image.imageRef, path: image.executablePathInImage },
        },
        { parent },
    );
    const sshCommands = pulumi.all(hosts.map((h) => sshCommandOf(h.connection)));
    return {
        // Waits for the last host's release, so `url` answers only once every host runs the new build.
        url: pulumi.all([balancer.url, release.releaseId]).apply(([url]) => url),
        unit: release.units.apply((units) => units[0]),
        userData: pulumi.output(hosts[0].userData),
        sshCommand: sshCommands.apply((c) => c[0]),
        sshCommands,
        swankTunnel: release.swankTunnels.apply((t) => t[0]),
        swankTunnels: release.swankTunnels,
        logsCommand: pulumi.unsecret(hosts[0].connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host} journalctl -fu ${name}.service`)),
    };
}

/** The ports a zero-downtime host's proxy serves: 80 and 443 with a domain, else its plain-HTTP `publicPort`. */
function proxyPorts(name: string, plan: WebAppPlan, zeroDowntime: ZeroDowntime): number[] {
    const zdt = planZeroDowntime("args.target.ec2.zeroDowntime", name, plan.port, zeroDowntime);
    return zdt.domain !== undefined ? [80, 443] : [zdt.publicPort];
}

/**
 * The fleet's VPC and subnets: the given `subnetIds` (the VPC from the first), or the default VPC's default
 * subnets, sorted so that the same subnets always give the same placement, whatever order AWS lists them in.
 */
function fleetNetwork(parent: WebApp, ec2: Ec2TargetArgs): { vpcId: pulumi.Output<string>; subnetIds: pulumi.Output<string[]> } {
    const opts = { parent };
    if (ec2.subnetIds !== undefined) {
        return { vpcId: aws.ec2.getSubnetOutput({ id: ec2.subnetIds[0] }, opts).vpcId, subnetIds: pulumi.output(ec2.subnetIds) };
    }
    const vpcId = aws.ec2.getVpcOutput({ default: true }, opts).id;
    const found = aws.ec2.getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpcId] }, { name: "default-for-az", values: ["true"] }] }, opts);
    const subnetIds = found.ids.apply((ids) => {
        if (ids.length < 2) {
            throw new ValidationError("args.target.ec2.subnetIds", `the default VPC has ${ids.length} default subnet(s), but a load balancer needs two in different availability zones; give subnetIds.`);
        }
        return [...ids].sort();
    });
    return { vpcId, subnetIds };
}

function wireSsh(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage): TargetOutputs {
    const ssh = args.target!.ssh!;
    const host = new SshHost(`${name}-host`, { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey }, { parent });
    const release = newSystemdRelease(parent, name, args, plan, image, host.connection, ssh.swankPort);
    return {
        url: release.url,
        unit: release.unit,
        sshCommand: sshCommandOf(host.connection),
        swankTunnel: release.swankTunnel,
        logsCommand: pulumi.unsecret(host.connection.apply((c) => `ssh -p ${c.port} ${c.user}@${c.host} journalctl -fu ${name}.service`)),
    };
}

function newSystemdRelease(parent: WebApp, name: string, args: WebAppArgs, plan: WebAppPlan, image: LispImage, connection: pulumi.Output<HostConnection>, swankPort: number | undefined, zeroDowntime?: ZeroDowntime): SystemdRelease {
    return new SystemdRelease(
        `${name}-release`,
        {
            ...systemdReleaseSettings(name, args, plan, image.usesLispDeployRuntime, swankPort, zeroDowntime),
            connection,
            // Plain data, not the LispImage: the release copies the executable out of this exact image.
            executable: { image: image.imageRef, path: image.executablePathInImage },
        },
        { parent },
    );
}
