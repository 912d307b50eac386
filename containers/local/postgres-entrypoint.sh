#!/bin/bash
# First start: a cluster owned by POSTGRES_USER (password auth over TCP, trust on the local socket) with
# the database POSTGRES_DB; then PostgreSQL in the foreground as the postgres user, listening on all of the
# container's interfaces (the compose file decides what the host publishes).
set -euo pipefail
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  chown postgres "$pwfile"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  "${as_postgres[@]}" initdb --username="$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | "${as_postgres[@]}" postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec "${as_postgres[@]}" postgres -c listen_addresses='*' "$@"
fi
exec "$@"
