#!/usr/bin/env bash
# catalogue.sh - a catalogue of bad inputs: flags, missing values, commands,
# URLs, files, names, scripts, database states, tracking-table and module
# names, symlinks and FIFOs. Each entry runs strata with --json and checks
#   - the exit status and the KIND of error: error.code and error.reason of
#     the JSON document (and error.exit = the exit status), written as
#     "EXIT/CODE/REASON" ("0/-/-" for a harmless success, "3/-/pending"
#     for status --check's own reason); a few entries
#     accept alternatives, as an extended regex;
#   - that nothing changed: the schema and every row of every table of the
#     SQLite file (and on PostgreSQL pg_dump plus every row), and the files
#     of the migrations directory;
#   - that it ends within 20 seconds (a hang is a failure).
# PostgreSQL entries run when STRATA_PG_URL is set. The number of entries is
# the last line.
. "$(dirname "$0")/rlib.sh"

cd "$TMP" || exit 1
chmod 0755 "$TMP" # the read-only entries run as nobody
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
ENTRIES=0
ENTRY_FAILS=0
WATCH=()   # more paths whose presence, type and bytes must not change
URL=""     # the database of the entries (set by setup / pg_setup)
PGMODE=0

# state: what must not change.
state() {
    if [ "$PGMODE" -eq 1 ]; then
        pg_state
    else
        sqlite_state "$DB"
    fi
    echo "== files"
    if [ -d "$D" ]; then
        find "$D" -printf '%P %y %s %l\n' 2>&1 | sort
    fi
    local w
    for w in "${WATCH[@]}"; do
        printf '%s: ' "$w"
        if [ -L "$w" ]; then
            echo "symlink to $(readlink "$w")"
        elif [ -f "$w" ]; then
            md5sum <"$w"
        elif [ -e "$w" ]; then
            stat -c '%F %s' "$w"
        else
            echo "absent"
        fi
    done
}

# setup NAME: a migrations directory $D with 001_base (up + down) applied
# to a fresh SQLite file $DB.
setup() {
    PGMODE=0
    WATCH=()
    D=$TMP/$1
    DB=$TMP/$1.db
    URL="sqlite:$DB"
    rm -rf "$D" "$DB" "$DB-strata-lock"
    put "$D/001_base.up.sql" 'CREATE TABLE base(x INTEGER);\nINSERT INTO base VALUES (1);\n'
    put "$D/001_base.down.sql" 'DROP TABLE base;\n'
    "$STRATA" -q -d "$URL" -m "$D" up || fail "setup $1" "up failed"
}

# entry NAME EXPECT [PREFIX... --] ARGS...: runs [PREFIX] strata --json -d
# $URL -m $D ARGS (with NOURL=1: without -d; with NODIR=1: without -m) and
# checks it as described at the top.
entry() {
    local name=$1 want=$2
    shift 2
    local pre=() a has_sep=0
    for a in "$@"; do [ "$a" = "--" ] && has_sep=1; done
    if [ "$has_sep" -eq 1 ]; then
        while [ "$1" != "--" ]; do
            pre+=("$1")
            shift
        done
        shift
    fi
    local base=(--json)
    [ -z "${NOURL:-}" ] && base+=(-d "$URL")
    [ -z "${NODIR:-}" ] && base+=(-m "$D")
    local before after got fails0=$FAILS
    before=$(state)
    capture timeout 20 "${pre[@]}" "$STRATA" "${base[@]}" "$@"
    ENTRIES=$((ENTRIES + 1))
    if [ "$RC" -eq 124 ]; then
        fail "$name: ends" "strata did not end within 20 seconds (hang)"
    fi
    json_errs
    if [ "$E_CODE" = "<none>" ]; then
        got="$RC/-/$E_REASON"
    else
        got="$RC/$E_CODE/$E_REASON"
        assert_eq "$name: error.exit = exit status" "$RC" "$E_EXIT"
        assert_match "$name: the error is also on stderr" "$ERR" '^strata: error: '
    fi
    if [[ "$got" =~ ^($want)$ ]]; then
        pass
    else
        fail "$name: exit/code/reason" "expected [$want], got [$got]; message: $(json_err message); stderr: [$(show "$ERR")]"
    fi
    after=$(state)
    assert_eq "$name: nothing changed" "$before" "$after"
    [ "$FAILS" -gt "$fails0" ] && ENTRY_FAILS=$((ENTRY_FAILS + 1))
}

