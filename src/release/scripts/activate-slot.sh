#!/usr/bin/env bash
# Zero-downtime release of a Common Lisp web app: two slots (blue, green) behind a reverse proxy on the
# host. The new release starts on the idle slot, is health-checked directly on that slot's port, then the
# proxy's upstream switches with a graceful reload, the old slot drains and stops. A failed health check
# stops only the new slot: the old slot keeps serving and the proxy is not touched. Run as root over SSH.
#
# Parameters (environment variables; none of them secret):
#   APP                 app name: /opt/$APP, $APP-blue.service, $APP-green.service
#   EXECUTABLE          file name of the executable inside the release directory
#   RELEASE_ID          directory under /opt/$APP/releases holding this release
#   KEEP_RELEASES       how many release directories to keep (those the slots point at are never pruned)
#   UNIT_BLUE           the blue slot's unit (renderUnit with slot "blue")
#   UNIT_GREEN          the green slot's unit
#   PORT_BLUE           the blue slot's port on 127.0.0.1
#   PORT_GREEN          the green slot's port on 127.0.0.1
#   SECRET_ENV          1: stdin carries the secret environment file; 0: there is none
#   SERVICE_USER        optional: a system user to create if missing
#   HEALTH_PATH         path requested on the new slot, e.g. /healthz
#   HEALTH_STATUS       the HTTP status that means healthy
#   HEALTH_TIMEOUT      seconds to wait for that status
#   START_TIMEOUT       the units' TimeoutStartSec: while systemd still waits for the start, the check waits too
#   JOURNAL_LINES       journal lines of the new slot shown when the check fails
#   PROXY               caddy | nginx (the Debian package and the systemd unit of the same name)
#   PROXY_CONFIG_FILE   where the proxy config for this app lives
#   PROXY_CONFIG_BLUE   the proxy config sending traffic to the blue slot
#   PROXY_CONFIG_GREEN  the proxy config sending traffic to the green slot
#   DRAIN_SECONDS       how long the old slot keeps running after the switch, for requests the proxy
#                       had already sent it (the app then drains what is still in flight on SIGTERM)
#   EXECUTABLE_DIGEST   optional: the start of the executable's sha256 (its content address); an
#                       executable that does not match is refused (see activate.sh)
#
# One activation of an app at a time (lock_app): a second waits for the first, then sees the slot it left.
#
# Idempotent: when the active slot already runs this release with the same unit, secret file and proxy
# config, nothing is written and nothing restarts; the health check still runs.
# Healthy means systemd says the slot's unit is active and the slot answers, through a short stable
# window (see wait_healthy). Uses say, lock_app, verify_digest, unit_run_of, wait_healthy and prune_releases from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail

root="/opt/${APP}"
releases="${root}/releases"
release_dir="${releases}/${RELEASE_ID}"

scratch="$(umask 077 && mktemp -d /run/lisp-deploy-"${APP}".XXXXXX)"
trap 'rm -rf "${scratch}"' EXIT

lock_app "${APP}"

# The upload lands beside the executable under a temporary name; a rename puts it in place (see activate.sh).
upload="${release_dir}/.upload-${EXECUTABLE}"
if [ -f "${upload}" ] && ! verify_digest "${upload}" "${EXECUTABLE_DIGEST:-}" "the uploaded executable"; then
  rm -f "${upload}"
  say "removed the bad upload; nothing was changed. Upload the executable again (e.g. pulumi up --replace on the release's upload)"
  exit 1
fi
if [ -f "${upload}" ]; then
  if [ -f "${release_dir}/${EXECUTABLE}" ] && cmp -s "${upload}" "${release_dir}/${EXECUTABLE}"; then
    rm -f "${upload}"
  else
    chmod 0755 "${upload}"
    mv -f "${upload}" "${release_dir}/${EXECUTABLE}"
  fi
fi
if [ ! -f "${release_dir}/${EXECUTABLE}" ]; then
  say "release ${RELEASE_ID} has no ${EXECUTABLE}; was it uploaded to ${upload}?"
  exit 1
