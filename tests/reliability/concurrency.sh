#!/usr/bin/env bash
# concurrency.sh - many `strata up` processes released at the same moment on
# a fresh database, together with one `down` and one `status`, round after
# round: every migration runs exactly once, and at the end the tracking
# table matches the data exactly.
#
# Each migration inserts a proof row keyed by its version into a table made
# by migration 1; each down script deletes its own proof row. So after any
# interleaving, every tracked version has exactly one proof row and no
# untracked version has any. Some `up` processes are given a short
# --lock-timeout on purpose: they may exit 4, every other `up` must exit 0,
# and `down` and `status` must exit 0.
#
# SQLite: 16 `up` processes per round. PostgreSQL (when STRATA_PG_URL is
# set): 50. Deterministic choices come from SEED; ROUNDS (default 20) and
# PG_ROUNDS (default ROUNDS) for longer or shorter runs. The figures are
# the last lines: rounds, processes, failures.
. "$(dirname "$0")/rlib.sh"

cd "$TMP" || exit 1

SEED=${SEED:-20251025}
ROUNDS=${ROUNDS:-20}
PG_ROUNDS=${PG_ROUNDS:-$ROUNDS}
SQLITE_PROCS=${SQLITE_PROCS:-16}
PG_PROCS=${PG_PROCS:-50}
N=${N_MIGRATIONS:-12}
RANDOM=$SEED

TOTAL_ROUNDS=0
TOTAL_PROCS=0
TOTAL_APPLIED=0
TOTAL_LOCKED=0
TOTAL_REVERTED=0
T0=$SECONDS

# make_migrations DIR ENGINE: N migrations with up and down scripts.
make_migrations() {
    local dir=$1 engine=$2 i f work
    mkdir -p "$dir"
    if [ "$engine" = sqlite ]; then
        work="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) SELECT count(*) FROM c;"
    else
        work="SELECT count(*) FROM generate_series(1, 3000);"
    fi
    for i in $(seq 1 "$N"); do
        f=$(printf '%s/%03d_step%d' "$dir" "$i" "$i")
        {
            [ "$i" -eq 1 ] && echo "CREATE TABLE proof (v INTEGER NOT NULL);"
            echo "INSERT INTO proof (v) VALUES ($i);"
            echo "$work"
        } >"$f.up.sql"
        if [ "$i" -eq 1 ]; then
            echo "DROP TABLE proof;" >"$f.down.sql"
        else
            echo "DELETE FROM proof WHERE v = $i;" >"$f.down.sql"
        fi
    done
}

# query ENGINE TARGET SQL: one column of rows.
query() {
    if [ "$1" = sqlite ]; then
        "$SQLITE3" -batch "$2" "$3" 2>&1
    else
        "$PSQL" -X -q -At "$2" -c "$3" 2>&1
    fi
}

