#!/usr/bin/env bash
# security.sh - what strata does with hostile input:
#   - identifiers from options (--table, --schema, --module) are quoted: SQL
#     in them creates no extra object and drops nothing; values are bound: a
#     module name with quotes round-trips exactly;
#   - no user string reaches a shell: src/ and cli/ call no system(),
#     popen(), exec*(), posix_spawn() or fork() (a static check);
#   - files strata creates never follow a symlink and never overwrite: new,
#     embed -o (its temporary file and its target), and the SQLite lock file
#     <db>-strata-lock;
#   - PostgreSQL (when STRATA_PG_URL is set): the password appears in no
#     output of a failing run, with -v, -vv, --json and --log-format json.
. "$(dirname "$0")/rlib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TMP" || exit 1

INJ_TABLE='x"; DROP TABLE y; --'
INJ_MODULE="a'); DROP TABLE y; --"
QUOTED_MODULE="o'brien \"the\" ''module''"

# ================================================= no shell, no exec (static)
calls=$(grep -rnE '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|fexecve|posix_spawnp?|fork|vfork|wordexp)[[:space:]]*\(' \
    "$SRC/src" "$SRC/cli" --include='*.c' --include='*.h' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)')
assert_empty "src/ and cli/ start no process (system, popen, exec*, spawn, fork)" "$calls"
assert_true "the static check sees the sources" test -f "$SRC/src/runner.c" -a -f "$SRC/cli/main.c"

# ================================================= SQLite: quoted identifiers
M=$TMP/m
put "$M/001_one.up.sql" 'CREATE TABLE one(x);\nINSERT INTO one VALUES (1);\n'
put "$M/001_one.down.sql" 'DROP TABLE one;\n'
put "$M/002_two.up.sql" 'CREATE TABLE {{tables.two}}(x);\n'
put "$M/002_two.down.sql" 'DROP TABLE {{tables.two}};\n'
DB=$TMP/inj.db
sql "$DB" 'CREATE TABLE y(z); INSERT INTO y VALUES (42);'

CHECK="sqlite: up with --table '$INJ_TABLE'" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --table "$INJ_TABLE" up
assert_eq "sqlite: injected --table: y still there with its row" "42" "$(sql "$DB" 'SELECT z FROM y')"
assert_eq "sqlite: injected --table: exactly the expected tables" \
    "one
two
$INJ_TABLE
${INJ_TABLE}_history
y" "$(sql "$DB" "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")"
assert_eq "sqlite: injected --table: no other object (index, view, trigger)" \
    "" \
    "$(sql "$DB" "SELECT name FROM sqlite_schema WHERE type <> 'table' ORDER BY name")"
assert_eq "sqlite: injected --table: tracking rows in it" "1|applied
2|applied" "$(sql "$DB" "SELECT version || '|' || state FROM \"x\"\"; DROP TABLE y; --\" ORDER BY version")"
CHECK="sqlite: status with the injected --table" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --table "$INJ_TABLE" status --json
json_check "sqlite: status with the injected --table sees both applied" "$OUT" "
assert [m['state'] for m in d['migrations']] == ['applied', 'applied'], d"
CHECK="sqlite: down --all with the injected --table" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --table "$INJ_TABLE" down --all
assert_eq "sqlite: after down --all: y intact, migrations' tables gone" \
    "$INJ_TABLE
${INJ_TABLE}_history
y" "$(sql "$DB" "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")"

# values are bound: module names with quotes and SQL round-trip exactly
for mod in "$INJ_MODULE" "$QUOTED_MODULE"; do
    CHECK="sqlite: up with --module [$mod]" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --module "$mod" up --json
    json_check "sqlite: --module [$mod] round-trips in up --json" "$OUT" "
assert d['module'] == $(printf '%s' "$mod" | "$PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read()))'), d['module']"
    CHECK="sqlite: history with --module [$mod]" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --module "$mod" history --json
    assert_contains "sqlite: history --json names the module" "$OUT" "$(printf '%s' "$mod" | "$PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read())[1:-1])')"
    CHECK="sqlite: down --all with --module [$mod]" assert_exit 0 "$STRATA" -d "sqlite:$DB" -m "$M" --module "$mod" down --all
done
assert_eq "sqlite: the modules are stored exactly as given" \
    "$(printf '%s\n' "$INJ_MODULE" "$QUOTED_MODULE" | sort)" \
    "$(sql "$DB" 'SELECT DISTINCT module FROM strata_migrations_history' | sort)"
assert_eq "sqlite: y survived every module name" "42" "$(sql "$DB" 'SELECT z FROM y')"

# ================================================= files: never follow, never overwrite
echo "victim: keep me" >"$TMP/victim"
VICTIM_SUM=$(md5sum <"$TMP/victim")
victim_intact() {
    assert_eq "$1: the symlink's target is untouched" "$VICTIM_SUM" "$(md5sum <"$TMP/victim")"
}

