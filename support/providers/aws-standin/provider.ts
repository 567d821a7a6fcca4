// A stand-in for AWS's API, served as the `aws` provider plugin (`pulumi-resource-aws`) by @pulumi/pulumi's
// provider host, because pulumi-aws's plugin (a bridged provider) cannot be built here and AWS cannot be
// reached. It implements exactly what lisp-deploy registers (see README.md beside this file): an EC2
// instance is a real machine (a systemd + sshd + cloud-init container booted from the instance's user data,
// with the key pair authorized for `admin`), the other resources and the invokes answer as AWS would, and
// Diff asks for a replacement exactly where the real provider's schema says ForceNew.
//
// Every call is a new process's business (the engine starts the plugin for each CLI run), so nothing lives
// in memory: what an instance needs later (its container, its sshd port) is kept in its state, and what
// AWS itself would keep (imported key pairs) in a directory standing in for the account.
//
// Wire format (as in ../command-standin/provider.ts): inputs arrive with secrets wrapped and, in a preview,
// unknowns as UNKNOWN; what we return is stored as given.
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import type * as prov from "@pulumi/pulumi/provider";

/** The @pulumi/aws SDK this repository uses is 7.48.0; the build metadata says what this really is. */
export const VERSION = "7.48.0+standin";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What the test or benchmark decides, from the environment the Pulumi CLI passes on to its plugins. */
const ENV = {
    /** sshd ports on 127.0.0.1 an instance may take, e.g. "2280" or "2280-2283,2290". */
    sshPorts: "LISP_DEPLOY_AWS_STANDIN_SSH_PORTS",
    /** Instance containers are named `<prefix>-<instance id>`. */
    prefix: "LISP_DEPLOY_AWS_STANDIN_PREFIX",
    /** The directory standing in for the account's stored objects (imported key pairs). */
    dir: "LISP_DEPLOY_AWS_STANDIN_DIR",
    /** The AMI id getAmi answers (default: one per architecture); change it to play "a newer AMI appeared". */
    ami: "LISP_DEPLOY_AWS_STANDIN_AMI",
    /** "host" (default): instances share the machine's network; "own": each its own network namespace. */
    instanceNetwork: "LISP_DEPLOY_AWS_STANDIN_INSTANCE_NETWORK",
    /** Ports on 127.0.0.1 where load balancers serve their listener, e.g. "18880" or "18880-18881". */
    lbPorts: "LISP_DEPLOY_AWS_STANDIN_LB_PORTS",
};

const ACCOUNT = "000000000000";
const REGION = "standin-1";
const LABEL = "lisp-deploy.aws-standin";
const INSTANCE_IMAGE_DIR = path.join(__dirname, "instance");
const BALANCER = path.join(__dirname, "balancer.js");
/** Instances in a network namespace of their own get 10.241.<n>.2/30, the machine's end of their link .1. */
const OWN_NETWORK_PREFIX = "10.241";

// ---------------------------------------------------------------------------------------------------
// Wire values

const isSecret = (v: any): boolean => !!v && typeof v === "object" && v[SIG] === SECRET_SIG;

/** The value with every secret wrapper removed (for use and comparison only). */
function reveal(v: any): any {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v && typeof v === "object") {
        const out: Record<string, any> = {};
        for (const k of Object.keys(v)) out[k] = reveal(v[k]);
        return out;
    }
    return v;
}

function containsUnknown(v: any): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v && typeof v === "object") return Object.keys(v).some((k) => containsUnknown(v[k]));
    return false;
}

const typeOf = (urn: string): string => (urn.split("::")[2] ?? "").split("$").pop() ?? "";
const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;
const hex = (n: number): string => crypto.randomBytes(Math.ceil(n / 2)).toString("hex").slice(0, n);
/** AWS's resource ids: a prefix and 17 hex digits. */
const awsId = (prefix: string): string => `${prefix}-0${hex(16)}`;
const arn = (service: string, resource: string): string => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;

// ---------------------------------------------------------------------------------------------------
// The schema: the inputs lisp-deploy sets, and what a change of each does (README.md's table, from the
// Terraform AWS provider's ForceNew attributes that pulumi-aws bridges).

type Change = "update" | "replace";
interface Prop {
    /** What a change does; a function for ForceNewIf. */
    change: Change | ((news: Record<string, any>) => Change);
    /** Compared as a set (order-insensitive), as the schema's TypeSet. */
    set?: boolean;
    /** An object block whose fields change differently. */
    fields?: Record<string, Prop>;
    /** Optional+Computed: leaving it out keeps what the provider knows, so absent is no change. */
    computed?: boolean;
}

const u: Prop = { change: "update" };
const uc: Prop = { change: "update", computed: true };
const r: Prop = { change: "replace" };
const rc: Prop = { change: "replace", computed: true };

const INSTANCE = "aws:ec2/instance:Instance";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const KEY_PAIR = "aws:ec2/keyPair:KeyPair";
const EIP = "aws:ec2/eip:Eip";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const LISTENER = "aws:lb/listener:Listener";
const ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment";
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";

/** aws_vpc_security_group_{ingress,egress}_rule: only the group is RequiresReplace; the rule itself is modified in place. */
const RULE: Record<string, Prop> = {
    securityGroupId: r,
    ipProtocol: u,
    fromPort: u,
    toPort: u,
    cidrIpv4: u,
    cidrIpv6: u,
    prefixListId: u,
    referencedSecurityGroupId: u,
    description: u,
    tags: u,
};

