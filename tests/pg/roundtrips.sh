#!/usr/bin/env bash
# roundtrips.sh - how many times strata talks to PostgreSQL, counted with
# strace on the client (the sends on the server socket) and with
# pg_stat_statements on the server. The driver's promise: a no-op `up` is
# one round trip after connecting, as for `psql -c 'select 1'` (one query
# that yields the digest of the tracking rows; no lock), whatever the number
# of applied migrations, once the digest cache holds (a start that finds it
# stale sends a second query and stores the digest); and a transactional
# migration is one round trip however many statements it has.
. "$(dirname "$0")/pglib.sh"

command -v strace >/dev/null 2>&1 || skip "strace is not installed"
strace -f -o /dev/null true 2>/dev/null || skip "strace cannot trace here"

# make_dir DIR FIRST LAST STATEMENTS: migrations FIRST..LAST, each with
# STATEMENTS statements.
make_dir() {
    local dir=$1 first=$2 last=$3 nstmt=$4 i j
    mkdir -p "$dir"
    for i in $(seq "$first" "$last"); do
        {
            echo "CREATE TABLE t$i (id int, v text);"
            for j in $(seq 2 "$nstmt"); do
                echo "INSERT INTO t$i VALUES ($j, 'row $j');"
            done
        } >"$(printf '%s/%04d_m%d.sql' "$dir" "$i" "$i")"
    done
}

# traced ARGS...: runs strata under strace; sets RC and TRACE (the file).
TRACE_N=0
traced() {
    TRACE_N=$((TRACE_N + 1))
    TRACE=$TMP/trace.$TRACE_N
    # LeakSanitizer cannot run under ptrace; the other sanitizers can.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=connect,sendto,sendmsg,write -o "$TRACE" \
        "$STRATA" "$@" >"$TMP/.out" 2>"$TMP/.err"
    RC=$?
    OUT=$(cat "$TMP/.out")
    [ "$RC" = 0 ] || echo "strata $*: exit $RC: $(cat "$TMP/.err")" >&2
}