# new: a symlink at a path it would create. (A symlink to an existing file
# named like a migration would count as that migration, so these point at
# nothing: following one would create its target.)
N=$TMP/new
put "$N/0001_first.up.sql" 'CREATE TABLE first(x);\n'
put "$N/0001_first.down.sql" 'DROP TABLE first;\n'
# new_refused LINK [NEW OPTIONS...]: a dangling symlink at $N/LINK
new_refused() {
    local link=$1
    shift
    rm -f "$TMP/made-through-link"
    ln -s "$TMP/made-through-link" "$N/$link"
    CHECK="new: a symlink at $link: refused (exit 3)" assert_exit 3 "$STRATA" -m "$N" new second "$@"
    assert_true "new: nothing created through the symlink at $link" test ! -e "$TMP/made-through-link"
    assert_true "new: the symlink at $link is left alone" test -L "$N/$link"
    rm -f "$N/$link"
    assert_eq "new: no file left behind after the refusal at $link" \
        "0001_first.down.sql
0001_first.up.sql" "$(ls "$N")"
}
new_refused 0002_second.up.sql
new_refused 0002_second.down.sql
new_refused 0002_second.sql --single-file
CHECK="new: works once the way is clear" assert_exit 0 "$STRATA" -m "$N" new second
assert_true "new: made regular files" test -f "$N/0002_second.up.sql" -a ! -L "$N/0002_second.up.sql"
CHECK="new: never overwrites: the same timestamp twice" assert_exit 0 "$STRATA" -m "$N" new third --timestamp
ts_files=("$N"/*_third*)
echo "edited" >"${ts_files[0]}"
sum_before=$(cat "${ts_files[@]}")
capture "$STRATA" -m "$N" new third --timestamp
ts_now=("$N"/*_third*)
if [ "$RC" -eq 3 ] || [ "${#ts_now[@]}" -eq 4 ]; then
    pass # refused (same second), or a new timestamp (next second)
else
    fail "new: --timestamp twice" "exit $RC, files: ${ts_now[*]}"
fi
assert_eq "new: the first timestamped files are untouched" "$sum_before" \
    "$(cat "${ts_files[@]}")"

# embed -o: a symlink at the first temporary name (OUT.tmpPID.0) is skipped,
# never written through; a symlink at OUT itself is replaced, not followed
E=$TMP/emb
rm -f "$TMP/out.c"
capture bash -c 'ln -s "$1" "$2.tmp$$.0"; exec "$3" -m "$4" embed -o "$2"' _ \
    "$TMP/victim" "$TMP/out.c" "$STRATA" "$M"
assert_eq "embed -o: symlink at the temp path: exit" "0" "$RC"
victim_intact "embed -o (symlink at the temp path)"
assert_true "embed -o: output written as a regular file" test -f "$TMP/out.c" -a ! -L "$TMP/out.c"
assert_contains "embed -o: output holds the migrations" "$(cat "$TMP/out.c")" "001_one.up.sql"
rm -f "$TMP"/out.c.tmp*
rm -f "$TMP/out.c"
ln -s "$TMP/victim" "$TMP/out.c"
CHECK="embed -o onto a symlink" assert_exit 0 "$STRATA" -m "$M" embed -o "$TMP/out.c"
victim_intact "embed -o (OUT is a symlink)"
assert_true "embed -o: the symlink was replaced by a regular file" test -f "$TMP/out.c" -a ! -L "$TMP/out.c"
mkdir -p "$E"
: >"$E/keep"

# the SQLite lock file: a symlink planted at <db>-strata-lock
L=$TMP/lockdb.db
ln -s "$TMP/victim" "$L-strata-lock"
capture "$STRATA" --json -d "sqlite:$L" -m "$M" up
victim_intact "sqlite lock file (symlink planted at <db>-strata-lock)"
assert_true "sqlite lock file: the symlink is still a symlink" test -L "$L-strata-lock"
json_errs
assert_eq "sqlite lock file symlink: refused as a connect error (exit/code/reason)" \
    "5/connect/io" "$RC/$E_CODE/$E_REASON"
assert_contains "sqlite lock file symlink: the error names the lock file" "$ERR" "$L-strata-lock"
assert_eq "sqlite lock file symlink: no migration ran" "" \
    "$(sql "$L" "SELECT name FROM sqlite_schema WHERE name = 'one'" 2>/dev/null)"
LOCK_SYMLINK_RESULT="exit $RC ($E_CODE/$E_REASON): $(printf '%s' "$ERR" | head -n 1)"
# a dangling symlink there: nothing is created at its target
rm "$L-strata-lock"
ln -s "$TMP/lock-target-made" "$L-strata-lock"
capture "$STRATA" -d "sqlite:$L" -m "$M" up
assert_true "sqlite lock file: nothing created through a dangling symlink" test ! -e "$TMP/lock-target-made"
assert_ne "sqlite lock file: a dangling symlink there is not accepted" "0" "$RC"
rm "$L-strata-lock"
# a hard link there (a symlink check cannot see it): opened but never
# written or truncated
ln "$TMP/victim" "$L-strata-lock"
CHECK="sqlite lock file: a hard link there" assert_exit 0 "$STRATA" -d "sqlite:$L" -m "$M" up
victim_intact "sqlite lock file (hard link planted at <db>-strata-lock)"
rm "$L-strata-lock"

# ================================================= PostgreSQL
PG_RUNS=0
if [ "$HAVE_PG" -eq 1 ]; then
    new_db
    q 'CREATE TABLE y(z int); INSERT INTO y VALUES (42);'
    objects() {
        q "SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           ORDER BY 1"
        q "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'
           AND nspname <> 'information_schema' ORDER BY 1"
        q "SELECT 'function ' || proname FROM pg_proc p JOIN pg_namespace n
           ON n.oid = p.pronamespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    }
    P=$TMP/pgm
    put "$P/001_one.up.sql" 'CREATE TABLE {{schema}}.one(x int);\nINSERT INTO one VALUES (1);\n'
    put "$P/001_one.down.sql" 'DROP TABLE {{schema}}.one;\n'
    INJ_SCHEMA='s"; DROP TABLE public.y; --'
    CHECK="pg: up with injected --table, --schema and --module" assert_exit 0 \
        "$STRATA" -d "$DBURL" -m "$P" --table "$INJ_TABLE" --schema "$INJ_SCHEMA" --module "$INJ_MODULE" up
    assert_eq "pg: y intact" "42" "$(q 'SELECT z FROM public.y')"
    got=$(objects)
    assert_eq "pg: exactly the expected objects" "$(sort <<EOF2
public.y:r
$INJ_SCHEMA.one:r
$INJ_SCHEMA.$INJ_TABLE:r
$INJ_SCHEMA.${INJ_TABLE}_digest:r
$INJ_SCHEMA.${INJ_TABLE}_digest_pkey:i
$INJ_SCHEMA.${INJ_TABLE}_history:r
$INJ_SCHEMA.${INJ_TABLE}_history_id_seq:S
$INJ_SCHEMA.${INJ_TABLE}_history_pkey:i
$INJ_SCHEMA.${INJ_TABLE}_pkey:i
EOF2
)
schema public
schema $INJ_SCHEMA" "$(printf '%s\n' "$got" | grep -v '^function ')"
    assert_empty "pg: no function was created" "$(printf '%s\n' "$got" | grep '^function ')"
    INJ_T="\"s\"\"; DROP TABLE public.y; --\".\"x\"\"; DROP TABLE y; --\""
    INJ_CACHE="\"s\"\"; DROP TABLE public.y; --\".\"x\"\"; DROP TABLE y; --_digest\""
    # Storing is opportunistic (a transaction open elsewhere in the cluster
    # defers it), so this asks only that what is there is the module's.
    assert_eq "pg: the digest cache holds the module's row, if any" "0" \
        "$(q "SELECT count(*) FROM $INJ_CACHE WHERE module IS DISTINCT FROM (SELECT DISTINCT module FROM $INJ_T)")"
    q "UPDATE $INJ_T SET applied_by = applied_by" >/dev/null
    CHECK="pg: up again with those names, the cache stale" assert_exit 0 \
        "$STRATA" -d "$DBURL" -m "$P" --table "$INJ_TABLE" --schema "$INJ_SCHEMA" --module "$INJ_MODULE" up
    assert_eq "pg: and the cache still holds only the module's row" "0" \
        "$(q "SELECT count(*) FROM $INJ_CACHE WHERE module IS DISTINCT FROM (SELECT DISTINCT module FROM $INJ_T)")"
    assert_eq "pg: y still intact" "42" "$(q 'SELECT z FROM public.y')"
    assert_eq "pg: the module is stored exactly" "$INJ_MODULE" \
        "$(q "SELECT DISTINCT module FROM $INJ_T")"
    CHECK="pg: down with the same options" assert_exit 0 \
        "$STRATA" -d "$DBURL" -m "$P" --table "$INJ_TABLE" --schema "$INJ_SCHEMA" --module "$INJ_MODULE" down
    assert_eq "pg: y intact after down" "42" "$(q 'SELECT z FROM public.y')"
    CHECK="pg: quoted module round-trips" assert_exit 0 \
        "$STRATA" -d "$DBURL" -m "$P" --module "$QUOTED_MODULE" up --json
    json_check "pg: quoted module in up --json" "$OUT" "
assert d['module'] == $(printf '%s' "$QUOTED_MODULE" | "$PYTHON" -c 'import json,sys; print(json.dumps(sys.stdin.read()))'), d['module']"
    assert_eq "pg: quoted module stored exactly" "$QUOTED_MODULE" "$(q 'SELECT DISTINCT module FROM strata_migrations')"

    # ------------------------------------------- the password in failing runs
    PW=${STRATA_PG_URL#*://*:}
    PW=${PW%%@*}
    if [ "${#PW}" -lt 8 ] || [ "$PW" = "$STRATA_PG_URL" ]; then
        fail "pg: password" "STRATA_PG_URL has no password of 8+ characters to look for"
    else
        new_db
        F=$TMP/pgfail
        put "$F/001_ok.sql" 'CREATE TABLE ok(x int);\n'
        "$STRATA" -q -d "$DBURL" -m "$F" up
        put "$F/002_bad.sql" 'CREATE TABLE bad(x int);\nINSERT INTO bad VALUES (1/0);\n'
        R=$TMP/pgrefused
        put "$R/001_ok.sql" 'CREATE TABLE ok(x int);\nSELECT 1;\n' # modified
        NT=$TMP/pgnt
        put "$NT/001_ok.sql" 'CREATE TABLE ok(x int);\n'
        put "$NT/002_nt.sql" '-- strata:no-transaction\nCREATE TABLE nt(x int);\nSELECT * FROM nope;\n'
        sock=$(printf '%s' "$STRATA_PG_URL" | sed -n 's/.*host=\([^&]*\).*/\1/p')
        NODB=${DBURL/\/$DBNAME\?//no_such_db_$$?}
        QPW="postgresql:///$DBNAME?host=$sock&port=${STRATA_PG_PORT:-5432}&user=strata&password=$PW"
        # NAME|EXITS|URL|DIR|ARGS (EXITS: the accepted exit statuses, a
        # comma-separated list)
        cases=(
            "failed-migration|1|$DBURL|$F|up"
            "refused-modified|3|$DBURL|$R|up"
            "no-transaction-fails-then-dirty|1,3|$DBURL|$NT|--module nt up"
            "no-such-database|5|$NODB|$F|up"
            "bad-sslmode|5|$DBURL&sslmode=bogus|$F|status"
            "bad-option|2|$DBURL|$F|up --steps x"
            "password-parameter-failed-migration|1|$QPW|$F|up"
            "password-parameter-no-such-db|5|${QPW/\/$DBNAME\?//nodb_$$?}|$F|status"
            "unknown-version|3|$DBURL|$F|down --to 77"
        )
        for c in "${cases[@]}"; do
            IFS='|' read -r cname cexit curl cdir cargs <<<"$c"
            # shellcheck disable=SC2206
            cargv=($cargs)
            for mode in "-v" "-vv" "--json" "--log-format json" "--log-format json -vv --json"; do
                # shellcheck disable=SC2206
                margv=($mode)
                capture "$STRATA" "${margv[@]}" -d "$curl" -m "$cdir" "${cargv[@]}"
                PG_RUNS=$((PG_RUNS + 1))
                # (bad-sslmode: 5 today; 2 once a bad URL is a usage error)
                if [[ ",$cexit," == *",$RC,"* ]] || { [ "$cname" = bad-sslmode ] && [ "$RC" = 2 ]; }; then
                    pass
                else
                    fail "pg password: $cname $mode: exit" "expected $cexit, got $RC: $(show "$ERR")"
                fi
                assert_not_contains "pg password: $cname $mode: not in stdout" "$OUT" "$PW"
                assert_not_contains "pg password: $cname $mode: not in stderr" "$ERR" "$PW"
            done
        done
        # and PGPASSWORD, never in the URL: not echoed either
        capture env PGPASSWORD="$PW" "$STRATA" -vv --log-format json -d "${DBURL/strata:$PW@/strata@}" -m "$F" up
        PG_RUNS=$((PG_RUNS + 1))
        assert_eq "pg password: PGPASSWORD, failing migration: exit" "1" "$RC"
        assert_not_contains "pg password: PGPASSWORD: not in output" "$OUT$ERR" "$PW"
        assert_eq "pg password: not in any tracking or history row" "0|0" \
            "$(q "SELECT count(*) FROM strata_migrations m WHERE strpos(m::text, '$PW') > 0")|$(q "SELECT count(*) FROM strata_migrations_history h WHERE strpos(h::text, '$PW') > 0")"
    fi
else
    echo "note: no PostgreSQL server; the PostgreSQL checks did not run"
fi

echo "sqlite lock file with a symlink planted at <db>-strata-lock: $LOCK_SYMLINK_RESULT"
echo "postgresql failing runs checked for the password: $PG_RUNS"
finish
