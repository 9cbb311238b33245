#!/usr/bin/env bash
# commands.sh - what every command does to a real SQLite file: up, down,
# redo, validate, baseline, repair, forget, history, new, status.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

M=$TMP/m
for i in 1 2 3 4 5; do
    put "$M/00${i}_t$i.up.sql" "CREATE TABLE t$i(x);\nINSERT INTO t$i VALUES ('up');\n"
    put "$M/00${i}_t$i.down.sql" "DROP TABLE t$i;\n"
done
DB=c.db
st() { "$STRATA" -d sqlite:$DB -m "$M" "$@"; }
tables() { sql "$1" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 't_' ORDER BY name)"; }
versions() { sql "$1" "SELECT group_concat(version, ' ') FROM (SELECT version FROM strata_migrations ORDER BY CAST(version AS INTEGER))" 2>/dev/null; }

# ----------------------------------------------------------------------- up
assert_exit 0 st up --dry-run
assert_eq "up --dry-run: lists every pending migration" "would apply 1 t1
would apply 2 t2
would apply 3 t3
would apply 4 t4
would apply 5 t5" "$OUT"
assert_eq "up --dry-run: applies nothing" "" "$(tables $DB)"
assert_eq "up --dry-run: records nothing" "" "$(versions $DB)"

assert_exit 0 st up --to 2
assert_match "up --to 2: applied line with a time" "$OUT" '^applied 1 t1 \([0-9]+ ms\)$'
assert_eq "up --to 2: tables" "t1 t2" "$(tables $DB)"
assert_eq "up --to 2: tracked" "1 2" "$(versions $DB)"
assert_exit 0 st up --to 002
assert_eq "up --to 002 (same version as 2): nothing to do" "already up to date" "$OUT"
assert_exit 0 st up --steps 2
assert_eq "up --steps 2: output" "2" "$(printf '%s\n' "$OUT" | grep -c '^applied')"
assert_eq "up --steps 2: tracked" "1 2 3 4" "$(versions $DB)"
assert_exit 2 st up --to 5 --steps 1
assert_error "up --to with --steps" "--steps"
assert_exit 0 st up --to 3
assert_eq "up --to below current: nothing to do" "already up to date" "$OUT"
assert_exit 0 st up
assert_eq "up: the rest" "applied 5 t5" "$(printf '%s\n' "$OUT" | sed 's/ (.*//')"
assert_eq "up: all tables" "t1 t2 t3 t4 t5" "$(tables $DB)"
assert_exit 0 st up
assert_eq "up again: already up to date" "already up to date" "$OUT"
for i in 1 2 3 4 5; do
    assert_eq "each up ran once: t$i has one row" "1" "$(sql $DB "SELECT count(*) FROM t$i")"
done

# --single-transaction: a failure rolls back the whole run
ST=$TMP/single
put "$ST/001_a.sql" 'CREATE TABLE a(x);\n'
put "$ST/002_b.sql" 'CREATE TABLE b(x);\n'
put "$ST/003_c.sql" 'CREATE TABLE c(x;\n'
assert_exit 1 "$STRATA" -d sqlite:single.db -m "$ST" up --single-transaction
assert_contains "--single-transaction failure: names FILE:LINE" "$ERR" "$ST/003_c.sql:1:"
assert_eq "--single-transaction failure: nothing tracked" "" "$(versions single.db)"
assert_eq "--single-transaction failure: no table left" "" "$(sql single.db "SELECT name FROM sqlite_master WHERE name IN ('a','b')")"
assert_exit 1 "$STRATA" -d sqlite:single2.db -m "$ST" up
assert_eq "without it, 1 and 2 stay" "1 2" "$(versions single2.db)"
put "$ST/003_c.sql" 'CREATE TABLE c(x);\n'
assert_exit 0 "$STRATA" -d sqlite:single.db -m "$ST" up --single-transaction
assert_eq "--single-transaction success" "1 2 3" "$(versions single.db)"
assert_exit 3 "$STRATA" -d sqlite:single.db -m "$ST" up --to 7
assert_error "up --to an unknown version" "7"
assert_exit 3 "$STRATA" -d sqlite:single.db -m "$ST" down --to 9
assert_error "down --to an unknown version" "9"

