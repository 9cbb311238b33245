#!/usr/bin/env bash
# behaviours.sh - every command and every bad input of the SQLite tests
# (tests/cli/commands.sh, tests/cli/bad_input.sh), on PostgreSQL: exit
# statuses, messages with FILE:LINE and SQLSTATE, and an unchanged database
# (pg_snapshot before/after) for every refusal.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS PGPASSWORD PGHOST PGPORT PGDATABASE PGUSER

M=$TMP/m
for i in 1 2 3 4 5; do
    put "$M/00${i}_t$i.up.sql" "CREATE TABLE t$i(x text);\nINSERT INTO t$i VALUES ('up');\n"
    put "$M/00${i}_t$i.down.sql" "DROP TABLE t$i;\n"
done
st() { "$STRATA" -d "$DBURL" -m "$M" "$@"; }
# tables: the t<N> tables of the public schema, in name order
tables() { q "SELECT coalesce(string_agg(tablename, ' ' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]$'"; }
has_table() { q "SELECT count(*) FROM pg_tables WHERE tablename = '$1'"; }
versions() { q "SELECT coalesce(string_agg(version, ' ' ORDER BY length(version), version), '') FROM strata_migrations" 2>/dev/null; }
tracked() { q "SELECT string_agg(version || '|' || state, E'\n' ORDER BY length(version), version) FROM strata_migrations" 2>/dev/null; }
strip_ms() { printf '%s\n' "$OUT" | sed 's/ (.*//'; }

# ======================================================================= up
new_db
assert_exit 0 st up --dry-run
assert_eq "up --dry-run: lists every pending migration" "would apply 1 t1
would apply 2 t2
would apply 3 t3
would apply 4 t4
would apply 5 t5" "$OUT"
assert_eq "up --dry-run: applies nothing" "" "$(tables)"
assert_eq "up --dry-run: no tracking table created" "0" "$(has_table strata_migrations)"

assert_exit 0 st up --to 2
assert_match "up --to 2: applied line with a time" "$OUT" '^applied 1 t1 \([0-9]+ ms\)$'
assert_eq "up --to 2: tables" "t1 t2" "$(tables)"
assert_eq "up --to 2: tracked" "1 2" "$(versions)"
assert_exit 0 st up --to 002
assert_eq "up --to 002 (same as 2): nothing to do" "already up to date" "$OUT"
assert_exit 0 st up --steps 2
assert_eq "up --steps 2: two applied" "applied 3 t3
applied 4 t4" "$(strip_ms)"
assert_eq "up --steps 2: tracked" "1 2 3 4" "$(versions)"
assert_exit 2 st up --to 5 --steps 1
assert_error "up --to with --steps" "--steps"
assert_exit 0 st up
assert_eq "up: the rest" "applied 5 t5" "$(strip_ms)"
assert_eq "up: all tables" "t1 t2 t3 t4 t5" "$(tables)"
assert_exit 0 st up
assert_eq "up again: already up to date" "already up to date" "$OUT"
for i in 1 2 3 4 5; do
    assert_eq "each up ran once: t$i has one row" "1" "$(q "SELECT count(*) FROM t$i")"
done
assert_eq "tracking rows: state applied, checksum of the file" \
    "$(sha256sum "$M/003_t3.up.sql" | cut -d' ' -f1)|applied" \
    "$(q "SELECT checksum || '|' || state FROM strata_migrations WHERE version = '3'")"
before=$(pg_snapshot)
assert_exit 3 st up --to 7
assert_error "up --to an unknown version" "7"
assert_exit 3 st down --to 9
assert_error "down --to an unknown version" "9"
assert_eq "unknown versions: database unchanged" "$before" "$(pg_snapshot)"

