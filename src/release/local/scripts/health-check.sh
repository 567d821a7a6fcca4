#!/bin/sh
# LocalRelease's health check, run on the machine running Pulumi after the new container started. Every
# value (URL, container, timeout, log lines) arrives in the environment (healthCheckEnvironment in
# localRelease.ts), so no value can change what the shell parses. It passes only when the NEW container is
# running and has not restarted AND the URL answers 200, checked again after the answer: with host
# networking an old process still holding the port would otherwise answer for a new container that cannot
# bind it. On failure it prints the container's last log lines, so the update's error says why.
# Needs curl and docker.
set -u
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
status=000
state=unknown
container_state() {
  if s=$(docker inspect --format '{{.State.Status}} restarts={{.RestartCount}}' "$CONTAINER_ID" 2>/dev/null); then echo "$s"; else echo missing; fi
}
while [ "$(date +%s)" -lt "$deadline" ]; do
  state=$(container_state)
  if [ "$state" = "running restarts=0" ]; then
    status=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$HEALTH_URL" || true)
    if [ "$status" = 200 ] && [ "$(container_state)" = "running restarts=0" ]; then
      echo "healthy: $HEALTH_URL answered 200 from $CONTAINER_NAME"; exit 0
    fi
  fi
  sleep 0.5
done
echo "unhealthy: $HEALTH_URL did not answer 200 from $CONTAINER_NAME within $HEALTH_TIMEOUT s (container: $state, last status $status); last log lines:" >&2
docker logs --tail "$HEALTH_LOG_LINES" "$CONTAINER_ID" >&2 2>&1 || true
exit 1
