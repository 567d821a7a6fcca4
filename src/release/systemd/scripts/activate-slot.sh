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
#   PROXY_CONFIG_FILE   this app's own proxy config file (one per app: other apps' files are never touched)
#   PROXY_CONFIG_BLUE   the proxy config sending traffic to the blue slot
#   PROXY_CONFIG_GREEN  the proxy config sending traffic to the green slot
#   PROXY_MAIN_CONFIG   Caddy only: the main /etc/caddy/Caddyfile (global options, import of every app's file)
#   PROXY_ADMIN_PORT    Caddy only: its admin API on 127.0.0.1, asked for the requests in flight to a slot
#   DRAIN_SECONDS       the longest wait after the switch for the proxy to finish the requests it sent the
#                       old slot; the old slot stops as soon as the proxy reports none in flight (see drain)
#   EXECUTABLE_DIGEST   optional: the start of the executable's sha256 (its content address); an
#                       executable that does not match is refused (see activate.sh)
#   RELEASE_COMMAND_UNIT optional: the release command's template unit (renderReleaseCommandUnit); run
#                       for this release before its slot starts, when the active slot does not run it already
#   RELEASE_COMMAND     optional: the release command as one line, for the log
#   ROLLBACK            optional: 1 when RELEASE_ID is a kept release named by rollbackTo (see activate.sh)
#
# Prints, on stdout, the serving release and the releases the host keeps (report_releases), and the live
# slot as `lisp-deploy-slot: blue|green` (report_slot): SystemdRelease points its Swank tunnel at that slot.
#
# One activation of an app at a time (lock_app): a second waits for the first, then sees the slot it left.
# An activation interrupted while switching the proxy (it leaves /opt/$APP/switch-pending) is repaired by
# the next one before anything else: the switch is finished when its slot is healthy, undone otherwise, so
# the last healthy slot stays what the proxy serves and what a failed release falls back to.
#
# Idempotent: when the active slot already runs this release with the same unit, secret file and proxy
# config, nothing is written and nothing restarts; the health check still runs.
# Healthy means systemd says the slot's unit is active and the slot answers, through a short stable
# window (see wait_healthy). Uses say, lock_app, install_upload, unit_run_of, wait_healthy, prune_releases, run_release_command, require_kept_release and report_releases from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail

root="/opt/${APP}"
releases="${root}/releases"
release_dir="${releases}/${RELEASE_ID}"

scratch="$(umask 077 && mktemp -d /run/lisp-deploy-"${APP}".XXXXXX)"
trap 'rm -rf "${scratch}"' EXIT

lock_app "${APP}"
require_kept_release "${releases}"

install_upload "${release_dir}"

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

slot_unit() { if [ "$1" = blue ]; then printf '%s' "${UNIT_BLUE}"; else printf '%s' "${UNIT_GREEN}"; fi; }
slot_port() { if [ "$1" = blue ]; then printf '%s' "${PORT_BLUE}"; else printf '%s' "${PORT_GREEN}"; fi; }
slot_proxy() { if [ "$1" = blue ]; then printf '%s' "${PROXY_CONFIG_BLUE}"; else printf '%s' "${PROXY_CONFIG_GREEN}"; fi; }

# healthy SLOT [OLD_RUN]: the slot's unit is active (in a run other than OLD_RUN) and its port answers.
healthy() { wait_healthy "http://127.0.0.1:$(slot_port "$1")${HEALTH_PATH}" "${APP}-$1.service" "${2:-}"; }

caddy_main=/etc/caddy/Caddyfile
# The main Caddyfile is what this release would write (always true for nginx, which has none).
same_main_config() { [ "${PROXY}" != caddy ] || [ "$(printf '%s' "${PROXY_MAIN_CONFIG}")" = "$(cat "${caddy_main}" 2>/dev/null || true)" ]; }

# Caddy replaces its listening socket on every reload (a new SO_REUSEPORT socket; the old one is closed).
# The kernel resets every connection still queued on the closed socket, not yet accepted: on a busy host a
# client now and then sees "connection reset" at a switch. net.ipv4.tcp_migrate_req=1 (Linux 5.14+) moves
# those connections to the new socket instead. nginx keeps its sockets across a reload and needs nothing.
ensure_listener_migration() {
  local knob=/proc/sys/net/ipv4/tcp_migrate_req conf=/etc/sysctl.d/60-lisp-deploy-caddy.conf
  [ "${PROXY}" = caddy ] || return 0
  if [ ! -e "${knob}" ]; then
    say "warning: this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14+): a Caddy reload may reset connections queued at the switch"
    return 0
  fi
  if [ ! -f "${conf}" ]; then
    printf '%s\n' "# lisp-deploy: a Caddy reload hands queued connections to its new socket instead of resetting them." "net.ipv4.tcp_migrate_req = 1" > "${conf}"
  fi
  [ "$(cat "${knob}")" = 1 ] && return 0
  { printf '1\n' > "${knob}"; } 2>/dev/null || true
  if [ "$(cat "${knob}")" != 1 ]; then
    say "warning: could not set net.ipv4.tcp_migrate_req=1 (${knob} is read-only here, e.g. a container sharing its host's network): a Caddy reload may reset connections queued at the switch"
  fi
}
ensure_listener_migration

