#!/usr/bin/env node
"use strict";
// Writes docs/api-reference.md: every component's args and outputs with type, default and doc comment,
// generated from the package schema, the one Pulumi's multi-language component hosting infers from the
// TypeScript declarations (PulumiPlugin.yaml) and hands to Python, Go, C# and YAML users. So the page
// says what every language gets, and test/unit/api-reference.test.ts fails when it is stale.
//   npm run docs            regenerate the page
// Plain JavaScript on purpose: it runs without a build (the schema is inferred from src/ itself).

const fs = require("fs");
const path = require("path");
const ts = require("typescript");
const { ComponentProvider } = require("@pulumi/pulumi/provider/experimental");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "docs", "api-reference.md");
const PACKAGE = "lisp-deploy";
const TOKEN_PREFIX = `${PACKAGE}:index:`;

/**
 * What the TypeScript compiler says about src/index.ts's exports: the component classes (in export
 * order) with their Args type, and the doc comment and type text of every property of every exported
 * interface and Args type. The page takes names, types and docs from the schema; this fills in what
 * the schema drops (a description it lost, the TypeScript type behind an `Any`).
 */
function sourceView() {
    const index = path.join(ROOT, "src", "index.ts");
    const program = ts.createProgram([index], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, skipLibCheck: true });
    const checker = program.getTypeChecker();
    const components = []; // { name, args: Map<prop, {doc, type}> }
    const types = new Map(); // exported type name -> { doc, props: Map<prop, {doc, type}> }
    const propsOf = (type, at) => {
        const props = new Map();
        for (const p of checker.getPropertiesOfType(type)) {
            const t = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(p, at));
            props.set(p.name, { doc: ts.displayPartsToString(p.getDocumentationComment(checker)), type: checker.typeToString(t) });
        }
        return props;
    };
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index));
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        const doc = ts.displayPartsToString(symbol.getDocumentationComment(checker));
        for (const decl of symbol.declarations ?? []) {
            if (ts.isInterfaceDeclaration(decl)) {
                types.set(symbol.name, { doc, props: propsOf(checker.getDeclaredTypeOfSymbol(symbol), decl) });
            } else if (ts.isTypeAliasDeclaration(decl) && !types.has(symbol.name)) {
                types.set(symbol.name, { doc, props: new Map() });
            } else if (ts.isClassDeclaration(decl)) {
                const base = decl.heritageClauses?.[0]?.types[0]?.expression.getText();
                const ctor = decl.members.find(ts.isConstructorDeclaration);
                if (base === "pulumi.ComponentResource" && ctor) {
                    const argsType = checker.getTypeAtLocation(ctor.parameters[1]);
                    const instance = checker.getDeclaredTypeOfSymbol(symbol);
                    components.push({ name: symbol.name, doc, args: propsOf(argsType, decl), outputs: propsOf(instance, decl) });
                }
            }
        }
    }
    // WebApp is the entry point most programs start from: first; the rest in src/index.ts's order.
    components.sort((a, b) => (a.name === "WebApp" ? -1 : b.name === "WebApp" ? 1 : 0));
    return { components, types };
}

/** The schema other languages get, inferred offline exactly as the component host infers it. */
async function packageSchema(componentNames) {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
    // The analyzer needs only the classes' names (it reads the declarations from src/), not the classes.
    const provider = new ComponentProvider({ components: componentNames.map((name) => ({ name })), name: PACKAGE, dirname: ROOT, version });
    return JSON.parse(await provider.getSchema());
}

/**
 * The default a field's doc comment states. Defaults are not part of a Pulumi schema; the house style
 * writes them in the doc ("Default 22.", "default `/`", "(default: the only `.asd` ...)", `"bridge"
 * (default)`, "Off by default."). Returns undefined when the comment names none.
 */
