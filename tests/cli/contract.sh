#!/usr/bin/env bash
# contract.sh - the strata command's contract: global options, where the URL
# and the migrations directory come from, exit statuses and the error format.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

# A small reversible set used by most checks.
M=$TMP/m
put "$M/001_one.up.sql" 'CREATE TABLE one(x INTEGER);\n'
put "$M/001_one.down.sql" 'DROP TABLE one;\n'
put "$M/002_two.up.sql" 'CREATE TABLE two(x INTEGER);\n'
put "$M/002_two.down.sql" 'DROP TABLE two;\n'

# ---------------------------------------------------------------- help, version
for h in -h --help; do
    assert_exit 0 "$STRATA" $h
    assert_contains "$h prints the usage" "$OUT" "usage: strata"
    assert_contains "$h lists the commands" "$OUT" "validate"
    assert_contains "$h documents the exit statuses" "$OUT" "4 the migration lock"
    assert_empty "$h: nothing on stderr" "$ERR"
done
assert_exit 0 "$STRATA" --version
assert_match "--version prints 'strata X.Y.Z'" "$OUT" '^strata [0-9]+\.[0-9]+\.[0-9]+$'
assert_exit 0 "$STRATA" --version --json
json_check "--version --json" "$OUT" 'assert set(d) == {"version"}, d; assert d["version"].count(".") == 2'
for c in up down redo status history validate current new baseline repair forget; do
    assert_exit 0 "$STRATA" help $c
    assert_contains "help $c shows its usage" "$OUT" "usage: strata $c"
    assert_exit 0 "$STRATA" $c --help
    assert_contains "$c --help shows its usage" "$OUT" "usage: strata $c"
    assert_exit 0 "$STRATA" $c -h
    assert_contains "$c -h shows its usage" "$OUT" "usage: strata $c"
done

# ------------------------------------------------------------ exit 2: usage
assert_exit 2 "$STRATA"
assert_contains "no command: message" "$ERR" "no command given"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" --bogus status
assert_error "unknown global option" "--bogus"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" status --bogus
assert_error "unknown option after the command" "--bogus"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" frobnicate
assert_error "unknown command" "frobnicate"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" up --steps 0
assert_error "--steps 0" "--steps"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" up --steps x
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" --lock-timeout abc up
assert_error "bad --lock-timeout" "--lock-timeout"
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$M" status -d
assert_error "option without its value" "-d"
assert_exit 2 "$STRATA" -m "$M" status
assert_error "missing URL" "no database URL"
for url in "u.db" "postgresx://h/db" "mysqlx:foo" "://x"; do
    assert_exit 2 "$STRATA" -d "$url" -m "$M" status
    assert_error "bad URL scheme '$url'" "URL"
