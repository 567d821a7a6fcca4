#!/usr/bin/env bash
# Removes an app SystemdRelease installed: stops and disables the unit, deletes it and everything under
# /opt/$APP. Idempotent: a second run finds nothing and changes nothing. Takes the per-app lock first, so
# a removal never interleaves with an activation or a delta build: it waits for a running one to finish.
#
# Parameters (environment variables): APP.
# Uses lock_app and remove_unit from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail
lock_app "${APP}" removal
remove_unit "${APP}.service"
rm -rf "/opt/${APP}"
