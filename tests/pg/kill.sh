#!/usr/bin/env bash
# kill.sh - crash safety on PostgreSQL: a migration whose backend is
# terminated, a strata process killed with SIGKILL inside a transactional
# migration, and one killed inside a no-transaction migration. Every case
# must leave a consistent database that a rerun (after `repair` where the
# design asks for it) brings to the same state as a clean run.
. "$(dirname "$0")/pglib.sh"

MIGS=$TMP/migrations
mkdir -p "$MIGS"
cat >"$MIGS/0001_create.sql" <<'SQL'
CREATE TABLE t (x int NOT NULL);
SQL
cat >"$MIGS/0002_slow.sql" <<'SQL'
INSERT INTO t VALUES (1);
SELECT pg_sleep(5);
INSERT INTO t VALUES (2);
SQL
cat >"$MIGS/0003_after.sql" <<'SQL'
CREATE TABLE u (y int);
CREATE INDEX t_x ON t (x);
SQL

schema() {
    "$PG_DUMP" --schema-only --no-owner --restrict-key=strata "$DBURL" |
        grep -v '^--'
}
tracking() {
    q "SELECT string_agg(concat_ws('|', version, name, checksum, state),
                         E'\n' ORDER BY version::int)
       FROM strata_migrations" 2>/dev/null
}
data() { q "SELECT string_agg(x::text, ',' ORDER BY x) FROM t"; }

# wait_sleeping: the backend pid of strata's session while it runs pg_sleep.
wait_sleeping() {
    local pid=""
    for _ in $(seq 1 400); do
        pid=$(q "SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database()
                   AND application_name = 'strata'
                   AND query LIKE '%pg_sleep%'" 2>/dev/null)
        [ -n "$pid" ] && break
        sleep 0.05
    done
    echo "$pid"
}

# the reference: a clean run on a fresh database
new_db
CHECK="clean run: up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$MIGS" up
CLEAN_SCHEMA=$(schema)
CLEAN_TRACKING=$(tracking)
CLEAN_DATA=$(data)
assert_eq "clean run: data" "1,2" "$CLEAN_DATA"
assert_eq "clean run: three rows tracked" "3" \
    "$(printf '%s\n' "$CLEAN_TRACKING" | grep -c '|applied$')"

# --- (a) the backend is terminated in the middle of a migration ----------
new_db
"$STRATA" -d "$DBURL" -m "$MIGS" up >"$TMP/a.out" 2>"$TMP/a.err" &
runner=$!
BG_PIDS+=("$runner")
backend=$(wait_sleeping)
assert_ne "a: the migration is running" "" "$backend"
assert_eq "a: pg_terminate_backend" "t" \
    "$(q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'strata' AND query LIKE '%pg_sleep%'
            AND datname = current_database()")"
wait "$runner"
rc=$?
ERR=$(cat "$TMP/a.err")
OUT=$(cat "$TMP/a.out")
assert_true "a: strata exits 1 or 5 (got $rc)" test "$rc" = 1 -o "$rc" = 5
assert_match "a: a clear error line" "$ERR" '^strata: error: .*(terminat|connection)'
assert_contains "a: the error names the migration's file" "$ERR" \
    "0002_slow.sql"
echo "a: exit $rc; stderr: $ERR"
assert_eq "a: only 0001 is tracked" "1|applied" \
    "$(q "SELECT string_agg(version || '|' || state, ',') FROM strata_migrations")"
assert_eq "a: nothing of 0002 applied" "" "$(data)"
assert_eq "a: 0003 not run" "" "$(q "SELECT to_regclass('u')")"
assert_eq "a: no history row for 0002" "0" \
    "$(q "SELECT count(*) FROM strata_migrations_history WHERE version <> '1'")"
CHECK="a: rerun up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$MIGS" up
assert_eq "a: schema equals the clean run's" "$CLEAN_SCHEMA" "$(schema)"
assert_eq "a: data equals the clean run's" "$CLEAN_DATA" "$(data)"
assert_eq "a: tracking equals the clean run's" "$CLEAN_TRACKING" "$(tracking)"

# --- (b) kill -9 of strata in the middle of a transactional migration ----
new_db
"$STRATA" -d "$DBURL" -m "$MIGS" up >"$TMP/b.out" 2>"$TMP/b.err" &
runner=$!
BG_PIDS+=("$runner")
backend=$(wait_sleeping)
assert_ne "b: the migration is running" "" "$backend"
kill -9 "$runner"
wait "$runner" 2>/dev/null
# The server finds out when it next talks to the client; its session ends
# (and the session lock with it) at most a few seconds later.
gone=""
for _ in $(seq 1 300); do
    [ -z "$(q "SELECT pid FROM pg_stat_activity WHERE pid = $backend")" ] &&
        { gone=yes; break; }
    sleep 0.1
done
assert_eq "b: the killed client's backend ends" "yes" "$gone"
assert_eq "b: no advisory lock is left" "0" \
    "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")"
