#!/bin/sh
# Gives a LocalRelease's state volume (`stateDirectory`) to the image's runtime user, once: a new Docker
# volume mounted where the image has no directory starts empty and owned by root, which the app (running
# as RUNTIME_UID) could not write. A container of the image is created (never started) with the volume
# mounted at MOUNT_PATH, and a tar stream holding only that directory, owned by RUNTIME_UID and mode 0700,
# is copied over it: Docker applies the entry's owner and mode to the mount point, the volume's root.
# Doing it again changes nothing. Run by `sh`; localReleaseScript() (src/release/local/localRelease.ts) sets the parameters.
#
# Parameters (environment variables; none of them secret):
#   IMAGE        an image with the runtime user (the release's)
#   VOLUME       the volume's name
#   MOUNT_PATH   where the release mounts it, e.g. /var/lib/blog
#   RUNTIME_UID  the image's runtime user
set -eu
cid=""
scratch="$(mktemp -d)"
trap 'if [ -n "${cid}" ]; then docker rm -f "${cid}" >/dev/null 2>&1; fi; rm -rf "${scratch}"' EXIT
cid="$(docker create --volume "${VOLUME}:${MOUNT_PATH}" "${IMAGE}")"
name="$(basename "${MOUNT_PATH}")"
mkdir -m 0700 "${scratch}/${name}"
tar -C "${scratch}" --numeric-owner --owner="${RUNTIME_UID}" --group="${RUNTIME_UID}" -cf - "${name}" \
  | docker cp - "${cid}:$(dirname "${MOUNT_PATH}")"
printf '%s:%s\n' "${VOLUME}" "${MOUNT_PATH}"
