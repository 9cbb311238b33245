#!/usr/bin/env bash
# crash.sh - the crash suite: `strata up` is stopped at random moments, and
# every rerun must bring the database to exactly the state of a clean run.
#
# Workload (the same for both databases): 200 migrations, each creating a
# table t_NNNN with an index and inserting 10 rows, each with a down script.
# Every 20th (20, 40, ..., 200) is `-- strata:no-transaction` and runs
# statement by statement:
#   20, 60, 100, 140, 180  idempotent (CREATE ... IF NOT EXISTS, INSERT ...
#                          ON CONFLICT DO NOTHING)
#   40, 80, 120, 160, 200  not idempotent (plain CREATE TABLE, INSERT; on
#                          PostgreSQL the index is CREATE INDEX CONCURRENTLY)
#
# The dirty case. A fault inside a no-transaction migration leaves its row
# `dirty_up` and part of its statements applied. The rerun must then refuse
# (exit 3) with a message naming `repair`, and the documented procedure is:
#   idempotent:      strata repair; strata up   (the rerun converges)
#   not idempotent:  undo the partial statements by running the migration's
#                    down script (DROP TABLE IF EXISTS t_NNNN) by hand, then
#                    strata repair; strata up
# A dirty row for a transactional migration, or a refusal without a dirty
# row, is a failure.
#
# Faults, one kind per trial in turn; a trial injects 1 to 3 faults in a row
# (each on the state the previous one left, until the run completes or a
# dirty row appears), then reruns without faults:
#   SQLite      kill9         SIGKILL of the strata command after a random
#                             delay (0 .. 1.2 x a clean run, ms granularity)
#               vfs-kill      crash_driver (crashvfs.c) ends the process just
#                             before its Nth write/truncate/sync/delete
#               vfs-power     ... and first undoes every write not yet synced
#               vfs-power-random ... and first drops a random subset of them
#   PostgreSQL  kill9         SIGKILL of the strata command after a delay
#               terminate     pg_terminate_backend of its session after a delay
#
# Checks. Right after each fault: PRAGMA integrity_check is ok (SQLite); every
# tracking row marked applied has its migration's effects (table, index,
# 10 rows) and an `up` as its last history entry; no transactional migration
# has effects without an applied row, and none is dirty. After the rerun:
# schema (SQLite .schema; PostgreSQL pg_dump --schema-only without strata's
# tables), data (row count and content hash of every table) and tracking rows
# (version, name, checksum, state) equal a clean run's.
#
# Environment: CRASH_TRIALS (per database; default 12, 4 in a sanitizer
# build), CRASH_SEED (default 1), CRASH_KEEP=DIR keeps the database of every
# failed SQLite trial there. The last lines printed are the figures.
# shellcheck source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"

: "${CRASH_DRIVER:?CRASH_DRIVER must name the built crash_driver}"
SEED=${CRASH_SEED:-1}
if [ -n "${CRASH_TRIALS:-}" ]; then
    TRIALS=$CRASH_TRIALS
elif [ -n "${CRASH_SANITIZE:-}" ] && [ "${CRASH_SANITIZE}" != none ]; then
    TRIALS=4
else
    TRIALS=12
fi
RANDOM=$SEED
NMIG=200
MIGS=$TMP/sqlite-migrations
PGMIGS=$TMP/pg-migrations
# SQLite work goes to tmpfs when there is one: the power-loss model is the
# VFS shim's, real fsyncs would only cost time.
WORK=$TMP
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/strata-crash.XXXXXX) || WORK=$TMP
fi
crash_cleanup() {
    [ "$WORK" != "$TMP" ] && rm -rf "$WORK"
}

echo "crash: seed $SEED, $TRIALS trials per database"

# R: a random number in [0, $1), from bash's seeded generator (call it in
# the current shell, never in $(...), or the sequence does not advance).
rnd() { R=$(((RANDOM << 15 | RANDOM) % $1)); }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

is_notx() { [ $(($1 % 20)) -eq 0 ]; }
is_idempotent() { [ $(($1 % 40)) -eq 20 ]; }

