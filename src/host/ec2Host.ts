import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import { debianAmiQuery } from "./ami";
import { DEFAULT_APP_USER, renderUserData, ReverseProxy } from "./cloudInit";
import { HostConnection } from "./connection";
import { renderFirewall, SSH_FROM_ANYWHERE_TAG, SSH_PORT, SSH_PORT_TAG } from "./firewall";
import { Arch, archOfPlatform, Host, Platform } from "./host";
import { archOfInstanceType } from "./instanceArch";
import { CLOUD_INIT_WAIT_SCRIPT } from "./readiness";
import { mergeTags } from "./tags";
import { checkPrivateKey, checkPublicKey, renderOnceKnown } from "./validate";
import { at, checkBoolean, checkLater, checkOneOf, checkPort, checkStringList, checkUserName, checkWholeNumber, FieldPath, PlanHandoff, planned } from "../validate";

/**
 * The arguments of an Ec2Host. Nothing here is about one app: changing the app or a release never
 * changes these, so it never touches the host.
 */
export interface Ec2HostArgs {
    /** EC2 instance type, e.g. "t3.small" (amd64) or "t4g.small" (arm64); it decides the architecture. */
    readonly instanceType: pulumi.Input<string>;
    /** The platform of the image that will run here; when given, it must match the instance type's architecture. */
    readonly platform?: Platform;
    /** An AMI id to use instead of the newest official Debian 12 image for the architecture. */
    readonly ami?: pulumi.Input<string>;
    /** The subnet to launch in; default: a default subnet of the account's default VPC. */
    readonly subnetId?: pulumi.Input<string>;
    /** OpenSSH public key line installed for the login user (becomes an EC2 key pair). */
    readonly publicKey: pulumi.Input<string>;
    /** The matching private key (a secret): releases and the readiness check log in with it. */
    readonly privateKey: pulumi.Input<string>;
    /**
     * sshd's port on the instance. Default 22. Only for images whose sshd listens elsewhere (user data does
     * not move sshd); the security group opens this port to `sshCidrs`.
     */
    readonly sshPort?: number;
    /** The login user; Debian's AMIs use "admin" (passwordless sudo). Default "admin". */
    readonly sshUser?: pulumi.Input<string>;
    /** CIDRs allowed to reach SSH (port 22), e.g. ["203.0.113.7/32"]. Must not be empty. */
    readonly sshCidrs: pulumi.Input<string[]>;
    /** Set to true to allow 0.0.0.0/0 or ::/0 in `sshCidrs`. Default false. */
    readonly allowSshFromAnywhere?: boolean;
    /** TCP ports open to the world: the app's HTTP(S) ports. Default [80, 443]. */
    readonly publicPorts?: pulumi.Input<number[]>;
    /**
     * More security groups for the instance, next to its own (e.g. AppLoadBalancer's `targetSecurityGroupId`,
     * which opens the app's port to the load balancer only). Default none.
     */
    readonly extraSecurityGroupIds?: pulumi.Input<string>[];
    /** TCP ports the host may connect out to (apt, registries, APIs, databases). Default [80, 443]. */
    readonly outboundTcpPorts?: pulumi.Input<number[]>;
    /** Give the host an Elastic IP, so its address survives a replacement. Default false. */
    readonly elasticIp?: boolean;
    /** Size of the encrypted gp3 root volume in GiB (8 to 16384). Default 16. */
    readonly rootVolumeSizeGiB?: pulumi.Input<number>;
    /** Tags for every resource, merged after `Name` (which defaults to the component's name). */
    readonly tags?: pulumi.Input<Record<string, string>>;
    /** The system user the app will run as, created by cloud-init. Default "lisp-app". */
    readonly appUser?: string;
    /** Install and enable Docker. Default false. */
    readonly docker?: boolean;
    /** Install and enable a reverse proxy from Debian ("caddy" or "nginx"). Default none. */
    readonly reverseProxy?: ReverseProxy;
    /** More Debian packages to install on first boot. */
    readonly extraPackages?: string[];
    /** Upgrade installed packages on first boot. Default true. */
    readonly upgradePackages?: boolean;
}

/**
 * A Debian 12 machine on EC2 that a release can deploy to: instance, security group, key pair,
 * optional Elastic IP and cloud-init user data. Its `connection` resolves only after cloud-init has
 * finished on the instance.
 */
export class Ec2Host extends pulumi.ComponentResource implements Host {
    /** How releases reach the host; a secret, available once cloud-init has finished. */
    readonly connection: pulumi.Output<HostConnection>;
    /** The public address (the Elastic IP when one is attached). */
    readonly address: pulumi.Output<string>;
    /** Same as `address`, under the name EC2 users look for. */
    readonly publicIp: pulumi.Output<string>;
    /** The instance's CPU architecture, from its type. */
    readonly arch: pulumi.Output<Arch>;
    /** The EC2 instance id. */
    readonly instanceId: pulumi.Output<string>;
    /** The security group id, for rules a user wants to add (e.g. from a load balancer). */
    readonly securityGroupId: pulumi.Output<string>;
    /** The rendered cloud-init user data (shown in previews). */
    readonly userData: string;
    /** The system user cloud-init created for the app. */
    readonly appUser: string;

