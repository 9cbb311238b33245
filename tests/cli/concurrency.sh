#!/usr/bin/env bash
# concurrency.sh - 16 `strata up` processes released at the same moment on one
# fresh database: every one succeeds, every migration runs exactly once.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

PROCS=16
ROUNDS=5
N=20
M=$TMP/m
put "$M/001_proof.sql" 'CREATE TABLE proof(v INTEGER NOT NULL, pid INTEGER);\nINSERT INTO proof VALUES (1, NULL);\n'
for i in $(seq 2 $N); do
    # each migration also creates a table, so a second run would fail loudly
    put "$M/$(printf '%03d' "$i")_step$i.sql" \
        "CREATE TABLE step$i(x);\nINSERT INTO proof VALUES ($i, NULL);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000) SELECT count(*) FROM c;\n"
done

# run_round R [EXTRA...]: PROCS processes of `strata up` (plus, with EXTRA,
# as many read-only `strata EXTRA` processes) wait for $TMP/go-R, then run.
run_round() {
    local r=$1
    shift
    local db=$TMP/round$r.db go=$TMP/go-$r
    local pids=() i
    for i in $(seq $PROCS); do
        (
            while [ ! -e "$go" ]; do sleep 0.002; done
            exec "$STRATA" -d "sqlite:$db" -m "$M" up >"$TMP/r$r-$i.out" 2>"$TMP/r$r-$i.err"
        ) &
        pids+=($!)
        BG_PIDS+=($!)
    done
    if [ $# -gt 0 ]; then
        for i in $(seq $PROCS); do
            (
                while [ ! -e "$go" ]; do sleep 0.002; done
                exec "$STRATA" -d "sqlite:$db" -m "$M" "$@" >"$TMP/r$r-ro$i.out" 2>"$TMP/r$r-ro$i.err"
            ) &
            pids+=($!)
            BG_PIDS+=($!)
        done
    fi
    sleep 0.3 # let every process reach the start line
    touch "$go"
    local rcs=() p
    for p in "${pids[@]}"; do
        wait "$p"
        rcs+=($?)
    done

    local bad=0
    for i in $(seq $PROCS); do
        if [ "${rcs[$((i - 1))]}" -ne 0 ]; then
            bad=$((bad + 1))
            fail "round $r: up process $i exits 0" "exit ${rcs[$((i - 1))]}: $(cat "$TMP/r$r-$i.err")"
        fi
    done
    [ $bad -eq 0 ] && pass
    if [ $# -gt 0 ]; then
        bad=0
        for i in $(seq $PROCS); do
            local rc=${rcs[$((PROCS + i - 1))]}
            if [ "$rc" -ne 0 ]; then
                bad=$((bad + 1))
                fail "round $r: concurrent '$*' process $i exits 0" "exit $rc: $(cat "$TMP/r$r-ro$i.err")"
            fi
        done
        [ $bad -eq 0 ] && pass
    fi

    assert_eq "round $r: every proof row exactly once" "$(seq -s, 1 $N)" \
        "$(sql "$db" "SELECT group_concat(v) FROM (SELECT v FROM proof ORDER BY v)")"
    assert_eq "round $r: no duplicate proof rows" "$N|$N" \
        "$(sql "$db" "SELECT count(*) || '|' || count(DISTINCT v) FROM proof")"
    assert_eq "round $r: tracking table has $N applied rows" "$N|$N" \
        "$(sql "$db" "SELECT count(*) || '|' || sum(state = 'applied') FROM strata_migrations")"
    assert_eq "round $r: history has $N ups" "$N" \
        "$(sql "$db" "SELECT count(*) FROM strata_migrations_history WHERE action = 'up'")"
    local applied
    applied=$(cat "$TMP"/r$r-[0-9]*.out | grep -c '^applied ')
    assert_eq "round $r: the processes report $N applied migrations in total" "$N" "$applied"
    local uptodate
    uptodate=$(cat "$TMP"/r$r-[0-9]*.out | grep -c '^already up to date$')
    local workers
    workers=$(grep -l '^applied ' "$TMP"/r$r-[0-9]*.out | wc -l)
    assert_eq "round $r: every process either applied or was up to date" "$PROCS" "$((uptodate + workers))"
    assert_eq "round $r: integrity" "ok" "$(sql "$db" 'PRAGMA integrity_check')"
    "$STRATA" -d "sqlite:$db" -m "$M" status --json >"$TMP/st.json"
    json_check "round $r: status afterwards: all applied, current $N" "$(cat "$TMP/st.json")" "
assert d['current'] == '$N', d['current']
assert [m['state'] for m in d['migrations']] == ['applied'] * $N, d"
}

for r in $(seq $ROUNDS); do
    run_round "$r"
done
# and once with readers (status, validate) running against the migrating db
run_round $((ROUNDS + 1)) status
run_round $((ROUNDS + 2)) validate

# 16 processes that all try to revert: only the one newest migration goes
db=$TMP/down.db
R=$TMP/rev
for i in 1 2 3; do
    put "$R/00${i}_r$i.up.sql" "CREATE TABLE r$i(x);\n"
    put "$R/00${i}_r$i.down.sql" "DROP TABLE r$i;\n"
done
"$STRATA" -q -d "sqlite:$db" -m "$R" up || fail "down setup" "up failed"
pids=()
for i in $(seq $PROCS); do
    (
        while [ ! -e "$TMP/go-down" ]; do sleep 0.002; done
        exec "$STRATA" -q -d "sqlite:$db" -m "$R" down --to 2
    ) &
    pids+=($!)
    BG_PIDS+=($!)
done
sleep 0.3
touch "$TMP/go-down"
bad=0
for p in "${pids[@]}"; do
    wait "$p" || bad=$((bad + 1))
done
assert_eq "16 concurrent 'down --to 2': all exit 0" "0" "$bad"
assert_eq "16 concurrent 'down --to 2': only 3 reverted, once" "1|applied
2|applied" "$(tracked "$db")"
assert_eq "16 concurrent 'down --to 2': one down in the history" "1" \
    "$(sql "$db" "SELECT count(*) FROM strata_migrations_history WHERE action = 'down'")"

# A lock holder killed with SIGKILL mid-migration: the lock dies with it, its
# transaction is rolled back, and the next run proceeds at once.
put "$TMP/slow/001_slow.sql" 'CREATE TABLE slow(x);\nINSERT INTO slow VALUES (1);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50000000) SELECT count(*) FROM c;\n'
put "$TMP/fast/001_slow.sql" 'CREATE TABLE slow(x);\nINSERT INTO slow VALUES (2);\n'

# start_holder DB DIR: starts `strata up` in the background and returns once
# its (slow) migration has begun, with the lock held; the pid is in $HOLDER.
start_holder() {
    "$STRATA" -v -d "sqlite:$1" -m "$2" up >/dev/null 2>"$1.err" &
    HOLDER=$!
    BG_PIDS+=("$HOLDER")
    for _ in $(seq 200); do
        grep -q '\[1/1\] up' "$1.err" 2>/dev/null && break
        sleep 0.05
    done
}
start_holder "$TMP/killed.db" "$TMP/slow"
victim=$HOLDER
sleep 0.2
kill -KILL "$victim"
wait "$victim" 2>/dev/null
CHECK="after a SIGKILLed holder: up proceeds" assert_exit 0 "$STRATA" -d "sqlite:$TMP/killed.db" -m "$TMP/fast" --lock-timeout 2 up
assert_eq "after a SIGKILLed holder: only the new run's row" "2" "$(sql "$TMP/killed.db" 'SELECT group_concat(x) FROM slow')"
assert_eq "after a SIGKILLed holder: tracked once" "1|applied" "$(tracked "$TMP/killed.db")"
assert_eq "after a SIGKILLed holder: integrity" "ok" "$(sql "$TMP/killed.db" 'PRAGMA integrity_check')"

# A no-op up does not queue behind a running migration: 1 is applied, and
# while another process holds the lock to apply 2, an up whose source ends
# at 1 answers at once from one read, where waiting would time out (exit 4).
put "$TMP/two/001_a.sql" 'CREATE TABLE a(x);\n'
put "$TMP/two/002_slow.sql" 'CREATE TABLE b(x);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50000000) SELECT count(*) FROM c;\n'
put "$TMP/one/001_a.sql" 'CREATE TABLE a(x);\n'
CHECK="no-op beside a holder: 1 applied" assert_exit 0 "$STRATA" -d "sqlite:$TMP/busy.db" -m "$TMP/one" up
start_holder "$TMP/busy.db" "$TMP/two"
holder=$HOLDER
CHECK="no-op beside a holder: answers without the lock" assert_exit 0 "$STRATA" -d "sqlite:$TMP/busy.db" -m "$TMP/one" --lock-timeout 1 up
assert_contains "no-op beside a holder: up to date" "$OUT" "already up to date"
assert_true "no-op beside a holder: the holder is still running" kill -0 "$holder"
CHECK="pending work beside a holder: waits for the lock, times out" assert_exit 4 "$STRATA" -d "sqlite:$TMP/busy.db" -m "$TMP/two" --lock-timeout 1 up
kill -KILL "$holder"
wait "$holder" 2>/dev/null

finish
