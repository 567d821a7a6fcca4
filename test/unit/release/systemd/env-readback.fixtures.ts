import * as fc from "fast-check";

/**
 * Environment values for the read-back tests (test/unit/release/systemd/env-readback.test.ts, and on a real systemd host
 * test/integration/env-readback.test.ts), and the refusal rules written out independently of src/, so the
 * renderers are checked against the rules rather than against themselves.
 */

/** Characters and sequences systemd's parsers read specially: specifiers, quotes, escapes, comments, blanks. */
const special = fc.constantFrom(
    "%", "%n", "%H", "%%", "$", "$$", "${X}", "$(id)", "`id`", "\\", "\\\\", '"', "'", " ", "\t", ";", "#", "=",
    "\\x41", "\\n", "\x01", "\x1b", "\x7f", "é", "☃", "😀", "\u00a0", "\u2028", "\ufeff",
);
/** What systemd cannot take in some or all places: NUL, line breaks, a lone surrogate, noncharacters. */
const awkward = fc.constantFrom("\0", "\n", "\r", "\r\n", "\uD800", "\uDFFF", "\uFFFE", "\uFDD0", "\u{10FFFF}", "\u{1FFFE}");

/** Any text, biased toward what systemd reads specially, now and then with something it cannot take. */
export const hostileValue: fc.Arbitrary<string> = fc.oneof(
    { arbitrary: fc.string({ unit: "binary", maxLength: 24 }), weight: 3 },
    { arbitrary: fc.string({ unit: "binary-ascii", maxLength: 24 }), weight: 3 },
    { arbitrary: fc.array(fc.oneof({ arbitrary: special, weight: 12 }, { arbitrary: awkward, weight: 1 }), { maxLength: 8 }).map((parts) => parts.join("")), weight: 4 },
);

/** A lone UTF-16 surrogate (no UTF-8 form) or a Unicode noncharacter (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF): systemd's UTF-8 check refuses both. */
export function hasTextSystemdRefuses(value: string): boolean {
    for (let i = 0; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0xd800 && unit <= 0xdbff) {
            const next = value.charCodeAt(i + 1);
            if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
            const cp = (unit - 0xd800) * 0x400 + (next - 0xdc00) + 0x10000;
            if ((cp & 0xfffe) === 0xfffe) return true;
            i++;
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            return true;
        } else if ((unit >= 0xfdd0 && unit <= 0xfdef) || unit === 0xfffe || unit === 0xffff) {
            return true;
        }
    }
    return false;
}

/** What an `Environment=` value may not hold (renderUnit's rule): NUL, CR, LF, and what systemd refuses as text. */
export function environmentLineRefuses(value: string): boolean {
    return /[\0\r\n]/.test(value) || hasTextSystemdRefuses(value);
}

/** What a value of the secret `EnvironmentFile=` may not hold: NUL (a C string ends there) and what systemd refuses as text. Line breaks are fine inside its double quotes. */
export function environmentFileRefuses(value: string): boolean {
    return value.includes("\0") || hasTextSystemdRefuses(value);
}
