import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../src/errors";
import { WebApp, WebAppArgs } from "../../src/app/webApp";
import { Ec2Host } from "../../src/host/ec2Host";
import { SshHost } from "../../src/host/sshHost";
import { LispImage } from "../../src/image/lispImage";
import { HerokuRelease, planHerokuRelease } from "../../src/release/heroku/herokuRelease";
import { planWebApp } from "../../src/app/webApp";
import { planEc2Host } from "../../src/host/ec2Host";
import { planSshHost } from "../../src/host/sshHost";
import { checkLater, checkPort } from "../../src/validate";
import { LocalRelease } from "../../src/release/local/localRelease";
import { AppLoadBalancer } from "../../src/host/loadBalancer";
import { RollingRelease } from "../../src/release/systemd/rollingRelease";
import { SystemdRelease } from "../../src/release/systemd/systemdRelease";
import { DeltaRelease } from "../../src/release/systemd/deltaRelease";
import { RecordingMocks, settle } from "../harness/mocks";
import { PRIVATE_KEY, PUBLIC_KEY } from "./host/host.fixtures";

// A hostile new user's bad and unusual inputs, table-driven. Each bad input must fail while the component
// is constructed (at preview time) with ONE ValidationError that names every field at fault as the user
// wrote it, each with a fix, and with NOTHING registered: not a child, not the component itself.
// Stands in for the Pulumi engine with RecordingMocks (nothing runs; every registration is recorded).

const APP = "examples/hello";
const KEY = pulumi.secret(PRIVATE_KEY);
const CONNECTION = { host: "203.0.113.7", port: 22, user: "root", privateKey: PRIVATE_KEY };

/** A problem's text carries a fix: it says what to write, give, use, remove... (not only what is wrong). */
const FIX = /\be\.g\.|\b(use|give|write|remove|choose|pass|set|leave|point|rename|put|percent-encode|add|keep|list|did you mean|the settings are|must be|must not|must differ|is required|needs|should)\b/i;

type Case = readonly [label: string, build: () => unknown, fields: readonly string[]];

const webApp = (app: Partial<WebAppArgs["app"]>, target?: WebAppArgs["target"], name = "blog"): Case[1] => () =>
    new WebApp(name, { app: { path: APP, ...app } as WebAppArgs["app"], target });
const ssh = (patch: Record<string, unknown> = {}) => ({ kind: "ssh" as const, ssh: { host: "203.0.113.7", privateKey: KEY, ...patch } as any });
const ec2 = (patch: Record<string, unknown> = {}) => ({
    kind: "ec2" as const,
    ec2: { instanceType: "t3.small", publicKey: PUBLIC_KEY, privateKey: KEY, sshCidrs: ["203.0.113.7/32"], ...patch } as any,
});
const heroku = (patch: Record<string, unknown> = {}) => ({ kind: "heroku" as const, heroku: { app: "blog-prod", apiKey: pulumi.secret("k"), ...patch } as any });
const any = (v: unknown) => v as any;

