# Functions the release scripts share. releaseScript() (src/release/scripts.ts) puts this file in front
# of activate.sh, activate-slot.sh, remove.sh and remove-slots.sh, so one definition serves them all.
# It only defines functions; the scripts' own parameters and `set -euo pipefail` follow it.

say() { printf 'lisp-deploy: %s\n' "$*" >&2; }

# wait_healthy URL: polls URL until it answers HEALTH_STATUS, for at most HEALTH_TIMEOUT seconds.
wait_healthy() {
  local url="$1" deadline status
  deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
  while :; do
    status="$(curl --silent --output /dev/null --max-time 2 --write-out '%{http_code}' "${url}" || true)"
    if [ "${status}" = "${HEALTH_STATUS}" ]; then return 0; fi
    if [ "$(date +%s)" -ge "${deadline}" ]; then
      say "health check ${url} answered '${status}', expected ${HEALTH_STATUS}, for ${HEALTH_TIMEOUT}s"
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
