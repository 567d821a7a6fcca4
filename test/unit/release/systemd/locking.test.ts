import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { scriptsDirectory } from "../../../../src/release/systemd/scripts";
import { activateParameters } from "../../../../src/release/systemd/systemdRelease";
import { planZeroDowntime, slotActivateParams } from "../../../../src/release/systemd/zeroDowntime";

/**
 * lib/common.sh's lock_app and verify_digest in real bash (flock and sha256sum from the machine), and the
 * parameters that hand the content address to the host. The same behaviour on a real systemd host over SSH
 * is test/integration/release-safety.test.ts.
 */
const common = () => fs.readFileSync(path.join(scriptsDirectory(), "lib", "common.sh"), "utf8");

function bash(script: string, env: Record<string, string> = {}) {
    return spawnSync("bash", ["-c", `${common()}\nset -euo pipefail\n${script}`], { encoding: "utf8", env: { ...process.env, ...env } });
}

describe("verify_digest: the executable must match its content address", () => {
    let dir: string;
    let file: string;
    let sum: string;
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-digest-"));
        file = path.join(dir, "hello");
        fs.writeFileSync(file, "#!/bin/sh\necho hello\n");
        sum = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("accepts a file whose sha256 starts with the digest (the 12-character release id, or all of it)", () => {
        expect(bash(`verify_digest "$F" "${sum.slice(0, 12)}" "the upload"`, { F: file, RELEASE_ID: sum.slice(0, 12) }).status).toBe(0);
        expect(bash(`verify_digest "$F" "${sum}" "the upload"`, { F: file, RELEASE_ID: sum.slice(0, 12) }).status).toBe(0);
    });

    test("accepts anything when no digest is given (DeltaRelease builds the executable on the host)", () => {
        expect(bash(`verify_digest "$F" "" "the upload"`, { F: file, RELEASE_ID: "x" }).status).toBe(0);
    });

    test("refuses a file that does not match, saying which file, both hashes and why", () => {
        const r = bash(`verify_digest "$F" "0123456789ab" "the uploaded executable" || echo refused`, { F: file, RELEASE_ID: "0123456789ab" });
        expect(r.stdout.trim()).toBe("refused");
        expect(r.stderr).toContain(`lisp-deploy: refusing the uploaded executable: ${file} has sha256 ${sum}`);
        expect(r.stderr).toContain("release 0123456789ab is the executable whose sha256 starts with 0123456789ab (a corrupted or incomplete upload?)");
    });

    test("a prefix of the right hash that starts elsewhere does not pass (a match is a prefix, not a substring)", () => {
        expect(bash(`verify_digest "$F" "${sum.slice(1, 13)}" "x" || echo refused`, { F: file, RELEASE_ID: "y" }).stdout.trim()).toBe("refused");
    });
});

describe("lock_app: one activation of an app at a time", () => {
    // A name of this run's own, so the lock file never meets a real app's or another test run's.
    const app = `lock-test-${process.pid}-${Date.now()}`;
    afterAll(() => fs.rmSync(`/run/lock/lisp-deploy-${app}.lock`, { force: true }));

    function holder(seconds: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
        return new Promise((resolve) => {
            const p = spawn("bash", ["-c", `${common()}\nset -euo pipefail\nlock_app "$APP"\necho "start $(date +%s.%N)"\nsleep ${seconds}\necho "end $(date +%s.%N)"`], {
                env: { ...process.env, APP: app },
            });
            let stdout = "";
            let stderr = "";
            p.stdout.on("data", (d) => (stdout += d));
            p.stderr.on("data", (d) => (stderr += d));
            p.on("close", (code) => resolve({ code, stdout, stderr }));
        });
    }
    const times = (out: string) => Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k, Number(v)]));

    test("a second holder waits until the first has finished, and says that it waits", async () => {
        const first = holder(1.5);
        await new Promise((r) => setTimeout(r, 300));
        const second = await holder(0);
        const one = await first;
        expect(one.code).toBe(0);
        expect(second.code).toBe(0);
        expect(times(second.stdout).start).toBeGreaterThanOrEqual(times(one.stdout).end);
        expect(one.stderr).toBe("");
        expect(second.stderr).toContain(`another activation of ${app} holds /run/lock/lisp-deploy-${app}.lock; waiting for it to finish`);
        expect(second.stderr).toMatch(new RegExp(`the other activation of ${app} finished after \\d+s; going on`));
    });

    test("the lock goes when its holder dies, even by SIGKILL (no stale lock to clean up)", async () => {
        const p = spawn("bash", ["-c", `${common()}\nlock_app "$APP"\necho locked\nexec sleep 30`], { env: { ...process.env, APP: app } });
        await new Promise<void>((resolve) => p.stdout.once("data", () => resolve()));
        p.kill("SIGKILL");
        await new Promise((r) => p.once("close", r));
        const r = await holder(0);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("");
    });

    test("a different app is not held up", async () => {
        const first = holder(1.5);
        await new Promise((r) => setTimeout(r, 300));
        const other = bash(`lock_app "$APP"; echo got`, { APP: `${app}-other` });
        expect(other.stdout.trim()).toBe("got");
        expect(other.stderr).toBe("");
        await first;
        fs.rmSync(`/run/lock/lisp-deploy-${app}-other.lock`, { force: true });
    });
});

describe("the content address reaches the host", () => {
    test("activateParameters passes EXECUTABLE_DIGEST only when the release id is the executable's hash", () => {
        const plan = { keepReleases: 3, healthPath: "/", expectedStatus: 200, timeoutSeconds: 30, startTimeoutSeconds: 30, journalLines: 50 };
        const release = { releaseId: "0123456789ab", executableName: "hello", unitText: "[Unit]\n", hasSecrets: false };
        expect(activateParameters({ app: "hello", port: 8080 }, plan, { ...release, executableDigest: "0123456789ab" }).EXECUTABLE_DIGEST).toBe("0123456789ab");
        expect(activateParameters({ app: "hello", port: 8080 }, plan, release)).not.toHaveProperty("EXECUTABLE_DIGEST");
    });

    test("activate.sh and activate-slot.sh take the lock before anything else and check the digest before any use", () => {
        for (const name of ["activate.sh", "activate-slot.sh"]) {
            const text = fs.readFileSync(path.join(scriptsDirectory(), name), "utf8");
            const lock = text.indexOf('lock_app "${APP}"');
            const verify = text.indexOf("verify_digest");
            expect(lock).toBeGreaterThan(0);
            // Nothing is read from stdin, written or restarted before the lock: only scratch space exists.
            for (const later of ["cat >", "install -m", "systemctl restart", "mv -f", "ln -sfn", "useradd"]) {
                expect(text.indexOf(later)).toBeGreaterThan(lock);
                expect(text.indexOf(later)).toBeGreaterThan(verify);
            }
        }
    });

    test("slotActivateParams carries the digest for zero-downtime releases", () => {
        const inputs = {
            app: "hello", executable: "hello", releaseId: "0123456789ab", keepReleases: 3, units: { blue: "b", green: "g" }, secretEnvironment: false,
            healthPath: "/", expectedStatus: 200, timeoutSeconds: 30, startTimeoutSeconds: 30, journalLines: 50,
        };
        const plan = planZeroDowntime("z", "hello", 8080, {});
        expect(slotActivateParams({ ...inputs, executableDigest: "0123456789ab" }, plan).EXECUTABLE_DIGEST).toBe("0123456789ab");
        expect(slotActivateParams(inputs, plan)).not.toHaveProperty("EXECUTABLE_DIGEST");
    });
});
