import { execFileSync } from "child_process";

/**
 * Integration tests need real engines. They never skip when one is missing: they fail with a message
 * that says how to get it, so a machine without Docker cannot pass CI by accident.
 */
export function requireDocker(): void {
    try {
        execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe" });
    } catch (e) {
        throw new Error(
            "The Docker engine is not reachable (docker info failed). Run `bash scripts/setup-machine.sh` " +
                `to install and start it. Underlying error: ${(e as Error).message}`,
        );
    }
}

/** Fails loudly unless `command` is on PATH; `pkg` names the Debian package that provides it. */
export function requireCommand(command: string, pkg: string): void {
    try {
        execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "pipe" });
    } catch {
        throw new Error(`\`${command}\` is not installed: run \`bash scripts/setup-machine.sh\` (Debian package ${pkg}).`);
    }
}
