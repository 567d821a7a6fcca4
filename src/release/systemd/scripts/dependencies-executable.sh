#!/bin/sh
# Delta release, on the machine running Pulumi: builds the Dockerfile's `dependencies` stage (the same
# stage, and so the same layer cache, as LispImage's build), runs the Lisp script that turns its
# dependencies.core into the dependencies executable in a container of it, and saves the executable to
# DESTINATION. Prints DESTINATION. The container and the script's temporary file are removed even when a
# step fails. Run by `sh`, as command.local.Command runs it; localScript() (src/release/systemd/scripts.ts) sets
# the parameters, all relative paths and plain values, so the same dependencies give the same text.
#
# Parameters (environment variables; none of them secret):
#   CONTEXT_DIR   the written build context (holds the Dockerfile), relative
#   IMAGE_TAG     the tag of the dependencies stage image, e.g. hello-dependencies:<key12>
#   DESTINATION   where to write the executable, relative
#   NETWORK       optional: `docker build --network` and `docker create --network` value, e.g. host
#   CORE          the dependencies core inside the image
#   LISP_SCRIPT   the text of the Lisp script to run (lisp/build/sbcl-dependencies-executable.lisp)
#   SCRIPT_IN_IMAGE  where the script goes inside the container
#   OUTPUT_IN_IMAGE  where the script writes the executable inside the container (LISP_DEPLOY_OUTPUT)
set -eu
if [ -n "${NETWORK:-}" ]; then set -- --network "${NETWORK}"; else set --; fi
docker build -q "$@" --target dependencies -t "${IMAGE_TAG}" -f "${CONTEXT_DIR}/Dockerfile" "${CONTEXT_DIR}" >/dev/null
script=$(mktemp)
printf '%s' "${LISP_SCRIPT}" > "${script}"
cid=$(docker create "$@" -e LISP_DEPLOY_OUTPUT="${OUTPUT_IN_IMAGE}" "${IMAGE_TAG}" sbcl --core "${CORE}" --non-interactive --no-sysinit --no-userinit --load "${SCRIPT_IN_IMAGE}")
trap 'docker rm -f "${cid}" >/dev/null; rm -f "${script}"' EXIT
docker cp "${script}" "${cid}:${SCRIPT_IN_IMAGE}"
docker start -a "${cid}" >&2
mkdir -p "$(dirname "${DESTINATION}")"
docker cp "${cid}:${OUTPUT_IN_IMAGE}" "${DESTINATION}"
echo "${DESTINATION}"