const WEBAPP_CASES: Case[] = [
    // missing fields
    ["no args at all", () => new WebApp("blog", any(undefined)), ["args"]],
    ["no app block", () => new WebApp("blog", any({})), ["args.app"]],
    ["empty app path", webApp({ path: "" }), ["args.app.path"]],
    ["app path a number", webApp({ path: any(42) }), ["args.app.path"]],
    ["app path that does not exist", webApp({ path: "examples/nope" }), ["args.app.path"]],
    ["system that is not there", webApp({ system: "nosuch" }), ["args.app.system"]],
    ["ec2 kind without its block", webApp({}, { kind: "ec2" }), ["args.target.ec2"]],
    ["ssh without host", webApp({}, ssh({ host: undefined })), ["args.target.ssh.host"]],
    ["ssh without private key", webApp({}, ssh({ privateKey: undefined })), ["args.target.ssh.privateKey"]],
    ["ec2 without instance type", webApp({}, ec2({ instanceType: undefined })), ["args.target.ec2.instanceType"]],
    ["heroku without API key", webApp({}, heroku({ apiKey: undefined })), ["args.target.heroku.apiKey"]],
    ["heroku with an empty API key", webApp({}, heroku({ apiKey: "" })), ["args.target.heroku.apiKey"]],
    // release lifecycle (issue 14): releaseCommand, stateDirectory, rollbackTo
    ["releaseCommand as a string", webApp({ releaseCommand: any("migrate") }, ssh()), ["args.app.releaseCommand"]],
    ["releaseCommand with an empty word", webApp({ releaseCommand: ["migrate", ""] }, ssh()), ["args.app.releaseCommand[1]"]],
    ["releaseCommand on heroku with no argument", webApp({ releaseCommand: [] }, heroku()), ["args.app.releaseCommand"]],
    ["stateDirectory with a slash", webApp({ stateDirectory: "data/db" }, ssh()), ["args.app.stateDirectory"]],
    ["stateDirectory on heroku", webApp({ stateDirectory: "data" }, heroku()), ["args.app.stateDirectory"]],
    ["STATE_DIRECTORY set with stateDirectory", webApp({ stateDirectory: "data", environment: { STATE_DIRECTORY: "/x" } }, ssh()), ["args.app.environment.STATE_DIRECTORY"]],
    ["rollbackTo a path", webApp({ rollbackTo: "../x" }, ssh()), ["args.app.rollbackTo"]],
    ["rollbackTo on the local target", webApp({ rollbackTo: "0123456789ab" }), ["args.app.rollbackTo"]],
    // wrong type
    ["port as a string", webApp({ port: any("8080") }), ["args.app.port"]],
    ["compression: \"yes\"", webApp({ compression: any("yes") }), ["args.app.compression"]],
    ["compression: 1", webApp({ compression: any(1) }), ["args.app.compression"]],
    ["runtimePackages: \"libssl3\" (a string, not a list)", webApp({ runtimePackages: any("libssl3") }), ["args.app.runtimePackages"]],
    ["buildPackages: \"gcc\"", webApp({ buildPackages: any("gcc") }), ["args.app.buildPackages"]],
    ["buildPackages holding a number", webApp({ buildPackages: any([42]) }), ["args.app.buildPackages[0]"]],
    ["environment as a string", webApp({ environment: any("A=1") }), ["args.app.environment"]],
    ["environment as a list", webApp({ environment: any(["A=1"]) }), ["args.app.environment"]],
    ["environment value a number", webApp({ environment: any({ WORKERS: 4 }) }), ["args.app.environment.WORKERS"]],
    ["healthPath a number", webApp({ healthPath: any(42) }), ["args.app.healthPath"]],
    ["dependencySource as a string", webApp({ dependencySource: any("debian") }), ["args.app.dependencySource"]],
    ["target as a string", webApp({}, any("local")), ["args.target"]],
    ["local port as a string", webApp({}, { local: { port: any("80") } }), ["args.target.local.port"]],
    ["startTimeoutSeconds as a string", webApp({ startTimeoutSeconds: any("30") }, ssh()), ["args.app.startTimeoutSeconds"]],
    ["ec2 hosts as a string", webApp({}, ec2({ hosts: "2" })), ["args.target.ec2.hosts"]],
    ["ec2 subnetIds as a string", webApp({}, ec2({ hosts: 2, subnetIds: "subnet-a" })), ["args.target.ec2.subnetIds"]],
    ["ec2 sshCidrs as a string", webApp({}, ec2({ sshCidrs: "203.0.113.7/32" })), ["args.target.ec2.sshCidrs"]],
    ["ec2 elasticIp: \"yes\"", webApp({}, ec2({ elasticIp: "yes" })), ["args.target.ec2.elasticIp"]],
    ["ec2 allowSshFromAnywhere: \"true\"", webApp({}, ec2({ allowSshFromAnywhere: "true" })), ["args.target.ec2.allowSshFromAnywhere"]],
    ["heroku createApp: \"yes\"", webApp({}, heroku({ createApp: "yes" })), ["args.target.heroku.createApp"]],
    ["heroku app a number", webApp({}, heroku({ app: 7 })), ["args.target.heroku.app"]],
    // out of range
    ["port 0", webApp({ port: 0 }), ["args.app.port"]],
    ["port 70000", webApp({ port: 70000 }), ["args.app.port"]],
    ["port -1", webApp({ port: -1 }), ["args.app.port"]],
    ["port 80.5", webApp({ port: 80.5 }), ["args.app.port"]],
    ["port NaN", webApp({ port: NaN }), ["args.app.port"]],
    ["local port 0", webApp({}, { local: { port: 0 } }), ["args.target.local.port"]],
    ["startTimeoutSeconds 0", webApp({ startTimeoutSeconds: 0 }, ssh()), ["args.app.startTimeoutSeconds"]],
    ["startTimeoutSeconds 601", webApp({ startTimeoutSeconds: 601 }, ssh()), ["args.app.startTimeoutSeconds"]],
    ["ssh port 0", webApp({}, ssh({ port: 0 })), ["args.target.ssh.port"]],
    ["ssh swankPort 70000", webApp({}, ssh({ swankPort: 70000 })), ["args.target.ssh.swankPort"]],
    ["ssh swankPort equal to the app's port", webApp({}, ssh({ swankPort: 8080 })), ["args.target.ssh.swankPort"]],
    ["ec2 hosts 0", webApp({}, ec2({ hosts: 0 })), ["args.target.ec2.hosts"]],
    ["ec2 hosts 21", webApp({}, ec2({ hosts: 21 })), ["args.target.ec2.hosts"]],
    ["ec2 sshPort 0", webApp({}, ec2({ sshPort: 0 })), ["args.target.ec2.sshPort"]],
    ["the app on SSH's port on ec2", webApp({ port: 22 }, ec2()), ["args.app.port"]],
    ["port 70000 on ec2: reported once, as the app's", webApp({ port: 70000 }, ec2()), ["args.app.port"]],
    ["ec2 sshCidrs empty", webApp({}, ec2({ sshCidrs: [] })), ["args.target.ec2.sshCidrs"]],
    ["zero-downtime with the app on port 65535", webApp({ port: 65535 }, ec2({ zeroDowntime: {} })), ["args.app.port"]],
    ["zero-downtime publicPort on the app's port", webApp({}, ec2({ zeroDowntime: { publicPort: 8080 } })), ["args.target.ec2.zeroDowntime.publicPort"]],
    ["zero-downtime drainSeconds -1", webApp({}, ec2({ zeroDowntime: { drainSeconds: -1 } })), ["args.target.ec2.zeroDowntime.drainSeconds"]],
    ["zero-downtime with swankPort on the app's port (both slots' Swank collide)", webApp({}, ec2({ zeroDowntime: {}, swankPort: 8080 })), ["args.target.ec2.swankPort"]],
    ["zero-downtime with swankPort + 1 on the proxy's publicPort", webApp({}, ssh({ zeroDowntime: { publicPort: 9000 }, swankPort: 8999 })), ["args.target.ssh.swankPort"]],
    ["zero-downtime with swankPort on Caddy's adminPort", webApp({}, ec2({ zeroDowntime: { adminPort: 4005 }, swankPort: 4005 })), ["args.target.ec2.swankPort"]],
    ["zero-downtime with swankPort 65535 (the green slot's would be 65536)", webApp({}, ssh({ zeroDowntime: {}, swankPort: 65535 })), ["args.target.ssh.swankPort"]],
    ["zero-downtime on an ssh host, publicPort on the app's port", webApp({}, ssh({ zeroDowntime: { publicPort: 8080 } })), ["args.target.ssh.zeroDowntime.publicPort"]],
    ["healthPath of 1100 characters", webApp({ healthPath: "/" + "a".repeat(1100) }), ["args.app.healthPath"]],
    // conflicting settings
    ["a heroku block with kind local", webApp({}, { kind: "local", heroku: { app: "a", apiKey: "k" } }), ["args.target.heroku"]],
    ["the same variable plain and secret", webApp({ environment: { TOKEN: "a" }, secretEnvironment: { TOKEN: pulumi.secret("b") } }), ["args.app.secretEnvironment.TOKEN"]],
    ["two hosts with an Elastic IP", webApp({}, ec2({ hosts: 2, elasticIp: true })), ["args.target.ec2.hosts"]],
    ["two hosts with one subnetId", webApp({}, ec2({ hosts: 2, subnetId: "subnet-1" })), ["args.target.ec2.hosts"]],
    ["two hosts with one subnet in subnetIds", webApp({}, ec2({ hosts: 2, subnetIds: ["subnet-1"] })), ["args.target.ec2.subnetIds"]],
    ["one host with subnetIds", webApp({}, ec2({ subnetIds: ["subnet-1", "subnet-2"] })), ["args.target.ec2.hosts"]],
    ["two hosts with a zero-downtime domain", webApp({}, ec2({ hosts: 2, zeroDowntime: { domain: "blog.example.com" } })), ["args.target.ec2.zeroDowntime.domain"]],
    ["heroku with an arm64 image", webApp({ platform: "linux/arm64" }, heroku()), ["args.app.platform"]],
    ["an arm64 instance for an amd64 image", webApp({ platform: "linux/amd64" }, ec2({ instanceType: "t4g.small" })), ["args.target.ec2.instanceType"]],
    ["a balancer health path with a query", webApp({ healthPath: "/health?deep=1" }, ec2({ hosts: 2 })), ["args.app.healthPath"]],
    // reserved or malformed names
    ["PORT in the environment (local)", webApp({ environment: { PORT: "1" } }), ["args.app.environment.PORT"]],
    ["BIND_ADDRESS in the environment (local)", webApp({ environment: { BIND_ADDRESS: "0.0.0.0" } }), ["args.app.environment.BIND_ADDRESS"]],
    ["PORT in the environment (ssh)", webApp({ environment: { PORT: "1" } }, ssh()), ["args.app.environment.PORT"]],
    ["PORT in the environment (heroku)", webApp({ environment: { PORT: "1" } }, heroku()), ["args.app.environment.PORT"]],
    ["environment name starting with a digit", webApp({ environment: { "1BAD": "x" } }), ["args.app.environment.1BAD"]],
    ["environment name with a dash", webApp({ environment: { "A-B": "x" } }), ["args.app.environment.A-B"]],
    ["secret environment name with a space", webApp({ secretEnvironment: { "BAD NAME": pulumi.secret("x") } }), ["args.app.secretEnvironment.BAD NAME"]],
    ["WebApp named \"Blog\" on a host", webApp({}, ssh(), "Blog"), ["name"]],
    ["WebApp named \"my_app\" on a host", webApp({}, ssh(), "my_app"), ["name"]],
    ["ssh user \"Root\"", webApp({}, ssh({ user: "Root" })), ["args.target.ssh.user"]],
    ["local container name with a space", webApp({}, { local: { containerName: "my app" } }), ["args.target.local.containerName"]],
    ["heroku app name with capitals", webApp({}, heroku({ app: "My App" })), ["args.target.heroku.app"]],
    ["entry point without a package", webApp({ entryPoint: "main" }), ["args.app.entryPoint"]],
    ["entry point with a space", webApp({ entryPoint: "a:b c" }), ["args.app.entryPoint"]],
    ["runtime package with capitals", webApp({ runtimePackages: ["LibSSL"] }), ["args.app.runtimePackages[0]"]],
    ["ec2 public key holding a private key", webApp({}, ec2({ publicKey: PRIVATE_KEY })), ["args.target.ec2.publicKey"]],
    ["ec2 public key that is not one", webApp({}, ec2({ publicKey: "my key" })), ["args.target.ec2.publicKey"]],
    ["ssh private key that is a public key", webApp({}, ssh({ privateKey: PUBLIC_KEY })), ["args.target.ssh.privateKey"]],
    ["ssh host with a scheme", webApp({}, ssh({ host: "ssh://203.0.113.7" })), ["args.target.ssh.host"]],
    ["ssh host with user@", webApp({}, ssh({ host: "root@203.0.113.7" })), ["args.target.ssh.host"]],
    ["ec2 CIDR without a prefix", webApp({}, ec2({ sshCidrs: ["203.0.113.7"] })), ["args.target.ec2.sshCidrs[0]"]],
    ["ec2 CIDR with host bits", webApp({}, ec2({ sshCidrs: ["10.0.0.1/8"] })), ["args.target.ec2.sshCidrs[0]"]],
    ["ec2 SSH from anywhere without opting in", webApp({}, ec2({ sshCidrs: ["0.0.0.0/0"] })), ["args.target.ec2.sshCidrs[0]"]],
    ["zero-downtime domain with a space", webApp({}, ec2({ zeroDowntime: { domain: "blog example.com" } })), ["args.target.ec2.zeroDowntime.domain"]],
    ["heroku API URL over plain http", webApp({}, heroku({ apiUrl: "http://api.heroku.com" })), ["args.target.heroku.apiUrl"]],
    ["heroku registry host with a scheme", webApp({}, heroku({ registryHost: "https://registry.heroku.com" })), ["args.target.heroku.registryHost"]],
    // unknown enum values
    ["target kind \"mars\"", webApp({}, { kind: any("mars") }), ["args.target.kind"]],
    ["platform \"windows/amd64\"", webApp({ platform: any("windows/amd64") }), ["args.app.platform"]],
    ["platform \"linux/386\" on ec2", webApp({ platform: any("linux/386") }, ec2()), ["args.app.platform"]],
    ["dependency source kind \"npm\"", webApp({ dependencySource: { kind: any("npm") } }), ["args.app.dependencySource.kind"]],
    ["a vendored source without dir", webApp({ dependencySource: { kind: "vendored" } }), ["args.app.dependencySource.dir"]],
    ["a quicklisp source with a vendored dir", webApp({ dependencySource: { kind: "quicklisp", dir: "x" } }), ["args.app.dependencySource.dir"]],
    ["a quicklisp dist \"latest\"", webApp({ dependencySource: { distVersion: "latest" } }), ["args.app.dependencySource.distVersion"]],
    ["local networkMode \"none\"", webApp({}, { local: { networkMode: any("none") } }), ["args.target.local.networkMode"]],
    ["serviceType \"simple\"", webApp({ serviceType: any("simple") }, ssh()), ["args.app.serviceType"]],
    ["zero-downtime proxy \"apache\"", webApp({}, ec2({ zeroDowntime: { proxy: "apache" } })), ["args.target.ec2.zeroDowntime.proxy"]],
    // unknown keys (typos)
    ["app.healthpath (lower-case p)", webApp({ healthpath: "/health" } as any), ["args.app.healthpath"]],
    ["args.targets", () => new WebApp("blog", any({ app: { path: APP }, targets: { kind: "local" } })), ["args.targets"]],
    ["local.ports", webApp({}, { local: any({ ports: 8080 }) }), ["args.target.local.ports"]],
    ["zeroDowntime.port", webApp({}, ec2({ zeroDowntime: { port: 80 } })), ["args.target.ec2.zeroDowntime.port"]],
    // injection-shaped
    ["health path running a command", webApp({ healthPath: "/$(touch${IFS}pwned)" }), ["args.app.healthPath"]],
    ["health path ending a quoted string", webApp({ healthPath: '/"' }), ["args.app.healthPath"]],
    ["health path with a space", webApp({ healthPath: "/a b" }), ["args.app.healthPath"]],
    ["health path without a leading slash", webApp({ healthPath: "health" }), ["args.app.healthPath"]],
    ["health path with a fragment", webApp({ healthPath: "/x#frag" }), ["args.app.healthPath"]],
    ["runtime package with a shell command", webApp({ runtimePackages: ["libssl3; rm -rf /"] }), ["args.app.runtimePackages[0]"]],
    ["environment value with a newline on a host", webApp({ environment: { X: "a\nExecStartPre=/bin/sh" } }, ssh()), ["args.app.environment.X"]],
    ["environment value with NUL on a host", webApp({ environment: { X: "a\0b" } }, ssh()), ["args.app.environment.X"]],
    ["environment value with a lone surrogate on a host", webApp({ environment: { X: "a\uD800" } }, ssh()), ["args.app.environment.X"]],
    ["ssh user with a shell command", webApp({}, ssh({ user: "root; rm -rf /" })), ["args.target.ssh.user"]],
    ["local container name with ../", webApp({}, { local: { containerName: "../x" } }), ["args.target.local.containerName"]],
    ["system name with a newline", webApp({ system: "hello\nRUN id" }), ["args.app.system"]],
    // several problems at once: all reported in one error
    [
        "port, compression, runtimePackages and healthPath all wrong",
        webApp({ port: 0, compression: any("yes"), runtimePackages: any("libssl3"), healthPath: "x" }),
        ["args.app.port", "args.app.compression", "args.app.runtimePackages", "args.app.healthPath"],
    ],
    [
        "ssh target with a bad user, host, swank port and variable name",
        webApp({ environment: { "1X": "a" } }, ssh({ user: "Root", host: "ssh://h", swankPort: 0 })),
        ["args.app.environment.1X", "args.target.ssh.user", "args.target.ssh.host", "args.target.ssh.swankPort"],
    ],
    [
        "zero-downtime ssh target with a Swank collision, a bad drain and a bad user: all at once",
        webApp({}, ssh({ user: "Root", swankPort: 2018, zeroDowntime: { drainSeconds: -1 } })),
        ["args.target.ssh.user", "args.target.ssh.swankPort", "args.target.ssh.zeroDowntime.drainSeconds"],
    ],
    [
        "ec2 target with a bad fleet size, key, CIDR list and platform",
        webApp({ platform: any("windows/amd64") }, ec2({ hosts: 0, publicKey: "nope", sshCidrs: [] })),
        ["args.app.platform", "args.target.ec2.hosts", "args.target.ec2.publicKey", "args.target.ec2.sshCidrs"],
    ],
    [
        "heroku target with a bad app, key, URL and a PORT variable",
        webApp({ environment: { PORT: "1" } }, heroku({ app: "X", apiKey: "", apiUrl: "ftp://x" })),
        ["args.app.environment.PORT", "args.target.heroku.app", "args.target.heroku.apiKey", "args.target.heroku.apiUrl"],
    ],
    [
        "local target with a bad name, network mode and reserved variable",
        webApp({ environment: { BIND_ADDRESS: "x" } }, { local: { containerName: "a b", networkMode: any("none"), port: 0 } }),
        ["args.app.environment.BIND_ADDRESS", "args.target.local.containerName", "args.target.local.networkMode", "args.target.local.port"],
    ],
];