const SCHEMA: Record<string, Record<string, Prop>> = {
    [INSTANCE]: {
        ami: rc,
        instanceType: uc,
        subnetId: rc,
        vpcSecurityGroupIds: { change: "update", set: true, computed: true },
        associatePublicIpAddress: rc,
        keyName: rc,
        // ForceNewIf(user_data, user_data_replace_on_change): decided by the new value of the flag.
        userData: { change: (news) => (reveal(news.userDataReplaceOnChange) === true ? "replace" : "update"), computed: true },
        userDataReplaceOnChange: u,
        metadataOptions: {
            change: "update",
            computed: true,
            fields: { httpEndpoint: uc, httpTokens: uc, httpPutResponseHopLimit: uc, instanceMetadataTags: uc },
        },
        rootBlockDevice: {
            change: "update",
            computed: true,
            fields: { volumeType: uc, volumeSize: uc, encrypted: rc, deleteOnTermination: u, tags: u, kmsKeyId: rc, iops: uc, throughput: uc },
        },
        tags: u,
    },
    [SECURITY_GROUP]: {
        name: rc,
        namePrefix: rc,
        description: r,
        vpcId: rc,
        ingress: { change: "update", set: true, computed: true },
        egress: { change: "update", set: true, computed: true },
        revokeRulesOnDelete: u,
        tags: u,
    },
    [KEY_PAIR]: {
        keyName: rc,
        keyNamePrefix: rc,
        publicKey: r,
        tags: u,
    },
    [EIP]: {
        domain: rc,
        instance: uc,
        networkInterface: uc,
        associateWithPrivateIp: u,
        address: r,
        publicIpv4Pool: rc,
        networkBorderGroup: rc,
        tags: u,
    },
    // internal/service/elbv2/load_balancer.go: security groups and subnets of an application load balancer
    // change in place (the ForceNewIf for them applies to network load balancers only).
    [LOAD_BALANCER]: {
        name: rc,
        namePrefix: rc,
        loadBalancerType: r,
        internal: rc,
        securityGroups: { change: "update", set: true, computed: true },
        subnets: { change: "update", set: true, computed: true },
        dropInvalidHeaderFields: u,
        tags: u,
    },
    // target_group.go: the target's port, protocol, type and VPC are ForceNew; the health check is modified in place.
    [TARGET_GROUP]: {
        name: rc,
        namePrefix: rc,
        port: r,
        protocol: r,
        targetType: r,
        vpcId: r,
        healthCheck: {
            change: "update",
            computed: true,
            // Fields with a Default or Optional+Computed: leaving one out is no change (AWS keeps or defaults it).
            fields: { enabled: uc, protocol: uc, path: uc, port: uc, matcher: uc, interval: uc, timeout: uc, healthyThreshold: uc, unhealthyThreshold: uc },
        },
        deregistrationDelay: u,
        tags: u,
    },
    // listener.go: only the load balancer is ForceNew.
    [LISTENER]: {
        loadBalancerArn: r,
        port: u,
        protocol: uc,
        defaultActions: u,
        sslPolicy: uc,
        certificateArn: u,
        tags: u,
    },
    // target_group_attachment.go has no Update: every argument is ForceNew.
    [ATTACHMENT]: {
        targetGroupArn: r,
        targetId: r,
        port: r,
        availabilityZone: r,
    },
    [INGRESS_RULE]: RULE,
    [EGRESS_RULE]: RULE,
};

/** A value's comparable form: secrets revealed, sets sorted, absent and null alike. */
function canonical(v: any, set = false): string {
    const plain = reveal(v);
    if (plain === undefined || plain === null) return "null";
    if (set && Array.isArray(plain)) return JSON.stringify(plain.map((x) => stableJson(x)).sort());
    return stableJson(plain);
}

