import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";
import { swankEval } from "../../support/swank";
import { SystemdHost, sshOptions } from "../../support/systemd-host";
import { setGreeting } from "./examples-engine-helpers";

// Swank together with zeroDowntime, and logsCommands, under the REAL Pulumi CLI: a WebApp ssh target (the
// image built by the real Docker engine, released over real SSH into a real systemd host container, two
// slots behind Debian's Caddy on the host) with swankPort. After each release the test runs the tunnel
// command the stack outputs and evaluates Lisp through it (which process answers, which Swank port, which
// build), and follows the logs command the stack outputs while that process writes a line to its journal. Only the docker and command plugins are stood in for, and they act for
// real (support/providers).
// Ports: sshd 2305; slots 19090/19091, Caddy 19092, its admin API 19093, the slots' Swank 19094/19095, the
// tunnel's local end 19096. The host container shares this machine's network namespace, where the blue
// slot's Swank already holds 19094 itself: the tunnel's local port is moved to 19096, its forward (the
// part the release computes) is run as printed.

jest.setTimeout(40 * 60 * 1000);

const STACK = "swank-zdt";
const APP = "swank-zdt";
const SSH_PORT = 2305;
const SLOT_PORT = 19090;
const PUBLIC_PORT = 19092;
const ADMIN_PORT = 19093;
const SWANK_PORT = 19094;
const TUNNEL_PORT = 19096;

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { WebApp } = require("lisp-deploy");
const config = new pulumi.Config();
const app = new WebApp("${APP}", {
    app: { path: "../hello", dependencySource: { kind: "debian" }, buildNetwork: "host", port: ${SLOT_PORT}, healthPath: "/healthz" },
    target: {
        kind: "ssh",
        ssh: {
            host: "127.0.0.1",
            port: config.requireNumber("sshPort"),
            privateKey: config.requireSecret("sshPrivateKey"),
            swankPort: ${SWANK_PORT},
            zeroDowntime: { publicPort: ${PUBLIC_PORT}, adminPort: ${ADMIN_PORT}, listenAddress: "127.0.0.1" },
        },
    },
});
exports.url = app.url;
exports.swankTunnel = app.swankTunnel;
exports.swankTunnels = app.swankTunnels;
exports.logsCommand = app.logsCommand;
exports.logsCommands = app.logsCommands;
`;

let host: SystemdHost;
let scratch = "";
let appDir = "";
let ws: PulumiWorkspace;

/** The test's key and no-prompt options, put in front of a command the stack printed (which names host, port and user). */
const keyOptions = () => ["-i", host.keyFile, ...sshOptions(host.keyFile, SSH_PORT).slice(4)];
const activeSlot = async () => (await host.exec("cat", `/opt/${APP}/active-slot`)).stdout.trim();
const mainPid = async (slot: string) => (await host.exec("systemctl", "show", "-p", "MainPID", "--value", `${APP}-${slot}.service`)).stdout.trim();

async function upOk(): Promise<Record<string, any>> {
    await ws.ok(["up", "--yes", "--skip-preview", "--stack", STACK]);
    return ws.outputs(STACK);
}

/** What a form evaluates to in the Swank reached through `tunnel` (an `ssh -N -L ...` command the stack printed, its local port moved to TUNNEL_PORT). */
async function evalThroughTunnel(tunnel: string, forms: string[]): Promise<string[]> {
    const words = tunnel.split(" ");
    expect(words.slice(0, 3)).toEqual(["ssh", "-N", "-L"]);
    const forward = words[3].split(":");
    expect(forward[0]).toBe(String(SWANK_PORT));
    const moved = [...words.slice(1, 3), [String(TUNNEL_PORT), ...forward.slice(1)].join(":"), ...words.slice(4)];
    const child = spawn("ssh", [...keyOptions(), "-o", "ExitOnForwardFailure=yes", ...moved], { stdio: "ignore" });
    try {
        await host.waitFor(async () => (await swankEval(TUNNEL_PORT, "(+ 1 2)", 2000)).includes('(:ok "=> 3'), "Swank through the SSH tunnel", 60);
        const answers: string[] = [];
        for (const form of forms) {
            const reply = await swankEval(TUNNEL_PORT, form);
            const m = /^\(:return \(:ok "=> (.*)"\) \d+\)$/s.exec(reply);
            if (!m) throw new Error(`Swank did not evaluate ${form}: ${reply}`);
            answers.push(m[1].replace(/\\"/g, '"'));
        }
        return answers;
    } finally {
        await stop(child);
    }
}

/**
 * Starts a logs command the stack printed (with the test's key) and collects what it prints; `waitFor`
 * waits for a text in it. journalctl -f first shows the last lines, then follows.
 */
function followLogs(command: string) {
    const words = command.split(" ");
    expect(words[0]).toBe("ssh");
    const child = spawn("ssh", [...keyOptions(), ...words.slice(1)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    return {
        output: () => out,
        waitFor: (text: string) => host.waitFor(async () => out.includes(text), `"${text}" in the output of ${command}`, 30),
        stop: () => stop(child),
    };
}

/** The integer of an interactive-eval answer, which follows it with its other radixes: "398 (9 bits, #x18E, ...)". */
const integerOf = (answer: string) => /^-?\d+/.exec(answer)?.[0] ?? `not an integer: ${answer}`;

/** A Lisp form that writes `text` to the process's own stdout (the journal), not to Swank's output stream. */
const journalLine = (text: string) => `(progn (format sb-sys:*stdout* "~A~%" ${JSON.stringify(text)}) (finish-output sb-sys:*stdout*) t)`;

function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill();
    });
}

beforeAll(async () => {
    requireDocker();
    for (const [cmd, pkg] of [["ssh", "openssh-client"], ["ssh-keygen", "openssh-client"]]) requireCommand(cmd, pkg);
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    scratch = scratchDir("swank-zero-downtime");
    appDir = path.join(scratch, "examples", "hello");
    fs.cpSync(path.join(REPO_ROOT, "examples", "hello"), appDir, { recursive: true });
    const project = path.join(scratch, "examples", "program");
    writeProgram(project, "swank-zdt", PROGRAM);
    host = await SystemdHost.start("swank-zdt-host", SSH_PORT);
    ws = new PulumiWorkspace(project, scratch);
    await ws.initStack(STACK, { sshPort: String(SSH_PORT) });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
}, 15 * 60 * 1000);

afterAll(async () => {
    if (ws && host) await ws.destroy(STACK);
    await host?.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("WebApp ssh target with swankPort and zeroDowntime under the real Pulumi CLI, on a real systemd host over real SSH", () => {
    test("swankPort with zeroDowntime: release 1 serves from the blue slot; the swankTunnel output reaches the blue slot's Swank (its own process); logsCommands follows both slots and shows the blue slot's journal", async () => {
        const out = await upOk();
        expect(await activeSlot()).toBe("blue");
        const tunnel = `ssh -N -L ${SWANK_PORT}:127.0.0.1:${SWANK_PORT} -p ${SSH_PORT} root@127.0.0.1`;
        expect(out.swankTunnel).toBe(tunnel);
        expect(out.swankTunnels).toEqual([tunnel]);
        // The blue slot's unit carries swankPort (green's, swankPort + 1, is written by the release that uses it).
        expect((await host.exec("cat", `/etc/systemd/system/${APP}-blue.service`)).stdout).toContain(`Environment=SWANK_PORT=${SWANK_PORT}\n`);

        const logs = `ssh -p ${SSH_PORT} root@127.0.0.1 journalctl -fu ${APP}-blue.service -u ${APP}-green.service`;
        expect(out.logsCommands).toEqual([logs]);
        expect(out.logsCommand).toBe(logs);

        // The process answering through the tunnel is the blue slot's; a line it writes to its own stdout
        // reaches the printed logs command, tagged with that process's id.
        const follow = followLogs(logs);
        try {
            const marker = "swank-zdt: written through the tunnel to release 1";
            const [pidText, swankPort] = await evalThroughTunnel(out.swankTunnel, ["(sb-posix:getpid)", '(uiop:getenv "SWANK_PORT")', journalLine(marker)]);
            const pid = integerOf(pidText);
            expect(pid).toBe(await mainPid("blue"));
            expect(swankPort).toBe(`"${SWANK_PORT}"`);
            await follow.waitFor(marker);
            expect(follow.output()).toMatch(new RegExp(`\\[${pid}\\]: ${marker}`));
        } finally {
            await follow.stop();
        }
    });

    test("swankPort with zeroDowntime: release 2 switches to the green slot; the new swankTunnel output reaches the green slot's Swank running the new build; logsCommands shows the green slot's journal", async () => {
        setGreeting(appDir, "Hello from the green slot.");
        const out = await upOk();
        expect(await activeSlot()).toBe("green");
        expect((await host.exec("systemctl", "is-active", `${APP}-blue.service`)).stdout.trim()).not.toBe("active");
        const tunnel = `ssh -N -L ${SWANK_PORT}:127.0.0.1:${SWANK_PORT + 1} -p ${SSH_PORT} root@127.0.0.1`;
        expect(out.swankTunnel).toBe(tunnel);
        expect(out.swankTunnels).toEqual([tunnel]);
        expect((await host.exec("cat", `/etc/systemd/system/${APP}-green.service`)).stdout).toContain(`Environment=SWANK_PORT=${SWANK_PORT + 1}\n`);

        // The same logs command as before: it follows both slots, so the new live one's lines are there.
        expect(out.logsCommands).toEqual([`ssh -p ${SSH_PORT} root@127.0.0.1 journalctl -fu ${APP}-blue.service -u ${APP}-green.service`]);
        const follow = followLogs(out.logsCommands[0]);
        try {
            const marker = "swank-zdt: written through the tunnel to release 2";
            const [pidText, swankPort, greeting] = await evalThroughTunnel(out.swankTunnel, [
                "(sb-posix:getpid)",
                '(uiop:getenv "SWANK_PORT")',
                '(symbol-value (find-symbol "+GREETING+" "HELLO"))',
                journalLine(marker),
            ]);
            const pid = integerOf(pidText);
            expect(pid).toBe(await mainPid("green"));
            expect(swankPort).toBe(`"${SWANK_PORT + 1}"`);
            expect(greeting).toBe('"Hello from the green slot."');
            await follow.waitFor(marker);
            expect(follow.output()).toMatch(new RegExp(`\\[${pid}\\]: ${marker}`));
        } finally {
            await follow.stop();
        }
    });
});
