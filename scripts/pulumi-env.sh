# shellcheck shell=bash
# Sourced (not run) by everything in this repository that calls the Pulumi CLI: npm run up/destroy, the
# integration tests, the benchmarks. It sets the offline settings these machines need and puts on PATH
# the provider plugins that cannot be built here (support/providers/bin, stand-ins that say so in their
# names) and the dynamic-provider host that ships inside the @pulumi/pulumi npm package.
#
# The repository's own stacks keep their state in a file backend inside the repository (Pulumi.yaml's
# backend.url) and are encrypted with this passphrase: it protects local demo stacks only. Set your own
# PULUMI_CONFIG_PASSPHRASE (or a secrets provider) for anything real.

LISP_DEPLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LISP_DEPLOY_ROOT

# No update checks, plugin downloads or registry look-ups: none of those hosts is reachable here.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_SKIP_CONFIRMATIONS=true
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-lisp-deploy-local-demo}"

case ":$PATH:" in
  *":$LISP_DEPLOY_ROOT/support/providers/bin:"*) ;;
  *) export PATH="$LISP_DEPLOY_ROOT/support/providers/bin:$LISP_DEPLOY_ROOT/node_modules/@pulumi/pulumi:$PATH" ;;
esac

# The language hosts sit beside the CLI (scripts/setup-pulumi.sh), where the CLI looks; the YAML host looks
# for the Node.js host (to load a Node.js component package's schema) on PATH only, as a standard install's
# ~/.pulumi/bin on PATH would give it.
if command -v pulumi >/dev/null; then
  PULUMI_BIN_DIR="$(dirname "$(readlink -f "$(command -v pulumi)")")"
  case ":$PATH:" in
    *":$PULUMI_BIN_DIR:"*) ;;
    *) export PATH="$PATH:$PULUMI_BIN_DIR" ;;
  esac
fi
