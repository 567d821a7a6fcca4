import * as fc from "fast-check";
import { ValidationError } from "../../../../src/errors";
import { renderEnvironmentFile } from "../../../../src/release/systemd/scripts";
import { renderUnit } from "../../../../src/release/systemd/unit";
import { environmentFileRefuses, environmentLineRefuses, hasTextSystemdRefuses, hostileValue } from "./env-readback.fixtures";

/**
 * The pure half of issue 19's environment read-back: which values each renderer refuses (exactly the
 * documented ones, naming the variable the user wrote) and the shape of the secret file. That systemd
 * gives the app exactly the value for everything else is shown on a real systemd host by
 * test/integration/env-readback.test.ts; Environment= lines are also loaded by systemd's own unit loader in
 * test/unit/release/systemd/unit-injection.test.ts.
 *
 * Refused, and why (systemd 252, systemd.exec(5)):
 *   - Environment= (renderUnit): NUL, CR, LF (one variable per line, by rule: systemd itself would take
 *     CR and LF as \x0d and \x0a, which the integration test shows), a lone UTF-16 surrogate, a Unicode
 *     noncharacter (systemd ignores the whole assignment).
 *   - EnvironmentFile= (renderEnvironmentFile): NUL, a lone surrogate, a noncharacter (systemd then refuses
 *     the whole file and does not start the unit). CR and LF are carried inside the double quotes.
 */

const base = { app: "hello", executable: "hello", type: "exec" as const, port: 8080, environmentFile: false };

/** Reads one double-quoted value back by systemd.exec(5)'s rule: `\` before `\`, `"`, `$` or a backquote escapes it; any other character is itself. */
function readQuoted(text: string): string {
    let out = "";
    for (let i = 0; i < text.length; i++) {
        if (text[i] === "\\" && i + 1 < text.length && '\\"$`'.includes(text[i + 1])) out += text[++i];
        else if (text[i] === '"') throw new Error(`an unescaped quote ends the value early at ${i} in ${JSON.stringify(text)}`);
        else out += text[i];
    }
    return out;
}

describe("renderEnvironmentFile (the secret EnvironmentFile=)", () => {
    test("property: refuses exactly NUL and text systemd refuses, naming args.secretEnvironment.<NAME>; otherwise one KEY=\"...\" record per name whose quoted text reads back as the value", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), hostileValue, { maxKeys: 10 }), (env) => {
                const bad = Object.keys(env).sort().find((name) => environmentFileRefuses(env[name]));
                if (bad !== undefined) {
                    expect(() => renderEnvironmentFile(env)).toThrow(ValidationError);
                    try {
                        renderEnvironmentFile(env);
                    } catch (e) {
                        expect((e as ValidationError).field).toBe(`args.secretEnvironment.${bad}`);
                    }
                    return;
                }
                const text = renderEnvironmentFile(env);
                // Records, not lines: a value may hold a line break. Each is NAME="...", then a newline.
                const records = [...text.matchAll(/([A-Z_][A-Z0-9_]*)="((?:[^"\\]|\\[\s\S])*)"\n/g)];
                expect(records.map((m) => m[0]).join("")).toBe(text);
                expect(records.map((m) => m[1])).toEqual(Object.keys(env).sort());
                for (const [, name, quoted] of records) expect(readQuoted(quoted)).toBe(env[name]);
            }),
            { numRuns: 500 },
        );
    });

    test("the values issue 19 found mishandled elsewhere are written so the app gets them as given", () => {
        expect(renderEnvironmentFile({ DB: "pg://u:p%40ss@db/x", CMD: "$(id) `id`", PEM: "-----BEGIN-----\nAA\n", BS: "a\\" })).toBe(
            'BS="a\\\\"\nCMD="\\$(id) `id`"\nDB="pg://u:p%40ss@db/x"\nPEM="-----BEGIN-----\nAA\n"\n',
        );
    });

    test("the refusals say what to do, with the field the user wrote (or the caller's)", () => {
        expect(() => renderEnvironmentFile({ TOKEN: "a\0b" })).toThrow("args.secretEnvironment.TOKEN: must not contain NUL: no environment variable can hold it; remove it.");
        expect(() => renderEnvironmentFile({ TOKEN: "a\uFFFEb" }, "args.app.secretEnvironment")).toThrow(
            "args.app.secretEnvironment.TOKEN: contains an unpaired UTF-16 surrogate or a Unicode noncharacter (U+FFFE...): systemd would refuse the whole file and not start the app; remove it.",
        );
        expect(() => renderEnvironmentFile({ TOKEN: "\uD800" })).toThrow(/^args\.secretEnvironment\.TOKEN: contains an unpaired UTF-16 surrogate/);
        expect(() => renderEnvironmentFile({ TOKEN: 42 as unknown as string })).toThrow("args.secretEnvironment.TOKEN: must be a string; got number.");
    });
});

describe("renderUnit's Environment= lines refuse exactly the documented values", () => {
    test("property: a value is refused iff it holds NUL, CR, LF or text systemd refuses, and the error names environment.<NAME>", () => {
        fc.assert(
            fc.property(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/).filter((n) => n !== "HOME" && n !== "PORT"), hostileValue, (name, value) => {
                let error: unknown;
                try {
                    renderUnit({ ...base, environment: { [name]: value } });
                } catch (e) {
                    error = e;
                }
                expect({ value, refused: error !== undefined }).toEqual({ value, refused: environmentLineRefuses(value) });
                if (error !== undefined) {
                    expect(error).toBeInstanceOf(ValidationError);
                    expect((error as ValidationError).field).toBe(`environment.${name}`);
                }
            }),
            { numRuns: 1000 },
        );
    });
});

test("the refusal rule of the tests: surrogates alone and noncharacters, not their neighbours", () => {
    for (const bad of ["\uD800", "x\uDFFF", "\uFDD0", "\uFDEF", "\uFFFE", "\uFFFF", "\u{1FFFE}", "\u{10FFFF}"]) expect(hasTextSystemdRefuses(bad)).toBe(true);
    for (const ok of ["", "\uFDCF", "\uFDF0", "\uFFFD", "😀", "\u{1FFFD}", "\u{10FFFD}", "\u{20000}"]) expect(hasTextSystemdRefuses(ok)).toBe(false);
});
