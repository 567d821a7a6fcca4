import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { planWebApp } from "../../../../src/app/plan";
import { LocalRelease, localReleaseScript, planLocalRelease, releaseCommandContainerCommand, renderContainerEnv } from "../../../../src/release/local/localRelease";
import { RollingRelease } from "../../../../src/release/systemd/rollingRelease";
import { planRelease, releaseIdOfFile, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";
import { renderReleaseCommandUnit, renderUnit, RELEASE_COMMAND_TIMEOUT_SECONDS, UnitSpec } from "../../../../src/release/systemd/unit";
import { loadUnit, verifyUnit } from "../../consumers";

// Unit layer for `releaseCommand`: the renderers checked by their consumers (systemd's own loader and
// verifier, sh), the wiring through RecordingMocks (nothing runs on a host or an engine here).

const settle = () => new Promise((r) => setTimeout(r, 300));
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };
let dir: string;
let exe: string;
let mocks: RecordingMocks;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-command-unit-"));
    exe = path.join(dir, "hello");
    fs.writeFileSync(exe, "content to hash for the release command tests", { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
    mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
});

function args(patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs {
    return { connection, app: "hello", executable: { file: exe }, port: 8080, environment: { LOG_LEVEL: "info" }, ...patch };
}

const spec: UnitSpec = { app: "hello", executable: "hello", type: "notify", port: 8080, environment: { LOG_LEVEL: "info", ODD: "50% of $HOME" }, environmentFile: true };

describe("renderReleaseCommandUnit, read by systemd itself", () => {
    const command = ["migrate", "--to", "it's \"$HOME\" at 100%"];
    const unit = renderReleaseCommandUnit(spec, command);

    test("an instance runs the release's own executable with exactly the command's words, from that release", () => {
        const loaded = loadUnit("hello-release@0123456789ab.service", unit);
        expect(loaded.warnings).toEqual([]);
        // systemd stores `$$` and turns it into `$` when it runs the command (systemd.service(5)).
        expect(loaded.execStart).toEqual([["/opt/hello/releases/0123456789ab/hello", ...command.map((w) => w.replace(/\$/g, "$$$$"))]]);
        expect(unit).toContain("WorkingDirectory=/opt/hello/releases/%i\n");
        expect(loaded.description).toBe("hello release command for release 0123456789ab");
    });

    test("it has the app's environment (PORT included) and a copy of its secret file, but its own HOME", () => {
        const app = loadUnit("hello.service", renderUnit(spec));
        const loaded = loadUnit("hello-release@abc.service", unit);
        const withoutHome = (env: string[]) => env.filter((e) => !e.startsWith("HOME="));
        expect(withoutHome(loaded.environment)).toEqual(withoutHome(app.environment));
        expect(loaded.environment).toContain("HOME=/var/cache/hello-release");
        expect(unit).toContain("EnvironmentFile=/opt/hello/release-command.env\n");
        expect(renderReleaseCommandUnit({ ...spec, environmentFile: false }, command)).not.toContain("EnvironmentFile=");
    });

    test("it is a oneshot with a bounded run time, its output in a file under /run, and every protection of the app's unit", () => {
        expect(unit).toContain("Type=oneshot\n");
        expect(unit).toContain(`TimeoutStartSec=${RELEASE_COMMAND_TIMEOUT_SECONDS}\n`);
        expect(unit).toContain("StandardOutput=truncate:/run/lisp-deploy/%p-%i.log\nStandardError=inherit\n");
        expect(unit).not.toMatch(/^Restart=/m);
        expect(unit).not.toContain("[Install]");
        const protections = (text: string) => text.split("\n").filter((l) => /^(Protect|Private|Restrict|SystemCall|NoNewPrivileges|Capability|Ambient|DynamicUser|User=|Group=|UMask|LockPersonality|RemoveIPC|KeyringMode|DevicePolicy|ProcSubset|MemoryMax)/.test(l));
        expect(protections(unit)).toEqual(protections(renderUnit(spec)));
        expect(protections(renderReleaseCommandUnit({ ...spec, user: "web", dynamicSpaceSizeMb: 1024 }, command))).toEqual(protections(renderUnit({ ...spec, user: "web", dynamicSpaceSizeMb: 1024 })));
    });

    test("systemd-analyze verify has nothing to say about an instance", () => {
        expect(verifyUnit("hello-release@0123456789ab.service", unit)).toBe("");
    });

    test("a word systemd cannot pass on is refused", () => {
        expect(() => renderReleaseCommandUnit(spec, ["a\0b"])).toThrow(ValidationError);
    });
});

describe("SystemdRelease with releaseCommand", () => {
    const activateOf = () => mocks.ofType("command:remote:Command").find((c) => c.name.endsWith("-activate"))!;

    test("the activation carries the command's template unit and its text, so the preview shows the command", async () => {
        const r = new SystemdRelease("web", args({ releaseCommand: ["migrate", "--all"] }));
        await valueOf(r.releaseId);
        await settle();
        const create: string = activateOf().inputs.create;
        expect(create).toContain(`RELEASE_COMMAND='"hello" "migrate" "--all"'`);
        expect(create).toContain("ExecStart=/opt/hello/releases/%i/hello migrate --all");
        // The shared function that runs it, and the call before anything switches.
        expect(create).toContain("run_release_command() {");
        expect(create.indexOf('run_release_command "${secret_for_command}"')).toBeLessThan(create.indexOf('ln -sfn "${target}" "${root}/.current.new"'));
    });

    test("the same inputs give the same activation text (no diff on a re-run)", async () => {
        const a = new SystemdRelease("a", args({ releaseCommand: ["migrate"] }));
        const b = new SystemdRelease("b", args({ releaseCommand: ["migrate"] }));
        await Promise.all([valueOf(a.releaseId), valueOf(b.releaseId)]);
        await settle();
        const [ca, cb] = ["a-activate", "b-activate"].map((n) => mocks.resources.find((x) => x.name === n)!.inputs.create);
        expect(ca).toBe(cb);
    });

    test("without releaseCommand the activation has no release command parameters (existing stacks see no change)", async () => {
        const r = new SystemdRelease("web", args());
        await valueOf(r.releaseId);
        await settle();
        expect(activateOf().inputs.create).not.toMatch(/^  RELEASE_COMMAND(_UNIT)?=/m);
    });

    test("zero-downtime: the slot activation runs it before the idle slot starts", async () => {
        const r = new SystemdRelease("web", args({ releaseCommand: ["migrate"], zeroDowntime: { publicPort: 18080 } }));
        await valueOf(r.releaseId);
        await settle();
        const create: string = activateOf().inputs.create;
        expect(create).toContain("RELEASE_COMMAND_UNIT=");
        expect(create.indexOf('run_release_command "${secret_for_command}" "${serving}"')).toBeLessThan(create.indexOf('say "starting release ${RELEASE_ID} on slot'));
    });

    test("a RollingRelease runs it on the first host only", async () => {
        const hosts = [{ connection }, { connection: { ...connection, host: "10.0.0.6" } }];
        const { connection: _c, ...common } = args({ releaseCommand: ["migrate"] });
        const r = new RollingRelease("fleet", { ...common, hosts });
        await valueOf(r.releaseId);
        await settle();
        const activations = mocks.ofType("command:remote:Command").filter((c) => c.name.endsWith("-activate"));
        expect(activations.map((a) => a.name)).toEqual(["fleet-host0-activate", "fleet-host1-activate"]);
        expect(activations[0].inputs.create).toMatch(/^  RELEASE_COMMAND_UNIT=/m);
        expect(activations[1].inputs.create).not.toMatch(/^  RELEASE_COMMAND(_UNIT)?=/m);
    });

    test.each([
        ["migrate", "args.releaseCommand"],
        [[], "args.releaseCommand"],
        [["migrate", ""], "args.releaseCommand[1]"],
        [["a\0b"], "args.releaseCommand[0]"],
        [["ok", 7], "args.releaseCommand[1]"],
    ])("%j is refused under %s, before anything is registered", (bad, field) => {
        let error: unknown;
        try {
            planRelease(args({ releaseCommand: bad as any }));
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).problems.map((p) => p.field)).toEqual([field]);
    });

    test("the release id still names the executable (the command does not change what a release is)", () => {
        expect(releaseIdOfFile(exe)).toHaveLength(12);
    });
});

