#!/usr/bin/env bash
# Removes an app installed in zero-downtime mode: stops and deletes both slot units, this app's proxy
# config (the proxy is reloaded, or stopped when this was the last app's Caddy site)
# and everything under /opt/$APP. The proxy package stays installed. Idempotent.
#
# Parameters (environment variables): APP, PROXY, PROXY_CONFIG_FILE.
# Takes the per-app lock first, so it never interleaves with an activation of a slot.
# Uses lock_app and remove_unit from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail
lock_app "${APP}" removal
for slot in blue green; do
  remove_unit "${APP}-${slot}.service"
done
# The release command's template unit (releaseCommand), when there was one.
remove_unit "${APP}-release@.service"
if [ -f "${PROXY_CONFIG_FILE}" ]; then
  rm -f "${PROXY_CONFIG_FILE}"
  # Caddy: each app's site is its own file imported by the main Caddyfile; stop Caddy with the last one.
  if [ "${PROXY}" = caddy ] && ! compgen -G "$(dirname "${PROXY_CONFIG_FILE}")/*.caddy" >/dev/null; then
    systemctl disable --now --quiet caddy.service 2>/dev/null || true
  elif [ "${PROXY}" = caddy ] && systemctl is-active --quiet caddy.service; then
    systemctl reload caddy.service
  elif systemctl is-active --quiet nginx.service; then
    systemctl reload nginx.service
  fi
fi
rm -rf "/opt/${APP}"