# --------------------------------------------------------------------- down
before=$(snapshot $DB)
assert_exit 0 st down --dry-run
assert_eq "down --dry-run: newest only" "would revert 5 t5" "$OUT"
assert_exit 0 st down --all --dry-run
assert_eq "down --all --dry-run: newest first" "would revert 5 t5
would revert 4 t4
would revert 3 t3
would revert 2 t2
would revert 1 t1" "$OUT"
assert_eq "down --dry-run: database unchanged" "$before" "$(snapshot $DB)"
assert_exit 0 st down
assert_match "down: one step by default" "$OUT" '^reverted 5 t5 \([0-9]+ ms\)$'
assert_eq "down: one line" "1" "$(printf '%s\n' "$OUT" | grep -c .)"
assert_eq "down: t5 dropped" "t1 t2 t3 t4" "$(tables $DB)"
assert_eq "down: tracked" "1 2 3 4" "$(versions $DB)"
assert_exit 0 st down --steps 2
assert_eq "down --steps 2" "reverted 4 t4
reverted 3 t3" "$(printf '%s\n' "$OUT" | sed 's/ (.*//')"
assert_eq "down --steps 2: tracked" "1 2" "$(versions $DB)"
assert_exit 0 st up
assert_exit 0 st down --to 2
assert_eq "down --to 2: reverts everything above 2" "reverted 5 t5
reverted 4 t4
reverted 3 t3" "$(printf '%s\n' "$OUT" | sed 's/ (.*//')"
assert_eq "down --to 2: tables" "t1 t2" "$(tables $DB)"
assert_exit 0 st down --all
assert_eq "down --all: tables" "" "$(tables $DB)"
assert_eq "down --all: tracked" "" "$(versions $DB)"
assert_exit 0 st down
assert_eq "down with nothing applied" "nothing to revert" "$OUT"
assert_exit 0 st up
assert_exit 0 st down --to 0
assert_eq "down --to 0 = all" "" "$(versions $DB)"
assert_exit 2 st down --all --steps 2
assert_exit 2 st down --steps 0

# --------------------------------------------------------------------- redo
assert_exit 0 st up
before=$(snapshot $DB)
assert_exit 0 st redo --dry-run
assert_eq "redo --dry-run" "would revert 5 t5
would apply 5 t5" "$OUT"
assert_eq "redo --dry-run: database unchanged" "$before" "$(snapshot $DB)"
sql $DB "INSERT INTO t5 VALUES ('extra')"
assert_exit 0 st redo
assert_eq "redo: reverted then applied" "reverted 5 t5
applied 5 t5" "$(printf '%s\n' "$OUT" | sed 's/ (.*//')"
assert_eq "redo: the down really ran (t5 rebuilt, one row)" "up" "$(sql $DB 'SELECT group_concat(x) FROM t5')"
assert_eq "redo: still tracked" "1 2 3 4 5" "$(versions $DB)"

# ----------------------------------------------------------------- validate
assert_exit 0 st validate
assert_match "validate when fine" "$OUT" '^valid: '
assert_empty "validate when fine: stderr" "$ERR"
cp -r "$M" "$TMP/mv"
printf -- '-- touched\n' >>"$TMP/mv/003_t3.up.sql"
put "$TMP/mv/006_t6.sql" '-- only a comment\n'
assert_exit 3 "$STRATA" -d sqlite:$DB -m "$TMP/mv" validate
assert_match "validate: lists the modified one" "$OUT" '^modified +3 t3 .*003_t3.up.sql'
assert_contains "validate: names the empty script" "$OUT$ERR" "006_t6.sql"
assert_match "validate: error line" "$ERR" '^strata: error: '
assert_exit 0 "$STRATA" -d sqlite:$DB -m "$TMP/mv" status
assert_match "status with problems still exits 0" "$OUT" '^3 +t3 +modified'

# ----------------------------------------------------------------- baseline
# An existing database whose schema was made by hand: record 1..3 without
# running them (running them would fail: the tables exist).
sql base.db "CREATE TABLE t1(x); CREATE TABLE t2(x); CREATE TABLE t3(x);"
assert_exit 0 "$STRATA" -d sqlite:base.db -m "$M" baseline 3
assert_eq "baseline 3: output" "baselined 1 t1 (recorded without running)
baselined 2 t2 (recorded without running)
baselined 3 t3 (recorded without running)" "$OUT"
assert_eq "baseline 3: tracked" "1 2 3" "$(versions base.db)"
assert_eq "baseline ran nothing: t1 still empty" "0" "$(sql base.db 'SELECT count(*) FROM t1')"
assert_eq "baseline: recorded checksums are the files'" "$(sha256sum "$M/002_t2.up.sql" | cut -d' ' -f1)" \
    "$(sql base.db "SELECT checksum FROM strata_migrations WHERE version='2'")"