# =================================================================== down
before=$(pg_snapshot)
assert_exit 0 st down --dry-run
assert_eq "down --dry-run: newest only" "would revert 5 t5" "$OUT"
assert_exit 0 st down --all --dry-run
assert_eq "down --all --dry-run: newest first" "would revert 5 t5
would revert 4 t4
would revert 3 t3
would revert 2 t2
would revert 1 t1" "$OUT"
assert_eq "down --dry-run: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 0 st down
assert_match "down: one step by default" "$OUT" '^reverted 5 t5 \([0-9]+ ms\)$'
assert_eq "down: one line" "1" "$(printf '%s\n' "$OUT" | grep -c .)"
assert_eq "down: t5 dropped" "t1 t2 t3 t4" "$(tables)"
assert_eq "down: tracked" "1 2 3 4" "$(versions)"
assert_exit 0 st down --steps 2
assert_eq "down --steps 2" "reverted 4 t4
reverted 3 t3" "$(strip_ms)"
assert_eq "down --steps 2: tracked" "1 2" "$(versions)"
assert_exit 0 st up
assert_exit 0 st down --to 2
assert_eq "down --to 2: reverts everything above 2" "reverted 5 t5
reverted 4 t4
reverted 3 t3" "$(strip_ms)"
assert_eq "down --to 2: tables" "t1 t2" "$(tables)"
assert_exit 0 st down --all
assert_eq "down --all: tables" "" "$(tables)"
assert_eq "down --all: tracked" "" "$(versions)"
assert_exit 0 st down
assert_eq "down with nothing applied" "nothing to revert" "$OUT"
assert_exit 0 st up
assert_exit 0 st down --to 0
assert_eq "down --to 0 = all" "" "$(versions)"
assert_exit 2 st down --all --steps 2
assert_exit 2 st down --steps 0

# =================================================================== redo
assert_exit 0 st up
before=$(pg_snapshot)
assert_exit 0 st redo --dry-run
assert_eq "redo --dry-run" "would revert 5 t5
would apply 5 t5" "$OUT"
assert_eq "redo --dry-run: database unchanged" "$before" "$(pg_snapshot)"
q "INSERT INTO t5 VALUES ('extra')"
assert_exit 0 st redo
assert_eq "redo: reverted then applied" "reverted 5 t5
applied 5 t5" "$(strip_ms)"
assert_eq "redo: the down really ran (t5 rebuilt, one row)" "up" "$(q "SELECT string_agg(x, ',') FROM t5")"
assert_eq "redo: still tracked" "1 2 3 4 5" "$(versions)"

# ================================================================ status
assert_exit 0 st down --steps 2
assert_exit 0 st status
assert_match "status: header" "$OUT" '^VERSION +NAME +STATE +APPLIED AT +TIME$'
for i in 1 2 3; do
    assert_match "status: $i applied with a time" "$OUT" "^$i +t$i +applied +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +[0-9]+ ms$"
done
for i in 4 5; do
    assert_match "status: $i pending" "$OUT" "^$i +t$i +pending +- +-$"
done
assert_match "status: current line" "$OUT" '^current: 3$'
assert_exit 0 st status --json
assert_empty "status --json: stderr" "$ERR"
json_check "status --json: shape" "$OUT" '
import re
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HEX = re.compile(r"^[0-9a-f]{64}$")
KEYS = {"version", "name", "state", "applied_at", "execution_ms",
        "applied_by", "checksum", "recorded_checksum", "up_file",
        "down_file", "reversible", "no_transaction"}
assert set(d) == {"module", "current", "migrations"}, sorted(d)
assert d["module"] == "default" and d["current"] == "3", d
ms = d["migrations"]
assert [m["version"] for m in ms] == ["1", "2", "3", "4", "5"], ms
assert [m["state"] for m in ms] == ["applied"] * 3 + ["pending"] * 2, ms
for m in ms:
    assert set(m) == KEYS, sorted(m)
    assert HEX.match(m["checksum"]), m
    assert m["reversible"] is True and m["no_transaction"] is False, m
    assert m["up_file"].endswith("_%s.up.sql" % m["name"]), m
for m in ms[:3]:
    assert ISO.match(m["applied_at"]), m
    assert type(m["execution_ms"]) is int and m["execution_ms"] >= 0, m
    assert m["recorded_checksum"] == m["checksum"], m
    assert isinstance(m["applied_by"], str) and m["applied_by"], m
for m in ms[3:]:
    assert m["applied_at"] is None and m["execution_ms"] is None, m
    assert m["recorded_checksum"] is None, m
'
mkdir -p "$TMP/none"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$TMP/none" --module nothing status
assert_eq "status with no migrations" "no migrations
current: 0" "$OUT"

# ================================================================ current
assert_exit 0 st current
assert_eq "current" "3" "$OUT"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$TMP/none" --module nothing current
assert_eq "current of an empty module" "0" "$OUT"

