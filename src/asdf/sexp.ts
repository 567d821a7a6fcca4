/**
 * A small, tolerant reader for the subset of Common Lisp syntax that `.asd` files use. It does not
 * evaluate anything: it only needs to find `defsystem` forms and read their keyword arguments, so
 * anything it does not understand becomes an opaque atom rather than an error.
 */

/** A symbol as written (`#:foo`, `:foo`, `foo`, `asdf:defsystem`); `name` is upper-cased like the reader does. */
export interface LispSymbol {
    readonly kind: "symbol";
    /** The symbol's name without package prefix, upper-cased (`:depends-on` -> `DEPENDS-ON`). */
    readonly name: string;
    /** `keyword` for `:foo`, `uninterned` for `#:foo`, otherwise the package prefix or undefined. */
    readonly package?: string;
}

/** A string literal with escapes resolved. */
export interface LispString {
    readonly kind: "string";
    readonly value: string;
}

/** A number as written (kept as text: `.asd` files only use them in version forms). */
export interface LispNumber {
    readonly kind: "number";
    readonly text: string;
}

/** A proper list; dotted pairs keep their tail as the last element (tolerated, never needed). */
export interface LispList {
    readonly kind: "list";
    readonly items: readonly Sexp[];
}

/** A prefixed form this reader does not interpret (`#'foo`, `#p"x"`, `'x`, `` `x ``, `#.x`): kept with its prefix. */
export interface LispPrefixed {
    readonly kind: "prefixed";
    /** The prefix as written, e.g. `#'`, `#p`, `'`. */
    readonly prefix: string;
    readonly form: Sexp;
}

/** One form read from the text. */
export type Sexp = LispSymbol | LispString | LispNumber | LispList | LispPrefixed;

/** Raised when the text cannot be read at all (an unterminated string, list or comment). */
export class SexpReadError extends Error {
    constructor(message: string, readonly offset: number) {
        super(message);
        this.name = "SexpReadError";
    }
}

/**
 * Decides a reader conditional's feature expression (`#+sbcl`, `#-(or ccl ecl)`).
 * The default answers as an SBCL on Linux would, because that is what the build stages run.
 */
export type FeatureTest = (expr: Sexp) => boolean;

const SBCL_LINUX_FEATURES = new Set([
    "SBCL", "LINUX", "UNIX", "X86-64", "64-BIT", "ASDF", "ASDF3", "ASDF3.1", "ASDF3.2", "ASDF3.3", "ANSI-CL",
    "COMMON-LISP", "ELF", "LITTLE-ENDIAN", "SB-THREAD", "SB-UNICODE", "SB-CORE-COMPRESSION", "IEEE-FLOATING-POINT",
]);

/** Evaluates a feature expression against the features of SBCL on Linux x86-64. */
export const sbclLinuxFeatures: FeatureTest = function test(expr: Sexp): boolean {
    if (expr.kind === "symbol") return SBCL_LINUX_FEATURES.has(expr.name);
    if (expr.kind === "list" && expr.items.length > 0 && expr.items[0].kind === "symbol") {
        const [head, ...rest] = expr.items;
        const op = (head as LispSymbol).name;
        if (op === "AND") return rest.every(test);
        if (op === "OR") return rest.some(test);
        if (op === "NOT") return rest.length === 1 && !test(rest[0]);
    }
    return false;
};

const DELIMITERS = new Set(["(", ")", '"', ";", "'", "`", ","]);

function isWhitespace(c: string): boolean {
    return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
}

