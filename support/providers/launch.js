#!/usr/bin/env node
// Serves one of the provider plugins in this folder over gRPC with @pulumi/pulumi's provider host, the way
// the Pulumi engine starts any `pulumi-resource-<name>` binary it finds on PATH: the engine passes its own
// address as the last argument and reads the port the plugin listens on from its stdout.
// Usage (from the bin/ wrappers): launch.js <provider-folder> [engine arguments...]
//
// The providers are TypeScript; they are transpiled on load with the typescript package's transpiler
// (no build step, no type check here: `npm run typecheck` checks them with everything else).
"use strict";
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

require.extensions[".ts"] = (module, filename) => {
    const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    module._compile(out.outputText, filename);
};

const [folder, ...engineArgs] = process.argv.slice(2);
const { provider } = require(path.join(__dirname, folder, "provider.ts"));
const pulumi = require("@pulumi/pulumi/provider");
pulumi.main(provider, engineArgs).catch((err) => {
    process.stderr.write(`${folder} provider: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