# =============================================================== validate
assert_exit 0 st validate
assert_match "validate when fine" "$OUT" '^valid: '
assert_empty "validate when fine: stderr" "$ERR"
cp -r "$M" "$TMP/mv"
printf -- '-- touched\n' >>"$TMP/mv/003_t3.up.sql"
put "$TMP/mv/006_t6.sql" '-- only a comment\n'
before=$(pg_snapshot)
assert_exit 3 "$STRATA" -d "$DBURL" -m "$TMP/mv" validate
assert_match "validate: lists the modified one" "$OUT" '^modified +3 t3 .*003_t3.up.sql'
assert_contains "validate: names the empty script" "$OUT$ERR" "006_t6.sql"
assert_match "validate: error line" "$ERR" '^strata: error: '
assert_exit 0 "$STRATA" -d "$DBURL" -m "$TMP/mv" status
assert_match "status with problems still exits 0" "$OUT" '^3 +t3 +modified'
assert_eq "validate/status: database unchanged" "$before" "$(pg_snapshot)"

# ================================================================ history
assert_exit 0 st history
assert_match "history: header" "$OUT" '^ID +AT +ACTION +VERSION +NAME +TIME +BY$'
total=$(($(printf '%s\n' "$OUT" | wc -l) - 1))
assert_eq "history: one line per event" "$(q 'SELECT count(*) FROM strata_migrations_history')" "$total"
assert_match "history: an up line" "$OUT" '^[0-9]+ +[0-9T:.Z-]+ +up +1 +t1 +[0-9]+ ms +'
assert_match "history: a down line" "$OUT" ' down +5 +t5 '
assert_exit 0 st history --limit 2
assert_eq "history --limit 2: header + 2 lines" "3" "$(printf '%s\n' "$OUT" | wc -l)"
assert_match "history --limit 2: newest last" "$OUT" ' down +4 +t4 '
assert_match "history --limit 2: the one before" "$OUT" ' down +5 +t5 '
assert_exit 2 st history --limit 0

new_db
assert_exit 0 "$STRATA" -d "$DBURL" history
assert_eq "history on a fresh database: only the header" "1" "$(printf '%s\n' "$OUT" | wc -l)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$M" current
assert_eq "current on a fresh database" "0" "$OUT"

# ========================================================== --single-transaction
new_db
ST=$TMP/single
put "$ST/001_a.sql" 'CREATE TABLE a(x int);\n'
put "$ST/002_b.sql" 'CREATE TABLE b(x int);\nINSERT INTO b VALUES (1);\n'
put "$ST/003_c.sql" 'CREATE TABLE c(x int);\nINSERT INTO c VALUES (1/0);\n'
assert_exit 1 "$STRATA" -d "$DBURL" -m "$ST" up --single-transaction
assert_contains "--single-transaction failure: names FILE:LINE" "$ERR" "$ST/003_c.sql:2:"
assert_contains "--single-transaction failure: SQLSTATE" "$ERR" "22012"
assert_eq "--single-transaction failure: nothing tracked" "" "$(versions)"
assert_eq "--single-transaction failure: no table left" "0" \
    "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a','b','c')")"
assert_contains "--single-transaction failure: hint" "$ERR" "hint: "
new_db
put "$ST/003_c.sql" 'CREATE TABLE c(x int);\n\nSELECT * FROM no_such_table;\n'
assert_exit 1 "$STRATA" -d "$DBURL" -m "$ST" up --single-transaction
assert_contains "--single-transaction, missing table: names FILE:LINE" "$ERR" "$ST/003_c.sql:3:"
assert_contains "--single-transaction, missing table: SQLSTATE" "$ERR" "42P01"
assert_eq "--single-transaction, missing table: nothing tracked" "" "$(versions)"
assert_eq "--single-transaction, missing table: no table left" "0" \
    "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a','b','c')")"
new_db
assert_exit 1 "$STRATA" -d "$DBURL" -m "$ST" up
assert_eq "without it, 1 and 2 stay" "1 2" "$(versions)"
assert_eq "without it, c is rolled back" "0" "$(has_table c)"
new_db
put "$ST/003_c.sql" 'CREATE TABLE c(x int);\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$ST" up --single-transaction
assert_eq "--single-transaction success" "1 2 3" "$(versions)"
assert_eq "--single-transaction success: tables" "3" \
    "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a','b','c')")"

