import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { releaseIdOfFile, SystemdRelease, SystemdReleaseArgs } from "../../../../src/release/systemd/systemdRelease";

// Unit layer: the Pulumi engine is stood in for by RecordingMocks; nothing runs on a host.
let mocks: RecordingMocks;
let dir: string;
let exe: string;
const connection = { host: "10.0.0.5", port: 22, user: "admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material\n" };

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-unit-"));
    exe = path.join(dir, "hello");
    fs.writeFileSync(exe, "not really an executable, but content to hash", { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
    mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
});

function args(patch: Partial<SystemdReleaseArgs> = {}): SystemdReleaseArgs {
    return {
        connection,
        app: "hello",
        executable: { file: exe },
        port: 8080,
        environment: { LOG_LEVEL: "info" },
        secretEnvironment: { API_TOKEN: pulumi.secret("tok-123") },
        healthCheck: { path: "/healthz", timeoutSeconds: 20 },
        ...patch,
    };
}

const isSecret = (v: any) => v && typeof v === "object" && v[rpc.specialSigKey] === rpc.specialSecretSig;
const settle = () => new Promise((r) => setTimeout(r, 100));

test("wires prepare → upload → activate under the component, with exact inputs", async () => {
    const r = new SystemdRelease("web", args());
    const id = releaseIdOfFile(exe);
    expect(await valueOf(r.releaseId)).toBe(id);
    await settle();
    expect(mocks.resources.map((x) => `${x.type} ${x.name}`)).toEqual([
        "lisp-deploy:index:SystemdRelease web",
        "command:remote:Command web-prepare",
        "command:remote:CopyToRemote web-upload",
        "command:remote:Command web-activate",
    ]);
    const [prepare] = mocks.ofType("command:remote:Command");
    expect(prepare.inputs.create).toContain(`RELEASE_ID='${id}'`);
    const upload = mocks.ofType("command:remote:CopyToRemote")[0];
    expect(upload.inputs.remotePath).toBe(`/opt/hello/releases/${id}/.upload-hello`);
    const activate = mocks.ofType("command:remote:Command")[1];
    expect(activate.inputs.create).toContain("HEALTH_URL='http://127.0.0.1:8080/healthz'");
    expect(activate.inputs.create).toContain("SECRET_ENV='1'");
    expect(activate.inputs.create).toContain("Environment=LOG_LEVEL=info");
    expect(activate.inputs.delete).toContain("APP='hello'");
    expect(activate.inputs.delete).toContain("remove.sh");
    // The component registers no args: nothing (secrets included) is stored for it.
    expect(mocks.resources[0].inputs).toEqual({});
    expect(await valueOf(r.url)).toBe("http://10.0.0.5:8080/");
    expect(await valueOf(r.unit)).toContain("Type=notify");
    expect(await valueOf(r.swankTunnel)).toBeUndefined();
});

test("secrets travel only as secrets: the connection and stdin are wrapped, no command text holds them", async () => {
    new SystemdRelease("web", args());
    await settle();
    for (const res of mocks.resources.filter((x) => x.type.startsWith("command:"))) {
        expect(isSecret(res.inputs.connection)).toBe(true);
        expect(JSON.stringify(res.inputs.create ?? "")).not.toContain("tok-123");
        expect(JSON.stringify(res.inputs.create ?? "")).not.toContain("key-material");
    }
    const activate = mocks.ofType("command:remote:Command")[1];
    expect(isSecret(activate.inputs.stdin)).toBe(true);
    expect(activate.inputs.stdin.value).toBe('API_TOKEN="tok-123"\n');
});

test("the same inputs give identical resource inputs (previews stay quiet)", async () => {
    new SystemdRelease("web", args());
    await settle();
    const first = JSON.stringify(mocks.resources);
    mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    new SystemdRelease("web", args({ environment: { LOG_LEVEL: "info" } }));
    await settle();
    expect(JSON.stringify(mocks.resources)).toBe(first);
});

test("Swank: SWANK_PORT in the unit and an ssh -L tunnel command as output", async () => {
    const r = new SystemdRelease("web", args({ swankPort: 4005, serviceType: "exec" }));
    expect(await valueOf(r.unit)).toContain("Environment=SWANK_PORT=4005");
    expect(await valueOf(r.swankTunnel)).toBe("ssh -N -L 4005:127.0.0.1:4005 -p 22 admin@10.0.0.5");
});

test("an image source extracts with docker create + docker cp to a relative path and takes the release id from its output", async () => {
    // The mock answers the extract command as the real one would: the short sha256 on stdout.
    mocks = new RecordingMocks(async (a) => (a.type === "command:local:Command" ? { stdout: "0123456789ab\n" } : undefined));
    await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    const r = new SystemdRelease("web", args({ executable: { image: "registry.local/hello@sha256:abc", path: "/app/hello" } }));
    await settle();
    const extract = mocks.ofType("command:local:Command")[0];
    expect(extract.name).toBe("web-extract");
    // src/release/systemd/scripts/extract-executable.sh with these parameters (test/unit/release/systemd/scripts.test.ts runs it).
    expect(extract.inputs.create).toContain("IMAGE='registry.local/hello@sha256:abc'");
    expect(extract.inputs.create).toContain("PATH_IN_IMAGE='/app/hello'");
    expect(extract.inputs.create).toContain("DESTINATION='.lisp-deploy/web/hello'");
    expect(extract.inputs.create).not.toContain(os.tmpdir());
    expect(await valueOf(r.releaseId)).toBe("0123456789ab");
    await settle();
    const upload = mocks.ofType("command:remote:CopyToRemote")[0];
    expect(upload.inputs.remotePath).toBe("/opt/hello/releases/0123456789ab/.upload-hello");
    expect(await upload.inputs.source.path).toBe(".lisp-deploy/web/hello");
});

test.each<[Partial<SystemdReleaseArgs>, string]>([
    [{ app: "My App" }, "args.app"],
    [{ port: 99999 }, "args.port"],
    [{ executable: { file: "/nonexistent/hello" } }, "args.executable.file"],
    [{ executable: { image: "x", path: "relative/hello" } }, "args.executable.path"],
    [{ executableName: "../x" }, "args.executableName"],
    [{ keepReleases: 1 }, "args.keepReleases"],
    [{ healthCheck: { path: "healthz" } }, "args.healthCheck.path"],
    [{ healthCheck: { expectedStatus: 42 } }, "args.healthCheck.expectedStatus"],
    [{ healthCheck: { timeoutSeconds: 0 } }, "args.healthCheck.timeoutSeconds"],
    [{ swankPort: 8080 }, "args.swankPort"],
    [{ environment: { "NO-DASH": "x" } }, "args.environment.NO-DASH"],
    [{ secretEnvironment: { LOG_LEVEL: "x" } }, "args.secretEnvironment.LOG_LEVEL"],
    [{ user: "Bad User" }, "args.user"],
])("bad input %j fails at construction naming %s, registering nothing", async (patch, field) => {
    let error: unknown;
    try {
        new SystemdRelease("web", args(patch));
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    await settle();
    expect(mocks.resources.filter((r) => r.type.startsWith("command:"))).toEqual([]);
});
