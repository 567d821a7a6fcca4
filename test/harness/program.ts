import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as ts from "typescript";
import * as YAML from "yaml";
import { valueOf } from "./mocks";

/** A Pulumi project as its Pulumi.yaml describes it: name, program directory, config defaults. */
export interface Project {
    /** The project's name: the namespace of its config keys. */
    name: string;
    /** The program's directory (Pulumi.yaml's `main:`, else the project's own directory). */
    programDir: string;
    /** The config defaults Pulumi.yaml declares, as strings (what `pulumi config` would hold). */
    defaults: Record<string, string>;
}

/** Reads a Pulumi.yaml the way the Pulumi CLI does for what a program run needs. */
export function readProject(projectFile: string): Project {
    const doc = YAML.parse(fs.readFileSync(projectFile, "utf8"));
    const dir = path.dirname(projectFile);
    const defaults: Record<string, string> = {};
    for (const [key, spec] of Object.entries<any>(doc.config ?? {})) {
        const value = spec && typeof spec === "object" && "default" in spec ? spec.default : spec;
        if (value !== undefined && value !== null && typeof value !== "object") defaults[key] = String(value);
    }
    return { name: doc.name, programDir: path.join(dir, doc.main ?? "."), defaults };
}

/**
 * Sets the stack's config as `pulumi config set` would: Pulumi.yaml's defaults, then `values`, then
 * `secrets` (marked secret, so `config.requireSecret` hands them out wrapped).
 */
export function setStackConfig(project: Project, values: Record<string, string> = {}, secrets: Record<string, string> = {}): void {
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...project.defaults, ...values, ...secrets })) all[`${project.name}:${k}`] = v;
    pulumi.runtime.setAllConfig(all, Object.keys(secrets).map((k) => `${project.name}:${k}`));
}

/**
 * Runs a program's index.ts (after the mocks were set) and returns its exports resolved to plain values.
 * The program's own file is compiled and executed afresh on every call, as each `pulumi up` starts a new
 * process; what it imports (@pulumi/pulumi, lisp-deploy) comes from the caller's module registry, so the
 * program talks to the mocks the caller set (under jest, whose registry ignores require.cache, too).
 */
export async function runProgram(programDir: string): Promise<Record<string, any>> {
    const dir = path.resolve(programDir);
    const entry = path.join(dir, "index.ts");
    const js = ts.transpileModule(fs.readFileSync(entry, "utf8"), {
        fileName: entry,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const module = { exports: {} as Record<string, unknown> };
    const programRequire = (id: string) => require(id.startsWith(".") ? path.resolve(dir, id) : id);
    new Function("exports", "require", "module", "__filename", "__dirname", js)(module.exports, programRequire, module, entry, dir);
    const exported = module.exports;
    const values: Record<string, any> = {};
    for (const [k, v] of Object.entries(exported)) values[k] = await valueOf(v as pulumi.Output<unknown>);
    return values;
}
