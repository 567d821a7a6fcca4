import * as fc from "fast-check";
import { ValidationError } from "../../../../src/errors";
import { quoteArgumentForSystemd, quoteEnvironmentForSystemd, renderUnit, UnitSpec } from "../../../../src/release/systemd/unit";
import { loadUnit, verifyUnit } from "../../consumers";

// Issue 19: every value renderUnit writes reaches the app exactly as given, read back by systemd's own unit
// loader (systemd --test, systemd 252 here), or is refused with a ValidationError naming the field.

const base: UnitSpec = { app: "hello", executable: "hello", type: "notify", port: 8080, environment: {}, environmentFile: false };

/** Environment values: any text but NUL, CR, LF and unpaired surrogates (the documented refusals). */
const envValue = fc.string({ unit: "binary", maxLength: 24 }).filter((s) => !/[\0\r\n]/.test(s));
/** Bias toward the characters systemd reads specially. */
const specialValue = fc
    .array(fc.constantFrom("%", "$", "\\", '"', "'", " ", "\t", ";", "%n", "%H", "$$", "${X}", "$(id)", "`id`", "\x01", "\x7f", "é", "☃", "\\\n", "\uFFFE", "\u{10FFFF}", "\uD800", "😀"), { maxLength: 8 })
    .map((parts) => parts.join("").replace(/\n/g, ""));
const anyValue = fc.oneof(envValue, specialValue);

/** What systemd loaded for `NAME`. */
function loadedEnv(environment: readonly string[]): Record<string, string> {
    return Object.fromEntries(environment.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

describe("renderUnit under systemd's own loader: the four defects of issue 19", () => {
    test("a '%' in an Environment= value reaches the app as '%' (it was a specifier: systemd dropped the line)", () => {
        const unit = renderUnit({ ...base, environment: { DB: "pg://u:p%40ss@db/x", HOST_SPEC: "%H", NAME_SPEC: "%n" } });
        const loaded = loadUnit("hello.service", unit);
        expect(loaded.warnings).toEqual([]);
        const env = loadedEnv(loaded.environment);
        expect(env.DB).toBe("pg://u:p%40ss@db/x");
        expect(env.HOST_SPEC).toBe("%H");
        expect(env.NAME_SPEC).toBe("%n");
    });

    test("a '$' in an Environment= value reaches the app as one '$' (it was doubled: the app got $$(id))", () => {
        const unit = renderUnit({ ...base, environment: { CMD: "$(id)", REF: "${HOME}", PRICE: "5$" } });
        expect(unit).toContain('Environment="CMD=$(id)"');
        const env = loadedEnv(loadUnit("hello.service", unit).environment);
        expect(env).toMatchObject({ CMD: "$(id)", REF: "${HOME}", PRICE: "5$" });
    });

    test("an ExecStart= argument keeps '$' and '%' literal: '$' doubled (systemd.service(5) expands $ there), '%' doubled", () => {
        expect(quoteArgumentForSystemd("$HOME%n")).toBe('"$$HOME%%n"');
        expect(quoteEnvironmentForSystemd("A=$HOME%n")).toBe('"A=$HOME%%n"');
        const loaded = loadUnit("hello.service", renderUnit({ ...base, args: ["$HOME", "%n", ";", "", "a b"] }));
        expect(loaded.warnings).toEqual([]);
        // Stored argv before the exec-time expansion, where "$$" becomes "$": so the process gets "$HOME".
        expect(loaded.execStart).toEqual([["/opt/hello/current/hello", "$$HOME", "%n", ";", "", "a b"]]);
    });

    test("a description cannot add a directive: newline, control characters and a trailing backslash are refused", () => {
        for (const description of ["two\nExecStartPre=/bin/rm -rf /", "ends in \\", "bell\x07", " padded"]) {
            expect(() => renderUnit({ ...base, description })).toThrow(ValidationError);
            try {
                renderUnit({ ...base, description });
            } catch (e) {
                expect((e as ValidationError).field).toBe("description");
            }
        }
        expect(loadUnit("hello.service", renderUnit({ ...base, description: "100% sure" })).description).toBe("100% sure");
    });

    test("values with NUL, CR, LF or an unpaired surrogate are refused, naming the variable", () => {
        for (const value of ["a\0b", "a\rb", "a\nb", "a\uD800b"]) {
            expect(() => renderUnit({ ...base, environment: { SECRET_ISH: value } })).toThrow(/^environment\.SECRET_ISH: /);
        }
        expect(() => renderUnit({ ...base, args: ["ok", "a\0b"] })).toThrow(/^args\[1\]: /);
    });

    test("systemd-analyze verify has nothing to say about a unit full of hostile values", () => {
        const unit = renderUnit({
            ...base,
            description: 'it\'s "100%" $HOME \\ ok',
            environment: { A: "%n %H %% $$ $(id) `id` \\ \" '", B: "\x01\x1b[31m\x7f", C: "" },
            args: ["--flag=%n", "$X", "\\", '"', ";"],
        });
        expect(verifyUnit("hello.service", unit)).toBe("");
    });
});

describe("renderUnit property: the app receives exactly the value given, for every value not refused", () => {
    test("Environment= values, ExecStart= arguments and the description round-trip through systemd's loader", () => {
        fc.assert(
            fc.property(
                fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), anyValue, { maxKeys: 12 }),
                fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 16 }).filter((s) => !s.includes("\0")), specialValue), { maxLength: 6 }),
                fc.option(fc.oneof(fc.string({ unit: "binary", maxLength: 30 }), specialValue), { nil: undefined }),
                (environment, args, description) => {
                    // Names the renderer sets itself win over the user's; keep the user's distinct.
                    for (const own of ["HOME", "PORT"]) delete environment[own];
                    let unit: string;
                    try {
                        unit = renderUnit({ ...base, environment, args, description });
                    } catch (e) {
                        // Only the documented refusals, each naming the field the user wrote.
                        expect(e).toBeInstanceOf(ValidationError);
                        expect((e as ValidationError).field).toMatch(/^(description|args\[\d+\]|environment\.[A-Z0-9_]+)$/);
                        return;
                    }
                    const loaded = loadUnit("hello.service", unit);
                    expect(loaded.warnings).toEqual([]);
                    const env = loadedEnv(loaded.environment);
                    for (const [name, value] of Object.entries(environment)) expect(env[name]).toBe(value);
                    expect(Object.keys(env).sort()).toEqual([...new Set([...Object.keys(environment), "HOME", "PORT"])].sort());
                    // Exec-time expansion (systemd.service(5)): "$$" is one literal "$"; every "$" we write is doubled.
                    const argv = loaded.execStart[0].map((a) => a.replace(/\$\$/g, "$"));
                    expect(loaded.execStart).toHaveLength(1);
                    expect(argv).toEqual(["/opt/hello/current/hello", ...args]);
                    if (description !== undefined) expect(loaded.description).toBe(description);
                },
            ),
            { numRuns: 40 },
        );
    });
});
