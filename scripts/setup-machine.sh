#!/usr/bin/env bash
# Installs and starts everything the tests and benchmarks need on a fresh Debian 12 machine:
# the Docker engine (started on the host network only), SBCL and the Lisp libraries from Debian,
# the tools the tests call, a locally made debian:bookworm-slim base image (Docker Hub is out of
# reach here), and Node.js 22 with the Pulumi CLI and language hosts built from Go modules
# (scripts/setup-pulumi.sh). Idempotent: a second run only checks that everything is up.
set -euo pipefail

log() { printf 'setup-machine: %s\n' "$*" >&2; }

DEBIAN_PACKAGES=(
  docker.io debootstrap            # the engine, and the tool that makes the base image
  sbcl cl-hunchentoot cl-fiveam cl-swank cl-bordeaux-threads cl-usocket cl-alexandria
  shellcheck docker-registry cloud-init openssh-client curl jq
  python3                          # bcrypt htpasswd for the heroku suite's authenticated local registry
  systemd                          # systemd-analyze: verify and score the rendered release unit
  caddy nginx                      # caddy adapt / nginx -t read back the rendered proxy configs (never started here)
)

install_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  apt-get update -qq
  # Packages must not start their services here (nginx would take port 80): policy-rc.d says no to every
  # start a package's scripts ask for, for the duration of the install only.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod +x "$guard"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$guard" ]; then rm -f "$guard"; fi
}

# cloud-init's package starts nothing on a machine that is not a cloud instance, but its Debian
# package may leave the registry's service enabled: we start our own registry per test instead.
start_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd (host network only: no bridge, no iptables)"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "dockerd did not come up; last log lines:"; tail -n 30 /var/log/dockerd.log >&2
  return 1
}

# The mirror apt already uses, so debootstrap reaches the same place apt does.
debian_mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -m1 -E 'debian/?$' | awk '{print $2}')
  echo "${uri:-http://deb.debian.org/debian}"
}

make_base_image() {
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then return 0; fi
  local dir; dir=$(mktemp -d /tmp/bookworm-rootfs.XXXXXX)
  log "debootstrapping debian:bookworm-slim from $(debian_mirror)"
  debootstrap --variant=minbase bookworm "$dir" "$(debian_mirror)" >/tmp/debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/debootstrap.log >&2; return 1; }
  # Keep images slim the way the official -slim image does: no apt lists, no docs.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  rm -rf "$dir"
}

install_packages
start_docker
make_base_image
bash "$(dirname "$0")/setup-pulumi.sh"
log "ready: $(docker version --format 'engine {{.Server.Version}}') / $(sbcl --version)"
