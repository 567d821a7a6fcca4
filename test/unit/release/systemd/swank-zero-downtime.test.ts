import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../../src/errors";
import { WebApp, WebAppArgs } from "../../../../src/app/webApp";
import { planZeroDowntime, renderSlotUnits, servingUnits, ZeroDowntime } from "../../../../src/release/systemd/zeroDowntime";
import { parseActivationReport, planRelease, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";
import { RecordingMocks, unwrapSecrets, valueOf } from "../../../harness/mocks";
import { PRIVATE_KEY, PUBLIC_KEY } from "../../host/host.fixtures";

// Unit layer for issue 14 item 4: Swank together with zeroDowntime (each slot its own loopback Swank port,
// the tunnel output pointing at the live slot the activation reports) and `logsCommands` on every target.
// The Pulumi engine (and AWS's API, Heroku's) are stood in for by RecordingMocks: the activation's stdout
// is what a host would print, answered by the mocks; nothing runs. That a real host prints it and a real
// tunnel reaches the live slot: test/integration/swank-zero-downtime.test.ts.

const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };
let dir: string;
let exe: string;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "swank-zdt-unit-"));
    exe = path.join(dir, "hello");
    fs.writeFileSync(exe, "content to hash for the swank zero-downtime tests", { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const args = (patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs => ({
    connection,
    app: "hello",
    executable: { file: exe },
    port: 8080,
    serviceType: "notify",
    swankPort: 4005,
    zeroDowntime: { publicPort: 18080 },
    ...patch,
});

/** The field and text of every problem a plan reports (none: []). */
function problemsOf(plan: () => unknown): { field: string; problem: string }[] {
    try {
        plan();
        return [];
    } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        return e.problems.map((p) => ({ field: p.field, problem: p.problem }));
    }
}

describe("each slot's own Swank port", () => {
    test("blue on swankPort, green on swankPort + 1, in the plan and in each slot's unit (SWANK_PORT)", () => {
        const plan = planZeroDowntime("args.zeroDowntime", "hello", 8080, { publicPort: 18080 }, "args.port", { port: 4005, field: "args.swankPort" });
        expect(plan.swankPorts).toEqual({ blue: 4005, green: 4006 });
        const units = renderSlotUnits({ app: "hello", executable: "hello", type: "notify", environmentFile: false, port: 8080, environment: { GREETING: "hi", SWANK_PORT: "4005" } }, plan);
        expect(units.blue).toContain("Environment=SWANK_PORT=4005\n");
        expect(units.green).toContain("Environment=SWANK_PORT=4006\n");
        expect(units.green).not.toContain("SWANK_PORT=4005");
        // Only the slot, its port and its Swank port differ between the two units.
        const normalized = (u: string) => u.replace(/blue|green/g, "SLOT").replace(/808[01]/g, "PORT").replace(/400[56]/g, "SWANK");
        expect(normalized(units.green)).toBe(normalized(units.blue));
    });

    test("without swankPort the plan has no Swank ports and the units no SWANK_PORT", () => {
        const plan = planZeroDowntime("args.zeroDowntime", "hello", 8080, {});
        expect(plan.swankPorts).toBeUndefined();
        const units = renderSlotUnits({ app: "hello", executable: "hello", type: "notify", environmentFile: false, port: 8080, environment: {} }, plan);
        expect(units.blue + units.green).not.toContain("SWANK_PORT");
    });

    test("a SystemdRelease with zeroDowntime and swankPort is accepted and ships both slots' Swank ports to the host", async () => {
        const mocks = new RecordingMocks(async (a) => (a.name.endsWith("-activate") ? { stdout: "lisp-deploy-slot: blue\nlisp-deploy-serving: abc\nlisp-deploy-kept: abc\n" } : undefined));
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const r = new SystemdRelease("web", args());
        await valueOf(r.swankTunnel);
        await quiet();
        const create: string = unwrapSecrets(mocks.resources.find((x) => x.name === "web-activate")!.inputs).create;
        expect(create).toContain("# lisp-deploy activate-slot.sh");
        expect(create).toMatch(/UNIT_BLUE='[^']*Environment=SWANK_PORT=4005\n/);
        expect(create).toMatch(/UNIT_GREEN='[^']*Environment=SWANK_PORT=4006\n/);
        // The unit output (blue's) says where blue's Swank is.
        expect(await valueOf(r.unit)).toContain("Environment=SWANK_PORT=4005\n");
    });
});