# ====================================================== flags and commands
setup flags
entry "unknown global option" "2/usage/bad_option" --bogus up
entry "unknown command option" "2/usage/bad_option" up --frob
entry "option of another command" "2/usage/bad_option" redo --steps 2
entry "missing value: up --steps" "2/usage/bad_option" up --steps
entry "missing value: --table at the end" "2/usage/bad_option" up --table
entry "missing value: --module at the end" "2/usage/bad_option" status --module
entry "missing value: -d at the end" "2/usage/bad_option" up -d
entry "missing value: baseline VERSION" "2/usage/bad_option" baseline
entry "missing value: forget VERSION" "2/usage/bad_option" forget
entry "missing value: new NAME" "2/usage/bad_option" new
entry "--steps 0" "2/usage/bad_option" up --steps 0
entry "--steps -1" "2/usage/bad_option" up --steps -1
entry "--steps abc" "2/usage/bad_option" down --steps abc
entry "--steps 99999999999999999999" "2/usage/bad_option" up --steps 99999999999999999999
entry "--lock-timeout x" "2/usage/bad_option" --lock-timeout x up
entry "--lock-timeout -1" "2/usage/bad_option" --lock-timeout -1 up
entry "--log-format xml" "2/usage/bad_option" --log-format xml up
entry "history --limit x" "2/usage/bad_option" history --limit x
entry "no command" "2/usage/bad_option"
entry "unknown command" "2/usage/bad_option" frob
entry "help for an unknown command" "2/usage/bad_option" help frob
entry "unexpected argument" "2/usage/bad_option" up extra
entry "up --to with --steps" "2/usage/bad_option" up --to 1 --steps 1
entry "down --all with --steps" "2/usage/bad_option" down --all --steps 2
entry "baseline of a malformed version" "2/usage/bad_option" baseline abc
entry "new with a slash in the name" "2/usage/bad_option" new 'a/b'
entry "new with .. in the name" "2/usage/bad_option" new '../x'
entry "new with an empty name" "2/usage/bad_option" new ''
entry "--schema on SQLite" "2/usage/bad_option" --schema other up

# ====================================================== tracking table, module
entry "--table empty" "2/usage/bad_option" --table '' up
entry "--table with a tab" "2/usage/bad_option" --table "$(printf 'a\tb')" up
entry "--table of 300 characters" "2/usage/bad_option" --table "$(printf 't%.0s' $(seq 300))" up
entry "--table sqlite_x (reserved)" "2/usage/bad_option" --table sqlite_x up
entry "--module empty" "2/usage/bad_option" --module '' up
entry "--module with a newline" "2/usage/bad_option" --module "$(printf 'a\nb')" up
sql "$DB" 'CREATE TABLE y(z); INSERT INTO y VALUES (7);'
entry "--table 'x\"; DROP TABLE y; --': status reads harmlessly" "0/-/-" --table 'x"; DROP TABLE y; --' status
entry "--table 'my table': status reads harmlessly" "0/-/-" --table 'my table' status
entry "--module \"o'brien\": status reads harmlessly" "0/-/-" --module "o'brien" status
entry "--module with SQL in it: status reads harmlessly" "0/-/-" --module "a'); DROP TABLE y; --" status
put "$D/abc.sql" 'SELECT 1;\n' # a refusal under an odd table name
entry "--table 'x\"; DROP TABLE y; --': validate refused" "3/refused/bad_name" --table 'x"; DROP TABLE y; --' validate
entry "--table 'x\"; DROP TABLE y; --': up refused, nothing made" "3/refused/bad_name" --table 'x"; DROP TABLE y; --' up
rm -f "$D/abc.sql"

