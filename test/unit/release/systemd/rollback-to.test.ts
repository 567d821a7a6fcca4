import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { planWebApp } from "../../../../src/app/plan";
import { scriptsDirectory } from "../../../../src/release/systemd/scripts";
import { parseActivationReport, planRelease, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";

// Unit layer for `rollbackTo`: the host-side functions run by real bash on a real directory tree (no
// systemd needed: they only read the release tree), the wiring through RecordingMocks. Activating a kept
// release on a real host is for the integration layer.

const settle = () => new Promise((r) => setTimeout(r, 300));
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };
let dir: string;
let exe: string;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rollback-unit-"));
    exe = path.join(dir, "hello");
    fs.writeFileSync(exe, "content to hash for the rollback tests", { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function args(patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs {
    return { connection, app: "hello", executable: { file: exe }, port: 8080, ...patch };
}

/** Runs `body` in bash after lib/common.sh, as releaseScript puts it in front of every host script. */
function withCommon(body: string, env: Record<string, string> = {}) {
    const common = fs.readFileSync(path.join(scriptsDirectory(), "lib", "common.sh"), "utf8");
    return spawnSync("bash", ["-c", `${common}\nset -euo pipefail\n${body}`], { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
}

describe("the host's release tree, read by lib/common.sh (real bash)", () => {
    let releases: string;
    beforeAll(() => {
        releases = path.join(dir, "releases");
        ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"].forEach((id, i) => {
            fs.mkdirSync(path.join(releases, id), { recursive: true });
            const t = new Date(Date.UTC(2026, 0, 1 + i));
            fs.utimesSync(path.join(releases, id), t, t);
        });
    });

    test("a kept release passes; one the host no longer keeps fails, listing the kept ids newest first", () => {
        expect(withCommon(`require_kept_release ${releases}; echo kept`, { RELEASE_ID: "bbbbbbbbbbbb", ROLLBACK: "1" }).stdout).toBe("kept\n");
        const gone = withCommon(`require_kept_release ${releases}; echo kept`, { RELEASE_ID: "0123456789ab", ROLLBACK: "1" });
        expect(gone.status).toBe(1);
        expect(gone.stdout).toBe("");
        expect(gone.stderr).toContain("cannot roll back to release 0123456789ab: this host no longer keeps it");
        expect(gone.stderr).toContain("It keeps: cccccccccccc bbbbbbbbbbbb aaaaaaaaaaaa (newest first)");
        expect(gone.stderr).toContain("set rollbackTo to one of them");
    });

    test("without ROLLBACK the message is about a missing upload, not a rollback", () => {
        const r = withCommon(`require_kept_release ${releases}`, { RELEASE_ID: "0123456789ab" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("release 0123456789ab has no directory");
        expect(r.stderr).not.toContain("rollbackTo");
    });

    test("report_releases prints what parseActivationReport reads back", () => {
        const r = withCommon(`say "a log line"; report_releases ${releases} bbbbbbbbbbbb`);
        expect(r.status).toBe(0);
        expect(parseActivationReport(r.stdout)).toEqual({ serving: "bbbbbbbbbbbb", kept: ["cccccccccccc", "bbbbbbbbbbbb", "aaaaaaaaaaaa"] });
    });

    test("a release whose release command failed is not offered to a rollback, and naming it is refused with the reason", () => {
        const failed = path.join(dir, "releases-with-a-failed-command");
        ["aaaaaaaaaaaa", "bbbbbbbbbbbb"].forEach((id, i) => {
            fs.mkdirSync(path.join(failed, id), { recursive: true });
            const t = new Date(Date.UTC(2026, 0, 1 + i));
            fs.utimesSync(path.join(failed, id), t, t);
        });
        fs.writeFileSync(path.join(failed, "bbbbbbbbbbbb", ".release-command-failed"), "");
        expect(parseActivationReport(withCommon(`report_releases ${failed} aaaaaaaaaaaa`).stdout).kept).toEqual(["aaaaaaaaaaaa"]);
        const refused = withCommon(`require_kept_release ${failed}; echo kept`, { RELEASE_ID: "bbbbbbbbbbbb", ROLLBACK: "1" });
        expect(refused.status).toBe(1);
        expect(refused.stderr).toContain("cannot roll back to release bbbbbbbbbbbb: its release command failed, so it never served");
        expect(refused.stderr).toContain("It keeps: aaaaaaaaaaaa (newest first)");
        // Released again (not a rollback), the same release passes: its command runs again first.
        expect(withCommon(`require_kept_release ${failed}; echo kept`, { RELEASE_ID: "bbbbbbbbbbbb" }).stdout).toBe("kept\n");
    });

    test("an activation that reported nothing (an older script, a preview) reads as nothing known", () => {
        expect(parseActivationReport("")).toEqual({ serving: undefined, kept: [] });
        expect(parseActivationReport(undefined as unknown as string)).toEqual({ serving: undefined, kept: [] });
    });
});

describe("SystemdRelease with rollbackTo", () => {
    const report = "lisp-deploy-serving: aaaaaaaaaaaa\nlisp-deploy-kept: cccccccccccc aaaaaaaaaaaa\n";
    let mocks: RecordingMocks;
    beforeEach(async () => {
        // The activation's stdout is what the host would print: the mocks answer it, nothing runs.
        mocks = new RecordingMocks(async (a) => (a.name.endsWith("-activate") ? { stdout: report } : undefined));
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    });

    test("activates the kept release, the current build's upload left exactly as without rollbackTo (so a preview changes the activation alone), and the preview's command names it", async () => {
        const r = new SystemdRelease("web", args({ rollbackTo: "aaaaaaaaaaaa", releaseCommand: ["migrate"] }));
        expect(await valueOf(r.releaseId)).toBe("aaaaaaaaaaaa");
        expect(await valueOf(r.keptReleases)).toEqual(["cccccccccccc", "aaaaaaaaaaaa"]);
        await settle();
        const withRollback = mocks.resources.map((x) => ({ resource: `${x.type} ${x.name}`, inputs: x.inputs }));
        expect(withRollback.map((x) => x.resource)).toEqual([
            "lisp-deploy:index:SystemdRelease web",
            "command:remote:Command web-prepare",
            "command:remote:CopyToRemote web-upload",
            "command:remote:Command web-activate",
        ]);
        // The upload's inputs are those of the same program without rollbackTo: the engine sees no change there.
        mocks.resources.length = 0;
        const plain = new SystemdRelease("same", args({ releaseCommand: ["migrate"] }));
        await valueOf(plain.releaseId);
        await settle();
        for (const role of ["prepare", "upload"]) {
            expect(JSON.stringify(withRollback.find((x) => x.resource.endsWith(` web-${role}`))!.inputs)).toBe(JSON.stringify(mocks.resources.find((x) => x.name === `same-${role}`)!.inputs));
        }
        const create: string = withRollback[3].inputs.create;
        expect(create).toMatch(/^ {2}RELEASE_ID='aaaaaaaaaaaa' \\$/m);
        expect(create).toMatch(/^ {2}ROLLBACK='1' \\$/m);
        // No digest (a kept release was checked when it was uploaded) and no release command on a rollback.
        expect(create).not.toMatch(/^ {2}EXECUTABLE_DIGEST=/m);
        expect(create).not.toMatch(/^ {2}RELEASE_COMMAND(_UNIT)?=/m);
    });

    test("in a preview, where the activation has not run, releaseId already names the release that will serve", async () => {
        await pulumi.runtime.setMocks(new RecordingMocks(async () => undefined), "lisp-deploy", "unit", true);
        const r = new SystemdRelease("web", args({ rollbackTo: "aaaaaaaaaaaa" }));
        expect(await (r.releaseId as any).isKnown).toBe(true);
        expect(await valueOf(r.releaseId)).toBe("aaaaaaaaaaaa");
        // What the host keeps is known only once it answered.
        expect(await (r.keptReleases as any).isKnown).toBe(false);
    });

    test("zero-downtime: the slot activation carries it too", async () => {
        const r = new SystemdRelease("web", args({ rollbackTo: "aaaaaaaaaaaa", zeroDowntime: { publicPort: 18080 } }));
        await valueOf(r.releaseId);
        await settle();
        const create: string = mocks.resources.find((x) => x.name === "web-activate")!.inputs.create;
        expect(create).toContain("# lisp-deploy activate-slot.sh");
        expect(create).toMatch(/^ {2}ROLLBACK='1' \\$/m);
        expect(create).toMatch(/^ {2}RELEASE_ID='aaaaaaaaaaaa' \\$/m);
    });

    test("a normal release reads its outputs back from the host too", async () => {
        const r = new SystemdRelease("web", args());
        expect(await valueOf(r.keptReleases)).toEqual(["cccccccccccc", "aaaaaaaaaaaa"]);
        await settle();
        const create: string = mocks.resources.find((x) => x.name === "web-activate")!.inputs.create;
        expect(create).not.toMatch(/^ {2}ROLLBACK=/m);
    });

    test.each([["../etc"], [""], ["a b"], [42]])("rollbackTo %j is refused under args.rollbackTo", (bad) => {
        let error: unknown;
        try {
            planRelease(args({ rollbackTo: bad as any }));
        } catch (e) {
            error = e;
        }
        expect((error as ValidationError).problems.map((p) => p.field)).toEqual(["args.rollbackTo"]);
    });
});

describe("WebApp's app.rollbackTo", () => {
    const APP = "examples/hello";
    const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nk\n");
    const fieldsOf = (f: () => unknown) => {
        try {
            f();
        } catch (e) {
            return (e as ValidationError).problems.map((p) => p.field);
        }
        return [];
    };

    test("ssh: the release plan carries it; a bad id is reported under args.app.rollbackTo", () => {
        const target = { kind: "ssh" as const, ssh: { host: "203.0.113.7", privateKey: key } };
        expect(planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, rollbackTo: "aaaaaaaaaaaa" }, target }).release?.rollbackTo).toBe("aaaaaaaaaaaa");
        expect(fieldsOf(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, rollbackTo: "../x" }, target }))).toEqual(["args.app.rollbackTo"]);
    });

    test("local and heroku: refused at preview, saying what to do instead", () => {
        expect(fieldsOf(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, rollbackTo: "aaaaaaaaaaaa" }, target: { kind: "local", local: {} } }))).toEqual(["args.app.rollbackTo"]);
        expect(fieldsOf(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, rollbackTo: "aaaaaaaaaaaa" }, target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("k") } } }))).toEqual(["args.app.rollbackTo"]);
    });
});
