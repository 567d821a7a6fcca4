#!/usr/bin/env bash
# Compiles and runs bench/zdt.ts, which writes bench/REPORT-zero-downtime.md.
# ROUNDS=n (default 4; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
out=node_modules/.cache/lisp-deploy-bench-zdt
bench_compile "$out"
node "$out/bench/zdt.js"
