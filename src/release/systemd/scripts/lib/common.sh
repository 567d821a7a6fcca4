# shellcheck shell=bash
# Functions the release scripts share. releaseScript() (src/release/systemd/scripts.ts) puts this file in front
# of every script releaseScript() runs on a host, so one definition serves them all.
# It only defines functions (and HEALTH_STABLE and LOCK_WAIT, their constants); the scripts' own
# parameters and `set -euo pipefail` follow it.

say() { printf 'lisp-deploy: %s\n' "$*" >&2; }

# lock_app APP [WHAT]: takes the per-app lock (flock on /run/lock/lisp-deploy-APP.lock, held through file
# descriptor 9 until the script exits, however it exits), so no two release runs of one app interleave:
# activations, delta builds and removals all take it, and the second waits for the first to finish, then
# sees what the first left. WHAT says what this run does (default "activation"); the holder writes it into
# the lock file, so a waiter can say what it waits for. Waits up to LOCK_WAIT seconds. The lock file is
# never deleted (not even by a removal): a waiter would then hold a lock on a file no one else sees.
LOCK_WAIT=900
lock_app() {
  local lock="/run/lock/lisp-deploy-$1.lock" what="${2:-activation}" holder waited
  mkdir -p /run/lock
  # Opened read-write without truncating: the file holds the holder's WHAT.
  exec 9<>"${lock}"
  if ! flock --nonblock 9; then
    waited=$(date +%s)
    holder="$(head -c 64 "${lock}" 2>/dev/null | tr -dc 'a-z -')" || true
    holder="${holder:-activation}"
    say "another ${holder} of $1 holds ${lock}; waiting for it to finish (up to ${LOCK_WAIT}s)"
    if ! flock --wait "${LOCK_WAIT}" 9; then
      say "another ${holder} of $1 still holds ${lock} after ${LOCK_WAIT}s; giving up (is one hanging?)"
      exit 1
    fi
    say "the other ${holder} of $1 finished after $(( $(date +%s) - waited ))s; going on with this ${what}"
  fi
  printf '%s\n' "${what}" > "${lock}"
}

# install_upload RELEASE_DIR: puts the uploaded executable (RELEASE_DIR/.upload-EXECUTABLE) in place as
# RELEASE_DIR/EXECUTABLE, then checks the release has its executable with the expected digest. The upload
# lands beside it under a temporary name (overwriting a running executable in place fails with "text
# file busy"); a rename puts it in place, a new inode for the new file, unless the two are the same.
# Without an upload (a rollback, a re-run) only the check runs. A bad upload is removed; on any failure
# the script exits before anything changed.
install_upload() {
  local upload="$1/.upload-${EXECUTABLE}"
  if [ -f "${upload}" ] && ! verify_digest "${upload}" "${EXECUTABLE_DIGEST:-}" "the uploaded executable"; then
    rm -f "${upload}"
    say "removed the bad upload; nothing was changed. Upload the executable again (e.g. pulumi up --replace on the release's upload)"
    exit 1
  fi
  if [ -f "${upload}" ]; then
    if [ -f "$1/${EXECUTABLE}" ] && cmp -s "${upload}" "$1/${EXECUTABLE}"; then
      rm -f "${upload}"
    else
      chmod 0755 "${upload}"
      mv -f "${upload}" "$1/${EXECUTABLE}"
    fi
  fi
  if [ ! -f "$1/${EXECUTABLE}" ]; then
    say "release ${RELEASE_ID} has no ${EXECUTABLE}; was it uploaded to ${upload}?"
    exit 1
  fi
  if ! verify_digest "$1/${EXECUTABLE}" "${EXECUTABLE_DIGEST:-}" "the executable of release ${RELEASE_ID}"; then
    say "nothing was changed; remove $1 and release again"
    exit 1
  fi
}