state_b=$(q "SELECT string_agg(version || '|' || state, ',' ORDER BY version)
             FROM strata_migrations")
data_b=$(data)
echo "b: after kill -9: tracking [$state_b], data [$data_b]"
# Atomicity: 0002's rows and its tracking row are there together or not
# at all. (The whole transaction, COMMIT included, went out in one
# pipeline before the kill, so the server may well finish it.)
case "$state_b|$data_b" in
    "1|applied|") pass ;;
    "1|applied,2|applied|1,2") pass ;;
    *) fail "b: 0002 all or nothing" "tracking [$state_b] data [$data_b]" ;;
esac
t0=$(date +%s)
CHECK="b: rerun up (lock free: short --lock-timeout)" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$MIGS" --lock-timeout 5 up
t1=$(date +%s)
assert_true "b: rerun did not wait for the lock ($((t1 - t0)) s)" \
    test $((t1 - t0)) -lt 20
assert_not_contains "b: rerun did not wait for the lock" "$ERR" "waiting"
assert_eq "b: schema equals the clean run's" "$CLEAN_SCHEMA" "$(schema)"
assert_eq "b: data equals the clean run's" "$CLEAN_DATA" "$(data)"
assert_eq "b: tracking (version|name|checksum|state) equals the clean run's" \
    "$CLEAN_TRACKING" "$(tracking)"

# --- (b2) the same with a migration longer than one pipeline chunk ------
# 300 statements: the driver sends them in chunks of 256 and waits for the
# first chunk's results before sending the rest and the COMMIT, so a kill
# during pg_sleep leaves the server an open transaction: it rolls back.
LONG=$TMP/long
mkdir -p "$LONG"
cp "$MIGS/0001_create.sql" "$LONG/"
{
    echo "INSERT INTO t VALUES (1);"
    echo "SELECT pg_sleep(5);"
    for _ in $(seq 1 300); do echo "INSERT INTO t VALUES (2);"; done
} >"$LONG/0002_long.sql"
new_db
CHECK="b2: clean run" assert_exit 0 "$STRATA" -d "$DBURL" -m "$LONG" up
CLEAN_L_SCHEMA=$(schema)
CLEAN_L_TRACKING=$(tracking)
CLEAN_L_COUNT=$(q "SELECT count(*) FROM t")
new_db
"$STRATA" -d "$DBURL" -m "$LONG" up >"$TMP/b2.out" 2>"$TMP/b2.err" &
runner=$!
BG_PIDS+=("$runner")
backend=$(wait_sleeping)
assert_ne "b2: the migration is running" "" "$backend"
kill -9 "$runner"
wait "$runner" 2>/dev/null
gone=""
for _ in $(seq 1 300); do
    [ -z "$(q "SELECT pid FROM pg_stat_activity WHERE pid = $backend")" ] &&
        { gone=yes; break; }
    sleep 0.1
