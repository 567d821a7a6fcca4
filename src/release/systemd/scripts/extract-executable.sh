#!/bin/sh
# Copies a release's executable out of an image, on the machine running Pulumi (SystemdRelease with
# `executable.image`), to DESTINATION and prints its release id: the first 12 hex digits of its sha256,
# its content address. The container is removed even when the copy fails. Run by `sh`, as
# command.local.Command runs it; localScript() (src/release/systemd/scripts.ts) sets the parameters.
#
# Parameters (environment variables; none of them secret):
#   IMAGE          the image reference, e.g. registry.local/hello@sha256:...
#   PATH_IN_IMAGE  the executable's absolute path inside the image
#   DESTINATION    where to write it, relative to the program's directory (so previews do not depend on
#                  the machine)
set -eu
cid=$(docker create "${IMAGE}")
trap 'docker rm -f "${cid}" >/dev/null' EXIT
mkdir -p "$(dirname "${DESTINATION}")"
docker cp "${cid}:${PATH_IN_IMAGE}" "${DESTINATION}"
sha256sum "${DESTINATION}" | cut -c1-12
