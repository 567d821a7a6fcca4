#!/usr/bin/env bash
# Makes the directory an upload lands in: /opt/$APP/releases/$RELEASE_ID, owned by root, world-readable
# (the service's dynamic user must read it). Idempotent: mkdir -p and a mode that is already right.
#
# Parameters (environment variables): APP, RELEASE_ID.
set -euo pipefail
release_dir="/opt/${APP}/releases/${RELEASE_ID}"
if [ ! -d "${release_dir}" ]; then
  mkdir -p "${release_dir}"
  chmod 0755 "/opt/${APP}" "/opt/${APP}/releases" "${release_dir}"
fi
# A login user other than root (sudo, as on EC2's Debian images) uploads the executable itself over SFTP:
# let it write into this release directory only; activate.sh gives everything back to root.
if [ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ]; then
  chown "${SUDO_USER}" "${release_dir}"
fi
