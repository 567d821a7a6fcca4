import * as path from "path";
import { ValidationError } from "../errors";
import { Platform } from "../host/host";
import { Ec2HostArgs, Ec2HostPlan, planEc2Host } from "../host/ec2Host";
import { defaultDynamicSpaceSizeMb } from "../host/instanceMemory";
import { planSshHost, SshHostArgs, SshHostPlan } from "../host/sshHost";
import { LispImageArgs, LispImagePlan, planLispImage } from "../image/lispImage";
import { toDependencySource } from "../image/args";
import { HerokuReleasePlan, planHerokuSettings } from "../release/heroku/herokuRelease";
import { LoadBalancerPlan, planBalancerSettings } from "../host/loadBalancer";
import { LocalReleasePlan, planLocalSettings } from "../release/local/localRelease";
import { planReleaseSettings, ReleasePlan } from "../release/systemd/systemdRelease";
import { ZeroDowntime } from "../release/systemd/zeroDowntime";
import { checkBoolean, checkHealthPath, checkKnownKeys, checkObject, checkOneOf, checkPort, FieldPath, isKnownLater, planned, shown } from "../validate";
import { Ec2TargetArgs, HerokuTargetHealthCheck, TargetKind, WebAppArgs } from "./args";

/** An object (not null, not an array): what a settings block must be before its fields are read. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The plan of a WebApp: which target, the app's settings with defaults filled in, and the plan of every
 * child it creates, each made from the user's own arguments with the user's field paths. The wiring
 * hands these plans to the children, which then do not plan again.
 */
export interface WebAppPlan {
    readonly kind: TargetKind;
    readonly port: number;
    readonly healthPath: string;
    /** How many hosts (ec2 target; 1 for every other target). */
    readonly hosts: number;
    /** The image: its arguments and its plan (the app read once). @internal */
    readonly image: { readonly args: LispImageArgs; readonly plan: LispImagePlan };
    /** local target: the release's plan. @internal */
    readonly local?: LocalReleasePlan;
    /** heroku target: the release's plan. @internal */
    readonly heroku?: HerokuReleasePlan;
    /** ssh target: the host's plan. @internal */
    readonly sshHost?: SshHostPlan;
    /** ec2 target: each host's plan, in host order. @internal */
    readonly ec2Hosts?: readonly Ec2HostPlan[];
    /** ec2 target with several hosts: the load balancer's plan. @internal */
    readonly balancer?: LoadBalancerPlan;
    /** ec2 and ssh targets: the systemd release's plan (zero-downtime planned once, in it). @internal */
    readonly release?: ReleasePlan;
    /** ec2 target: the ports open to the world on each host, or the balancer's target port. @internal */
    readonly servingPorts?: readonly number[];
}

/** The most hosts one WebApp spreads over: beyond it, a fleet wants its own autoscaling, not a list of hosts. */
export const MAX_EC2_HOSTS = 20;

const KINDS = Object.values(TargetKind) as string[];

const APP_KEYS = [
    "path", "system", "entryPoint", "dependencySource", "runtimePackages", "buildPackages", "compression", "runtimeBase", "dynamicSpaceSizeMb", "port",
    "environment", "secretEnvironment", "healthPath", "platform", "buildNetwork", "serviceType", "startTimeoutSeconds",
    "releaseCommand", "stateDirectory", "rollbackTo",
];
const TARGET_KEYS: Record<TargetKind, readonly string[]> = {
    local: ["port", "networkMode", "containerName"],
    ec2: ["instanceType", "publicKey", "privateKey", "sshCidrs", "allowSshFromAnywhere", "elasticIp", "ami", "subnetId", "hosts", "subnetIds", "sshPort", "swankPort", "zeroDowntime", "tags"],
    ssh: ["host", "port", "user", "privateKey", "swankPort", "zeroDowntime"],
    heroku: ["app", "apiKey", "createApp", "region", "apiUrl", "registryHost", "healthCheck"],
};

