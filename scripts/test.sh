#!/usr/bin/env bash
# Runs the whole test suite (unit, PostgreSQL, SQLite, real Chromium, Prefect server) with coverage.
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth for user postgres; CRM_TEST_PG_HOST / CRM_TEST_PG_PORT name
# another server, as in GitHub's CI); starts the local cluster if it is down.
set -euo pipefail
cd "$(dirname "$0")/.."
host="${CRM_TEST_PG_HOST:-127.0.0.1}"
port="${CRM_TEST_PG_PORT:-5432}"

if ! pg_isready -h "$host" -p "$port" -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h "$host" -p "$port" -q 2>/dev/null && break; sleep 1; done
fi
pg_isready -h "$host" -p "$port" || { echo "PostgreSQL is not reachable on $host:$port" >&2; exit 2; }

export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
if [ $# -gt 0 ]; then
  exec .venv/bin/pytest --cov --cov-report=term:skip-covered "$@"
fi
# The whole suite on every core (pytest-xdist; CRM_TEST_WORKERS=1 runs it in one process). Most tests
# wait on a browser, a server or a subprocess, so two workers fit even a two-core machine.
workers="${CRM_TEST_WORKERS:-auto}"
[ "$workers" = auto ] && [ "$(nproc)" -lt 2 ] && workers=2
suite=(.venv/bin/pytest --cov --cov-report=term:skip-covered -n "$workers" --dist loadgroup)
if ! command -v podman >/dev/null 2>&1; then
  exec "${suite[@]}"
fi

# The compose-stack test (marker `stack`) spends its minutes waiting on containers it starts on ports of
# its own: it runs beside the rest of the suite instead of after it, and its output follows the suite's.
stack_log=$(mktemp)
trap 'rm -f "$stack_log"' EXIT
.venv/bin/pytest -m stack --no-cov -q >"$stack_log" 2>&1 &
stack_pid=$!
set +e
"${suite[@]}" -m "not stack"
suite_rc=$?
wait "$stack_pid"
stack_rc=$?
set -e
echo "==> compose stack test (pytest -m stack)"
cat "$stack_log"
[ "$suite_rc" -eq 0 ] && [ "$stack_rc" -eq 0 ]
