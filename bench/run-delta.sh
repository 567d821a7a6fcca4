#!/usr/bin/env bash
# Compiles and runs bench/delta.ts, which writes bench/REPORT-delta.md.
# ROUNDS=n (default 3; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
out=node_modules/.cache/lisp-deploy-bench-delta
bench_compile "$out"
node "$out/bench/delta.js"
