import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ActingEngine } from "../harness/acting-engine";
import { Ec2StandIn } from "../harness/ec2-standin";
import { requireCommand, requireDocker } from "../harness/engines";
import { httpGet, removeDockerObjects } from "../harness/imageBuild";
import { readProject, runProgram, setStackConfig } from "../harness/program";
import { runOk } from "../harness/run";

// The end-to-end proof: examples/ec2-systemd, unmodified, under the acting stand-in for the Pulumi engine
// and a stand-in for AWS's API whose instance is a real machine (a systemd + sshd + cloud-init container
// booted from the rendered user data, the key pair authorized for `admin`). The image is built by the real
// Docker engine, the cloud-init wait and the release run over real SSH, the unit runs under real systemd.
// Ports: app 18540, sshd 127.0.0.1:2230.
const ROOT = path.resolve(__dirname, "../..");
const APP_PORT = 18540;
const SSH_PORT = 2230;

const standIn = new Ec2StandIn(SSH_PORT, "webapp-e2e");
let engine: ActingEngine | undefined;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "webapp-e2e-"));

beforeAll(async () => {
    requireDocker();
    requireCommand("ssh", "openssh-client");
    requireCommand("curl", "curl");
    await Ec2StandIn.buildImage();
}, 15 * 60 * 1000);
afterAll(async () => {
    await standIn.stop();
    removeDockerObjects([], [...(engine?.builds ?? []).map((b) => b.imageName), Ec2StandIn.IMAGE]);
    fs.rmSync(work, { recursive: true, force: true });
});

test("examples/ec2-systemd end to end, AWS API and Pulumi engine stood in for: url answers 200 with the app's text", async () => {
    const keyFile = path.join(work, "id_ed25519");
    await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "webapp-e2e", "-f", keyFile]);
    const project = readProject(path.join(ROOT, "examples/ec2-systemd/Pulumi.yaml"));
    engine = new ActingEngine(project.name, "e2e", standIn.providers());
    const outputs = await engine.up(() => {
        setStackConfig(
            project,
            {
                sshPublicKey: fs.readFileSync(`${keyFile}.pub`, "utf8").trim(),
                sshCidrs: JSON.stringify(["127.0.0.1/32"]),
                sshPort: String(SSH_PORT),
                port: String(APP_PORT),
                bindAddress: "127.0.0.1",
                dependencySource: "debian",
                buildNetwork: "host",
                swankPort: "18541",
            },
            { sshPrivateKey: fs.readFileSync(keyFile, "utf8") },
        );
        return runProgram(project.programDir);
    });
    const values = await outputs;
    expect(values.url).toBe(`http://127.0.0.1:${APP_PORT}/`);
    const res = await httpGet(APP_PORT, "/");
    expect(res.status).toBe(200);
    expect(res.body).toContain("Hello from Common Lisp, deployed by lisp-deploy.");
    expect(values.sshCommand).toBe(`ssh -p ${SSH_PORT} admin@127.0.0.1`);
    expect(values.swankTunnel).toBe(`ssh -N -L 18541:127.0.0.1:18541 -p ${SSH_PORT} admin@127.0.0.1`);
    expect(values.unit).toContain("BIND_ADDRESS=127.0.0.1");
    // Every real action, in order: the host first (cloud-init waited for over SSH), then the release.
    const done = engine!.actions.map((a) => `${a.op} ${a.name}`);
    expect(done).toEqual(expect.arrayContaining(["create hello-host-instance", "create hello-host-cloud-init", "create hello-image-image", "create hello-release-activate"]));
    expect(done.indexOf("create hello-host-cloud-init")).toBeLessThan(done.indexOf("create hello-release-activate"));
}, 20 * 60 * 1000);