# ================================================================ baseline
new_db
q "CREATE TABLE t1(x text); CREATE TABLE t2(x text); CREATE TABLE t3(x text);"
assert_exit 0 st baseline 3
assert_eq "baseline 3: output" "baselined 1 t1 (recorded without running)
baselined 2 t2 (recorded without running)
baselined 3 t3 (recorded without running)" "$OUT"
assert_eq "baseline 3: tracked" "1 2 3" "$(versions)"
assert_eq "baseline ran nothing: t1 still empty" "0" "$(q 'SELECT count(*) FROM t1')"
assert_eq "baseline: recorded checksums are the files'" "$(sha256sum "$M/002_t2.up.sql" | cut -d' ' -f1)" \
    "$(q "SELECT checksum FROM strata_migrations WHERE version = '2'")"
assert_exit 0 st baseline 3
assert_eq "baseline again: nothing to do" "nothing to baseline" "$OUT"
assert_exit 0 st up
assert_eq "up after baseline runs only 4 and 5" "applied 4 t4
applied 5 t5" "$(strip_ms)"
before=$(pg_snapshot)
assert_exit 2 st baseline x1
assert_error "baseline with a malformed version" "x1"
assert_exit 2 st baseline
assert_error "baseline without a version" "VERSION"
assert_eq "bad baseline: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 0 "$STRATA" -d "$DBURL" history
assert_eq "baseline is in the history" "3" "$(printf '%s\n' "$OUT" | grep -c ' baseline ')"

# ================================================================== forget
assert_exit 0 st forget 5
assert_eq "forget: output" "forgot 5 t5 (tracking row removed; schema untouched)" "$OUT"
assert_eq "forget: row gone" "1 2 3 4" "$(versions)"
assert_eq "forget: schema untouched" "t1 t2 t3 t4 t5" "$(tables)"
assert_exit 0 st status
assert_match "forget: 5 is pending again" "$OUT" '^5 +t5 +pending'
before=$(pg_snapshot)
assert_exit 3 st forget 5
assert_error "forget an unrecorded version" "5"
assert_exit 3 st forget 99
assert_error "forget an unknown version" "99"
assert_eq "refused forget: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 0 "$STRATA" -d "$DBURL" forget 4
assert_eq "forget needs no migrations directory" "1 2 3" "$(versions)"
assert_exit 0 st history
assert_match "forget is in the history" "$OUT" ' forget +5 +t5 '

# ============================================================= --allow-out-of-order
new_db
O=$TMP/ooo
put "$O/001_a.sql" 'CREATE TABLE a(x int);\n'
put "$O/003_c.sql" 'CREATE TABLE c(x int);\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$O" up
put "$O/002_late.sql" 'CREATE TABLE late(x int);\n'
before=$(pg_snapshot)
assert_exit 3 "$STRATA" -d "$DBURL" -m "$O" up
assert_error "out-of-order without the flag" "002_late.sql"
assert_eq "out-of-order refused: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$O" up --allow-out-of-order
assert_eq "--allow-out-of-order: applied" "applied 2 late" "$(strip_ms)"
assert_eq "--allow-out-of-order: tracked" "1 2 3" "$(versions)"
assert_eq "--allow-out-of-order: table" "1" "$(has_table late)"

# ==================================================================== new
N=$TMP/new
mkdir -p "$N"
assert_exit 0 env -u DATABASE_URL "$STRATA" -m "$N" new create_users
assert_eq "new without a database: created" "created $N/0001_create_users.up.sql
created $N/0001_create_users.down.sql" "$OUT"
assert_exit 0 "$STRATA" -d "postgresql://nobody@/nowhere?host=/nonexistent" -m "$N" new add_posts
assert_true "new does not connect (unreachable server given)" test -f "$N/0002_add_posts.up.sql"
new_db
before=$(pg_snapshot)
assert_exit 3 "$STRATA" -d "$DBURL" -m "$N" up
assert_contains "up refuses the empty skeleton" "$ERR" "0001_create_users.up.sql"
assert_eq "empty skeleton refused: database unchanged" "$before" "$(pg_snapshot)"
put "$N/0001_create_users.up.sql" 'CREATE TABLE users(id int);\n'
put "$N/0001_create_users.down.sql" 'DROP TABLE users;\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$N" up --to 1
assert_eq "filled skeleton goes up" "1" "$(has_table users)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$N" down
assert_eq "filled skeleton goes down" "0" "$(has_table users)"

