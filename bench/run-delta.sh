#!/usr/bin/env bash
# Runs bench/delta.ts under the REAL Pulumi CLI, which writes bench/REPORT-delta.md.
# ROUNDS=n (default 3; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_run_ts bench/delta.ts
