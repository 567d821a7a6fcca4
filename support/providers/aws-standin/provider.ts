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
};

const ACCOUNT = "000000000000";
const REGION = "standin-1";
const LABEL = "lisp-deploy.aws-standin";
const INSTANCE_IMAGE_DIR = path.join(__dirname, "instance");

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

async function launchInstance(urn: string, inputs: Record<string, any>): Promise<{ id: string; outs: Record<string, any> }> {
    const plain = reveal(inputs);
    const publicKey = publicKeyOf(plain.keyName);
    const image = await instanceImage();
    const id = awsId("i");
    const container = `${prefix()}-${id}`;
    const sshPort = await pickSshPort();
    const seed = fs.mkdtempSync(path.join(os.tmpdir(), "aws-standin-seed-"));
    try {
        fs.mkdirSync(path.join(seed, "nocloud"));
        fs.writeFileSync(path.join(seed, "nocloud", "user-data"), typeof plain.userData === "string" ? plain.userData : "");
        // EC2 hands the key pair to cloud-init through the metadata service; NoCloud takes it from meta-data.
        fs.writeFileSync(path.join(seed, "nocloud", "meta-data"), `instance-id: ${id}\nlocal-hostname: ip-127-0-0-1\npublic-keys:\n  - ${publicKey}\n`);
        fs.writeFileSync(path.join(seed, "listen.conf"), `ListenAddress 127.0.0.1:${sshPort}\n`);
        await docker(
            "create", "--name", container, "--network", "host",
            "--label", `${LABEL}=${urn}`, "--label", `${LABEL}.instance=${id}`, "--label", `${LABEL}.ssh-port=${sshPort}`,
            "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            image, "/sbin/init",
        );
        try {
            await docker("cp", `${path.join(seed, "nocloud")}/.`, `${container}:/var/lib/cloud/seed/nocloud`);
            await docker("cp", path.join(seed, "listen.conf"), `${container}:/etc/ssh/sshd_config.d/listen.conf`);
            await docker("start", container);
        } catch (e) {
            // A failed launch leaves no instance behind (the engine records no resource either).
            await run("docker", ["rm", "-f", container]);
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
            publicIp: "127.0.0.1",
            privateIp: "127.0.0.1",
            publicDns: "localhost",
            privateDns: "localhost",
            availabilityZone: `${REGION}a`,
            primaryNetworkInterfaceId: awsId("eni"),
            tagsAll: plain.tags ?? {},
            // Not AWS's: where this instance really is, for Read, Update and Delete in later runs.
            standin: { container, sshPort },
        },
    };
}

const containerOf = (id: string, props: Record<string, any>): string => reveal(props.standin)?.container ?? `${prefix()}-${id}`;

async function containerState(container: string): Promise<string | undefined> {
    const res = await run("docker", ["inspect", "--format", "{{.State.Status}}", container]);
    return res.code === 0 ? res.stdout.trim() : undefined;
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
            if (o.instanceType !== n.instanceType || o.userData !== n.userData) await docker("restart", containerOf(id, olds));
        }
        if (type === EIP && reveal(olds.instance) !== reveal(news.instance)) computed.associationId = reveal(news.instance) ? awsId("eipassoc") : "";
        return { outs: { ...computed, ...news, tagsAll: reveal(news.tags) ?? {} } };
    },

    async delete(id, urn, props) {
        const type = typeOf(urn);
        switch (type) {
            case INSTANCE:
                await run("docker", ["rm", "-f", containerOf(id, props)]);
                if (await containerState(containerOf(id, props))) throw new Error(`terminating EC2 Instance (${id}): its container is still there`);
                return;
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