assert_exit 0 "$STRATA" -d sqlite:base.db -m "$M" baseline 3
assert_eq "baseline again: nothing to do" "nothing to baseline" "$OUT"
assert_exit 0 "$STRATA" -d sqlite:base.db -m "$M" up
assert_eq "up after baseline runs only 4 and 5" "applied 4 t4
applied 5 t5" "$(printf '%s\n' "$OUT" | sed 's/ (.*//')"
assert_exit 2 "$STRATA" -d sqlite:base.db -m "$M" baseline x1
assert_error "baseline with a malformed version" "x1"
assert_exit 2 "$STRATA" -d sqlite:base.db -m "$M" baseline
assert_error "baseline without a version" "VERSION"
assert_exit 0 "$STRATA" -d sqlite:base.db history
assert_eq "baseline is in the history" "3" "$(printf '%s\n' "$OUT" | grep -c ' baseline ')"

# ------------------------------------------------------------------- repair
R=$TMP/rep
put "$R/001_a.sql" 'CREATE TABLE a(x);\n'
put "$R/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt(x);\nCREATE TABLE nt(x);\n'
assert_exit 1 "$STRATA" -d sqlite:rep.db -m "$R" up
assert_eq "repair setup: 2 is dirty" "1|applied
2|dirty_up" "$(tracked rep.db)"
assert_exit 0 "$STRATA" -d sqlite:rep.db -m "$R" current
assert_eq "current: a dirty row above the applied ones does not count" "1" "$OUT"
printf -- '-- reviewed\n' >>"$R/001_a.sql"
old1=$(sql rep.db "SELECT checksum FROM strata_migrations WHERE version='1'")
new1=$(sha256sum "$R/001_a.sql" | cut -d' ' -f1)
assert_exit 0 "$STRATA" -d sqlite:rep.db -m "$R" repair
assert_contains "repair: prints the checksum it re-recorded" "$OUT" "repaired 1 a: checksum ${old1:0:12} -> ${new1:0:12}"
assert_match "repair: prints the dirty marker it cleared" "$OUT" '^repaired 2 nt.*(dirty|interrupted)'
assert_eq "repair: two lines" "2" "$(printf '%s\n' "$OUT" | grep -c '^repaired')"
assert_eq "repair: new checksum recorded" "$new1" "$(sql rep.db "SELECT checksum FROM strata_migrations WHERE version='1'")"
assert_eq "repair: interrupted up is pending again" "1|applied" "$(tracked rep.db)"
assert_eq "repair: schema untouched (nt stays)" "nt" "$(sql rep.db "SELECT name FROM sqlite_master WHERE name='nt'")"
assert_exit 0 "$STRATA" -d sqlite:rep.db -m "$R" repair
assert_eq "repair again: nothing to repair" "nothing to repair" "$OUT"
assert_exit 0 "$STRATA" -d sqlite:rep.db history
assert_eq "repair is in the history" "2" "$(printf '%s\n' "$OUT" | grep -c ' repair ')"
put "$R/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE IF NOT EXISTS nt(x);\n'
assert_exit 0 "$STRATA" -d sqlite:rep.db -m "$R" up
assert_eq "up after repair" "1|applied
2|applied" "$(tracked rep.db)"

# ------------------------------------------------------------------- forget
assert_exit 0 st forget 5
assert_eq "forget: output" "forgot 5 t5 (tracking row removed; schema untouched)" "$OUT"
assert_eq "forget: row gone" "1 2 3 4" "$(versions $DB)"
assert_eq "forget: schema untouched" "t1 t2 t3 t4 t5" "$(tables $DB)"
assert_exit 0 st status
assert_match "forget: 5 is pending again" "$OUT" '^5 +t5 +pending'
assert_exit 3 st forget 5
assert_error "forget an unrecorded version" "5"
assert_exit 3 st forget 99
assert_exit 0 "$STRATA" -d sqlite:$DB forget 4
assert_eq "forget needs no migrations directory" "1 2 3" "$(versions $DB)"
assert_exit 0 st history
assert_match "forget is in the history" "$OUT" ' forget +5 +t5 '

