import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks, valueOf } from "../../../harness/mocks";

// The Pulumi engine is stood in for by RecordingMocks: these tests see the exact inputs HerokuRelease
// registers. Under mocks the dynamic provider itself is not called (test/unit/release/heroku/provider.test.ts and
// the integration test exercise it).
const mocks = new RecordingMocks();
pulumi.runtime.setMocks(mocks, "project", "stack", false);

import { HerokuRelease, HerokuReleaseArgs } from "../../../../src/release/heroku/herokuRelease";
import { ValidationError } from "../../../../src/errors";

const KEY = "hrku-mock-3b1f0c55-0d6e-4f7e-9a7b-apikey";
const DB_URL = "postgres://user:hunter2-very-secret@db.example/prod";
const DYNAMIC = "pulumi-nodejs:dynamic:HerokuRelease";

function args(over: Partial<HerokuReleaseArgs> = {}): HerokuReleaseArgs {
    return {
        image: "blog:latest",
        app: "blog-prod",
        apiKey: pulumi.secret(KEY),
        config: { LOG_LEVEL: "info", A_FIRST: "1" },
        secretConfig: { DATABASE_URL: DB_URL },
        ...over,
    };
}

async function build(name: string, a: HerokuReleaseArgs): Promise<{ release: HerokuRelease; inputs: Record<string, any> }> {
    const release = new HerokuRelease(name, a);
    await valueOf(release.imageId);
    const rec = mocks.resources.find((r) => r.type === DYNAMIC && r.name === `${name}-release`)!;
    return { release, inputs: rec.inputs };
}

/** Pulumi's wire form of a secret value: what the engine receives and encrypts into state. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function secretEnvelope(value: unknown): Record<string, unknown> {
    return { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", value };
}

/** Every string in a value that is NOT inside a secret envelope: where a plain-text leak would show. */
function plainStrings(v: unknown, out: string[] = []): string[] {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
    else if (v && typeof v === "object") {
        if (SECRET_SIG in v) return out;
        for (const [k, x] of Object.entries(v)) {
            out.push(k);
            plainStrings(x, out);
        }
    }
    return out;
}

/** Everything but the serialized provider text, which test/unit/release/heroku/serialize.test.ts covers. */
function withoutProvider(inputs: Record<string, any>): Record<string, any> {
    const { __provider, ...rest } = inputs;
    return rest;
}

test("registers one dynamic child with exact inputs and defaults, under the component's type token", async () => {
    const { inputs } = await build("blog", args());
    expect(mocks.ofType("lisp-deploy:index:HerokuRelease").map((r) => r.name)).toContain("blog");
    expect(withoutProvider(inputs)).toEqual({
        apiUrl: "https://api.heroku.com",
        registryHost: "registry.heroku.com",
        app: "blog-prod",
        createApp: false,
        region: "",
        processType: "web",
        image: "blog:latest",
        config: { A_FIRST: "1", LOG_LEVEL: "info" },
        secretConfig: secretEnvelope({ DATABASE_URL: DB_URL }),
        secretConfigKeys: ["DATABASE_URL"],
        apiKey: secretEnvelope(KEY),
        // No release phase and no health check unless asked for.
        releaseCommand: [],
        executablePath: "",
        healthCheckPath: "",
        healthCheckUrl: "",
        healthCheckTimeoutSeconds: 0,
    });
    // Sorted keys: the same config in another order gives identical inputs.
    expect(Object.keys(inputs.config)).toEqual(["A_FIRST", "LOG_LEVEL"]);
});

test("releaseCommand and healthCheck reach the provider as plain inputs, with the executable and the default timeout", async () => {
    const { inputs } = await build("phase", args({ releaseCommand: ["migrate", "--to", "latest"], executablePath: "/app/blog", healthCheck: { path: "/healthz" } }));
    expect(inputs.releaseCommand).toEqual(["migrate", "--to", "latest"]);
    expect(inputs.executablePath).toBe("/app/blog");
    expect(inputs.healthCheckPath).toBe("/healthz");
    expect(inputs.healthCheckUrl).toBe("");
    expect(inputs.healthCheckTimeoutSeconds).toBe(90);
    const custom = await build("phase-url", args({ healthCheck: { path: "/up", url: "https://blog.example.com", timeoutSeconds: 20 } }));
    expect([custom.inputs.healthCheckPath, custom.inputs.healthCheckUrl, custom.inputs.healthCheckTimeoutSeconds]).toEqual(["/up", "https://blog.example.com", 20]);
});

test("the component registers no args of its own (nothing secret stored on it)", async () => {
    await build("blog-noargs", args());
    const comp = mocks.resources.find((r) => r.type === "lisp-deploy:index:HerokuRelease" && r.name === "blog-noargs")!;
    expect(comp.inputs).toEqual({});
});

test("same inputs give identical resource inputs (preview honesty)", async () => {
    const a = await build("det-a", args());
    const b = await build("det-b", args({ config: { LOG_LEVEL: "info", A_FIRST: "1" } }));
    expect(JSON.stringify(a.inputs)).toBe(JSON.stringify(b.inputs));
});

