#!/usr/bin/env bash
# digest.sh - the digest cache on PostgreSQL (src/drivers/pg_digest.h): a
# no-op start checks the tracking rows' ids and count against a cached
# digest instead of digesting every row, and trusts it only while the rows
# are provably those it was computed from. Covers what creates and fills
# it, that the look reads it, every kind of change to the rows (by hand,
# replica mode, TRUNCATE, a change hidden by an equal count, VACUUM FREEZE
# afterwards, a transaction open across the store), the horizon's age,
# where it is never written (read-only sessions, refused runs, status
# --check), a foreign table of its name, modules and long names.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

M=$TMP/m
put "$M/001_a.up.sql" 'CREATE TABLE a(id int);\n'
put "$M/002_b.up.sql" 'CREATE TABLE b(id int);\n'
put "$M/003_c.up.sql" 'CREATE TABLE c(id int);\n'
st() { settle digest_holder; "$STRATA" -d "$DBURL" -m "$M" "$@"; }
# cached [TABLE]: module=digest/row_count of each cached row
cached() {
    q "SELECT coalesce(string_agg(module || '=' || digest || '/' || row_count, ' ' ORDER BY module), '') FROM ${1:-strata_migrations}_digest"
}
# stamp: the cache rows' versions; unchanged means nothing was stored.
stamp() { q "SELECT coalesce(string_agg(xmin::text, ',' ORDER BY module), '') FROM strata_migrations_digest"; }
# rows_digest [MODULE] [TABLE]: the state digest of the tracking rows,
# computed here with sha256sum from what psql reads.
rows_digest() {
    q "SELECT version || ' ' || checksum || ' ' || state FROM ${2:-strata_migrations} WHERE module = '${1:-default}' ORDER BY version COLLATE \"C\"" |
        sed '/^$/d' | sha256sum | cut -d' ' -f1
}
rows() { q "SELECT count(*) FROM ${1:-strata_migrations}"; }
right() { echo "default=$(rows_digest)/$(rows)"; }
applied() { printf '%s\n' "$OUT" | grep -c '^applied '; }

# ============================================================ created, right
new_db
assert_exit 0 st up
assert_eq "first run: the cache is an unlogged table" "u" \
    "$(q "SELECT relpersistence FROM pg_class WHERE oid = 'strata_migrations_digest'::regclass")"
assert_eq "first run: the cache holds the digest of the rows" "$(right)" "$(cached)"
assert_eq "the digest is 64 hex digits" "64" "$(rows_digest | tr -d '\n' | wc -c)"
assert_eq "the horizon is no older than the newest row" "0" \
    "$(q "SELECT count(*) FROM strata_migrations WHERE age(xmin) < (SELECT age((horizon % 4294967296)::text::xid) FROM strata_migrations_digest)")"
s=$(stamp)
assert_exit 0 st up
assert_eq "a no-op start: up to date" "already up to date" "$OUT"
assert_eq "a no-op start that trusts the cache writes nothing" "$s" "$(stamp)"

# ============================================================ it is read
# A forged row: migration 3's row deleted (no row is newer than the
# horizon) and the count made to match. Only the cache says 3 is applied,
# so "up to date" shows the look answered from it.
# A forged row names its own transaction as the writer, as strata does.
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   UPDATE strata_migrations_digest SET row_count = 2, writer = txid_current()" >/dev/null
assert_exit 0 st up
assert_eq "a forged cache answers the look" "already up to date" "$OUT"
# The same row rewritten by another transaction (a restore, say) is not.
q "UPDATE strata_migrations_digest SET row_count = row_count" >/dev/null
assert_exit 0 st up
assert_contains "a cache row someone else wrote: not trusted" "$OUT" "applied 3 c"
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   UPDATE strata_migrations_digest SET row_count = 2, writer = txid_current()" >/dev/null
# The same forgery with a horizon 2^30 + 1 transactions old is not trusted.
q "UPDATE strata_migrations_digest SET horizon = horizon - 1073741825, writer = txid_current()" >/dev/null
assert_exit 0 st up
assert_contains "a horizon too old: the rows say 3 is pending" "$OUT" "applied 3 c"
assert_eq "the run stored the digest again" "$(right)" "$(cached)"
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   UPDATE strata_migrations_digest SET row_count = 2, writer = txid_current(),
   horizon = txid_snapshot_xmax(txid_current_snapshot()) + 10" >/dev/null