    constructor(name: string, args: Ec2HostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered, the component included: bad input leaves nothing behind.
        const { arch, publicKey, privateKey, sshUser, sshPort, volumeSize, firewall, tags, userData } = ec2HostPlans.take(args) ?? planEc2Host(name, args);
        super("lisp-deploy:index:Ec2Host", name, {}, opts);

        const child = { parent: this };
        const vpcId = args.subnetId
            ? aws.ec2.getSubnetOutput({ id: args.subnetId }, child).vpcId
            : aws.ec2.getVpcOutput({ default: true }, child).id;
        // A newer Debian AMI appears every few weeks; it must not silently replace a running host, so
        // a looked-up AMI is only used at creation. Pass `ami` to move to a new image deliberately.
        const ami = args.ami ?? aws.ec2.getAmiOutput(arch.apply(debianAmiQuery), child).id;

        // The opt-in and a moved SSH port are recorded on the group itself, where the policy pack looks.
        const policyTags: Record<string, string> = {
            ...(args.allowSshFromAnywhere ? { [SSH_FROM_ANYWHERE_TAG]: "true" } : {}),
            ...(sshPort !== SSH_PORT ? { [SSH_PORT_TAG]: String(sshPort) } : {}),
        };
        const securityGroupTags = Object.keys(policyTags).length > 0
            ? tags.apply((t) => mergeTags(t.Name, { ...t, ...policyTags }))
            : tags;
        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                description: `lisp-deploy host ${name}: public ports, SSH from named networks`,
                vpcId,
                ingress: firewall.ingress,
                egress: firewall.egress,
                tags: securityGroupTags,
            },
            child,
        );
        const keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey, tags }, child);
        const instance = new aws.ec2.Instance(
            `${name}-instance`,
            {
                ami,
                instanceType: args.instanceType,
                subnetId: args.subnetId,
                // The host's own group first, then the caller's, in the caller's order: a stable list, no diff.
                vpcSecurityGroupIds: [securityGroup.id, ...(args.extraSecurityGroupIds ?? [])],
                associatePublicIpAddress: true,
                keyName: keyPair.keyName,
                userData,
                // cloud-init reads user data on first boot only: a changed one must make a new host,
                // and the preview should say so rather than show an update that would do nothing.
                userDataReplaceOnChange: true,
                metadataOptions: {
                    httpEndpoint: "enabled",
                    httpTokens: "required",
                    // Containers sit one hop further away; with Docker they need 2 to reach IMDSv2.
                    httpPutResponseHopLimit: args.docker ? 2 : 1,
                    instanceMetadataTags: "disabled",
                },
                rootBlockDevice: {
                    volumeType: "gp3",
                    volumeSize,
                    encrypted: true,
                    deleteOnTermination: true,
                    tags,
                },
                tags,
            },
            { ...child, ignoreChanges: args.ami === undefined ? ["ami"] : [] },
        );
        const eip = args.elasticIp ? new aws.ec2.Eip(`${name}-eip`, { domain: "vpc", instance: instance.id, tags }, child) : undefined;
        const address = eip ? eip.publicIp : instance.publicIp;

        const ready = new command.remote.Command(
            `${name}-cloud-init`,
            {
                // A new instance's sshd answers a minute or two after launch: keep dialling meanwhile.
                connection: { host: address, port: sshPort, user: sshUser, privateKey, dialErrorLimit: 60 },
                create: CLOUD_INIT_WAIT_SCRIPT,
                // A replaced instance is a new machine: wait for its cloud-init too.
                triggers: [instance.id],
            },
            { ...child, dependsOn: eip ? [instance, eip] : [instance] },
        );

        this.arch = arch;
        this.address = address;
        this.publicIp = address;
        this.instanceId = instance.id;
        this.securityGroupId = securityGroup.id;
        this.userData = userData;
        this.appUser = args.appUser ?? DEFAULT_APP_USER;
        // Built from the readiness command's output, so anything using the connection waits for cloud-init.
        this.connection = pulumi.secret(
            pulumi.all([ready.stdout, address, sshUser, privateKey]).apply(([, host, user, key]) => ({ host, port: sshPort, user, privateKey: key })),
        );
        this.registerOutputs({
            connection: this.connection,
            address: this.address,
            publicIp: this.publicIp,
            arch: this.arch,
            instanceId: this.instanceId,
            securityGroupId: this.securityGroupId,
            userData: this.userData,
            appUser: this.appUser,
        });
    }
}

/** The checked arguments of an Ec2Host and what its children need, derived from them. @internal */
export type Ec2HostPlan = ReturnType<typeof planEc2Host>;

/** Plans made by a WebApp for the Ec2Hosts it creates. @internal */
export const ec2HostPlans = new PlanHandoff<Ec2HostArgs, Ec2HostPlan>();