function stableJson(v: any): string {
    if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
    if (v && typeof v === "object") {
        return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(",")}}`;
    }
    return JSON.stringify(v);
}

const absent = (v: any) => v === undefined || v === null;

/** What changed in one property: nothing, an update or a replacement. */
function propChange(prop: Prop, o: any, n: any, news: Record<string, any>): Change | undefined {
    if (absent(n) && (absent(o) || prop.computed)) return undefined;
    const kind = typeof prop.change === "function" ? prop.change(news) : prop.change;
    if (containsUnknown(n)) {
        if (!prop.fields) return kind;
    }
    if (prop.fields && n && typeof n === "object" && !Array.isArray(n)) {
        const oo = reveal(o) ?? {};
        let found: Change | undefined;
        for (const k of new Set([...Object.keys(oo), ...Object.keys(n)])) {
            const f = prop.fields[k] ?? u;
            const c = propChange(f, oo[k], n[k], news);
            if (c === "replace") return "replace";
            if (c) found = c;
        }
        return found;
    }
    return canonical(o, prop.set) === canonical(n, prop.set) ? undefined : kind;
}

export function diffInputs(type: string, olds: Record<string, any>, news: Record<string, any>): prov.DiffResult {
    const schema = SCHEMA[type];
    if (!schema) throw unimplemented(type);
    const replaces: string[] = [];
    let changes = false;
    for (const k of Object.keys(schema)) {
        const c = propChange(schema[k], olds[k], news[k], news);
        if (!c) continue;
        changes = true;
        if (c === "replace") replaces.push(k);
    }
    // The bridge never asks for deleteBeforeReplace: the engine creates the successor first.
    return { changes, replaces, deleteBeforeReplace: false };
}

function unimplemented(what: string): Error {
    return new Error(`the AWS stand-in (support/providers/aws-standin, not pulumi-aws) does not implement ${what}`);
}

// ---------------------------------------------------------------------------------------------------
// Check: unknown properties refused (so a new use in lisp-deploy is noticed), the provider's defaults and
// auto-names filled in as pulumi-aws does (`<resource name>-<7 hex>`, kept from the previous inputs).

function checkInputs(urn: string, olds: Record<string, any>, news: Record<string, any>): prov.CheckResult {
    const type = typeOf(urn);
    const schema = SCHEMA[type];
    if (!schema) throw unimplemented(type);
    const failures: prov.CheckFailure[] = [];
    const inputs: Record<string, any> = {};
    for (const k of Object.keys(news)) {
        if (k.startsWith("__")) continue;
        if (!(k in schema)) failures.push({ property: k, reason: `${k} is not an input the AWS stand-in implements for ${type}` });
        else inputs[k] = news[k];
    }
    const autoName = (key: string, prefixKey: string) => {
        if (!absent(inputs[key])) return;
        if (!absent(inputs[prefixKey])) {
            inputs[key] = typeof inputs[prefixKey] === "string" ? `${inputs[prefixKey]}${hex(26)}` : UNKNOWN;
            return;
        }
        inputs[key] = !absent(olds[key]) ? olds[key] : `${nameOf(urn)}-${hex(7)}`;
    };
    const plain = reveal(inputs);
    switch (type) {
        case INSTANCE:
            if (absent(plain.ami)) failures.push({ property: "ami", reason: "ami is required (the stand-in implements no launchTemplate)" });
            if (absent(plain.instanceType)) failures.push({ property: "instanceType", reason: "instanceType is required" });
            if (typeof plain.userData === "string" && Buffer.byteLength(plain.userData) > 16384) {
                failures.push({ property: "userData", reason: `expected length of user_data to be in the range (0 - 16384), got ${Buffer.byteLength(plain.userData)}` });
            }
            if (absent(inputs.userDataReplaceOnChange)) inputs.userDataReplaceOnChange = false;
            break;
        case SECURITY_GROUP:
            autoName("name", "namePrefix");
            if (absent(inputs.description)) inputs.description = "Managed by Pulumi";
            if (absent(inputs.revokeRulesOnDelete)) inputs.revokeRulesOnDelete = false;
            break;
        case KEY_PAIR:
            autoName("keyName", "keyNamePrefix");
            if (absent(plain.publicKey)) failures.push({ property: "publicKey", reason: "publicKey is required" });
            break;
        case EIP:
            break;
        case LOAD_BALANCER:
            autoName("name", "namePrefix");
            if (absent(inputs.loadBalancerType)) inputs.loadBalancerType = "application";
            if (plain.loadBalancerType !== undefined && plain.loadBalancerType !== "application") {
                failures.push({ property: "loadBalancerType", reason: `the AWS stand-in implements application load balancers only, not ${JSON.stringify(plain.loadBalancerType)}` });
            }
            if (plain.internal === true) failures.push({ property: "internal", reason: "the AWS stand-in implements internet-facing load balancers only" });
            break;
        case TARGET_GROUP:
            autoName("name", "namePrefix");
            if (absent(inputs.targetType)) inputs.targetType = "instance";
            if (absent(inputs.deregistrationDelay)) inputs.deregistrationDelay = 300;
            if (plain.targetType !== undefined && plain.targetType !== "instance") failures.push({ property: "targetType", reason: "the AWS stand-in implements instance targets only" });
            if (plain.protocol !== undefined && plain.protocol !== "HTTP") failures.push({ property: "protocol", reason: "the AWS stand-in's targets speak HTTP only" });
            break;
        case LISTENER:
            if (plain.protocol !== undefined && plain.protocol !== "HTTP") {
                failures.push({ property: "protocol", reason: "the AWS stand-in serves HTTP listeners only (no certificates to end TLS with)" });
            }
            break;
        case ATTACHMENT:
        case INGRESS_RULE:
        case EGRESS_RULE:
            break;
    }
    return { inputs, failures };
}

// ---------------------------------------------------------------------------------------------------
// Running processes

interface Ran {
    code: number | null;
    stdout: string;
    stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string } = {}): Promise<Ran> {
    return new Promise((resolve) => {
        const child = spawn(file, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
        const res: Ran = { code: null, stdout: "", stderr: "" };
        child.stdout.setEncoding("utf8").on("data", (d: string) => (res.stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (res.stderr += d));
        child.on("error", (e) => resolve({ ...res, code: -1, stderr: e.message }));
        child.on("close", (code) => resolve({ ...res, code }));
    });
}

async function docker(...args: string[]): Promise<string> {
    const res = await run("docker", args);
    if (res.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(" ")} failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
    return res.stdout;
}

// ---------------------------------------------------------------------------------------------------
// The account: imported key pairs, kept where AWS would keep them (not in any one resource's state)

function accountDir(): string {
    const dir = process.env[ENV.dir] || path.join(process.env.PULUMI_HOME || path.join(os.homedir(), ".pulumi"), "aws-standin");
    fs.mkdirSync(path.join(dir, "key-pairs"), { recursive: true });
    return dir;
}

const keyFile = (keyName: string) => path.join(accountDir(), "key-pairs", `${encodeURIComponent(keyName)}.pub`);

function importKeyPair(keyName: string, publicKey: string): { keyType: string; fingerprint: string } {
    const fields = publicKey.trim().split(/\s+/);
    const types: Record<string, string> = { "ssh-ed25519": "ed25519", "ssh-rsa": "rsa" };
    if (fields.length < 2 || !types[fields[0]] || !/^[A-Za-z0-9+/]+=*$/.test(fields[1])) {
        throw new Error(`importing EC2 Key Pair (${keyName}): InvalidKey.Format: Key is not in valid OpenSSH public key format`);
    }
    const file = keyFile(keyName);
    if (fs.existsSync(file)) throw new Error(`importing EC2 Key Pair (${keyName}): InvalidKeyPair.Duplicate: The keypair already exists`);
    fs.writeFileSync(file, `${publicKey.trim()}\n`);
    const blob = Buffer.from(fields[1], "base64");
    return { keyType: types[fields[0]], fingerprint: crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "") };
}

function publicKeyOf(keyName: string): string {
    const file = keyFile(keyName);
    if (!fs.existsSync(file)) throw new Error(`creating EC2 Instance: InvalidKeyPair.NotFound: The key pair '${keyName}' does not exist`);
    return fs.readFileSync(file, "utf8").trim();
}

// ---------------------------------------------------------------------------------------------------
// Instances: containers with systemd, sshd and cloud-init, host networking, sshd on 127.0.0.1:<port>

/** The instance image's tag follows its Dockerfile, so a changed Dockerfile is rebuilt, an unchanged one reused. */
async function instanceImage(): Promise<string> {
    const dockerfile = fs.readFileSync(path.join(INSTANCE_IMAGE_DIR, "Dockerfile"));
    const tag = `lisp-deploy-aws-standin-instance:${crypto.createHash("sha256").update(dockerfile).digest("hex").slice(0, 12)}`;
    if ((await run("docker", ["image", "inspect", tag])).code !== 0) {
        await docker("build", "--network", "host", "-q", "-t", tag, INSTANCE_IMAGE_DIR);
    }
    return tag;
}

function configuredPorts(): number[] {
    const spec = process.env[ENV.sshPorts] ?? "";
    const ports: number[] = [];
    for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(part);
        if (!m) throw new Error(`${ENV.sshPorts}: "${part}" is not a port or a range of ports`);
        for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) ports.push(p);
    }
    if (ports.length === 0) {
        throw new Error(`the AWS stand-in needs ${ENV.sshPorts} (sshd ports on 127.0.0.1 its instances may take, e.g. "2280-2283") to launch an instance`);
    }
    return ports;
}

const portFree = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });

/** The first configured port no stood-in instance holds and nothing listens on. */
async function pickSshPort(): Promise<number> {
    const held = new Set(
        (await docker("ps", "-a", "--filter", `label=${LABEL}.ssh-port`, "--format", `{{.Label "${LABEL}.ssh-port"}}`))
            .split("\n")
            .filter((l) => l !== "")
            .map(Number),
    );
    const ports = configuredPorts();
    for (const p of ports) if (!held.has(p) && (await portFree(p))) return p;
    throw new Error(
        `creating EC2 Instance: no free sshd port for another stood-in instance among ${process.env[ENV.sshPorts]} ` +
            `(held: ${[...held].join(", ") || "none"}); give ${ENV.sshPorts} more ports (a replacement runs beside its predecessor)`,
    );
}

function prefix(): string {
    return process.env[ENV.prefix] || "aws-standin";
}

/** Whether each instance gets a network namespace of its own (a machine of its own) or shares the host's. */
function ownNetwork(): boolean {
    const mode = process.env[ENV.instanceNetwork] || "host";
    if (mode !== "host" && mode !== "own") throw new Error(`${ENV.instanceNetwork}: "${mode}" is neither "host" nor "own"`);
    return mode === "own";
}

/** The lowest /30 of 10.241.0.0/16 that no stood-in instance holds and no interface of this machine uses. */
async function pickSubnet(): Promise<number> {
    const held = new Set(
        (await docker("ps", "-a", "--filter", `label=${LABEL}.address`, "--format", `{{.Label "${LABEL}.address"}}`))
            .split("\n")
            .filter((l) => l !== "")
            .map((a) => Number(a.split(".")[2])),
    );
    const used = (await run("ip", ["-4", "-o", "addr"])).stdout;
    for (let n = 1; n < 255; n++) if (!held.has(n) && !used.includes(` ${OWN_NETWORK_PREFIX}.${n}.`)) return n;
    throw new Error("creating EC2 Instance: every 10.241.<n>.0/30 of the stand-in is taken");
}

const ownAddress = (n: number) => ({ machine: `${OWN_NETWORK_PREFIX}.${n}.1`, instance: `${OWN_NETWORK_PREFIX}.${n}.2` });
/** The machine's end of an instance's link: named after the instance (15 characters at most, the kernel's limit). */
const linkName = (id: string) => `awsi-${id.slice(-10)}`;

/** The MASQUERADE rule that lets an instance reach Debian's mirrors (cloud-init installs packages), as a NAT gateway would. */
const natRule = (instance: string) => ["POSTROUTING", "-s", `${instance}/32`, "!", "-d", `${OWN_NETWORK_PREFIX}.0.0/16`, "-j", "MASQUERADE", "-m", "comment", "--comment", "lisp-deploy aws-standin"];

async function must(file: string, args: string[]): Promise<void> {
    const res = await run(file, args);
    if (res.code !== 0) throw new Error(`${file} ${args.join(" ")} failed (exit ${res.code}): ${res.stderr.trim()}`);
}

/**
 * Gives a running own-network instance its link: a veth pair, one end moved into the container's network
 * namespace as eth0 with the instance's address and a default route, the other on this machine with the
 * machine's address, and the NAT rule. Run after every (re)start: a restarted container has a new namespace.
 */
async function plumb(container: string, id: string, n: number): Promise<void> {
    const pid = (await docker("inspect", "--format", "{{.State.Pid}}", container)).trim();
    const link = linkName(id);
    // The container's end, renamed eth0 once inside (a name is unique per namespace).
    const peer = link.replace(/^awsi-/, "awsc-");
    const { machine, instance } = ownAddress(n);
    await run("ip", ["link", "del", link]);
    const inNs = (...args: string[]) => must("nsenter", ["-t", pid, "-n", "ip", ...args]);
    await must("ip", ["link", "add", link, "type", "veth", "peer", "name", peer]);
    await must("ip", ["link", "set", peer, "netns", pid]);
    await inNs("link", "set", peer, "name", "eth0");
    await inNs("addr", "add", `${instance}/30`, "dev", "eth0");
    await inNs("link", "set", "lo", "up");
    await inNs("link", "set", "eth0", "up");
    await inNs("route", "add", "default", "via", machine);
    await must("ip", ["addr", "add", `${machine}/30`, "dev", link]);
    await must("ip", ["link", "set", link, "up"]);
    if ((await run("iptables", ["-t", "nat", "-C", ...natRule(instance)])).code !== 0) await must("iptables", ["-t", "nat", "-A", ...natRule(instance)]);
}

/** What plumb made that outlives the container: the NAT rule (the veth pair goes with the namespace). */
async function unplumb(id: string, instance: string): Promise<void> {
    await run("ip", ["link", "del", linkName(id)]);
    while ((await run("iptables", ["-t", "nat", "-D", ...natRule(instance)])).code === 0);
}

/**
 * The engine creates independent resources at once, and two instances must not pick the same port or
 * address: launches in this plugin process take turns from picking to `docker create` (after which the
 * container's labels hold what it took).
 */
let launching: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(f: () => Promise<T>): Promise<T> {
    const turn = launching.then(f, f);
    launching = turn.catch(() => undefined);
    return turn;
}

async function launchInstance(urn: string, inputs: Record<string, any>): Promise<{ id: string; outs: Record<string, any> }> {
    const plain = reveal(inputs);
    const publicKey = publicKeyOf(plain.keyName);
    const image = await instanceImage();
    const id = awsId("i");
    const container = `${prefix()}-${id}`;
    const own = ownNetwork();
    const seed = fs.mkdtempSync(path.join(os.tmpdir(), "aws-standin-seed-"));
    let sshPort = 0;
    let subnet: number | undefined;
    let address = "127.0.0.1";
    try {
        fs.mkdirSync(path.join(seed, "nocloud"));
        fs.writeFileSync(path.join(seed, "nocloud", "user-data"), typeof plain.userData === "string" ? plain.userData : "");
        // EC2 hands the key pair to cloud-init through the metadata service; NoCloud takes it from meta-data.
        fs.writeFileSync(path.join(seed, "nocloud", "meta-data"), `instance-id: ${id}\nlocal-hostname: ip-127-0-0-1\npublic-keys:\n  - ${publicKey}\n`);
        await oneAtATime(async () => {
            // A machine of its own listens on its own addresses, so every instance takes the same (first) port.
            sshPort = own ? configuredPorts()[0] : await pickSshPort();
            subnet = own ? await pickSubnet() : undefined;
            if (subnet !== undefined) address = ownAddress(subnet).instance;
            fs.writeFileSync(path.join(seed, "listen.conf"), own ? `Port ${sshPort}\n` : `ListenAddress 127.0.0.1:${sshPort}\n`);
            await docker(
                "create", "--name", container, "--network", own ? "none" : "host",
                "--label", `${LABEL}=${urn}`, "--label", `${LABEL}.instance=${id}`,
                ...(own ? ["--label", `${LABEL}.address=${address}`] : ["--label", `${LABEL}.ssh-port=${sshPort}`]),
                "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                image, "/sbin/init",
            );
        });
        try {
            await docker("cp", `${path.join(seed, "nocloud")}/.`, `${container}:/var/lib/cloud/seed/nocloud`);
            await docker("cp", path.join(seed, "listen.conf"), `${container}:/etc/ssh/sshd_config.d/listen.conf`);
            await docker("start", container);
            if (subnet !== undefined) await plumb(container, id, subnet);
        } catch (e) {
            // A failed launch leaves no instance behind (the engine records no resource either).
            await run("docker", ["rm", "-f", container]);
            if (subnet !== undefined) await unplumb(id, address);
            throw e;
        }
    } finally {
        fs.rmSync(seed, { recursive: true, force: true });
    }
    return {
        id,
        outs: {
            ...inputs,
            arn: arn("ec2", `instance/${id}`),
            instanceState: "running",
            publicIp: address,
            privateIp: address,
            publicDns: own ? `ip-${address.replace(/\./g, "-")}` : "localhost",
            privateDns: own ? `ip-${address.replace(/\./g, "-")}` : "localhost",
            availabilityZone: subnetZone(plain.subnetId),
            primaryNetworkInterfaceId: awsId("eni"),
            tagsAll: plain.tags ?? {},
            // Not AWS's: where this instance really is, for Read, Update and Delete in later runs.
            standin: { container, sshPort, ...(subnet !== undefined ? { subnet } : {}) },
        },
    };
}

const containerOf = (id: string, props: Record<string, any>): string => reveal(props.standin)?.container ?? `${prefix()}-${id}`;

async function containerState(container: string): Promise<string | undefined> {
    const res = await run("docker", ["inspect", "--format", "{{.State.Status}}", container]);
    return res.code === 0 ? res.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------------
// The load balancer family. What AWS keeps about them is kept as records in the account directory, where
// the balancer process (balancer.js, one per load balancer, started at create) reads its listener, target
// group and targets every half second: see balancer.js for the records' shapes.

/** A record's file: named by a hash of the resource's id, so any id (an ARN) makes a plain file name. */
const recordFile = (kind: string, id: string) => path.join(accountDir(), kind, `${stableHex(id)}.json`);

function writeRecord(kind: string, id: string, record: Record<string, any>): void {
    const file = recordFile(kind, id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Renamed into place: the balancer never reads half a record.
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
}

function readRecords(kind: string): Record<string, any>[] {
    const dir = path.join(accountDir(), kind);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !f.endsWith(".health.json")).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
}

function configuredLbPorts(): number[] {
    const spec = process.env[ENV.lbPorts] ?? "";
    const ports = spec.split(",").map((s) => s.trim()).filter((s) => s !== "").flatMap((part) => {
        const m = /^(\d+)(?:-(\d+))?$/.exec(part);
        if (!m) throw new Error(`${ENV.lbPorts}: "${part}" is not a port or a range of ports`);
        return Array.from({ length: Number(m[2] ?? m[1]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
    });
    if (ports.length === 0) {
        throw new Error(`the AWS stand-in needs ${ENV.lbPorts} (ports on 127.0.0.1 where its load balancers serve their listener, e.g. "18880") to create a load balancer`);
    }
    return ports;
}

async function createLoadBalancer(inputs: Record<string, any>): Promise<{ id: string; outs: Record<string, any> }> {
    const plain = reveal(inputs);
    const subnets: string[] = plain.subnets ?? [];
    const zones = new Set(subnets.map((id) => {
        if (!DEFAULT_SUBNETS.some((s) => s.id === id)) throw new Error(`creating ELBv2 application Load Balancer (${plain.name}): InvalidSubnet: The subnet ID '${id}' is not valid`);
        return subnetZone(id);
    }));
    if (zones.size < 2) {
        throw new Error(`creating ELBv2 application Load Balancer (${plain.name}): ValidationError: At least two subnets in two different Availability Zones must be specified`);
    }
    const held = new Set(readRecords("load-balancers").map((lb) => lb.port));
    let port: number | undefined;
    for (const p of configuredLbPorts()) if (!held.has(p) && (await portFree(p))) { port = p; break; }
    if (port === undefined) throw new Error(`creating ELBv2 Load Balancer: no free port for another stood-in load balancer among ${process.env[ENV.lbPorts]}`);
    const suffix = `app/${plain.name}/${hex(16)}`;
    const lbArn = arn("elasticloadbalancing", `loadbalancer/${suffix}`);
    writeRecord("load-balancers", lbArn, { arn: lbArn, port });
    const key = stableHex(lbArn);
    const logFd = fs.openSync(path.join(accountDir(), "load-balancers", `${key}.log`), "a");
    // Detached: the balancer outlives this plugin process, as a load balancer outlives an API call.
    const child = spawn(process.execPath, [BALANCER, accountDir(), key], { detached: true, stdio: ["ignore", logFd, logFd] });
    child.unref();
    fs.closeSync(logFd);
    return {
        id: lbArn,
        outs: {
            ...inputs,
            arn: lbArn,
            arnSuffix: suffix,
            // Not AWS's form (<name>-<n>.<region>.elb.amazonaws.com): where its listener on port 80 really answers.
            dnsName: `127.0.0.1:${port}`,
            zoneId: "ZSTANDIN0ELB",
            vpcId: DEFAULT_VPC,
            ipAddressType: "ipv4",
            internal: false,
            tagsAll: plain.tags ?? {},
            standin: { pid: child.pid, port },
        },
    };
}

/** Ends a load balancer's process, if it is still the one started for it (a pid can be reused). */
async function deleteLoadBalancer(lbArn: string, props: Record<string, any>): Promise<void> {
    const file = recordFile("load-balancers", lbArn);
    fs.rmSync(file, { force: true });
    fs.rmSync(file.replace(/\.json$/, ".health.json"), { force: true });
    const { pid, port } = reveal(props.standin) ?? {};
    const cmdline = (() => {
        try {
            return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
            return "";
        }
    })();
    if (pid && cmdline.includes(BALANCER) && cmdline.includes(stableHex(lbArn))) process.kill(pid, "SIGTERM");
    // It also exits by itself within half a second of its record going: wait until the port is free.
    for (let i = 0; i < 50 && port && !(await portFree(port)); i++) await new Promise((res) => setTimeout(res, 200));
}

/** A listener's record, refusing what the stand-in does not serve (checked again on update). */
function listenerRecord(id: string, plain: Record<string, any>): Record<string, any> {
    const lb = readRecords("load-balancers").find((x) => x.arn === plain.loadBalancerArn);
    if (!lb) throw new Error(`creating ELBv2 Listener: LoadBalancerNotFound: Load balancer '${plain.loadBalancerArn}' not found`);
    const actions = plain.defaultActions ?? [];
    if (plain.port !== 80 || actions.length !== 1 || actions[0].type !== "forward" || !actions[0].targetGroupArn) {
        throw unimplemented(`listeners other than one HTTP listener on port 80 forwarding to one target group (got port ${plain.port}, actions ${JSON.stringify(actions)})`);
    }
    if (readRecords("listeners").some((l) => l.loadBalancerArn === lb.arn && l.arn !== id)) throw unimplemented("a second listener on one load balancer");
    return { arn: id, loadBalancerArn: lb.arn, lbPort: lb.port, port: 80, protocol: "HTTP", targetGroupArn: actions[0].targetGroupArn };
}

async function createListener(inputs: Record<string, any>): Promise<{ id: string; outs: Record<string, any> }> {
    const plain = reveal(inputs);
    const id = arn("elasticloadbalancing", `listener/${String(plain.loadBalancerArn).split("loadbalancer/")[1]}/${hex(16)}`);
    const record = listenerRecord(id, plain);
    writeRecord("listeners", id, record);
    // The listener answers once the balancer has read its record, as an ALB's does once the call returns.
    for (let i = 0; i < 50 && (await portFree(record.lbPort)); i++) await new Promise((res) => setTimeout(res, 200));
    if (await portFree(record.lbPort)) {
        fs.rmSync(recordFile("listeners", id), { force: true });
        const log = path.join(accountDir(), "load-balancers", `${stableHex(record.loadBalancerArn)}.log`);
        throw new Error(`creating ELBv2 Listener: the stand-in's balancer does not serve 127.0.0.1:${record.lbPort} (its log, ${log}: ${fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-2000) : "none"})`);
    }
    return { id, outs: { ...inputs, arn: id, protocol: "HTTP", tagsAll: plain.tags ?? {} } };
}