# verify_digest FILE DIGEST WHAT: succeeds when DIGEST is empty or FILE's sha256 starts with DIGEST (the
# release id SystemdRelease derives from the executable: its content address); otherwise says why FILE
# (described as WHAT) is refused and fails. A corrupted or truncated upload is never started.
verify_digest() {
  local file="$1" digest="$2" sum
  [ -n "${digest}" ] || return 0
  sum="$(sha256sum "${file}" | cut -d' ' -f1)"
  case "${sum}" in
    "${digest}"*) return 0 ;;
  esac
  say "refusing ${3}: ${file} has sha256 ${sum}, but release ${RELEASE_ID} is the executable whose sha256 starts with ${digest} (a corrupted or incomplete upload?)"
  return 1
}

# unit_show UNIT: reads what systemd says about UNIT into unit_active (ActiveState), unit_sub (SubState),
# unit_restarts (NRestarts: automatic restarts), unit_run (InvocationID: one per start), unit_type and
# unit_result. Empty when systemctl cannot tell.
unit_show() {
  local key value
  unit_active="" unit_sub="" unit_restarts="" unit_run="" unit_type="" unit_result=""
  while IFS='=' read -r key value; do
    case "${key}" in
      ActiveState) unit_active="${value}" ;;
      SubState) unit_sub="${value}" ;;
      NRestarts) unit_restarts="${value}" ;;
      InvocationID) unit_run="${value}" ;;
      Type) unit_type="${value}" ;;
      Result) unit_result="${value}" ;;
    esac
  done < <(systemctl show --property ActiveState,SubState,NRestarts,InvocationID,Type,Result "$1" 2>/dev/null || true)
}

# unit_run_of UNIT: the InvocationID of UNIT's current (or last) start, empty when it never ran. Taken
# before a restart, so wait_healthy can tell the new run from the old one.
unit_run_of() { systemctl show --property InvocationID --value "$1" 2>/dev/null || true; }

# wait_healthy URL UNIT [OLD_RUN]: healthy means systemd says UNIT is `active` (started: not activating,
# not restarting) in a run other than OLD_RUN, URL answers HEALTH_STATUS, and then, for HEALTH_STABLE
# seconds more, the unit stays active in that same run (NRestarts unchanged) and URL still answers.
# HTTP alone is not enough: a Type=notify app that never sends READY=1 answers while systemd still waits
# for it, and systemd kills it when TimeoutStartSec runs out, again and again. Waits HEALTH_TIMEOUT
# seconds, and while the unit is still starting up to START_TIMEOUT (the unit's TimeoutStartSec) and a
# margin, so systemd's own verdict on the start is seen before the release is judged.
HEALTH_STABLE=2
wait_healthy() {
  local url="$1" unit="$2" old_run="${3:-}" started now status http_deadline start_deadline hard_deadline
  local window_end=0 window_run="" window_restarts="" answered_while_activating=0 timed_out=0 starting
  started=$(date +%s)
  http_deadline=$(( started + HEALTH_TIMEOUT ))
  start_deadline=$(( started + START_TIMEOUT + 5 ))
  hard_deadline=$(( (http_deadline > start_deadline ? http_deadline : start_deadline) + HEALTH_STABLE ))
  while :; do
    unit_show "${unit}"
    status="$(curl --silent --output /dev/null --max-time 2 --write-out '%{http_code}' "${url}" || true)"
    now=$(date +%s)
    # systemd's own verdict on a start of this release: it gave up waiting (and will only try again).
    if [ "${unit_result}" = timeout ] && [ -n "${unit_run}" ] && [ "${unit_run}" != "${old_run}" ]; then timed_out=1; fi
    if [ "${unit_active}" = active ] && { [ -z "${old_run}" ] || [ "${unit_run}" != "${old_run}" ]; } && [ "${status}" = "${HEALTH_STATUS}" ]; then
      if [ "${window_end}" = 0 ] || [ "${unit_run}" != "${window_run}" ] || [ "${unit_restarts}" != "${window_restarts}" ]; then
        window_end=$(( now + HEALTH_STABLE ))
        window_run="${unit_run}"
        window_restarts="${unit_restarts}"
      elif [ "${now}" -ge "${window_end}" ]; then
        return 0
      fi
    else
      window_end=0
      if [ "${unit_active}" = activating ] && [ "${unit_type}" = notify ] && [ "${status}" = "${HEALTH_STATUS}" ]; then
        answered_while_activating=1
      fi
    fi
    # Still starting: systemd runs the process and waits for it (not a crash loop's auto-restart pause).
    starting=0
    if [ "${unit_active}" = activating ] && [ "${unit_sub}" != auto-restart ]; then starting=1; fi
    if { [ "${window_end}" = 0 ] && [ "${now}" -ge "${http_deadline}" ] && { [ "${starting}" = 0 ] || [ "${now}" -ge "${start_deadline}" ]; }; } \
      || { [ "${window_end}" = 0 ] && [ "${timed_out}" = 1 ]; } || [ "${now}" -ge "${hard_deadline}" ]; then
      say "health check failed after $(( now - started ))s: systemd says ${unit} is ${unit_active:-unknown} (${unit_sub:-unknown}, NRestarts=${unit_restarts:-unknown}); ${url} answered '${status}' (healthy: ${HEALTH_STATUS} from a unit systemd reports active)"
      if [ "${unit_type}" = notify ] && { [ "${answered_while_activating}" = 1 ] || [ "${timed_out}" = 1 ]; }; then
        if [ "${answered_while_activating}" = 1 ]; then
          say "${unit} is Type=notify: it answered HTTP while systemd still waited for it to report itself started"
        else
          say "${unit} is Type=notify: systemd gave up waiting for it to report itself started (TimeoutStartSec=${START_TIMEOUT})"
        fi
        say "the app never sent READY=1: depend on lisp-deploy (lisp-deploy:main) or set serviceType: exec"
      fi
      return 1
    fi
    sleep 0.2
  done
}

