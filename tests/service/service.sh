#!/usr/bin/env bash
# service.sh - the notes service (examples/service) end to end, over HTTP.
#
# The built service ($NOTES_SERVICE) runs against a fresh SQLite file with
# its own migrations plus slow ones (a recursive CTE, calibrated here to
# take a second or two each), so the test can watch it: alive and 503 with
# progress while migrating, 200 and notes once ready. Then a broken
# migration (exit 1, file:line on stderr) and SIGTERM in the middle of a run
# (exit 0, nothing dirty). Under scripts/with-postgres.sh the happy path
# runs against PostgreSQL too, with pg_sleep as the slow migration.
#
# The service listens on --port 0 and logs the port it got, so no two tests
# fight over a port.

# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"

: "${NOTES_SERVICE:?NOTES_SERVICE must name the built notes-service}"
MIGRATIONS=${SERVICE_MIGRATIONS:-$(dirname "$0")/../../examples/service/migrations}
command -v curl >/dev/null || skip "no curl"

SVC_PID=""
SVC_LOG=""
PORT=""
CODE=""
BODY=""

# start_service NAME URL DIR: starts the service in the background, logging
# to $TMP/NAME.log; sets SVC_PID and SVC_LOG, and PORT once it listens.
start_service() {
    SVC_LOG="$TMP/$1.log"
    "$NOTES_SERVICE" --database "$2" --migrations "$3" --port 0 \
        >"$TMP/$1.out" 2>"$SVC_LOG" &
    SVC_PID=$!
    BG_PIDS+=("$SVC_PID")
    PORT=""
    : >>"$SVC_LOG" # the background shell may not have opened it yet
    for _ in $(seq 1 200); do
        PORT=$(sed -n 's/^notes-service: listening on port \([0-9]*\)$/\1/p' \
            "$SVC_LOG")
        [ -n "$PORT" ] && return 0
        kill -0 "$SVC_PID" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

# http METHOD PATH [BODY]: one request; sets CODE and BODY.
http() {
    local args=(-s -o "$TMP/.body" -w '%{http_code}' -X "$1" --max-time 10)
    [ $# -ge 3 ] && args+=(--data-binary "$3" -H 'Content-Type: text/plain')
    CODE=$(curl "${args[@]}" "http://127.0.0.1:$PORT$2" 2>/dev/null)
    BODY=$(cat "$TMP/.body" 2>/dev/null)
}

# wait_exit PID SECONDS: waits for PID to end; sets RC (124 on timeout,
# after which the process is killed).
wait_exit() {
    local pid=$1
    for _ in $(seq 1 $(($2 * 20))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            RC=$?
            return 0
        fi
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    RC=124
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# How far SQLite counts in about a second and a half on this machine.
calibrate() {
    local t0 t1 ms
    t0=$(now_ms)
    sql :memory: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1
                  FROM c WHERE x < 1000000) SELECT count(*) FROM c" >/dev/null
    t1=$(now_ms)
    ms=$((t1 - t0 > 0 ? t1 - t0 : 1))
    COUNT=$((1000000 * 1500 / ms))
    [ "$COUNT" -lt 1000000 ] && COUNT=1000000
    [ "$COUNT" -gt 100000000 ] && COUNT=100000000
}

# slow_sqlite FILE NAME: a migration that counts to $COUNT, keeping the count.
slow_sqlite() {
    put "$1" "-- Slow on purpose: the test watches the service meanwhile.
CREATE TABLE $2 AS
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $COUNT)
SELECT count(*) AS n FROM c;\n"
}

# happy_path KIND URL DIR TOTAL VERSION: starts the service, follows
# /healthz/ready through the run, then posts and lists notes, and stops it.
happy_path() {
    local kind=$1 url=$2 dir=$3 total=$4 version=$5
    assert_true "$kind: service listens" start_service "$kind" "$url" "$dir"
    [ -n "$PORT" ] || { fail "$kind: port" "$(cat "$SVC_LOG")"; return; }

    http GET /healthz/live
    assert_eq "$kind: live while migrating" 200 "$CODE"
    http GET /notes
    assert_eq "$kind: GET /notes while migrating" 503 "$CODE"
    json_check "$kind: GET /notes body while migrating" "$BODY" \
        'assert d == {"status": "migrating"}, d'
    http POST /notes "too early"
    assert_eq "$kind: POST /notes while migrating" 503 "$CODE"

    # Follow readiness to the end, keeping every 503 body seen.
    local seen="" deadline=$(($(now_ms) + 180000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        http GET /healthz/ready
        [ "$CODE" = 200 ] && break
        if [ "$CODE" = 503 ]; then
            seen+="$BODY"$'\n'
        else
            fail "$kind: ready while migrating" "code [$CODE] body [$BODY]"
            break
        fi
        sleep 0.05
    done
    assert_eq "$kind: ready in the end" 200 "$CODE"
    json_check "$kind: ready body" "$BODY" \
        "assert d == {'status': 'ready', 'version': '$version'}, d"
    json_check "$kind: 503 bodies while migrating show progress" \
        "[$(printf '%s' "$seen" | paste -sd, -)]" "
assert d, 'no 503 seen'
for x in d:
    assert x['status'] == 'migrating' and set(x) == {'status', 'done', 'total'}, x
    assert x['total'] in (0, $total) and 0 <= x['done'] <= x['total'], x
assert any(x['total'] == $total for x in d), 'total never known'
assert any(0 < x['done'] < $total for x in d), 'no progress seen'
dones = [x['done'] for x in d]
assert dones == sorted(dones), dones"

    http GET /notes
    assert_eq "$kind: GET /notes empty" 200 "$CODE"
    json_check "$kind: no notes yet" "$BODY" 'assert d == [], d'
    http POST /notes "first note"
    assert_eq "$kind: POST first" 201 "$CODE"
    json_check "$kind: first id" "$BODY" 'assert d == {"id": 1}, d'
    http POST /notes $'second "note"\twith ünïcode\nand a line'
    assert_eq "$kind: POST second" 201 "$CODE"
    json_check "$kind: second id" "$BODY" 'assert d == {"id": 2}, d'
    http GET /notes
    assert_eq "$kind: GET /notes" 200 "$CODE"
    json_check "$kind: both notes back" "$BODY" '
assert [n["id"] for n in d] == [1, 2], d
assert d[0]["body"] == "first note", d
assert d[1]["body"] == "second \"note\"\twith ünïcode\nand a line", d
assert all(len(n["created_at"]) == 20 and n["created_at"].endswith("Z")
           for n in d), d'
    http POST /notes ""
    assert_eq "$kind: empty note refused" 400 "$CODE"
    http PUT /notes "x"
    assert_eq "$kind: PUT /notes" 405 "$CODE"
    http GET /nothing-here
    assert_eq "$kind: unknown path" 404 "$CODE"

    kill -TERM "$SVC_PID"
    wait_exit "$SVC_PID" 10
    assert_eq "$kind: SIGTERM when ready exits 0" 0 "$RC"
    assert_contains "$kind: log says ready" "$(cat "$SVC_LOG")" \
        "ready at version $version"

    # Again on the same database: nothing pending, ready at once, notes kept.
    assert_true "$kind: restarts" start_service "$kind-again" "$url" "$dir"
    for _ in $(seq 1 100); do
        http GET /healthz/ready
        [ "$CODE" = 200 ] && break
        sleep 0.05
    done
    assert_eq "$kind: ready again" 200 "$CODE"
    http GET /notes
    json_check "$kind: notes kept" "$BODY" 'assert len(d) == 2, d'
    assert_contains "$kind: up to date" "$(cat "$SVC_LOG")" "(0 applied, up_to_date)"
    kill -INT "$SVC_PID"
    wait_exit "$SVC_PID" 10
    assert_eq "$kind: SIGINT exits 0" 0 "$RC"
}

calibrate

# --- SQLite: the happy path, with two slow migrations ----------------------
DIR=$TMP/sqlite-migrations
cp -r "$MIGRATIONS/sqlite" "$DIR"
slow_sqlite "$DIR/0003_slow_backfill.sql" slow_a
slow_sqlite "$DIR/0004_slow_rebuild.sql" slow_b
happy_path sqlite "sqlite:$TMP/notes.db" "$DIR" 4 4
# How long one slow migration took inside the service (sanitizers slow it).
SLOW_MS=$(sed -n 's/^notes-service: migrating: 3\/4 3 done in \([0-9]*\) ms$/\1/p' \
    "$TMP/sqlite.log")
SLOW_MS=${SLOW_MS:-1500}
sx status --database "sqlite:$TMP/notes.db" --migrations "$DIR"
assert_eq "sqlite: strata status exits 0" 0 "$RC"
assert_eq "sqlite: everything applied" "1|applied
2|applied
3|applied
4|applied" "$(tracked "$TMP/notes.db")"

# --- A broken migration: exit 1, and the error names file and line --------
DIR=$TMP/broken-migrations
cp -r "$MIGRATIONS/sqlite" "$DIR"
put "$DIR/0003_broken.sql" "CREATE TABLE fine (x INTEGER);\nSELEC 1;\n"
start_service broken "sqlite:$TMP/broken.db" "$DIR"
wait_exit "$SVC_PID" 30
assert_eq "broken: exit 1" 1 "$RC"
ERR=$(cat "$SVC_LOG")
assert_match "broken: stderr names file:line" "$ERR" \
    '^notes-service: error: migration run failed: .*/0003_broken\.sql:2: .*syntax error'
assert_match "broken: database message shown" "$ERR" 'SELEC'
assert_eq "broken: the good ones stay, the broken one left no trace" "1|applied
2|applied" "$(tracked "$TMP/broken.db")"
assert_empty "broken: nothing half-made" \
    "$(sql "$TMP/broken.db" "SELECT name FROM sqlite_master WHERE name = 'fine'")"

# --- A refused plan (an applied migration was edited): exit 1 --------------
printf -- '-- edited\n' >>"$TMP/broken-migrations/0001_create_notes.up.sql"
rm "$TMP/broken-migrations/0003_broken.sql"
start_service refused "sqlite:$TMP/broken.db" "$TMP/broken-migrations"
wait_exit "$SVC_PID" 30
assert_eq "refused: exit 1" 1 "$RC"
assert_match "refused: stderr says refused and why" "$(cat "$SVC_LOG")" \
    '^notes-service: error: migration run refused: .*0001_create_notes'
assert_match "refused: a hint" "$(cat "$SVC_LOG")" '^  hint: .+'

# --- SIGTERM in the middle of a run: exit 0 soon, nothing dirty ------------
DIR=$TMP/cancel-migrations
cp -r "$MIGRATIONS/sqlite" "$DIR"
slow_sqlite "$DIR/0003_slow_a.sql" slow_a
slow_sqlite "$DIR/0004_slow_b.sql" slow_b
slow_sqlite "$DIR/0005_slow_c.sql" slow_c
start_service cancel "sqlite:$TMP/cancel.db" "$DIR"
for _ in $(seq 1 400); do
    grep -q 'migrating: 3/5 3 slow_a' "$SVC_LOG" && break
    sleep 0.02
done
t0=$(now_ms)
kill -TERM "$SVC_PID"
wait_exit "$SVC_PID" $((SLOW_MS * 3 / 1000 + 30))
t1=$(now_ms)
assert_eq "cancel: SIGTERM mid-run exits 0" 0 "$RC"
# It finishes the migration under way, never starts another, and is gone
# soon after: within the time that migration took (sanitizers make it vary
# from run to run) and a few seconds more.
RUNNING_MS=$(sed -n 's/^notes-service: migrating: 3\/5 3 done in \([0-9]*\) ms$/\1/p' \
    "$SVC_LOG")
if [ -n "$RUNNING_MS" ] && [ $((t1 - t0)) -lt $((RUNNING_MS + 3000)) ]; then
    pass
else
    fail "cancel: exits promptly" "took $((t1 - t0)) ms; the migration under way took [$RUNNING_MS] ms"
fi
assert_not_contains "cancel: the next migration never started" \
    "$(cat "$SVC_LOG")" "4/5"
assert_contains "cancel: log says so" "$(cat "$SVC_LOG")" "stopping: cancelling"
sx status --database "sqlite:$TMP/cancel.db" --migrations "$DIR"
assert_eq "cancel: strata status exits 0" 0 "$RC"
assert_not_contains "cancel: nothing dirty" "$OUT" "dirty"
assert_eq "cancel: stopped between two migrations" "1|applied
2|applied
3|applied" "$(tracked "$TMP/cancel.db")"
sx validate --database "sqlite:$TMP/cancel.db" --migrations "$DIR"
assert_eq "cancel: the rest can still be applied" 0 "$RC"

# --- Bad usage -------------------------------------------------------------
capture "$NOTES_SERVICE" --database "sqlite:$TMP/x.db" --port 1
assert_eq "usage: no --migrations exits 2" 2 "$RC"
capture "$NOTES_SERVICE" --database "mysql://x" --migrations "$DIR" --port 0
assert_eq "usage: unknown scheme exits 2" 2 "$RC"

# --- PostgreSQL, when a server is given -------------------------------------
if [ -n "${STRATA_PG_URL:-}" ] && [ -n "${STRATA_PG_ADMIN_URL:-}" ]; then
    PSQL="$STRATA_PG_BIN/psql"
    PGDB="t_service_$$"
    trap '"$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PGDB\" WITH (FORCE)" >/dev/null 2>&1; cleanup' EXIT
    if "$PSQL" -X -q -v ON_ERROR_STOP=1 "$STRATA_PG_ADMIN_URL" \
        -c "CREATE DATABASE \"$PGDB\" OWNER strata" >/dev/null; then
        PGURL=${STRATA_PG_URL/\/strata\?//$PGDB?}
        DIR=$TMP/pg-migrations
        cp -r "$MIGRATIONS/postgres" "$DIR"
        put "$DIR/0003_slow.sql" "SELECT pg_sleep(2);\n"
        put "$DIR/0004_slow_again.sql" "SELECT pg_sleep(1);\n"
        happy_path postgres "$PGURL" "$DIR" 4 4
        sx status --database "$PGURL" --migrations "$DIR"
        assert_eq "postgres: strata status exits 0" 0 "$RC"
        assert_not_contains "postgres: nothing pending" "$OUT" "pending"
    else
        fail "postgres: setup" "cannot create database $PGDB"
    fi
else
    echo "$T_NAME: no PostgreSQL server; the PostgreSQL part is skipped"
fi

finish