/**
 * Plans an Ec2Host and derives what its children need: plain values are checked now (all problems at once,
 * under `field`, so `pulumi preview` fails with one ValidationError); Outputs are checked as they resolve.
 * @internal
 */
export function planEc2Host(name: string, args: Ec2HostArgs, field: FieldPath = "args") {
    return planned((problems) => {
        if (args === undefined || args === null) {
            throw new ValidationError(at(field, ""), "Ec2Host needs arguments: at least instanceType, publicKey, privateKey and sshCidrs.");
        }
        const required: [keyof Ec2HostArgs, string][] = [
            ["instanceType", 'is required; give an EC2 instance type such as "t3.small" or "t4g.small".'],
            ["publicKey", "is required: pass the OpenSSH public key line (e.g. the contents of ~/.ssh/id_ed25519.pub)."],
            ["privateKey", 'is required: pass the matching private key as a secret (e.g. config.requireSecret("sshPrivateKey")).'],
            ["sshCidrs", 'is required: list the networks allowed to SSH in, e.g. ["203.0.113.7/32"].'],
        ];
        for (const [key, problem] of required) if (args[key] === undefined) problems.add(at(field, key), problem);
        const platform = args.platform;
        if (platform !== undefined) problems.check(() => checkOneOf(at(field, "platform"), platform, Object.values(Platform)));
        if (args.extraSecurityGroupIds !== undefined && !Array.isArray(args.extraSecurityGroupIds)) {
            problems.add(at(field, "extraSecurityGroupIds"), "must be a list of security group ids, e.g. [balancer.targetSecurityGroupId].");
        }
        if (args.sshCidrs !== undefined) problems.check(() => checkStringList(at(field, "sshCidrs"), args.sshCidrs, "203.0.113.7/32"));
        if (args.extraPackages !== undefined) problems.check(() => checkStringList(at(field, "extraPackages"), args.extraPackages, "htop"));
        for (const key of ["allowSshFromAnywhere", "elasticIp", "docker", "upgradePackages"] as const) {
            if (args[key] !== undefined) problems.check(() => checkBoolean(at(field, key), args[key]));
        }
        const sshPort = args.sshPort ?? SSH_PORT;
        problems.check(() => checkPort(at(field, "sshPort"), sshPort));
        const arch = args.instanceType === undefined ? undefined : problems.check(() => checkLater(args.instanceType, (t) => {
            const a = archOfInstanceType(t, at(field, "instanceType"));
            if (platform !== undefined && archOfPlatform(platform) !== a) {
                throw new ValidationError(
                    at(field, "instanceType"),
                    `"${t}" is ${a}, but the image is built for ${platform}; choose a${a === "arm64" ? "n amd64 type such as \"t3.small\"" : "n arm64 (Graviton) type such as \"t4g.small\""} or build the image for linux/${a}.`,
                );
            }
        }).apply((t) => archOfInstanceType(t)));
        const publicKey = args.publicKey === undefined ? undefined : problems.check(() => checkLater(args.publicKey, (k) => checkPublicKey(k, at(field, "publicKey"))));
        const privateKey = args.privateKey === undefined ? undefined : problems.check(() => pulumi.secret(checkLater(args.privateKey, (k) => checkPrivateKey(k, at(field, "privateKey")))));
        const sshUser = problems.check(() => checkLater(args.sshUser ?? "admin", (u) => checkUserName(at(field, "sshUser"), u)));
        const volumeSize = problems.check(() => checkLater(args.rootVolumeSizeGiB ?? 16, (s) => checkWholeNumber(at(field, "rootVolumeSizeGiB"), s, 8, 16384, "GiB", "8 is Debian's image size.")));
        // Without sshCidrs (reported above) there is no firewall to render.
        const firewall = args.sshCidrs !== undefined && problems.check(() =>
            renderOnceKnown(
                { publicPorts: args.publicPorts ?? [80, 443], sshCidrs: args.sshCidrs, outboundTcpPorts: args.outboundTcpPorts ?? [80, 443] },
                (v) => renderFirewall({ ...v, allowSshFromAnywhere: args.allowSshFromAnywhere, sshPort }, at(field, "")),
            ),
        );
        const tags = problems.check(() => renderOnceKnown({ tags: args.tags ?? {} }, (v) => mergeTags(name, v.tags)));
        // A list that is not one was reported above; rendering it would only add a TypeError.
        const listsOk = args.extraPackages === undefined || Array.isArray(args.extraPackages);
        const userData = listsOk && problems.check(() =>
            renderUserData({
                appUser: args.appUser,
                docker: args.docker,
                reverseProxy: args.reverseProxy,
                extraPackages: args.extraPackages,
                upgradePackages: args.upgradePackages,
            }, at(field, "")),
        );
        problems.throwIfAny();
        return { arch: arch!, publicKey: publicKey!, privateKey: privateKey!, sshUser: sshUser!, sshPort, volumeSize: volumeSize!, firewall: firewall as Exclude<typeof firewall, false | undefined>, tags: tags!, userData: userData as string };
    });
}
