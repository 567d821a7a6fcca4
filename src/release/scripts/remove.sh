#!/usr/bin/env bash
# Removes an app SystemdRelease installed: stops and disables the unit, deletes it and everything under
# /opt/$APP. Idempotent: a second run finds nothing and changes nothing.
#
# Parameters (environment variables): APP.
# Uses remove_unit from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail
remove_unit "${APP}.service"
rm -rf "/opt/${APP}"