# gen DIR DIALECT: writes the workload (DIALECT sqlite or pg).
gen() {
    local dir=$1 dialect=$2 v p i pad
    mkdir -p "$dir"
    pad=$(printf 'x%.0s' $(seq 1 150))
    for v in $(seq 1 $NMIG); do
        p=$(printf '%04d' "$v")
        {
            if is_notx "$v" && is_idempotent "$v"; then
                echo "-- strata:no-transaction"
                echo "CREATE TABLE IF NOT EXISTS t_$p (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);"
                echo "CREATE INDEX IF NOT EXISTS t_${p}_v ON t_$p (v);"
                for i in $(seq 1 10); do
                    echo "INSERT INTO t_$p (id, v, n) VALUES ($i, 'm$v r$i $pad', $((v * 1000 + i))) ON CONFLICT DO NOTHING;"
                done
            elif is_notx "$v"; then
                echo "-- strata:no-transaction"
                echo "CREATE TABLE t_$p (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);"
                for i in $(seq 1 10); do
                    echo "INSERT INTO t_$p (id, v, n) VALUES ($i, 'm$v r$i $pad', $((v * 1000 + i)));"
                done
                if [ "$dialect" = pg ]; then
                    echo "CREATE INDEX CONCURRENTLY t_${p}_v ON t_$p (v);"
                else
                    echo "CREATE INDEX t_${p}_v ON t_$p (v);"
                fi
            else
                echo "CREATE TABLE t_$p (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);"
                echo "CREATE INDEX t_${p}_v ON t_$p (v);"
                for i in $(seq 1 10); do
                    echo "INSERT INTO t_$p (id, v, n) VALUES ($i, 'm$v r$i $pad', $((v * 1000 + i)));"
                done
            fi
        } >"$dir/${p}_create_t_$p.up.sql"
        if is_notx "$v"; then
            echo "DROP TABLE IF EXISTS t_$p;" >"$dir/${p}_create_t_$p.down.sql"
        else
            echo "DROP TABLE t_$p;" >"$dir/${p}_create_t_$p.down.sql"
        fi
    done
}

# The query that fingerprints every table's data: name, count, content.
data_query() {
    local v p sep="" q=""
    for v in $(seq 1 $NMIG); do
        p=$(printf '%04d' "$v")
        q="$q$sep SELECT 't_$p', count(*), coalesce(sum(length(v) + n * id), 0), group_concat(id || ':' || n, ',') FROM (SELECT * FROM t_$p ORDER BY id)"
        sep=" UNION ALL"
    done
    printf '%s' "$q;"
}

# Per-database counters: trials, faults injected, failed trials, dirty
# recoveries.
declare -A N_TRIALS N_FAULTS N_FAILED N_DIRTY N_SKIPPED
TRIAL_FAILED=0
TRIAL_LABEL=""

tfail() {
    TRIAL_FAILED=1
    fail "$1" "$2"
}
tcheck_eq() {
    if [ "$2" == "$3" ]; then
        pass
    else
        TRIAL_FAILED=1
        assert_eq "$1" "$2" "$3"
    fi
}

