# Shared by bench/run-release.sh, run-zdt.sh and run-delta.sh (sourced, from the repository root).
#
# bench_compile OUT: compiles the project (tsconfig.test.json, no ts-node here) into OUT, which must be under
# node_modules/ so that the compiled files still resolve the project's node_modules, then copies beside the
# compiled tree what those modules read from beside themselves at run time:
#   src/release/scripts      the release scripts (src/release/*.js read them from beside themselves)
#   lisp/                    lisp-deploy's runtime system and build scripts (hello depends on lisp-deploy/hunchentoot)
#   support/systemd-host     the host container's Dockerfile directory
#   examples/hello           the app (support/hello-builds.ts, support/delta-fixtures.ts)
bench_compile() {
    local out=$1
    rm -rf "$out"
    npx tsc -p tsconfig.test.json --noEmit false --outDir "$out" --rootDir . --declaration false --sourceMap false
    mkdir -p "$out/src/release" "$out/support" "$out/examples"
    cp -r src/release/scripts "$out/src/release/"
    cp -r lisp "$out/"
    cp -r support/systemd-host "$out/support/"
    cp -r examples/hello "$out/examples/"
}