/**
 * Validates the ec2 target's fleet settings (`hosts`, and what a load balancer rules out); returns the
 * number of hosts. Plain values only, so a bad combination fails at preview time with nothing registered.
 */
export function planEc2Fleet(ec2: Ec2TargetArgs): number {
    return planned((p) => {
        const field = "args.target.ec2";
        const hosts = ec2.hosts ?? 1;
        if (typeof hosts !== "number" || !Number.isInteger(hosts) || hosts < 1 || hosts > MAX_EC2_HOSTS) {
            p.add(`${field}.hosts`, `must be a whole number from 1 to ${MAX_EC2_HOSTS}; got ${shown(ec2.hosts)}. Use 1 for a single host, 2 or more for hosts behind a load balancer.`);
            return 1;
        }
        if (ec2.subnetIds !== undefined && !Array.isArray(ec2.subnetIds)) {
            p.add(`${field}.subnetIds`, 'must be a list of subnet ids, e.g. ["subnet-a", "subnet-b"].');
            return hosts;
        }
        if (hosts === 1) {
            if (ec2.subnetIds !== undefined) {
                p.add(`${field}.hosts`, "is 1 but subnetIds is given: subnetIds are for several hosts behind a load balancer; set hosts to 2 or more, or give one subnetId instead.");
            }
            return hosts;
        }
        // The balancer's DNS name is the app's stable address, and the hosts' own addresses serve SSH only:
        // an Elastic IP per host would cost money and keep an address nobody should send traffic to.
        if (ec2.elasticIp) {
            p.add(`${field}.hosts`, `is ${hosts} with elasticIp: true; the load balancer's DNS name is the stable address of several hosts, so remove elasticIp (or set hosts to 1).`);
        }
        if (ec2.zeroDowntime?.domain !== undefined) {
            p.add(`${field}.zeroDowntime.domain`, `is not available with hosts: ${hosts}: TLS for several hosts ends at the load balancer; leave domain out (each host's proxy then serves plain HTTP on publicPort to the balancer only).`);
        }
        if (ec2.subnetId !== undefined) {
            p.add(`${field}.hosts`, `is ${hosts} with a single subnetId, but a load balancer needs subnets in at least two availability zones; give subnetIds (two or more, in different zones) instead of subnetId, or leave both out to use the default VPC's subnets.`);
        }
        if (ec2.subnetIds !== undefined) {
            if (ec2.subnetIds.length < 2) {
                p.add(`${field}.subnetIds`, `lists ${ec2.subnetIds.length} subnet(s); a load balancer needs at least two, in different availability zones.`);
            }
            ec2.subnetIds.forEach((id, i) => {
                if (id === undefined || id === null || id === "") p.add(`${field}.subnetIds[${i}]`, 'is empty: give a subnet id such as "subnet-0abc".');
            });
        }
        return hosts;
    });
}

/** The systemd release settings the ec2 and ssh targets share: everything but the connection and the executable. @internal */
export function systemdReleaseSettings(name: string, args: WebAppArgs, port: number, healthPath: string, notifiesReadiness: boolean | undefined, swankPort: number | undefined, zeroDowntime?: ZeroDowntime) {
    return {
        ...(zeroDowntime !== undefined ? { zeroDowntime } : {}),
        ...(args.app.serviceType !== undefined ? { serviceType: args.app.serviceType } : {}),
        ...(args.app.startTimeoutSeconds !== undefined ? { startTimeoutSeconds: args.app.startTimeoutSeconds } : {}),
        ...(args.app.releaseCommand !== undefined ? { releaseCommand: args.app.releaseCommand } : {}),
        ...(args.app.stateDirectory !== undefined ? { stateDirectory: args.app.stateDirectory } : {}),
        ...(args.app.rollbackTo !== undefined ? { rollbackTo: args.app.rollbackTo } : {}),
        ...(notifiesReadiness !== undefined ? { notifiesReadiness } : {}),
        ...(dynamicSpaceSizeOf(args) !== undefined ? { dynamicSpaceSizeMb: dynamicSpaceSizeOf(args) } : {}),
        app: name,
        port,
        environment: args.app.environment,
        secretEnvironment: args.app.secretEnvironment,
        healthCheck: { path: healthPath },
        swankPort,
    };
}