/** AWS's health check defaults for an HTTP target group, under what the inputs set. */
const HEALTH_CHECK_DEFAULTS = { enabled: true, protocol: "HTTP", port: "traffic-port", path: "/", matcher: "200", interval: 30, timeout: 5, healthyThreshold: 5, unhealthyThreshold: 2 };

const targetGroupRecord = (tgArn: string, plain: Record<string, any>) => ({
    arn: tgArn,
    port: plain.port,
    healthCheck: { ...HEALTH_CHECK_DEFAULTS, ...(plain.healthCheck ?? {}) },
    deregistrationDelay: Number(plain.deregistrationDelay ?? 300),
});

/** An instance target's address: where the balancer reaches the instance (its container's own address, or loopback). */
async function targetAddress(instanceId: string): Promise<string> {
    const out = await docker("ps", "-a", "--filter", `label=${LABEL}.instance=${instanceId}`, "--format", `{{.Names}}\t{{.Label "${LABEL}.address"}}`);
    const line = out.split("\n").find((l) => l !== "");
    if (!line) throw new Error(`registering ELBv2 Target Group targets: InvalidTarget: The following targets are not in a running state and cannot be registered: '${instanceId}'`);
    return line.split("\t")[1] || "127.0.0.1";
}

// ---------------------------------------------------------------------------------------------------
// Invokes