# round ENGINE R PROCS URL TARGET DIR: one round on a fresh database.
round() {
    local engine=$1 r=$2 procs=$3 url=$4 target=$5 dir=$6
    local gate=$TMP/gate-$engine-$r out=$TMP/$engine-$r
    mkdir -p "$out"
    : >"$gate"
    exec 9>"$gate"
    flock -x 9

    # Who does what this round: `procs` ups (two of them, at random, with a
    # short lock timeout), one down (1 to 3 steps) and one status, started
    # in a shuffled order.
    local short1=$((RANDOM % procs + 1)) short2=$((RANDOM % procs + 1))
    local dsteps=$((RANDOM % 3 + 1))
    local roles=() i
    for i in $(seq 1 "$procs"); do roles+=("up$i"); done
    roles+=(down status)
    local n=${#roles[@]} j tmp
    for ((i = n - 1; i > 0; i--)); do
        j=$((RANDOM % (i + 1)))
        tmp=${roles[i]}
        roles[i]=${roles[j]}
        roles[j]=$tmp
    done

    local pids=() names=() role args
    for role in "${roles[@]}"; do
        case $role in
        up*)
            args=(up)
            if [ "$role" = "up$short1" ] || [ "$role" = "up$short2" ]; then
                args=(--lock-timeout 0.05 up)
            fi
            ;;
        down) args=(down --steps "$dsteps") ;;
        status) args=(status --json) ;;
        esac
        (
            exec 9>&-
            flock -s "$gate" true
            exec "$STRATA" -d "$url" -m "$dir" "${args[@]}" \
                >"$out/$role.out" 2>"$out/$role.err"
        ) &
        pids+=($!)
        names+=("$role")
        BG_PIDS+=($!)
    done
    sleep 0.5 # every process is waiting at the gate
    exec 9>&- # open it: all start at once
    local k rc bad=0 locked=0
    for k in "${!pids[@]}"; do
        wait "${pids[k]}"
        rc=$?
        role=${names[k]}
        echo "$rc" >"$out/$role.rc"
        case $role in
        "up$short1" | "up$short2")
            if [ "$rc" -eq 4 ]; then
                locked=$((locked + 1))
            elif [ "$rc" -ne 0 ]; then
                bad=$((bad + 1))
                fail "$engine round $r: $role (--lock-timeout 0.05) exits 0 or 4" \
                    "exit $rc: $(head -c 600 "$out/$role.err")"
            fi
            ;;
        *)
            if [ "$rc" -ne 0 ]; then
                bad=$((bad + 1))
                fail "$engine round $r: $role exits 0" \
                    "exit $rc: $(head -c 600 "$out/$role.err")"
            fi
            ;;
        esac
    done
    [ "$bad" -eq 0 ] && pass
    TOTAL_LOCKED=$((TOTAL_LOCKED + locked))
    TOTAL_PROCS=$((TOTAL_PROCS + n))
    TOTAL_ROUNDS=$((TOTAL_ROUNDS + 1))

    # The tracking table matches the data.
    local tracked proof
    tracked=$(query "$engine" "$target" \
        "SELECT version FROM strata_migrations WHERE state = 'applied' ORDER BY CAST(version AS INTEGER)")
    proof=$(query "$engine" "$target" \
        "SELECT v || ':' || count(*) FROM proof GROUP BY v ORDER BY v" 2>/dev/null)
    local want_proof=""
    for v in $tracked; do want_proof+="$v:1"$'\n'; done
    want_proof=${want_proof%$'\n'}
    if printf '%s' "$proof" | grep -q 'no such table\|does not exist'; then
        proof=""
    fi
    assert_eq "$engine round $r: one proof row per tracked version, none for untracked" \
        "$want_proof" "$proof"
    assert_eq "$engine round $r: no tracking row in another state" "0" \
        "$(query "$engine" "$target" "SELECT count(*) FROM strata_migrations WHERE state <> 'applied'")"
    # applied versions are 1..k with k = N (down ran first, or was undone by
    # a later up) or k = N - dsteps (down ran last)
    local k_now
    k_now=$(printf '%s\n' "$tracked" | grep -c .)
    assert_eq "$engine round $r: tracked versions are 1..$k_now" \
        "$(seq 1 "$k_now")" "$tracked"
    if [ "$k_now" -ne "$N" ] && [ "$k_now" -ne $((N - dsteps)) ]; then
        fail "$engine round $r: $k_now applied (expected $N or $((N - dsteps)))" \
            "down: $(cat "$out/down.out" "$out/down.err")"
    else
        pass
    fi
    # the history agrees: per version, ups - downs = tracked (0 or 1), and
    # the processes' reports add up to it
    local hist
    hist=$(query "$engine" "$target" \
        "SELECT version FROM strata_migrations_history GROUP BY version
         HAVING sum(CASE WHEN action = 'up' THEN 1 WHEN action = 'down' THEN -1 ELSE 0 END) <> 0
         ORDER BY CAST(version AS INTEGER)")
    assert_eq "$engine round $r: history: ups minus downs = tracked rows" "$tracked" "$hist"
    local ups downs applied reverted
    ups=$(query "$engine" "$target" "SELECT count(*) FROM strata_migrations_history WHERE action = 'up'")
    downs=$(query "$engine" "$target" "SELECT count(*) FROM strata_migrations_history WHERE action = 'down'")
    applied=$(cat "$out"/up*.out | grep -c '^applied ')
    reverted=$(grep -c '^reverted ' "$out/down.out")
    assert_eq "$engine round $r: 'applied' lines = ups in the history" "$ups" "$applied"
    assert_eq "$engine round $r: 'reverted' lines = downs in the history" "$downs" "$reverted"
    TOTAL_APPLIED=$((TOTAL_APPLIED + applied))
    TOTAL_REVERTED=$((TOTAL_REVERTED + reverted))
    # what status saw was a consistent state: applied versions are 1..k
    json_check "$engine round $r: status saw a prefix of applied migrations" \
        "$(cat "$out/status.out")" "
states = [m['state'] for m in d['migrations']]
assert len(states) == $N, states
assert set(states) <= {'applied', 'pending'}, states
k = states.count('applied')
assert states == ['applied'] * k + ['pending'] * ($N - k), states"
}

# ---------------------------------------------------------------- SQLite
M=$TMP/m-sqlite
make_migrations "$M" sqlite
for r in $(seq 1 "$ROUNDS"); do
    round sqlite "$r" "$SQLITE_PROCS" "sqlite:$TMP/r$r.db" "$TMP/r$r.db" "$M"
    assert_eq "sqlite round $r: integrity" "ok" "$(sql "$TMP/r$r.db" 'PRAGMA integrity_check')"
done
T_SQLITE=$((SECONDS - T0))

# ------------------------------------------------------------ PostgreSQL
T_PG=0
if [ "$HAVE_PG" -eq 1 ]; then
    T1=$SECONDS
    P=$TMP/m-pg
    make_migrations "$P" pg
    for r in $(seq 1 "$PG_ROUNDS"); do
        new_db
        round pg "$r" "$PG_PROCS" "$DBURL" "$DBURL" "$P"
    done
    T_PG=$((SECONDS - T1))
else
    echo "note: no PostgreSQL server; the PostgreSQL rounds did not run"
fi

echo "$T_NAME: $CHECKS checks, $FAILS failed"
echo "migrations applied: $TOTAL_APPLIED, reverted: $TOTAL_REVERTED, lock timeouts (exit 4): $TOTAL_LOCKED"
echo "time: sqlite ${T_SQLITE}s, postgresql ${T_PG}s"
echo "rounds: $TOTAL_ROUNDS (sqlite $ROUNDS x $SQLITE_PROCS up + down + status$([ "$HAVE_PG" -eq 1 ] && echo ", postgresql $PG_ROUNDS x $PG_PROCS up + down + status"))"
echo "processes: $TOTAL_PROCS"
echo "failures: $FAILS"
[ "$FAILS" -eq 0 ]