const image = (patch: Record<string, unknown>): Case[1] => () => new LispImage("img", { appDir: APP, ...patch } as any);
const sshHost = (patch: Record<string, unknown>): Case[1] => () => new SshHost("h", { host: "203.0.113.7", privateKey: KEY, ...patch } as any);
const ec2Host = (patch: Record<string, unknown>): Case[1] => () =>
    new Ec2Host("h", { instanceType: "t3.small", publicKey: PUBLIC_KEY, privateKey: KEY, sshCidrs: ["203.0.113.7/32"], ...patch } as any);
const systemd = (patch: Record<string, unknown>): Case[1] => () =>
    new SystemdRelease("r", { connection: CONNECTION, app: "blog", port: 8080, executable: { image: "img", path: "/app/hello" }, ...patch } as any);
const rolling = (patch: Record<string, unknown>): Case[1] => () =>
    new RollingRelease("r", { hosts: [{ connection: CONNECTION }], app: "blog", port: 8080, executable: { image: "img", path: "/app/hello" }, ...patch } as any);
const delta = (patch: Record<string, unknown>): Case[1] => () => new DeltaRelease("d", { connection: CONNECTION, app: "blog", port: 8080, appDir: APP, ...patch } as any);
const herokuRelease = (patch: Record<string, unknown>): Case[1] => () => new HerokuRelease("r", { image: "blog:1", app: "blog-prod", apiKey: pulumi.secret("k"), ...patch } as any);
const local = (patch: Record<string, unknown>): Case[1] => () => new LocalRelease("r", { image: "blog:1", ...patch } as any);
const balancer = (patch: Record<string, unknown>): Case[1] => () => new AppLoadBalancer("lb", { vpcId: "vpc-1", subnetIds: ["a", "b"], instanceIds: ["i-1"], port: 8080, ...patch } as any);