# verify_rows KIND: checks, from the files $W/rows (version|state),
# $W/tables (t_NNNN), $W/indexes (t_NNNN_v), $W/counts (t_NNNN|count),
# $W/hist (version|last history action), that every applied migration's
# effects are there and no transactional migration's effects are there
# without an applied row.
verify_rows() {
    local what=$1 v state t c
    declare -A st has idx cnt last ref
    while IFS='|' read -r v state; do st[$v]=$state; done <"$W/rows"
    while read -r t; do [ -n "$t" ] && has[$t]=present; done <"$W/tables"
    while read -r t; do [ -n "$t" ] && idx[$t]=present; done <"$W/indexes"
    while IFS='|' read -r t c; do [ -n "$t" ] && cnt[$t]=$c; done <"$W/counts"
    while IFS='|' read -r v t; do [ -n "$v" ] && last[$v]=$t; done <"$W/hist"
    while IFS='|' read -r v t; do ref[$v]=$t; done <"$W/refrows"
    local ok=1
    for v in "${!st[@]}"; do
        t=$(printf 't_%04d' "$v")
        case ${st[$v]} in
            applied)
                if [ -z "${has[$t]:-}" ] || [ -z "${idx[${t}_v]:-}" ] ||
                    [ "${cnt[$t]:-}" != 10 ]; then
                    tfail "$what: migration $v recorded applied, effects absent" \
                        "table ${has[$t]:-ABSENT}, index ${idx[${t}_v]:-ABSENT}, rows ${cnt[$t]:-none}"
                    ok=0
                fi
                if [ "${last[$v]:-}" != up ]; then
                    tfail "$what: migration $v recorded applied" \
                        "its last history entry is [${last[$v]:-none}], not up"
                    ok=0
                fi
                ;;
            dirty_up)
                if ! is_notx "$v"; then
                    tfail "$what: transactional migration $v is dirty" "${st[$v]}"
                    ok=0
                fi
                ;;
            *)
                tfail "$what: migration $v has state" "${st[$v]}"
                ok=0
                ;;
        esac
    done
    # recorded name and checksum are the script's
    while IFS='|' read -r v t; do
        if [ "${ref[$v]:-}" != "$t" ]; then
            tfail "$what: tracking row of $v" "[$t], clean run has [${ref[$v]:-none}]"
            ok=0
        fi
    done <"$W/rowsums"
    for t in "${!has[@]}"; do
        v=$((10#${t#t_}))
        if [ -z "${st[$v]:-}" ]; then
            tfail "$what: migration $v has effects but no tracking row" \
                "table $t exists with ${cnt[$t]:-?} rows"
            ok=0
        fi
    done
    for v in "${!last[@]}"; do
        if [ "${last[$v]}" = up ] && [ "${st[$v]:-}" != applied ]; then
            tfail "$what: history says $v is up" "tracking row: ${st[$v]:-none}"
            ok=0
        fi
    done
    [ $ok -eq 1 ] && pass
}

# ---------------------------------------------------------------------------
# SQLite

sq() { "$SQLITE3" -batch "$DB" "$@" 2>&1; }

sqlite_counts() {
    local q="" sep="" t
    while read -r t; do
        [ -n "$t" ] || continue
        q="$q$sep SELECT '$t', count(*) FROM $t"
        sep=" UNION ALL"
    done <"$W/tables"
    if [ -n "$q" ]; then sq "$q;"; fi
}

# sqlite_after_fault LABEL: the checks right after a fault.
sqlite_after_fault() {
    local what=$1 ic
    ic=$(sq "PRAGMA integrity_check;")
    if [ "$ic" != ok ]; then
        tfail "$what: integrity_check" "$(show "$ic")"
        return
    fi
    pass
    local has_tracking
    has_tracking=$(sq "SELECT count(*) FROM sqlite_master WHERE name = 'strata_migrations'")
    if [ "$has_tracking" = 1 ]; then
        sq "SELECT version || '|' || state FROM strata_migrations" >"$W/rows"
        sq "SELECT version || '|' || name || '|' || checksum FROM strata_migrations" >"$W/rowsums"
        sq "SELECT version || '|' || action FROM strata_migrations_history h
            WHERE id = (SELECT max(id) FROM strata_migrations_history
                        WHERE version = h.version)" >"$W/hist"
    else
        : >"$W/rows"
        : >"$W/rowsums"
        : >"$W/hist"
    fi
    sq "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 't_[0-9]*'" >"$W/tables"
    sq "SELECT name FROM sqlite_master WHERE type = 'index' AND name GLOB 't_[0-9]*_v'" >"$W/indexes"
    sqlite_counts >"$W/counts"
    verify_rows "$what"
}

sqlite_tracking() {
    sq "SELECT module, version, name, checksum, state FROM strata_migrations
        ORDER BY CAST(version AS INTEGER)"
}
sqlite_data() { sq "$DATAQ" | sha256sum | cut -c1-64; }

# sqlite_recover LABEL: the rerun, with the documented repair procedure for
# a dirty no-transaction migration.
sqlite_recover() {
    local what=$1
    capture "$STRATA" -q -d "sqlite:$DB" -m "$MIGS" up
    [ "$RC" -eq 0 ] && return 0
    local dirty
    dirty=$(sq "SELECT version FROM strata_migrations WHERE state <> 'applied'")
    if [ "$RC" -ne 3 ] || [ -z "$dirty" ] || [[ "$dirty" == *$'\n'* ]]; then
        tfail "$what: rerun up" "exit $RC, not-applied rows [$dirty]; stderr: $(show "$ERR")"
        return 1
    fi
    N_DIRTY[sqlite]=$((N_DIRTY[sqlite] + 1))
    if [[ "$ERR" != *repair* ]] || ! is_notx "$dirty"; then
        tfail "$what: dirty refusal" "version $dirty; stderr: $(show "$ERR")"
        return 1
    fi
    pass
    if ! is_idempotent "$dirty"; then
        local down
        down=$(printf '%s/%04d_create_t_%04d.down.sql' "$MIGS" "$dirty" "$dirty")
        "$SQLITE3" -batch -bail "$DB" <"$down" ||
            { tfail "$what: undo by hand" "$down"; return 1; }
    fi
    capture "$STRATA" -q -d "sqlite:$DB" -m "$MIGS" repair
    [ "$RC" -eq 0 ] || { tfail "$what: repair" "exit $RC: $(show "$ERR")"; return 1; }
    capture "$STRATA" -q -d "sqlite:$DB" -m "$MIGS" up
    [ "$RC" -eq 0 ] || { tfail "$what: up after repair" "exit $RC: $(show "$ERR")"; return 1; }
    return 0
}

sqlite_compare() {
    local what=$1
    tcheck_eq "$what: integrity_check" ok "$(sq "PRAGMA integrity_check;")"
    tcheck_eq "$what: schema equals the clean run's" "$REF_SCHEMA" "$(sq .schema)"
    tcheck_eq "$what: data equals the clean run's" "$REF_DATA" "$(sqlite_data)"
    tcheck_eq "$what: tracking rows equal the clean run's" "$REF_TRACKING" \
        "$(sqlite_tracking)"
}

sqlite_suite() {
    W=$WORK/sqlite
    mkdir -p "$W"
    gen "$MIGS" sqlite
    DATAQ=$(data_query)
    DB=$W/ref.db
    local t0 t1
    t0=$(now_ms)
    capture "$STRATA" -q -d "sqlite:$DB" -m "$MIGS" up
    t1=$(now_ms)
    if [ "$RC" -ne 0 ]; then
        fail "sqlite: clean run" "exit $RC: $(show "$ERR")"
        return
    fi
    CLEAN_MS=$((t1 - t0))
    REF_SCHEMA=$(sq .schema)
    REF_DATA=$(sqlite_data)
    REF_TRACKING=$(sqlite_tracking)
    sq "SELECT version || '|' || name || '|' || checksum FROM strata_migrations" >"$W/refrows"
    DB=$W/count.db
    local events
    events=$("$CRASH_DRIVER" "$DB" "$MIGS" | sed -n 's/^events //p')
    if [ -z "$events" ] || [ "$events" -lt 100 ]; then
        fail "sqlite: clean run through the VFS shim" "events [$events]"
        return
    fi
    sqlite_compare "sqlite: crash_driver's clean run"
    echo "sqlite: clean run ${CLEAN_MS} ms, $events I/O events through the shim"

    local kinds=(kill9 vfs-kill vfs-power vfs-power-random)
    local trial kind nf f fired delay pid rc faults
    for trial in $(seq 1 "$TRIALS"); do
        kind=${kinds[$(((trial - 1) % 4))]}
        TRIAL_FAILED=0
        DB=$W/trial.db
        rm -f "$DB" "$DB-journal" "$DB-strata-lock"
        rnd 3
        nf=$((R + 1))
        faults=""
        for f in $(seq 1 "$nf"); do
            TRIAL_LABEL="sqlite trial $trial ($kind, fault $f)"
            fired=0
            case $kind in
                kill9)
                    rnd $((CLEAN_MS * 12 / 10 + 1))
                    delay=$R
                    "$STRATA" -q -d "sqlite:$DB" -m "$MIGS" up \
                        >/dev/null 2>"$W/err" &
                    pid=$!
                    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
                    kill -9 "$pid" 2>/dev/null
                    { wait "$pid"; } 2>/dev/null
                    rc=$?
                    [ "$rc" -eq 137 ] && fired=1
                    faults="$faults ${delay}ms"
                    ;;
                vfs-*)
                    rnd "$events"
                    local n=$((R + 1))
                    "$CRASH_DRIVER" --fault "$n" --mode "${kind#vfs-}" \
                        --seed "$SEED$trial$f" "$DB" "$MIGS" >/dev/null 2>"$W/err"
                    rc=$?
                    [ "$rc" -eq 99 ] && fired=1
                    faults="$faults @$n"
                    ;;
            esac
            if [ "$fired" -eq 1 ]; then
                N_FAULTS[sqlite]=$((N_FAULTS[sqlite] + 1))
                sqlite_after_fault "$TRIAL_LABEL"
                # a dirty row ends the chain: the next run would refuse
                sq "SELECT 'dirty' FROM strata_migrations WHERE state <> 'applied'" |
                    grep -qx dirty && break
            else
                # the run ended by itself before the fault point
                if [ "$rc" -ne 0 ]; then
                    tfail "$TRIAL_LABEL: run without a fault" "exit $rc: $(show "$(cat "$W/err")")"
                fi
                break
            fi
        done
        TRIAL_LABEL="sqlite trial $trial ($kind,$faults)"
        sqlite_recover "$TRIAL_LABEL" && sqlite_compare "$TRIAL_LABEL"
        N_TRIALS[sqlite]=$((N_TRIALS[sqlite] + 1))
        if [ "$TRIAL_FAILED" -eq 1 ]; then
            N_FAILED[sqlite]=$((N_FAILED[sqlite] + 1))
            echo "sqlite trial $trial FAILED: $kind, faults:$faults (seed $SEED)" >&2
            if [ -n "${CRASH_KEEP:-}" ]; then
                mkdir -p "$CRASH_KEEP"
                cp "$DB" "$CRASH_KEEP/sqlite-trial-$trial.db"
            fi
        fi
    done
}

