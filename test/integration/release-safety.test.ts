import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { releaseScript, shellQuote } from "../../src/release/systemd/scripts";
import { activateParameters } from "../../src/release/systemd/systemdRelease";
import { renderUnit } from "../../src/release/systemd/unit";

/**
 * Releases on a host are safe under concurrency and interruption: activate.sh, rendered exactly as
 * SystemdRelease renders it (releaseScript + activateParameters + renderUnit), run over real SSH against a
 * real systemd host in a container. No Pulumi engine: what is proven here is what the script does on the
 * host. The apps are tiny Perl HTTP servers (the host image has perl-base), so no Lisp build is needed.
 */
const APP = "safe";
const PORT = 18920;
const SSH_PORT = 2290;
const LOCK = `/run/lock/lisp-deploy-${APP}.lock`;

let host: SystemdHost;
let work: string;

/** A Perl HTTP server answering 200 with `body`; after `answers` answers (0: never) it exits 1. */
function perlServer(body: string, opts: { answers?: number; delayListen?: number } = {}): string {
    return `#!/usr/bin/perl
use strict; use warnings; use IO::Socket::INET;
$| = 1;
sleep ${opts.delayListen ?? 0};
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!";
my $n = 0;
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/; }
  my $b = ${JSON.stringify(body + "\n")};
  print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($b) . "\\r\\nConnection: close\\r\\n\\r\\n" . $b;
  close $c;
  $n++;
  if (${opts.answers ?? 0} > 0 && $n >= ${opts.answers ?? 0}) { print STDERR "answered 200 $n time(s), now exiting\\n"; exit 1; }
}
`;
}

const sha12 = (text: string) => crypto.createHash("sha256").update(text).digest("hex").slice(0, 12);
const unitText = renderUnit({ app: APP, executable: "app", type: "exec", port: PORT, environment: {}, environmentFile: false });
const plan = { keepReleases: 10, healthPath: "/", expectedStatus: 200, timeoutSeconds: 8, startTimeoutSeconds: 10, journalLines: 20 };

/** The activate command SystemdRelease would run for this executable text. */
function activateCommand(id: string): string {
    return releaseScript("activate", activateParameters({ app: APP, port: PORT }, plan, { releaseId: id, executableName: "app", unitText, hasSecrets: false, executableDigest: id }));
}

/** prepare.sh, then the upload beside the executable (as SystemdRelease's CopyToRemote does); returns the release id. */
async function upload(executable: string, id = sha12(executable)): Promise<string> {
    const prepared = await host.ssh(releaseScript("prepare", { APP, RELEASE_ID: id }));
    expect(prepared.code).toBe(0);
    const copied = await host.ssh(`cat > /opt/${APP}/releases/${id}/.upload-app`, executable);
    expect(copied.code).toBe(0);
    return id;
}

const link = async (name: string) => (await host.exec("readlink", `/opt/${APP}/${name}`)).stdout.trim();
const serving = async () => (await host.curl(PORT)).body.trim();

beforeAll(async () => {
    requireDocker();
    for (const cmd of ["ssh", "ssh-keygen"]) requireCommand(cmd, "openssh-client");
    work = fs.mkdtempSync(path.join(os.tmpdir(), "release-safety-"));
    host = await SystemdHost.start("release-safety-host", SSH_PORT);
}, 5 * 60 * 1000);

afterAll(async () => {
    await host?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
});

const v1 = perlServer("release one");
const v2 = perlServer("release two");
const v3 = perlServer("release three");