# count_sends: from $TRACE, the sends on the PostgreSQL socket (the fd of
# the connect() to .s.PGSQL.* or to a TCP address), split as
#   CONN  sends before the first query message (startup packet, password
#         exchange): the cost of connecting
#   QUERY sends that carry queries (extended protocol 'P', simple 'Q')
#   TERM  the Terminate message ('X') sent by PQfinish
# Sets CONN, QUERY, TERM and TOTAL.
count_sends() {
    read -r CONN QUERY TERM < <(awk '
        / connect\(/ && / = 0$/ && (/\.s\.PGSQL\./ || /AF_INET/) {
            match($0, /connect\([0-9]+/)
            fd = substr($0, RSTART + 8, RLENGTH - 8)
            next
        }
        fd != "" && ($2 ~ "^(sendto|sendmsg|write)\\(" fd ",") {
            i = index($0, ", \"")
            c = substr($0, i + 3, 1)
            if (c == "X") term++
            else if (c == "P" || c == "Q") { q++; started = 1 }
            else if (started) q++
            else conn++
        }
        END { print conn + 0, q + 0, term + 0 }' "$TRACE")
    TOTAL=$((CONN + QUERY + TERM))
}

# stamp: the digest cache's row versions. A start that finds the cache
# stale digests the rows in a second query and stores the digest, which
# changes them; one that trusts it changes nothing.
stamp() { q "SELECT coalesce(string_agg(xmin::text, ','), '') FROM strata_migrations_digest"; }

# steady ARGS...: traces `strata ARGS` until a start trusts the cache (the
# stamp unchanged and one query), as every start does once a store has
# gone through; another test's open transaction can defer that store
# (pg_digest.h), hence up to ten tries. A cache that never holds fails the
# assertions after them.
steady() {
    local _ before
    for _ in $(seq 10); do
        settle
        before=$(stamp)
        traced "$@"
        count_sends
        [ "$before" = "$(stamp)" ] && [ "$QUERY" = 1 ] && return
    done
}

# --- (i) + (ii) a no-op up with 5 and with 60 applied migrations ----------
declare -A NOOP_TOTAL
for n in 5 60; do
    new_db
    D=$TMP/noop$n
    make_dir "$D" 1 "$n" 3
    CHECK="noop $n: first up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
    steady -d "$DBURL" -m "$D" up
    assert_eq "noop $n: traced up exits 0" "0" "$RC"
    assert_contains "noop $n: nothing to do" "$OUT" "already up to date"
    echo "no-op up with $n applied: $TOTAL sends =" \
        "$CONN connecting + $QUERY queries + $TERM terminate"
    NOOP_TOTAL[$n]=$TOTAL
    CONN_SENDS=$CONN
    assert_true "noop $n: connecting sends something ($CONN)" test "$CONN" -ge 1
    assert_eq "noop $n: one query round trip" "1" "$QUERY"
    assert_eq "noop $n: one Terminate" "1" "$TERM"
    assert_true "noop $n: total <= connection + 1 + 1 ($TOTAL)" \
        test "$TOTAL" -le $((CONN + 1 + 1))
done
assert_eq "noop: sends are flat in N (5 vs 60 applied)" "${NOOP_TOTAL[5]}" \
    "${NOOP_TOTAL[60]}"
echo "connection alone: $CONN_SENDS sends (startup packet + SCRAM exchange)"

# --- server side: pg_stat_statements sees one statement of strata's
new_db
D=$TMP/pgss
make_dir "$D" 1 5 3
CHECK="pgss: first up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
pgss_where="d.datname = current_database() AND s.toplevel
             AND s.query NOT LIKE '%pg_stat_statements%'
             AND s.query NOT LIKE '%string_agg(xmin::text%'"
for _ in $(seq 10); do # until a start trusts the cache, as steady()
    settle
    before=$(stamp)
    q "SELECT pg_stat_statements_reset()" >/dev/null
    CHECK="pgss: no-op up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
    stmts=$(q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s
               JOIN pg_database d ON d.oid = s.dbid WHERE $pgss_where")
    [ "$before" = "$(stamp)" ] && [ "$stmts" = 1 ] && break
done
texts=$(q "SELECT calls || ' x ' || left(regexp_replace(query, '\s+', ' ', 'g'), 70)
           FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
           WHERE $pgss_where ORDER BY query")
echo "no-op up, statements seen by pg_stat_statements: $stmts"
printf '%s\n' "$texts" | sed 's/^/  /'
assert_eq "pgss: a no-op up executes one statement" "1" "$stmts"

# --- (iii) applying K=10 pending migrations of 20 statements each ---------
K=10
new_db
D=$TMP/apply
make_dir "$D" 1 5 20
CHECK="apply: 5 applied first" assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
steady -d "$DBURL" -m "$D" up
base_total=$TOTAL
echo "up with 0 pending (5 applied): $TOTAL sends ($CONN + $QUERY + $TERM)"
make_dir "$D" 6 $((5 + K)) 20
traced -d "$DBURL" -m "$D" up
assert_eq "apply: traced up exits 0" "0" "$RC"
assert_eq "apply: $K migrations applied" "$K" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
count_sends
diff=$((TOTAL - base_total))
echo "up applying $K migrations x 20 statements: $TOTAL sends" \
    "($CONN + $QUERY + $TERM); $diff more than a no-op up"
# The constant, beyond the no-op's look without the lock: the lock (which
# learns what the plan needs), the tracking rows read under it, the digest
# stored for the next start, the rows read once more after the run to
# report the version it reached, and the unlock: 5 round trips.
assert_true "apply: extra sends <= $K + 5 ($diff)" test "$diff" -le $((K + 5))
assert_true "apply: at least one send per migration ($diff)" \
    test "$diff" -ge "$K"
assert_true "apply: never one send per statement ($diff < $((K * 20)))" \
    test "$diff" -lt $((K * 20))
assert_eq "apply: 15 rows tracked" "15" \
    "$(q "SELECT count(*) FROM strata_migrations WHERE state = 'applied'")"
assert_eq "apply: the statements did run" "19" "$(q "SELECT count(*) FROM t15")"

finish