# ---------------------------------------------------------------------------
# PostgreSQL

PG_DBS=()
pg_cleanup() {
    local d
    for d in "${PG_DBS[@]}"; do
        "$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c \
            "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1
    done
}

pq() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$DBURL" -c "$1" 2>&1; }

pg_new_db() {
    DBNAME="crash_$$_$1"
    "$PSQL" -X -q -v ON_ERROR_STOP=1 "$STRATA_PG_ADMIN_URL" \
        -c "CREATE DATABASE \"$DBNAME\" OWNER strata" >/dev/null || return 1
    PG_DBS+=("$DBNAME")
    DBURL=${STRATA_PG_URL/\/strata\?//$DBNAME?}
}
pg_drop_db() {
    "$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c \
        "DROP DATABASE IF EXISTS \"$DBNAME\" WITH (FORCE)" >/dev/null 2>&1
}

# strata's sessions on the trial database
pg_sessions() {
    pq "SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'strata'"
}
pg_wait_gone() {
    local i
    for i in $(seq 1 600); do
        [ "$(pg_sessions)" = 0 ] && return 0
        sleep 0.05
    done
    return 1
}

pg_after_fault() {
    local what=$1
    if [ "$(pq "SELECT to_regclass('strata_migrations') IS NOT NULL")" = t ]; then
        pq "SELECT version || '|' || state FROM strata_migrations" >"$W/rows"
        pq "SELECT version || '|' || name || '|' || checksum FROM strata_migrations" >"$W/rowsums"
        pq "SELECT DISTINCT ON (version) version || '|' || action
            FROM strata_migrations_history ORDER BY version, id DESC" >"$W/hist"
    else
        : >"$W/rows"
        : >"$W/rowsums"
        : >"$W/hist"
    fi
    pq "SELECT relname FROM pg_class WHERE relkind = 'r'
          AND relnamespace = 'public'::regnamespace AND relname ~ '^t_[0-9]+$'" >"$W/tables"
    pq "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relname ~ '^t_[0-9]+_v$' AND i.indisvalid" >"$W/indexes"
    pq "SELECT relname || '|' || (xpath('/row/c/text()',
               query_to_xml(format('SELECT count(*) AS c FROM %I', relname),
                            false, true, '')))[1]::text
        FROM pg_class WHERE relkind = 'r'
          AND relnamespace = 'public'::regnamespace AND relname ~ '^t_[0-9]+$'" >"$W/counts"
    verify_rows "$what"
}