# prune_releases DIR KEEP PROTECTED...: keeps the KEEP newest directories of DIR, never deleting one
# named in PROTECTED (the releases a link points at); protected ones count towards KEEP.
prune_releases() {
  local dir="$1" keep="$2" kept=0 name protected_name is_protected
  shift 2
  while IFS= read -r name; do
    [ -n "${name}" ] || continue
    is_protected=0
    for protected_name in "$@"; do
      if [ "${name}" = "${protected_name}" ]; then is_protected=1; fi
    done
    if [ "${is_protected}" = 1 ] || [ "${kept}" -lt "${keep}" ]; then
      kept=$((kept + 1))
    else
      say "pruning release ${name}"
      rm -rf "${dir:?}/${name}"
    fi
  done < <(find "${dir}" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2-)
}

# remove_unit NAME: stops, disables and deletes the unit NAME (e.g. blog.service), if it is installed.
remove_unit() {
  local unit_file="/etc/systemd/system/$1"
  if [ -f "${unit_file}" ]; then
    systemctl disable --now --quiet "$1" || true
    rm -f "${unit_file}"
    systemctl daemon-reload
  fi
  systemctl reset-failed "$1" 2>/dev/null || true
}

# run_release_command SECRET_FILE WHAT_SERVES: runs the release command (RELEASE_COMMAND_UNIT, the template
# unit renderReleaseCommandUnit wrote; RELEASE_COMMAND, its text for the log) for RELEASE_ID, when one is
# given: `systemctl start <app>-release@<id>.service` returns once the oneshot finished and fails when it
# failed. SECRET_FILE (the release's secret environment, or empty) is copied 0600 to where the unit reads it
# for the run only. The command's output (a file under /run) goes to stderr either way. On failure it says
# that nothing was switched and WHAT_SERVES keeps serving, and fails: the caller has changed nothing yet.
run_release_command() {
  local secret="$1" serving="$2" template="/etc/systemd/system/${APP}-release@.service" instance="${APP}-release@${RELEASE_ID}.service"
  local log="/run/lisp-deploy/${APP}-release-${RELEASE_ID}.log" env_copy="/opt/${APP}/release-command.env" status=0 code
  local failed_mark="/opt/${APP}/releases/${RELEASE_ID}/${RELEASE_COMMAND_FAILED}"
  [ -n "${RELEASE_COMMAND_UNIT:-}" ] || return 0
  if ! { [ -f "${template}" ] && [ "$(printf '%s' "${RELEASE_COMMAND_UNIT}")" = "$(cat "${template}")" ]; }; then
    printf '%s' "${RELEASE_COMMAND_UNIT}" > "${template}.new"
    chmod 0644 "${template}.new"
    mv -f "${template}.new" "${template}"
    systemctl daemon-reload
  fi
  if [ -n "${secret}" ] && [ -f "${secret}" ]; then
    (umask 077 && cp "${secret}" "${env_copy}.new")
    mv -f "${env_copy}.new" "${env_copy}"
  else
    rm -f "${env_copy}"
  fi
  mkdir -p /run/lisp-deploy
  chmod 0700 /run/lisp-deploy
  systemctl reset-failed "${instance}" 2>/dev/null || true
  say "running the release command of release ${RELEASE_ID}: ${RELEASE_COMMAND:-}"
  systemctl start "${instance}" || status=$?
  rm -f "${env_copy}"
  code="$(systemctl show --property ExecMainStatus --value "${instance}" 2>/dev/null || true)"
  if [ "${status}" = 0 ]; then
    rm -f "${failed_mark}"
    say "the release command of release ${RELEASE_ID} succeeded; its output:"
    cat "${log}" >&2 2>/dev/null || true
    rm -f "${log}"
    return 0
  fi
  # Marked, so the release is no longer offered to rollbackTo: it never served and its data may be half-migrated.
  touch "${failed_mark}" 2>/dev/null || true
  say "the release command of release ${RELEASE_ID} failed (exit status ${code:-unknown}); nothing was switched: ${serving} keeps serving. Its output:"
  cat "${log}" >&2 2>/dev/null || say "(no output: see journalctl --unit ${instance})"
  rm -f "${log}"
  systemctl reset-failed "${instance}" 2>/dev/null || true
  return 1
}

