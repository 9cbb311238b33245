#!/usr/bin/env bash
# digest.sh - the digest cache on PostgreSQL: a no-op start reads one cached
# value instead of digesting every tracking row, and the cache is either
# absent or right. Covers what creates and fills it (a run, a start that
# found the database up to date and the cache in place, an older database
# without it), what
# empties it (strata's runs, hand edits in every form the trigger sees,
# another module's run), when it is not trusted (trigger missing or
# disabled), where it is never written (read-only sessions, names too long)
# and that writing it never holds up a run.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

M=$TMP/m
put "$M/001_a.up.sql" 'CREATE TABLE a(id int);\n'
put "$M/002_b.up.sql" 'CREATE TABLE b(id int);\n'
put "$M/003_c.up.sql" 'CREATE TABLE c(id int);\n'
st() { "$STRATA" -d "$DBURL" -m "$M" "$@"; }
cached() {
    q "SELECT coalesce(string_agg(module || '=' || digest, ' ' ORDER BY module), '') FROM ${1:-strata_migrations}_digest"
}
# rows_digest [MODULE] [TABLE]: the state digest of the tracking rows,
# computed here with sha256sum from what psql reads.
rows_digest() {
    q "SELECT version || ' ' || checksum || ' ' || state FROM ${2:-strata_migrations} WHERE module = '${1:-default}' ORDER BY version COLLATE \"C\"" |
        sed '/^$/d' | sha256sum | cut -d' ' -f1
}
trigger_state() {
    q "SELECT coalesce(string_agg(tgenabled::text, ''), 'none') FROM pg_trigger WHERE tgrelid = '${1:-strata_migrations}'::regclass AND tgname = 'strata_digest_invalidate'"
}

# ============================================================ created, right
new_db
assert_exit 0 st up
assert_eq "first run: the trigger is there, enabled ALWAYS" "A" "$(trigger_state)"
assert_eq "first run: the cache holds the digest of the rows" \
    "default=$(rows_digest)" "$(cached)"
assert_eq "the digest is 64 hex digits" "64" "$(rows_digest | tr -d '\n' | wc -c)"

# ============================================================ it is read
# The one way to fool the cache, as pg_digest.h says: disable the trigger,
# edit, enable it again. That shows the look answers from the cache alone.
q "ALTER TABLE strata_migrations DISABLE TRIGGER strata_digest_invalidate;
   DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   ALTER TABLE strata_migrations ENABLE ALWAYS TRIGGER strata_digest_invalidate" >/dev/null
assert_exit 0 st up
assert_eq "a stale cache behind the trigger's back answers the look" \
    "already up to date" "$OUT"
q "DELETE FROM strata_migrations_digest" >/dev/null
assert_exit 0 st up
assert_contains "without the cache, the rows say 3 is pending" "$OUT" "applied 3 c"
assert_eq "the run stored the digest again" "default=$(rows_digest)" "$(cached)"

# ============================================================ wrong value
q "UPDATE strata_migrations_digest SET digest = repeat('0', 64)" >/dev/null
assert_exit 0 st up
assert_eq "a wrong cached digest: still up to date" "already up to date" "$OUT"
assert_eq "a wrong cached digest is replaced under the lock" \
    "default=$(rows_digest)" "$(cached)"
CHECK="a malformed digest cannot be stored" assert_exit 1 \
    q "UPDATE strata_migrations_digest SET digest = 'x'"

# ============================================================ hand edits
edit_empties() { # NAME SQL
    q "$2" >/dev/null
    assert_eq "$1 empties the cache" "" "$(cached)"
    assert_exit 0 st up
    assert_eq "after $1: the next start stores it again" \
        "default=$(rows_digest)" "$(cached)"
}
edit_empties "an UPDATE" "UPDATE strata_migrations SET applied_by = 'someone'"
edit_empties "an UPDATE in replica mode" \
    "SET session_replication_role = replica; UPDATE strata_migrations SET applied_by = 'replica'"
edit_empties "an INSERT" "INSERT INTO strata_migrations SELECT 'other', version, name, checksum, state, applied_at, execution_ms, applied_by FROM strata_migrations WHERE version = '1'"
edit_empties "a DELETE" "DELETE FROM strata_migrations WHERE module = 'other'"
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c" >/dev/null
assert_exit 0 st up
assert_contains "a deleted row is applied again" "$OUT" "applied 3 c"
q "TRUNCATE strata_migrations; DROP TABLE a, b, c" >/dev/null
assert_eq "a TRUNCATE empties the cache" "" "$(cached)"
assert_exit 0 st up
assert_eq "after a TRUNCATE everything is applied again" "3" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied ')"

