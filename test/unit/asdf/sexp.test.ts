import { designatorName, readAll, SexpReadError } from "../../../src/asdf/sexp";

describe("the tolerant s-expression reader", () => {
    test("drops line comments and nested block comments", () => {
        const forms = readAll(`; a comment\n#| outer #| inner |# still outer |# (a ; trailing\n b)`);
        expect(forms).toEqual([{ kind: "list", items: [{ kind: "symbol", name: "A" }, { kind: "symbol", name: "B" }] }]);
    });

    test("reads strings with escapes, keywords, uninterned and package-qualified symbols", () => {
        const [list] = readAll(`("a \\"q\\" b" :key #:unint asdf:defsystem pkg::internal 1.5)`);
        expect(list).toEqual({
            kind: "list",
            items: [
                { kind: "string", value: 'a "q" b' },
                { kind: "symbol", name: "KEY", package: "keyword" },
                { kind: "symbol", name: "UNINT", package: "uninterned" },
                { kind: "symbol", name: "DEFSYSTEM", package: "ASDF" },
                { kind: "symbol", name: "INTERNAL", package: "PKG" },
                { kind: "number", text: "1.5" },
            ],
        });
    });

    test("keeps #', #p and quote prefixes as opaque prefixed forms", () => {
        const forms = readAll(`#'main #p"/tmp/x" 'sym #P"y"`);
        expect(forms.map((f) => (f.kind === "prefixed" ? f.prefix : f.kind))).toEqual(["#'", "#p", "'", "#p"]);
    });

    test("decides reader conditionals as SBCL on Linux would", () => {
        const forms = readAll(`(#+sbcl "sb" #-sbcl "not-sb" #+(or ccl ecl) "ccl" #+(and unix (not windows)) "unix" #-ccl "no-ccl")`);
        expect(forms[0].kind === "list" && forms[0].items.map(designatorName)).toEqual(["sb", "unix", "no-ccl"]);
    });

    test("an unterminated string or list is a read error with its offset", () => {
        expect(() => readAll(`(defsystem "x`)).toThrow(SexpReadError);
        expect(() => readAll(`(defsystem "x"`)).toThrow(/unterminated list/);
    });

    test("designators: strings as written, symbols down-cased", () => {
        expect(readAll(`"Foo" #:bar :baz qux`).map(designatorName)).toEqual(["Foo", "bar", "baz", "qux"]);
    });
});
