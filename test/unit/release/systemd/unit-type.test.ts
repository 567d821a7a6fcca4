import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { WebApp, WebAppArgs } from "../../../../src/app/webApp";
import { validationError } from "../../../harness/errors";
import { LispImage } from "../../../../src/image/lispImage";
import { DeltaRelease } from "../../../../src/release/systemd/deltaRelease";
import { RollingRelease } from "../../../../src/release/systemd/rollingRelease";
import { activateParameters, planRelease, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";
import { renderUnit, unitTypeFor } from "../../../../src/release/systemd/unit";
import { RecordingMocks, unwrapSecrets, valueOf } from "../../../harness/mocks";
import { PRIVATE_KEY } from "../../host/host.fixtures";

// Which systemd unit type a release renders, and how long systemd waits for a start: the unit type follows
// the app (lisp-deploy's runtime sends READY=1, an app with its own main does not) unless serviceType is
// given. The Pulumi engine is stood in for by RecordingMocks; the renderers and components are the real ones.

const ROOT = path.resolve(__dirname, "../../../..");
const HELLO = "examples/hello";
const PLAIN = "examples/plain-hunchentoot";
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
const quiet = () => new Promise<void>((resolve) => setTimeout(resolve, 300));
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };

/** Answers like the providers would: a digest per build, a release id per extracted image. */
function mocks(): RecordingMocks {
    return new RecordingMocks(async (args) => {
        const inputs = unwrapSecrets(args.inputs);
        switch (args.type) {
            case "docker:index/image:Image":
                return { repoDigest: `sha256:${sha(inputs.imageName)}` };
            case "command:local:Command":
                return { stdout: args.name.endsWith("-extract") ? sha(inputs.create).slice(0, 12) : "ok" };
            case "command:remote:Command":
                return { stdout: "ok" };
            default:
                return undefined;
        }
    });
}


const typeLine = (unit: string) => unit.split("\n").find((l) => l.startsWith("Type="));
const startLine = (unit: string) => unit.split("\n").find((l) => l.startsWith("TimeoutStartSec="));

describe("unitTypeFor: the one rule", () => {
    test.each([
        [undefined, true, "notify"],
        [undefined, false, "exec"],
        [undefined, undefined, "notify"],
        ["exec", true, "exec"],
        ["notify", false, "notify"],
    ] as const)("serviceType %s, notifiesReadiness %s: %s", (serviceType, notifies, expected) => {
        expect(unitTypeFor(serviceType, notifies)).toBe(expected);
    });
});

describe("the rendered unit's start timeout", () => {
    const spec = { app: "notes", executable: "notes", type: "notify", port: 8080, environment: {}, environmentFile: false } as const;

    test("TimeoutStartSec=30 unless told; the given number otherwise", () => {
        expect(startLine(renderUnit(spec))).toBe("TimeoutStartSec=30");
        expect(startLine(renderUnit({ ...spec, startTimeoutSeconds: 5 }))).toBe("TimeoutStartSec=5");
    });

    test("a start timeout that is not 1-600 whole seconds is refused, naming the field", () => {
        for (const bad of [0, 601, 2.5]) {
            expect(validationError(() => renderUnit({ ...spec, startTimeoutSeconds: bad })).field).toBe("startTimeoutSeconds");
        }
    });
});

