#!/usr/bin/env bash
# secrets.sh - the database password never appears in any output of strata:
# succeeding and failing commands, -v / -vv / --json, wrong passwords,
# unreachable servers, the password in the URL's user info or in a
# ?password= parameter, a key=value connection string, PGPASSWORD, and
# server messages that happen to contain it. Where the URL is shown (-v,
# connection errors), the password is masked as ***.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS PGPASSWORD PGPASSFILE PGHOST PGPORT PGUSER PGDATABASE PGSERVICE

PW=${STRATA_PG_URL#*://*:}
PW=${PW%%@*}
[ -n "$PW" ] && [ "${#PW}" -ge 8 ] && [ "$PW" != "$STRATA_PG_URL" ] ||
    skip "STRATA_PG_URL has no password of 8 or more characters to look for"
WRONG=NotThePassw0rd$$
sock=${STRATA_PG_SOCKET:-$(printf '%s' "$STRATA_PG_URL" | sed -n 's/.*host=\([^&]*\).*/\1/p')}
port=${STRATA_PG_PORT:-5432}
ALL=$TMP/all-output.log
: >"$ALL"

# run NAME CODE [ENV=VALUE...] -- ARGS...: runs strata (with the
# environment assignments, if any), checks its exit status, keeps its stdout
# and stderr in $ALL, and checks that neither the password nor the wrong
# password used below shows up in them.
run() {
    local name=$1 code=$2
    shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    shift
    CHECK="$name: exit $code" assert_exit "$code" env "${envs[@]}" "$STRATA" "$@"
    {
        printf '### %s\n' "$name"
        printf '%s\n' "$OUT" "$ERR"
    } >>"$ALL"
    assert_not_contains "$name: password not shown" "$OUT$ERR" "$PW"
    assert_not_contains "$name: wrong password not shown" "$OUT$ERR" "$WRONG"
}

new_db
M=$TMP/m
put "$M/001_a.up.sql" 'CREATE TABLE a(x int);\n'
put "$M/001_a.down.sql" 'DROP TABLE a;\n'
put "$M/002_b.up.sql" 'CREATE TABLE b(x int);\n'
put "$M/002_b.down.sql" 'DROP TABLE b;\n'
MOD=$TMP/modified
put "$MOD/001_a.up.sql" 'CREATE TABLE a(x int); -- edited\n'
FAILING=$TMP/failing
put "$FAILING/001_a.up.sql" 'CREATE TABLE a(x int);\n'
put "$FAILING/001_a.down.sql" 'DROP TABLE a;\n'
put "$FAILING/002_b.up.sql" 'CREATE TABLE b(x int);\n'
put "$FAILING/002_b.down.sql" 'DROP TABLE b;\n'
put "$FAILING/003_bad.sql" 'CREATE TABLE c(x int);\nSELECT * FROM no_such_table;\n'

# ============================================ the password in the user info
run "up --dry-run -v" 0 -- -v -d "$DBURL" -m "$M" up --dry-run
assert_contains "-v shows the URL masked" "$ERR" "strata:***@"
run "up -vv" 0 -- -vv -d "$DBURL" -m "$M" up --to 1
assert_contains "-vv shows the URL masked" "$ERR" "strata:***@"
run "up --json -v" 0 -- -v --json -d "$DBURL" -m "$M" up
run "status" 0 -- -d "$DBURL" -m "$M" status
run "status --json -vv" 0 -- -vv -d "$DBURL" -m "$M" status --json
run "history -v" 0 -- -v -d "$DBURL" -m "$M" history
run "current -v" 0 -- -v -d "$DBURL" -m "$M" current
run "validate -v" 0 -- -v -d "$DBURL" -m "$M" validate
run "down -vv" 0 -- -vv -d "$DBURL" -m "$M" down --all
run "failing up -vv" 1 -- -vv -d "$DBURL" -m "$FAILING" up
assert_contains "failing up: the failure is reported" "$ERR" "no_such_table"
run "failing up --json -v" 1 -- -v --json -d "$DBURL" -m "$FAILING" up
run "refused up -v (modified)" 3 -- -v -d "$DBURL" -m "$MOD" up
assert_contains "refused up: the refusal is reported" "$ERR" "001_a.up.sql"
run "DATABASE_URL from the environment, -vv" 0 DATABASE_URL="$DBURL" -- -vv -m "$M" status
assert_contains "DATABASE_URL: -vv shows it masked" "$ERR" "strata:***@"

# ============================================ the server refuses or is not there
bad_pw_url="postgresql://strata:$WRONG@/$DBNAME?host=$sock&port=$port"
run "wrong password" 5 -- -d "$bad_pw_url" -m "$M" up
assert_contains "wrong password: the server's reason" "$ERR" "password authentication failed"
assert_contains "wrong password: URL shown masked" "$ERR" "strata:***@"
run "wrong password -vv --json" 5 -- -vv --json -d "$bad_pw_url" -m "$M" status
run "wrong PGPASSWORD" 5 PGPASSWORD="$WRONG" -- -v -d "postgresql://strata@/$DBNAME?host=$sock&port=$port" -m "$M" up
unreach="${DBURL%%@*}@/$DBNAME?host=$TMP/no-such-dir&port=$port"
run "unreachable host" 5 -- -d "$unreach" -m "$M" up
assert_contains "unreachable host: URL shown masked" "$ERR" "strata:***@"
run "unreachable host -vv --json" 5 -- -vv --json -d "$unreach" -m "$M" status
run "wrong port -v" 5 -- -v -d "${DBURL%%@*}@/$DBNAME?host=$sock&port=$((port + 1))" -m "$M" up
run "no such database -v" 5 -- -v -d "${DBURL%%@*}@/no_such_db_$$?host=$sock&port=$port" -m "$M" up

# ============================================ ?password= in the query string
qurl="postgresql:///$DBNAME?host=$sock&port=$port&user=strata&password=$PW"
run "?password=: status works" 0 -- -d "$qurl" -m "$M" status
assert_match "?password=: really connected" "$OUT" '^current: 2$'
run "?password=: status -v" 0 -- -v -d "$qurl" -m "$M" status
assert_contains "?password=: -v shows it masked" "$ERR" "password=***"
run "?password=: up --json -vv" 0 -- -vv --json -d "$qurl" -m "$M" up --dry-run
run "?password=: unreachable host -v" 5 -- -v -d "postgresql:///$DBNAME?host=$TMP/no-such-dir&port=$port&user=strata&password=$PW" -m "$M" up
assert_contains "?password=: connection error shows it masked" "$ERR" "password=***"
run "?password=: unreachable host --json" 5 -- --json -d "postgresql:///$DBNAME?host=$TMP/no-such-dir&port=$port&user=strata&password=$PW" -m "$M" up
run "?password=: wrong password -v" 5 -- -v -d "postgresql:///$DBNAME?host=$sock&port=$port&user=strata&password=$WRONG" -m "$M" up

# ============================================ key=value connection strings
# strata wants a URL with a scheme: a libpq key=value string is a usage
# error (exit 2), and even then the password must not be echoed.
kv="host=$sock port=$port dbname=$DBNAME user=strata password=$PW"
run "key=value string: refused" 2 -- -d "$kv" -m "$M" status
run "key=value string: refused, -v" 2 -- -v -d "$kv" -m "$M" status
run "key=value string: refused, --json -vv" 2 -- -vv --json -d "$kv" -m "$M" up

# ============================================ PGPASSWORD with a password-less URL
nopw="postgresql://strata@/$DBNAME?host=$sock&port=$port"
run "PGPASSWORD: up -vv" 0 PGPASSWORD="$PW" -- -vv -d "$nopw" -m "$M" up
assert_eq "PGPASSWORD: migrations applied" "1|2" "$(q "SELECT string_agg(version, '|' ORDER BY version) FROM strata_migrations")"
run "PGPASSWORD: status --json" 0 PGPASSWORD="$PW" -- --json -d "$nopw" -m "$M" status
run "PGPASSWORD: failing up -v" 1 PGPASSWORD="$PW" -- -v -d "$nopw" -m "$FAILING" up
run "PGPASSWORD: failing up --json" 1 PGPASSWORD="$PW" -- --json -d "$nopw" -m "$FAILING" up
run "PGPASSWORD: unreachable host -v" 5 PGPASSWORD="$PW" -- -v -d "postgresql://strata@/$DBNAME?host=$TMP/no-such-dir&port=$port" -m "$M" up
run "no password at all: exit 5" 5 -- -d "$nopw" -m "$M" status
assert_contains "no password at all: libpq's reason" "$ERR" "password"

# ============================================ server messages that contain it
# The scripts build the password from two halves, so the files do not hold
# it; the server's notice, error, detail and hint do.
h1=${PW:0:$((${#PW} / 2))}
h2=${PW:$((${#PW} / 2))}
S=$TMP/srv
put "$S/001_notice.sql" "DO \$\$ BEGIN RAISE NOTICE 'notice %', '$h1' || '$h2'; END \$\$;\nCREATE TABLE n(x int);\n"
put "$S/002_raise.sql" "DO \$\$ BEGIN RAISE EXCEPTION 'boom %', '$h1' || '$h2' USING DETAIL = 'detail ' || '$h1' || '$h2', HINT = 'hint ' || '$h1' || '$h2'; END \$\$;\n"
run "a server notice holding the password (-vv)" 1 -- -vv -d "$DBURL" -m "$S" --module srv up
assert_contains "server error holding the password: still reported" "$ERR" "boom"
run "a server error holding the password (--json)" 1 -- --json -d "$DBURL" -m "$S" --module srv up
run "the same with PGPASSWORD (-vv)" 1 PGPASSWORD="$PW" -- -vv -d "$nopw" -m "$S" --module srv up

# ============================================ very short passwords
# Masking a 1- or 2-character password as *** makes the text longer; the
# command must still fail cleanly (exit 5), not crash. The URL is padded to
# every length modulo 16 so that a write past the end of an exactly-sized
# copy cannot hide in the allocator's slack.
for form in userinfo query; do
    for pw in x Qz; do
        crashed=""
        for pad in $(seq 0 15); do
            app=$(printf 'a%.0s' $(seq 0 "$pad"))
            if [ $form = userinfo ]; then
                u="postgresql://strata:$pw@/$DBNAME?host=$TMP/no-such-dir&port=$port&application_name=$app"
            else
                u="postgresql:///$DBNAME?host=$TMP/no-such-dir&port=$port&user=strata&application_name=$app&password=$pw"
            fi
            capture "$STRATA" -d "$u" -m "$M" status
            printf '### short password %s %s\n%s\n%s\n' "$form" "$pw" "$OUT" "$ERR" >>"$ALL"
            [ "$RC" -eq 5 ] || crashed="$crashed pad=$pad:exit=$RC"
        done
        assert_eq "${#pw}-character password ($form form), unreachable host, URL lengths mod 16: always exit 5" "" "$crashed"
    done
done
capture "$STRATA" -d "postgresql://strata:Qz@/$DBNAME?host=$TMP/no-such-dir&port=$port" -m "$M" status
assert_not_contains "2-character password: not shown" "$ERR" "strata:Qz@"

# ============================================ everything at once
assert_true "collected output is not empty" test -s "$ALL"
if grep -qF -- "$PW" "$ALL"; then
    fail "the password appears nowhere in all output" "found in: $(grep -B0 -F -- "$PW" "$ALL" | sed "s/$PW/<PASSWORD>/g" | head -c 2000)"
else
    pass
fi
assert_true "the masked form *** was shown somewhere" grep -qF '***' "$ALL"

finish
