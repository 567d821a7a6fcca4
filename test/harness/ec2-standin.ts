import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { OtherProviders } from "./acting-engine";
import { run, runOk } from "./run";

/**
 * A stand-in for AWS's EC2 API whose instances are real machines: each `aws:ec2/instance:Instance` is a
 * container with systemd as PID 1, sshd and cloud-init, booted from a NoCloud seed holding the instance's
 * user data and, as EC2 does through the metadata service, the key pair's public key for the image's
 * login user (`admin`, passwordless sudo, as on Debian's AMIs). Host networking, sshd on
 * 127.0.0.1:<sshPort>; the instance's public IP is 127.0.0.1. Security groups, key pairs and data sources
 * are answered as AWS would (ids), and nothing else is faked.
 */
export class Ec2StandIn {
    /** The image of every instance: what a Debian 12 AMI has that debian:bookworm-slim lacks. */
    static readonly IMAGE = "webapp-ec2-standin:test";
    private readonly keys = new Map<string, string>();
    /** Containers started, for teardown. */
    readonly containers: string[] = [];
    private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), "ec2-standin-"));

    constructor(
        /** sshd's port on 127.0.0.1 (the test's range: 2230-2239). */
        private readonly sshPort: number,
        /** Container names start with this (unique per test file). */
        private readonly prefix: string,
    ) {}

    /** Builds the instance image (cached after the first time). */
    static async buildImage(): Promise<void> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ec2-standin-image-"));
        fs.writeFileSync(
            path.join(dir, "Dockerfile"),
            [
                "FROM debian:bookworm-slim",
                "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\",
                "      systemd systemd-sysv cloud-init sudo locales openssh-server curl zlib1g ca-certificates \\",
                " && rm -rf /var/lib/apt/lists/* && rm -f /etc/ssh/ssh_host_*",
                "RUN sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen",
                // Only the NoCloud seed (no metadata probing), no network or hostname changes; the default
                // user is Debian AMIs' `admin` with passwordless sudo.
                "RUN printf '%s\\n' 'datasource_list: [ NoCloud, None ]' 'network: {config: disabled}' 'preserve_hostname: true' \\",
                "      'apt: {preserve_sources_list: true}' 'system_info:' '  default_user:' '    name: admin' '    lock_passwd: true' \\",
                "      '    sudo: \"ALL=(ALL) NOPASSWD:ALL\"' '    shell: /bin/bash' > /etc/cloud/cloud.cfg.d/99-ec2-standin.cfg",
                // Host keys are made at boot, as on a fresh instance.
                "RUN mkdir -p /etc/systemd/system/ssh.service.d && printf '%s\\n' '[Service]' 'ExecStartPre=/usr/bin/ssh-keygen -A' > /etc/systemd/system/ssh.service.d/keys.conf",
                'STOPSIGNAL SIGRTMIN+3',
                'CMD ["/sbin/init"]',
                "",
            ].join("\n"),
        );
        await runOk("docker", ["build", "--network", "host", "-q", "-t", Ec2StandIn.IMAGE, dir]);
        fs.rmSync(dir, { recursive: true, force: true });
    }

    /** The providers the acting engine lacks: AWS's API, acting for real where a machine is asked for. */
    providers(): OtherProviders {
        return {
            act: async (op, type, name, inputs) => {
                switch (type) {
                    case "aws:ec2/keyPair:KeyPair":
                        this.keys.set(name, inputs.publicKey);
                        return { keyName: name, keyPairId: `key-${name}` };
                    case "aws:ec2/securityGroup:SecurityGroup":
                        return { id: `sg-${name}` };
                    case "aws:ec2/eip:Eip":
                        return { publicIp: "127.0.0.1" };
                    case "aws:ec2/instance:Instance":
                        return op === "delete" ? this.terminate(name) : this.launch(name, inputs);
                    default:
                        return undefined;
                }
            },
            call: (args: pulumi.runtime.MockCallArgs) => {
                switch (args.token) {
                    case "aws:ec2/getAmi:getAmi":
                        return { id: "ami-debian12-standin" };
                    case "aws:ec2/getVpc:getVpc":
                        return { id: "vpc-standin" };
                    default:
                        throw new Error(`the EC2 stand-in does not answer ${args.token}`);
                }
            },
        };
    }

    private containerOf(name: string): string {
        return `${this.prefix}-${name}`;
    }

    private async launch(name: string, inputs: Record<string, any>): Promise<Record<string, any>> {
        const publicKey = this.keys.get(inputs.keyName);
        if (!publicKey) throw new Error(`instance ${name}: no key pair named ${inputs.keyName}`);
        const container = this.containerOf(name);
        await this.terminate(name);
        const seed = fs.mkdtempSync(path.join(this.work, "seed-"));
        fs.writeFileSync(path.join(seed, "user-data"), inputs.userData);
        // EC2 hands the key pair to cloud-init through the metadata service; NoCloud takes it from meta-data.
        fs.writeFileSync(path.join(seed, "meta-data"), `instance-id: ${container}\nlocal-hostname: ${name}\npublic-keys:\n  - ${publicKey}\n`);
        fs.writeFileSync(path.join(seed, "sshd.conf"), `ListenAddress 127.0.0.1:${this.sshPort}\n`);
        this.containers.push(container);
        await runOk("docker", [
            "create", "--name", container, "--network", "host",
            "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "-v", `${seed}:/var/lib/cloud/seed/nocloud:ro`, Ec2StandIn.IMAGE, "/sbin/init",
        ]);
        await runOk("docker", ["cp", path.join(seed, "sshd.conf"), `${container}:/etc/ssh/sshd_config.d/listen.conf`]);
        await runOk("docker", ["start", container]);
        return { id: `i-${name}`, publicIp: "127.0.0.1", privateIp: "127.0.0.1", arn: `arn:aws:ec2:standin:000000000000:instance/i-${name}` };
    }

    private async terminate(name: string): Promise<Record<string, any>> {
        await run("docker", ["rm", "-f", this.containerOf(name)]);
        return {};
    }

    /** Removes every instance started and the seeds. */
    async stop(): Promise<void> {
        for (const c of this.containers) await run("docker", ["rm", "-f", c]);
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}
