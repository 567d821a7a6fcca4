#!/usr/bin/env bash
# Removes an app SystemdRelease installed: stops and disables the unit, deletes it and everything under
# /opt/$APP. The app's StateDirectory= (/var/lib/<name>, or /var/lib/private/<name> for a dynamic user) is
# kept: systemd never removes it with the unit, and the data is the user's. Idempotent: a second run
# finds nothing and changes nothing. Takes the per-app lock first, so a removal never interleaves with an
# activation or a delta build: it waits for a running one to finish.
#
# Parameters (environment variables): APP.
# Uses lock_app and remove_unit from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail
lock_app "${APP}" removal
remove_unit "${APP}.service"
# The release command's template unit (releaseCommand), when there was one.
remove_unit "${APP}-release@.service"
rm -rf "/opt/${APP}"