describe("WebApp's app.releaseCommand", () => {
    const APP = "examples/hello";
    const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nk\n");
    const problems = (f: () => unknown) => {
        try {
            f();
        } catch (e) {
            if (e instanceof ValidationError) return e.problems.map((p) => p.field);
            throw e;
        }
        return [];
    };

    test("a bad command is reported under the field the user wrote, on every target", () => {
        for (const target of [
            { kind: "ssh" as const, ssh: { host: "203.0.113.7", privateKey: key } },
            { kind: "local" as const, local: {} },
        ]) {
            expect(problems(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, releaseCommand: [""] }, target }))).toEqual(["args.app.releaseCommand[0]"]);
        }
    });

    test("ssh: the plan carries the command", () => {
        const plan = planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, releaseCommand: ["migrate"] }, target: { kind: "ssh", ssh: { host: "203.0.113.7", privateKey: key } } });
        expect(plan.release?.releaseCommand).toEqual(["migrate"]);
    });

    test("heroku: accepted (Heroku's release phase runs it; test/unit/release/heroku/release-phase.test.ts and test/unit/app/heroku-target.test.ts)", () => {
        expect(problems(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, releaseCommand: ["migrate"] }, target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("k") } } }))).toEqual([]);
    });
});

describe("LocalRelease with releaseCommand", () => {
    test("a one-shot container command runs before the serving container, which depends on it", async () => {
        const release = new LocalRelease("web", { image: "img@sha256:abc", executablePath: "/app/hello", releaseCommand: ["migrate"], environment: { LOG_LEVEL: "info" }, secretEnvironment: { TOKEN: pulumi.secret("s3cret") } });
        await valueOf(release.url);
        await settle();
        const names = mocks.resources.map((r) => `${r.type} ${r.name}`);
        expect(names).toContain("command:local:Command web-release-command");
        expect(names.indexOf("command:local:Command web-release-command")).toBeLessThan(names.indexOf("docker:index/container:Container web-container"));
        const command = mocks.resources.find((r) => r.name === "web-release-command")!;
        expect(command.inputs.create).toContain("IMAGE='img@sha256:abc'");
        expect(command.inputs.create).toContain("ENV_NAMES='BIND_ADDRESS LISP_DEPLOY_ENV_FILE LOG_LEVEL PORT'");
        expect(command.inputs.create).toMatch(/release-command-container\.sh 'migrate'\n$/);
        // Values travel in the environment; the secret on stdin only.
        expect(command.inputs.create).not.toContain("info");
        expect(JSON.stringify(command.inputs.create)).not.toContain("s3cret");
        expect(command.inputs.environment.LOG_LEVEL).toBe("info");
    });

    test("the command's words reach the script as its own arguments, exactly (real sh)", () => {
        const words = ["migrate", "it's \"quoted\" $HOME `x`", "two\nlines"];
        const plan = planLocalRelease("web", { image: "img", executablePath: "/app/hello", releaseCommand: words });
        const text = releaseCommandContainerCommand(plan, "img", "/app/hello", renderContainerEnv(plan, {}), false);
        const probe = text.replace(/sh -c '[\s\S]*' release-command-container\.sh/, `sh -c 'printf "%s\\\\0" "$@"' release-command-container.sh`);
        const r = spawnSync("sh", ["-c", probe], { encoding: "utf8" });
        expect(r.stdout.split("\0").slice(0, -1)).toEqual(words);
        expect(localReleaseScript("release-command-container", {}, ["a b"])).toContain("release-command-container.sh 'a b'\n");
    });

    test("needs executablePath, and a valid command, reported together", () => {
        let error: unknown;
        try {
            planLocalRelease("web", { image: "img", releaseCommand: [""] });
        } catch (e) {
            error = e;
        }
        expect((error as ValidationError).problems.map((p) => p.field).sort()).toEqual(["args.executablePath", "args.releaseCommand[0]"]);
    });
});
