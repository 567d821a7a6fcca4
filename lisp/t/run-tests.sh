#!/usr/bin/env bash
# The Lisp layer of lisp-deploy's tests: builds examples/hello and a fixture app into real SBCL
# executables, then runs the FiveAM suite (unit tests of the runtime plus tests that drive those
# executables as real processes). Exits non-zero on any failure; the last line is
# "N passed, N failed".
#
# ASDF finds the systems through a source registry set here (lisp/ and examples/hello/, then
# the machine's default, where Debian's cl-* packages live), and writes fasls and executables
# under .build/lisp/: nothing depends on a user's own ASDF configuration.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$ROOT/.build/lisp"
rm -rf "${BUILD:?}/runs" "${BUILD:?}/bin"   # each run starts from fresh executables and output
mkdir -p "$BUILD"
export CL_SOURCE_REGISTRY="(:source-registry (:tree \"$ROOT/lisp/\") (:directory \"$ROOT/examples/hello/\") :ignore-inherited-configuration (:default-registry))"
export ASDF_OUTPUT_TRANSLATIONS="(:output-translations (t (\"$BUILD/cache/\" :implementation)) :ignore-inherited-configuration)"
export LISP_DEPLOY_TEST_BUILD="$BUILD/"

for system in hello lisp-deploy-test-app lisp-deploy-test-app-no-swank; do
  echo "== building $system"
  if ! sbcl --noinform --non-interactive \
      --eval '(require :asdf)' \
      --load "$ROOT/lisp/t/build-executable.lisp" \
      --eval "(build-executable \"$system\" \"$BUILD/bin/$system\")" \
      >"$BUILD/build-$system.log" 2>&1; then
    tail -40 "$BUILD/build-$system.log"
    echo "building $system failed (full log: $BUILD/build-$system.log)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

echo "== running the FiveAM suite"
# The suite prints the closing "N passed, N failed" itself; if SBCL dies before it can (a
# compile error in the tests, say), print one here so the line is always last.
sbcl --noinform --non-interactive \
  --eval '(require :asdf)' \
  --eval '(asdf:load-system "lisp-deploy-tests")' \
  --eval '(uiop:quit (if (lisp-deploy-tests:run-all) 0 1))' 2>&1 | tee "$BUILD/suite.log"
status=${PIPESTATUS[0]}
if ! tail -1 "$BUILD/suite.log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "0 passed, 1 failed"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