done
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$TMP/nonexistent" status
assert_error "nonexistent migrations dir" "$TMP/nonexistent"
assert_exit 2 "$STRATA" -d sqlite:u2.db -m "$TMP/nonexistent" up
assert_error "nonexistent migrations dir (up)" "$TMP/nonexistent"
assert_true "up with a nonexistent migrations dir creates no database file" test ! -e u2.db
assert_true "up with a nonexistent migrations dir creates no lock file" test ! -e u2.db-strata-lock
put "$TMP/plainfile" 'x\n'
assert_exit 2 "$STRATA" -d sqlite:u.db -m "$TMP/plainfile" up
assert_error "migrations dir is a file" "$TMP/plainfile"
# Unreadable for real: root reads anything, so run as nobody.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
mkdir -p "$TMP/pub/locked"
cp "$M"/* "$TMP/pub/locked/"
chmod 0755 "$TMP" "$TMP/pub"
chmod 0777 "$TMP/pub"
chmod 0000 "$TMP/pub/locked"
assert_exit 2 "${NOBODY[@]}" "$STRATA" -d "sqlite:$TMP/pub/n.db" -m "$TMP/pub/locked" up
assert_error "unreadable migrations dir" "$TMP/pub/locked"
chmod 0755 "$TMP/pub/locked"

# ------------------------------------------ where the URL comes from
assert_exit 0 "$STRATA" -d sqlite:a.db -m "$M" up
assert_eq "-d: tracked" "1|applied
2|applied" "$(tracked a.db)"
assert_exit 0 "$STRATA" --database sqlite:b.db --migrations "$M" up
assert_eq "--database/--migrations: tracked" "1|applied
2|applied" "$(tracked b.db)"
assert_exit 0 "$STRATA" --database=sqlite:b2.db --migrations="$M" up --to=1
assert_eq "--opt=value forms" "1|applied" "$(tracked b2.db)"
CHECK="DATABASE_URL fallback" assert_exit 0 env DATABASE_URL=sqlite:c.db "$STRATA" -m "$M" up
assert_eq "DATABASE_URL: tracked" "1|applied
2|applied" "$(tracked c.db)"
CHECK="-d beats DATABASE_URL" assert_exit 0 env DATABASE_URL=sqlite:wrong.db "$STRATA" -d sqlite:d.db -m "$M" up
assert_true "-d beats DATABASE_URL: d.db created" test -s d.db
assert_true "-d beats DATABASE_URL: env db untouched" test ! -e wrong.db
CHECK="empty DATABASE_URL counts as unset" assert_exit 2 env DATABASE_URL= "$STRATA" -m "$M" status
assert_exit 0 "$STRATA" -d "sqlite://$TMP/abs.db" -m "$M" up --steps 1
assert_eq "sqlite:///absolute/path" "1|applied" "$(tracked "$TMP/abs.db")"
assert_exit 0 "$STRATA" -d "sqlite3:s3.db" -m "$M" up --steps 1
assert_eq "sqlite3: synonym" "1|applied" "$(tracked s3.db)"

# ------------------------------------ where the migrations come from
CHECK="STRATA_MIGRATIONS fallback" assert_exit 0 env STRATA_MIGRATIONS="$M" "$STRATA" -d sqlite:e.db up
assert_eq "STRATA_MIGRATIONS: tracked" "1|applied
2|applied" "$(tracked e.db)"
mkdir -p "$TMP/other"
put "$TMP/other/005_other.sql" 'CREATE TABLE other(x);\n'
CHECK="-m beats STRATA_MIGRATIONS" assert_exit 0 env STRATA_MIGRATIONS="$TMP/other" "$STRATA" -d sqlite:f.db -m "$M" up
assert_eq "-m beats STRATA_MIGRATIONS: tracked" "1|applied
2|applied" "$(tracked f.db)"
mkdir -p "$TMP/proj"
cp -r "$M" "$TMP/proj/migrations"
(cd "$TMP/proj" && "$STRATA" -d sqlite:g.db up >/dev/null 2>&1)
assert_eq "default ./migrations" "0" "$?"
assert_eq "default ./migrations: tracked" "1|applied
2|applied" "$(tracked "$TMP/proj/g.db")"
(cd "$TMP/other" && "$STRATA" -d sqlite:h.db up >/dev/null 2>"$TMP/.e")
assert_eq "no ./migrations: exit 2" "2" "$?"
assert_contains "no ./migrations: names it" "$(cat "$TMP/.e")" "migrations"

# --------------------------------------- global options after the command
assert_exit 0 "$STRATA" status --json -d sqlite:a.db -m "$M"
json_check "status --json -d -m after the command" "$OUT" 'assert d["current"] == "2", d'
assert_exit 0 "$STRATA" status -d sqlite:a.db --migrations "$M" -q
assert_empty "-q after the command" "$OUT"
assert_exit 0 "$STRATA" current -d sqlite:a.db --json
json_check "current --json" "$OUT" 'assert d == {"module": "default", "current": "2"}, d'

# --------------------------------------------------------- --module, --table
put "$TMP/mod/001_x.sql" 'CREATE TABLE modx(x);\n'
assert_exit 0 "$STRATA" -d sqlite:a.db -m "$TMP/mod" --module plugin up
assert_eq "--module: its own rows" "1|x" \
    "$(sql a.db "SELECT version||'|'||name FROM strata_migrations WHERE module='plugin'")"
assert_eq "--module: default module untouched" "1|one
2|two" "$(sql a.db "SELECT version||'|'||name FROM strata_migrations WHERE module='default' ORDER BY version")"
assert_exit 0 "$STRATA" -d sqlite:a.db -m "$M" --module plugin status --json
json_check "--module status sees only its rows" "$OUT" '
assert d["module"] == "plugin", d["module"]
st = {m["version"]: m["state"] for m in d["migrations"]}
assert st == {"1": "modified", "2": "pending"}, st'
assert_exit 0 "$STRATA" -d sqlite:a.db -m "$M" status --json
json_check "default module still clean" "$OUT" '
assert [m["state"] for m in d["migrations"]] == ["applied", "applied"], d'
assert_exit 2 "$STRATA" -d sqlite:a.db -m "$M" --module "" status

assert_exit 0 "$STRATA" -d sqlite:t.db -m "$M" --table my_versions up
assert_eq "--table: rows in my_versions" "1|applied
2|applied" "$(tracked t.db my_versions)"
assert_eq "--table: no strata_migrations" "" \
    "$(sql t.db "SELECT name FROM sqlite_master WHERE name LIKE 'strata_migrations%'")"
assert_eq "--table: history table named after it" "my_versions_history" \
    "$(sql t.db "SELECT name FROM sqlite_master WHERE name='my_versions_history'")"
assert_exit 0 "$STRATA" -d sqlite:t.db -m "$M" --table my_versions current
assert_eq "--table current" "2" "$OUT"
assert_exit 0 "$STRATA" -d sqlite:t.db -m "$M" current
assert_eq "default table on a --table db: nothing applied" "0" "$OUT"

# ----------------------------------------------------------------- -q, -v
assert_exit 0 "$STRATA" -q -d sqlite:q.db -m "$M" up
assert_empty "-q up: stdout" "$OUT"
assert_empty "-q up: stderr" "$ERR"
assert_eq "-q up: applied anyway" "2" "$(sql q.db 'SELECT count(*) FROM strata_migrations')"
assert_exit 0 "$STRATA" -v -d sqlite:v.db -m "$M" up
assert_contains "-v: progress on stderr" "$ERR" "strata: [1/2] up 1 one"
assert_contains "-v: database on stderr" "$ERR" "strata: database: sqlite:v.db"
assert_contains "-v: results still on stdout" "$OUT" "applied 2 two"
assert_not_contains "-v: progress not on stdout" "$OUT" "[1/2]"

# --------------------------------------------------------------- exit 0
assert_exit 0 "$STRATA" -d sqlite:a.db -m "$M" up
assert_eq "up to date: message" "already up to date" "$OUT"
assert_empty "up to date: stderr" "$ERR"

# --------------------------------------------------------------- exit 1
put "$TMP/fail/001_ok.sql" 'CREATE TABLE ok1(x);\n'
put "$TMP/fail/002_bad.sql" 'CREATE TABLE bad1(x);\nINSERT INTO nosuch VALUES (1);\n'
assert_exit 1 "$STRATA" -d sqlite:fail.db -m "$TMP/fail" up
assert_match "failed migration: FILE:LINE: message" "$ERR" "^strata: error: $TMP/fail/002_bad.sql:2: .*no such table: nosuch"
assert_match "failed migration: database line" "$ERR" '^  database: no such table: nosuch'
assert_match "failed migration: hint line" "$ERR" '^  hint: '
assert_contains "failed migration: earlier one reported on stdout" "$OUT" "applied 1 ok"
assert_eq "failed migration: first stays, second left no trace" "1|applied" "$(tracked fail.db)"
assert_eq "failed migration: bad1 not created" "" "$(sql fail.db "SELECT name FROM sqlite_master WHERE name='bad1'")"

# --------------------------------------------------------------- exit 3
refuse() { # refuse CHECK DIR [COMMAND...]: exit 3, nothing changed
    local name=$1 dir=$2 db=$3
    shift 3
    local before after
    before=$(snapshot "$db")
    CHECK="$name: exit 3" assert_exit 3 "$STRATA" -d "sqlite:$db" -m "$dir" "$@"
    assert_match "$name: error line" "$ERR" '^strata: error: '
    assert_match "$name: hint line" "$ERR" '^  hint: '
    assert_empty "$name: stdout empty" "$OUT"
    after=$(snapshot "$db")
    assert_eq "$name: database unchanged" "$before" "$after"
}
base() { # base NAME: a db with 001+002 applied, and a copy of the migrations
    rm -rf "$TMP/r-$1"
    cp -r "$M" "$TMP/r-$1"
    "$STRATA" -q -d "sqlite:r-$1.db" -m "$TMP/r-$1" up || fail "setup $1" "up failed"
}
base modified
printf -- '-- changed\n' >>"$TMP/r-modified/002_two.up.sql"
refuse "modified" "$TMP/r-modified" r-modified.db up
assert_contains "modified: names the file" "$ERR" "002_two.up.sql"

base missing
rm "$TMP/r-missing/002_two.up.sql" "$TMP/r-missing/002_two.down.sql"
refuse "missing" "$TMP/r-missing" r-missing.db up
assert_contains "missing: names the version" "$ERR" "2"

# 1 and 3 applied, then 2 appears: out of order (with a pending 4 after it).
rm -rf "$TMP/r-ooo"
mkdir -p "$TMP/r-ooo"
put "$TMP/r-ooo/001_one.sql" 'CREATE TABLE one(x);\n'
put "$TMP/r-ooo/003_three.sql" 'CREATE TABLE three(x);\n'
"$STRATA" -q -d sqlite:r-ooo.db -m "$TMP/r-ooo" up
put "$TMP/r-ooo/002_mid.sql" 'CREATE TABLE mid(x);\n'
put "$TMP/r-ooo/004_new.sql" 'CREATE TABLE new4(x);\n'
refuse "out-of-order" "$TMP/r-ooo" r-ooo.db up
assert_contains "out-of-order: names the file" "$ERR" "002_mid.sql"
assert_eq "out-of-order: 004 not applied either" "" "$(sql r-ooo.db "SELECT name FROM sqlite_master WHERE name='new4'")"
assert_exit 0 "$STRATA" -d sqlite:r-ooo.db -m "$TMP/r-ooo" up --allow-out-of-order
assert_eq "--allow-out-of-order applies both" "1|applied
2|applied
3|applied
4|applied" "$(tracked r-ooo.db)"

put "$TMP/dirty/001_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt1(x);\nCREATE TABLE nt1(x);\n'
assert_exit 1 "$STRATA" -d sqlite:dirty.db -m "$TMP/dirty" up
assert_contains "no-transaction failure names the file and line" "$ERR" "001_nt.sql:3:"
assert_eq "no-transaction failure leaves a dirty row" "1|dirty_up" "$(tracked dirty.db)"
refuse "dirty" "$TMP/dirty" dirty.db up
assert_contains "dirty: suggests repair" "$ERR" "repair"

base dup
put "$TMP/r-dup/3_a.sql" 'CREATE TABLE a3(x);\n'
put "$TMP/r-dup/003_b.sql" 'CREATE TABLE b3(x);\n'
refuse "duplicate version" "$TMP/r-dup" r-dup.db up
assert_contains "duplicate version: names a file" "$ERR" "3_"

base badname
put "$TMP/r-badname/abc_nonsense.sql" 'CREATE TABLE z(x);\n'
refuse "bad file name" "$TMP/r-badname" r-badname.db up
assert_contains "bad file name: names it" "$ERR" "abc_nonsense.sql"

base empty
put "$TMP/r-empty/003_empty.sql" '-- nothing here\n\n'
refuse "empty script" "$TMP/r-empty" r-empty.db up
assert_contains "empty script: names it" "$ERR" "003_empty.sql"

base nodown
put "$TMP/r-nodown/003_oneway.sql" 'CREATE TABLE oneway(x);\n'
"$STRATA" -q -d sqlite:r-nodown.db -m "$TMP/r-nodown" up
refuse "down without a down script" "$TMP/r-nodown" r-nodown.db down
assert_contains "down without a down script: names it" "$ERR" "003"
refuse "redo without a down script" "$TMP/r-nodown" r-nodown.db redo
assert_contains "redo without a down script: names it" "$ERR" "003"

# --------------------------------------------------------------- exit 4
# Hold the lock with a second strata process running a slow migration; the
# lock is an OFD lock on "<db>-strata-lock", so only strata can hold it.
put "$TMP/slow/001_slow.sql" 'CREATE TABLE slow(x);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 15000000) SELECT count(*) FROM c;\n'
bg "$STRATA" -v -d sqlite:lock.db -m "$TMP/slow" up >"$TMP/holder.out" 2>"$TMP/holder.err"
HOLDER=${BG_PIDS[-1]}
for _ in $(seq 200); do
    grep -q '\[1/1\] up' "$TMP/holder.err" 2>/dev/null && break
    sleep 0.05
done
assert_contains "lock holder is running its migration" "$(cat "$TMP/holder.err")" "[1/1] up 1 slow"
t0=$(date +%s%N)
assert_exit 4 "$STRATA" -d sqlite:lock.db -m "$TMP/slow" --lock-timeout 1 up
t1=$(date +%s%N)
assert_contains "lock timeout: message" "$ERR" "lock"
assert_match "lock timeout: hint" "$ERR" '^  hint: '
assert_empty "lock timeout: stdout empty" "$OUT"
ms=$(((t1 - t0) / 1000000))
assert_true "lock timeout waited about 1 s (took $ms ms)" test "$ms" -ge 900 -a "$ms" -lt 5000
assert_exit 4 "$STRATA" -d sqlite:lock.db -m "$TMP/slow" up --lock-timeout 0.2
assert_exit 0 "$STRATA" -d sqlite:lock.db -m "$TMP/slow" status
assert_contains "status needs no lock" "$OUT" "pending"
wait "$HOLDER"
assert_eq "lock holder finished fine" "0" "$?"
assert_eq "lock holder applied it" "1|applied" "$(tracked lock.db)"

# --------------------------------------------------------------- exit 5
assert_exit 5 "$STRATA" -d "sqlite:$TMP/no/such/dir/x.db" -m "$M" up
assert_error "nonexistent db directory" "$TMP/no/such/dir"
assert_true "nonexistent db directory: not created" test ! -e "$TMP/no"
put "$TMP/text.db" 'this is a text file, not a database\n'
assert_exit 5 "$STRATA" -d "sqlite:$TMP/text.db" -m "$M" up
assert_error "not a database" "text.db"
assert_exit 5 "$STRATA" -d "sqlite:$TMP/text.db" -m "$M" status
assert_eq "not a database: file untouched" "this is a text file, not a database" "$(cat "$TMP/text.db")"

# --------------------------------------------------------- error format, --json
put "$TMP/syn/001_syn.sql" 'CREATE TABLE s1(x);\n\n\nCREATE TABLE s2(x INT,, y);\n'
assert_exit 1 "$STRATA" -d sqlite:syn.db -m "$TMP/syn" up
assert_match "syntax error: strata: error: FILE:LINE: message" "$ERR" "^strata: error: $TMP/syn/001_syn.sql:4: "
assert_match "syntax error: hint line" "$ERR" '^  hint: '
assert_empty "syntax error: stdout empty" "$OUT"
assert_exit 1 "$STRATA" -d sqlite:syn.db -m "$TMP/syn" up --json
json_check "syntax error with --json: error object on stdout" "$OUT" '
e = d["error"]
assert e["code"] == "failed" and e["exit"] == 1, e
assert e["file"].endswith("001_syn.sql"), e
assert e["line"] == 4, e
assert e["version"] == "1", e
assert e["message"] and e["hint"], e'
assert_exit 2 "$STRATA" --json -d bogus:x status
json_check "usage error with --json" "$OUT" '
assert d["error"]["exit"] == 2, d
assert d["error"]["reason"] == "bad_url", d'
assert_exit 2 "$STRATA" status --json --nope
json_check "bad flag with --json" "$OUT" 'assert d["error"]["exit"] == 2 and "--nope" in d["error"]["message"], d'

finish