# ====================================================== URLs
setup urls
NOURL=1 entry "no URL at all" "2/usage/bad_url" up
NOURL=1 entry "empty URL" "2/usage/bad_url" -d '' up
NOURL=1 entry "http: URL" "2/usage/bad_url" -d http://example.com/db up
NOURL=1 entry "mysql: URL (not supported)" "2/usage/bad_url" -d mysql://u@h/db up
NOURL=1 entry "sqlite: with no file" "2/usage/bad_url" -d sqlite: up
NOURL=1 entry "a bare path, no scheme" "2/usage/bad_url" -d "$DB" up
NOURL=1 entry "postgres URL that does not parse" "2/usage/bad_url" -d 'postgresql://[::1' up
NOURL=1 entry "postgres URL with an unknown parameter" "2/usage/bad_url" -d 'postgresql://u@/db?host=/nonexistent&frobnicate=1' up
NOURL=1 entry "postgres socket that does not exist" "5/connect/null" -d 'postgresql://u@/db?host=/nonexistent&connect_timeout=2' up
mkdir -p "$TMP/adir.db"
NOURL=1 entry "sqlite URL naming a directory" "5/connect/(io|not_a_database)" -d "sqlite:$TMP/adir.db" up
NOURL=1 entry "sqlite:/// (the root directory)" "5/connect/(io|not_a_database)|2/usage/bad_url" -d 'sqlite:///' up
WATCH=("$TMP/text.db")
put "$TMP/text.db" 'just some text, not a database\n'
NOURL=1 entry "a text file as the database" "5/connect/not_a_database" -d "sqlite:$TMP/text.db" up
WATCH=("$TMP/random.db")
head -c 8192 /dev/urandom >"$TMP/random.db"
NOURL=1 entry "random bytes as the database" "5/connect/not_a_database" -d "sqlite:$TMP/random.db" status
WATCH=("$TMP/fifo.db")
mkfifo "$TMP/fifo.db"
NOURL=1 entry "a FIFO as the database" "5/connect/(io|not_a_database)" -d "sqlite:$TMP/fifo.db" up
WATCH=("$TMP/no")
NOURL=1 entry "database in a missing directory" "5/connect/io" -d "sqlite:$TMP/no/such/dir/x.db" up
WATCH=()

