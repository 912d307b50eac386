#!/usr/bin/env bash
# Deploys the stack on this host from this checkout: the latest code, the images, the databases and the
# Prefect server, the migrations, the deployments of prefect.yaml, the worker, then a smoke run
# (`crm run daily --dry-run`: portal login, downloads and merge; writes and sends nothing). Stops at the
# first step that fails, with its exit code. The deploy workflow runs it over SSH; by hand, on the server:
#   bash scripts/deploy.sh
# Environment:
#   COMPOSE         the compose command (default "docker compose"; e.g. "podman-compose")
#   COMPOSE_FILES   compose files, space-separated (default docker-compose.yml); add
#                   docker-compose.local.yml for the local stand-in images (containers/local/build.sh first)
#                   and docker-compose.simulator.yml for the portal simulator instead of the portal
#   DEPLOY_PULL     1 (default): `git pull --ff-only` first; 0: deploy the checkout as it is
#   HEALTH_TIMEOUT  seconds to wait for the databases and the Prefect server to be healthy (default 300)
# The passwords compose needs (POSTGRES_PASSWORD, PREFECT_DB_PASSWORD, …) come from .env or the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${DEPLOY_PULL:-1}" = 1 ]; then
  echo "==> git pull"
  git pull --ff-only
  # Bash reads a script as it runs it: go on with the script as pulled, from its start.
  DEPLOY_PULL=0 exec bash scripts/deploy.sh "$@"
fi

# One function, read whole before it runs: editing this file during a deploy cannot change the deploy.
main() {
  read -r -a compose <<<"${COMPOSE:-docker compose}"
  for file in ${COMPOSE_FILES:-docker-compose.yml}; do
    compose+=(-f "$file")
  done
  # The wait below looks containers up by project and service label; the project name is the compose file's.
  export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-tsv-crm}"
  case "${compose[0]}" in
    *podman*) engine=podman ;;
    *) engine=docker ;;
  esac
  timeout_s="${HEALTH_TIMEOUT:-300}"

  step() { echo "==> $*"; }

  container_of() {
    "$engine" ps -q \
      --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
      --filter "label=com.docker.compose.service=$1" | head -1
  }

  healthy() {
    if [ "$engine" = podman ]; then
      # Podman schedules health checks through systemd timers; without systemd none run by themselves, so
      # run the service's own check (podman records its result as the health status).
      podman healthcheck run "$1" >/dev/null 2>&1
    else
      [ "$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")" = healthy ]
    fi
  }

  wait_healthy() {
    local service id deadline=$((SECONDS + timeout_s))
    for service in "$@"; do
      until id=$(container_of "$service") && [ -n "$id" ] && healthy "$id"; do
        if ((SECONDS > deadline)); then
          echo "deploy: $service is not healthy after ${timeout_s} s; its last log lines:" >&2
          [ -n "${id:-}" ] && "$engine" logs --tail 30 "$id" >&2
          exit 1
        fi
        sleep 2
      done
      echo "    $service healthy"
    done
  }

  # A one-off container of the worker's service (its image, environment and volume), without starting the
  # services it depends on: they are up already.
  in_worker_image() {
    local entrypoint=$1
    shift
    "${compose[@]}" run --rm --no-deps -T --entrypoint "$entrypoint" worker "$@"
  }

  step "build the images"
  # The worker's first: the migration's image (the same Dockerfile) then comes from its layer cache, where
  # a parallel build (podman-compose) would make every layer twice.
  "${compose[@]}" build worker
  "${compose[@]}" build

  # Every service but the one-shot migration and the worker (they need the migrated database): the databases,
  # the Prefect server and whatever an extra compose file adds (the simulator).
  all_services=$("${compose[@]}" config --services)
  mapfile -t services < <(grep -vxE 'migrate|worker' <<<"$all_services")
  step "start ${services[*]}"
  "${compose[@]}" up -d "${services[@]}"
  wait_healthy db prefect-db prefect-server

  step "migrate the database (one-shot)"
  "${compose[@]}" run --rm -T migrate

  step "register the deployments of prefect.yaml"
  in_worker_image sh -ec '
    prefect work-pool inspect crm-process >/dev/null 2>&1 \
      || prefect work-pool create crm-process --type process
    prefect --no-prompt deploy --all'

  step "start the worker on the new image"
  "${compose[@]}" up -d --no-deps --force-recreate worker
  wait_healthy worker

  step "smoke run: crm run daily --dry-run"
  in_worker_image crm run daily --dry-run

  step "deployed $(git rev-parse --short HEAD 2>/dev/null || echo 'this checkout')"
}

main "$@"