fi
if ! verify_digest "${release_dir}/${EXECUTABLE}" "${EXECUTABLE_DIGEST:-}" "the executable of release ${RELEASE_ID}"; then
  say "nothing was changed; remove ${release_dir} and release again"
  exit 1
fi

if [ -n "${SERVICE_USER:-}" ] && ! id -u "${SERVICE_USER}" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "${SERVICE_USER}"
fi

# The proxy comes from the distribution. Installed with service starts held back (policy-rc.d), so the
# package's default site never listens before this app's config is in place.
if ! command -v "${PROXY}" >/dev/null 2>&1; then
  say "installing ${PROXY} from the distribution"
  policy=/usr/sbin/policy-rc.d
  held=0
  if [ ! -e "${policy}" ]; then printf '#!/bin/sh\nexit 101\n' > "${policy}"; chmod 0755 "${policy}"; held=1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PROXY}" >/dev/null
  if [ "${held}" = 1 ]; then rm -f "${policy}"; fi
  # nginx's default site listens on port 80 for every address; this app's config is the site.
  if [ "${PROXY}" = nginx ]; then rm -f /etc/nginx/sites-enabled/default; fi
fi

slot_file="${root}/active-slot"
active="$(cat "${slot_file}" 2>/dev/null || true)"
case "${active}" in
  blue) idle=green ;;
  green) idle=blue ;;
  *) active=""; idle=blue ;;
esac
slot_unit() { if [ "$1" = blue ]; then printf '%s' "${UNIT_BLUE}"; else printf '%s' "${UNIT_GREEN}"; fi; }
slot_port() { if [ "$1" = blue ]; then printf '%s' "${PORT_BLUE}"; else printf '%s' "${PORT_GREEN}"; fi; }
slot_proxy() { if [ "$1" = blue ]; then printf '%s' "${PROXY_CONFIG_BLUE}"; else printf '%s' "${PROXY_CONFIG_GREEN}"; fi; }

if [ "${SECRET_ENV}" = 1 ]; then cat > "${scratch}/secret.env"; else : > "${scratch}/secret.env"; fi

# healthy SLOT [OLD_RUN]: the slot's unit is active (in a run other than OLD_RUN) and its port answers.
healthy() { wait_healthy "http://127.0.0.1:$(slot_port "$1")${HEALTH_PATH}" "${APP}-$1.service" "${2:-}"; }

# Same secret file content, whether it should exist or not.
same_secret() {
  local file="${root}/secret-$1.env"
  if [ "${SECRET_ENV}" = 1 ]; then [ -f "${file}" ] && cmp -s "${scratch}/secret.env" "${file}"; else [ ! -e "${file}" ]; fi
}

# Already in place? Then only check health.
if [ -n "${active}" ] \
  && [ "$(readlink "${root}/slots/${active}" || true)" = "../releases/${RELEASE_ID}" ] \
  && [ "$(slot_unit "${active}")" = "$(cat "/etc/systemd/system/${APP}-${active}.service" 2>/dev/null || true)" ] \
  && [ "$(slot_proxy "${active}")" = "$(cat "${PROXY_CONFIG_FILE}" 2>/dev/null || true)" ] \
  && same_secret "${active}" \
  && systemctl is-active --quiet "${APP}-${active}.service" \
  && systemctl is-active --quiet "${PROXY}.service"; then
  healthy "${active}"
  say "release ${RELEASE_ID} is already serving from slot ${active}"
  exit 0
fi

new_unit="${APP}-${idle}.service"
say "starting release ${RELEASE_ID} on slot ${idle} (port $(slot_port "${idle}"))"
mkdir -p "${root}/slots"
chmod 0755 "${root}/slots"
if [ "${SECRET_ENV}" = 1 ]; then
  (umask 077 && cp "${scratch}/secret.env" "${root}/.secret-${idle}.env.new")
  mv -f "${root}/.secret-${idle}.env.new" "${root}/secret-${idle}.env"