describe("swankPort collisions with zeroDowntime are refused at preview, every one at once, under the field the user wrote", () => {
    // App on 8080 (slots 8080, 8081), the proxy's publicPort 18080, Caddy's admin API 2019 unless said.
    test.each([
        [
            "on the app's port: both slots' Swank on both slots' app ports",
            { swankPort: 8080 },
            [/blue slot's Swank \(swankPort\) would listen on 8080, which is the blue slot's app port \(args\.port\)/, /green slot's Swank \(swankPort \+ 1\) would listen on 8081, which is the green slot's app port \(args\.port \+ 1\)/],
        ],
        ["its pair reaching the blue slot's app port", { swankPort: 8079 }, [/green slot's Swank \(swankPort \+ 1\) would listen on 8080, which is the blue slot's app port/]],
        [
            "on the green slot's app port (its pair free)",
            { swankPort: 8081 },
            [/blue slot's Swank \(swankPort\) would listen on 8081, which is the green slot's app port \(args\.port \+ 1\)/],
        ],
        ["on the proxy's public port", { swankPort: 18080 }, [/blue slot's Swank .* 18080, which is the proxy's public port \(args\.zeroDowntime\.publicPort\)/]],
        ["its pair reaching the proxy's public port", { swankPort: 18079 }, [/green slot's Swank .* 18080, which is the proxy's public port/]],
        ["on Caddy's admin API", { swankPort: 2019 }, [/blue slot's Swank .* 2019, which is Caddy's admin API \(args\.zeroDowntime\.adminPort\)/]],
        ["its pair reaching Caddy's admin API", { swankPort: 2018 }, [/green slot's Swank .* 2019, which is Caddy's admin API/]],
        ["65535: the green slot's would be 65536", { swankPort: 65535 }, [/is 65535, but with zeroDowntime the green slot's Swank listens on swankPort \+ 1, past 65535/]],
        ["on HTTPS's 443 with a domain", { swankPort: 443, zeroDowntime: { domain: "blog.example.com" } }, [/blue slot's Swank .* 443, which is the proxy's port 443 \(with a domain\)/]],
    ] as [string, Partial<SystemdReleaseArgs>, RegExp[]][])("%s", (_label, patch, expected) => {
        const problems = problemsOf(() => planRelease(args(patch)));
        expect(problems.map((p) => p.field)).toEqual(expected.map(() => "args.swankPort"));
        expected.forEach((re, i) => expect(problems[i].problem).toMatch(re));
        // Each names the ports to keep clear of and a swankPort that is clear of them.
        for (const { problem } of problems) expect(problem).toMatch(/choose a swankPort such that neither it nor swankPort \+ 1 is one of [\d, ]+, e.g. \d+\.$/);
    });

    test("the suggested swankPort is itself free: with the app on 4005, not 4005", () => {
        const [problem] = problemsOf(() => planRelease(args({ port: 4006, swankPort: 4006 })));
        // Slots 4006 and 4007, proxy 18080, admin 2019: 4005's pair (4005, 4006) meets blue's app port.
        expect(problem.problem).toMatch(/one of 2019, 4006, 4007, 18080, e\.g\. 4008\.$/);
    });

    test("nginx has no admin API: 2019 is free for Swank there", () => {
        expect(problemsOf(() => planRelease(args({ swankPort: 2019, zeroDowntime: { proxy: "nginx", publicPort: 18080 } })))).toEqual([]);
    });

    test("a clear pair is accepted: swankPort next to the slots, below the proxy", () => {
        expect(problemsOf(() => planRelease(args({ swankPort: 8082 })))).toEqual([]);
        expect(problemsOf(() => planRelease(args({ swankPort: 65534 })))).toEqual([]);
    });

    test("a Swank collision is reported together with the other fields' problems, nothing registered", async () => {
        const mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const problems = problemsOf(() => new SystemdRelease("bad", args({ swankPort: 18080, keepReleases: 1, zeroDowntime: { publicPort: 18080, drainSeconds: -1 } })));
        expect(problems.map((p) => p.field).sort()).toEqual(["args.keepReleases", "args.swankPort", "args.zeroDowntime.drainSeconds"]);
        await quiet();
        expect(mocks.resources).toEqual([]);
    });

    test("an out-of-range swankPort is reported once, not again as a collision", () => {
        expect(problemsOf(() => planRelease(args({ swankPort: 0 })))).toEqual([{ field: "args.swankPort", problem: expect.stringMatching(/1-65535|1 to 65535|between/) }]);
    });
});

describe("the Swank tunnel points at the live slot the activation reports", () => {
    test("parseActivationReport reads the `lisp-deploy-slot:` line, and leaves it out when there is none", () => {
        expect(parseActivationReport("lisp-deploy-slot: green\nlisp-deploy-serving: abc\nlisp-deploy-kept: abc def\n")).toEqual({ serving: "abc", kept: ["abc", "def"], slot: "green" });
        expect(parseActivationReport("lisp-deploy-serving: abc\nlisp-deploy-kept: abc\n")).toEqual({ serving: "abc", kept: ["abc"] });
        // Only a slot the script knows: anything else is not a slot.
        expect(parseActivationReport("lisp-deploy-slot: red\n")).toEqual({ kept: [] });
    });

    test.each([
        ["blue", "ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@10.0.0.5"],
        ["green", "ssh -N -L 4005:127.0.0.1:4006 -p 22 admin@10.0.0.5"],
    ])("live slot %s: the tunnel keeps the user's swankPort locally and reaches that slot's Swank", async (slot, tunnel) => {
        const mocks = new RecordingMocks(async (a) => (a.name.endsWith("-activate") ? { stdout: `lisp-deploy-slot: ${slot}\nlisp-deploy-serving: abc\nlisp-deploy-kept: abc\n` } : undefined));
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const r = new SystemdRelease("web", args());
        expect(await valueOf(r.swankTunnel)).toBe(tunnel);
        await quiet();
    });

    test("an activation that reports no slot gives no tunnel rather than a guess", async () => {
        const mocks = new RecordingMocks(async (a) => (a.name.endsWith("-activate") ? { stdout: "lisp-deploy-serving: abc\n" } : undefined));
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
        const r = new SystemdRelease("web", args());
        expect(await valueOf(r.swankTunnel)).toBeUndefined();
        await quiet();
    });

    test("in a preview the zero-downtime tunnel is unknown (the live slot is known only after the activation); plain mode's is known", async () => {
        await pulumi.runtime.setMocks(new RecordingMocks(), "lisp-deploy", "unit", true);
        const zdt = new SystemdRelease("web", args());
        const plain = new SystemdRelease("plain", args({ app: "plain", zeroDowntime: undefined }));
        const known = (o: pulumi.Output<unknown>) => (o as any).isKnown as Promise<boolean>;
        expect(await known(zdt.swankTunnel)).toBe(false);
        expect(await known(plain.swankTunnel)).toBe(true);
        expect(await valueOf(plain.swankTunnel)).toBe("ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@10.0.0.5");
        await quiet();
    });

    test("activate-slot.sh reports the slot before each report of the serving release (both ways it succeeds)", () => {
        const script = fs.readFileSync(path.join(__dirname, "../../../../src/release/systemd/scripts/activate-slot.sh"), "utf8");
        const reports = script.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("report_releases "));
        expect(reports).toHaveLength(2);
        expect(script).toContain('report_slot "${active}"\n  report_releases');
        expect(script).toContain('report_slot "${idle}"\nreport_releases');
    });
});

describe("logsCommands on every target", () => {
    const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
    /** Stands in for the engine, AWS and Heroku: instances get 198.51.100.1<i>, Heroku a web URL. */
    const standIn = () =>
        new RecordingMocks(
            async (a) => {
                const inputs = unwrapSecrets(a.inputs);
                switch (a.type) {
                    case "docker:index/image:Image":
                        return { repoDigest: `sha256:${sha(inputs.imageName)}` };
                    case "aws:ec2/instance:Instance": {
                        const i = /-host(\d+)-instance$/.exec(a.name);
                        return { publicIp: `198.51.100.${10 + (i ? Number(i[1]) : 0)}` };
                    }
                    case "aws:lb/loadBalancer:LoadBalancer":
                        return { dnsName: "hello-123.eu-west-1.elb.amazonaws.com", arn: "arn:lb" };
                    case "aws:lb/targetGroup:TargetGroup":
                        return { arn: "arn:tg" };
                    case "command:local:Command":
                        return { stdout: a.name.endsWith("-extract") ? sha(inputs.create).slice(0, 12) : "ok" };
                    case "command:remote:Command":
                        return { stdout: "lisp-deploy-slot: green\nlisp-deploy-serving: abc\nlisp-deploy-kept: abc\n" };
                    case "pulumi-nodejs:dynamic:HerokuRelease":
                        return { webUrl: `https://${inputs.app}.herokuapp.com/` };
                    default:
                        return undefined;
                }
            },
            (a) => {
                switch (a.token) {
                    case "aws:ec2/getAmi:getAmi":
                        return { id: "ami-debian12-amd64" };
                    case "aws:ec2/getVpc:getVpc":
                        return { id: "vpc-default0" };
                    case "aws:ec2/getSubnets:getSubnets":
                        return { ids: ["subnet-a", "subnet-b"], filters: a.inputs.filters };
                    case "aws:ec2/getSubnet:getSubnet":
                        return { id: a.inputs.id, vpcId: "vpc-default0" };
                    default:
                        throw new Error(`unexpected invoke ${a.token}`);
                }
            },
        );
    async function run(target: WebAppArgs["target"]) {
        await pulumi.runtime.setMocks(standIn(), "lisp-deploy", "unit", false);
        const app = new WebApp("hello", { app: { path: "examples/hello", dependencySource: { kind: "debian" }, healthPath: "/healthz" }, target });
        const out = { logsCommand: await valueOf(app.logsCommand), logsCommands: await valueOf(app.logsCommands), swankTunnels: await valueOf(app.swankTunnels) };
        await quiet();
        return out;
    }
    const ec2 = (patch: Record<string, unknown> = {}) => ({
        kind: "ec2" as const,
        ec2: { instanceType: "t3.small", publicKey: PUBLIC_KEY, privateKey: pulumi.secret(PRIVATE_KEY), sshCidrs: ["203.0.113.7/32"], ...patch },
    });
    const zeroDowntime: ZeroDowntime = { publicPort: 18080 };

    test("servingUnits: the app's unit, or both slots' in zero-downtime mode", () => {
        expect(servingUnits("hello", "hello", false)).toEqual(["hello.service"]);
        expect(servingUnits("hello", "hello", true)).toEqual(["hello-blue.service", "hello-green.service"]);
    });

    test("ec2 with hosts: 3: one journalctl command per host, in host order; logsCommand is the first", async () => {
        const out = await run(ec2({ hosts: 3 }));
        expect(out.logsCommands).toEqual([10, 11, 12].map((i) => `ssh -p 22 admin@198.51.100.${i} journalctl -fu hello.service`));
        expect(out.logsCommand).toBe(out.logsCommands[0]);
    });

    test("ec2 with hosts: 2, zeroDowntime and swankPort: each host's command follows both slots; each tunnel reaches its host's live slot", async () => {
        const out = await run(ec2({ hosts: 2, zeroDowntime, swankPort: 4005 }));
        expect(out.logsCommands).toEqual([10, 11].map((i) => `ssh -p 22 admin@198.51.100.${i} journalctl -fu hello-blue.service -u hello-green.service`));
        // The stand-in hosts both report green live.
        expect(out.swankTunnels).toEqual([10, 11].map((i) => `ssh -N -L 4005:127.0.0.1:4006 -p 22 admin@198.51.100.${i}`));
    });

    test("ec2, one host: a one-element list", async () => {
        const out = await run(ec2());
        expect(out.logsCommands).toEqual(["ssh -p 22 admin@198.51.100.10 journalctl -fu hello.service"]);
    });

    test("ssh with zeroDowntime: one element, following both slots", async () => {
        const out = await run({ kind: "ssh", ssh: { host: "203.0.113.7", privateKey: pulumi.secret(PRIVATE_KEY), zeroDowntime } });
        expect(out.logsCommands).toEqual(["ssh -p 22 root@203.0.113.7 journalctl -fu hello-blue.service -u hello-green.service"]);
        expect(out.logsCommand).toBe(out.logsCommands[0]);
    });

    test("local: docker logs, one element", async () => {
        const out = await run({ kind: "local", local: { containerName: "swank-zdt-unit" } });
        expect(out.logsCommands).toEqual(["docker logs -f swank-zdt-unit"]);
    });

    test("heroku: heroku logs, one element", async () => {
        const out = await run({ kind: "heroku", heroku: { app: "lisp-hello", apiKey: pulumi.secret("k") } });
        expect(out.logsCommands).toEqual(["heroku logs --tail --app lisp-hello"]);
    });
});
