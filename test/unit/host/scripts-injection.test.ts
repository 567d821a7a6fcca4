import * as fc from "fast-check";
import { ValidationError } from "../../../src/errors";
import { renderUserData } from "../../../src/host/cloudInit";
import { renderProxyConfig, ReverseProxy } from "../../../src/release/systemd/proxy";
import { releaseScript } from "../../../src/release/systemd/scripts";
import { cloudInitValidate, runSh, shParseErrors } from "../consumers";

// Issue 19: cloud-init user data and release script command text read back by their real consumers
// (cloud-init's schema validator and YAML loader; dash as /bin/sh), for arbitrary values.

const hostile = fc.oneof(
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.array(fc.constantFrom("a", "z", "0", "-", ".", "+", "_", "'", '"', "$", "$(id)", "`id`", ";", "\\", "\n", "\r", "#", ": ", "- ", "{", "[", "*", "&", "!", "|", ">", "%", " ", "yes", "on", "0644", "é"), { minLength: 1, maxLength: 8 }).map((p) => p.join("")),
);

describe("renderUserData property: cloud-init reads back exactly the user and packages given, or the value is refused", () => {
    test("appUser and extraPackages", () => {
        const cases = fc.sample(fc.tuple(fc.oneof(hostile, fc.stringMatching(/^[a-z_][a-z0-9_-]{0,8}$/)), fc.array(fc.oneof(hostile, fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,8}$/)), { maxLength: 3 })), { numRuns: 120, seed: 19 });
        const rendered: { appUser: string; extraPackages: string[]; text: string }[] = [];
        for (const [appUser, extraPackages] of cases) {
            try {
                rendered.push({ appUser, extraPackages, text: renderUserData({ appUser, extraPackages }) });
            } catch (e) {
                expect(e).toBeInstanceOf(ValidationError);
                expect((e as ValidationError).field).toMatch(/^args\.(appUser|extraPackages\[\d\])$/);
            }
        }
        expect(rendered.length).toBeGreaterThan(20);
        const results = cloudInitValidate(rendered.map((r) => r.text));
        results.forEach((result, i) => {
            expect(result.error).toBe("");
            const config = result.config as { users: unknown[]; packages: string[] };
            expect((config.users[1] as { name: string }).name).toBe(rendered[i].appUser);
            expect(config.packages).toEqual(expect.arrayContaining(rendered[i].extraPackages));
        });
    });
});

describe("releaseScript property: every parameter reaches the script exactly, under sh", () => {
    test("sh -n parses the command text and the script sees each value byte for byte", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), fc.oneof(hostile, fc.string({ unit: "binary", maxLength: 30 })).filter((v) => !v.includes("\0")), { minKeys: 1, maxKeys: 5 }), (params) => {
                // Names start with a letter: bash owns "$_" (it sets it to the last argument). The stub script prints each parameter NUL-terminated; `sudo -n` is not reached as root.
                const stub = Object.keys(params)
                    .sort()
                    .map((k) => `printf '%s\\0' "$${k}"`)
                    .join("\n");
                const command = releaseScript("prepare", params, stub);
                expect(shParseErrors(command)).toBe("");
                const run = runSh(command);
                expect(run.stderr).toBe("");
                expect(run.status).toBe(0);
                const values = run.stdout.toString("utf8").split("\0").slice(0, -1);
                expect(values).toEqual(Object.keys(params).sort().map((k) => Buffer.from(params[k], "utf8").toString("utf8")));
            }),
            { numRuns: 60 },
        );
    });
});

describe("renderProxyConfig refuses what would add a directive", () => {
    test.each([
        [{ app: "hello\n}\nserver { listen 1;" }, "app"],
        [{ domain: "a.example.com\n}" }, "domain"],
        [{ listenAddress: "0.0.0.0;" }, "listenAddress"],
    ])("%j", (change, field) => {
        for (const proxy of [ReverseProxy.Caddy, ReverseProxy.Nginx]) {
            const spec = { app: "hello", proxy, upstreamPort: 18001, publicPort: 80, adminPort: 2019, ...change };
            expect(() => renderProxyConfig(spec)).toThrow(new RegExp(`^${field}: `));
        }
    });
});
