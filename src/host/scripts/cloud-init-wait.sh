#!/bin/sh
# Run by Ec2Host over SSH before it hands out its connection (src/host/readiness.ts says why): block until
# cloud-init has finished, then fail unless it succeeded. Exit 2 of `status --wait` (cloud-init >= 23.4)
# is "done with recoverable errors", a usable host. On failure the long status goes to stderr.
set -u
rc=0; cloud-init status --wait >/dev/null || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then cloud-init status --long >&2; exit 1; fi
cloud-init status --long
