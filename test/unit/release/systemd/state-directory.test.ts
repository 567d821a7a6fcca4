import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks, valueOf } from "../../../harness/mocks";
import { ValidationError } from "../../../../src/errors";
import { planWebApp } from "../../../../src/app/plan";
import { LocalRelease, planLocalRelease, renderContainerEnv, stateVolumeCommand } from "../../../../src/release/local/localRelease";
import { planReleaseSettings } from "../../../../src/release/systemd/systemdRelease";
import { planZeroDowntime, renderSlotUnits } from "../../../../src/release/systemd/zeroDowntime";
import { renderReleaseCommandUnit, renderUnit, UnitSpec } from "../../../../src/release/systemd/unit";
import { loadUnit, verifyUnit } from "../../consumers";

// Unit layer for `stateDirectory`: the units read by systemd itself, the local volume's wiring through
// RecordingMocks, the refusal on heroku. That data survives releases and rollbacks is for the integration
// layer (a real systemd host, a real Docker engine).

const spec: UnitSpec = { app: "blog", executable: "blog", type: "notify", port: 8080, environment: {}, environmentFile: false, stateDirectory: "blog" };
const problemsOf = (f: () => unknown): string[] => {
    try {
        f();
    } catch (e) {
        if (e instanceof ValidationError) return e.problems.map((p) => p.field);
        throw e;
    }
    return [];
};

describe("StateDirectory= in the units", () => {
    test("the app's unit keeps /var/lib/<name>, and with a dynamic user every unit runs as the one named after the app", () => {
        const unit = renderUnit(spec);
        // 0700: systemd's default would be 0755, readable by every local user where the user is not dynamic.
        expect(unit).toContain("StateDirectory=blog\nStateDirectoryMode=0700\n");
        expect(unit).toContain("DynamicUser=yes\nUser=blog\nGroup=blog\n");
        expect(verifyUnit("blog.service", unit)).toBe("");
        expect(loadUnit("blog.service", unit).warnings).toEqual([]);
    });

    test("both slots and the release command share the directory and the user, so none takes it from another", () => {
        const zdt = planZeroDowntime("args.zeroDowntime", "blog", 8080, { publicPort: 18080 });
        const slots = renderSlotUnits(spec, zdt);
        const release = renderReleaseCommandUnit(spec, ["migrate"]);
        for (const text of [slots.blue, slots.green, release]) {
            expect(text).toContain("StateDirectory=blog\nStateDirectoryMode=0700\n");
            expect(text).toContain("DynamicUser=yes\nUser=blog\nGroup=blog\n");
        }
        expect(verifyUnit("blog-blue.service", slots.blue)).toBe("");
        expect(verifyUnit("blog-release@0123456789ab.service", release)).toBe("");
    });

    test("with a user of its own, that user owns it; without stateDirectory the unit is as before (no change for existing stacks)", () => {
        const own = renderUnit({ ...spec, user: "web" });
        expect(own).toContain("User=web\nGroup=web\n");
        expect(own).not.toContain("DynamicUser=yes");
        const before = renderUnit({ ...spec, stateDirectory: undefined });
        expect(before).not.toContain("StateDirectory=");
        expect(before).toContain("DynamicUser=yes\nCacheDirectory=blog\n");
    });

    test("systemd sets STATE_DIRECTORY itself: the unit does not, and the user may not either", () => {
        expect(renderUnit(spec)).not.toContain("STATE_DIRECTORY");
        expect(problemsOf(() => planReleaseSettings({ app: "blog", port: 8080, stateDirectory: "blog", environment: { STATE_DIRECTORY: "/x" } }, "blog"))).toEqual(["args.environment.STATE_DIRECTORY"]);
        expect(problemsOf(() => planReleaseSettings({ app: "blog", port: 8080, environment: { STATE_DIRECTORY: "/x" } }, "blog"))).toEqual([]);
    });

    test.each([
        ["Blog", "args.stateDirectory"],
        ["../etc", "args.stateDirectory"],
        ["a/b", "args.stateDirectory"],
        ["", "args.stateDirectory"],
    ])("%j is refused under %s", (bad, field) => {
        expect(problemsOf(() => planReleaseSettings({ app: "blog", port: 8080, stateDirectory: bad }, "blog"))).toEqual([field]);
    });

    test("an app name too long for a user name needs `user` with a dynamic user", () => {
        const app = "a".repeat(40);
        expect(problemsOf(() => planReleaseSettings({ app, port: 8080, stateDirectory: "data" }, "blog"))).toEqual(["args.stateDirectory"]);
        expect(problemsOf(() => planReleaseSettings({ app, port: 8080, stateDirectory: "data", user: "web" }, "blog"))).toEqual([]);
    });
});