const COMPONENT_CASES: Case[] = [
    ["LispImage: no appDir", image({ appDir: undefined }), ["args.appDir"]],
    ["LispImage: appDir a number", image({ appDir: 42 }), ["args.appDir"]],
    ["LispImage: port as a string", image({ port: "8080" }), ["args.port"]],
    ["LispImage: compression \"yes\"", image({ compression: "yes" }), ["args.compression"]],
    ["LispImage: runtimePackages \"libssl3\"", image({ runtimePackages: "libssl3" }), ["args.runtimePackages"]],
    ["LispImage: platform \"windows/amd64\"", image({ platform: "windows/amd64" }), ["args.platform"]],
    ["LispImage: contextDir outside the program", image({ contextDir: "../outside" }), ["args.contextDir"]],
    ["LispImage: absolute contextDir", image({ contextDir: "/tmp/ctx" }), ["args.contextDir"]],
    ["LispImage: contextDir the program itself", image({ contextDir: "." }), ["args.contextDir"]],
    ["LispImage: baseImage with a space", image({ baseImage: "debian bookworm" }), ["args.baseImage"]],
    ["LispImage: SBCL tarball over ftp", image({ sbcl: { tarballUrl: "ftp://x/sbcl.tar.bz2" } }), ["args.sbcl.tarballUrl"]],
    ["LispImage: SBCL sha256 without a URL", image({ sbcl: { sha256: "abc" } }), ["args.sbcl.sha256"]],
    ["LispImage: system not there", image({ systemName: "nosuch" }), ["args.systemName"]],
    ["LispImage: several at once", image({ port: 0, compression: "yes", buildPackages: "gcc" }), ["args.port", "args.compression", "args.buildPackages"]],
    ["SshHost: no args", () => new SshHost("h", any(undefined)), ["args"]],
    ["SshHost: no host and no key", sshHost({ host: undefined, privateKey: undefined }), ["args.host", "args.privateKey"]],
    ["SshHost: arch \"x86\"", sshHost({ arch: "x86" }), ["args.arch"]],
    ["SshHost: bad user and port", sshHost({ user: "Root", port: 0 }), ["args.user", "args.port"]],
    ["SshHost: host with user@", sshHost({ host: "root@h" }), ["args.host"]],
    ["Ec2Host: nothing required given", () => new Ec2Host("h", any({})), ["args.instanceType", "args.publicKey", "args.privateKey", "args.sshCidrs"]],
    ["Ec2Host: platform \"windows/amd64\"", ec2Host({ platform: "windows/amd64" }), ["args.platform"]],
    ["Ec2Host: sshPort 70000", ec2Host({ sshPort: 70000 }), ["args.sshPort"]],
    ["Ec2Host: root volume of 4 GiB", ec2Host({ rootVolumeSizeGiB: 4 }), ["args.rootVolumeSizeGiB"]],
    ["Ec2Host: extraPackages \"htop\"", ec2Host({ extraPackages: "htop" }), ["args.extraPackages"]],
    ["Ec2Host: docker \"yes\"", ec2Host({ docker: "yes" }), ["args.docker"]],
    ["Ec2Host: publicPorts opening SSH", ec2Host({ publicPorts: [22] }), ["args.publicPorts[0]"]],
    ["SystemdRelease: app \"My App\"", systemd({ app: "My App" }), ["args.app"]],
    ["SystemdRelease: no connection", systemd({ connection: undefined }), ["args.connection"]],
    ["SystemdRelease: no executable", systemd({ executable: undefined }), ["args.executable"]],
    ["SystemdRelease: relative path in the image", systemd({ executable: { image: "img", path: "app/hello" } }), ["args.executable.path"]],
    ["SystemdRelease: keepReleases 1", systemd({ keepReleases: 1 }), ["args.keepReleases"]],
    ["SystemdRelease: a line break in a unit's Environment=", systemd({ environment: { PEM: "a\nb" } }), ["args.environment.PEM"]],
    ["SystemdRelease: NUL in a secret", systemd({ secretEnvironment: { TOKEN: "a\0b" } }), ["args.secretEnvironment.TOKEN"]],
    ["SystemdRelease: user \"Bad User\"", systemd({ user: "Bad User" }), ["args.user"]],
    ["SystemdRelease: several at once", systemd({ app: "X", port: 0, keepReleases: 1, healthCheck: { path: "x" } }), ["args.app", "args.port", "args.keepReleases", "args.healthCheck.path"]],
    ["RollingRelease: no hosts", rolling({ hosts: [] }), ["args.hosts"]],
    ["RollingRelease: a host's port 0", rolling({ hosts: [{ connection: CONNECTION, port: 0 }] }), ["args.hosts[0].port"]],
    ["RollingRelease: a host without connection and a bad app", rolling({ hosts: [{}], app: "X" }), ["args.hosts[0].connection", "args.app"]],
    ["DeltaRelease: no appDir", delta({ appDir: undefined }), ["args.appDir"]],
    ["DeltaRelease: workDir outside the program", delta({ workDir: "../x" }), ["args.workDir"]],
    ["HerokuRelease: empty key and bad app", herokuRelease({ apiKey: "", app: "x" }), ["args.apiKey", "args.app"]],
    ["HerokuRelease: image with a space", herokuRelease({ image: "blog 1" }), ["args.image"]],
    ["HerokuRelease: process type \"Web!\"", herokuRelease({ processType: "Web!" }), ["args.processType"]],
    ["HerokuRelease: config name \"1X\"", herokuRelease({ config: { "1X": "a" } }), ["args.config.1X"]],
    ["LocalRelease: no image", local({ image: undefined }), ["args.image"]],
    ["LocalRelease: health timeout 0", local({ healthTimeoutSeconds: 0 }), ["args.healthTimeoutSeconds"]],
    ["LocalRelease: secrets without executablePath", local({ secretEnvironment: { T: pulumi.secret("x") } }), ["args.executablePath"]],
    ["LocalRelease: several at once", local({ port: 0, networkMode: "none", healthPath: "x" }), ["args.port", "args.networkMode", "args.healthPath"]],
    ["AppLoadBalancer: no instances", balancer({ instanceIds: [] }), ["args.instanceIds"]],
    ["AppLoadBalancer: status 600 and a bad path", balancer({ healthCheckStatus: 600, healthCheckPath: "nope" }), ["args.healthCheckStatus", "args.healthCheckPath"]],
    ["AppLoadBalancer: deregistration delay -5", balancer({ deregistrationDelaySeconds: -5 }), ["args.deregistrationDelaySeconds"]],
];

