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
import { checkPrivateKey, checkPublicKey, checkUserName, checked, renderOnceKnown } from "./validate";

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
        const { arch, publicKey, privateKey, sshUser, sshPort, volumeSize, firewall, tags, userData } = prepareEc2HostArgs(name, args);
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

/**
 * Validates an Ec2Host's arguments and derives what its children need. Plain values are checked now
 * (so `pulumi preview` fails with a ValidationError); Outputs are checked as they resolve.
 */
function prepareEc2HostArgs(name: string, args: Ec2HostArgs) {
    if (args === undefined || args === null) {
        throw new ValidationError("args", "Ec2Host needs arguments: at least instanceType, publicKey, privateKey and sshCidrs.");
    }
    if (args.instanceType === undefined) {
        throw new ValidationError("args.instanceType", 'is required; give an EC2 instance type such as "t3.small" or "t4g.small".');
    }
    if (args.platform !== undefined && args.platform !== "linux/amd64" && args.platform !== "linux/arm64") {
        throw new ValidationError("args.platform", `must be "linux/amd64" or "linux/arm64"; got ${JSON.stringify(args.platform)}.`);
    }
    if (args.publicKey === undefined) {
        throw new ValidationError("args.publicKey", "is required: pass the OpenSSH public key line (e.g. the contents of ~/.ssh/id_ed25519.pub).");
    }
    if (args.privateKey === undefined) {
        throw new ValidationError("args.privateKey", 'is required: pass the matching private key as a secret (e.g. config.requireSecret("sshPrivateKey")).');
    }
    if (args.sshCidrs === undefined) {
        throw new ValidationError("args.sshCidrs", 'is required: list the networks allowed to SSH in, e.g. ["203.0.113.7/32"].');
    }
    if (args.extraSecurityGroupIds !== undefined && !Array.isArray(args.extraSecurityGroupIds)) {
        throw new ValidationError("args.extraSecurityGroupIds", "must be a list of security group ids, e.g. [balancer.targetSecurityGroupId].");
    }
    const sshPort = args.sshPort ?? SSH_PORT;
    if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) {
        throw new ValidationError("args.sshPort", `must be a whole number from 1 to 65535; got ${JSON.stringify(args.sshPort)}.`);
    }
    const platform = args.platform;
    const arch = checked(args.instanceType, (t) => {
        const a = archOfInstanceType(t);
        if (platform !== undefined && archOfPlatform(platform) !== a) {
            throw new ValidationError(
                "args.instanceType",
                `"${t}" is ${a}, but the image is built for ${platform}; choose a${a === "arm64" ? "n amd64 type such as \"t3.small\"" : "n arm64 (Graviton) type such as \"t4g.small\""} or build the image for linux/${a}.`,
            );
        }
    }).apply((t) => archOfInstanceType(t));
    const publicKey = checked(args.publicKey, (k) => checkPublicKey(k, "args.publicKey"));
    const privateKey = pulumi.secret(checked(args.privateKey, (k) => checkPrivateKey(k, "args.privateKey")));
    const sshUser = checked(args.sshUser ?? "admin", (u) => checkUserName(u, "args.sshUser"));
    const volumeSize = checked(args.rootVolumeSizeGiB ?? 16, (s) => {
        if (typeof s !== "number" || !Number.isInteger(s) || s < 8 || s > 16384) {
            throw new ValidationError("args.rootVolumeSizeGiB", `must be a whole number of GiB from 8 (Debian's image size) to 16384; got ${JSON.stringify(s)}.`);
        }
    });
    const firewall = renderOnceKnown(
        { publicPorts: args.publicPorts ?? [80, 443], sshCidrs: args.sshCidrs, outboundTcpPorts: args.outboundTcpPorts ?? [80, 443] },
        (v) => renderFirewall({ ...v, allowSshFromAnywhere: args.allowSshFromAnywhere, sshPort }),
    );
    const tags = renderOnceKnown({ tags: args.tags ?? {} }, (v) => mergeTags(name, v.tags));
    const userData = renderUserData({
        appUser: args.appUser,
        docker: args.docker,
        reverseProxy: args.reverseProxy,
        extraPackages: args.extraPackages,
        upgradePackages: args.upgradePackages,
    });
    return { arch, publicKey, privateKey, sshUser, sshPort, volumeSize, firewall, tags, userData };
}