pg_schema() {
    "$PG_DUMP" --schema-only --no-owner $PG_DUMP_KEY \
        --exclude-table='strata_migrations*' "$DBURL" 2>&1 | grep -v '^--'
}
pg_tracking() {
    pq "SELECT module || '|' || version || '|' || name || '|' || checksum || '|' || state
        FROM strata_migrations ORDER BY version::int"
}
pg_data() {
    pq "SELECT relname || '|' || (xpath('/row/c/text()', query_to_xml(format(
          'SELECT count(*) || '':'' || md5(string_agg(id || '':'' || v || '':'' || n, '','' ORDER BY id)) AS c FROM %I',
          relname), false, true, '')))[1]::text
        FROM pg_class WHERE relkind = 'r'
          AND relnamespace = 'public'::regnamespace AND relname ~ '^t_[0-9]+$'
        ORDER BY relname" | sha256sum | cut -c1-64
}

pg_recover() {
    local what=$1
    capture "$STRATA" -q -d "$DBURL" -m "$PGMIGS" --lock-timeout 60 up
    [ "$RC" -eq 0 ] && return 0
    local dirty
    dirty=$(pq "SELECT version FROM strata_migrations WHERE state <> 'applied'")
    if [ "$RC" -ne 3 ] || [ -z "$dirty" ] || [[ "$dirty" == *$'\n'* ]]; then
        tfail "$what: rerun up" "exit $RC, not-applied rows [$dirty]; stderr: $(show "$ERR")"
        return 1
    fi
    N_DIRTY[postgres]=$((N_DIRTY[postgres] + 1))
    if [[ "$ERR" != *repair* ]] || ! is_notx "$dirty"; then
        tfail "$what: dirty refusal" "version $dirty; stderr: $(show "$ERR")"
        return 1
    fi
    pass
    if ! is_idempotent "$dirty"; then
        local down
        down=$(printf '%s/%04d_create_t_%04d.down.sql' "$PGMIGS" "$dirty" "$dirty")
        "$PSQL" -X -q -v ON_ERROR_STOP=1 "$DBURL" -f "$down" >/dev/null 2>&1 ||
            { tfail "$what: undo by hand" "$down"; return 1; }
    fi
    capture "$STRATA" -q -d "$DBURL" -m "$PGMIGS" repair
    [ "$RC" -eq 0 ] || { tfail "$what: repair" "exit $RC: $(show "$ERR")"; return 1; }
    capture "$STRATA" -q -d "$DBURL" -m "$PGMIGS" up
    [ "$RC" -eq 0 ] || { tfail "$what: up after repair" "exit $RC: $(show "$ERR")"; return 1; }
    return 0
}