assert_exit 0 st up
assert_contains "a horizon in the future: not trusted" "$OUT" "applied 3 c"
q "UPDATE strata_migrations_digest SET row_count = 2, writer = txid_current()" >/dev/null
assert_exit 0 st up
assert_eq "a count that differs: not trusted, still up to date" \
    "already up to date" "$OUT"
assert_eq "and the start stored it right again" "$(right)" "$(cached)"
CHECK="a malformed digest cannot be stored" assert_exit 1 \
    q "UPDATE strata_migrations_digest SET digest = 'x'"
# A forged row that names no table (rel NULL, as a table of the cache's
# name without the column would read) is not trusted either.
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   ALTER TABLE strata_migrations_digest ALTER rel DROP NOT NULL;
   UPDATE strata_migrations_digest SET row_count = 2, rel = NULL, writer = txid_current()" >/dev/null
assert_exit 0 st up
assert_contains "a cached row naming no table: not trusted" "$OUT" "applied 3 c"
assert_eq "the run stored a row naming the table" "t" \
    "$(q "SELECT rel = 'strata_migrations'::regclass::oid::bigint FROM strata_migrations_digest")"
q "ALTER TABLE strata_migrations_digest ALTER rel SET NOT NULL" >/dev/null

# ============================================================ changes
# Each change must be seen: the next start digests the rows, acts on them,
# and stores the digest again.
s=$(stamp)
sum2=$(q "SELECT checksum FROM strata_migrations WHERE version = '2'")
q "UPDATE strata_migrations SET checksum = 'x' || substr(checksum, 2) WHERE version = '2'" >/dev/null
assert_exit 3 st up
assert_contains "an UPDATE of a checksum: refused as modified" "$ERR" "was changed after it was applied"
assert_eq "a refused run stores nothing" "$s" "$(stamp)"
q "UPDATE strata_migrations SET checksum = '$sum2' WHERE version = '2'" >/dev/null
assert_exit 0 st up
assert_eq "the checksum put back: up to date" "already up to date" "$OUT"
assert_eq "and stored" "$(right)" "$(cached)"

q "SET session_replication_role = replica; DELETE FROM strata_migrations WHERE version = '3'" >/dev/null
q "DROP TABLE c" >/dev/null
assert_exit 0 st up
assert_contains "a DELETE in replica mode: 3 applied again" "$OUT" "applied 3 c"

# Delete a row and add another: the count stays, the new row is newer.
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   INSERT INTO strata_migrations SELECT 'other', version, name, checksum,
   state, applied_at, execution_ms, applied_by FROM strata_migrations
   WHERE version = '1'" >/dev/null
assert_eq "the count is unchanged" "3" "$(rows)"
assert_exit 0 st up
assert_contains "a DELETE hidden by an INSERT: 3 applied again" "$OUT" "applied 3 c"
q "DELETE FROM strata_migrations WHERE module = 'other'" >/dev/null
assert_exit 0 st up
assert_eq "another module's row gone: still up to date" "already up to date" "$OUT"
assert_eq "stored" "$(right)" "$(cached)"

# The same, then VACUUM FREEZE: freezing keeps the raw xmin the check reads.
q "DELETE FROM strata_migrations WHERE version = '3'; DROP TABLE c;
   INSERT INTO strata_migrations SELECT 'other', version, name, checksum,
   state, applied_at, execution_ms, applied_by FROM strata_migrations
   WHERE version = '1'" >/dev/null
q "VACUUM FREEZE strata_migrations" >/dev/null
assert_exit 0 st up
assert_contains "the same after VACUUM FREEZE: 3 applied again" "$OUT" "applied 3 c"
q "DELETE FROM strata_migrations WHERE module = 'other'" >/dev/null

q "TRUNCATE strata_migrations; DROP TABLE a, b, c" >/dev/null
assert_exit 0 st up
assert_eq "a TRUNCATE: everything applied again" "3" "$(applied)"
assert_eq "stored" "$(right)" "$(cached)"