# read-only: a root-owned 0644 file in a 0755 directory, run as nobody
setup readonly
put "$D/002_more.sql" 'CREATE TABLE more(x);\n'
chmod 0755 "$D"
chmod 0644 "$DB" "$D"/*
entry "read-only database: up" "5/connect/read_only" "${NOBODY[@]}" -- up
entry "read-only database: down" "5/connect/read_only" "${NOBODY[@]}" -- down
entry "read-only database: baseline" "5/connect/read_only" "${NOBODY[@]}" -- baseline 2
setup unreadable
chmod 0000 "$D"
entry "unreadable migrations directory" "2/usage/io" "${NOBODY[@]}" -- status
chmod 0755 "$D"
chmod 0000 "$D/001_base.up.sql"
entry "unreadable up script" "2/usage/io" "${NOBODY[@]}" -- status
chmod 0644 "$D/001_base.up.sql"

# ====================================================== the migrations directory
setup dirs
NODIR=1 entry "missing migrations directory" "2/usage/io" -m "$TMP/nothing-here" up
NODIR=1 entry "migrations path is a file" "2/usage/io" -m "$D/001_base.up.sql" up
ln -s loop1 "$TMP/loop2"
ln -s loop2 "$TMP/loop1"
NODIR=1 entry "migrations directory is a symlink loop" "2/usage/io" -m "$TMP/loop1" up
ln -s 002_self.sql "$D/002_self.sql"
entry "a migration file that is a symlink loop" "2/usage/io|3/refused/bad_script" up
rm -f "$D/002_self.sql"
ln -s "$TMP/does-not-exist.sql" "$D/002_dangling.sql"
entry "a migration file that is a dangling symlink" "2/usage/io|3/refused/bad_script" up
rm -f "$D/002_dangling.sql"
mkfifo "$D/002_fifo.sql"
entry "a migration file that is a FIFO" "2/usage/io|3/refused/bad_script" up
rm -f "$D/002_fifo.sql"

# ====================================================== plan refusals
setup plan
printf 'SELECT 1;\n' >>"$D/001_base.up.sql"
entry "modified" "3/refused/modified" up
entry "modified: validate" "3/refused/modified" validate
entry "modified: down" "3/refused/modified" down
setup plan
rm "$D/001_base.up.sql" "$D/001_base.down.sql"
put "$D/002_next.sql" 'CREATE TABLE next(x);\n'
entry "missing" "3/refused/missing" up
setup plan
put "$D/003_third.sql" 'CREATE TABLE third(x);\n'
"$STRATA" -q -d "$URL" -m "$D" up
put "$D/002_late.sql" 'CREATE TABLE late(x);\n'
entry "out of order" "3/refused/out_of_order" up
setup plan
put "$D/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt(x);\nSELEC 1;\n'
"$STRATA" -q -d "$URL" -m "$D" up 2>/dev/null
put "$D/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE IF NOT EXISTS nt(x);\n'
entry "dirty" "3/refused/dirty" up
entry "dirty: down" "3/refused/dirty" down
setup plan
put "$D/002_a.sql" 'SELECT 1;\n'
put "$D/0002_b.sql" 'SELECT 2;\n'
entry "duplicate version (002 and 0002)" "3/refused/duplicate" up
setup plan
put "$D/002_m.sql" '-- strata:up\nCREATE TABLE m(x);\n-- strata:down\nDROP TABLE m;\n'
put "$D/002_m.down.sql" 'DROP TABLE m;\n'
entry "duplicate down (marker and file)" "3/refused/duplicate" up
for n in abc.sql 002.sql 002_.sql V2_x.sql 2x_y.sql V__x.sql -1_x.sql _2_x.sql; do
    setup plan
    put "$D/$n" 'SELECT 1;\n'
    entry "bad name '$n'" "3/refused/bad_name" up
done
setup plan
put "$D/002_b.down.sql" 'SELECT 1;\n'
entry "a down script without an up script" "3/refused/bad_name" up

# bad scripts: FILE CONTENT (printf %b) EXPECT
bad_script() {
    setup plan
    put "$D/$2" "$3"
    entry "$1" "$4" up
}
bad_script "zero-byte up script" 002_b.sql '' "3/refused/bad_script"
bad_script "comment-only up script" 002_b.sql '-- nothing\n/* here */\n' "3/refused/bad_script"
bad_script "whitespace-only up script" 002_b.sql ' \n\t\n' "3/refused/bad_script"
bad_script "NUL byte" 002_b.sql 'SELECT 1;\n\0SELECT 2;\n' "3/refused/bad_script"
bad_script "invalid UTF-8" 002_b.sql 'SELECT 1;\nSELECT "\xff\xfe";\n' "3/refused/bad_script"
bad_script "overlong UTF-8 encoding of /" 002_b.sql 'SELECT "\xc0\xaf";\n' "3/refused/bad_script"
bad_script "unknown directive (typo)" 002_b.sql '-- strata:no-transactio\nSELECT 1;\n' "3/refused/bad_script"
bad_script "unknown template" 002_b.sql 'CREATE TABLE {{tables.x}}(a);\nCREATE TABLE {{nope}}(x);\n' "3/refused/bad_template"
bad_script "marker: up after down" 002_b.sql '-- strata:down\nDROP TABLE b;\n-- strata:up\nCREATE TABLE b(x);\n' "3/refused/bad_script"
bad_script "marker: two up markers" 002_b.sql '-- strata:up\nCREATE TABLE b(x);\n-- strata:up\nSELECT 1;\n' "3/refused/bad_script"
bad_script "marker: two down markers" 002_b.sql '-- strata:up\nCREATE TABLE b(x);\n-- strata:down\nDROP TABLE b;\n-- strata:down\nSELECT 1;\n' "3/refused/bad_script"
bad_script "marker: down marker inside an .up.sql" 002_b.up.sql '-- strata:up\nCREATE TABLE b(x);\n-- strata:down\nDROP TABLE b;\n' "3/refused/bad_script"
bad_script "marker: nothing under up" 002_b.sql '-- strata:up\n-- strata:down\nDROP TABLE b;\n' "3/refused/bad_script"
bad_script "BEGIN in a transactional script" 002_b.sql 'BEGIN;\nCREATE TABLE b(x);\nCOMMIT;\n' "3/refused/bad_script"
bad_script "COMMIT in a transactional script" 002_b.sql 'CREATE TABLE b(x);\nCOMMIT;\n' "3/refused/bad_script"
bad_script "END TRANSACTION in a transactional script" 002_b.sql 'CREATE TABLE b(x);\nEND TRANSACTION;\n' "3/refused/bad_script"

