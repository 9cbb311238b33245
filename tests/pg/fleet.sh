#!/usr/bin/env bash
# fleet.sh - many strata processes against one PostgreSQL database at once:
# the advisory lock makes every migration run exactly once, a busy lock is
# reported with its holder, and lock waiters hold no snapshot, so a holder
# running CREATE INDEX CONCURRENTLY is never blocked by them.
. "$(dirname "$0")/pglib.sh"

N_PROCS=50
N_MIGR=30

# make_migrations DIR: N_MIGR migrations; 1 creates the proof table, every
# one inserts its own proof row; each has a down that undoes it.
make_migrations() {
    local dir=$1 i f
    mkdir -p "$dir"
    for i in $(seq 1 "$N_MIGR"); do
        f=$(printf '%s/%04d_step%d.sql' "$dir" "$i" "$i")
        {
            echo "-- strata:up"
            if [ "$i" -eq 1 ]; then
                echo "CREATE TABLE proof (v int NOT NULL,"
                echo "    by_pid int NOT NULL DEFAULT pg_backend_pid());"
            fi
            echo "INSERT INTO proof (v) VALUES ($i);"
            echo "-- strata:down"
            if [ "$i" -eq 1 ]; then
                echo "DROP TABLE proof;"
            else
                echo "DELETE FROM proof WHERE v = $i;"
            fi
        } >"$f"
    done
}

# release_together: the started processes all block opening the fifo for
# reading; holding it open for writing lets every one through open(), and
# closing it gives all of them EOF at the same moment.
GATE=$TMP/gate
wait_ready() { # wait_ready COUNT DIR
    local n=0
    for _ in $(seq 1 600); do
        n=$(find "$2" -name 'ready.*' | wc -l)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "setup: only $n of $1 processes became ready" >&2
    return 1
}
release() {
    exec 7>"$GATE"
    sleep 1 # every reader is past open() now; they all wait for EOF
    exec 7>&-
}

# start_one ID DIR ARGS... : a background strata blocked on the gate.
start_one() {
    local id=$1 dir=$2
    shift 2
    (
        : >"$dir/ready.$id"
        timeout 120 cat "$GATE" >/dev/null
        timeout 600 "$STRATA" -d "$DBURL" -m "$MIGS" --lock-timeout 300 "$@" \
            >"$dir/out.$id" 2>"$dir/err.$id"
        echo $? >"$dir/rc.$id"
    ) &
    BG_PIDS+=($!)
}

wait_all() {
    local p
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    BG_PIDS=()
}

MIGS=$TMP/migrations
make_migrations "$MIGS"
rm -f "$GATE"
mkfifo "$GATE"

expected_proof=$(for i in $(seq 1 "$N_MIGR"); do echo "$i|1"; done)
expected_versions=$(seq 1 "$N_MIGR" | paste -sd, -)

# --- 3 rounds of 50 concurrent `up` on a fresh database ------------------
for round in 1 2 3; do
    new_db
    R=$TMP/round$round
    mkdir -p "$R"
    for i in $(seq 1 "$N_PROCS"); do
        start_one "$i" "$R" up
    done
    wait_ready "$N_PROCS" "$R" || fail "round $round: setup" "not all ready"
    release
    wait_all
    bad=""
    napplied=0
    for i in $(seq 1 "$N_PROCS"); do
        rc=$(cat "$R/rc.$i" 2>/dev/null || echo none)
        [ "$rc" = 0 ] || bad="$bad [#$i rc=$rc: $(head -c 300 "$R/err.$i")]"
        n=$(grep -c '^applied ' "$R/out.$i")
        napplied=$((napplied + n))
    done
    assert_empty "round $round: all $N_PROCS processes exit 0" "$bad"
    assert_eq "round $round: $N_MIGR applied lines over all processes" \
        "$N_MIGR" "$napplied"
    assert_eq "round $round: each proof row exactly once" "$expected_proof" \
        "$(q "SELECT v || '|' || count(*) FROM proof GROUP BY v ORDER BY v")"
    assert_eq "round $round: tracking table has $N_MIGR applied rows" \
        "$N_MIGR|$N_MIGR" \
        "$(q "SELECT count(*) || '|' || count(*) FILTER (WHERE state = 'applied')
              FROM strata_migrations")"
    assert_eq "round $round: tracking versions, in the order applied" \
        "$expected_versions" \
        "$(q "SELECT string_agg(version, ',' ORDER BY applied_at, version::int)
              FROM strata_migrations")"
    assert_eq "round $round: history has $N_MIGR up rows in version order" \
        "$N_MIGR|$expected_versions" \
        "$(q "SELECT count(*) || '|' || string_agg(version, ',' ORDER BY id)
              FROM strata_migrations_history WHERE action = 'up'")"
    assert_eq "round $round: history has nothing but up rows" "0" \
        "$(q "SELECT count(*) FROM strata_migrations_history
              WHERE action <> 'up'")"
    # the processes that found nothing to do said so
    uptodate=$(cat "$R"/out.* | grep -c 'already up to date')
    assert_true "round $round: some processes found nothing to do" \
        test "$uptodate" -ge 1
