#!/usr/bin/env node
// `npm run up`: what `pulumi up` does with the repository's Pulumi.yaml, on a machine without the Pulumi
// CLI. It runs the same program (examples/local, Pulumi.yaml's `main:`) with the same config defaults,
// under a stand-in for the Pulumi engine whose resource handlers act for real: a real `docker build` of
// the rendered Dockerfile, a real `docker run`, a real health check. It prints the stack outputs and
// leaves the app serving (the container restarts unless stopped; `docker rm -f lisp-deploy-hello` ends it).
// With the Pulumi CLI: `pulumi up` in the repository root runs the same program.
//
// TypeScript (the program, the harness) is compiled on load with the typescript package's transpiler;
// the program's `import ... from "lisp-deploy"` resolves to this repository's src/, as `file:../..` would.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");
const ts = require("typescript");

const root = path.resolve(__dirname, "..");
process.chdir(root);

require.extensions[".ts"] = (module, filename) => {
    const source = fs.readFileSync(filename, "utf8");
    const out = ts.transpileModule(source, {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    module._compile(out.outputText, filename);
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
    return resolve.call(this, request === "lisp-deploy" ? path.join(root, "src", "index.ts") : request, ...rest);
};

const { upProject } = require("../test/harness/up.ts");
upProject(path.join(root, "Pulumi.yaml"), process.argv.slice(2)).then(
    (outputs) => {
        for (const [k, v] of Object.entries(outputs)) {
            if (k === "dockerfile") continue; // long; `pulumi stack output dockerfile` would print it
            console.log(`${k}: ${v}`);
        }
        // Let the components' last registrations reach the stand-in before the process ends.
        setTimeout(() => process.exit(0), 500);
    },
    (e) => {
        console.error(`up: ${e.message}`);
        process.exit(1);
    },
);
