#!/usr/bin/env bash
# Runs bench/engine.ts, which writes bench/REPORT-engine.md: no-change `pulumi preview` / `pulumi up` wall time
# of examples/local and of a generated 1,000-file app under the REAL Pulumi CLI, beside the acting engine.
# ROUNDS=n (default 5; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
# Sources nothing secret: support/pulumi-cli.ts reads scripts/pulumi-env.sh (offline settings, the local demo
# passphrase of throwaway stacks in a temp dir). Cleans up the stacks, containers and images it made.
set -euo pipefail
cd "$(dirname "$0")/.."
# The program under the real CLI requires the compiled package (node_modules/lisp-deploy -> bin/).
npm run --silent build
# TypeScript is transpiled on load (as support/providers/launch.js does), so support/pulumi-cli.ts finds the
# repository root beside itself; `npm run typecheck` type-checks this file with everything else.
exec node -e '
const fs = require("fs");
const ts = require("typescript");
require.extensions[".ts"] = (module, filename) => {
    const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    module._compile(out.outputText, filename);
};
require("./bench/engine.ts");
'