# ------------------------------------------------------------------ history
assert_exit 0 st history
assert_match "history: header" "$OUT" '^ID +AT +ACTION +VERSION +NAME +TIME +BY$'
total=$(($(printf '%s\n' "$OUT" | wc -l) - 1))
assert_eq "history: one line per event" "$(sql $DB 'SELECT count(*) FROM strata_migrations_history')" "$total"
assert_exit 0 st history --limit 2
assert_eq "history --limit 2: header + 2 lines" "3" "$(printf '%s\n' "$OUT" | wc -l)"
assert_match "history --limit 2: newest last" "$OUT" ' forget +4 +t4 '
assert_match "history --limit 2: the one before" "$OUT" ' forget +5 +t5 '
assert_exit 2 st history --limit 0
assert_exit 0 "$STRATA" -d sqlite:fresh.db history
assert_eq "history on a fresh db: only the header" "1" "$(printf '%s\n' "$OUT" | wc -l)"

# --------------------------------------------------------------------- new
N=$TMP/new
mkdir -p "$N"
assert_exit 0 "$STRATA" -m "$N" new create_users
assert_eq "new in an empty dir: 4 digits" "created $N/0001_create_users.up.sql
created $N/0001_create_users.down.sql" "$OUT"
assert_true "new: up file exists" test -f "$N/0001_create_users.up.sql"
assert_true "new: down file exists" test -f "$N/0001_create_users.down.sql"
assert_exit 0 "$STRATA" -m "$N" new add_posts
assert_true "new: next number" test -f "$N/0002_add_posts.up.sql"
N3=$TMP/new3
put "$N3/007_x.sql" 'CREATE TABLE x(a);\n'
assert_exit 0 "$STRATA" -m "$N3" new y
assert_true "new keeps 3-digit padding (008)" test -f "$N3/008_y.up.sql" -a -f "$N3/008_y.down.sql"
N1=$TMP/new1
put "$N1/9_x.sql" 'CREATE TABLE x(a);\n'
assert_exit 0 "$STRATA" -m "$N1" new y
assert_true "new without padding: 10 after 9" test -f "$N1/10_y.up.sql"
assert_exit 0 "$STRATA" -m "$N" new --single-file both
assert_true "new --single-file: one file" test -f "$N/0003_both.sql" -a ! -e "$N/0003_both.up.sql"
assert_match "new --single-file: up marker" "$(cat "$N/0003_both.sql")" '^-- strata:up$'
assert_match "new --single-file: down marker" "$(cat "$N/0003_both.sql")" '^-- strata:down$'
NT=$TMP/newts
mkdir -p "$NT"
assert_exit 0 "$STRATA" -m "$NT" new --timestamp stamped
ts=$(printf '%s\n' "$OUT" | head -1 | sed -E 's|.*/([0-9]+)_stamped.*|\1|')
assert_match "new --timestamp: 14 digits" "$ts" '^[0-9]{14}$'
now=$(date -u +%Y%m%d%H%M%S)
assert_true "new --timestamp: UTC now ($ts vs $now)" test $((now - ts)) -ge 0 -a $((now - ts)) -le 100
# never overwrites: an orphan down file in the way of the next name
NO=$TMP/noover
put "$NO/0001_a.sql" 'CREATE TABLE a(x);\n'
put "$NO/0002_next.down.sql" 'KEEP\n'
assert_exit 3 "$STRATA" -m "$NO" new next
assert_error "new with a file in the way" "0002_next"
assert_eq "new did not overwrite" "KEEP" "$(cat "$NO/0002_next.down.sql")"
assert_true "new created nothing" test ! -e "$NO/0002_next.up.sql"
# never overwrites: same timestamp and name twice within one second
NS=$TMP/samesec
for _ in 1 2 3; do
    rm -rf "$NS"
    mkdir -p "$NS"
    "$STRATA" -m "$NS" new --timestamp same >/dev/null 2>&1
    printf 'MINE\n' >"$(ls "$NS"/*.up.sql)"
    "$STRATA" -m "$NS" new --timestamp same >"$TMP/.o2" 2>"$TMP/.e2"
    rc=$?
    [ "$(ls "$NS" | wc -l)" -eq 2 ] && break # the second landed in the same second