/**
 * The executable's SBCL heap limit: the user's `app.dynamicSpaceSizeMb`, else on the ec2 target a share of
 * the instance type's memory (src/host/instanceMemory.ts; only when the type is a plain string, known now),
 * else undefined (SBCL's own default, and no MemoryMax).
 * @internal
 */
export function dynamicSpaceSizeOf(args: WebAppArgs): number | undefined {
    if (args.app.dynamicSpaceSizeMb !== undefined) return args.app.dynamicSpaceSizeMb;
    const instanceType = args.target?.kind === TargetKind.Ec2 ? args.target.ec2?.instanceType : undefined;
    return typeof instanceType === "string" ? defaultDynamicSpaceSizeMb(instanceType) : undefined;
}

/** The HerokuRelease settings of the heroku target, apart from the image and its executable. @internal */
export function herokuReleaseSettings(args: WebAppArgs, heroku: NonNullable<NonNullable<WebAppArgs["target"]>["heroku"]>, healthPath: string) {
    const { healthCheck, ...target } = heroku;
    // On unless turned off: every target health-checks a release on app.healthPath.
    const { enabled, ...check }: HerokuTargetHealthCheck = isPlainObject(healthCheck) ? healthCheck : {};
    return {
        ...target,
        // Heroku sets PORT itself; the rest of the environment becomes config vars.
        config: args.app.environment,
        secretConfig: args.app.secretEnvironment,
        ...(args.app.releaseCommand !== undefined ? { releaseCommand: args.app.releaseCommand } : {}),
        ...(enabled === false ? {} : { healthCheck: { ...check, path: healthPath } }),
    };
}

/** The LispImage arguments a WebApp builds its image from. @internal */
export function imageArgsOf(args: WebAppArgs, kind: TargetKind, port: number): LispImageArgs {
    return {
        appDir: args.app.path,
        systemName: args.app.system,
        entryPoint: args.app.entryPoint,
        dependencySource: toDependencySource(args.app.dependencySource, "args.app.dependencySource"),
        runtimePackages: args.app.runtimePackages,
        buildPackages: args.app.buildPackages,
        compression: args.app.compression,
        runtimeBase: args.app.runtimeBase,
        dynamicSpaceSizeMb: dynamicSpaceSizeOf(args),
        port,
        // Heroku runs amd64 only.
        platform: args.app.platform ?? (kind === TargetKind.Heroku ? Platform.LinuxAmd64 : undefined),
        buildNetwork: args.app.buildNetwork,
    };
}

/** The Ec2Host arguments of host `i` (the wiring adds the subnet and security groups a fleet needs). @internal */
export function ec2HostArgsOf(args: WebAppArgs, ec2: Ec2TargetArgs, servingPorts: readonly number[]): Ec2HostArgs {
    return {
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
        publicPorts: [...servingPorts],
        tags: ec2.tags,
    };
}

/** Where the image's arguments sit in WebApp's: LispImage's names for the user's `args.app` fields. */
const IMAGE_FIELDS: FieldPath = {
    base: "args.app",
    names: {
        appDir: "args.app.path",
        systemName: "args.app.system",
        // What the .asd says (its :build-pathname, dependencies, the runtime it depends on) is in the app's directory.
        buildPathname: "args.app.path",
        dependencies: "args.app.path",
        lispDeploySystemDir: "args.app.path",
        contextDir: "name",
    },
};