test("the API key and secret config travel as secrets; key names stay readable", async () => {
    // Capture the child's inputs as Outputs before registration to see their secretness.
    const seen: Record<string, pulumi.Output<any>> = {};
    let secretOutputs: string[] | undefined;
    const release = new HerokuRelease("sec", args({ apiKey: KEY /* a plain string is still treated as secret */ }), {
        transformations: [
            (t) => {
                if (t.type === DYNAMIC) {
                    for (const k of Object.keys(t.props)) seen[k] = pulumi.output(t.props[k]);
                    secretOutputs = (t.opts as pulumi.CustomResourceOptions).additionalSecretOutputs;
                }
                return undefined;
            },
        ],
    });
    await valueOf(release.imageId);
    expect(await pulumi.isSecret(seen.apiKey)).toBe(true);
    expect(await pulumi.isSecret(seen.secretConfig)).toBe(true);
    expect(await pulumi.isSecret(seen.secretConfigKeys)).toBe(false);
    expect(await pulumi.isSecret(seen.config)).toBe(false);
    expect(await valueOf(seen.secretConfigKeys)).toEqual(["DATABASE_URL"]);
    // The provider's outputs echo these back; they stay secret in state.
    expect(secretOutputs).toEqual(["apiKey", "secretConfig"]);
});

test("a secretConfig passed as one secret map still yields readable key names and a secret map", async () => {
    const { inputs } = await build("secret-map", args({ secretConfig: pulumi.secret({ Z_KEY: "z", DATABASE_URL: DB_URL }) }));
    expect(inputs.secretConfigKeys).toEqual(["DATABASE_URL", "Z_KEY"]);
    expect(inputs.secretConfig).toEqual(secretEnvelope({ DATABASE_URL: DB_URL, Z_KEY: "z" }));
});

test("the API key and secret values appear nowhere in plain form: not in any input, not in the serialized provider", async () => {
    await build("leak", args({ apiKey: KEY /* even a plain string */ }));
    expect(mocks.resources.length).toBeGreaterThan(0);
    for (const r of mocks.resources) {
        for (const s of plainStrings(r.inputs)) {
            expect(s).not.toContain(KEY);
            expect(s).not.toContain("hunter2");
        }
    }
    // The check can fail: the secrets are really in the recorded inputs, inside envelopes.
    expect(JSON.stringify(mocks.resources)).toContain(KEY);
});

test("outputs come from the child (imageId, releasedImage, url)", async () => {
    const { release } = await build("outs", args());
    // RecordingMocks echoes inputs; the outputs are wired to the child's declared outputs (undefined here).
    expect(await valueOf(release.releasedImage)).toBeUndefined();
    expect(pulumi.Output.isInstance(release.url)).toBe(true);
});

describe("bad input fails at construction, naming the field and the fix", () => {
    const cases: [string, Partial<HerokuReleaseArgs>, RegExp][] = [
        ["args.app", { app: "Blog_Prod" }, /args\.app: "Blog_Prod" is not a Heroku app name: use 3-30 lowercase/],
        ["args.app", { app: "ab" }, /args\.app/],
        ["args.processType", { processType: "web dyno" }, /args\.processType: .*e\.g\. "web"/],
        ["args.apiUrl", { apiUrl: "http://api.heroku.com" }, /args\.apiUrl: .*unencrypted.*https/],
        ["args.apiUrl", { apiUrl: "https://api.heroku.com/v3" }, /args\.apiUrl: .*no path/],
        ["args.registryHost", { registryHost: "https://registry.heroku.com" }, /args\.registryHost: .*host\[:port\]/],
        ["args.image", { image: "" }, /args\.image: .*LispImage/],
        ["args.config.1BAD", { config: { "1BAD": "x" } }, /args\.config\.1BAD: .*environment variable name/],
        ["args.secretConfig.DATABASE_URL", { config: { DATABASE_URL: "x" } }, /both as a plain and as a secret/],
        ["args.apiKey", { apiKey: "" }, /args\.apiKey: is required/],
        ["args.executablePath", { releaseCommand: ["migrate"] }, /args\.executablePath: is required with releaseCommand/],
        ["args.releaseCommand", { releaseCommand: [], executablePath: "/app/blog" }, /args\.releaseCommand: must list at least one argument/],
        ["args.releaseCommand[1]", { releaseCommand: ["migrate", ""], executablePath: "/app/blog" }, /args\.releaseCommand\[1\]: is empty/],
        ["args.executablePath", { releaseCommand: ["migrate"], executablePath: "app/blog" }, /args\.executablePath: must be an absolute path/],
        ["args.healthCheck.path", { healthCheck: { path: "healthz" } }, /args\.healthCheck\.path/],
        ["args.healthCheck.timeoutSeconds", { healthCheck: { path: "/healthz", timeoutSeconds: 0 } }, /args\.healthCheck\.timeoutSeconds: must be a whole number/],
        ["args.healthCheck.url", { healthCheck: { path: "/healthz", url: "blog.example.com" } }, /args\.healthCheck\.url: must be an http\(s\) base URL/],
    ];
    test.each(cases)("%s", (field, over, re) => {
        const before = mocks.resources.length;
        let err: unknown;
        try {
            new HerokuRelease(`bad-${Math.abs(hash(JSON.stringify(over)))}`, args(over));
        } catch (e) {
            err = e;
        }
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).field).toBe(field);
        expect((err as Error).message).toMatch(re);
        // Nothing half-applied: no child was registered.
        expect(mocks.resources.slice(before).filter((r) => r.type === DYNAMIC)).toEqual([]);
    });
    test("http to loopback is allowed (what tests use)", () => {
        expect(() => new HerokuRelease("loopback", args({ apiUrl: "http://127.0.0.1:18401", registryHost: "127.0.0.1:18450" }))).not.toThrow();
    });
});

function hash(s: string): number {
    let h = 0;
    for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
    return h;
}
