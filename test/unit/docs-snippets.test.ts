import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

// Docs that cannot lie: every ```ts block of the Markdown a user reads is type-checked against the package,
// as if pasted into a Pulumi program that imports "lisp-deploy". A snippet may use `host`, `image` and
// `config` without declaring them (the preamble below declares whichever of them it uses and does not
// declare itself); everything else it uses, imports included, must be in the snippet. A block preceded by
// `<!-- snippet: fragment -->` is only parsed, not type-checked (see CONTRIBUTING.md, "Docs").

const ROOT = path.resolve(__dirname, "../..");

/** The Markdown files whose ```ts blocks users copy: README.md, CONTRIBUTING.md, src/**\/README*.md, examples/**\/README.md. */
function documentedFiles(): string[] {
    const found: string[] = ["README.md", "CONTRIBUTING.md"];
    const walk = (dir: string, keep: (name: string) => boolean) => {
        for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const rel = path.posix.join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== "node_modules" && !entry.name.startsWith(".")) walk(rel, keep);
            } else if (keep(entry.name)) found.push(rel);
        }
    };
    walk("src", (n) => /^README.*\.md$/.test(n));
    walk("examples", (n) => n === "README.md");
    return found;
}

interface Snippet {
    /** The Markdown file, relative to the repository. */
    file: string;
    /** 1-based line of the snippet's first code line in that file. */
    line: number;
    code: string;
    fragment: boolean;
}

/** Every ```ts / ```typescript block of a Markdown text, with the line its code starts on. */
function extractSnippets(file: string, text: string): Snippet[] {
    const lines = text.split("\n");
    const out: Snippet[] = [];
    for (let i = 0; i < lines.length; i++) {
        const open = /^\s*```\s*(ts|typescript)\s*$/.exec(lines[i]);
        if (!open) continue;
        let end = i + 1;
        while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
        if (end === lines.length) throw new Error(`${file}:${i + 1}: a \`\`\`ts block is never closed`);
        let before = i - 1;
        while (before >= 0 && lines[before].trim() === "") before--;
        const fragment = before >= 0 && /^<!--\s*snippet:\s*fragment\b.*-->$/.test(lines[before].trim());
        out.push({ file, line: i + 2, code: lines.slice(i + 1, end).join("\n"), fragment });
        i = end;
    }
    return out;
}

/** What a snippet may assume without declaring it, and nothing more. */
const PREAMBLE: Record<string, string> = {
    host: 'declare const host: import("lisp-deploy").Host;',
    image: 'declare const image: import("lisp-deploy").LispImage;',
    config: 'declare const config: import("@pulumi/pulumi").Config;',
};

/** The preamble lines for the assumed names a snippet uses but does not declare itself. */
function preambleFor(code: string): string[] {
    return Object.entries(PREAMBLE)
        .filter(([name]) => new RegExp(`\\b${name}\\b`).test(code))
        .filter(([name]) => !new RegExp(`\\b(const|let|var|function|class)\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}|import\\s+\\*\\s+as\\s+${name}\\b`).test(code))
        .map(([, line]) => line);
}

