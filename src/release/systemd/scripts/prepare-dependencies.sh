#!/usr/bin/env bash
# Delta release: makes the directory the dependencies executable is uploaded to,
# /opt/$APP/dependencies/$DEPENDENCIES_KEY, owned by root and world-readable (the host build runs it).
# Idempotent: mkdir -p and modes that are already right. Run by DeltaRelease as root over SSH.
#
# Parameters (environment variables): APP, DEPENDENCIES_KEY.
set -euo pipefail
deps_dir="/opt/${APP}/dependencies/${DEPENDENCIES_KEY}"
mkdir -p "${deps_dir}"
chmod 0755 "/opt/${APP}" "/opt/${APP}/dependencies" "${deps_dir}"
