#!/usr/bin/env bash
# Runs every layer of tests, fastest first, and stops at the first layer that fails:
# type check, unit (jest under Pulumi mocks), Lisp (FiveAM under SBCL), integration (real engines).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck"; npx tsc -p tsconfig.test.json
echo "== unit"; npx jest --selectProjects unit
echo "== lisp"; bash lisp/t/run-tests.sh
echo "== integration"; npx jest --selectProjects integration --runInBand
