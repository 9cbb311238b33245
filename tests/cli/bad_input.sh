#!/usr/bin/env bash
# bad_input.sh - every bad input gives the documented exit status, an error
# that names the file (and line where there is one), and leaves the database
# exactly as it was (schema, tracking rows and history compared before/after).
# Also: hard but valid scripts (a 50 MB script, trigger bodies, CRLF, ...).
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

# setup NAME: a migrations dir $TMP/NAME with 001_base (+down) applied to
# $TMP/NAME.db. Sets D (dir) and DB (file).
setup() {
    D=$TMP/$1
    DB=$TMP/$1.db
    rm -rf "$D" "$DB"
    put "$D/001_base.up.sql" 'CREATE TABLE base(x INTEGER);\nINSERT INTO base VALUES (1);\n'
    put "$D/001_base.down.sql" 'DROP TABLE base;\n'
    "$STRATA" -q -d "sqlite:$DB" -m "$D" up || fail "setup $1" "up failed"
}

# expect NAME CODE NEEDLE [ARGS...]: runs strata ARGS (default: up) on $DB
# with $D; checks exit CODE, a well-formed error naming NEEDLE, and an
# unchanged database.
expect() {
    local name=$1 code=$2 needle=$3
    shift 3
    [ $# -eq 0 ] && set -- up
    local before
    before=$(snapshot "$DB")
    CHECK="$name: exit $code" assert_exit "$code" "$STRATA" -d "sqlite:$DB" -m "$D" "$@"
    assert_error "$name" "$needle"
    assert_eq "$name: database unchanged" "$before" "$(snapshot "$DB")"
}

# ------------------------------------------------ syntax error in statement 3
setup syntax
put "$D/002_three.sql" 'CREATE TABLE s1(x);\nINSERT INTO base VALUES (2);\n\n-- the third statement is broken\nCREATE TABLE s3 (x INTEGER,\n  y TEXT NOT NULL,\n  PRIMARY KEY (x,),\n  z INTEGER);\n'
expect "syntax error in the 3rd statement" 1 "$D/002_three.sql:7:"
assert_contains "syntax error: database message" "$ERR" "syntax error"
assert_eq "syntax error: statement 1 rolled back" "" "$(sql "$DB" "SELECT name FROM sqlite_master WHERE name='s1'")"
assert_eq "syntax error: statement 2 rolled back" "1" "$(sql "$DB" 'SELECT count(*) FROM base')"
assert_exit 1 "$STRATA" -d "sqlite:$DB" -m "$D" up --json
json_check "syntax error: statement_line is where statement 3 starts" "$OUT" '
e = d["error"]
assert e["line"] == 7 and e["statement_line"] == 5 and e["file"].endswith("002_three.sql"), e'

# a runtime error (not syntax) in statement 3
setup runtime
put "$D/002_rt.sql" 'CREATE TABLE r1(x);\nINSERT INTO base VALUES (2);\nINSERT INTO r1 SELECT * FROM no_such_table;\n'
expect "runtime error in the 3rd statement" 1 "$D/002_rt.sql:3:"
assert_contains "runtime error: database message" "$ERR" "no such table: no_such_table"

# a constraint failure in a later migration: the earlier ones stay
setup later
put "$D/002_ok.sql" 'CREATE TABLE ok2(x);\n'
put "$D/003_fk.sql" 'CREATE TABLE u(id INTEGER PRIMARY KEY);\nINSERT INTO u VALUES (1);\nINSERT INTO u VALUES (1);\n'
assert_exit 1 "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_contains "constraint failure: names FILE:LINE" "$ERR" "$D/003_fk.sql:3:"
assert_contains "constraint failure: database message" "$ERR" "UNIQUE constraint failed"
assert_eq "constraint failure: 002 applied, 003 not" "1|applied
2|applied" "$(tracked "$DB")"
assert_eq "constraint failure: u rolled back" "" "$(sql "$DB" "SELECT name FROM sqlite_master WHERE name='u'")"

# ------------------------------------------------------------ the file set
setup dup
put "$D/002_a.sql" 'CREATE TABLE a(x);\n'
put "$D/2_b.sql" 'CREATE TABLE b(x);\n'
expect "duplicate versions 002_a + 2_b" 3 "2_b.sql"
assert_contains "duplicate versions: names both files" "$ERR" "002_a.sql"
assert_exit 3 "$STRATA" -d "sqlite:$DB" -m "$D" status
assert_exit 3 "$STRATA" -d "sqlite:$DB" -m "$D" validate

setup dup1
put "$D/1_other.sql" 'CREATE TABLE other(x);\n'
expect "duplicate of an applied version (001_base + 1_other)" 3 "1_other.sql"

for bad in abc.sql 1a_x.sql 001.sql V1_x.sql; do
    setup badname
    put "$D/$bad" 'CREATE TABLE z(x);\n'
    expect "unparseable name $bad" 3 "$bad"
done
setup ignored
put "$D/README.md" '# notes\n'
put "$D/notes.txt" 'not sql\n'
put "$D/002_real.sql" 'CREATE TABLE real2(x);\n'
assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_eq "non-.sql files are ignored" "1|applied
2|applied" "$(tracked "$DB")"

setup empty
put "$D/002_empty.sql" ''
expect "zero-byte up script" 3 "002_empty.sql"
setup empty2
put "$D/002_empty.sql" '\n\n   \n'
expect "whitespace-only up script" 3 "002_empty.sql"
setup comments
put "$D/002_comments.sql" '-- nothing to do yet\n/* a block\n   comment; with a semicolon */\n-- done\n'
expect "comment-only up script" 3 "002_comments.sql"
setup emptyup
put "$D/002_e.up.sql" '-- up\n'
put "$D/002_e.down.sql" 'DROP TABLE IF EXISTS e;\n'
expect "comment-only .up.sql with a down" 3 "002_e.up.sql"
setup semis
put "$D/002_semis.sql" ';\n;;\n'
expect "up script of bare semicolons" 3 "002_semis.sql"

setup nodown
put "$D/002_oneway.sql" 'CREATE TABLE oneway(x);\n'
"$STRATA" -q -d "sqlite:$DB" -m "$D" up
expect "down with no down script" 3 "002_oneway.sql" down
expect "down --all with no down script on the newest" 3 "002_oneway" down --all
setup emptydown
put "$D/002_ed.up.sql" 'CREATE TABLE ed(x);\n'
put "$D/002_ed.down.sql" '-- irreversible\n'
"$STRATA" -q -d "sqlite:$DB" -m "$D" up
expect "down with a comment-only down script" 3 "002_ed.down.sql" down
expect "redo with a comment-only down script" 3 "002_ed" redo
setup orphan
put "$D/002_x.down.sql" 'DROP TABLE x;\n'
expect "down script without an up script" 3 "002_x.down.sql"

# --------------------------------------------------- against the tracking table
setup modified
printf -- '-- edited after it was applied\n' >>"$D/001_base.up.sql"
expect "checksum mismatch" 3 "001_base.up.sql"
assert_contains "checksum mismatch: suggests repair or restore" "$ERR" "repair"
expect "checksum mismatch blocks down too" 3 "001_base" down
setup crlf
sed -i 's/$/\r/' "$D/001_base.up.sql"
assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$D" status --json
json_check "CRLF-only change is not a modification (checksums are CRLF-tolerant)" "$OUT" 'assert d["migrations"][0]["state"] == "applied", d'

setup missing
put "$D/002_gone.sql" 'CREATE TABLE gone(x);\n'
"$STRATA" -q -d "sqlite:$DB" -m "$D" up
rm "$D/002_gone.sql"
put "$D/003_new.sql" 'CREATE TABLE new3(x);\n'
expect "missing file for an applied version" 3 "2"
assert_contains "missing: names the version and name" "$ERR" "gone"

setup ooo
put "$D/003_c.sql" 'CREATE TABLE c(x);\n'
"$STRATA" -q -d "sqlite:$DB" -m "$D" up
put "$D/002_late.sql" 'CREATE TABLE late(x);\n'
expect "out-of-order file" 3 "002_late.sql"

# ------------------------------------------------------------ unreadable things
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 0755 "$TMP"
setup unreadable
chmod 0777 "$D"
chmod 0666 "$DB" "$DB-strata-lock"
mkdir -p "$TMP/locked"
cp "$D"/* "$TMP/locked/"
chmod 0000 "$TMP/locked"
before=$(snapshot "$DB")
assert_exit 2 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$TMP/locked" up
assert_error "unreadable migrations directory" "$TMP/locked"
assert_eq "unreadable migrations directory: database unchanged" "$before" "$(snapshot "$DB")"
chmod 0755 "$TMP/locked"
chmod 0000 "$TMP/locked/001_base.up.sql"
put "$TMP/locked/002_more.sql" 'CREATE TABLE more(x);\n'
chmod 0644 "$TMP/locked/002_more.sql"
assert_exit 2 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$TMP/locked" up
assert_contains "unreadable script: named" "$ERR" "001_base.up.sql"
assert_eq "unreadable script: database unchanged" "$before" "$(snapshot "$DB")"

assert_exit 5 "$STRATA" -d "sqlite:$TMP/does/not/exist/x.db" -m "$D" up
assert_error "nonexistent db directory" "$TMP/does/not/exist"
assert_true "nonexistent db directory: nothing created" test ! -e "$TMP/does"
assert_exit 5 "$STRATA" -d "sqlite:$TMP/does/not/exist/x.db" -m "$D" status

put "$TMP/text.db" 'SQLite format 2? no, just text\n'
cp "$TMP/text.db" "$TMP/text.orig"
assert_exit 5 "$STRATA" -d "sqlite:$TMP/text.db" -m "$D" up
assert_error "a file that is not SQLite" "text.db"
assert_true "not SQLite: file untouched" cmp -s "$TMP/text.db" "$TMP/text.orig"
head -c 8192 /dev/urandom >"$TMP/random.db"
assert_exit 5 "$STRATA" -d "sqlite:$TMP/random.db" -m "$D" up
assert_error "random bytes as a database" "random.db"
# a damaged schema (a table whose CREATE no longer parses) and a file from a
# newer SQLite (schema format 5): unusable databases (exit 5), for every
# command, the file untouched, not "a failed statement"
sql "$TMP/bad-schema.db" 'CREATE TABLE a(x); PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = '"'"'CREATE TABLE a('"'"' WHERE name = '"'"'a'"'"';'
cp "$TMP/bad-schema.db" "$TMP/bad-schema.orig"
for cmd in up status current validate; do
    assert_exit 5 "$STRATA" -d "sqlite:$TMP/bad-schema.db" -m "$D" $cmd
    assert_error "damaged schema: $cmd" "bad-schema.db"
    assert_contains "damaged schema: $cmd says why" "$ERR" "malformed database schema"
done
assert_true "damaged schema: file untouched" cmp -s "$TMP/bad-schema.db" "$TMP/bad-schema.orig"
sql "$TMP/newer.db" 'CREATE TABLE a(x);'
printf '\x00\x00\x00\x05' | dd of="$TMP/newer.db" bs=1 seek=44 conv=notrunc status=none
assert_exit 5 "$STRATA" -d "sqlite:$TMP/newer.db" -m "$D" up
assert_contains "schema format 5: says why" "$ERR" "unsupported file format"
mkdir -p "$TMP/adir.db"
assert_exit 5 "$STRATA" -d "sqlite:$TMP/adir.db" -m "$D" up
assert_match "a directory as the database: error" "$ERR" '^strata: error: '

# read-only database: root-owned 0644 file in a 0755 directory, run as nobody
setup readonly
put "$D/002_more.sql" 'CREATE TABLE more(x);\n'
chmod 0755 "$D"
chmod 0644 "$DB" "$D"/*
rm -f "$DB-strata-lock"
before=$(snapshot "$DB")
assert_exit 5 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_error "read-only database: up" "read-only"
assert_eq "read-only database: unchanged" "$before" "$(snapshot "$DB")"
assert_exit 0 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$D" status
assert_match "read-only database: status works" "$OUT" '^2 +more +pending'
assert_exit 0 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$D" current
assert_eq "read-only database: current works" "1" "$OUT"
assert_exit 5 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$D" down
assert_contains "read-only database: down" "$ERR" "read-only"
"$STRATA" -q -d "sqlite:$DB" -m "$D" status >/dev/null # root made the lock file
chmod 0644 "$DB-strata-lock" 2>/dev/null
assert_exit 5 "${NOBODY[@]}" "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_contains "read-only database with an existing lock file" "$ERR" "read-only"
assert_eq "read-only database: still unchanged" "$before" "$(snapshot "$DB")"

# ------------------------------------------------------------ bad bytes
setup utf8
put "$D/002_latin1.sql" "CREATE TABLE l(x);\nINSERT INTO l VALUES ('caf\\xe9');\n"
expect "invalid UTF-8" 3 "002_latin1.sql:2:"
setup utf8b
put "$D/002_trunc.sql" "CREATE TABLE l(x);\n\n\nINSERT INTO l VALUES ('\\xe2\\x82');\n"
expect "truncated UTF-8 sequence" 3 "002_trunc.sql:4:"
setup surrogate
put "$D/002_sur.sql" "-- \\xed\\xa0\\x80 is a surrogate\nCREATE TABLE l(x);\n"
expect "UTF-8-encoded surrogate" 3 "002_sur.sql:1:"
setup nul
put "$D/002_nul.sql" "CREATE TABLE n(x);\n\nINSERT INTO n VALUES ('a\\x00b');\n"
expect "NUL byte" 3 "002_nul.sql:3:"
setup utf16
printf 'CREATE TABLE w(x);\n' | iconv -f UTF-8 -t UTF-16LE >"$D/002_utf16.sql"
expect "UTF-16 script" 3 "002_utf16.sql"
setup baddown
put "$D/001_base.down.sql" "DROP TABLE base; -- \\xff\n"
expect "invalid UTF-8 in a down script" 3 "001_base.down.sql:1:" down
setup goodutf8
put "$D/002_utf8.sql" "\\xef\\xbb\\xbfCREATE TABLE caf\\xc3\\xa9(\\xe2\\x82\\xac TEXT);\nINSERT INTO caf\\xc3\\xa9 VALUES ('\\xf0\\x9f\\x98\\x80');\n"
assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_eq "valid UTF-8 with a BOM applies" $'\xf0\x9f\x98\x80' "$(sql "$DB" "SELECT * FROM caf"$'\xc3\xa9')"

# ------------------------------------------------------------- hard but valid
setup valid
put "$D/002_trigger.sql" 'CREATE TABLE log(msg TEXT);\nCREATE TABLE item(id INTEGER);\nCREATE TRIGGER item_ins AFTER INSERT ON item BEGIN\n  INSERT INTO log VALUES (\x27added; really\x27);\n  INSERT INTO log VALUES (\x27second\x27);\nEND;\nINSERT INTO item VALUES (1)'
put "$D/003_strings.sql" "CREATE TABLE s(v TEXT); -- a comment; with semicolon\nINSERT INTO s VALUES ('a;b'), ('it''s'), (\"x\" = 'y');\n/* ; */ INSERT INTO s VALUES (';');\n"
printf 'CREATE TABLE crlf(x);\r\nINSERT INTO crlf VALUES (1);\r\n' >"$D/004_crlf.sql"
assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$D" up
assert_eq "trigger body with ; and no final ; ran" "added; really|second" "$(sql "$DB" "SELECT group_concat(msg, '|') FROM log")"
assert_eq "semicolons in strings and comments" "4" "$(sql "$DB" 'SELECT count(*) FROM s')"
assert_eq "CRLF script" "1" "$(sql "$DB" 'SELECT count(*) FROM crlf')"
# Transaction control inside a transactional script. strata runs each
# migration in its own transaction with its tracking row, so a script that
# would end that transaction itself is refused before anything runs.
setup tx
put "$D/002_begin.sql" 'BEGIN;\nCREATE TABLE inner_tx(x);\nCOMMIT;\n'
expect "explicit BEGIN in a transactional script" 3 "002_begin.sql:1:"

setup commitfail
put "$D/002_commit.sql" 'CREATE TABLE y(x);\nCOMMIT;\nCREATE TABLE z(x);\nSELECT * FROM no_such_table;\n'
expect "stray COMMIT then a failing statement: refused, no trace" 3 "002_commit.sql:2:"

setup commitok
put "$D/002_commit.sql" 'CREATE TABLE y(x);\nCOMMIT;\nCREATE TABLE z(x);\n'
before=$(snapshot "$DB")
capture "$STRATA" -d "sqlite:$DB" -m "$D" up
if [ "$RC" -eq 0 ]; then
    assert_eq "stray COMMIT, exit 0: migration tracked as applied" "1|applied
2|applied" "$(tracked "$DB")"
else
    assert_contains "stray COMMIT, exit $RC: names the file" "$ERR" "002_commit.sql"
    assert_eq "stray COMMIT, exit $RC: database unchanged (not half-applied, not tracked)" "$before" "$(snapshot "$DB")"
fi

# ------------------------------------------------------------ 50 MB script
setup big
"$PYTHON" - "$D/002_big.sql" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("CREATE TABLE big(id INTEGER PRIMARY KEY, pad TEXT);\n")
    pad = "x" * 80
    i = 0
    while f.tell() < 50 * 1024 * 1024:
        i += 1
        f.write("INSERT INTO big VALUES (%d, '%s');\n" % (i, pad))
EOF
rows=$(grep -c '^INSERT' "$D/002_big.sql")
lines=$(wc -l <"$D/002_big.sql")
t0=$(date +%s)
assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$D" up
t1=$(date +%s)
assert_eq "50 MB script: every row" "$rows" "$(sql "$DB" 'SELECT count(*) FROM big')"
assert_true "50 MB script: within 60 s (took $((t1 - t0)) s)" test $((t1 - t0)) -le 60
assert_eq "50 MB script: checksum" "$(sha256sum "$D/002_big.sql" | cut -d' ' -f1)" \
    "$(sql "$DB" "SELECT checksum FROM strata_migrations WHERE version='2'")"
# the same size with an error on its last line: the line number is exact
setup bigfail
sed "s/^CREATE TABLE big/CREATE TABLE big2/; s/INSERT INTO big /INSERT INTO big2 /" "$TMP/big/002_big.sql" >"$D/002_big.sql"
printf 'INSERT INTO big2 VALUES (0, oops);\n' >>"$D/002_big.sql"
expect "error on the last line of a 50 MB script" 1 "002_big.sql:$((lines + 1)):"
rm -rf "$TMP/big" "$TMP/bigfail" "$TMP/big.db" "$TMP/bigfail.db"

finish