function filterValue(args: any, name: string): string | undefined {
    const f = (args.filters ?? []).find((x: any) => x.name === name);
    return f?.values?.[0];
}

const stableHex = (seed: string): string => crypto.createHash("sha256").update(seed).digest("hex").slice(0, 16);
const DEFAULT_VPC = `vpc-0${stableHex("default-vpc")}`;
const DEFAULT_SUBNETS = ["a", "b"].map((az) => ({ id: `subnet-0${stableHex(`default-subnet-${az}`)}`, az: `${REGION}${az}`, cidr: az === "a" ? "172.31.0.0/20" : "172.31.16.0/20" }));
const subnetZone = (subnetId: unknown): string => DEFAULT_SUBNETS.find((s) => s.id === subnetId)?.az ?? `${REGION}a`;

function invoke(token: string, args: any): Record<string, any> {
    switch (token) {
        case "aws:ec2/getAmi:getAmi": {
            const architecture = filterValue(args, "architecture") ?? "x86_64";
            const namePattern = filterValue(args, "name") ?? "standin-*";
            const id = process.env[ENV.ami] || `ami-0${stableHex(`${namePattern} ${architecture}`)}`;
            return {
                id,
                imageId: id,
                architecture,
                name: namePattern.replace("*", "standin"),
                ownerId: args.owners?.[0] ?? ACCOUNT,
                owners: args.owners ?? [],
                mostRecent: args.mostRecent ?? false,
                filters: args.filters ?? [],
                rootDeviceType: "ebs",
                virtualizationType: "hvm",
                state: "available",
                public: true,
            };
        }
        case "aws:ec2/getVpc:getVpc":
            if (args.id !== undefined && args.id !== DEFAULT_VPC) throw new Error(`InvalidVpcID.NotFound: The vpc ID '${args.id}' does not exist`);
            return { id: DEFAULT_VPC, default: true, cidrBlock: "172.31.0.0/16", arn: arn("ec2", `vpc/${DEFAULT_VPC}`), state: "available", ownerId: ACCOUNT, filters: args.filters ?? [], tags: {} };
        case "aws:ec2/getSubnets:getSubnets":
            return { id: REGION, ids: DEFAULT_SUBNETS.map((s) => s.id), filters: args.filters ?? [], tags: {} };
        case "aws:ec2/getSubnet:getSubnet": {
            const s = DEFAULT_SUBNETS.find((x) => x.id === args.id);
            if (!s) throw new Error(`InvalidSubnetID.NotFound: The subnet ID '${args.id}' does not exist`);
            return { id: s.id, vpcId: DEFAULT_VPC, availabilityZone: s.az, cidrBlock: s.cidr, defaultForAz: true, arn: arn("ec2", `subnet/${s.id}`), state: "available", ownerId: ACCOUNT, tags: {} };
        }
        default:
            throw unimplemented(`the function ${token}`);
    }
}

