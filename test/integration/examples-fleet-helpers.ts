import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pulumiEnvironment, REPO_ROOT } from "../../support/pulumi-cli";

/**
 * One fleet test's view of the AWS stand-in (support/providers/aws-standin) in its own-namespace mode: the
 * environment that puts the stand-in on the CLI's PATH, the instance containers it launched (named
 * `<prefix>-i-...`), what its balancer says of its targets, and its balancer process. Shared by the
 * examples/ec2-systemd `hosts: 2` tests (examples-ec2-fleet-engine, examples-ec2-fleet-zdt-engine).
 */
export class StandInFleet {
    /** `account` is the directory standing in for the AWS account (key pairs, balancers' state). */
    constructor(readonly prefix: string, readonly account: string, private readonly sshPort: number, private readonly lbPort: number) {}

    /** The Pulumi CLI's extra environment: the stand-in first on PATH, instances in their own namespaces. */
    env(): Record<string, string> {
        return {
            PATH: `${path.join(REPO_ROOT, "support", "providers", "aws-standin", "bin")}:${pulumiEnvironment().PATH}`,
            LISP_DEPLOY_AWS_STANDIN_SSH_PORTS: String(this.sshPort),
            LISP_DEPLOY_AWS_STANDIN_INSTANCE_NETWORK: "own",
            LISP_DEPLOY_AWS_STANDIN_LB_PORTS: String(this.lbPort),
            LISP_DEPLOY_AWS_STANDIN_PREFIX: this.prefix,
            LISP_DEPLOY_AWS_STANDIN_DIR: this.account,
        };
    }

    /** The stood-in instances of this test, with each one's address on its link. */
    instances(): { container: string; address: string }[] {
        const out = execFileSync("docker", ["ps", "-a", "--filter", `name=^/${this.prefix}-`, "--format", '{{.Names}}\t{{.Label "lisp-deploy.aws-standin.address"}}'], { encoding: "utf8" });
        return out.split("\n").filter((l) => l !== "").map((l) => {
            const [container, address] = l.split("\t");
            return { container, address };
        });
    }

    /** What the stood-in balancer says of its targets (its DescribeTargetHealth), by target address. */
    targetHealth(): Record<string, string> {
        const dir = path.join(this.account, "load-balancers");
        const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith(".health.json")) : undefined;
        if (!file) return {};
        const health = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
        return Object.fromEntries(health.targets.map((t: { address: string; state: string }) => [t.address, t.state]));
    }

    /** Polls `check` every 0.5 s; on time-out the error says what the balancer thought of its targets. */
    async waitFor(what: string, check: () => boolean, seconds = 120): Promise<void> {
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            if (check()) return;
            await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`timed out waiting for ${what}; target health: ${JSON.stringify(this.targetHealth())}`);
    }

    /** The balancer's process (empty once destroy stopped it). */
    balancerProcesses(): string {
        return spawnSync("pgrep", ["-f", `aws-standin/balancer.js ${this.account}`], { encoding: "utf8" }).stdout.trim();
    }
}
