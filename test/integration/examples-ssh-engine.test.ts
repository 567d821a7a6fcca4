import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { PulumiWorkspace, REPO_ROOT, scratchDir } from "../../support/pulumi-cli";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { breakAppStart, changedResources, copyExample, expectRolledBack, httpGet, setGreeting } from "./examples-engine-helpers";

// examples/ssh-host, unmodified, under the REAL Pulumi CLI against a server that already exists: a systemd +
// sshd host container (support/systemd-host.ts), root's key from this test, sshd on 127.0.0.1:2281.
// Nothing is stood in for but the docker and command plugins, which act for real (support/providers): the
// image is built by the Docker engine, the release runs over OpenSSH, the unit under the host's systemd.
// Ports: app 18860, sshd 2281.

jest.setTimeout(60 * 60 * 1000);

const id = crypto.randomBytes(3).toString("hex");
const STACK = "e2e";
const APP_PORT = 18860;
const SSH_PORT = 2281;
const URL = `http://127.0.0.1:${APP_PORT}/`;
const FIRST = "Hello from Common Lisp, deployed by lisp-deploy. (hello 1.0.0)\n";
const SECOND_GREETING = "Hello again, from an existing server.";

let scratch = "";
let appDir = "";
let host: SystemdHost;
let ws: PulumiWorkspace;

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "pipe" });
    host = await SystemdHost.start(`lisp-deploy-ssh-e2e-${id}`, SSH_PORT);
    scratch = scratchDir("examples-ssh-engine");
    const example = copyExample(scratch, "ssh-host");
    appDir = example.appDir;
    ws = new PulumiWorkspace(example.projectDir, scratch);
    await ws.initStack(STACK, {
        host: "127.0.0.1",
        sshPort: String(SSH_PORT),
        port: String(APP_PORT),
        dependencySource: "debian",
        buildNetwork: "host",
    });
    await ws.setSecret(STACK, "sshPrivateKey", host.privateKey);
});

afterAll(async () => {
    if (ws) await ws.destroy(STACK);
    if (host) await host.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("examples/ssh-host under the real engine, against a systemd host container: up serves the app; a second preview changes nothing", async () => {
    await ws.ok(["up", "--yes", "--stack", STACK]);
    const outputs = await ws.outputs(STACK);
    expect(outputs.url).toBe(URL);
    expect(outputs.sshCommand).toBe(`ssh -p ${SSH_PORT} root@127.0.0.1`);
    expect(httpGet(URL)).toEqual({ status: "200", body: FIRST });
    expect((await host.exec("systemctl", "is-active", "hello.service")).stdout.trim()).toBe("active");

    const again = await ws.ok(["preview", "--diff", "--expect-no-changes", "--stack", STACK]);
    expect(changedResources(again)).toEqual([]);
});

test("an app source change previews as image and release only, never the host; up serves the new text", async () => {
    setGreeting(appDir, SECOND_GREETING);
    const preview = await ws.ok(["preview", "--diff", "--stack", STACK]);
    // What a reviewer reads: the image rebuilt, the release's steps run again; not the host's check.
    expect(changedResources(preview)).toEqual([
        "update command:local:Command hello-release-extract",
        "update command:remote:Command hello-release-activate",
        "update command:remote:Command hello-release-prepare",
        "update command:remote:CopyToRemote hello-release-upload",
        "update docker:index/image:Image hello-image-image",
    ]);
    expect(preview).not.toMatch(/hello-host-/);

    await ws.ok(["up", "--yes", "--stack", STACK]);
    expect(httpGet(URL)).toEqual({ status: "200", body: `${SECOND_GREETING} (hello 1.0.0)\n` });
});

test("a release that fails its health check fails the update with the journal's lines and rolls back: the old version keeps serving", async () => {
    breakAppStart(appDir);
    expectRolledBack(await ws.up(STACK), URL, `${SECOND_GREETING} (hello 1.0.0)\n`);
});

test("destroy leaves nothing on the host: no unit, no /opt/hello, nothing answering", async () => {
    await ws.ok(["destroy", "--yes", "--stack", STACK]);
    expect((await host.exec("test", "-e", "/etc/systemd/system/hello.service")).code).not.toBe(0);
    expect((await host.exec("test", "-e", "/opt/hello")).code).not.toBe(0);
    expect((await host.exec("systemctl", "is-active", "hello.service")).stdout.trim()).not.toBe("active");
    expect(httpGet(URL).status).toBe("000");
});
