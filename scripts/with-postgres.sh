#!/bin/sh
# Runs a command with a throwaway PostgreSQL cluster of its own, and stops
# the cluster afterwards, also when the command fails or is interrupted.
#
#   scripts/with-postgres.sh make test test-asan
#
# The cluster lives in a fresh temporary directory, listens on a private
# socket directory only (no TCP port to collide with another server), and
# is owned by the `postgres` system user (initdb refuses to run as root).
# The command sees:
#   STRATA_PG_URL       postgresql://strata:PASSWORD@/strata?host=SOCKDIR&port=5432
#   STRATA_PG_SOCKET    the socket directory
#   STRATA_PG_ADMIN_URL a superuser URL over the socket (for test setup)
#   STRATA_PG_BIN       the server's bin directory (psql, pg_dump, ...)
# With STRATA_PG_URL already set, the command runs against that server.
set -eu

if [ -n "${STRATA_PG_URL:-}" ]; then
    exec "$@"
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "with-postgres: no PostgreSQL server; run make deps" >&2
    exit 1
fi

run_as=""
if [ "$(id -u)" -eq 0 ]; then
    run_as="runuser -u postgres --"
fi

top=$(mktemp -d /tmp/strata-pg-XXXXXX)
chmod 0755 "$top"
data="$top/data"
sock="$top/sock"
mkdir -p "$data" "$sock"
[ -n "$run_as" ] && chown -R postgres:postgres "$top"

stop() {
    $run_as "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$top"
}
trap stop EXIT
trap 'exit 130' INT TERM

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
pwfile="$top/pw"
printf '%s\n' "$password" >"$pwfile"
[ -n "$run_as" ] && chown postgres "$pwfile"

$run_as "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 >"$top/initdb.log" 2>&1 ||
    { cat "$top/initdb.log" >&2; exit 1; }

# Only a private socket directory: no port to collide with another server,
# so the port number is just part of the socket's name.
port=5432
cat >"$data/pg_hba.conf" <<HBA
local all postgres trust
local all all scram-sha-256
HBA
cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$sock'
max_connections = 250
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
CONF

$run_as "$bin/pg_ctl" -D "$data" -l "$top/server.log" -w -t 60 start >/dev/null ||
    { cat "$top/server.log" >&2; exit 1; }

admin="postgresql:///postgres?host=$sock&port=$port&user=postgres"
"$bin/psql" -X -q -v ON_ERROR_STOP=1 "$admin" <<SQL
CREATE ROLE strata LOGIN SUPERUSER PASSWORD '$password';
CREATE DATABASE strata OWNER strata;
SQL

export STRATA_PG_URL="postgresql://strata:$password@/strata?host=$sock&port=$port"
export STRATA_PG_SOCKET="$sock"
export STRATA_PG_PORT="$port"
export STRATA_PG_ADMIN_URL="$admin"
export STRATA_PG_BIN="$bin"
"$@"