# proxy_workers: the PIDs of nginx's worker processes now (nginx only; empty for Caddy).
proxy_workers() {
  local d
  [ "${PROXY}" = nginx ] || return 0
  for d in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < "${d}/cmdline" 2>/dev/null || true)" in
      "nginx: worker process"*) printf '%s ' "${d#/proc/}" ;;
    esac
  done
}

# switch_proxy SLOT: points this app's proxy config at SLOT (and, for Caddy, writes the main Caddyfile),
# lets the proxy check the result, reloads it gracefully (in-flight requests finish on the old upstream) or
# starts it, and records SLOT as active. A config the proxy rejects is put back and the switch fails.
# Sets old_workers: nginx's workers from before the reload, which drain waits for.
switch_proxy() {
  local slot="$1" had_config=0 had_main=0 check check_out
  printf '%s\n' "${slot}" > "${pending_file}"
  if [ -f "${PROXY_CONFIG_FILE}" ]; then cp -p "${PROXY_CONFIG_FILE}" "${scratch}/proxy.old"; had_config=1; fi
  mkdir -p "$(dirname "${PROXY_CONFIG_FILE}")"
  slot_proxy "${slot}" > "${scratch}/proxy.new"
  install -m 0644 "${scratch}/proxy.new" "${PROXY_CONFIG_FILE}.new"
  mv -f "${PROXY_CONFIG_FILE}.new" "${PROXY_CONFIG_FILE}"
  if [ "${PROXY}" = caddy ]; then
    if [ -f "${caddy_main}" ]; then cp -p "${caddy_main}" "${scratch}/main.old"; had_main=1; fi
    if ! same_main_config; then
      printf '%s' "${PROXY_MAIN_CONFIG}" > "${scratch}/main.new"
      install -m 0644 "${scratch}/main.new" "${caddy_main}.new"
      mv -f "${caddy_main}.new" "${caddy_main}"
    fi
    check=(caddy validate --config "${caddy_main}" --adapter caddyfile)
  else
    check=(nginx -t -q)
  fi
  if ! check_out="$("${check[@]}" 2>&1)"; then
    if [ "${had_config}" = 1 ]; then cp -p "${scratch}/proxy.old" "${PROXY_CONFIG_FILE}"; else rm -f "${PROXY_CONFIG_FILE}"; fi
    if [ "${PROXY}" = caddy ]; then
      if [ "${had_main}" = 1 ]; then cp -p "${scratch}/main.old" "${caddy_main}"; else rm -f "${caddy_main}"; fi
    fi
    rm -f "${pending_file}"
    say "${PROXY} rejected the new config; the old slot keeps serving:"
    printf '%s\n' "${check_out}" >&2
    return 1
  fi
  old_workers="$(proxy_workers)"
  systemctl enable --quiet "${PROXY}.service"
  if systemctl is-active --quiet "${PROXY}.service"; then
    systemctl reload "${PROXY}.service" || { say "reloading ${PROXY} failed; the next release repairs the switch"; return 1; }
  else
    systemctl start "${PROXY}.service" || { say "starting ${PROXY} failed; the next release repairs the switch"; return 1; }
  fi
  printf '%s\n' "${slot}" > "${slot_file}.new"
  mv -f "${slot_file}.new" "${slot_file}"
  rm -f "${pending_file}"
}

# caddy_in_flight PORT: how many requests Caddy has in flight to 127.0.0.1:PORT right now, from its admin
# API (/reverse_proxy/upstreams: num_requests per upstream; an upstream no config uses any more is absent,
# i.e. 0). Fails when the admin API does not answer.
caddy_in_flight() {
  local body n
  body="$(curl --silent --fail --max-time 2 "http://127.0.0.1:${PROXY_ADMIN_PORT}/reverse_proxy/upstreams")" || return 1
  n="$(printf '%s' "${body}" | tr -s '{}' '\n' | grep -F "\"127.0.0.1:$1\"" | grep -o '"num_requests":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')"
  printf '%s' "${n:-0}"
}

