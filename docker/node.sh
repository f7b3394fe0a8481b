#!/usr/bin/env bash
# Run the node of docker/compose.yaml: `docker/node.sh up` (make docker-up) starts it and waits
# until the app is healthy; `docker/node.sh down` (make docker-down) stops and removes its
# containers (the volumes stay: database, recordings, config; `down -v` removes them too).
#
# Secrets: HOTLINE_ARI_PASSWORD, HOTLINE_AMI_SECRET and HOTLINE_DB_PASSWORD from the
# environment, else from $HOTLINE_DOCKER_ENV (default /var/lib/hotline/docker/node.env, made
# on first `up` with random values, mode 0600). HOTLINE_DOCKER_PROJECT names the compose
# project (default hotline); HOTLINE_DOCKER_<PORT> variables move the ports (compose.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${HOTLINE_DOCKER_ENV:-/var/lib/hotline/docker/node.env}
PROJECT=${HOTLINE_DOCKER_PROJECT:-hotline}
WAIT=${HOTLINE_DOCKER_WAIT:-600}

compose() { docker-compose -p "$PROJECT" -f docker/compose.yaml --env-file "$ENV_FILE" "$@"; }
secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

make_secrets() {
  [ -f "$ENV_FILE" ] && return
  mkdir -p "$(dirname "$ENV_FILE")"
  (
    umask 077
    {
      echo "# Secrets of the hotline node (docker/compose.yaml); made by docker/node.sh."
      echo "HOTLINE_ARI_PASSWORD=$(secret)"
      echo "HOTLINE_AMI_SECRET=$(secret)"
      echo "HOTLINE_DB_PASSWORD=$(secret)"
    } > "$ENV_FILE"
  )
  echo "node: generated secrets into $ENV_FILE (mode 0600)"
}

health() {
  local id
  id=$(compose ps -q "$1" 2>/dev/null || true)
  [ -n "$id" ] || { echo missing; return; }
  docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

up() {
  make_secrets
  if ! compose up -d --remove-orphans; then
    echo "node: the node did not start; the init service's last lines:" >&2
    compose logs --tail 30 init >&2 || true
    exit 1
  fi
  local start=$SECONDS state
  while :; do
    state=$(health app)
    [ "$state" = healthy ] && break
    if [ "$state" = exited ] || [ "$state" = missing ] || [ $((SECONDS - start)) -ge "$WAIT" ]; then
      echo "node: the app is $state after $((SECONDS - start)) s; its last lines:" >&2
      compose logs --tail 40 app >&2 || true
      exit 1
    fi
    sleep 2
  done
  compose ps
  local api="http://127.0.0.1:${HOTLINE_DOCKER_API_PORT:-28080}"
  cat <<MSG

  The hotline node is up (compose project $PROJECT, $((SECONDS - start)) s to healthy).
  SIP 127.0.0.1:${HOTLINE_DOCKER_SIP_PORT:-25060}   API $api   health $api/healthz
  Call it:  .venv/bin/hotline call --pbx 127.0.0.1:${HOTLINE_DOCKER_SIP_PORT:-25060} --api none --to 12306 --dtmf 1 --hold 5
  A token:  docker-compose -p $PROJECT -f docker/compose.yaml --env-file $ENV_FILE \\
              exec app hotline users create NAME --role supervisor --token
  Logs:     docker-compose -p $PROJECT -f docker/compose.yaml --env-file $ENV_FILE logs -f
  Stop:     make docker-down
MSG
}

down() {
  # The secrets only fill in the compose file here: down needs none of them.
  if [ ! -f "$ENV_FILE" ]; then
    export HOTLINE_ARI_PASSWORD=${HOTLINE_ARI_PASSWORD:-unused} \
           HOTLINE_AMI_SECRET=${HOTLINE_AMI_SECRET:-unused} \
           HOTLINE_DB_PASSWORD=${HOTLINE_DB_PASSWORD:-unused}
    ENV_FILE=/dev/null
  fi
  compose down "$@"
}

case "${1:-}" in
  up) up ;;
  down) shift; down "$@" ;;
  *) echo "usage: docker/node.sh up | down [-v]" >&2; exit 2 ;;
esac