function defaultOf(description) {
    if (!description) return undefined;
    const text = description.replace(/\s+/g, " ");
    // `"bridge" (default)` / "`caddy` (default)": the value before the marker.
    const marked = /("[^"]+"|`[^`]+`|\S+) \(default\)/.exec(text);
    if (marked) return marked[1];
    const byDefault = /\b(\w+) by default\b/i.exec(text);
    if (byDefault) return byDefault[1].toLowerCase();
    // The last "default" that states one: not "Heroku's default" (someone else's), not "defaults to" in a
    // side remark, and after an adjective use ("Default `PORT` of the image (default 8080)").
    let m = null;
    for (const found of text.matchAll(/\b([Dd]efaults?)\b(:?)\s*/g)) {
        if (/'s $/.test(text.slice(0, found.index))) continue;
        if (found[1].toLowerCase() === "defaults" && found[2] !== ":") continue;
        m = found;
    }
    if (!m) return undefined;
    // Scan from after "default[s][:]" to the end of the phrase: a sentence end, ';', ': ' or the ')'
    // that closes a "(default ...)", skipping code spans and nested parentheses.
    const rest = text.slice(m.index + m[0].length);
    let depth = 0;
    let i = 0;
    for (; i < rest.length; i++) {
        const c = rest[i];
        if (c === "`") {
            const close = rest.indexOf("`", i + 1);
            if (close === -1) break;
            i = close;
            continue;
        }
        if (c === "(") depth++;
        else if (c === ")") {
            if (depth === 0) break;
            depth--;
        } else if (depth === 0 && (c === ";" || ((c === "." || c === ":") && (i + 1 === rest.length || rest[i + 1] === " ")))) break;
    }
    const value = rest.slice(0, i).trim();
    return value === "" ? undefined : value;
}

/** Markdown-safe text for a table cell: one line, `|` escaped, `<` and `>` outside code spans as entities. */
function cell(text) {
    return text
        .replace(/\s+/g, " ")
        .trim()
        .split(/(`[^`]*`)/)
        .map((part) => (part.startsWith("`") ? part : part.replace(/</g, "&lt;").replace(/>/g, "&gt;")))
        .join("")
        .replace(/\|/g, "\\|");
}

/** Markdown-safe prose: `<` and `>` outside code spans as entities, line breaks kept. */
function prose(text) {
    return text
        .trim()
        .split(/(`[^`]*`)/)
        .map((part) => (part.startsWith("`") ? part : part.replace(/</g, "&lt;").replace(/>/g, "&gt;")))
        .join("");
}

const anchor = (name) => name.toLowerCase();
const typeName = (token) => token.slice(TOKEN_PREFIX.length);

/** A schema type as the page writes it: `string`, `number[]`, `map of string`, a link to an object or enum type. */
function renderType(prop, tsType) {
    if (prop.$ref) {
        if (prop.$ref === "pulumi.json#/Any") return tsType ? `any (TypeScript: \`${tsType}\`)` : "any";
        if (prop.$ref === "pulumi.json#/Archive" || prop.$ref === "pulumi.json#/Asset") return prop.$ref.split("/").pop().toLowerCase();
        const name = typeName(prop.$ref.replace(/^#\/types\//, ""));
        return `[${name}](#${anchor(name)})`;
    }
    if (prop.type === "array") return `${renderType(prop.items)}[]`;
    if (prop.type === "object") return prop.additionalProperties ? `map of ${renderType(prop.additionalProperties)}` : "object";
    return prop.type;
}

/** The doc of a property: the schema's, else (when the schema lost it) the TypeScript declaration's. */
function docOf(prop, source) {
    const d = prop.description && prop.description.trim();
    return d || (source && source.doc) || "";
}

function propertyTable(properties, required, sourceProps, withDefaults) {
    const rows = [];
    rows.push(withDefaults ? "| name | type | required | default | description |" : "| name | type | description |");
    rows.push(withDefaults ? "| --- | --- | --- | --- | --- |" : "| --- | --- | --- |");
    for (const [name, prop] of Object.entries(properties)) {
        const source = sourceProps && sourceProps.get(name);
        const doc = docOf(prop, source);
        let type = renderType(prop, source && source.type);
        if (prop.secret) type += " (secret)";
        if (withDefaults) {
            const isRequired = required.includes(name);
            const def = isRequired ? "" : defaultOf(doc);
            rows.push(`| \`${name}\` | ${type} | ${isRequired ? "yes" : "no"} | ${def ? cell(def) : "—"} | ${cell(doc)} |`);
        } else {
            rows.push(`| \`${name}\` | ${type} | ${cell(doc)} |`);
        }
    }
    return rows.join("\n");
}

/** Renders the page. Pure apart from reading src/ (through the compiler and the schema inference). */
async function generate() {
    const source = sourceView();
    const schema = await packageSchema(source.components.map((c) => c.name));
    const out = [];
    out.push(
        "# API reference",
        "",
        "<!-- Generated by scripts/api-reference.js from the package schema: do not edit; run `npm run docs`. -->",
        "",
        `Every component of the \`${PACKAGE}\` package (version ${schema.version}), its arguments and its outputs, as`,
        "the package schema states them: the schema Pulumi infers from the TypeScript declarations for other",
        "languages (`PulumiPlugin.yaml`), so the names and types here are what Python, Go, C# and YAML programs",
        "use too. Descriptions are the doc comments of the TypeScript declarations.",
        "",
        "- **type**: the schema's. `any (TypeScript: ...)` marks a field the schema inference could not type",
        "  (other languages get an untyped value there); the TypeScript type is what the component accepts.",
        "- **required**: in the schema's `requiredInputs`.",
        "- **default**: not part of a Pulumi schema; read from the field's doc comment, where the house style",
        "  states it (\"Default 22.\"). \"—\" means the comment names none: the field is then simply unset.",
        "- Inputs accept plain values or Pulumi outputs (`pulumi.Input<T>`) unless the TypeScript says otherwise.",
        "",
        "Regenerate with `npm run docs`; `test/unit/api-reference.test.ts` fails when this page is stale.",
        "",
        "## Components",
        "",
        "| component | type token |",
        "| --- | --- |",
    );
    for (const c of source.components) out.push(`| [${c.name}](#${anchor(c.name)}) | \`${TOKEN_PREFIX}${c.name}\` |`);
    out.push("");

    for (const c of source.components) {
        const resource = schema.resources[`${TOKEN_PREFIX}${c.name}`];
        if (!resource) throw new Error(`${c.name} is a component in src/index.ts but missing from the schema`);
        out.push(`## ${c.name}`, "", `\`${TOKEN_PREFIX}${c.name}\``, "", prose(resource.description || c.doc), "");
        out.push("### Arguments", "", propertyTable(resource.inputProperties || {}, resource.requiredInputs || [], c.args, true), "");
        out.push("### Outputs", "", propertyTable(resource.properties || {}, resource.required || [], c.outputs, false), "");
    }

    const types = Object.entries(schema.types).sort(([a], [b]) => typeName(a).localeCompare(typeName(b)));
    out.push("## Types", "", "Object and enum types the components' fields refer to.", "");
    for (const [token, type] of types) {
        const name = typeName(token);
        const ts = source.types.get(name);
        out.push(`### ${name}`, "");
        const doc = (type.description || (ts && ts.doc) || "").trim();
        if (doc) out.push(prose(doc), "");
        if (type.enum) {
            out.push(`An enum of ${type.type}s:`, "", "| value | name | description |", "| --- | --- | --- |");
            for (const e of type.enum) out.push(`| \`${JSON.stringify(e.value)}\` | ${e.name} | ${cell(e.description || "")} |`);
            out.push("");
        } else {
            out.push(propertyTable(type.properties || {}, type.required || [], ts && ts.props, true), "");
        }
    }
    return { markdown: out.join("\n").replace(/\n{3,}/g, "\n\n"), schema, source };
}

module.exports = { generate, defaultOf, cell, OUT };

if (require.main === module) {
    generate().then(
        ({ markdown }) => {
            fs.mkdirSync(path.dirname(OUT), { recursive: true });
            fs.writeFileSync(OUT, markdown);
            console.log(`wrote ${path.relative(ROOT, OUT)}`);
        },
        (err) => {
            console.error(err);
            process.exit(1);
        },
    );
}