# The file run_release_command leaves in a release's directory when its release command failed; it goes when
# the command later succeeds. Such a release never served, so it is not one a rollback may name.
RELEASE_COMMAND_FAILED=.release-command-failed

# kept_releases DIR: the release ids DIR keeps that a rollback may name (not those whose release command
# failed), newest first, one a line.
kept_releases() {
  find "$1" -mindepth 1 -maxdepth 1 -type d ! -exec test -e "{}/${RELEASE_COMMAND_FAILED}" \; -printf '%T@ %f\n' 2>/dev/null | sort -rn | cut -d' ' -f2-
}

# require_kept_release DIR: fails, naming the releases DIR keeps, when RELEASE_ID is not one of them. With
# ROLLBACK=1 (a rollbackTo) it says how to pick one; otherwise the upload's directory is missing.
require_kept_release() {
  local kept
  kept="$(kept_releases "$1" | tr '\n' ' ' | sed 's/ $//')"
  if [ "${ROLLBACK:-0}" = 1 ] && [ -e "$1/${RELEASE_ID}/${RELEASE_COMMAND_FAILED}" ]; then
    say "cannot roll back to release ${RELEASE_ID}: its release command failed, so it never served (its data may be half-migrated). It keeps: ${kept:-none} (newest first); set rollbackTo to one of them. Nothing was changed"
    exit 1
  fi
  [ ! -d "$1/${RELEASE_ID}" ] || return 0
  if [ "${ROLLBACK:-0}" = 1 ]; then
    say "cannot roll back to release ${RELEASE_ID}: this host no longer keeps it (pruned, or never released here). It keeps: ${kept:-none} (newest first); set rollbackTo to one of them, or leave rollbackTo out to release the current build. Nothing was changed"
  else
    say "release ${RELEASE_ID} has no directory under $1 (was it prepared and uploaded?); this host keeps: ${kept:-none}. Nothing was changed"
  fi
  exit 1
}

# report_releases DIR SERVING: the lines SystemdRelease reads back from the activation's stdout (its
# `releaseId` and `keptReleases` outputs): the serving release and every release DIR keeps, newest first.
report_releases() {
  printf 'lisp-deploy-serving: %s\n' "$2"
  printf 'lisp-deploy-kept: %s\n' "$(kept_releases "$1" | tr '\n' ' ' | sed 's/ $//')"
}
