import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { startLoad } from "../../support/load";
import { StandInFleet } from "./examples-fleet-helpers";
import { copyExample, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/ec2-systemd with `hosts: 2` AND `zeroDowntime` under the REAL Pulumi CLI, AWS's API stood in for
// by the `pulumi-resource-aws` stand-in plugin (as in examples-ec2-fleet-engine.test.ts: each instance a
// systemd + sshd + cloud-init container in a network namespace of its own, the balancer a real proxy that
// health-checks its targets and forwards to the healthy ones, never retrying). Each host runs two slots
// behind Caddy on publicPort, which the balancer targets; a release starts the new slot, switches Caddy to
// it, drains the old one. The claim under test (RollingRelease's doc): a rolling release then drops no
// request through the balancer, with new connections and with kept-alive ones.
// Ports: balancer 18890; inside each instance's own namespace the slots 18891–18892, Caddy 18893, sshd 2288.

jest.setTimeout(30 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "fleetzdt";
const LB_PORT = 18890;
const APP_PORT = 18891;
const PUBLIC_PORT = 18893;
const SSH_PORT = 2288;
const PREFIX = `lisp-deploy-fleetzdt-${id}`;
const URL = `http://127.0.0.1:${LB_PORT}/`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello from two hosts switching slots behind a balancer.";
const SECOND = `${SECOND_GREETING} (hello 1.0.0)\n`;

let scratch = "";
let appDir = "";
let account = "";
let fleet: StandInFleet;
let ws: PulumiWorkspace;

/** Which slot (blue or green) Caddy sends each host's requests to, by instance address. */
const activeSlots = () => Object.fromEntries(fleet.instances().map((i) => [i.address, execFileSync("docker", ["exec", i.container, "cat", "/opt/hello/active-slot"], { encoding: "utf8" }).trim()]));

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    requireCommand("nsenter", "util-linux");
    requireCommand("ip", "iproute2");
    requireCommand("iptables", "iptables");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("examples-ec2-fleet-zdt-engine");
    account = path.join(scratch, "aws-account");
    fleet = new StandInFleet(PREFIX, account, SSH_PORT, LB_PORT);
    const example = copyExample(scratch, "ec2-systemd");
    appDir = example.appDir;
    const keyFile = path.join(scratch, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "examples-ec2-fleet-zdt-engine", "-f", keyFile]);
    ws = new PulumiWorkspace(example.projectDir, scratch, fleet.env());
    await ws.initStack(STACK, {
        "aws:region": "eu-west-1",
        hosts: "2",
        zeroDowntimePublicPort: String(PUBLIC_PORT),
        sshPublicKey: fs.readFileSync(`${keyFile}.pub`, "utf8").trim(),
        sshCidrs: JSON.stringify(["10.241.0.0/16"]),
        sshPort: String(SSH_PORT),
        port: String(APP_PORT),
        dependencySource: "debian",
        buildNetwork: "host",
    });
    await ws.setSecret(STACK, "sshPrivateKey", fs.readFileSync(keyFile, "utf8"));
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    for (const c of fleet?.instances() ?? []) spawnSync("docker", ["rm", "-f", c.container]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/ec2-systemd with hosts: 2 and zeroDowntime under the real engine: a rolling release behind the balancer drops no request, new or kept-alive connections", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    expect((await ws.outputs(STACK)).url).toBe(URL);
    expect(fleet.instances()).toHaveLength(2);
    await fleet.waitFor("both targets healthy", () => Object.values(fleet.targetHealth()).filter((s) => s === "healthy").length === 2);
    expect(httpGet(URL)).toEqual({ status: "200", body: FIRST });
    // The balancer checks and forwards to each host's Caddy, not to a slot.
    const health = JSON.parse(fs.readFileSync(path.join(account, "load-balancers", fs.readdirSync(path.join(account, "load-balancers")).find((f) => f.endsWith(".health.json"))!), "utf8"));
    expect(health.targets.map((t: { port: number }) => t.port)).toEqual([PUBLIC_PORT, PUBLIC_PORT]);
    const slotsBefore = activeSlots();

    // An app source change: each host in turn starts the new slot, switches Caddy to it, drains the old one.
    setGreeting(appDir, SECOND_GREETING);
    const fresh = startLoad(URL, { connections: "new", maxRequests: 100_000, hardLimitMs: 15 * 60 * 1000 });
    const kept = startLoad(URL, { connections: "keep-alive", maxRequests: 100_000, hardLimitMs: 15 * 60 * 1000 });
    const up = await ws.up(STACK);
    const [onFresh, onKept] = await Promise.all([fresh.stop(), kept.stop()]);
    if (up.code !== 0) throw new Error(up.out.slice(-8000));
    process.stdout.write(
        `rolling zero-downtime release through the balancer: new connections ${onFresh.failures.length} failed of ${onFresh.total}; ` +
            `kept-alive ${onKept.failures.length} failed of ${onKept.total} (${onKept.retried} resent after an idle close)\n`,
    );
    expect(onFresh.total).toBeGreaterThan(100);
    expect(onKept.total).toBeGreaterThan(100);
    expect({ newConnections: onFresh.failures, keptAlive: onKept.failures }).toEqual({ newConnections: [], keptAlive: [] });
    // Both texts were served during the release, the new one at its end.
    expect(onFresh.bodies).toEqual([FIRST, SECOND]);
    expect(onKept.bodies).toEqual([FIRST, SECOND]);
    expect(httpGet(URL)).toEqual({ status: "200", body: SECOND });
    // Each host switched slots (no restart in place): blue <-> green on both.
    const flip = (slot: string) => (slot === "blue" ? "green" : "blue");
    expect(activeSlots()).toEqual(Object.fromEntries(Object.entries(slotsBefore).map(([a, slot]) => [a, flip(slot)])));

    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect(fleet.instances()).toEqual([]);
    expect(fleet.balancerProcesses()).toBe("");
    expect(httpGet(URL).status).toBe("000");
});