let mocks: RecordingMocks;
beforeEach(() => {
    // Commands answer like a release that went well (the extract step prints the release id).
    mocks = new RecordingMocks(async (args) => (args.type.startsWith("command:") ? { stdout: "0123456789ab" } : undefined));
    pulumi.runtime.setMocks(mocks, "bad-input", "test", false);
});

const ALL = [...WEBAPP_CASES, ...COMPONENT_CASES];

test("the table holds at least 100 distinct bad inputs", () => {
    expect(new Set(ALL.map(([label]) => label)).size).toBe(ALL.length);
    expect(ALL.length).toBeGreaterThanOrEqual(100);
});

test.each(ALL)("%s: one error naming the user's fields (each with a fix), nothing registered", async (label, build, fields) => {
    let error: unknown;
    try {
        build();
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const problems = (error as ValidationError).problems;
    // Every expected field is named, as the user wrote it, and every problem says how to fix it.
    expect(problems.map((p) => p.field)).toEqual(expect.arrayContaining([...fields]));
    for (const p of problems) expect(p.problem).toMatch(FIX);
    // Through WebApp, only fields the user wrote: never a child's own argument names.
    if (WEBAPP_CASES.some(([l]) => l === label)) {
        for (const p of problems) expect(p.field).not.toMatch(/publicPorts|appDir|systemName|healthCheck|containerPort|secretConfig|\.config\.|executable/);
    }
    if (fields.length > 1) {
        for (const f of fields) expect((error as Error).message).toContain(`  - ${f}: `);
    } else {
        expect((error as Error).message.startsWith(`${fields[0]}: `) || (error as Error).message.includes(`  - ${fields[0]}: `)).toBe(true);
    }
    await settle();
    expect(mocks.resources).toEqual([]);
});

/** Runs `build` and returns what it registered. */
async function accepted(build: () => unknown): Promise<RecordingMocks> {
    build();
    await settle();
    return mocks;
}

describe("legitimate but unusual inputs are accepted", () => {
    test('an ASDF system named "MyApp" builds as the Docker repository "myapp"', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bad-input-myapp-"));
        fs.writeFileSync(path.join(dir, "MyApp.asd"), '(defsystem "MyApp" :depends-on () :components ((:file "main")) :entry-point "my-app:main")\n');
        fs.writeFileSync(path.join(dir, "main.lisp"), '(defpackage "MY-APP" (:use "CL") (:export "MAIN")) (in-package "MY-APP") (defun main () nil)\n');
        const contextDir = path.relative(process.cwd(), fs.mkdtempSync(path.join(os.tmpdir(), "bad-input-ctx-")));
        try {
            const registered = await accepted(() => new LispImage("myapp", { appDir: dir, dependencySource: { kind: "debian" }, contextDir: `.lisp-deploy/test-bad-input-myapp` }));
            const built = registered.ofType("docker:index/image:Image")[0];
            expect(built.inputs.imageName).toMatch(/^myapp:ctx-[0-9a-f]{12}$/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.rmSync(".lisp-deploy/test-bad-input-myapp", { recursive: true, force: true });
            fs.rmSync(path.resolve(contextDir), { recursive: true, force: true });
        }
    });

    test("a resource name with ../ and / keeps LispImage's context inside .lisp-deploy/images", async () => {
        const registered = await accepted(() => new LispImage("../../escape/x", { appDir: APP, dependencySource: { kind: "debian" } }));
        const context = registered.ofType("docker:index/image:Image")[0].inputs.build.context as string;
        // One directory name: every '/' encoded, so "." and ".." never act as path steps.
        expect(context).toBe(".lisp-deploy/images/%2E.%2F..%2Fescape%2Fx");
        expect(fs.existsSync(path.join("..", "escape"))).toBe(false);
        fs.rmSync(context, { recursive: true, force: true });
    });

    test.each([
        ["a health path with a query on a host", { healthPath: "/health?full=1" }, ssh()],
        ["'%' and '$' in an environment value on a host", { environment: { DB: "pg://u:p%40ss@db/x", PRICE: "$5" } }, ssh()],
        ["the highest port zero-downtime allows", { port: 65534 }, ec2({ zeroDowntime: { publicPort: 80 } })],
        ["zero-downtime on an ssh host", {}, ssh({ zeroDowntime: { publicPort: 80 } })],
        ["environment values known only later", { environment: { TOKEN: pulumi.output("x") } }, undefined],
        ["a multi-line environment value for the local engine", { environment: { PEM: "a\nb" } }, undefined],
        // The secret EnvironmentFile carries CR and LF as written (test/integration/env-readback.test.ts).
        // Python's None (YAML's null) reaches a component as null through the provider host: "not given".
        ["null fields, as a Python program's None arrives", { environment: null, healthPath: null, runtimePackages: null } as any, undefined],
        ["a multi-line secret (a PEM key) on a host", { secretEnvironment: { TLS_KEY: "-----BEGIN KEY-----\r\nabc\n-----END KEY-----" } }, ssh()],
    ] as [string, Partial<WebAppArgs["app"]>, WebAppArgs["target"]][])("%s", async (_label, app, target) => {
        const registered = await accepted(webApp({ dependencySource: { kind: "debian" }, ...app }, target));
        expect(registered.ofType("lisp-deploy:index:WebApp")).toHaveLength(1);
    });
});

describe("values known only later: the same checks once known, one clean error", () => {
    /** The error an Output fails with (every promise it carries is observed, so none goes unhandled). */
    function failureOf(output: pulumi.Output<unknown>): Promise<Error | "resolved"> {
        const o = output as any;
        for (const p of [o.isKnown, o.isSecret, o.allResources?.()]) if (p instanceof Promise) p.catch(() => undefined);
        return new Promise((resolve) => o.promise().then(() => resolve("resolved"), (e: Error) => resolve(e)));
    }

    test("an empty Heroku API key given as a secret is refused once known, naming the user's field", async () => {
        const plan = planHerokuRelease({ image: "blog:1", app: "blog-prod", apiKey: pulumi.secret(pulumi.output("")) });
        const error = await failureOf(plan.apiKey);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as Error).message).toBe('args.apiKey: is required: pass the Heroku API key as a secret, e.g. `config.requireSecret("herokuApiKey")` (it is empty).');
        // WebApp plans the same release with the user's path.
        const fromWebApp = planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" } }, target: heroku({ apiKey: pulumi.secret(pulumi.output(" ")) }) });
        expect(((await failureOf(fromWebApp.heroku!.apiKey)) as Error).message).toMatch(/^args\.target\.heroku\.apiKey: is required/);
    });

    test("an SSH host known later with a scheme: the same message and field as a plain one", async () => {
        const plain = (() => {
            try {
                planSshHost({ host: "ssh://203.0.113.7", privateKey: PRIVATE_KEY }, "args.target.ssh");
            } catch (e) {
                return e as Error;
            }
            return undefined;
        })();
        const late = await failureOf(planSshHost({ host: pulumi.output("ssh://203.0.113.7"), privateKey: PRIVATE_KEY }, "args.target.ssh").host);
        expect(late).toBeInstanceOf(ValidationError);
        expect((late as Error).message).toBe(plain!.message);
        expect((late as Error).message).toMatch(/^args\.target\.ssh\.host: "ssh:\/\/203\.0\.113\.7" is not a DNS name or IP address/);
    });

    test("an instance type known later that does not fit the platform names the user's field", async () => {
        const plan = planEc2Host("h", { instanceType: pulumi.output("t4g.small"), platform: "linux/amd64", publicKey: PUBLIC_KEY, privateKey: PRIVATE_KEY, sshCidrs: ["203.0.113.7/32"] }, "args.target.ec2");
        const error = await failureOf(plan.arch);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as Error).message).toMatch(/^args\.target\.ec2\.instanceType: "t4g\.small" is arm64/);
    });

    test("a port known later: the shared rule, once known", async () => {
        const error = await failureOf(checkLater(pulumi.output<unknown>("8080"), (p) => checkPort("args.app.port", p)));
        expect((error as Error).message).toBe('args.app.port: must be a whole number from 1 to 65535; got "8080". Write it as a number (8080), not a string. Give the TCP port as a number, e.g. 8080.');
    });

    test("the SDK's nesting never reaches the user: a ValidationError keeps its one message however often it is prefixed", () => {
        const error = new ValidationError("args.app.port", "must be a whole number from 1 to 65535; got 0.");
        for (let i = 0; i < 7; i++) error.message = `error serializing property "x": ${error.message}`;
        expect(error.message).toBe("args.app.port: must be a whole number from 1 to 65535; got 0.");
        // Branded as Pulumi's RunError: the CLI prints the message alone, without a stack trace.
        expect(pulumi.RunError.isInstance(error)).toBe(true);
    });
});
