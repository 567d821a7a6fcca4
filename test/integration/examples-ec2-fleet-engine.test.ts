import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { breakAppStart, changedResources, copyExample, httpGet, setGreeting } from "./examples-engine-helpers";
import { StandInFleet } from "./examples-fleet-helpers";

// examples/ec2-systemd with `hosts: 2`, unmodified, under the REAL Pulumi CLI, with AWS's API stood in for
// by the `pulumi-resource-aws` stand-in plugin (support/providers/aws-standin): each EC2 instance is a real
// machine, a systemd + sshd + cloud-init container in a network namespace of its own (its own address on a
// veth link, 10.241.<n>.2, reachable from this machine only), and the Application Load Balancer is a real
// proxy process on 127.0.0.1:18880 that health-checks the registered targets as an ALB target group does
// and forwards to the healthy ones. Everything else is real: the Docker build, cloud-init, the releases
// over OpenSSH, the units under systemd, the health checks and the rollback.
// Ports: balancer 18880; the app 18881 and sshd 2285 inside each instance's own namespace.

jest.setTimeout(60 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "fleet";
const LB_PORT = 18880;
const APP_PORT = 18881;
const SSH_PORT = 2285;
const PREFIX = `lisp-deploy-fleet-e2e-${id}`;
const URL = `http://127.0.0.1:${LB_PORT}/`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello from a fleet of two stood-in EC2 instances.";
const SECOND = `${SECOND_GREETING} (hello 1.0.0)\n`;
/** An app source change touches the image and each host's release, nothing of the hosts or the balancer. */
const RELEASE_ONLY = [
    "update docker:index/image:Image hello-image-image",
    ...["host0", "host1"].flatMap((h) => [
        `update command:local:Command hello-release-${h}-extract`,
        `update command:remote:Command hello-release-${h}-activate`,
        `update command:remote:Command hello-release-${h}-prepare`,
        `update command:remote:CopyToRemote hello-release-${h}-upload`,
    ]),
].sort();

let scratch = "";
let appDir = "";
let account = "";
let fleet: StandInFleet;
let ws: PulumiWorkspace;

/** The instance container at an address (the stack's sshCommands say which address is host<i>). */
async function hostContainers(): Promise<string[]> {
    const outputs = await ws.outputs(STACK);
    return (outputs.sshCommands as string[]).map((cmd) => {
        const address = /@([\d.]+)$/.exec(cmd)![1];
        const found = fleet.instances().find((i) => i.address === address);
        if (!found) throw new Error(`no instance container at ${address}`);
        return found.container;
    });
}

const pidOf = (container: string) => execFileSync("docker", ["inspect", "--format", "{{.State.Pid}}", container], { encoding: "utf8" }).trim();
const inHost = (container: string, ...args: string[]) => execFileSync("docker", ["exec", container, ...args], { encoding: "utf8" }).trim();

/** When hello.service last became active, on the kernel's monotonic clock (one kernel for all the containers). */
const activeSince = (container: string) => Number(inHost(container, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "hello.service"));
const currentRelease = (container: string) => inHost(container, "readlink", "/opt/hello/current");

/** GETs the balancer every 100 ms until stopped; returns every answer's status and body. */
function pollBalancer(): { stop: () => Promise<{ status: number; body: string }[]> } {
    const seen: { status: number; body: string }[] = [];
    let running = true;
    const loop = (async () => {
        while (running) {
            seen.push(
                await new Promise<{ status: number; body: string }>((resolve) => {
                    const req = http.get(URL, { agent: false, timeout: 5000 }, (res) => {
                        let body = "";
                        res.setEncoding("utf8").on("data", (d) => (body += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
                    });
                    req.on("timeout", () => req.destroy(new Error("timeout")));
                    req.on("error", () => resolve({ status: 0, body: "" }));
                }),
            );
            await new Promise((r) => setTimeout(r, 100));
        }
    })();
    return {
        stop: async () => {
            running = false;
            await loop;
            return seen;
        },
    };
}

/**
 * The steps `pulumi up` reported, in the order it reported them: each line naming a resource and what
 * the engine is doing to it or did ("hello-release-host0-activate updating (0s)", "... updated (3s)").
 */
function steps(out: string): { name: string; status: string }[] {
    return out.split("\n").flatMap((line) => {
        const m = /\s([A-Za-z0-9-]+) (creating|created|updating|updated|replacing|replaced|deleting|deleted|failed)\b/.exec(line);
        return m ? [{ name: m[1], status: m[2] }] : [];
    });
}

/** The machine's ends of the instances' links (named awsi-<last 10 hex digits of the instance id>). */
const links = (containers: string[]) => execFileSync("ip", ["-o", "link"], { encoding: "utf8" }).split("\n").filter((l) => containers.some((c) => l.includes(` awsi-${c.slice(-10)}`)));
const natRules = (addresses: string[]) => execFileSync("iptables", ["-t", "nat", "-S", "POSTROUTING"], { encoding: "utf8" }).split("\n").filter((l) => addresses.some((a) => l.includes(`${a}/32`)));

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    requireCommand("nsenter", "util-linux");
    requireCommand("ip", "iproute2");
    requireCommand("iptables", "iptables");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("examples-ec2-fleet-engine");
    account = path.join(scratch, "aws-account");
    fleet = new StandInFleet(PREFIX, account, SSH_PORT, LB_PORT);
    const example = copyExample(scratch, "ec2-systemd");
    appDir = example.appDir;
    const keyFile = path.join(scratch, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "examples-ec2-fleet-engine", "-f", keyFile]);
    ws = new PulumiWorkspace(example.projectDir, scratch, fleet.env());
    await ws.initStack(STACK, {
        "aws:region": "eu-west-1",
        hosts: "2",
        sshPublicKey: fs.readFileSync(`${keyFile}.pub`, "utf8").trim(),
        // SSH arrives from this machine's end of each instance's link.
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

test("examples/ec2-systemd with hosts: 2 under the real engine, AWS API stood in for: two machines behind a balancer that serves the app", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    const all = fleet.instances();
    expect(all).toHaveLength(2);
    const addresses = all.map((i) => i.address).sort();
    expect(addresses[0]).not.toBe(addresses[1]);
    expect([...outputs.sshCommands].sort()).toEqual(addresses.map((a) => `ssh -p ${SSH_PORT} admin@${a}`));
    // Two machines: each container has a network namespace of its own, holding only its link and
    // loopback, where only sshd and the app listen.
    for (const { container, address } of all) {
        expect(execFileSync("docker", ["inspect", "--format", "{{.HostConfig.NetworkMode}}", container], { encoding: "utf8" }).trim()).toBe("none");
        const inNamespace = (command: string) => execFileSync("nsenter", ["-t", pidOf(container), "-n", "sh", "-c", command], { encoding: "utf8" }).trim();
        expect(inNamespace("ip -4 -o addr | awk '{print $4}' | sort")).toBe([`${address}/30`, "127.0.0.1/8"].sort().join("\n"));
        const listening = inNamespace("ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -un").split("\n").map(Number);
        expect(listening).toEqual([SSH_PORT, APP_PORT].sort((a, b) => a - b));
    }
    // The balancer: both targets pass its health checks (2 checks 10 s apart), then it serves the app.
    await fleet.waitFor("both targets healthy", () => Object.values(fleet.targetHealth()).filter((s) => s === "healthy").length === 2);
    expect(Object.keys(fleet.targetHealth()).sort()).toEqual(addresses);
    expect(httpGet(URL)).toEqual({ status: "200", body: FIRST });

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);
});

test("the balancer drains a host whose health check fails and takes it back when it passes, serving throughout", async () => {
    const [host0] = await hostContainers();
    const address0 = fleet.instances().find((i) => i.container === host0)!.address;
    const poll = pollBalancer();
    inHost(host0, "systemctl", "stop", "hello.service");
    await fleet.waitFor("host 0 drained", () => fleet.targetHealth()[address0] === "unhealthy");
    const whileDrained = pollBalancer();
    await new Promise((r) => setTimeout(r, 3000));
    // Drained: every request goes to host 1.
    expect((await whileDrained.stop()).every((a) => a.status === 200 && a.body === FIRST)).toBe(true);
    inHost(host0, "systemctl", "start", "hello.service");
    await fleet.waitFor("host 0 back in rotation", () => fleet.targetHealth()[address0] === "healthy");
    const seen = await poll.stop();
    expect(seen.length).toBeGreaterThan(20);
    // An ALB does not retry: requests it sent to host 0 before two failed checks took it out answer 502.
    // Nothing else: never a 503 (no target), never a refused connection.
    expect(seen.filter((a) => a.status !== 200 && a.status !== 502)).toEqual([]);
    expect(seen.filter((a) => a.status === 200).every((a) => a.body === FIRST)).toBe(true);
});

test("an app source change previews as image and releases only; up releases host 0 strictly before host 1 while the balancer keeps serving", async () => {
    const before = fleet.instances();
    const [host0, host1] = await hostContainers();
    setGreeting(appDir, SECOND_GREETING);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    expect(changedResources(preview)).toEqual(RELEASE_ONLY);
    expect(preview).not.toMatch(/aws:(ec2|lb|vpc)/);
    expect(preview).not.toMatch(/hello-host\d-/);

    const poll = pollBalancer();
    const up = await ws.up(STACK);
    const seen = await poll.stop();
    if (up.code !== 0) throw new Error(up.out.slice(-8000));

    // The engine's order: every step of host 0's release had finished before the first of host 1's began.
    const reported = steps(up.out);
    const lastOfHost0 = reported.map((s, i) => (s.name.startsWith("hello-release-host0-") ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    const firstOfHost1 = reported.findIndex((s) => s.name.startsWith("hello-release-host1-"));
    // (A step is reported again with each line of output it streams, so "updating" may repeat.)
    expect([...new Set(reported.filter((s) => s.name === "hello-release-host0-activate").map((s) => s.status))]).toEqual(["updating", "updated"]);
    expect(lastOfHost0).toBeGreaterThanOrEqual(0);
    expect(firstOfHost1).toBeGreaterThan(lastOfHost0);
    // The machines agree: host 1's new process started after host 0's.
    expect(activeSince(host1)).toBeGreaterThan(activeSince(host0));

    // The balancer served throughout: every answer came from a target (old or new text), none was a 503 or
    // a refused connection; 502s only for requests that reached a host in its restart (an ALB does not retry).
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((a) => a.status !== 200 && a.status !== 502)).toEqual([]);
    expect(new Set(seen.filter((a) => a.status === 200).map((a) => a.body))).toEqual(new Set([FIRST, SECOND]));
    process.stdout.write(`rolling release: ${seen.length} requests to the balancer, ${seen.filter((a) => a.status === 502).length} answered 502\n`);
    expect(httpGet(URL)).toEqual({ status: "200", body: SECOND });
    expect(fleet.instances()).toEqual(before);
});

test("a release failing its health check on host 0 stops the rollout: host 1 untouched and serving, the update fails with the journal's lines", async () => {
    const [host0, host1] = await hostContainers();
    const since1 = activeSince(host1);
    const current0 = currentRelease(host0);
    const current1 = currentRelease(host1);
    breakAppStart(appDir);
    const update = await ws.up(STACK);
    expect(update.code).not.toBe(0);
    expect(update.out).toContain("hello-release-host0-activate");
    expect(update.out).toContain("failed its health check; rolling back");
    expect(update.out).toContain("journal lines of hello.service:");
    expect(update.out).toContain("hello: refusing to start (test)");
    // Host 1 was never touched: same release, same process, nothing uploaded.
    expect(update.out).not.toMatch(/hello-release-host1-(prepare|upload|activate)/);
    expect(currentRelease(host1)).toBe(current1);
    expect(activeSince(host1)).toBe(since1);
    // Host 0 rolled back to the release it had.
    expect(currentRelease(host0)).toBe(current0);
    expect(httpGet(URL)).toEqual({ status: "200", body: SECOND });
});

test("destroy leaves nothing: no instance, no balancer process, no link or NAT rule, nothing answering", async () => {
    const addresses = fleet.instances().map((i) => i.address);
    const containers = fleet.instances().map((i) => i.container);
    expect(links(containers)).toHaveLength(2);
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect(fleet.instances()).toEqual([]);
    expect(fleet.balancerProcesses()).toBe("");
    expect(links(containers)).toEqual([]);
    expect(natRules(addresses)).toEqual([]);
    expect(httpGet(URL).status).toBe("000");
    for (const kind of ["key-pairs", "load-balancers", "listeners", "target-groups", "target-group-attachments"]) {
        const dir = path.join(account, kind);
        const left = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !f.endsWith(".log")) : [];
        expect({ kind, left }).toEqual({ kind, left: [] });
    }
});