setup plan
put "$D/002_nd.sql" 'CREATE TABLE nd(x);\n'
"$STRATA" -q -d "$URL" -m "$D" up
entry "down: no down script" "3/refused/no_down" down
setup plan
put "$D/002_ir.up.sql" 'CREATE TABLE ir(x);\n'
put "$D/002_ir.down.sql" '-- cannot be undone\n'
"$STRATA" -q -d "$URL" -m "$D" up
entry "down: comment-only down script (irreversible)" "3/refused/irreversible" down
put "$D/002_ir.down.sql" ''
entry "down: zero-byte down script (irreversible)" "3/refused/irreversible" down
setup plan
entry "up --to an unknown version" "3/refused/unknown_version" up --to 7
entry "down --to an unknown version" "3/refused/unknown_version" down --to 7
entry "forget an unknown version" "3/refused/unknown_version" forget 7
put "$D/002_p.sql" 'CREATE TABLE p(x);\n'
entry "status --check with a pending migration" "3/-/pending" status --check

# ====================================================== files strata creates
setup new
ln -s "$TMP/victim-new" "$D/002_b.up.sql"
WATCH=("$TMP/victim-new")
entry "new: a symlink at the target path" "3/refused/exists" new b
rm -f "$D/002_b.up.sql"
ln -s "$TMP/victim-new" "$D/002_b.sql"
entry "new --single-file: a symlink at the target path" "3/refused/exists" new b --single-file
rm -f "$D/002_b.sql"
mkdir "$D/002_b.down.sql"
entry "new: something in the way of the down file (no half-made pair)" "3/refused/exists" new b
rmdir "$D/002_b.down.sql"

setup embed
echo "do not touch" >"$TMP/victim-embed"
WATCH=("$TMP/victim-embed" "$TMP/out.c")
# Every temporary name embed may try (OUT.tmpPID.0 .. .99) is a symlink to
# the victim: it must not follow one, and gives up with an error.
capture bash -c '
    for i in $(seq 0 99); do ln -s "$1" "$2.tmp$$.$i"; done
    exec "$3" --json -d "$4" -m "$5" embed -o "$2"' _ \
    "$TMP/victim-embed" "$TMP/out.c" "$STRATA" "$URL" "$D"
ENTRIES=$((ENTRIES + 1))
json_errs
assert_eq "embed -o: every temp name a symlink: exit/code/reason" "2/usage/io" \
    "$RC/$E_CODE/$E_REASON"
assert_eq "embed -o: every temp name a symlink: victim untouched" "do not touch" "$(cat "$TMP/victim-embed")"
assert_true "embed -o: every temp name a symlink: no output file" test ! -e "$TMP/out.c"
rm -f "$TMP"/out.c.tmp*
entry "embed --symbol that is not a C identifier" "2/usage/bad_option" embed --symbol 1bad -o "$TMP/out.c"
entry "embed -o into a missing directory" "2/usage/io" embed -o "$TMP/no/such/out.c"
WATCH=()

