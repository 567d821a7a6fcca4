#!/usr/bin/env bash
# Activates an uploaded release of a Common Lisp web app under systemd, health-checks it and rolls
# back to the previous release when the check fails. Run by SystemdRelease as root over SSH.
#
# Parameters (environment variables; none of them secret):
#   APP              app name: /opt/$APP, $APP.service
#   EXECUTABLE       file name of the executable inside the release directory
#   RELEASE_ID       directory under /opt/$APP/releases holding this release
#   KEEP_RELEASES    how many release directories to keep (current and previous are never pruned)
#   UNIT_CONTENT     the complete unit file, as renderUnit wrote it
#   SECRET_ENV       1: stdin carries the secret environment file (KEY=value lines); 0: there is none
#   SERVICE_USER     optional: a system user to create if missing (units without DynamicUser)
#   HEALTH_URL       the URL curl checks on the host, e.g. http://127.0.0.1:8080/healthz
#   HEALTH_STATUS    the HTTP status that means healthy
#   HEALTH_TIMEOUT   seconds to wait for that status after a (re)start
#   START_TIMEOUT    the unit's TimeoutStartSec: while systemd still waits for the start, the check waits too
#   JOURNAL_LINES    how many journal lines to show when the check fails
#   EXECUTABLE_DIGEST optional: the start of the executable's sha256 (its content address, which
#                    SystemdRelease's release id is); an executable that does not match is refused
#   RELEASE_COMMAND_UNIT optional: the release command's template unit (renderReleaseCommandUnit); run
#                    for this release before anything switches, when the release is not serving already
#   RELEASE_COMMAND  optional: the release command as one line, for the log
#   ROLLBACK         optional: 1 when RELEASE_ID is a kept release named by rollbackTo (nothing uploaded);
#                    when the host no longer keeps it, the error lists the releases it keeps
#
# Prints, on stdout, the serving release and the releases the host keeps (report_releases), which
# SystemdRelease reads back into its outputs.
#
# Safe under concurrency and interruption: one activation of an app at a time (lock_app); what a run
# replaces is recorded in /opt/$APP/.rollback before it changes anything and removed once the run ends
# (healthy, or rolled back). A run that finds the record was interrupted (SSH dropped, host rebooted,
# process killed): it first restores what that record says was serving, so `previous` stays the last
# healthy release and never becomes the one that was never checked.
#
# Idempotent: when the release, unit and secret environment are already in place and the service is
# active, nothing is written and nothing restarts; the health check still runs.
# Healthy means systemd says the unit is active (not activating, not restarting) and the health URL
# answers, and both still hold a moment later (see wait_healthy): HTTP alone would pass an app that
# systemd is about to kill for never reporting itself started.
# Uses say, lock_app, install_upload, unit_run_of, wait_healthy, prune_releases, run_release_command, require_kept_release and report_releases from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail

root="/opt/${APP}"
releases="${root}/releases"
release_dir="${releases}/${RELEASE_ID}"
unit_name="${APP}.service"
unit_file="/etc/systemd/system/${unit_name}"
env_file="${root}/secret.env"

# Scratch space outside /opt/$APP (a private tmpfs directory), so a run that changes nothing leaves
# even directory times alone. It holds candidate files and the backups a rollback restores: exactly
# what this run replaced.
scratch="$(umask 077 && mktemp -d /run/lisp-deploy-"${APP}".XXXXXX)"
trap 'rm -rf "${scratch}"' EXIT

lock_app "${APP}"
# Before anything else changes (an interrupted run's record included): a release that is not there fails now.
require_kept_release "${releases}"

# The rollback record: exactly what this run replaced, on disk (not in scratch) so that it outlives an
# interrupted run. Made only when something is about to change, so a run that changes nothing leaves
# even directory times alone.
backup="${root}/.rollback"
record_change() {
  if [ ! -d "${backup}" ]; then
    mkdir -m 0700 "${backup}"
    printf '%s\n' "${RELEASE_ID}" > "${backup}/release"
  fi
}
# restore_record: puts back what the record says this (or an interrupted) run replaced, then drops it.
restore_record() {
  if [ -f "${backup}/unit" ]; then cp -p "${backup}/unit" "${unit_file}"; fi
  if [ -f "${backup}/unit.absent" ]; then rm -f "${unit_file}"; fi
  if [ -f "${backup}/secret.env" ]; then cp -p "${backup}/secret.env" "${env_file}"; fi
  if [ -f "${backup}/secret.env.absent" ]; then rm -f "${env_file}"; fi
  if [ -f "${backup}/current" ]; then
    local old
    old="$(cat "${backup}/current")"
    if [ -n "${old}" ]; then
      ln -sfn "${old}" "${root}/.current.new"
      mv -T "${root}/.current.new" "${root}/current"
    else
      rm -f "${root}/current"
    fi
  fi
  if [ -s "${backup}/previous" ]; then
    ln -sfn "$(cat "${backup}/previous")" "${root}/.previous.new"
    mv -T "${root}/.previous.new" "${root}/previous"
  elif [ -f "${backup}/previous" ]; then
    rm -f "${root}/previous"
  fi
  systemctl daemon-reload
  rm -rf "${backup}"
}

changed=0
if [ -d "${backup}" ]; then
  say "an activation of release $(cat "${backup}/release" 2>/dev/null || printf 'unknown') was interrupted before it finished; restoring what was serving before it"
  restore_record
  say "restored: current is $(readlink "${root}/current" || printf 'none'), previous is $(readlink "${root}/previous" || printf 'none')"
  # What runs now may be the interrupted release: restart whatever this run ends up with.
  changed=1