# ============================================================ not trusted
q "ALTER TABLE strata_migrations DISABLE TRIGGER strata_digest_invalidate;
   DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c" >/dev/null
assert_exit 0 st up
assert_contains "a disabled trigger: the cache is not trusted" "$OUT" "applied 3 c"
assert_eq "the run enables the trigger ALWAYS again" "A" "$(trigger_state)"
assert_eq "and stores the digest" "default=$(rows_digest)" "$(cached)"
q "ALTER TABLE strata_migrations ENABLE TRIGGER strata_digest_invalidate" >/dev/null
assert_exit 0 st up
assert_eq "a trigger enabled for origin sessions only: still up to date" \
    "already up to date" "$OUT"
assert_eq "a start leaves the DDL to runs that hold the lock" "O" \
    "$(trigger_state)"
assert_exit 0 st up --to 3
assert_eq "a run under the lock makes it ALWAYS again" "A" "$(trigger_state)"

# ============================================================ an older database
# A database migrated before the cache existed: tables only.
q "DROP TRIGGER strata_digest_invalidate ON strata_migrations;
   DROP FUNCTION strata_digest_invalidate(); DROP TABLE strata_migrations_digest" >/dev/null
assert_exit 0 st up
assert_eq "older database: up to date" "already up to date" "$OUT"
assert_eq "older database: a start creates nothing" "none" "$(trigger_state)"
assert_exit 0 st up --to 3
assert_eq "older database: a run under the lock creates the cache" "A" \
    "$(trigger_state)"
assert_eq "older database: and fills it" "default=$(rows_digest)" "$(cached)"
q "DELETE FROM strata_migrations_digest" >/dev/null
assert_exit 0 st status --check
assert_eq "status --check writes nothing" "" "$(cached)"
assert_exit 0 st up
assert_eq "up does" "default=$(rows_digest)" "$(cached)"

# ============================================================ read-only
q "DELETE FROM strata_migrations_digest" >/dev/null
PGOPTIONS="-c default_transaction_read_only=on" assert_exit 0 st up
assert_eq "read-only session: up to date from the rows" "already up to date" "$OUT"
assert_eq "read-only session: nothing written" "" "$(cached)"
assert_empty "read-only session: nothing said" "$ERR"

# ============================================================ modules
put "$TMP/n/001_x.up.sql" 'CREATE TABLE x(id int);\n'
put "$TMP/n/002_y.up.sql" 'CREATE TABLE y(id int);\n'
assert_exit 0 st up
CHECK="module other: first run" assert_exit 0 "$STRATA" -d "$DBURL" -m "$TMP/n" --module other up
assert_eq "each module its own row; other's run emptied default's" \
    "other=$(rows_digest other)" "$(cached)"
assert_exit 0 st up
assert_eq "both modules cached" \
    "default=$(rows_digest) other=$(rows_digest other)" "$(cached)"

# ============================================================ never waits
# Another session holds the tracking table (LOCK TABLE ... ROW EXCLUSIVE,
# what any writer holds until it commits): the run applies its migration
# and does not wait for that session to store the digest.
put "$M/004_d.up.sql" 'CREATE TABLE d(id int);\n'
"$PSQL" -X -q "$DBURL" -c "BEGIN; LOCK TABLE strata_migrations IN ROW EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT" >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'strata_migrations' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()")" = 1 ] && break
    sleep 0.1
done
start=$(date +%s)
assert_exit 0 st up
took=$(($(date +%s) - start))
assert_contains "held table: the migration is applied" "$OUT" "applied 4 d"
assert_true "held table: the run did not wait for that session (${took}s)" \
    test "$took" -lt 10
assert_eq "held table: no digest stored" "" "$(cached)"
assert_empty "held table: nothing said about it" "$ERR"
# A killed psql leaves its backend asleep, holding the lock: end it.
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
wait "${BG_PIDS[@]}" 2>/dev/null
BG_PIDS=()
assert_exit 0 st up
assert_eq "held table: the next start stores it" "default=$(rows_digest)" "$(cached)"

# ============================================================ long names
# The longest tracking table name strata takes (55 bytes) leaves room for
# "_digest" in PostgreSQL's 63.
new_db
long=t$(printf 'x%.0s' $(seq 54))
assert_exit 0 st --table "$long" up
assert_eq "a 55-byte table name: migrated" "4" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
assert_eq "a 55-byte table name: its cache" "default=$(rows_digest default "$long")" \
    "$(cached "$long")"
assert_exit 0 st --table "$long" up
assert_eq "a 55-byte table name: up to date" "already up to date" "$OUT"

finish
