import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { herokuReleaseProvider } from "../../../../src/release/heroku/provider";
import { FakeHerokuApi } from "../../../../support/heroku-api-fake";

// Pulumi stores a dynamic provider as the text of its closure and runs that text in the provider host.
// Here the provider is serialized exactly as pulumi.dynamic.Resource does it, loaded from a file outside
// the source tree, and driven against the contract-checking fake of the Platform API (stand-in for Heroku).

const KEY = "hrku-serialize-9c1e-4a2b-key";

let text = "";
let loaded: pulumi.dynamic.ResourceProvider;
let dir = "";

beforeAll(async () => {
    const sf = await pulumi.runtime.serializeFunction(() => herokuReleaseProvider, { allowSecrets: true });
    text = sf.text;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "heroku-serialized-"));
    const file = path.join(dir, "provider.js");
    fs.writeFileSync(file, text);
    loaded = require(file)[sf.exportName]();
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the serialized provider is self-contained: no relative requires, no machine paths, small", () => {
    expect(text).not.toMatch(/require\(["']\.{1,2}\//);
    expect(text).not.toContain(process.cwd());
    expect(text).not.toContain(os.homedir());
    // Only Node built-ins are required.
    const required = Array.from(text.matchAll(/require\(["']([^"']+)["']\)/g), (m) => m[1]).sort();
    expect(new Set(required)).toEqual(new Set(["child_process", "fs", "os", "path"]));
    // Nothing big captured by accident (the whole Pulumi SDK would be megabytes).
    expect(text.length).toBeLessThan(60_000);
});

test("the serialized provider works on its own: read and delete against the Platform API fake", async () => {
    const api = new FakeHerokuApi(18402);
    await api.start();
    try {
        api.keys.set(KEY, "alice");
        const app = api.addApp("blog-prod", "alice", { LOG_LEVEL: "warn" });
        app.formation.web = { quantity: 1 };
        const props = {
            apiUrl: api.url,
            registryHost: "registry.heroku.com",
            app: "blog-prod",
            createApp: false,
            region: "",
            processType: "web",
            image: "blog:latest",
            config: { LOG_LEVEL: "info" },
            secretConfig: {},
            secretConfigKeys: [],
            apiKey: KEY,
            imageId: "sha256:" + "a".repeat(64),
            releasedImage: "registry.heroku.com/blog-prod/web",
            manifestDigest: "sha256:" + "b".repeat(64),
            appCreated: false,
            webUrl: "",
        };
        // check (validation at preview time) works from the serialized text too, ValidationError included.
        const bad = await loaded.check!({}, { ...props, app: "Bad_Name" });
        expect(bad.failures).toEqual([{ property: "app", reason: expect.stringMatching(/^args\.app: "Bad_Name" is not a Heroku app name/) }]);
        expect(await loaded.check!({}, props)).toEqual({ inputs: props });
        const r = await loaded.read!("id", props);
        expect(r.props.config).toEqual({ LOG_LEVEL: "warn" });
        await loaded.delete!("id", props);
        expect(app.formation.web.quantity).toBe(0);
        expect(app.configVars).toEqual({});
        // HerokuApiError survives serialization: a 404 on delete is still recognised as "already gone".
        api.apps.clear();
        await expect(loaded.delete!("id", props)).resolves.toBeUndefined();
        // Error messages survive serialization (an Error subclass would lose them).
        api.addApp("blog-prod", "alice");
        api.keys.delete(KEY);
        const err = await loaded.delete!("id", props).catch((e) => e);
        expect(err.message).toMatch(/^Heroku rejected the API key \(401 Unauthorized\).*"blog-prod"/);
        expect(err.message).not.toContain(KEY);
        expect(api.violations).toEqual([]);
    } finally {
        await api.stop();
    }
});
