# shellcheck shell=bash
# rlib.sh - helpers for tests/reliability/*.sh, on top of tests/cli/lib.sh.
#
# Unlike tests/pg/pglib.sh, a missing PostgreSQL server does not skip the
# script: the PostgreSQL part of a reliability test runs only when
# STRATA_PG_URL, STRATA_PG_ADMIN_URL and STRATA_PG_BIN are set (as under
# scripts/with-postgres.sh), and HAVE_PG says whether they are.

# shellcheck source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"

unset DATABASE_URL STRATA_MIGRATIONS PGPASSWORD PGPASSFILE PGHOST PGPORT \
    PGUSER PGDATABASE PGSERVICE

HAVE_PG=0
if [ -n "${STRATA_PG_URL:-}" ] && [ -n "${STRATA_PG_ADMIN_URL:-}" ] &&
    [ -n "${STRATA_PG_BIN:-}" ]; then
    HAVE_PG=1
    PSQL="$STRATA_PG_BIN/psql"
    PG_DUMP="$STRATA_PG_BIN/pg_dump"
fi
PG_DBS=()

pg_cleanup() {
    local d
    [ "$HAVE_PG" -eq 1 ] || return 0
    for d in "${PG_DBS[@]}"; do
        "$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c \
            "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1
    done
}
trap 'pg_cleanup; cleanup' EXIT

# new_db: creates a fresh PostgreSQL database; sets DBURL (strata's URL for
# it, with the password) and DBNAME.
new_db() {
    DBNAME="r_${T_NAME}_$$_${#PG_DBS[@]}"
    "$PSQL" -X -q -v ON_ERROR_STOP=1 "$STRATA_PG_ADMIN_URL" \
        -c "CREATE DATABASE \"$DBNAME\" OWNER strata" >/dev/null ||
        { echo "FAIL: setup: cannot create database $DBNAME" >&2; exit 1; }
    PG_DBS+=("$DBNAME")
    DBURL=${STRATA_PG_URL/\/strata\?//$DBNAME?}
}

# q SQL: runs SQL in the current PostgreSQL database; prints unaligned rows.
q() {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" -c "$1"
}

# pg_state: the whole schema of the current PostgreSQL database (pg_dump,
# every schema) and every row of every table strata may have made, whatever
# their name: for "nothing changed" checks.
pg_state() {
    "$PG_DUMP" --schema-only --no-owner --restrict-key=strata "$DBURL" 2>&1 |
        grep -v '^--'
    local t
    while IFS= read -r t; do
        [ -n "$t" ] || continue
        echo "== $t"
        q "SELECT * FROM $t ORDER BY 1, 2" 2>&1
    done < <(q "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
                WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
                ORDER BY 1")
}

# sqlite_state DB: the schema and every row of every table of an SQLite
# file (strata's tracking tables whatever their name, and the migrations'
# own tables), or "<no file>".
sqlite_state() {
    local db=$1 t
    if [ ! -e "$db" ]; then
        echo "<no file>"
        return
    fi
    "$SQLITE3" -batch "$db" .schema 2>&1
    while IFS= read -r t; do
        [ -n "$t" ] || continue
        echo "== $t"
        "$SQLITE3" -batch "$db" "SELECT * FROM \"${t//\"/\"\"}\" ORDER BY 1" 2>&1
    done < <("$SQLITE3" -batch "$db" \
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name" 2>/dev/null)
}

# json_err FIELD: a field of the "error" object of the JSON document in $OUT
# ("<none>" when there is none, "<not json>" when $OUT is not JSON).
json_err() {
    printf '%s' "$OUT" | "$PYTHON" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
except Exception:
    print("<not json>"); sys.exit(0)
e = d.get("error") if isinstance(d, dict) else None
v = "<none>" if e is None else e.get(sys.argv[1])
print("null" if v is None else v)' "$1"
}

# json_errs: sets E_CODE, E_REASON, E_EXIT from the "error" object of the
# JSON document in $OUT ("<none>" when there is none, null fields "null";
# without an error object, E_REASON is the document's own "reason" or "-").
json_errs() {
    local r
    r=$(printf '%s' "$OUT" | "$PYTHON" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
except Exception:
    print("<not json> <not json> <not json>"); sys.exit(0)
e = d.get("error") if isinstance(d, dict) else None
if e is None:
    # no error object: a top-level "reason" (status --check) or "-"
    r = d.get("reason") if isinstance(d, dict) else None
    print("<none> %s <none>" % (r if r else "-"))
else:
    print(" ".join("null" if e.get(k) is None else str(e.get(k)) for k in ("code", "reason", "exit")))')
    # shellcheck disable=SC2034 # read by the callers
    read -r E_CODE E_REASON E_EXIT <<<"$r"
}
