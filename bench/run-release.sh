#!/usr/bin/env bash
# Compiles and runs bench/release.ts, which writes bench/REPORT-release.md.
# ROUNDS=n (default 6; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
out=node_modules/.cache/lisp-deploy-bench-release
bench_compile "$out"
node "$out/bench/release.js"