// ---------------------------------------------------------------------------------------------------
// The provider

export const provider: prov.Provider = {
    version: VERSION,

    async getSchema() {
        return JSON.stringify({ name: "aws", version: VERSION });
    },

    async check(urn, olds, news) {
        return checkInputs(urn, olds ?? {}, news ?? {});
    },

    async diff(_id, urn, olds, news) {
        return diffInputs(typeOf(urn), olds ?? {}, news ?? {});
    },

    async create(urn, inputs) {
        const type = typeOf(urn);
        const plain = reveal(inputs);
        switch (type) {
            case INSTANCE:
                return launchInstance(urn, inputs);
            case SECURITY_GROUP: {
                const id = awsId("sg");
                return { id, outs: { ...inputs, arn: arn("ec2", `security-group/${id}`), ownerId: ACCOUNT, vpcId: inputs.vpcId ?? DEFAULT_VPC, tagsAll: plain.tags ?? {} } };
            }
            case KEY_PAIR: {
                const { keyType, fingerprint } = importKeyPair(plain.keyName, plain.publicKey);
                return { id: plain.keyName, outs: { ...inputs, keyPairId: awsId("key"), keyType, fingerprint, arn: arn("ec2", `key-pair/${plain.keyName}`), tagsAll: plain.tags ?? {} } };
            }
            case EIP: {
                const id = awsId("eipalloc");
                return {
                    id,
                    outs: {
                        ...inputs,
                        allocationId: id,
                        domain: plain.domain ?? "vpc",
                        publicIp: "127.0.0.1",
                        publicDns: "localhost",
                        associationId: plain.instance ? awsId("eipassoc") : "",
                        arn: arn("ec2", `elastic-ip/${id}`),
                        tagsAll: plain.tags ?? {},
                    },
                };
            }
            case LOAD_BALANCER:
                return createLoadBalancer(inputs);
            case TARGET_GROUP: {
                const suffix = `targetgroup/${plain.name}/${hex(16)}`;
                const id = arn("elasticloadbalancing", suffix);
                writeRecord("target-groups", id, targetGroupRecord(id, plain));
                return { id, outs: { ...inputs, arn: id, arnSuffix: suffix, loadBalancerArns: [], tagsAll: plain.tags ?? {} } };
            }
            case LISTENER:
                return createListener(inputs);
            case ATTACHMENT: {
                const address = await targetAddress(plain.targetId);
                if (!readRecords("target-groups").some((g) => g.arn === plain.targetGroupArn)) {
                    throw new Error(`registering ELBv2 Target Group targets: TargetGroupNotFound: Target groups '${plain.targetGroupArn}' not found`);
                }
                const id = `${plain.targetGroupArn}-${Date.now()}${hex(6)}`;
                writeRecord("target-group-attachments", id, { targetGroupArn: plain.targetGroupArn, targetId: plain.targetId, port: plain.port, address });
                return { id, outs: { ...inputs } };
            }
            case INGRESS_RULE:
            case EGRESS_RULE: {
                const id = awsId("sgr");
                return { id, outs: { ...inputs, arn: arn("ec2", `security-group-rule/${id}`), securityGroupRuleId: id, tagsAll: plain.tags ?? {} } };
            }
            default:
                throw unimplemented(type);
        }
    },

    async read(id, urn, props) {
        if (typeOf(urn) === INSTANCE) {
            const state = await containerState(containerOf(id, props));
            // A terminated (here: removed) instance is gone: an empty id tells the engine so.
            if (state === undefined) return { id: "", props: {} };
            return { id, props: { ...props, instanceState: state === "running" ? "running" : "stopped" } };
        }
        return { id, props };
    },

    async update(id, urn, olds, news) {
        const type = typeOf(urn);
        const computed: Record<string, any> = {};
        for (const k of Object.keys(olds)) if (!(k in (SCHEMA[type] ?? {}))) computed[k] = olds[k];
        if (type === INSTANCE) {
            // AWS stops and starts an instance to change its type or user data: so does the stand-in.
            const o = reveal(olds);
            const n = reveal(news);
            if (o.instanceType !== n.instanceType || o.userData !== n.userData) {
                await docker("restart", containerOf(id, olds));
                // A restarted container has a new network namespace: give it its link again.
                if (o.standin?.subnet !== undefined) await plumb(containerOf(id, olds), id, o.standin.subnet);
            }
        }
        if (type === EIP && reveal(olds.instance) !== reveal(news.instance)) computed.associationId = reveal(news.instance) ? awsId("eipassoc") : "";
        if (type === TARGET_GROUP) writeRecord("target-groups", id, targetGroupRecord(id, reveal(news)));
        if (type === LISTENER) writeRecord("listeners", id, listenerRecord(id, reveal(news)));
        return { outs: { ...computed, ...news, tagsAll: reveal(news.tags) ?? {} } };
    },

    async delete(id, urn, props) {
        const type = typeOf(urn);
        switch (type) {
            case INSTANCE: {
                await run("docker", ["rm", "-f", containerOf(id, props)]);
                if (await containerState(containerOf(id, props))) throw new Error(`terminating EC2 Instance (${id}): its container is still there`);
                const subnet = reveal(props.standin)?.subnet;
                if (subnet !== undefined) await unplumb(id, ownAddress(subnet).instance);
                return;
            }
            case LOAD_BALANCER:
                return deleteLoadBalancer(id, props);
            case TARGET_GROUP:
                fs.rmSync(recordFile("target-groups", id), { force: true });
                return;
            case LISTENER:
                fs.rmSync(recordFile("listeners", id), { force: true });
                return;
            case ATTACHMENT:
                fs.rmSync(recordFile("target-group-attachments", id), { force: true });
                return;
            case INGRESS_RULE:
            case EGRESS_RULE:
            case KEY_PAIR:
                fs.rmSync(keyFile(reveal(props.keyName) ?? id), { force: true });
                return;
            case SECURITY_GROUP:
            case EIP:
                return;
            default:
                throw unimplemented(type);
        }
    },

    async invoke(token, args) {
        return { outputs: invoke(token, reveal(args ?? {})), failures: [] };
    },
};
