#!/usr/bin/env bash
# Compiles and runs bench/zdt.ts (no ts-node here: tsc into node_modules/.cache so that the
# compiled files still resolve the project's node_modules), which writes bench/REPORT-zero-downtime.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=node_modules/.cache/lisp-deploy-bench-zdt
rm -rf "$out"
npx tsc -p tsconfig.test.json --noEmit false --outDir "$out" --rootDir . --declaration false --sourceMap false
# The release scripts are read from beside the compiled module at run time.
mkdir -p "$out/src/release" && cp -r src/release/scripts "$out/src/release/"
# systemd-host's Dockerfile directory is found relative to the compiled harness.
cp -r test/harness/systemd-host "$out/test/harness/"
# buildHello copies examples/hello from beside the compiled test tree.
mkdir -p "$out/examples" && cp -r examples/hello "$out/examples/"
# ... and lisp-deploy's runtime system, which hello depends on, from beside it too.
cp -r lisp "$out/"
node "$out/bench/zdt.js"