pg_compare() {
    local what=$1
    tcheck_eq "$what: schema equals the clean run's" "$REF_SCHEMA" "$(pg_schema)"
    tcheck_eq "$what: data equals the clean run's" "$REF_DATA" "$(pg_data)"
    tcheck_eq "$what: tracking rows equal the clean run's" "$REF_TRACKING" \
        "$(pg_tracking)"
}

pg_suite() {
    PSQL="$STRATA_PG_BIN/psql"
    PG_DUMP="$STRATA_PG_BIN/pg_dump"
    PG_DUMP_KEY=""
    "$PG_DUMP" --help | grep -q -- --restrict-key && PG_DUMP_KEY=--restrict-key=crash
    W=$WORK/pg
    mkdir -p "$W"
    gen "$PGMIGS" pg
    pg_new_db ref || { fail "postgres: setup" "cannot create a database"; return; }
    local t0 t1
    t0=$(now_ms)
    capture "$STRATA" -q -d "$DBURL" -m "$PGMIGS" up
    t1=$(now_ms)
    if [ "$RC" -ne 0 ]; then
        fail "postgres: clean run" "exit $RC: $(show "$ERR")"
        return
    fi
    local clean_ms=$((t1 - t0))
    REF_SCHEMA=$(pg_schema)
    REF_DATA=$(pg_data)
    REF_TRACKING=$(pg_tracking)
    pq "SELECT version || '|' || name || '|' || checksum FROM strata_migrations" >"$W/refrows"
    pg_drop_db
    echo "postgres: clean run ${clean_ms} ms"

    local kinds=(kill9 terminate)
    local trial kind nf f fired delay pid rc faults killed
    for trial in $(seq 1 "$TRIALS"); do
        kind=${kinds[$(((trial - 1) % 2))]}
        TRIAL_FAILED=0
        pg_new_db "$trial" || { fail "postgres: setup" "cannot create a database"; return; }
        rnd 3
        nf=$((R + 1))
        faults=""
        for f in $(seq 1 "$nf"); do
            TRIAL_LABEL="postgres trial $trial ($kind, fault $f)"
            fired=0
            rnd $((clean_ms * 12 / 10 + 1))
            delay=$R
            faults="$faults ${delay}ms"
            "$STRATA" -q -d "$DBURL" -m "$PGMIGS" --lock-timeout 60 up \
                >/dev/null 2>"$W/err" &
            pid=$!
            sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
            if [ "$kind" = kill9 ]; then
                kill -9 "$pid" 2>/dev/null
                { wait "$pid"; } 2>/dev/null
                rc=$?
                [ "$rc" -eq 137 ] && fired=1
            else
                # In FILTER, not WHERE: PostgreSQL would push a volatile
                # qual below the join that supplies datname and terminate
                # strata sessions of other databases (other tests).
                killed=$(pq "SELECT count(*) FILTER
                                 (WHERE pg_terminate_backend(pid))
                             FROM pg_stat_activity
                             WHERE datname = current_database()
                               AND application_name = 'strata'")
                { wait "$pid"; } 2>/dev/null
                rc=$?
                [ "$killed" != 0 ] && [ "$rc" -ne 0 ] && fired=1
                if [ "$fired" -eq 1 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 5 ]; then
                    tfail "$TRIAL_LABEL: terminated run's exit" "expected 1 or 5, got $rc: $(show "$(cat "$W/err")")"
                fi
            fi
            if ! pg_wait_gone; then
                tfail "$TRIAL_LABEL: strata's session ends" "still there after 30 s"
            fi
            if [ "$fired" -eq 1 ]; then
                N_FAULTS[postgres]=$((N_FAULTS[postgres] + 1))
                pg_after_fault "$TRIAL_LABEL"
                pq "SELECT 'dirty' FROM strata_migrations WHERE state <> 'applied'" |
                    grep -qx dirty && break
            else
                if [ "$rc" -ne 0 ]; then
                    tfail "$TRIAL_LABEL: run without a fault" "exit $rc: $(show "$(cat "$W/err")")"
                fi
                break
            fi
        done
        TRIAL_LABEL="postgres trial $trial ($kind,$faults)"
        pg_recover "$TRIAL_LABEL" && pg_compare "$TRIAL_LABEL"
        N_TRIALS[postgres]=$((N_TRIALS[postgres] + 1))
        if [ "$TRIAL_FAILED" -eq 1 ]; then
            N_FAILED[postgres]=$((N_FAILED[postgres] + 1))
            echo "postgres trial $trial FAILED: $kind, faults:$faults (seed $SEED)" >&2
        else
            pg_drop_db
        fi
    done
}

# ---------------------------------------------------------------------------

for d in sqlite postgres; do
    N_TRIALS[$d]=0 N_FAULTS[$d]=0 N_FAILED[$d]=0 N_DIRTY[$d]=0 N_SKIPPED[$d]=0
done
trap 'pg_cleanup; crash_cleanup; cleanup' EXIT

START=$(now_ms)
sqlite_suite
if [ -n "${STRATA_PG_URL:-}" ] && [ -n "${STRATA_PG_ADMIN_URL:-}" ] &&
    [ -n "${STRATA_PG_BIN:-}" ]; then
    pg_suite
else
    N_SKIPPED[postgres]=1
fi
END=$(now_ms)

echo "crash: $CHECKS checks, $FAILS failed, $(((END - START) / 1000)) s, seed $SEED"
for d in sqlite postgres; do
    if [ "${N_SKIPPED[$d]}" -eq 1 ]; then
        echo "$d: skipped (no PostgreSQL server: run under scripts/with-postgres.sh)"
    else
        echo "$d: trials ${N_TRIALS[$d]}, faults injected ${N_FAULTS[$d]}, failures ${N_FAILED[$d]} (dirty no-transaction recoveries ${N_DIRTY[$d]})"
    fi
done
[ "$FAILS" -eq 0 ]