else
  rm -f "${root}/secret-${idle}.env"
fi
slot_unit "${idle}" > "${scratch}/unit"
install -m 0644 "${scratch}/unit" "/etc/systemd/system/${new_unit}.new"
mv -f "/etc/systemd/system/${new_unit}.new" "/etc/systemd/system/${new_unit}"
ln -sfn "../releases/${RELEASE_ID}" "${root}/slots/.${idle}.new"
mv -T "${root}/slots/.${idle}.new" "${root}/slots/${idle}"
systemctl daemon-reload
old_run="$(unit_run_of "${new_unit}")"
systemctl restart --no-block "${new_unit}" || true

if ! healthy "${idle}" "${old_run}"; then
  journal="$(journalctl --unit "${new_unit}" --lines "${JOURNAL_LINES}" --no-pager --output short-iso 2>&1 || true)"
  systemctl stop "${new_unit}" || true
  systemctl reset-failed "${new_unit}" 2>/dev/null || true
  if [ -n "${active}" ]; then
    say "release ${RELEASE_ID} failed its health check on slot ${idle}; slot ${active} keeps serving, the proxy is unchanged"
  else
    say "release ${RELEASE_ID} failed its health check on slot ${idle}; there was no release before it"
  fi
  say "last ${JOURNAL_LINES} journal lines of ${new_unit}:"
  printf '%s\n' "${journal}" >&2
  exit 1
fi

# Switch the proxy: write the config, let the proxy check it, then reload gracefully (in-flight
# requests finish on the old upstream). A config the proxy rejects is put back and the release fails.
had_config=0
if [ -f "${PROXY_CONFIG_FILE}" ]; then cp -p "${PROXY_CONFIG_FILE}" "${scratch}/proxy.old"; had_config=1; fi
mkdir -p "$(dirname "${PROXY_CONFIG_FILE}")"
slot_proxy "${idle}" > "${scratch}/proxy.new"
install -m 0644 "${scratch}/proxy.new" "${PROXY_CONFIG_FILE}.new"
mv -f "${PROXY_CONFIG_FILE}.new" "${PROXY_CONFIG_FILE}"
if [ "${PROXY}" = caddy ]; then check=(caddy validate --config "${PROXY_CONFIG_FILE}" --adapter caddyfile); else check=(nginx -t -q); fi
if ! check_out="$("${check[@]}" 2>&1)"; then
  if [ "${had_config}" = 1 ]; then cp -p "${scratch}/proxy.old" "${PROXY_CONFIG_FILE}"; else rm -f "${PROXY_CONFIG_FILE}"; fi
  systemctl stop "${new_unit}" || true
  say "${PROXY} rejected the new config; the old slot keeps serving:"
  printf '%s\n' "${check_out}" >&2
  exit 1
fi
systemctl enable --quiet "${PROXY}.service"
if systemctl is-active --quiet "${PROXY}.service"; then
  systemctl reload "${PROXY}.service"
else
  systemctl start "${PROXY}.service"
fi
printf '%s\n' "${idle}" > "${slot_file}.new"
mv -f "${slot_file}.new" "${slot_file}"
systemctl enable --quiet "${new_unit}"
say "${PROXY} now sends traffic to slot ${idle}"

if [ -n "${active}" ]; then
  old_unit="${APP}-${active}.service"
  sleep "${DRAIN_SECONDS}"
  # SIGTERM: the runtime stops accepting and finishes the requests in flight before it exits.
  systemctl disable --quiet --now "${old_unit}" 2>/dev/null || true
  say "slot ${active} drained and stopped"
fi

# Prune: keep the newest KEEP_RELEASES directories, never one a slot points at.
keep_blue="$(basename "$(readlink "${root}/slots/blue" || true)")"
keep_green="$(basename "$(readlink "${root}/slots/green" || true)")"
prune_releases "${releases}" "${KEEP_RELEASES}" "${keep_blue}" "${keep_green}"

say "release ${RELEASE_ID} is serving from slot ${idle}"