/** Reads every top-level form of `text`. Comments are dropped; reader conditionals are decided by `features`. */
export function readAll(text: string, features: FeatureTest = sbclLinuxFeatures): Sexp[] {
    let pos = 0;

    function skipBlockComment(): void {
        // `#|` already consumed; block comments nest in Common Lisp.
        let depth = 1;
        const start = pos - 2;
        while (depth > 0) {
            if (pos >= text.length) throw new SexpReadError("unterminated #| comment", start);
            if (text.startsWith("|#", pos)) { depth--; pos += 2; }
            else if (text.startsWith("#|", pos)) { depth++; pos += 2; }
            else pos++;
        }
    }

    function skipAtmosphere(): void {
        while (pos < text.length) {
            const c = text[pos];
            if (isWhitespace(c)) pos++;
            else if (c === ";") { while (pos < text.length && text[pos] !== "\n") pos++; }
            else if (text.startsWith("#|", pos)) { pos += 2; skipBlockComment(); }
            else break;
        }
    }

    function readString(): LispString {
        const start = pos;
        pos++; // opening quote
        let value = "";
        while (true) {
            if (pos >= text.length) throw new SexpReadError("unterminated string", start);
            const c = text[pos++];
            if (c === '"') return { kind: "string", value };
            if (c === "\\") { value += text[pos++] ?? ""; continue; }
            value += c;
        }
    }

    function readToken(): string {
        let token = "";
        while (pos < text.length) {
            const c = text[pos];
            if (isWhitespace(c) || DELIMITERS.has(c)) break;
            if (c === "|") {
                // |Escaped Symbol| keeps its case; we keep its text verbatim.
                const end = text.indexOf("|", pos + 1);
                if (end < 0) throw new SexpReadError("unterminated |symbol|", pos);
                token += text.slice(pos + 1, end);
                pos = end + 1;
                continue;
            }
            if (c === "\\") { token += text[pos + 1] ?? ""; pos += 2; continue; }
            token += c.toUpperCase();
            pos++;
        }
        return token;
    }

    function atomFromToken(token: string): Sexp {
        if (/^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$/.test(token)) return { kind: "number", text: token };
        if (token.startsWith(":")) return { kind: "symbol", name: token.slice(1), package: "keyword" };
        const colon = token.indexOf(":");
        if (colon > 0) {
            const pkg = token.slice(0, colon);
            const name = token.slice(token[colon + 1] === ":" ? colon + 2 : colon + 1);
            return { kind: "symbol", name, package: pkg };
        }
        return { kind: "symbol", name: token };
    }

    /** Reads one form, or returns undefined at a closing paren / end of input. */
    function readForm(): Sexp | undefined {
        while (true) {
            skipAtmosphere();
            if (pos >= text.length) return undefined;
            const c = text[pos];
            if (c === ")") return undefined;
            if (c === "(") {
                const start = pos;
                pos++;
                const items: Sexp[] = [];
                while (true) {
                    const item = readForm();
                    if (item === undefined) {
                        if (pos >= text.length) throw new SexpReadError("unterminated list", start);
                        pos++; // the closing paren
                        return { kind: "list", items };
                    }
                    // A dotted pair's dot reads as the symbol "."; drop it and keep the tail as an element.
                    if (item.kind === "symbol" && item.name === "." && item.package === undefined) continue;
                    items.push(item);
                }
            }
            if (c === '"') return readString();
            if (c === "'" || c === "`") { pos++; return { kind: "prefixed", prefix: c, form: mustRead(pos) }; }
            if (c === ",") {
                const prefix = text[pos + 1] === "@" ? ",@" : ",";
                pos += prefix.length;
                return { kind: "prefixed", prefix, form: mustRead(pos) };
            }
            if (c === "#") {
                const d = text[pos + 1] ?? "";
                const lower = d.toLowerCase();
                if (d === ":") { pos += 2; const t = readToken(); return { kind: "symbol", name: t, package: "uninterned" }; }
                if (d === "+" || d === "-") {
                    pos += 2;
                    const feature = mustRead(pos);
                    const keep = features(featureKeywords(feature)) === (d === "+");
                    const form = mustRead(pos);
                    if (keep) return form;
                    continue; // the conditional form is skipped; read the next one in its place
                }
                if (d === "'" || lower === "p" || d === "." || lower === "c" || lower === "s") {
                    pos += 2;
                    return { kind: "prefixed", prefix: "#" + lower, form: mustRead(pos) };
                }
                if (d === "(") { pos += 1; return { kind: "prefixed", prefix: "#", form: mustRead(pos) }; }
                if (d === "\\") {
                    // A character: #\a, #\Space. Kept as an opaque symbol.
                    pos += 2;
                    let name = text[pos++] ?? "";
                    while (pos < text.length && !isWhitespace(text[pos]) && !DELIMITERS.has(text[pos])) name += text[pos++];
                    return { kind: "symbol", name: "#\\" + name, package: "character" };
                }
                // Anything else (#x1F, #*101, #2A...) becomes an opaque token.
                pos += 1;
                return { kind: "symbol", name: "#" + readToken() };
            }
            return atomFromToken(readToken());
        }
    }

    function mustRead(at: number): Sexp {
        const form = readForm();
        if (form === undefined) throw new SexpReadError("a form was expected", at);
        return form;
    }

    const forms: Sexp[] = [];
    while (true) {
        const form = readForm();
        if (form === undefined) {
            if (pos >= text.length) return forms;
            pos++; // a stray closing paren: tolerated
            continue;
        }
        forms.push(form);
    }
}

/** Feature expressions are read in the keyword package: `#+sbcl` means `:sbcl` whatever the current package. */
function featureKeywords(expr: Sexp): Sexp {
    if (expr.kind === "symbol") return { kind: "symbol", name: expr.name, package: "keyword" };
    if (expr.kind === "list") return { kind: "list", items: expr.items.map(featureKeywords) };
    return expr;
}

/** The designator's name as ASDF would see it: strings as written, symbols down-cased. */
export function designatorName(form: Sexp): string | undefined {
    if (form.kind === "string") return form.value;
    if (form.kind === "symbol" && form.package !== "character") return form.name.toLowerCase();
    return undefined;
}

/** True when `form` is the symbol `name` (any package), e.g. `defsystem`, `asdf:defsystem`. */
export function isSymbolNamed(form: Sexp | undefined, name: string): boolean {
    return form !== undefined && form.kind === "symbol" && form.name === name.toUpperCase();
}
