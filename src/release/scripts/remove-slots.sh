#!/usr/bin/env bash
# Removes an app installed in zero-downtime mode: stops and deletes both slot units, this app's proxy
# config (the proxy is stopped when its config was the Caddyfile lisp-deploy owns, reloaded otherwise)
# and everything under /opt/$APP. The proxy package stays installed. Idempotent.
#
# Parameters (environment variables): APP, PROXY, PROXY_CONFIG_FILE.
set -euo pipefail
for slot in blue green; do
  unit_name="${APP}-${slot}.service"
  unit_file="/etc/systemd/system/${unit_name}"
  if [ -f "${unit_file}" ]; then
    systemctl disable --now --quiet "${unit_name}" || true
    rm -f "${unit_file}"
    systemctl daemon-reload
  fi
  systemctl reset-failed "${unit_name}" 2>/dev/null || true
done
if [ -f "${PROXY_CONFIG_FILE}" ]; then
  rm -f "${PROXY_CONFIG_FILE}"
  if [ "${PROXY}" = caddy ]; then
    systemctl disable --now --quiet caddy.service 2>/dev/null || true
  elif systemctl is-active --quiet nginx.service; then
    systemctl reload nginx.service
  fi
fi
rm -rf "/opt/${APP}"
