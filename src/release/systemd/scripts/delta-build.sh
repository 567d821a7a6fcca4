#!/usr/bin/env bash
# Delta release, on the host: builds the release's executable from the uploaded source archive with the
# dependencies executable (the SBCL runtime + dependencies.core, made from the same Dockerfile stage as
# LispImage's build stage starts from), running lisp/build/executable.lisp from the archive: the same entry
# point and compression as the image's build. The result lands where activate.sh expects an upload, so the
# release then switches, health-checks and rolls back exactly like SystemdRelease's.
#
# Parameters (environment variables; none of them secret):
#   APP               app name: /opt/$APP
#   RELEASE_ID        directory under /opt/$APP/releases; holds .source.tar
#   DEPENDENCIES_KEY  directory under /opt/$APP/dependencies holding lisp-deploy-dependencies
#   EXECUTABLE        file name of the executable to build
#   SYSTEM            the ASDF system to load
#   ENTRY_POINT       package:function the executable calls
#   COMPRESSION       true or false: compress the executable's core
#
# Prints one line on stdout: "source-only" when the dependencies executable was already on the host,
# "dependencies-and-source" when this update uploaded it. A Lisp error (e.g. a syntax error in the app)
# fails the script with the error on stderr, before anything is switched: the running release stays.
# Takes the per-app lock first: a build never interleaves with an activation (whose pruning could delete
# the release directory under it) or a removal of the app.
# Uses say and lock_app from lib/common.sh, which releaseScript() puts in front.
set -euo pipefail
lock_app "${APP}" "delta build"

root="/opt/${APP}"
deps_dir="${root}/dependencies/${DEPENDENCIES_KEY}"
deps="${deps_dir}/lisp-deploy-dependencies"
release_dir="${root}/releases/${RELEASE_ID}"

kind="source-only"
# A fresh upload lands under a temporary name (a running build could hold the old file open).
if [ -f "${deps_dir}/.upload-lisp-deploy-dependencies" ]; then
  chmod 0755 "${deps_dir}/.upload-lisp-deploy-dependencies"
  mv -f "${deps_dir}/.upload-lisp-deploy-dependencies" "${deps}"
  kind="dependencies-and-source"
fi
if [ ! -x "${deps}" ]; then
  say "the dependencies executable ${deps} is missing; its upload did not happen (was the host rebuilt?)."
  exit 1
fi

# The executable is an SBCL runtime built on Debian bookworm (the image's base): it needs this host's
# architecture and a glibc at least as new as bookworm's. Check the first here; the second shows as a
# loader error from the build below.
case "$(od -An -tu2 -j18 -N2 "${deps}" | tr -d ' ')" in
  62) exe_arch=x86_64 ;;
  183) exe_arch=aarch64 ;;
  *) exe_arch=unknown ;;
esac
host_arch="$(uname -m)"
if [ "${exe_arch}" != "${host_arch}" ]; then
  say "the dependencies executable is built for ${exe_arch}, but this host is ${host_arch}: build the image for the host's platform."
  exit 1
fi

if [ -f "${release_dir}/${EXECUTABLE}" ] || [ -f "${release_dir}/.upload-${EXECUTABLE}" ]; then
  say "release ${RELEASE_ID} is already built"
  echo "${kind}"
  exit 0
fi

work="$(mktemp -d /var/tmp/lisp-deploy-"${APP}"-build.XXXXXX)"
trap 'rm -rf "${work}"' EXIT
mkdir "${work}/src" "${work}/out" "${work}/cache"
tar -x --no-same-owner --no-same-permissions -f "${release_dir}/.source.tar" -C "${work}/src"

say "building ${EXECUTABLE} of release ${RELEASE_ID} on the host"
# A clean environment: the build sees only its settings, a private HOME and fasl cache.
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="${work}" XDG_CACHE_HOME="${work}/cache" \
  LISP_DEPLOY_SOURCE_TREES="${work}/src/app" \
  LISP_DEPLOY_SYSTEM="${SYSTEM}" \
  LISP_DEPLOY_ENTRY_POINT="${ENTRY_POINT}" \
  LISP_DEPLOY_OUTPUT="${work}/out/${EXECUTABLE}" \
  LISP_DEPLOY_COMPRESSION="${COMPRESSION}" \
  "${deps}" --non-interactive --no-sysinit --no-userinit \
  --load "${work}/src/lisp-deploy/build/executable.lisp" </dev/null >&2

chmod 0755 "${work}/out/${EXECUTABLE}"
mv -f "${work}/out/${EXECUTABLE}" "${release_dir}/.upload-${EXECUTABLE}"
rm -f "${release_dir}/.source.tar"
echo "${kind}"