# ==================================================================== repair
new_db
R=$TMP/rep
put "$R/001_a.sql" 'CREATE TABLE a(x int);\n'
put "$R/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt(x int);\nCREATE TABLE nt(x int);\nCREATE TABLE never(x int);\n'
assert_exit 1 "$STRATA" -d "$DBURL" -m "$R" up
assert_contains "dirty: names FILE:LINE of the 2nd statement" "$ERR" "$R/002_nt.sql:3:"
assert_contains "dirty: SQLSTATE of the failure" "$ERR" "42P07"
assert_eq "dirty: 2 is dirty" "1|applied
2|dirty_up" "$(tracked)"
assert_eq "dirty: the first statement stays (no transaction)" "1" "$(has_table nt)"
assert_eq "dirty: the third never ran" "0" "$(has_table never)"
before=$(pg_snapshot)
assert_exit 3 "$STRATA" -d "$DBURL" -m "$R" up
assert_error "up on a dirty database" "002_nt"
assert_contains "up on a dirty database: says it did not finish" "$ERR" "did not finish"
assert_contains "up on a dirty database: suggests repair" "$ERR" "strata repair"
assert_eq "dirty refused: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 3 "$STRATA" -d "$DBURL" -m "$R" up --json
json_check "dirty refusal: reason" "$OUT" 'assert d["error"]["reason"] == "dirty", d'
printf -- '-- reviewed\n' >>"$R/001_a.sql"
old1=$(q "SELECT checksum FROM strata_migrations WHERE version = '1'")
new1=$(sha256sum "$R/001_a.sql" | cut -d' ' -f1)
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" repair
assert_contains "repair: prints the checksum it re-recorded" "$OUT" "repaired 1 a: checksum ${old1:0:12} -> ${new1:0:12}"
assert_match "repair: prints the dirty marker it cleared" "$OUT" '^repaired 2 nt.*(dirty|interrupted)'
assert_eq "repair: two lines" "2" "$(printf '%s\n' "$OUT" | grep -c '^repaired')"
assert_eq "repair: new checksum recorded" "$new1" "$(q "SELECT checksum FROM strata_migrations WHERE version = '1'")"
assert_eq "repair: interrupted up is pending again" "1|applied" "$(tracked)"
assert_eq "repair: schema untouched (nt stays)" "1" "$(has_table nt)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" repair
assert_eq "repair again: nothing to repair" "nothing to repair" "$OUT"
assert_exit 0 "$STRATA" -d "$DBURL" history
assert_eq "repair is in the history" "2" "$(printf '%s\n' "$OUT" | grep -c ' repair ')"
put "$R/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE IF NOT EXISTS nt(x int);\nCREATE TABLE never(x int);\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" up
assert_eq "up after repair and fix" "1|applied
2|applied" "$(tracked)"
assert_eq "up after repair: the rest ran" "1" "$(has_table never)"

