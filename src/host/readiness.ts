import { readShellScript, shScriptCommand } from "../shell";
import { Arch } from "./host";

/**
 * The command Ec2Host runs over SSH before it hands out its connection (scripts/cloud-init-wait.sh): it blocks until cloud-init has
 * finished, then fails unless cloud-init succeeded, so a release never starts on a half-provisioned
 * host. `cloud-init status --wait` exits 0 when done; since cloud-init 23.4 it exits 2 for "done with
 * recoverable errors" (deprecated keys and the like), which still leaves a usable host. On failure the
 * long status goes to stderr, which `pulumi up` shows. `cloud-init status` reads world-readable files
 * under /run/cloud-init, so it needs no sudo.
 * Note: cloud-init 22.4 (Debian 12's) already answers "error" while the final stage still runs once an
 * earlier stage failed; failing then is right, the host is not fit for a release either way.
 */
export const CLOUD_INIT_WAIT_SCRIPT = readShellScript("host/scripts", "cloud-init-wait");

/** `uname -m`'s answer for each architecture Debian names. */
export const UNAME_MACHINE: Record<Arch, string> = { amd64: "x86_64", arm64: "aarch64" };

/**
 * The command SshHost runs on an existing server before it hands out its connection
 * (scripts/existing-server-check.sh, given the architecture's `uname -m` name): it proves the
 * key logs in, that the user may `sudo` without a password (releases need it), and that the machine's
 * architecture is the one declared, so an arm64 image is never shipped to an x86 server.
 */
export function existingServerCheckScript(arch: Arch): string {
    return shScriptCommand("existing-server-check", "src/host/scripts/existing-server-check.sh", readShellScript("host/scripts", "existing-server-check"), {
        ARCH: arch,
        MACHINE: UNAME_MACHINE[arch],
    });
}
