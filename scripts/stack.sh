#!/usr/bin/env bash
# `npm run up` / `npm run preview` / `npm run destroy`: the Pulumi CLI on the repository's own project
# (the root Pulumi.yaml, whose program is examples/local), on the stack `dev` kept in the file backend
# inside the repository (.pulumi-state/, see Pulumi.yaml's backend.url). A thin wrapper: it compiles the
# package the program imports, selects (or creates) the stack, and hands everything else to `pulumi`,
# whose own progress and diff are what you see.
#
#   bash scripts/stack.sh up [key=value ...] [-- pulumi flags]   config overrides are stored in Pulumi.dev.yaml
#   bash scripts/stack.sh preview [-- --diff]
#   bash scripts/stack.sh destroy
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/pulumi-env.sh
. scripts/pulumi-env.sh

command -v pulumi >/dev/null || { echo "stack: the pulumi CLI is not on PATH; run: bash scripts/setup-machine.sh" >&2; exit 1; }

action="${1:-up}"; shift || true
config=(); flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; flags+=("$@"); break ;;
    *=*) config+=("$1") ;;
    *) flags+=("$1") ;;
  esac
  shift
done

# The program imports the package by name, as an infra repository would; its compiled form is bin/.
npm run --silent build
node scripts/link-package.js

STACK="${LISP_DEPLOY_STACK:-dev}"
mkdir -p .pulumi-state
pulumi stack select --create "$STACK" --non-interactive >/dev/null
for kv in "${config[@]}"; do pulumi config set --stack "$STACK" "${kv%%=*}" "${kv#*=}"; done

case "$action" in
  up) exec pulumi up --yes --stack "$STACK" --non-interactive "${flags[@]}" ;;
  preview) exec pulumi preview --stack "$STACK" --non-interactive "${flags[@]}" ;;
  destroy) exec pulumi destroy --yes --stack "$STACK" --non-interactive "${flags[@]}" ;;
  *) echo "stack: unknown action '$action' (up, preview, destroy)" >&2; exit 2 ;;
esac