done

# --- a mixed round: 45 up, 1 down, 4 status ------------------------------
new_db
R=$TMP/mixed
mkdir -p "$R"
for i in $(seq 1 "$N_PROCS"); do
    if [ "$i" -eq 23 ]; then
        start_one "$i" "$R" down
    elif [ "$i" -eq 5 ] || [ "$i" -eq 15 ] || [ "$i" -eq 35 ] ||
        [ "$i" -eq 45 ]; then
        start_one "$i" "$R" status
    else
        start_one "$i" "$R" up
    fi
done
wait_ready "$N_PROCS" "$R" || fail "mixed: setup" "not all ready"
release
wait_all
bad=""
for i in $(seq 1 "$N_PROCS"); do
    case $i in 23 | 5 | 15 | 35 | 45) continue ;; esac
    rc=$(cat "$R/rc.$i" 2>/dev/null || echo none)
    [ "$rc" = 0 ] || bad="$bad [#$i rc=$rc: $(head -c 300 "$R/err.$i")]"
done
assert_empty "mixed: all 45 up processes exit 0" "$bad"
assert_eq "mixed: the down process exits 0" "0" "$(cat "$R/rc.23")"
for i in 5 15 35 45; do
    assert_eq "mixed: status process #$i exits 0" "0" "$(cat "$R/rc.$i")"