/** Where a systemd release's settings sit in WebApp's arguments, for the target `kind` ("ec2" or "ssh"). */
function releaseFields(kind: TargetKind): FieldPath {
    return {
        base: `args.target.${kind}`,
        names: {
            app: "name",
            port: "args.app.port",
            environment: "args.app.environment",
            secretEnvironment: "args.app.secretEnvironment",
            serviceType: "args.app.serviceType",
            startTimeoutSeconds: "args.app.startTimeoutSeconds",
            releaseCommand: "args.app.releaseCommand",
            stateDirectory: "args.app.stateDirectory",
            user: "args.app.stateDirectory",
            rollbackTo: "args.app.rollbackTo",
            dynamicSpaceSizeMb: "args.app.dynamicSpaceSizeMb",
            "healthCheck.path": "args.app.healthPath",
            healthCheck: "args.app.healthPath",
            notifiesReadiness: "args.app.path",
        },
    };
}

/**
 * Plans a WebApp and every child it will create (image, host or hosts, release, balancer) from the user's
 * own arguments, with the user's field paths, collecting ALL problems; throws one ValidationError listing
 * each (field, what is wrong, the fix), or returns the plans the wiring hands to the children.
 */
export function planWebApp(name: string, args: WebAppArgs): WebAppPlan {
    return planned((p) => {
        if (typeof name !== "string" || name === "") p.add("name", `must be a non-empty string naming the WebApp, e.g. "blog"; got ${shown(name)}.`);
        if (args === undefined || args === null || typeof args !== "object") {
            throw new ValidationError("args", 'is required: give at least { app: { path: "<the app directory holding its .asd>" } }.');
        }
        p.check(() => checkKnownKeys("args", args, ["app", "target"]));
        if (!args.app || typeof args.app !== "object") {
            throw new ValidationError("args.app", 'is required: give at least { path: "<the app directory holding its .asd>" }.');
        }
        const app = args.app;
        p.check(() => checkKnownKeys("args.app", app, APP_KEYS));
        if (app.path === undefined || app.path === "") {
            p.add("args.app.path", 'is required: the app directory holding its .asd, relative to the program (e.g. "../hello").');
        }

        // The target: its kind, and only that kind's block.
        if (args.target !== undefined) p.check(() => checkObject("args.target", args.target, '{ kind: "local" }'));
        const target = (args.target ?? {}) as Record<string, unknown> & { kind?: TargetKind };
        p.check(() => checkKnownKeys("args.target", target, ["kind", ...KINDS]));
        const kind = (target.kind ?? TargetKind.Local) as TargetKind;
        if (p.check(() => (checkOneOf("args.target.kind", kind, KINDS), true)) === undefined) {
            p.throwIfAny();
        }
        for (const other of KINDS) {
            if (other !== kind && target[other] !== undefined) {
                p.add(`args.target.${other}`, `is given but target.kind is "${kind}"; remove the ${other} block or set kind: "${other}".`);
            }
        }
        const block = target[kind];
        if (kind !== TargetKind.Local && block === undefined) {
            p.add(`args.target.${kind}`, `is required when target.kind is "${kind}": give its settings block.`);
            p.throwIfAny();
        }
        if (block !== undefined) {
            p.check(() => checkObject(`args.target.${kind}`, block, "{ ... }"));
            p.check(() => checkKnownKeys(`args.target.${kind}`, block, TARGET_KEYS[kind]));
        }
        p.throwIfAny();

        // The app's own settings, with the one rule each (children planned below check them again with the
        // same rule under the same field; the same problem is reported once).
        const port = app.port ?? 8080;
        p.check(() => checkPort("args.app.port", port));
        const healthPath = app.healthPath ?? "/";
        p.check(() => checkHealthPath("args.app.healthPath", healthPath));
        if (app.rollbackTo !== undefined && (kind === TargetKind.Local || kind === TargetKind.Heroku)) {
            p.add("args.app.rollbackTo", kind === TargetKind.Heroku
                ? "is for the ec2 and ssh targets, whose hosts keep releases; on heroku roll back with `heroku releases:rollback`, and remove rollbackTo."
                : "is for the ec2 and ssh targets, whose hosts keep releases; locally, set the image back (e.g. check out the earlier source) and remove rollbackTo.");
        }
        if (kind === TargetKind.Heroku) {
            // Heroku sets PORT itself; the rest of the environment becomes config vars.
            for (const key of ["environment", "secretEnvironment"] as const) {
                const env = app[key];
                if (env && typeof env === "object" && !isKnownLater(env) && "PORT" in env) p.add(`args.app.${key}.PORT`, "is set by Heroku itself; remove it (the app reads the PORT Heroku gives it).");
            }
            if (app.stateDirectory !== undefined) {
                p.add("args.app.stateDirectory", "is not available on heroku: a dyno's disk is discarded at every restart and release, so nothing there persists; keep the data in an add-on such as Heroku Postgres or Heroku Key-Value Store (its URL arrives as a config var), and remove stateDirectory.");
            }
            if (app.platform !== undefined && app.platform !== Platform.LinuxAmd64) {
                p.add("args.app.platform", `Heroku runs linux/amd64 only; remove platform or set it to "linux/amd64" (got ${shown(app.platform)}).`);
            }
        }
        const hosts = kind === TargetKind.Ec2 ? (p.check(() => planEc2Fleet(block as Ec2TargetArgs)) ?? 1) : 1;

        // The image: the app read once, with the user's field paths.
        let image: WebAppPlan["image"] | undefined;
        if (typeof app.path === "string" && app.path !== "") {
            const imageArgs = p.check(() => imageArgsOf(args, kind, port));
            const imagePlan = imageArgs && p.check(() => planLispImage(`${name}-image`, imageArgs, IMAGE_FIELDS));
            if (imageArgs && imagePlan) image = { args: imageArgs, plan: imagePlan };
        } else if (typeof app.path !== "string" && app.path !== undefined) {
            p.add("args.app.path", `must be a string (the app directory); got ${shown(app.path)}.`);
        }
        const executableName = image ? path.posix.basename(image.plan.plan.executablePath) : "app";
        const notifiesReadiness = image?.plan.plan.app.usesLispDeployRuntime;

        let plan: Omit<WebAppPlan, "kind" | "port" | "healthPath" | "hosts" | "image"> = {};
        if (kind === TargetKind.Local) {
            const local = (block ?? {}) as NonNullable<WebAppArgs["target"]>["local"] & object;
            const fields: FieldPath = {
                base: "args.target.local",
                names: { containerPort: "args.app.port", environment: "args.app.environment", secretEnvironment: "args.app.secretEnvironment", healthPath: "args.app.healthPath", executablePath: "args.app.path", releaseCommand: "args.app.releaseCommand", stateDirectory: "args.app.stateDirectory" },
            };
            const release = p.check(() =>
                planLocalSettings(`${name}-release`, {
                    port: local.port,
                    containerPort: port,
                    networkMode: local.networkMode,
                    environment: app.environment,
                    secretEnvironment: app.secretEnvironment,
                    executablePath: image?.plan.plan.executablePath ?? "/app/app",
                    healthPath,
                    containerName: local.containerName,
                    ...(app.releaseCommand !== undefined ? { releaseCommand: app.releaseCommand } : {}),
                    ...(app.stateDirectory !== undefined ? { stateDirectory: app.stateDirectory } : {}),
                }, fields),
            );
            plan = { local: release };
        } else if (kind === TargetKind.Heroku) {
            const heroku = block as NonNullable<NonNullable<WebAppArgs["target"]>["heroku"]>;
            const fields: FieldPath = {
                base: "args.target.heroku",
                names: { config: "args.app.environment", secretConfig: "args.app.secretEnvironment", releaseCommand: "args.app.releaseCommand", executablePath: "args.app.path", "healthCheck.path": "args.app.healthPath" },
            };
            const healthCheck: unknown = heroku.healthCheck;
            if (healthCheck !== undefined && healthCheck !== null) {
                p.check(() => checkObject("args.target.heroku.healthCheck", healthCheck, "{ timeoutSeconds: 60 }, or { enabled: false } to release without checking"));
                if (isPlainObject(healthCheck) && healthCheck.enabled !== undefined) p.check(() => checkBoolean("args.target.heroku.healthCheck.enabled", healthCheck.enabled));
            }
            const release = p.check(() => planHerokuSettings({ ...herokuReleaseSettings(args, heroku, healthPath), executablePath: image?.plan.plan.executablePath ?? "/app/app" }, fields));
            plan = { heroku: release };
        } else {
            // ec2 and ssh: a systemd release, whose zero-downtime plan (planned once, here) decides the serving ports.
            const systemd = block as { swankPort?: number; zeroDowntime?: ZeroDowntime };
            const zeroDowntime = systemd.zeroDowntime;
            const release = p.check(() => planReleaseSettings(systemdReleaseSettings(name, args, port, healthPath, notifiesReadiness, systemd.swankPort, zeroDowntime), executableName, releaseFields(kind)));
            const zeroDowntimePlan = release?.zeroDowntime;
            const servingPorts = zeroDowntimePlan ? (zeroDowntimePlan.domain !== undefined ? [80, 443] : [zeroDowntimePlan.publicPort]) : [port];
            if (kind === TargetKind.Ssh) {
                const ssh = block as NonNullable<NonNullable<WebAppArgs["target"]>["ssh"]>;
                const hostArgs: SshHostArgs = { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey };
                plan = { release, sshHost: p.check(() => planSshHost(hostArgs, "args.target.ssh")) };
            } else {
                const ec2 = block as Ec2TargetArgs;
                const hostFields: FieldPath = { base: "args.target.ec2", names: { platform: "args.app.platform", publicPorts: "args.app.port" } };
                // Behind a balancer nothing is open to the world: the app's port is reached through the balancer's group only.
                // The ports the host opens come from the user's app.port (or the proxy's): a problem with them is
                // reported under that field (above, or here for SSH's port), not as the host's publicPorts.
                const servingField = zeroDowntimePlan ? "args.target.ec2.zeroDowntime.publicPort" : "args.app.port";
                if (hosts === 1 && servingPorts.includes(22)) {
                    p.add(servingField, "is 22, SSH's port, which the host opens to `sshCidrs` only; serve the app on another port, e.g. 8080.");
                }
                const openPorts = servingPorts.filter((sp) => Number.isInteger(sp) && sp >= 1 && sp <= 65535 && sp !== 22);
                const hostArgs = { ...ec2HostArgsOf(args, ec2, hosts > 1 ? [] : openPorts), ...(hosts > 1 ? { subnetId: undefined, extraSecurityGroupIds: [] } : {}) };
                const ec2Hosts = Array.from({ length: hosts }, (_, i) => p.check(() => planEc2Host(hosts > 1 ? `${name}-host${i}` : `${name}-host`, hostArgs, hostFields)));
                const balancer = hosts > 1
                    ? p.check(() =>
                          planBalancerSettings(
                              // With zero-downtime releases the balancer talks to each host's proxy, which follows the active slot.
                              { port: servingPorts[0], healthCheckPath: healthPath },
                              { base: "args.target.ec2", names: { port: zeroDowntime ? "args.target.ec2.zeroDowntime.publicPort" : "args.app.port", healthCheckPath: "args.app.healthPath" } },
                          ),
                      )
                    : undefined;
                plan = { release, ec2Hosts: ec2Hosts as Ec2HostPlan[], balancer, servingPorts };
            }
        }
        p.throwIfAny();
        return { kind, port, healthPath, hosts, image: image!, ...plan };
    });
}
