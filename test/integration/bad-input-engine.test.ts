import * as path from "path";
import { PulumiWorkspace, REPO_ROOT, scratchDir, writeProgram } from "../../support/pulumi-cli";

// What a user sees from the real Pulumi CLI (built from Go modules) when the input is bad: one clean error
// listing every problem, no stack trace, no "error serializing property" nesting, and nothing in the state.
// A throwaway program requires the built package (`npm run build` first, as every engine suite does).

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { WebApp, SshHost } = require("lisp-deploy");
const mode = new pulumi.Config().require("mode");
if (mode === "plain") {
    new WebApp("blog", { app: { path: ${JSON.stringify(path.join(REPO_ROOT, "examples", "hello"))}, port: 0, compression: "yes", runtimePackages: "libssl3" } });
} else {
    // Known only later (an Output): checked inside an apply, with the same message a plain value gets.
    new SshHost("h", { host: pulumi.output("ssh://203.0.113.7"), privateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\\nx\\n-----END OPENSSH PRIVATE KEY-----\\n") });
}
`;

describe("bad input under the real Pulumi CLI", () => {
    let ws: PulumiWorkspace;
    beforeAll(async () => {
        const scratch = scratchDir("bad-input-engine");
        const dir = path.join(scratch, "program");
        writeProgram(dir, "badinputengine", PROGRAM);
        ws = new PulumiWorkspace(dir, scratch, { PULUMI_CONFIG_PASSPHRASE: "bad-input-engine" });
        await ws.initStack("dev", { mode: "plain" });
    }, 300000);

    test("plain values: preview fails with one error listing every problem by the user's field, and nothing is registered", async () => {
        await ws.ok(["config", "set", "--stack", "dev", "mode", "plain"]);
        const run = await ws.preview("dev");
        expect(run.code).not.toBe(0);
        expect(run.out).toContain("error: 3 problems in the arguments:");
        expect(run.out).toContain("  - args.app.port: must be a whole number from 1 to 65535; got 0.");
        expect(run.out).toContain('  - args.app.runtimePackages: must be a list of strings, e.g. ["libssl3"]; got "libssl3". Write ["libssl3"].');
        expect(run.out).toContain('  - args.app.compression: must be true or false; got "yes". Write true without quotes.');
        expect(run.out).not.toMatch(/\n\s+at .*\.js:\d+/); // no stack trace
        expect(run.out).not.toContain("lisp-deploy:index:WebApp"); // nothing planned, not even the component
    }, 300000);

    test("a value known later: the same clean message, never nested in serialization errors", async () => {
        await ws.ok(["config", "set", "--stack", "dev", "mode", "late"]);
        const run = await ws.preview("dev");
        expect(run.code).not.toBe(0);
        const message = 'args.host: "ssh://203.0.113.7" is not a DNS name or IP address; give the bare host (no "ssh://", "user@" or ":port"; those have their own arguments).';
        expect(run.out).toContain(`error: ${message}`);
        // The CLI prints each diagnostic where it happens and again in its closing summary; every line
        // carrying it is the one message, never wrapped in another.
        const lines = run.out.split("\n").filter((l) => l.includes(message));
        expect(lines.length).toBeGreaterThanOrEqual(1);
        for (const line of lines) expect(line.trim()).toMatch(new RegExp(`(^|\\s)error: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
        expect(run.out).not.toContain("error serializing property");
        expect(run.out).not.toMatch(/\n\s+at .*\.js:\d+/);
    }, 300000);
});