# A copy of the table, taken and altered before the digest was stored,
# swapped in for the table: same count, no row newer than the horizon, but
# another table.
q "CREATE TABLE bak AS TABLE strata_migrations;
   UPDATE bak SET checksum = 'x' || substr(checksum, 2) WHERE version = '2';
   DELETE FROM strata_migrations_digest" >/dev/null
assert_exit 0 st up
assert_eq "before the swap: stored" "$(right)" "$(cached)"
q "DROP TABLE strata_migrations; ALTER TABLE bak RENAME TO strata_migrations" >/dev/null
assert_exit 3 st up
assert_contains "a table swapped in: not trusted, refused as modified" "$ERR" "was changed after it was applied"
q "UPDATE strata_migrations SET checksum = '$sum2' WHERE version = '2';
   ALTER TABLE strata_migrations ADD PRIMARY KEY (module, version)" >/dev/null
assert_exit 0 st up
assert_eq "the swapped table mended: up to date" "already up to date" "$OUT"

# ============================================================ open transaction
# A transaction that took its id before the last change and is still
# open: its changes would be older than a horizon taken after that change,
# so nothing is stored until it ends.
put "$M/004_d.up.sql" 'CREATE TABLE d(id int);\n'
PGAPPNAME=digest_holder "$PSQL" -X -q "$DBURL" -c "BEGIN; SELECT txid_current(); SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'digest_holder' AND backend_xid IS NOT NULL")" = 1 ] && break
    sleep 0.1
done
s=$(stamp)
assert_exit 0 st up
assert_contains "open transaction: the migration is applied" "$OUT" "applied 4 d"
assert_eq "open transaction: no digest stored" "$s" "$(stamp)"
assert_exit 0 st up
assert_eq "open transaction: a start digests the rows" "already up to date" "$OUT"
assert_eq "open transaction: and stores nothing" "$s" "$(stamp)"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'digest_holder'" >/dev/null
wait "${BG_PIDS[@]}" 2>/dev/null
BG_PIDS=()
assert_exit 0 st up
assert_eq "transaction ended: the next start stores it" "$(right)" "$(cached)"
s=$(stamp)
assert_exit 0 st up
assert_eq "and the one after trusts it" "$s" "$(stamp)"

# ============================================================ never written
q "DELETE FROM strata_migrations_digest" >/dev/null
PGOPTIONS="-c default_transaction_read_only=on" assert_exit 0 st up
assert_eq "read-only session: up to date from the rows" "already up to date" "$OUT"
assert_eq "read-only session: nothing written" "" "$(cached)"
assert_empty "read-only session: nothing said" "$ERR"
assert_exit 0 st status --check
assert_eq "status --check writes nothing" "" "$(cached)"
assert_exit 0 st up
assert_eq "up does" "$(right)" "$(cached)"

# ============================================================ an older database
# Migrated before the cache existed: a start creates nothing, nor does a
# refused run; a run that applies something does.
q "DROP TABLE strata_migrations_digest" >/dev/null
assert_exit 0 st up
assert_eq "older database: up to date" "already up to date" "$OUT"
gone() { q "SELECT to_regclass('strata_migrations_digest') IS NULL"; }
assert_eq "older database: a start creates nothing" "t" "$(gone)"
put "$M/000_bad.up.sql" 'CREATE TABLE zz(id int);\n'
assert_exit 3 st up
assert_eq "older database: a refused run creates nothing" "t" "$(gone)"
rm "$M/000_bad.up.sql"
put "$M/005_e.up.sql" 'CREATE TABLE e(id int);\n'
assert_exit 0 st up
assert_eq "older database: a run that applies creates the cache" "f" "$(gone)"
assert_eq "older database: and fills it" "$(right)" "$(cached)"

