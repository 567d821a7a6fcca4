import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../host/host";
import { DependencySourceArgs } from "../image/args";
import { RuntimeBase } from "../image/dockerfile";
import { NetworkMode } from "../release/local/localRelease";
import { ZeroDowntime } from "../release/systemd/zeroDowntime";
import { ServiceType } from "../release/systemd/systemdRelease";

// WebApp's arguments: one object naming the app and a target, in the shapes Pulumi's schema inference
// carries to every language (a block per target kind rather than a union).

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
    /**
     * What the runtime image is built on: "slim" (default; only the executable, its libraries, CA
     * certificates and the non-root user: no shell, no package manager) or "debian-slim" (a shell and apt,
     * for debugging inside the container).
     */
    readonly runtimeBase?: RuntimeBase;
    /**
     * SBCL's heap limit in MB, saved into the executable; on the ec2 and ssh targets the unit's MemoryMax
     * goes a little above it. Default: on ec2, a share of the instance type's memory (75% after a 256 MiB
     * reserve, when the type is known when the program runs); elsewhere SBCL's own default.
     */
    readonly dynamicSpaceSizeMb?: number;
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
    /**
     * Arguments passed to the new release's executable, run once per release before it serves (e.g.
     * `["migrate"]` for database migrations), with the app's environment and secrets; a non-zero exit fails
     * the update with the command's output and the serving release stays. ec2 and ssh: a oneshot systemd
     * unit from the new release's directory (on a fleet, the first host only); local: a one-shot container
     * of the new image before the serving container is replaced; heroku: Heroku's own release phase (a
     * `release` image of the new image), so a failed command leaves Heroku serving the previous release.
     */
    readonly releaseCommand?: string[];
    /**
     * A directory for the app's data that survives releases and rollbacks, its path in the app's
     * `STATE_DIRECTORY`. ec2 and ssh: systemd's `StateDirectory=` (`/var/lib/<stateDirectory>`, owned by the
     * service user); local: the Docker volume `lisp-deploy-<stateDirectory>` mounted at /var/lib/<stateDirectory>,
     * kept when the stack is destroyed (remove it with `docker volume rm`). On a fleet each host's is its own.
     * Refused on heroku, whose dynos have no persistent disk: use an add-on (e.g. Heroku Postgres).
     */
    readonly stateDirectory?: string;
    /**
     * ec2 and ssh targets: serve a release the host still keeps (an id from the `keptReleases` output)
     * instead of the current build, without uploading or building anything on the host; health-checked like
     * any release. The update fails, listing the kept ids, when the host no longer keeps it. Remove it to
     * release the current build again.
     */
    readonly rollbackTo?: string;
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
    /**
     * Start Swank on the host's 127.0.0.1:<swankPort>; WebApp outputs the tunnel command. With
     * `zeroDowntime` the blue slot's Swank is on `swankPort`, the green slot's on `swankPort + 1`, and the
     * tunnel reaches the live slot's from your `swankPort`.
     */
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
    /**
     * Start Swank on the server's 127.0.0.1:<swankPort>; WebApp outputs the tunnel command. With
     * `zeroDowntime` the blue slot's Swank is on `swankPort`, the green slot's on `swankPort + 1`, and the
     * tunnel reaches the live slot's from your `swankPort`.
     */
    readonly swankPort?: number;
    /**
     * Release through a reverse proxy in front of two slots, so a restart drops no request (see
     * SystemdRelease's `zeroDowntime`). The server's own firewall is yours: open the proxy's ports
     * (`publicPort`, or 80 and 443 with a `domain`) instead of the app's.
     */
    readonly zeroDowntime?: ZeroDowntime;
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
    /**
     * After each release of a new image, request `app.healthPath` on the app's URL until it answers 200; if
     * it does not, roll the app back to the release that served before (Heroku itself does not) and fail the
     * update with the app's recent log lines. On by default, on the app's web URL, like every target's
     * health check; `{ enabled: false }` turns it off.
     */
    readonly healthCheck?: HerokuTargetHealthCheck;
}

/** The heroku target's health check after a release (HerokuRelease's `healthCheck`, on `app.healthPath`). */
export interface HerokuTargetHealthCheck {
    /** Check each release (default true); false releases without checking, as Heroku alone does. */
    readonly enabled?: boolean;
    /** Base URL requested instead of the app's web URL, e.g. a custom domain. Default the web URL. */
    readonly url?: pulumi.Input<string>;
    /** Seconds to wait for a 200 (Heroku's boot limit is 60). Default 90. */
    readonly timeoutSeconds?: number;
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
    readonly logsCommands?: pulumi.Output<string[]>;
    readonly releaseId?: pulumi.Output<string>;
    readonly keptReleases?: pulumi.Output<string[]>;
}