/** Compiler options: the test tsconfig's (strict, `paths` to src/index.ts), minus what a doc may do (unused names). */
function compilerOptions(): ts.CompilerOptions {
    const configFile = ts.readConfigFile(path.join(ROOT, "tsconfig.test.json"), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
    return { ...parsed.options, types: ["node"], noEmit: true, noUnusedLocals: false, noUnusedParameters: false, isolatedModules: false };
}

interface Checked {
    snippet: Snippet;
    errors: string[];
}

/** Type-checks every non-fragment snippet in one program; each snippet is its own virtual module under docs/. */
function checkSnippets(snippets: Snippet[]): Checked[] {
    const options = compilerOptions();
    const virtual = new Map<string, { snippet: Snippet; text: string; offset: number }>();
    snippets.forEach((snippet, i) => {
        const preamble = preambleFor(snippet.code);
        const name = path.join(ROOT, "docs", `.snippet-${i}-${snippet.file.replace(/[^A-Za-z0-9]+/g, "_")}-${snippet.line}.ts`);
        // `export {}` makes every snippet a module, so two snippets' top-level names never collide.
        virtual.set(name, { snippet, text: [...preamble, snippet.code, "export {};", ""].join("\n"), offset: preamble.length });
    });
    const host = ts.createCompilerHost(options, true);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
        const v = virtual.get(path.resolve(fileName));
        return v ? ts.createSourceFile(fileName, v.text, languageVersion, true) : getSourceFile(fileName, languageVersion, onError, shouldCreate);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (fileName) => virtual.has(path.resolve(fileName)) || fileExists(fileName);
    const readFile = host.readFile.bind(host);
    host.readFile = (fileName) => virtual.get(path.resolve(fileName))?.text ?? readFile(fileName);

    const program = ts.createProgram([...virtual.keys()].filter((f) => !virtual.get(f)!.snippet.fragment), options, host);
    const results: Checked[] = [];
    for (const [fileName, v] of virtual) {
        const sf = program.getSourceFile(fileName) ?? ts.createSourceFile(fileName, v.text, ts.ScriptTarget.ES2022, true);
        const diagnostics = v.snippet.fragment
            ? ((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [])
            : [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
        const errors = diagnostics.map((d) => {
            const { line } = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: v.offset };
            const mdLine = v.snippet.line + line - v.offset;
            return `${v.snippet.file}:${mdLine}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
        });
        results.push({ snippet: v.snippet, errors });
    }
    return results;
}

const snippets = documentedFiles().flatMap((file) => extractSnippets(file, fs.readFileSync(path.join(ROOT, file), "utf8")));

// A known-wrong snippet (the README-systemd mistake of issue 18) checked in the same program, so the
// checker's own reporting is tested without compiling the package twice.
const WRONG = ["# x", "", "```ts", 'import { LispImage } from "lisp-deploy";', "", 'const image = new LispImage("a", { appDir: "." });', "export const r = image.ref;", "```", ""].join("\n");
const wrong = extractSnippets("doc.md", WRONG)[0];

let checked: Checked[] = [];
beforeAll(() => {
    checked = checkSnippets([...snippets, wrong]);
}, 120000);
const errorsOf = (snippet: Snippet) => checked.find((c) => c.snippet === snippet)!.errors;

describe("the ```ts snippets of the docs type-check against the package", () => {
    test("the docs hold snippets, and few are marked as fragments", () => {
        expect(snippets.length).toBeGreaterThanOrEqual(6);
        expect(snippets.filter((s) => s.fragment).length).toBeLessThanOrEqual(2);
    });

    test.each(snippets.map((s) => [`${s.file}:${s.line}`, s] as const))("%s", (_where, snippet) => {
        expect(errorsOf(snippet)).toEqual([]);
    });
});

describe("the snippet checker itself", () => {
    test("reports a wrong field at its line in the Markdown file", () => {
        expect(errorsOf(wrong)).toHaveLength(1);
        expect(errorsOf(wrong)[0]).toMatch(/^doc\.md:7: TS2339 Property 'ref' does not exist on type 'LispImage'/);
    });

    test("declares only the assumed names a snippet uses and does not declare", () => {
        expect(preambleFor("new SystemdRelease('a', { connection: host.connection, executable: { image: image.imageRef } })")).toEqual([PREAMBLE.host, PREAMBLE.image]);
        expect(preambleFor("const config = new pulumi.Config(); config.require('x')")).toEqual([]);
        expect(preambleFor('const hostname = "imageless"; export const c = config.require("x");')).toEqual([PREAMBLE.config]);
    });

    test("a fragment is parsed but not type-checked", () => {
        const md = ["<!-- snippet: fragment -->", "```ts", "{ app: { path: undefinedThing } }", "```"].join("\n");
        const [s] = extractSnippets("doc.md", md);
        expect(s.fragment).toBe(true);
        expect(checkSnippets([s])[0].errors).toEqual([]);
    });

    test("finds README.md, CONTRIBUTING.md, the READMEs under src/ and examples/", () => {
        const files = documentedFiles();
        expect(files).toEqual(expect.arrayContaining(["README.md", "CONTRIBUTING.md", "src/release/systemd/README.md", "src/release/heroku/README.md", "examples/local/README.md"]));
        expect(files.every((f) => !f.includes("node_modules"))).toBe(true);
    });
});
