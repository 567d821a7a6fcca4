#!/usr/bin/env bash
# Removes an app SystemdRelease installed: stops and disables the unit, deletes it and everything under
# /opt/$APP. Idempotent: a second run finds nothing and changes nothing.
#
# Parameters (environment variables): APP.
set -euo pipefail
unit_name="${APP}.service"
unit_file="/etc/systemd/system/${unit_name}"
if [ -f "${unit_file}" ]; then
  systemctl disable --now --quiet "${unit_name}" || true
  rm -f "${unit_file}"
  systemctl daemon-reload
fi
systemctl reset-failed "${unit_name}" 2>/dev/null || true
rm -rf "/opt/${APP}"
