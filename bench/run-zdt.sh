#!/usr/bin/env bash
# Runs bench/zdt.ts under the REAL Pulumi CLI, which writes bench/REPORT-zero-downtime.md.
# ROUNDS=n (default 4; ROUNDS=1 is the quick smoke mode), REPORT=path to write the report elsewhere.
# Sets net.ipv4.tcp_migrate_req=1 on this machine (as activate-slot.sh does on a host; see support/listener-migration.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_run_ts bench/zdt.ts
