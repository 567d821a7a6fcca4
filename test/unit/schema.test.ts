import * as path from "path";
import * as ts from "typescript";
import * as pulumi from "@pulumi/pulumi";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import * as lib from "../../src/index";

// Other languages (Python, Go, C#, YAML) use lisp-deploy through Pulumi's multi-language component
// hosting (PulumiPlugin.yaml), whose schema is inferred from the TypeScript declarations. This test
// generates that schema offline, as the host would, and compares it with what the TypeScript compiler
// says the Args interfaces hold: an arg the inference cannot carry (a union, an intersection, a
// reference to a non-@pulumi class) fails here instead of silently missing in every other language.

const ROOT = path.resolve(__dirname, "../..");
const EXPECTED_COMPONENTS = ["LispImage", "Ec2Host", "SshHost", "SystemdRelease", "HerokuRelease", "LocalRelease", "WebApp", "DeltaRelease", "RollingRelease", "AppLoadBalancer"];

/** The TypeScript view of src/index.ts: exported component classes and every exported interface's property names. */
function declarations() {
    const program = ts.createProgram([path.join(ROOT, "src/index.ts")], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, skipLibCheck: true });
    const checker = program.getTypeChecker();
    const index = program.getSourceFile(path.join(ROOT, "src/index.ts"))!;
    const components = new Map<string, string>(); // class name -> Args interface name
    const interfaces = new Map<string, string[]>(); // interface name -> property names
    for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(index)!)) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        for (const decl of symbol.declarations ?? []) {
            if (ts.isInterfaceDeclaration(decl)) {
                interfaces.set(symbol.name, checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol)).map((p) => p.name).sort());
            }
            if (ts.isClassDeclaration(decl)) {
                const base = decl.heritageClauses?.[0]?.types[0]?.expression.getText();
                const ctor = decl.members.find(ts.isConstructorDeclaration);
                if (base === "pulumi.ComponentResource" && ctor) components.set(symbol.name, ctor.parameters[1].type!.getText());
            }
        }
    }
    return { components, interfaces };
}

describe("the package schema other languages get (PulumiPlugin.yaml, inferred from the TypeScript)", () => {
    const { components, interfaces } = declarations();
    let schema: any;

    beforeAll(async () => {
        const classes = EXPECTED_COMPONENTS.map((n) => (lib as Record<string, unknown>)[n]).filter((c) => c !== undefined) as (new (...a: any[]) => pulumi.ComponentResource)[];
        const provider = new ComponentProvider({ components: classes, name: "lisp-deploy", dirname: ROOT, version: "0.1.0" });
        schema = JSON.parse(await provider.getSchema());
    }, 120000);

    test("every component exported from src/index.ts is one of the expected components and is in the schema", () => {
        expect([...components.keys()].sort()).toEqual([...EXPECTED_COMPONENTS].sort());
        expect(Object.keys(schema.resources).sort()).toEqual(EXPECTED_COMPONENTS.map((n) => `lisp-deploy:index:${n}`).sort());
        for (const r of Object.values<any>(schema.resources)) expect(r.isComponent).toBe(true);
    });

    test.each(EXPECTED_COMPONENTS)("every field of %s's Args interface is an input of its schema resource", (name) => {
        const argsName = components.get(name)!;
        expect(interfaces.has(argsName)).toBe(true);
        expect(Object.keys(schema.resources[`lisp-deploy:index:${name}`].inputProperties).sort()).toEqual(interfaces.get(argsName));
    });

    test("every object type the schema refers to holds every field of its TypeScript interface", () => {
        const objectTypes = Object.entries<any>(schema.types).filter(([, t]) => t.type === "object");
        expect(objectTypes.length).toBeGreaterThan(5);
        for (const [token, type] of objectTypes) {
            const name = token.split(":").pop()!;
            expect({ name, fields: Object.keys(type.properties).sort() }).toEqual({ name, fields: interfaces.get(name) });
        }
    });

    test("WebApp's target is one object with a block per kind and an enum of kinds", () => {
        const target = schema.types["lisp-deploy:index:WebAppTargetArgs"];
        expect(Object.keys(target.properties).sort()).toEqual(["ec2", "heroku", "kind", "local", "ssh"]);
        expect(schema.types["lisp-deploy:index:TargetKind"].enum.map((e: { value: string }) => e.value)).toEqual(["local", "ec2", "ssh", "heroku"]);
        expect(schema.resources["lisp-deploy:index:WebApp"].requiredInputs).toEqual(["app"]);
        expect(Object.keys(schema.resources["lisp-deploy:index:WebApp"].properties)).toEqual(
            expect.arrayContaining(["url", "imageRef", "dockerfile", "unit", "userData", "sshCommand", "swankTunnel"]),
        );
    });
});
