#!/usr/bin/env bash
# connect_wait.sh - --connect-wait against servers of this test's own: a
# socket directory where no server runs yet, a cluster started while strata
# waits, a standby with hot_standby off (it answers that it does not accept
# connections) promoted while strata waits, and refusals that no wait can
# mend, which must fail at once.
. "$(dirname "$0")/pglib.sh"

BIN=$STRATA_PG_BIN
RUN_AS=()
[ "$(id -u)" -eq 0 ] && RUN_AS=(runuser -u postgres --)
# The cluster lives in a directory of its own under /tmp: a socket path
# must stay under 108 bytes whatever TMPDIR is, and the server's user must
# reach it.
TOP=$(mktemp -d /tmp/strata-cw-XXXXXX) || { echo "FAIL: setup" >&2; exit 1; }
DATA=$TOP/data
SOCK=$TOP/sock
LOGS=$TOP/logs
PORT=5432
mkdir -p "$DATA" "$SOCK" "$LOGS"
chmod 0755 "$TOP"
[ ${#RUN_AS[@]} -gt 0 ] && chown -R postgres:postgres "$DATA" "$SOCK" "$LOGS"

stop_cluster() {
    "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m immediate stop \
        >/dev/null 2>&1 || true
    rm -rf "$TOP"
}
trap 'stop_cluster; pg_cleanup; cleanup' EXIT

# waiting_in FILE: waits (up to 30 s) until strata's log in FILE says it
# waits, so that what a test does next happens during the wait.
waiting_in() {
    local _
    for _ in $(seq 300); do
        grep -q "waiting for the server at" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

"${RUN_AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 \
    --locale=C.UTF-8 -N >"$LOGS/initdb.log" 2>&1 ||
    { cat "$LOGS/initdb.log" >&2; exit 1; }
cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
fsync = off
CONF

start_cluster() {
    "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOGS/server.log" "$@" \
        start >/dev/null
}

URL="postgresql:///postgres?host=$SOCK&port=$PORT&user=postgres"
put "$TMP/migrations/0001_a.sql" "CREATE TABLE waited_for (id int);"

# No server yet: the wait runs out, then the usual connection error, which
# says how long it waited.
sx -v --connect-wait 0.5 -d "$URL" -m "$TMP/migrations" up
assert_eq "no server: exit" 5 "$RC"
assert_contains "no server: said it waited" "$ERR" "after waiting"
assert_contains "no server: logged the wait" "$ERR" \
    "waiting for the server at"
assert_contains "no server: why" "$ERR" "it cannot be reached"
assert_contains "no server: hint" "$ERR" "give a longer --connect-wait"

# Without the option, no wait, and the hint names it.
sx -v -d "$URL" -m "$TMP/migrations" up
assert_eq "no wait: exit" 5 "$RC"
assert_not_contains "no wait: nothing logged" "$ERR" "waiting for the server"
assert_contains "no wait: hint" "$ERR" "--connect-wait SECONDS"

# A bad value is a usage error.
sx --connect-wait soon -d "$URL" -m "$TMP/migrations" up
assert_eq "bad value: exit" 2 "$RC"

# The server starts while strata waits: the migration is applied.
"$STRATA" -v --connect-wait 60 -d "$URL" -m "$TMP/migrations" up \
    >"$TMP/bg.out" 2>"$TMP/bg.err" &
BG=$!
BG_PIDS+=("$BG")
assert_true "started meanwhile: strata waits first" waiting_in "$TMP/bg.err"
start_cluster -w
wait "$BG"
assert_eq "started meanwhile: exit" 0 "$?"
assert_contains "started meanwhile: waited" "$(cat "$TMP/bg.err")" \
    "waiting for the server at"
assert_contains "started meanwhile: then connected" "$(cat "$TMP/bg.err")" \
    "accepts connections after"
assert_eq "started meanwhile: applied" "1" \
    "$("$BIN/psql" -X -At "$URL" -c "SELECT count(*) FROM strata_migrations")"

# A server that is up costs the option nothing: one connection, no ask.
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null
then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=connect -o "$TMP/connects" "$STRATA" \
        --connect-wait 60 -d "$URL" -m "$TMP/migrations" status >/dev/null
    assert_eq "server up: one connection" 1 \
        "$(grep -c 's.PGSQL' "$TMP/connects")"
fi

# A server that runs but refuses this request is not waited for.
sx -v --connect-wait 60 \
    -d "postgresql:///no_such_db?host=$SOCK&port=$PORT&user=postgres" -m "$TMP/migrations" status
assert_eq "no such database: exit" 5 "$RC"
assert_not_contains "no such database: no wait" "$ERR" "waiting for the"
assert_contains "no such database: the server's words" "$ERR" "no_such_db"
assert_not_contains "no such database: no wait in the hint" "$ERR" \
    "connect-wait"
# ...though it is asked once and connected to again: a server that
# finished starting up just after refusing the first connection answers
# that ask like one that refuses for good.
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null
then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=connect -o "$TMP/connects" "$STRATA" \
        --connect-wait 60 -m "$TMP/migrations" status \
        -d "postgresql:///no_such_db?host=$SOCK&port=$PORT&user=postgres" \
        >/dev/null 2>&1
    assert_eq "no such database: connect, ask, connect again" 3 \
        "$(grep -c 's.PGSQL' "$TMP/connects")"
fi

# A standby with hot_standby off answers that it does not accept
# connections: strata waits, then gives up...
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null
echo "hot_standby = off" >>"$DATA/postgresql.conf"
"${RUN_AS[@]}" touch "$DATA/standby.signal"
start_cluster -W
for _ in $(seq 100); do
    [ -S "$SOCK/.s.PGSQL.$PORT" ] && break
    sleep 0.1
done
sx -v --connect-wait 0.5 -d "$URL" -m "$TMP/migrations" status
assert_eq "standby: exit" 5 "$RC"
assert_contains "standby: why" "$ERR" "does not accept connections yet"

# ... or, given time, connects once it is promoted.
"$STRATA" -v --connect-wait 60 -d "$URL" -m "$TMP/migrations" status \
    >"$TMP/bg.out" 2>"$TMP/bg.err" &
BG=$!
BG_PIDS+=("$BG")
assert_true "promoted meanwhile: strata waits first" waiting_in "$TMP/bg.err"
assert_true "promoted meanwhile: promote" \
    "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -w promote
wait "$BG"
assert_eq "promoted meanwhile: exit" 0 "$?"
assert_contains "promoted meanwhile: waited" "$(cat "$TMP/bg.err")" \
    "does not accept connections yet"
assert_contains "promoted meanwhile: status" "$(cat "$TMP/bg.out")" "applied"

finish