done
assert_eq "b2: the killed client's backend ends" "yes" "$gone"
assert_eq "b2: the server rolled 0002 back: only 0001 tracked" "1|applied" \
    "$(q "SELECT string_agg(version || '|' || state, ',') FROM strata_migrations")"
assert_eq "b2: the server rolled 0002 back: no rows" "0" \
    "$(q "SELECT count(*) FROM t")"
assert_eq "b2: no advisory lock is left" "0" \
    "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")"
t0=$(date +%s)
CHECK="b2: rerun up (lock free: short --lock-timeout)" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$LONG" --lock-timeout 5 up
t1=$(date +%s)
assert_true "b2: rerun took $((t1 - t0)) s (< 20)" test $((t1 - t0)) -lt 20
assert_eq "b2: schema equals the clean run's" "$CLEAN_L_SCHEMA" "$(schema)"
assert_eq "b2: row count equals the clean run's" "$CLEAN_L_COUNT" \
    "$(q "SELECT count(*) FROM t")"
assert_eq "b2: tracking equals the clean run's" "$CLEAN_L_TRACKING" \
    "$(tracking)"

# --- (c) kill -9 in the middle of a no-transaction migration -------------
NT=$TMP/notx
mkdir -p "$NT"
cp "$MIGS/0001_create.sql" "$NT/"
cat >"$NT/0002_notx.sql" <<'SQL'
-- strata:no-transaction
CREATE TABLE a ();
SELECT pg_sleep(5);
CREATE TABLE b ();
SQL
new_db
CHECK="c: clean run" assert_exit 0 "$STRATA" -d "$DBURL" -m "$NT" up
CLEAN_C_SCHEMA=$(schema)
CLEAN_C_TRACKING=$(tracking)
new_db
"$STRATA" -d "$DBURL" -m "$NT" up >"$TMP/c.out" 2>"$TMP/c.err" &
runner=$!
BG_PIDS+=("$runner")
backend=$(wait_sleeping)
assert_ne "c: the migration is running" "" "$backend"
kill -9 "$runner"
wait "$runner" 2>/dev/null
for _ in $(seq 1 300); do
    [ -z "$(q "SELECT pid FROM pg_stat_activity WHERE pid = $backend")" ] &&
        break
    sleep 0.1
done
assert_eq "c: table a was created" "a" "$(q "SELECT to_regclass('a')")"
assert_eq "c: table b was not" "" "$(q "SELECT to_regclass('b')")"
assert_eq "c: 0002 is tracked as not finished" "1|applied,2|dirty_up" \
    "$(q "SELECT string_agg(version || '|' || state, ',' ORDER BY version)
          FROM strata_migrations")"
CHECK="c: rerun refuses: dirty (exit 3)" \
    assert_exit 3 "$STRATA" -d "$DBURL" -m "$NT" --lock-timeout 30 up
assert_error "c: dirty" "repair"
assert_contains "c: the refusal names version 2" "$ERR" "2"
assert_eq "c: the refusal ran nothing" "" "$(q "SELECT to_regclass('b')")"
CHECK="c: repair" assert_exit 0 "$STRATA" -d "$DBURL" -m "$NT" repair
assert_contains "c: repair says what it did" "$OUT" "repaired 2"
q "DROP TABLE a"
CHECK="c: up after repair" assert_exit 0 "$STRATA" -d "$DBURL" -m "$NT" up
assert_eq "c: schema equals the clean run's" "$CLEAN_C_SCHEMA" "$(schema)"
assert_eq "c: tracking equals the clean run's" "$CLEAN_C_TRACKING" \
    "$(tracking)"
assert_eq "c: history: up (dirty start), repair, up" "1|up,2|repair,2|up" \
    "$(q "SELECT string_agg(version || '|' || action, ',' ORDER BY id)
          FROM strata_migrations_history")"

finish
