#!/bin/sh
# Run by SshHost on an existing server before it hands out its connection (src/host/readiness.ts):
# the key logs in, the user may sudo without a password (releases need it), and the machine is the
# declared architecture. Parameters (environment): ARCH (amd64, arm64) and MACHINE, `uname -m`'s name for it.
set -u
# root needs no sudo (and minimal servers may not have it installed).
if [ "$(id -u)" -ne 0 ]; then sudo -n true 2>/dev/null || { echo "the SSH user cannot run sudo without a password; releases need it" >&2; exit 1; }; fi
actual=$(uname -m)
if [ "$actual" != "$MACHINE" ]; then echo "the server is $actual, but arch was declared $ARCH ($MACHINE)" >&2; exit 1; fi
echo "$actual"
