import * as fs from "fs";

const KNOB = "/proc/sys/net/ipv4/tcp_migrate_req";

/**
 * Turns on net.ipv4.tcp_migrate_req in this machine's network namespace, as activate-slot.sh does on a
 * real host behind Caddy: Caddy replaces its listening socket on every reload, and without this setting
 * the kernel resets the connections still queued on the old socket (a client sees "read ECONNRESET";
 * see src/release/systemd/README-zero-downtime.md). The systemd host containers share this machine's network
 * namespace (--network host), where /proc/sys is read-only to them, so the setting a real host makes for
 * itself is made here. Fails loudly when it cannot be made: a zero-downtime measurement without it would
 * measure a host set up differently from the one lisp-deploy sets up.
 */
export function enableListenerMigration(): void {
    if (!fs.existsSync(KNOB)) throw new Error(`${KNOB} is missing: this kernel is older than Linux 5.14, which Caddy needs for reloads that drop no connection.`);
    if (fs.readFileSync(KNOB, "utf8").trim() === "1") return;
    try {
        fs.writeFileSync(KNOB, "1\n");
    } catch (e) {
        throw new Error(`cannot set net.ipv4.tcp_migrate_req=1 (${(e as Error).message}); run \`sysctl -w net.ipv4.tcp_migrate_req=1\` as root first.`);
    }
}