# ============================================================ foreign table
# A table of the cache's name with other columns is never trusted, and
# storing into it fails quietly.
q "DROP TABLE strata_migrations_digest; CREATE TABLE strata_migrations_digest (note text); INSERT INTO strata_migrations_digest VALUES ('mine')" >/dev/null
assert_exit 0 st up
assert_eq "foreign table: up to date" "already up to date" "$OUT"
assert_empty "foreign table: nothing said" "$ERR"
put "$M/006_f.up.sql" 'CREATE TABLE f(id int);\n'
assert_exit 0 st up
assert_contains "foreign table: a run applies" "$OUT" "applied 6 f"
assert_empty "foreign table: and says nothing of the cache" "$ERR"
assert_eq "foreign table: left as it was" "mine" "$(q 'SELECT note FROM strata_migrations_digest')"
q "DROP TABLE strata_migrations_digest" >/dev/null

# ============================================================ modules
put "$TMP/n/001_x.up.sql" 'CREATE TABLE x(id int);\n'
put "$TMP/n/002_y.up.sql" 'CREATE TABLE y(id int);\n'
put "$M/007_g.up.sql" 'CREATE TABLE g(id int);\n'
assert_exit 0 st up
CHECK="module other: first run" assert_exit 0 "$STRATA" -d "$DBURL" -m "$TMP/n" --module other up
assert_eq "other's run stores its row; default's counts are stale" \
    "default=$(rows_digest)/$(($(rows) - 2)) other=$(rows_digest other)/$(rows)" "$(cached)"
assert_exit 0 st up
assert_eq "default: up to date" "already up to date" "$OUT"
assert_eq "both modules cached" \
    "default=$(rows_digest)/$(rows) other=$(rows_digest other)/$(rows)" "$(cached)"
# The look reads the cache's rows and picks the module's in C: a module
# whose row lies after seventy others' is found and trusted, and a start
# that trusts it writes nothing.
q "TRUNCATE strata_migrations_digest;
   INSERT INTO strata_migrations_digest SELECT 'fake' || i, 1, 0, repeat('0', 64), 0, 0 FROM generate_series(1, 70) AS i" >/dev/null
assert_exit 0 st up
assert_contains "seventy rows first: default's row stored after them" "$(cached)" \
    "default=$(rows_digest)/$(rows)"
s=$(stamp)
assert_exit 0 st up
assert_eq "seventy rows first: up to date" "already up to date" "$OUT"
assert_eq "seventy rows first: the cached row is trusted, nothing written" "$s" "$(stamp)"
q "DELETE FROM strata_migrations_digest WHERE module LIKE 'fake%'" >/dev/null

# ============================================================ lock held
# A session that holds the cache against writers: the run applies its
# migration and does not wait to store the digest.
put "$M/008_h.up.sql" 'CREATE TABLE h(id int);\n'
PGAPPNAME=digest_holder "$PSQL" -X -q "$DBURL" -c "BEGIN; LOCK TABLE strata_migrations_digest IN SHARE MODE; SELECT pg_sleep(20); COMMIT" >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'strata_migrations_digest' AND l.mode = 'ShareLock' AND l.granted")" = 1 ] && break
    sleep 0.1
done
s=$(stamp)
start=$(date +%s)
assert_exit 0 st up
took=$(($(date +%s) - start))
assert_contains "held cache: the migration is applied" "$OUT" "applied 8 h"
assert_true "held cache: the run did not wait (${took}s)" test "$took" -lt 10
assert_eq "held cache: no digest stored" "$s" "$(stamp)"
assert_empty "held cache: nothing said about it" "$ERR"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
wait "${BG_PIDS[@]}" 2>/dev/null
BG_PIDS=()
assert_exit 0 st up
assert_eq "held cache: the next start stores it" "$(right)" "$(cached | sed 's/ other=.*//')"

# ============================================================ long names
# The longest tracking table name strata takes (55 bytes) leaves room for
# "_digest" in PostgreSQL's 63.
new_db
long=t$(printf 'x%.0s' $(seq 54))
assert_exit 0 st --table "$long" up
assert_eq "a 55-byte table name: migrated" "8" "$(applied)"
assert_eq "a 55-byte table name: its cache" \
    "default=$(rows_digest default "$long")/$(rows "$long")" "$(cached "$long")"
assert_exit 0 st --table "$long" up
assert_eq "a 55-byte table name: up to date" "already up to date" "$OUT"

finish
