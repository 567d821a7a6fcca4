#!/usr/bin/env bash
# Compiles and runs bench/delta.ts (no ts-node here: tsc into node_modules/.cache so that the compiled
# files still resolve the project's node_modules), which writes bench/REPORT-delta.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=node_modules/.cache/lisp-deploy-bench-delta
rm -rf "$out"
npx tsc -p tsconfig.test.json --noEmit false --outDir "$out" --rootDir . --declaration false --sourceMap false
# Read beside the compiled modules at run time: release scripts, Lisp build scripts, the host's Dockerfile, the app.
mkdir -p "$out/src/release" && cp -r src/release/scripts "$out/src/release/"
cp -r lisp "$out/lisp"
cp -r test/harness/systemd-host "$out/test/harness/"
mkdir -p "$out/examples" && cp -r examples/hello "$out/examples/"
node "$out/bench/delta.js"