describe("the local target's state volume", () => {
    let mocks: RecordingMocks;
    beforeEach(async () => {
        mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "lisp-deploy", "unit", false);
    });

    test("a retained Docker volume, mounted at /var/lib/<name>, given to the runtime user before the container starts", async () => {
        const release = new LocalRelease("web", { image: "img@sha256:abc", stateDirectory: "blog" });
        await valueOf(release.url);
        await new Promise((r) => setTimeout(r, 300));
        const names = mocks.resources.map((r) => `${r.type} ${r.name}`);
        expect(names).toEqual(expect.arrayContaining(["docker:index/volume:Volume web-state-volume", "command:local:Command web-state"]));
        expect(names.indexOf("command:local:Command web-state")).toBeLessThan(names.indexOf("docker:index/container:Container web-container"));
        expect(mocks.resources.find((r) => r.name === "web-state-volume")!.inputs.name).toBe("lisp-deploy-blog");
        const container = mocks.resources.find((r) => r.name === "web-container")!;
        expect(container.inputs.volumes).toEqual([{ volumeName: "lisp-deploy-blog", containerPath: "/var/lib/blog" }]);
        expect(container.inputs.envs).toContain("STATE_DIRECTORY=/var/lib/blog");
        expect(mocks.resources.find((r) => r.name === "web-state")!.inputs.create).toBe(stateVolumeCommand("img@sha256:abc", { volume: "lisp-deploy-blog", path: "/var/lib/blog" }));
    });

    test("STATE_DIRECTORY is the release's own: a user value is refused", () => {
        expect(problemsOf(() => planLocalRelease("web", { image: "img", stateDirectory: "blog", environment: { STATE_DIRECTORY: "/x" } }))).toEqual(["args.environment.STATE_DIRECTORY"]);
        const plan = planLocalRelease("web", { image: "img" });
        expect(renderContainerEnv(plan, {})).not.toContain("STATE_DIRECTORY=/var/lib/blog");
    });
});

describe("WebApp's app.stateDirectory", () => {
    const APP = "examples/hello";
    const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nk\n");

    test("ssh: the release's unit spec carries it", () => {
        const plan = planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, stateDirectory: "blog" }, target: { kind: "ssh", ssh: { host: "203.0.113.7", privateKey: key } } });
        expect(plan.release?.unitSpec.stateDirectory).toBe("blog");
    });

    test("a bad name is reported under args.app.stateDirectory", () => {
        expect(problemsOf(() => planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, stateDirectory: "Bad/Name" }, target: { kind: "local", local: {} } }))).toEqual(["args.app.stateDirectory"]);
    });

    test("heroku: refused at preview, pointing to an add-on", () => {
        let error: unknown;
        try {
            planWebApp("blog", { app: { path: APP, dependencySource: { kind: "debian" }, stateDirectory: "blog" }, target: { kind: "heroku", heroku: { app: "blog-prod", apiKey: pulumi.secret("k") } } });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        const problems = (error as ValidationError).problems;
        expect(problems.map((p) => p.field)).toEqual(["args.app.stateDirectory"]);
        expect(problems[0].problem).toMatch(/add-on/);
    });
});