done
if [ "$(ls "$NS" | wc -l)" -eq 2 ]; then
    assert_eq "new --timestamp twice in one second: exit 3" "3" "$rc"
    assert_eq "new --timestamp twice: kept the file" "MINE" "$(cat "$NS"/*.up.sql)"
fi
assert_exit 0 env -u DATABASE_URL "$STRATA" -m "$N" new no_db_needed
assert_exit 2 "$STRATA" -m "$N" new
assert_error "new without NAME" "NAME"
assert_exit 2 "$STRATA" -m "$N" new a b

# the files new creates are a valid (irreversible, empty) migration skeleton:
# up refuses them until they contain SQL
assert_exit 3 "$STRATA" -d sqlite:new.db -m "$N" up
assert_contains "up refuses the empty skeleton" "$ERR" "0001_create_users.up.sql"
put "$N/0001_create_users.up.sql" 'CREATE TABLE users(id INTEGER);\n'
put "$N/0001_create_users.down.sql" 'DROP TABLE users;\n'
assert_exit 0 "$STRATA" -d sqlite:new.db -m "$N" up --to 1
assert_exit 0 "$STRATA" -d sqlite:new.db -m "$N" down
assert_eq "filled skeleton goes up and down" "" "$(sql new.db "SELECT name FROM sqlite_master WHERE name='users'")"

# ------------------------------------------------------------------- status
assert_exit 0 "$STRATA" -d sqlite:stat.db -m "$M" up --to 3
assert_exit 0 "$STRATA" -d sqlite:stat.db -m "$M" status
assert_match "status: header" "$OUT" '^VERSION +NAME +STATE +APPLIED AT +TIME$'
for i in 1 2 3; do
    assert_match "status: $i applied with a time" "$OUT" "^$i +t$i +applied +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +[0-9]+ ms$"
done
for i in 4 5; do
    assert_match "status: $i pending" "$OUT" "^$i +t$i +pending +- +-$"
done
assert_match "status: current line" "$OUT" '^current: 3$'
assert_exit 0 "$STRATA" -d sqlite:stat.db -m "$TMP/new3" --module other status
assert_match "status of an empty module" "$OUT" '^current: 0$'
mkdir -p "$TMP/none"
assert_exit 0 "$STRATA" -d sqlite:stat.db -m "$TMP/none" --module nothing status
assert_eq "status with no migrations" "no migrations
current: 0" "$OUT"

# ------------------------------------- a tracking table from an earlier build
# Earlier strata made the tracking table a rowid table with an automatic
# index on its key; new databases get WITHOUT ROWID. Both must keep working.
sql old.db 'CREATE TABLE strata_migrations (module TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, state TEXT NOT NULL, applied_at TEXT NOT NULL, execution_ms INTEGER NOT NULL, applied_by TEXT NOT NULL, PRIMARY KEY (module, version))'
assert_exit 0 "$STRATA" -d sqlite:old.db -m "$M" up --to 3
assert_eq "rowid tracking table: up records into it" "1 2 3" "$(versions old.db)"
assert_exit 0 "$STRATA" -d sqlite:old.db -m "$M" up
assert_exit 0 "$STRATA" -d sqlite:old.db -m "$M" down --to 2
assert_eq "rowid tracking table: down deletes from it" "1 2" "$(versions old.db)"
assert_exit 0 "$STRATA" -d sqlite:old.db -m "$M" status
assert_match "rowid tracking table: status" "$OUT" '^current: 2$'
assert_eq "rowid tracking table: left a rowid table" "0" \
    "$(sql old.db "SELECT count(*) FROM sqlite_master WHERE name = 'strata_migrations' AND sql LIKE '%WITHOUT ROWID%'")"
assert_exit 0 "$STRATA" -d sqlite:fresh.db -m "$M" up --to 1
assert_eq "a new tracking table is WITHOUT ROWID, with no separate index" "1|0" \
    "$(sql fresh.db "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'strata_migrations' AND sql LIKE '%WITHOUT ROWID'), (SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'strata_migrations')")"

finish