# ============================================================== bad input
# setup NAME: a fresh database with 001_base (+down) applied from $TMP/NAME.
setup() {
    new_db
    D=$TMP/$1
    rm -rf "$D"
    put "$D/001_base.up.sql" 'CREATE TABLE base(x int);\nINSERT INTO base VALUES (1);\n'
    put "$D/001_base.down.sql" 'DROP TABLE base;\n'
    "$STRATA" -q -d "$DBURL" -m "$D" up || fail "setup $1" "up failed"
}
# expect NAME CODE NEEDLE [ARGS...]: strata ARGS (default: up) exits CODE
# with a well-formed error naming NEEDLE, and the database is unchanged.
expect() {
    local name=$1 code=$2 needle=$3
    shift 3
    [ $# -eq 0 ] && set -- up
    local before
    before=$(pg_snapshot)
    CHECK="$name: exit $code" assert_exit "$code" "$STRATA" -d "$DBURL" -m "$D" "$@"
    assert_error "$name" "$needle"
    assert_eq "$name: database unchanged" "$before" "$(pg_snapshot)"
}

# ---- a syntax error in the 3rd statement: PostgreSQL's parser finds it
# when the plan is made, so nothing runs (exit 3), and the line is exact
setup syntax
put "$D/002_ok.sql" 'CREATE TABLE ok2(x int);\n'
put "$D/003_three.sql" 'CREATE TABLE s1(x int);\nINSERT INTO base VALUES (2);\n\n-- the third statement is broken\nCREATE TABLE s3 (x int,\n  y text NOT NULL,\n  PRIMARY KEY (x,),\n  z int);\n'
expect "syntax error in the 3rd statement" 3 "$D/003_three.sql:7:"
assert_contains "syntax error: the parser's message" "$ERR" 'syntax error at or near ")"'
assert_eq "syntax error: the migration before it in the run was not applied" "0" "$(has_table ok2)"
assert_eq "syntax error: statement 1 not run" "0" "$(has_table s1)"
assert_eq "syntax error: statement 2 not run" "1" "$(q 'SELECT count(*) FROM base')"
assert_eq "syntax error: tracked" "1|applied" "$(tracked)"
assert_exit 3 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "syntax error --json: line, statement_line, reason" "$OUT" '
e = d["error"]
assert e["code"] == "refused" and e["exit"] == 3 and e["reason"] == "bad_script", e
assert e["line"] == 7 and e["statement_line"] == 5, e
assert e["file"].endswith("003_three.sql") and e["version"] == "3", e'
assert_exit 3 "$STRATA" -d "$DBURL" -m "$D" validate
assert_contains "syntax error: validate finds it too" "$ERR" "003_three.sql:7:"

# ---- a runtime error in the 3rd statement (missing table)
setup runtime
put "$D/002_ok.sql" 'CREATE TABLE ok2(x int);\n'
put "$D/003_rt.sql" 'CREATE TABLE r1(x int);\nINSERT INTO base VALUES (2);\n\nINSERT INTO r1\n  SELECT * FROM no_such_table;\n'
before=$(pg_snapshot)
assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up
assert_match "missing table: error names FILE:LINE" "$ERR" "^strata: error: $D/003_rt.sql:5: "
assert_match "missing table: hint line" "$ERR" '^  hint: .+'
assert_match "missing table: stdout shows 002 applied" "$OUT" '^applied 2 ok \([0-9]+ ms\)$'
assert_contains "missing table: database message" "$ERR" 'relation "no_such_table" does not exist'
assert_contains "missing table: SQLSTATE" "$ERR" "42P01"
assert_contains "missing table: hint says rolled back" "$ERR" "rolled back"
assert_eq "missing table: earlier migration kept" "1|applied
2|applied" "$(tracked)"
assert_eq "missing table: earlier migration's table kept" "1" "$(has_table ok2)"
assert_eq "missing table: statement 1 rolled back" "0" "$(has_table r1)"
assert_eq "missing table: statement 2 rolled back" "1" "$(q 'SELECT count(*) FROM base')"
assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "missing table --json: sqlstate, line, statement_line" "$OUT" '
e = d["error"]
assert e["code"] == "failed" and e["exit"] == 1, e
assert e["sqlstate"] == "42P01", e
assert e["line"] == 5 and e["statement_line"] == 4, e
assert e["file"].endswith("003_rt.sql") and e["version"] == "3", e
assert "no_such_table" in e["db_message"], e'

# ---- division by zero in the 3rd statement
setup divzero
put "$D/002_dz.sql" 'CREATE TABLE d1(x int);\nINSERT INTO d1 VALUES (1);\nINSERT INTO d1 VALUES (1/0);\n'
expect "division by zero in the 3rd statement" 1 "$D/002_dz.sql:3:"
assert_contains "division by zero: message" "$ERR" "division by zero"
assert_contains "division by zero: SQLSTATE" "$ERR" "22012"
assert_eq "division by zero: d1 rolled back" "0" "$(has_table d1)"

# ---- a constraint failure in a later migration: the earlier ones stay
setup later
put "$D/002_ok.sql" 'CREATE TABLE ok2(x int);\n'
put "$D/003_uq.sql" 'CREATE TABLE u(id int PRIMARY KEY);\nINSERT INTO u VALUES (1);\nINSERT INTO u VALUES (1);\n'
assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up
assert_contains "constraint failure: names FILE:LINE" "$ERR" "$D/003_uq.sql:3:"
assert_contains "constraint failure: SQLSTATE 23505" "$ERR" "23505"
assert_eq "constraint failure: 002 applied, 003 not" "1|applied
2|applied" "$(tracked)"
assert_eq "constraint failure: u rolled back" "0" "$(has_table u)"

# ---- the file set
setup dup
put "$D/002_a.sql" 'CREATE TABLE a(x int);\n'
put "$D/2_b.sql" 'CREATE TABLE b(x int);\n'
expect "duplicate versions 002_a + 2_b" 3 "2_b.sql"
assert_contains "duplicate versions: names both files" "$ERR" "002_a.sql"
expect "duplicate versions: status" 3 "2_b.sql" status
expect "duplicate versions: validate" 3 "2_b.sql" validate

setup dup1
put "$D/1_other.sql" 'CREATE TABLE other(x int);\n'
expect "duplicate of an applied version (001_base + 1_other)" 3 "1_other.sql"

for bad in abc.sql 1a_x.sql 001.sql V1_x.sql; do
    setup badname
    put "$D/$bad" 'CREATE TABLE z(x int);\n'
    expect "unparseable name $bad" 3 "$bad"
done

setup empty
put "$D/002_empty.sql" ''
expect "zero-byte up script" 3 "002_empty.sql"
setup comments
put "$D/002_comments.sql" '-- nothing to do yet\n/* a block\n   comment; with a semicolon */\n-- done\n'
expect "comment-only up script" 3 "002_comments.sql"
setup semis
put "$D/002_semis.sql" ';\n;;\n'
expect "up script of bare semicolons" 3 "002_semis.sql"

setup nodown
put "$D/002_oneway.sql" 'CREATE TABLE oneway(x int);\n'
"$STRATA" -q -d "$DBURL" -m "$D" up
expect "down with no down script" 3 "002_oneway.sql" down
expect "down --all with no down script on the newest" 3 "002_oneway" down --all
expect "redo with no down script" 3 "002_oneway" redo
setup emptydown
put "$D/002_ed.up.sql" 'CREATE TABLE ed(x int);\n'
put "$D/002_ed.down.sql" '-- irreversible\n'
"$STRATA" -q -d "$DBURL" -m "$D" up
expect "down with a comment-only down script" 3 "002_ed.down.sql" down

# ---- against the tracking table
setup modified
printf -- '-- edited after it was applied\n' >>"$D/001_base.up.sql"
expect "checksum mismatch" 3 "001_base.up.sql"
assert_contains "checksum mismatch: suggests repair" "$ERR" "repair"
expect "checksum mismatch blocks down too" 3 "001_base" down
assert_exit 3 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "checksum mismatch: reason" "$OUT" 'assert d["error"]["reason"] == "modified", d'

setup missing
put "$D/002_gone.sql" 'CREATE TABLE gone(x int);\n'
"$STRATA" -q -d "$DBURL" -m "$D" up
rm "$D/002_gone.sql"
put "$D/003_new.sql" 'CREATE TABLE new3(x int);\n'
expect "missing file for an applied version" 3 "2"
assert_contains "missing: names the version's name" "$ERR" "gone"
assert_eq "missing: 003 not applied" "0" "$(has_table new3)"

setup ooo
put "$D/003_c.sql" 'CREATE TABLE c(x int);\n'
"$STRATA" -q -d "$DBURL" -m "$D" up
put "$D/002_late.sql" 'CREATE TABLE late(x int);\n'
expect "out-of-order file" 3 "002_late.sql"

# ---- reading the tracking rows fails after two of them (rows arrive one
# at a time): a clean error, and nothing changed
setup partway
put "$D/002_b.sql" 'CREATE TABLE b2(x int);\n'
put "$D/003_c.sql" 'CREATE TABLE c3(x int);\n'
"$STRATA" -q -d "$DBURL" -m "$D" up || fail "partway" "up failed"
q "ALTER TABLE strata_migrations RENAME TO strata_migrations_rows;
   CREATE VIEW strata_migrations AS SELECT * FROM strata_migrations_rows
   WHERE CASE WHEN version = '3' THEN 1 / 0 = 1 ELSE true END" >/dev/null
expect "status, the third row fails" 1 "division by zero" status
expect "current, the third row fails" 1 "division by zero" current
q "DROP VIEW strata_migrations;
   ALTER TABLE strata_migrations_rows RENAME TO strata_migrations" >/dev/null
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" status
assert_contains "the table back: status reads all three" "$OUT" "c"

# ---- bad bytes
setup utf8
put "$D/002_latin1.sql" "CREATE TABLE l(x text);\nINSERT INTO l VALUES ('caf\\xe9');\n"
expect "invalid UTF-8" 3 "002_latin1.sql:2:"
setup nul
put "$D/002_nul.sql" "CREATE TABLE n(x text);\n\nINSERT INTO n VALUES ('a\\x00b');\n"
expect "NUL byte" 3 "002_nul.sql:3:"
setup goodutf8
put "$D/002_utf8.sql" "\\xef\\xbb\\xbfCREATE TABLE caf\\xc3\\xa9(\"\\xe2\\x82\\xac\" text);\nINSERT INTO caf\\xc3\\xa9 VALUES ('\\xf0\\x9f\\x98\\x80');\n"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_eq "valid UTF-8 with a BOM applies" $'\xf0\x9f\x98\x80' "$(q "SELECT * FROM caf"$'\xc3\xa9')"

# ---- the server cannot be reached or refuses us: exit 5, nothing else
setup conn
pw_url=${STRATA_PG_URL%%@*}   # postgresql://strata:PASSWORD
sock=${STRATA_PG_SOCKET:-$(printf '%s' "$STRATA_PG_URL" | sed -n 's/.*host=\([^&]*\).*/\1/p')}
port=${STRATA_PG_PORT:-5432}
before=$(pg_snapshot)
assert_exit 5 "$STRATA" -d "$pw_url@/$DBNAME?host=$TMP/no-such-socket-dir&port=$port" -m "$D" up
assert_error "unreachable server (no socket there)" "cannot connect"
assert_contains "unreachable server: libpq's reason" "$ERR" "No such file or directory"
assert_exit 5 "$STRATA" -d "$pw_url@/$DBNAME?host=$sock&port=$((port + 1))" -m "$D" up
assert_error "unreachable server (wrong port)" "cannot connect"
assert_exit 5 "$STRATA" -d "$pw_url@/$DBNAME?host=$sock&port=$((port + 1))" -m "$D" status
assert_exit 5 "$STRATA" -d "postgresql://strata:not-the-password@/$DBNAME?host=$sock&port=$port" -m "$D" up
assert_error "wrong password" "password authentication failed"
assert_exit 5 "$STRATA" -d "$pw_url@/no_such_db_$$?host=$sock&port=$port" -m "$D" up
assert_error "a database that does not exist" "does not exist"
assert_exit 5 "$STRATA" -d "$pw_url@/no_such_db_$$?host=$sock&port=$port" -m "$D" up --json
json_check "no such database --json: code connect, exit 5" "$OUT" '
e = d["error"]
assert e["code"] == "connect" and e["exit"] == 5, e'
assert_eq "connection failures: database unchanged" "$before" "$(pg_snapshot)"
assert_eq "a database that does not exist was not created" "0" \
    "$("$PSQL" -X -At "$STRATA_PG_ADMIN_URL" -c "SELECT count(*) FROM pg_database WHERE datname = 'no_such_db_$$'")"


# ======================================================== redo, atomically
# The down script leaves behind what makes the apply fail: the revert and
# the apply commit together, so the migration stays applied as it was.
R=$TMP/redo_fail
put "$R/001_rb.up.sql" "CREATE TABLE rb(x int);\nCREATE TABLE rb_marker(x int);\n"
put "$R/001_rb.down.sql" "DROP TABLE rb;\n"
new_db
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" up
before=$(pg_snapshot)
assert_exit 1 "$STRATA" -d "$DBURL" -m "$R" redo
assert_error "redo whose apply fails" "relation \"rb_marker\" already exists"
assert_contains "redo whose apply fails: the hint" "$ERR" "rolled back as a whole"
assert_eq "redo whose apply fails: database unchanged" "$before" "$(pg_snapshot)"

# Inside that one transaction the apply starts afresh, as in a transaction
# of its own: the down script's SET does not reach it, and its time does
# not count the down script's second of sleep.
R=$TMP/redo_fresh
put "$R/001_rf.up.sql" "CREATE TABLE rf(x int);\n"
put "$R/001_rf.down.sql" "DROP TABLE rf;\nSELECT pg_sleep(1);\nCREATE SCHEMA rf_other;\nSET search_path = rf_other;\n"
new_db
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" up
assert_exit 0 "$STRATA" -d "$DBURL" -m "$R" redo
assert_eq "redo: the apply ran with the session's own search_path" "public" \
    "$(q "SELECT table_schema FROM information_schema.tables WHERE table_name = 'rf'")"
assert_eq "redo: the apply's time is its own, not the down script's" "t" \
    "$(q "SELECT execution_ms < 900 FROM strata_migrations WHERE version = '1'")"

finish
