# shellcheck shell=bash
# Shared by the bench/run-*.sh scripts (sourced, from the repository root).
#
# bench_run_ts FILE: builds the package (npm run build: the programs the real Pulumi CLI runs require
# lisp-deploy from bin/) and runs the TypeScript benchmark FILE with node, each .ts transpiled as it is
# required (as support/providers/launch.js does). The files stay where they are, so support/pulumi-cli.ts
# finds the repository (scripts/pulumi-env.sh, node_modules) beside itself and src/release/*.ts their
# scripts; `npm run typecheck` type-checks the benchmarks with everything else.
bench_run_ts() {
  local file=$1
  npm run --silent build
  BENCH_FILE="$file" exec node -e '
const fs = require("fs");
const ts = require("typescript");
require.extensions[".ts"] = (module, filename) => {
    const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    module._compile(out.outputText, filename);
};
require(require("path").resolve(process.env.BENCH_FILE));
'
}

# bench_compile OUT: compiles the project (tsconfig.test.json, no ts-node here) into OUT, which must be under
# node_modules/ so that the compiled files still resolve the project's node_modules, then copies beside the
# compiled tree what those modules read from beside themselves at run time:
#   src/**/scripts           the shell scripts (src/shell.js reads them from src/<dir>/scripts)
#   lisp/                    lisp-deploy's runtime system and build scripts (hello depends on lisp-deploy/hunchentoot)
#   support/systemd-host     the host container's Dockerfile directory
#   examples/hello           the app (support/hello-builds.ts, support/delta-fixtures.ts)
# (bench_run_ts needs none of this; a benchmark under the real Pulumi CLI must run from the repository.)
bench_compile() {
  local out=$1
  rm -rf "$out"
  npx tsc -p tsconfig.test.json --noEmit false --outDir "$out" --rootDir . --declaration false --sourceMap false
  mkdir -p "$out/support" "$out/examples"
  local scripts
  for scripts in $(cd src && find . -type d -name scripts -prune); do
    mkdir -p "$out/src/$scripts"
    cp -r "src/$scripts/." "$out/src/$scripts/"
  done
  cp -r lisp "$out/"
  cp -r support/systemd-host "$out/support/"
  cp -r examples/hello "$out/examples/"
}
