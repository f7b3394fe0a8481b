#!/bin/sh
# First start: a cluster in $PGDATA with role $POSTGRES_USER (password from POSTGRES_PASSWORD
# or the file POSTGRES_PASSWORD_FILE) owning database $POSTGRES_DB. Then PostgreSQL in the
# foreground on 127.0.0.1:$PGPORT (host network: the app reaches it there), logging to stderr.
set -eu
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) for the first start" >&2
    exit 1
  fi
  echo "postgres: creating the cluster in $PGDATA (role $POSTGRES_USER, database $POSTGRES_DB)"
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
         --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  quoted=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
  # Single-user mode: no server listens while the role is made.
  printf '%s\n' \
    "CREATE ROLE \"$POSTGRES_USER\" LOGIN PASSWORD '$quoted';" \
    "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
    | postgres --single -D "$PGDATA" -c log_min_messages=warning postgres >/dev/null
fi
exec postgres -D "$PGDATA" -p "$PGPORT" -c listen_addresses="${PG_LISTEN:-127.0.0.1}" \
     -c unix_socket_directories=/run/postgresql "$@"