fi


install_upload "${release_dir}"
# An upload by a sudo user (see prepare.sh) leaves its files owned by that user: root owns a release.
# Only when needed, so a run that changes nothing leaves even inode times alone.
for owned in "${release_dir}" "${release_dir}/${EXECUTABLE}"; do
  if [ -e "${owned}" ] && [ "$(stat -c %u:%g "${owned}")" != 0:0 ]; then chown root:root "${owned}"; fi
done

if [ -n "${SERVICE_USER:-}" ] && ! id -u "${SERVICE_USER}" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "${SERVICE_USER}"
fi

# Secret environment: arrives on stdin, kept in the private scratch directory until it is written.
if [ "${SECRET_ENV}" = 1 ]; then cat > "${scratch}/secret.env"; fi

# The release command runs once, for a release about to serve, before this run changes anything: a
# failure leaves everything as it was (nothing recorded, nothing switched).
target="releases/${RELEASE_ID}"
if [ "$(readlink "${root}/current" || true)" != "${target}" ]; then
  secret_for_command=""
  if [ "${SECRET_ENV}" = 1 ]; then secret_for_command="${scratch}/secret.env"; fi
  run_release_command "${secret_for_command}" "$(readlink "${root}/current" || printf 'no release')"
fi

# Secret environment: written 0600 through a temporary file so it is never readable by others, not
# even for a moment, and never on a command line.
if [ "${SECRET_ENV}" = 1 ]; then
  if ! { [ -f "${env_file}" ] && cmp -s "${scratch}/secret.env" "${env_file}"; }; then
    record_change
    if [ -f "${env_file}" ]; then cp -p "${env_file}" "${backup}/secret.env"; else touch "${backup}/secret.env.absent"; fi
    (umask 077 && cp "${scratch}/secret.env" "${root}/.secret.env.new")
    mv -f "${root}/.secret.env.new" "${env_file}"
    changed=1
  fi
elif [ -f "${env_file}" ]; then
  record_change
  cp -p "${env_file}" "${backup}/secret.env"
  rm -f "${env_file}"
  changed=1
fi

# The unit: replaced only when its text differs, so an unchanged release does not restart.
printf '%s' "${UNIT_CONTENT}" > "${scratch}/unit"
if ! { [ -f "${unit_file}" ] && cmp -s "${scratch}/unit" "${unit_file}"; }; then
  record_change
  if [ -f "${unit_file}" ]; then cp -p "${unit_file}" "${backup}/unit"; else touch "${backup}/unit.absent"; fi
  install -m 0644 "${scratch}/unit" "${unit_file}.new"
  mv -f "${unit_file}.new" "${unit_file}"
  systemctl daemon-reload
  changed=1
fi

# The current link, switched atomically: a new link under a temporary name, renamed over the old one.
previous="$(readlink "${root}/current" || true)"
if [ "${previous}" != "${target}" ]; then
  record_change
  printf '%s' "${previous}" > "${backup}/current"
  readlink "${root}/previous" > "${backup}/previous" || true
  ln -sfn "${target}" "${root}/.current.new"
  mv -T "${root}/.current.new" "${root}/current"
  if [ -n "${previous}" ]; then
    ln -sfn "${previous}" "${root}/.previous.new"
    mv -T "${root}/.previous.new" "${root}/previous"
  fi
  changed=1
fi

if ! systemctl is-enabled --quiet "${unit_name}"; then
  systemctl enable --quiet "${unit_name}"
fi
# --no-block: the restart job runs while wait_healthy watches it, and a start that systemd is still
# waiting on (Type=notify without READY=1) is judged by the same clock. old_run tells the new run apart.
old_run=""
if [ "${changed}" = 1 ] || ! systemctl is-active --quiet "${unit_name}"; then
  say "starting ${unit_name} with release ${RELEASE_ID}"
  old_run="$(unit_run_of "${unit_name}")"
  systemctl restart --no-block "${unit_name}" || true
fi

healthy() { wait_healthy "${HEALTH_URL}" "${unit_name}" "$1"; }

if ! healthy "${old_run}"; then
  journal="$(journalctl --unit "${unit_name}" --lines "${JOURNAL_LINES}" --no-pager --output short-iso 2>&1 || true)"
  say "release ${RELEASE_ID} failed its health check; rolling back"
  restore_record
  if [ -f "${unit_file}" ] && [ -e "${root}/current" ]; then
    old_run="$(unit_run_of "${unit_name}")"
    systemctl restart --no-block "${unit_name}" || true
    if healthy "${old_run}"; then say "rolled back to $(readlink "${root}/current"), which is serving"; else say "the previous release is not healthy either"; fi
  else
    # A first release has nothing to go back to: leave no half-installed service behind.
    systemctl disable --now --quiet "${unit_name}" 2>/dev/null || true
    systemctl reset-failed "${unit_name}" 2>/dev/null || true
    say "there was no previous release; ${unit_name} is stopped"
  fi
  say "last ${JOURNAL_LINES} journal lines of ${unit_name}:"
  printf '%s\n' "${journal}" >&2
  exit 1
fi

# Healthy: this run is complete, and what it replaced is no longer needed to undo it.
rm -rf "${backup}"

# Prune: keep the newest KEEP_RELEASES directories, never the current or the previous one.
current_name="$(basename "$(readlink "${root}/current")")"
previous_name="$(basename "$(readlink "${root}/previous" || true)")"
prune_releases "${releases}" "${KEEP_RELEASES}" "${current_name}" "${previous_name}"

say "release ${RELEASE_ID} is serving"
report_releases "${releases}" "${RELEASE_ID}"