describe("planRelease: the unit type and the start timeout reach the unit and activate.sh", () => {
    let dir: string;
    let exe: string;
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "unit-type-"));
        exe = path.join(dir, "notes");
        fs.writeFileSync(exe, "an executable", { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const args = (patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs => ({ connection, app: "notes", port: 8080, executable: { file: exe }, ...patch });

    test("notifiesReadiness picks notify or exec; an explicit serviceType wins either way; nothing known: notify", () => {
        expect(planRelease(args({ notifiesReadiness: true })).unitSpec.type).toBe("notify");
        expect(planRelease(args({ notifiesReadiness: false })).unitSpec.type).toBe("exec");
        expect(planRelease(args({ notifiesReadiness: false, serviceType: "notify" })).unitSpec.type).toBe("notify");
        expect(planRelease(args({ notifiesReadiness: true, serviceType: "exec" })).unitSpec.type).toBe("exec");
        expect(planRelease(args()).unitSpec.type).toBe("notify");
    });

    test("startTimeoutSeconds: the unit's TimeoutStartSec and activate.sh's START_TIMEOUT, default 30", () => {
        const plan = planRelease(args({ startTimeoutSeconds: 7 }));
        expect(plan.unitSpec.startTimeoutSeconds).toBe(7);
        const params = activateParameters(args(), plan, { releaseId: "abc", executableName: "notes", unitText: "U", hasSecrets: false });
        expect(params.START_TIMEOUT).toBe("7");
        expect(params.HEALTH_TIMEOUT).toBe("30");
        expect(planRelease(args()).startTimeoutSeconds).toBe(30);
        expect(validationError(() => planRelease(args({ startTimeoutSeconds: 0 }))).field).toBe("args.startTimeoutSeconds");
        expect(validationError(() => planRelease(args({ serviceType: "simple" as never }))).field).toBe("args.serviceType");
    });

    test("zero-downtime slots and RollingRelease's hosts follow the same rule", async () => {
        await pulumi.runtime.setMocks(mocks(), "lisp-deploy", "unit", false);
        const zdt = new SystemdRelease("notes", args({ notifiesReadiness: false, startTimeoutSeconds: 9, zeroDowntime: { publicPort: 8000 } }));
        const slotUnit = await valueOf(zdt.unit);
        expect(typeLine(slotUnit)).toBe("Type=exec");
        expect(startLine(slotUnit)).toBe("TimeoutStartSec=9");
        const rolling = new RollingRelease("fleet", { ...args({ notifiesReadiness: false }), hosts: [{ connection }, { connection, port: 8081 }] });
        expect((await valueOf(rolling.units)).map(typeLine)).toEqual(["Type=exec", "Type=exec"]);
        await quiet();
    });
});

describe("LispImage and WebApp: the unit type follows the app's .asd", () => {
    async function webApp(appPath: string, patch: Partial<WebAppArgs["app"]> = {}) {
        const m = mocks();
        await pulumi.runtime.setMocks(m, "webapp-unit-type", "test", false);
        const args: WebAppArgs = {
            app: { path: appPath, dependencySource: { kind: "debian" }, healthPath: "/healthz", ...patch },
            target: { kind: "ssh", ssh: { host: "10.0.0.5", privateKey: pulumi.secret(PRIVATE_KEY) } },
        };
        const app = new WebApp("notes", args);
        const unit = await valueOf(app.unit);
        await quiet();
        const activate = m.resources.find((r) => r.name === "notes-release-activate")!;
        return { unit, activate: unwrapSecrets(activate.inputs).create as string };
    }

    test("LispImage outputs notifiesReadiness: true for examples/hello (lisp-deploy/hunchentoot), false for the plain app", async () => {
        await pulumi.runtime.setMocks(mocks(), "image-unit-type", "test", false);
        const hello = new LispImage("hello-ready", { appDir: HELLO, dependencySource: { kind: "debian" } });
        const plain = new LispImage("plain-ready", { appDir: PLAIN, dependencySource: { kind: "debian" } });
        expect(await valueOf(hello.notifiesReadiness)).toBe(true);
        expect(hello.usesLispDeployRuntime).toBe(true);
        expect(await valueOf(plain.notifiesReadiness)).toBe(false);
        expect(plain.usesLispDeployRuntime).toBe(false);
        await quiet();
    });

    test("an app on lisp-deploy's runtime gets Type=notify; a plain app with its own main gets Type=exec", async () => {
        const hello = await webApp(HELLO);
        expect(typeLine(hello.unit)).toBe("Type=notify");
        expect(hello.unit).toContain("NotifyAccess=main");
        const plain = await webApp(PLAIN);
        expect(typeLine(plain.unit)).toBe("Type=exec");
        expect(plain.unit).not.toContain("NotifyAccess");
        expect(startLine(plain.unit)).toBe("TimeoutStartSec=30");
        // The health check runs with the unit's start timeout and checks systemd's state (lib/common.sh).
        expect(plain.activate).toContain("START_TIMEOUT='30'");
        expect(plain.activate).toContain("systemctl show --property ActiveState,SubState,NRestarts,InvocationID,Type,Result");
    });

    test("an explicit app.serviceType wins over the .asd, both ways; app.startTimeoutSeconds reaches the unit and the script", async () => {
        const forced = await webApp(PLAIN, { serviceType: "notify", startTimeoutSeconds: 5 });
        expect(typeLine(forced.unit)).toBe("Type=notify");
        expect(startLine(forced.unit)).toBe("TimeoutStartSec=5");
        expect(forced.activate).toContain("START_TIMEOUT='5'");
        const execHello = await webApp(HELLO, { serviceType: "exec" });
        expect(typeLine(execHello.unit)).toBe("Type=exec");
    });

    test("bad serviceType or startTimeoutSeconds name WebApp's own fields, before anything is registered", async () => {
        await pulumi.runtime.setMocks(mocks(), "webapp-unit-type", "bad", false);
        const target = { kind: "ssh", ssh: { host: "h", privateKey: "k" } } as const;
        expect(validationError(() => new WebApp("bad", { app: { path: PLAIN, serviceType: "simple" as never }, target })).field).toBe("args.app.serviceType");
        expect(validationError(() => new WebApp("bad", { app: { path: PLAIN, startTimeoutSeconds: 0 }, target })).field).toBe("args.app.startTimeoutSeconds");
    });
});

test("DeltaRelease reads the unit type from the app it builds: a plain app runs under Type=exec", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "delta-unit-type-"));
    try {
        const appDir = path.join(work, "plain");
        fs.cpSync(path.join(ROOT, PLAIN), appDir, { recursive: true });
        await pulumi.runtime.setMocks(mocks(), "lisp-deploy", "unit", false);
        const plain = new DeltaRelease("plain-delta", { connection, app: "notes", appDir, dependencySource: { kind: "debian" }, port: 8080 });
        expect(typeLine(await valueOf(plain.unit))).toBe("Type=exec");
        const forced = new DeltaRelease("forced-delta", { connection, app: "notes", appDir, dependencySource: { kind: "debian" }, port: 8080, serviceType: "notify" });
        expect(typeLine(await valueOf(forced.unit))).toBe("Type=notify");
        await quiet();
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
});