done
tracked=$(q "SELECT string_agg(version, ',' ORDER BY version::int)
             FROM strata_migrations WHERE state = 'applied'")
assert_eq "mixed: no row in another state than applied" "0" \
    "$(q "SELECT count(*) FROM strata_migrations WHERE state <> 'applied'")"
if [ -n "$(q "SELECT to_regclass('proof')")" ]; then
    proof=$(q "SELECT string_agg(v::text, ',' ORDER BY v) FROM proof")
    assert_eq "mixed: no proof row twice" "0" \
        "$(q "SELECT count(*) FROM (SELECT v FROM proof GROUP BY v
                                     HAVING count(*) > 1) d")"
else
    proof=""
fi
assert_eq "mixed: tracking rows == proof rows present" "$tracked" "$proof"
reverted=$(grep -c '^reverted ' "$R/out.23")
if [ "$reverted" -eq 1 ]; then
    # the down ran after some up; it reverted the newest then applied one,
    # and if it came last that is version 30
    assert_eq "mixed: history: one down row" "1" \
        "$(q "SELECT count(*) FROM strata_migrations_history
              WHERE action = 'down'")"
else
    assert_contains "mixed: the down found nothing to revert" \
        "$(cat "$R/out.23")" "nothing to revert"
fi
echo "mixed round: down output: $(head -c 200 "$R/out.23"); tracked: $tracked"
# a final up converges
CHECK="mixed: a final up succeeds" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$MIGS" up
assert_eq "mixed: after a final up, every proof row exactly once" \
    "$expected_proof" \
    "$(q "SELECT v || '|' || count(*) FROM proof GROUP BY v ORDER BY v")"

# --- the lock held by another session ------------------------------------
new_db
SLOW=$TMP/slow
mkdir -p "$SLOW"
printf 'SELECT pg_sleep(6);\n' >"$SLOW/0001_sleep.sql"
"$STRATA" -d "$DBURL" -m "$SLOW" up >"$TMP/holder.out" 2>"$TMP/holder.err" &
holder=$!
BG_PIDS+=("$holder")
holder_backend=""
for _ in $(seq 1 300); do
    holder_backend=$(q "SELECT pid FROM pg_stat_activity
                        WHERE datname = current_database()
                          AND application_name = 'strata'
                          AND query LIKE '%pg_sleep%'" 2>/dev/null)
    [ -n "$holder_backend" ] && break
    sleep 0.1
done
assert_ne "lock: the holder is running its migration" "" "$holder_backend"
t0=$(date +%s.%N)
CHECK="lock: a second up with --lock-timeout 1 exits 4" \
    assert_exit 4 "$STRATA" -d "$DBURL" -m "$SLOW" --lock-timeout 1 up
t1=$(date +%s.%N)
elapsed=$(echo "$t1 - $t0" | bc)
echo "lock: second up gave up after ${elapsed}s"
assert_true "lock: gave up after 1 s, not before (${elapsed}s)" \
    test "$(echo "$elapsed >= 0.95" | bc)" = 1
assert_true "lock: gave up within ~3 s (${elapsed}s)" \
    test "$(echo "$elapsed < 4.5" | bc)" = 1
assert_error "lock" "migration lock"
assert_contains "lock: stderr names the holder's pid" "$ERR" \
    "pid $holder_backend"
assert_contains "lock: stderr names the holder's application" "$ERR" \
    "application 'strata'"
assert_not_contains "lock: the second applied nothing" "$OUT" "applied"
wait "$holder"
holder_rc=$?
assert_eq "lock: the holder exits 0" "0" "$holder_rc"
assert_eq "lock: exactly one up recorded" "1|1" \
    "$(q "SELECT (SELECT count(*) FROM strata_migrations) || '|' ||
                 (SELECT count(*) FROM strata_migrations_history)")"

# --- waiters whose first lock try came before the tracking tables existed --
# Deterministic form of what the mixed round can hit by chance: a session
# holds the migration lock of an empty database (psql, with the key that
# the error above printed); two `up` start, find no tracking table, and
# wait. When the lock is released, one creates the tables and applies
# everything; the other must then see those rows, not apply again.
lock_key=$(printf '%s\n' "$ERR" | sed -n 's/.*key \(-\{0,1\}[0-9]*\)).*/\1/p' | head -n 1)
assert_ne "early waiters: the lock error printed the key" "" "$lock_key"
new_db
"$PSQL" -X -q -At "$DBURL" -c "SELECT pg_advisory_lock($lock_key)" \
    -c "SELECT pg_sleep(4)" >/dev/null 2>&1 &
psql_holder=$!
BG_PIDS+=("$psql_holder")
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
            AND granted")" = 1 ] && break
    sleep 0.05
done
E=$TMP/early
mkdir -p "$E"
for i in 1 2; do
    (
        timeout 120 "$STRATA" -d "$DBURL" -m "$MIGS" --lock-timeout 60 up \
            >"$E/out.$i" 2>"$E/err.$i"
        echo $? >"$E/rc.$i"
    ) &
    BG_PIDS+=($!)
done
wait "$psql_holder"
wait_all
assert_eq "early waiters: first waiter exits 0" "0" "$(cat "$E/rc.1")"
assert_eq "early waiters: second waiter exits 0" "0" "$(cat "$E/rc.2")"
for i in 1 2; do
    [ "$(cat "$E/rc.$i")" = 0 ] ||
        echo "early waiter $i stderr: $(head -c 400 "$E/err.$i")" >&2
done
assert_eq "early waiters: $N_MIGR applied lines in all" "$N_MIGR" \
    "$(cat "$E"/out.* | grep -c '^applied ')"
assert_eq "early waiters: each proof row exactly once" "$expected_proof" \
    "$(q "SELECT v || '|' || count(*) FROM proof GROUP BY v ORDER BY v")"
assert_eq "early waiters: history has $N_MIGR rows" "$N_MIGR" \
    "$(q "SELECT count(*) FROM strata_migrations_history")"

# --- CREATE INDEX CONCURRENTLY while 10 waiters poll the lock ------------
new_db
CIC=$TMP/cic
mkdir -p "$CIC"
cat >"$CIC/0001_big.sql" <<'SQL'
CREATE TABLE big AS
    SELECT g AS id, md5(g::text) AS t
    FROM generate_series(1, 300000) g;
SQL
cat >"$CIC/0002_index.sql" <<'SQL'
-- strata:no-transaction
CREATE INDEX CONCURRENTLY big_t ON big (md5(md5(md5(t))), t);
SQL
CHECK="cic: the big table is created" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$CIC" up --to 1
t0=$(date +%s)
timeout 300 "$STRATA" -d "$DBURL" -m "$CIC" up \
    >"$TMP/cic.out" 2>"$TMP/cic.err" &
holder=$!
BG_PIDS+=("$holder")
seen=""
for _ in $(seq 1 300); do
    seen=$(q "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database()
                AND backend_type = 'client backend'
                AND query LIKE 'CREATE INDEX CONCURRENTLY%'
                AND state = 'active' LIMIT 1" 2>/dev/null)
    [ -n "$seen" ] && break
    sleep 0.05
done
W=$TMP/cicw
mkdir -p "$W"
waiters=()
for i in $(seq 1 10); do
    (
        timeout 300 "$STRATA" -d "$DBURL" -m "$CIC" --lock-timeout 240 up \
            >"$W/out.$i" 2>"$W/err.$i"
        echo $? >"$W/rc.$i"
    ) &
    waiters+=($!)
    BG_PIDS+=($!)
done
# while the index is being built, no waiter holds a snapshot
snapshots=0
samples=0
while kill -0 "$holder" 2>/dev/null; do
    n=$(q "SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database()
             AND application_name = 'strata'
             AND pid <> coalesce(nullif('$seen', '')::int, 0)
             AND (state LIKE 'idle in transaction%'
                  OR query LIKE '%pg_advisory_lock(%')" 2>/dev/null)
    [ -n "$n" ] && { samples=$((samples + 1)); snapshots=$((snapshots + n)); }
    sleep 0.2
done
wait "$holder"
holder_rc=$?
t1=$(date +%s)
echo "cic: index built in about $((t1 - t0)) s while 10 waiters polled" \
    "($samples samples of pg_stat_activity; CIC seen: ${seen:-no})"
assert_eq "cic: the holder finishes (exit 0, no deadlock)" "0" "$holder_rc"
[ "$holder_rc" = 0 ] || echo "holder stderr: $(cat "$TMP/cic.err")" >&2
assert_eq "cic: no waiter sat in a transaction or in pg_advisory_lock" \
    "0" "$snapshots"
for p in "${waiters[@]}"; do
    wait "$p" 2>/dev/null
done
BG_PIDS=()
bad=""
for i in $(seq 1 10); do
    rc=$(cat "$W/rc.$i" 2>/dev/null || echo none)
    [ "$rc" = 0 ] || bad="$bad [#$i rc=$rc: $(head -c 300 "$W/err.$i")]"
done
assert_empty "cic: all 10 waiters exit 0" "$bad"
assert_eq "cic: the index is valid" "t" \
    "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_t'::regclass")"
assert_eq "cic: both migrations applied once" "1,2|2" \
    "$(q "SELECT string_agg(version, ',' ORDER BY version) || '|' ||
                 (SELECT count(*) FROM strata_migrations_history)
          FROM strata_migrations WHERE state = 'applied'")"

# --- modules: first runs at once on a fresh database ------------------------
# Modules share the tracking tables but not the migration lock; creating
# the tables is serialised by a lock of its own, so every module's first
# run succeeds instead of colliding in CREATE TABLE IF NOT EXISTS.
for round in 1 2 3; do
    new_db
    MD=$TMP/modules$round
    for k in $(seq 1 8); do
        put "$MD/m$k/001_t$k.up.sql" "CREATE TABLE m${k}_t(id int);\n"
    done
    pids=()
    for k in $(seq 1 8); do
        "$STRATA" -q -d "$DBURL" -m "$MD/m$k" --module "m$k" up \
            >"$MD/out.$k" 2>"$MD/err.$k" &
        pids+=($!)
    done
    bad=""
    for k in $(seq 1 8); do
        wait "${pids[$((k - 1))]}" || bad="$bad [m$k: $(head -c 300 "$MD/err.$k")]"
    done
    assert_empty "modules round $round: 8 first runs at once all exit 0" "$bad"
    assert_eq "modules round $round: one row per module" "8" \
        "$(q "SELECT count(DISTINCT module) FROM strata_migrations WHERE state = 'applied'")"
done

finish