describe("activate.sh on a real systemd host over real SSH (no engine: the rendered script run directly)", () => {
    test("two overlapping activations of one app serialize on the per-app lock and leave a consistent state", async () => {
        const first = await upload(v1);
        expect((await host.ssh(activateCommand(first))).code).toBe(0);
        const [two, three] = [await upload(v2), await upload(v3)];

        const runTwo = host.ssh(activateCommand(two));
        // The second starts only once the first holds the lock, so the two really overlap.
        await host.waitFor(async () => (await host.exec("flock", "--nonblock", LOCK, "true")).code !== 0, "the first activation to take the lock", 30);
        const runThree = host.ssh(activateCommand(three));
        const [r2, r3] = await Promise.all([runTwo, runThree]);

        expect(r2.code).toBe(0);
        expect(r3.code).toBe(0);
        expect(r2.stderr).not.toContain("waiting for it to finish");
        expect(r3.stderr).toContain(`another activation of ${APP} holds ${LOCK}; waiting for it to finish`);
        expect(r3.stderr).toMatch(new RegExp(`the other activation of ${APP} finished after \\d+s; going on`));
        // The waiter started only after the first reported success: its own work follows the wait in its log.
        expect(r3.stderr.indexOf("going on")).toBeLessThan(r3.stderr.indexOf(`starting ${APP}.service with release ${three}`));
        expect(r2.stderr).toContain(`release ${two} is serving`);
        expect(r3.stderr).toContain(`release ${three} is serving`);

        // Consistent: the later one is current, the earlier (healthy) one its rollback target.
        expect(await link("current")).toBe(`releases/${three}`);
        expect(await link("previous")).toBe(`releases/${two}`);
        expect(await serving()).toBe("release three");
        expect((await host.exec("test", "-e", `/opt/${APP}/.rollback`)).code).not.toBe(0);
    }, 180_000);

    test("an activation killed after the link switch is repaired by the next run: previous is the last healthy release", async () => {
        // Listens only after 60 s: the health check is still waiting when the run is killed.
        const slow = await upload(perlServer("release slow", { delayListen: 60 }));
        const script = activateCommand(slow);
        // setsid --wait: its own process group, so the whole run (bash, curl, sleep) dies at once, like a lost host.
        const killed = host.ssh(`setsid --wait bash -c ${shellQuote(`echo $$ > /run/activation.pid; ${script}`)}`);
        await host.waitFor(async () => (await link("current")) === `releases/${slow}`, "the interrupted run to switch the current link", 60);
        expect((await host.exec("bash", "-c", 'kill -9 -- "-$(cat /run/activation.pid)"')).code).toBe(0);
        const k = await killed;
        expect(k.code).not.toBe(0);
        expect(k.stderr).not.toContain("is serving");

        // The broken state it left: current is the unchecked release, the record of what it replaced remains.
        expect(await link("current")).toBe(`releases/${slow}`);
        expect((await host.exec("cat", `/opt/${APP}/.rollback/release`)).stdout.trim()).toBe(slow);

        // The next run (an earlier, healthy release) repairs first, without waiting on a stale lock.
        const one = sha12(v1);
        const next = await host.ssh(activateCommand(one));
        expect(next.code).toBe(0);
        expect(next.stderr).not.toContain("waiting for it to finish");
        expect(next.stderr).toContain(`an activation of release ${slow} was interrupted before it finished; restoring what was serving before it`);
        expect(next.stderr).toContain(`restored: current is releases/${sha12(v3)}, previous is releases/${sha12(v2)}`);
        expect(await link("current")).toBe(`releases/${one}`);
        // Never the release that was never checked.
        expect(await link("previous")).toBe(`releases/${sha12(v3)}`);
        expect(await serving()).toBe("release one");
        expect((await host.exec("test", "-e", `/opt/${APP}/.rollback`)).code).not.toBe(0);
    }, 180_000);

    test("an app that answers 200 once and then crashes fails the health check and is rolled back", async () => {
        const crash = await upload(perlServer("release crash", { answers: 1 }));
        const r = await host.ssh(activateCommand(crash));
        expect(r.code).toBe(1);
        // It did answer 200 (its own words in the journal the failure shows), and still did not pass.
        expect(r.stderr).toContain("answered 200 1 time(s), now exiting");
        expect(r.stderr).toContain(`release ${crash} failed its health check; rolling back`);
        expect(r.stderr).toContain(`rolled back to releases/${sha12(v1)}, which is serving`);
        expect(await link("current")).toBe(`releases/${sha12(v1)}`);
        expect(await link("previous")).toBe(`releases/${sha12(v3)}`);
        expect(await serving()).toBe("release one");
    }, 180_000);

    test("an upload that does not match its content address is refused and nothing changes", async () => {
        const good = perlServer("release four");
        const id = sha12(good);
        await upload(good.replace("four", "f0ur"), id);
        const r = await host.ssh(activateCommand(id));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`refusing the uploaded executable: /opt/${APP}/releases/${id}/\\.upload-app has sha256 [0-9a-f]{64}, but release ${id} is the executable whose sha256 starts with ${id} \\(a corrupted or incomplete upload\\?\\)`));
        expect(r.stderr).toContain("removed the bad upload; nothing was changed");
        expect((await host.exec("ls", "-A", `/opt/${APP}/releases/${id}`)).stdout.trim()).toBe("");
        expect(await link("current")).toBe(`releases/${sha12(v1)}`);
        expect(await serving()).toBe("release one");

        // The same release uploaded intact goes through.
        await upload(good);
        const ok = await host.ssh(activateCommand(id));
        expect(ok.code).toBe(0);
        expect(await serving()).toBe("release four");
    }, 180_000);

    test("a delta build overlapping an activation waits for it on the same lock (prepare-dependencies.sh, delta-build.sh)", async () => {
        const key = "0123456789abcdef0123";
        const deps = `/opt/${APP}/dependencies/${key}`;
        expect((await host.ssh(releaseScript("prepare-dependencies", { APP, DEPENDENCIES_KEY: key }))).code).toBe(0);
        expect((await host.exec("stat", "-c", "%a %U", deps)).stdout.trim()).toBe("755 root");
        // The host's own /bin/true stands in for the dependencies executable: delta-build.sh checks its
        // architecture, and finds the release below already built, so nothing runs it.
        expect((await host.exec("cp", "/bin/true", `${deps}/.upload-lisp-deploy-dependencies`)).code).toBe(0);
        const next = await upload(perlServer("release five", { delayListen: 3 }));
        const activation = host.ssh(activateCommand(next));
        await host.waitFor(async () => (await host.exec("flock", "--nonblock", LOCK, "true")).code !== 0, "the activation to take the lock", 30);
        const build = host.ssh(
            releaseScript("delta-build", { APP, RELEASE_ID: next, DEPENDENCIES_KEY: key, EXECUTABLE: "app", SYSTEM: "hello", ENTRY_POINT: "hello:main", COMPRESSION: "false" }),
        );
        const [a, b] = await Promise.all([activation, build]);

        expect(a.code).toBe(0);
        expect(a.stderr).toContain(`release ${next} is serving`);
        expect(b.code).toBe(0);
        expect(b.stderr).toContain(`another activation of ${APP} holds ${LOCK}; waiting for it to finish`);
        expect(b.stderr).toMatch(new RegExp(`the other activation of ${APP} finished after \\d+s; going on with this delta build`));
        // After the wait it saw what the activation left: the release's executable in place.
        expect(b.stderr.indexOf("going on")).toBeLessThan(b.stderr.indexOf(`release ${next} is already built`));
        expect(b.stdout.trim()).toBe("dependencies-and-source");
        expect((await host.exec("test", "-x", `${deps}/lisp-deploy-dependencies`)).code).toBe(0);
        expect(await serving()).toBe("release five");
    }, 180_000);

    test("a removal overlapping an activation waits for it on the same lock, then removes everything", async () => {
        // Listens after 3 s: the activation holds the lock through its health check while the removal arrives.
        const last = await upload(perlServer("release last", { delayListen: 3 }));
        const activation = host.ssh(activateCommand(last));
        await host.waitFor(async () => (await host.exec("flock", "--nonblock", LOCK, "true")).code !== 0, "the activation to take the lock", 30);
        const removal = host.ssh(releaseScript("remove", { APP }));
        const [a, r] = await Promise.all([activation, removal]);

        // The activation ran to its end undisturbed (a removal in between would have failed its health check).
        expect(a.code).toBe(0);
        expect(a.stderr).toContain(`release ${last} is serving`);
        expect(a.stderr).not.toContain("waiting for it to finish");
        expect(r.code).toBe(0);
        expect(r.stderr).toContain(`another activation of ${APP} holds ${LOCK}; waiting for it to finish`);
        expect(r.stderr).toMatch(new RegExp(`the other activation of ${APP} finished after \\d+s; going on with this removal`));

        // Then the removal: nothing of the app is left, and nothing answers.
        expect((await host.exec("test", "-e", `/opt/${APP}`)).code).not.toBe(0);
        expect((await host.exec("test", "-e", `/etc/systemd/system/${APP}.service`)).code).not.toBe(0);
        expect((await host.exec("systemctl", "is-active", `${APP}.service`)).stdout.trim()).not.toBe("active");
        expect((await host.curl(PORT)).status).toBe("000");
        // The lock file stays (a waiter may hold it), naming the last holder.
        expect((await host.exec("cat", LOCK)).stdout).toBe("removal\n");
    }, 180_000);
});
