import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run, runOk } from "./run";

/** The image built from support/systemd-host/Dockerfile. */
export const SYSTEMD_HOST_IMAGE = "systemd-host:test";

/**
 * A real systemd host in a container (our stand-in for an EC2 instance): systemd as PID 1, sshd on
 * 127.0.0.1:<sshPort> accepting a per-run ed25519 key, journald, curl. Started with the flags in
 * ENVIRONMENT.md (no --privileged, which fails on these machines).
 */
export class SystemdHost {
    private constructor(
        /** Container name, unique per test file. */
        readonly container: string,
        /** sshd's port on 127.0.0.1. */
        readonly sshPort: number,
        /** The private key (OpenSSH form) that root accepts. */
        readonly privateKey: string,
        /** The 0600 file holding the private key, for the ssh client. */
        readonly keyFile: string,
        private readonly tempDir: string,
    ) {}

    /** Builds the image (cached after the first time) and starts a host. */
    static async start(container: string, sshPort: number): Promise<SystemdHost> {
        await runOk("docker", ["build", "--network", "host", "-q", "-t", SYSTEMD_HOST_IMAGE, path.join(__dirname, "systemd-host")]);
        await run("docker", ["rm", "-f", container]);
        const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "systemd-host-"));
        const keyFile = path.join(tempDir, "id_ed25519");
        await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lisp-deploy-test", "-f", keyFile]);
        await runOk("docker", [
            "run", "-d", "--name", container, "--network", "host",
            "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            SYSTEMD_HOST_IMAGE, "/sbin/init",
        ]);
        const host = new SystemdHost(container, sshPort, fs.readFileSync(keyFile, "utf8"), keyFile, tempDir);
        // sshd reads its port from a drop-in; the authorized key arrives before sshd (re)starts.
        const sshdConf = path.join(tempDir, "port.conf");
        fs.writeFileSync(sshdConf, `ListenAddress 127.0.0.1:${sshPort}\n`);
        await runOk("docker", ["cp", sshdConf, `${container}:/etc/ssh/sshd_config.d/port.conf`]);
        await runOk("docker", ["cp", `${keyFile}.pub`, `${container}:/root/.ssh/authorized_keys`]);
        await host.waitForSystemd();
        await runOk("docker", ["exec", container, "sh", "-c", "chown root:root /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys && systemctl restart ssh"]);
        await host.waitFor(async () => (await host.ssh("true")).code === 0, "sshd to accept the test key");
        return host;
    }

    /** The connection a SystemdRelease takes. */
    get connection() {
        return { host: "127.0.0.1", port: this.sshPort, user: "root", privateKey: this.privateKey };
    }

    /** Runs a shell command on the host over real SSH. */
    ssh(commandText: string, input?: string) {
        return run("ssh", [...sshOptions(this.keyFile, this.sshPort), "root@127.0.0.1", commandText], { input });
    }

    /** Runs a command in the container directly (for assertions that must not depend on sshd). */
    exec(...args: string[]) {
        return run("docker", ["exec", this.container, ...args]);
    }

    /** What the app answers on 127.0.0.1:<port><path> inside the host, or the curl error. */
    async curl(port: number, urlPath = "/"): Promise<{ status: string; body: string }> {
        const r = await this.exec("curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", `http://127.0.0.1:${port}${urlPath}`);
        const lines = r.stdout.split("\n");
        return { status: lines.pop() ?? "", body: lines.join("\n") };
    }

    /** Polls until `check` is true, failing after `seconds` with what it waited for. */
    async waitFor(check: () => Promise<boolean>, what: string, seconds = 60): Promise<void> {
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            if (await check().catch(() => false)) return;
            await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`timed out after ${seconds}s waiting for ${what} on ${this.container}`);
    }

    private async waitForSystemd(): Promise<void> {
        await this.waitFor(async () => {
            const r = await this.exec("systemctl", "is-system-running");
            return ["running", "degraded"].includes(r.stdout.trim());
        }, "systemd to finish booting");
    }

    /** Removes the container and the key. */
    async stop(): Promise<void> {
        await run("docker", ["rm", "-f", this.container]);
        fs.rmSync(this.tempDir, { recursive: true, force: true });
    }
}

/** OpenSSH client options for a throwaway host on loopback: key only, no prompts, no known_hosts. */
export function sshOptions(keyFile: string, port: number, portFlag = "-p"): string[] {
    return [
        "-i", keyFile, portFlag, String(port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=10",
    ];
}
