#!/usr/bin/env bash
# Runs bench/engine.ts, which writes bench/REPORT-engine.md: no-change `pulumi preview` / `pulumi up` wall time
# of examples/local and of a generated 1,000-file app under the REAL Pulumi CLI.
# ROUNDS=n (default 5; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
# Sources nothing secret: support/pulumi-cli.ts reads scripts/pulumi-env.sh (offline settings, the local demo
# passphrase of throwaway stacks in a temp dir). Cleans up the stacks, containers and images it made.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_run_ts bench/engine.ts