# ====================================================== PostgreSQL
if [ "$HAVE_PG" -eq 1 ]; then
    # pg_setup NAME: $D with 001_base (up + down) applied to a fresh database
    pg_setup() {
        WATCH=()
        D=$TMP/pg-$1
        rm -rf "$D"
        new_db
        URL=$DBURL
        PGMODE=1
        put "$D/001_base.up.sql" 'CREATE TABLE base(x int);\nINSERT INTO base VALUES (1);\n'
        put "$D/001_base.down.sql" 'DROP TABLE base;\n'
        "$STRATA" -q -d "$URL" -m "$D" up || fail "pg setup $1" "up failed"
    }
    pg_bad_script() {
        pg_setup "$2"
        put "$D/$2" "$3"
        entry "postgresql: $1" "$4" up
    }
    pg_bad_script "CREATE INDEX CONCURRENTLY in a transactional script" 002_c.sql \
        'CREATE INDEX CONCURRENTLY base_x ON base(x);\n' "3/refused/bad_script"
    pg_bad_script "VACUUM in a transactional script" 002_v.sql 'VACUUM base;\n' "3/refused/bad_script"
    pg_bad_script "syntax error at plan time" 002_s.sql \
        'CREATE TABLE s(x int);\nSELEC 1;\n' "3/refused/bad_script"
    pg_bad_script "BEGIN/COMMIT in a transactional script" 002_b.sql \
        'BEGIN;\nCREATE TABLE b(x int);\nCOMMIT;\n' "3/refused/bad_script"
    pg_bad_script "ROLLBACK in a transactional script" 002_r.sql \
        'CREATE TABLE r(x int);\nROLLBACK;\n' "3/refused/bad_script"
    pg_bad_script "unknown template" 002_t.sql \
        'CREATE TABLE {{tables.t}}(x int);\nCREATE TABLE {{bogus}}(x int);\n' "3/refused/bad_template"
    pg_bad_script "NUL byte" 002_n.sql 'SELECT 1;\n\0SELECT 2;\n' "3/refused/bad_script"
    pg_setup modified
    printf 'SELECT 1;\n' >>"$D/001_base.up.sql"
    entry "postgresql: modified" "3/refused/modified" up
    pg_setup ooo
    put "$D/003_c.sql" 'CREATE TABLE c(x int);\n'
    "$STRATA" -q -d "$URL" -m "$D" up
    put "$D/002_b.sql" 'CREATE TABLE b(x int);\n'
    entry "postgresql: out of order" "3/refused/out_of_order" up
    pg_setup dirty
    put "$D/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt(x int);\nSELECT 1/0;\n'
    "$STRATA" -q -d "$URL" -m "$D" up 2>/dev/null
    put "$D/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE IF NOT EXISTS nt(x int);\n'
    entry "postgresql: dirty" "3/refused/dirty" up
    pg_setup nodown
    put "$D/002_nd.sql" 'CREATE TABLE nd(x int);\n'
    "$STRATA" -q -d "$URL" -m "$D" up
    entry "postgresql: down without a down script" "3/refused/no_down" down
    pg_setup options
    entry "postgresql: --schema of 70 characters" "2/usage/bad_option" --schema "$(printf 's%.0s' $(seq 70))" up
    entry "postgresql: --schema empty" "2/usage/bad_option" --schema '' up
    entry "postgresql: --table 'x\"; DROP TABLE base; --': status reads harmlessly" "0/-/-" \
        --table 'x"; DROP TABLE base; --' status
    entry "postgresql: --schema 'x\"; DROP TABLE base; --': status reads harmlessly" "0/-/-" \
        --schema 'x"; DROP TABLE base; --' status
    WRONG=${URL/strata:*@/strata:NotThePassword@}
    NOURL=1 entry "postgresql: wrong password" "5/connect/null" -d "$WRONG" status
    NOURL=1 entry "postgresql: no such database" "5/connect/null" -d "${URL/\/$DBNAME\?//no_such_db_$$?}" up
    NOURL=1 entry "postgresql: bad sslmode" "2/usage/bad_url" -d "$URL&sslmode=bogus" up
    PGMODE=0
fi

echo "$T_NAME: $CHECKS checks, $FAILS failed"
echo "entries failing: $ENTRY_FAILS"
echo "entries: $ENTRIES"
[ "$FAILS" -eq 0 ]
