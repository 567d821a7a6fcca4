#!/bin/sh
# Runs a LocalRelease's release command (`releaseCommand`) once, in a one-shot container of the NEW image,
# before the serving container is replaced: the image's executable with the command's words as its
# arguments (this script's own arguments), with the release's environment, its secret file and its state
# volume. A non-zero exit fails the Pulumi update with the command's output, and the serving container is
# left alone (the container resource depends on this command). The container is removed however it ends.
# Run by `sh`, as command.local.Command runs it; localReleaseScript() (src/release/local/localRelease.ts) sets the parameters.
#
# Parameters (environment variables; none of them secret):
#   IMAGE          the new image
#   EXECUTABLE     the executable inside the image (LispImage's executablePath): the entrypoint
#   NETWORK_MODE   bridge | host, as the serving container
#   ENV_NAMES      names of the variables to pass, separated by spaces; their values are in this script's
#                  environment (docker run -e NAME takes the value from there, so no value is in a command)
#   SECRET_ENV     1: stdin carries the secret environment file, copied into the container as SECRET_FILE
#                  (0400, owned by RUNTIME_UID) before it starts; 0: there is none
#   SECRET_FILE    where the executable reads that file (it is named in the environment, see LocalRelease)
#   RUNTIME_UID    the image's runtime user
#   VOLUME         optional: `<volume>:<path>`, the state volume mounted as in the serving container
set -eu
cid=""
scratch="$(mktemp -d)"
trap 'if [ -n "${cid}" ]; then docker rm -f "${cid}" >/dev/null 2>&1; fi; rm -rf "${scratch}"' EXIT
# docker create OPTIONS IMAGE WORDS: each `set --` puts its words in front of the command's own words.
set -- "${IMAGE}" "$@"
for name in ${ENV_NAMES}; do set -- --env "${name}" "$@"; done
if [ -n "${VOLUME:-}" ]; then set -- --volume "${VOLUME}" "$@"; fi
set -- --entrypoint "${EXECUTABLE}" --network "${NETWORK_MODE}" "$@"
cid="$(docker create "$@")"
if [ "${SECRET_ENV}" = 1 ]; then
  # A tar stream carries the owner and mode (docker cp from a plain file would leave root's): written
  # 0600 here, 0400 and the runtime user's inside, and never on a command line.
  (umask 077 && cat > "${scratch}/$(basename "${SECRET_FILE}")")
  tar -C "${scratch}" --numeric-owner --owner="${RUNTIME_UID}" --group="${RUNTIME_UID}" --mode=0400 -cf - "$(basename "${SECRET_FILE}")" \
    | docker cp - "${cid}:$(dirname "${SECRET_FILE}")"
fi
printf 'lisp-deploy: running the release command in a one-shot container of %s\n' "${IMAGE}" >&2
# docker start --attach exits with the container's status; its output is the command's.
if docker start --attach "${cid}"; then
  printf 'lisp-deploy: the release command succeeded\n' >&2
else
  status=$?
  printf 'lisp-deploy: the release command failed (exit status %s); the serving container was not touched\n' "${status}" >&2
  exit 1
fi