# drain SLOT: waits until the proxy has nothing in flight to SLOT, asking the proxy itself: Caddy's admin
# API counts the requests it still proxies to the slot's address; nginx's reload returns at once and its
# old workers (the only ones that know the old slot) exit once their last request finished. Waits at most
# DRAIN_SECONDS; after that the slot is stopped anyway and its runtime still finishes what it accepted.
drain() {
  local port deadline pid waiting n=""
  port="$(slot_port "$1")"
  deadline=$(( $(date +%s) + DRAIN_SECONDS ))
  while :; do
    waiting=""
    if [ "${PROXY}" = caddy ]; then
      if ! n="$(caddy_in_flight "${port}")"; then waiting="Caddy's admin API to answer"; elif [ "${n}" != 0 ]; then waiting="${n} request(s) Caddy still proxies to slot $1"; fi
    else
      for pid in ${old_workers:-}; do
        if [ -d "/proc/${pid}" ]; then waiting="nginx's old workers to finish their requests"; fi
      done
    fi
    [ -n "${waiting}" ] || return 0
    if [ "$(date +%s)" -ge "${deadline}" ]; then
      say "still waiting for ${waiting} after ${DRAIN_SECONDS}s (drainSeconds); stopping slot $1 anyway"
      return 0
    fi
    sleep 0.1
  done
}

# report_slot SLOT: the line SystemdRelease reads back as the live slot (its Swank tunnel goes there).
report_slot() { printf 'lisp-deploy-slot: %s\n' "$1"; }

slot_file="${root}/active-slot"
pending_file="${root}/switch-pending"
old_workers=""
if [ -f "${pending_file}" ]; then
  target="$(cat "${pending_file}")"
  previous="$(cat "${slot_file}" 2>/dev/null || true)"
  case "${target}" in blue|green) ;; *) target="" ;; esac
  if [ -n "${target}" ] && [ "${target}" != "${previous}" ] && systemctl is-active --quiet "${APP}-${target}.service" && healthy "${target}"; then
    say "an earlier activation was interrupted while switching the proxy to slot ${target}, which is healthy: finishing that switch"
    switch_proxy "${target}"
    if [ -n "${previous}" ]; then
      drain "${previous}"
      systemctl disable --quiet --now "${APP}-${previous}.service" 2>/dev/null || true
    fi
  elif [ -n "${previous}" ]; then
    say "an earlier activation was interrupted while switching the proxy${target:+ to slot ${target}}: putting it back on slot ${previous}, the last healthy one"
    switch_proxy "${previous}"
    if [ -n "${target}" ] && [ "${target}" != "${previous}" ]; then systemctl stop "${APP}-${target}.service" || true; fi
  else
    say "an earlier first activation was interrupted while switching the proxy; starting over"
    rm -f "${pending_file}"
  fi
fi

active="$(cat "${slot_file}" 2>/dev/null || true)"
case "${active}" in
  blue) idle=green ;;
  green) idle=blue ;;
  *) active=""; idle=blue ;;
esac

if [ "${SECRET_ENV}" = 1 ]; then cat > "${scratch}/secret.env"; else : > "${scratch}/secret.env"; fi


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
  && same_main_config \
  && same_secret "${active}" \
  && systemctl is-active --quiet "${APP}-${active}.service" \
  && systemctl is-active --quiet "${PROXY}.service"; then
  healthy "${active}"
  say "release ${RELEASE_ID} is already serving from slot ${active}"
  report_slot "${active}"
  report_releases "${releases}" "${RELEASE_ID}"
  exit 0
fi

# The release command runs once, for a release about to serve, before its slot starts: a failure leaves
# the active slot serving and the proxy untouched.
if [ -z "${active}" ] || [ "$(readlink "${root}/slots/${active}" || true)" != "../releases/${RELEASE_ID}" ]; then
  secret_for_command=""
  if [ "${SECRET_ENV}" = 1 ]; then secret_for_command="${scratch}/secret.env"; fi
  serving="no release"
  if [ -n "${active}" ]; then serving="slot ${active}"; fi
  run_release_command "${secret_for_command}" "${serving}"
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

# Switch the proxy (see switch_proxy); a config the proxy rejects stops the new slot and fails the release.
if ! switch_proxy "${idle}"; then
  systemctl stop "${new_unit}" || true
  exit 1
fi
systemctl enable --quiet "${new_unit}"
say "${PROXY} now sends traffic to slot ${idle}"

if [ -n "${active}" ]; then
  old_unit="${APP}-${active}.service"
  drain "${active}"
  # SIGTERM: the runtime stops accepting and finishes the requests it accepted before it exits.
  systemctl disable --quiet --now "${old_unit}" 2>/dev/null || true
  say "slot ${active} drained and stopped"
fi

# Prune: keep the newest KEEP_RELEASES directories, never one a slot points at.
keep_blue="$(basename "$(readlink "${root}/slots/blue" || true)")"
keep_green="$(basename "$(readlink "${root}/slots/green" || true)")"
prune_releases "${releases}" "${KEEP_RELEASES}" "${keep_blue}" "${keep_green}"

say "release ${RELEASE_ID} is serving from slot ${idle}"
report_slot "${idle}"
report_releases "${releases}" "${RELEASE_ID}"
