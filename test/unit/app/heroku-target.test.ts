import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../../src/errors";
import { planWebApp, WebApp, WebAppArgs } from "../../../src/app/webApp";
import { RecordingMocks, valueOf } from "../../harness/mocks";

// WebApp's heroku target hands the release command and the health check to its HerokuRelease (issue 14
// items 1 and 5). The Pulumi engine is stood in for by RecordingMocks: these tests see the exact inputs of
// the dynamic resource that does the work (its behaviour: heroku-release-phase.test.ts and the integration tests).

const DYNAMIC = "pulumi-nodejs:dynamic:HerokuRelease";

async function herokuInputs(name: string, app: Partial<WebAppArgs["app"]>, heroku: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const mocks = new RecordingMocks();
    pulumi.runtime.setMocks(mocks, "heroku-webapp-unit", "test", false);
    const web = new WebApp(name, {
        app: { path: "examples/hello", dependencySource: { kind: "debian" }, ...app },
        target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("hrku-webapp-unit-key"), ...heroku } },
    });
    await valueOf(web.url);
    await new Promise((r) => setTimeout(r, 300));
    const rec = mocks.resources.find((r) => r.type === DYNAMIC && r.name === `${name}-release-release`);
    if (!rec) throw new Error(`no HerokuRelease was registered; saw ${mocks.resources.map((r) => r.name).join(", ")}`);
    return rec.inputs;
}

test("releaseCommand reaches Heroku's release phase with the image's executable; the release is health-checked on app.healthPath by default", async () => {
    const inputs = await herokuInputs("phase", { releaseCommand: ["migrate"], healthPath: "/healthz" });
    expect(inputs.releaseCommand).toEqual(["migrate"]);
    expect(inputs.executablePath).toBe("/app/hello");
    expect([inputs.healthCheckPath, inputs.healthCheckUrl, inputs.healthCheckTimeoutSeconds]).toEqual(["/healthz", "", 90]);
});

test("healthCheck: { enabled: false } releases without checking, as Heroku alone does", async () => {
    const inputs = await herokuInputs("unchecked", { healthPath: "/healthz" }, { healthCheck: { enabled: false } });
    expect([inputs.healthCheckPath, inputs.healthCheckTimeoutSeconds]).toEqual(["", 0]);
});

test("healthCheck: {} checks the app's healthPath on the web URL with the default timeout; a url and timeout are passed on", async () => {
    const plain = await herokuInputs("check", { healthPath: "/healthz" }, { healthCheck: {} });
    expect([plain.healthCheckPath, plain.healthCheckUrl, plain.healthCheckTimeoutSeconds]).toEqual(["/healthz", "", 90]);
    expect(plain.releaseCommand).toEqual([]);
    const custom = await herokuInputs("check-url", {}, { healthCheck: { url: "https://blog.example.com", timeoutSeconds: 30 } });
    // No healthPath given: WebApp's default "/".
    expect([custom.healthCheckPath, custom.healthCheckUrl, custom.healthCheckTimeoutSeconds]).toEqual(["/", "https://blog.example.com", 30]);
});

test("bad input on the heroku target is reported under the fields the user wrote, all at once", () => {
    let err: unknown;
    try {
        planWebApp("bad", {
            app: { path: "examples/hello", dependencySource: { kind: "debian" }, releaseCommand: ["migrate", ""], healthPath: "healthz" },
            target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("k"), healthCheck: { url: "blog.example.com", timeoutSeconds: 0 } } },
        });
    } catch (e) {
        err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).problems.map((p) => p.field).sort()).toEqual([
        "args.app.healthPath",
        "args.app.releaseCommand[1]",
        "args.target.heroku.healthCheck.timeoutSeconds",
        "args.target.heroku.healthCheck.url",
    ]);
});

test("a health check that is not an object, or an enabled that is not a boolean, is refused under its field", () => {
    const problemsOf = (healthCheck: unknown) => {
        try {
            planWebApp("bad-check", {
                app: { path: "examples/hello", dependencySource: { kind: "debian" } },
                target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("k"), healthCheck: healthCheck as never } },
            });
        } catch (e) {
            return (e as ValidationError).problems.map((p) => `${p.field}: ${p.problem}`);
        }
        return [];
    };
    expect(problemsOf(true)).toEqual([expect.stringMatching(/^args\.target\.heroku\.healthCheck: must be an object such as \{ timeoutSeconds: 60 \}, or \{ enabled: false \}/)]);
    expect(problemsOf({ enabled: "no" })).toEqual([expect.stringMatching(/^args\.target\.heroku\.healthCheck\.enabled: must be true or false/)]);
});
