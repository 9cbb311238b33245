# shellcheck shell=bash
# pglib.sh - PostgreSQL helpers for tests/pg/*.sh, on top of tests/cli/lib.sh.
#
# The server comes from scripts/with-postgres.sh (make check starts one):
# STRATA_PG_URL, STRATA_PG_ADMIN_URL and STRATA_PG_BIN. Without them the
# script is skipped. Each test works in databases of its own (new_db), which
# are dropped on exit.

# shellcheck source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"

[ -n "${STRATA_PG_URL:-}" ] && [ -n "${STRATA_PG_ADMIN_URL:-}" ] ||
    skip "no PostgreSQL server (run under scripts/with-postgres.sh)"
PSQL="$STRATA_PG_BIN/psql"
PG_DUMP="$STRATA_PG_BIN/pg_dump"
PG_DBS=()

pg_cleanup() {
    local d
    for d in "${PG_DBS[@]}"; do
        "$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c \
            "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1
    done
}
trap 'pg_cleanup; cleanup' EXIT

# new_db: creates a fresh database and sets DBURL (strata's URL for it, with
# the password) and DBNAME.
new_db() {
    DBNAME="t_${T_NAME}_$$_${#PG_DBS[@]}"
    "$PSQL" -X -q -v ON_ERROR_STOP=1 "$STRATA_PG_ADMIN_URL" \
        -c "CREATE DATABASE \"$DBNAME\" OWNER strata" >/dev/null ||
        { echo "FAIL: setup: cannot create database $DBNAME" >&2; exit 1; }
    PG_DBS+=("$DBNAME")
    DBURL=${STRATA_PG_URL/\/strata\?//$DBNAME?}
}

# q SQL: runs SQL in the current database; prints unaligned rows.
q() {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" -c "$1"
}

# settle [APPLICATION]: waits (up to 10 s) until no other session in the
# cluster holds a transaction id or snapshot, bar those of APPLICATION (kept
# open on purpose), so that an autovacuum or another test does not defer a
# digest store (pg_digest.h) that a test counts on.
settle() {
    local _
    for _ in $(seq 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL) ${1:+AND application_name <> '$1'}")" = 0 ] && return
        sleep 0.1
    done
}

# pg_snapshot: the schema and every row of strata's tables, for "nothing
# changed" checks.
pg_snapshot() {
    "$PG_DUMP" --schema-only --no-owner --restrict-key=strata "$DBURL" \
        2>&1 | grep -v '^--'
    q "SELECT string_agg(format('%s|%s|%s|%s', module, version, state,
                                checksum), E'\n' ORDER BY module, version)
       FROM strata_migrations" 2>/dev/null
    q "SELECT count(*) FROM strata_migrations_history" 2>/dev/null
}
