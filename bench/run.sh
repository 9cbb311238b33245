#!/usr/bin/env bash
# bench/run.sh - strata against the lower bound, on SQLite and PostgreSQL.
#
#   bench/run.sh                    N = 100 and 1,000
#   BENCH_FULL=1 bench/run.sh       also N = 10,000 (long: see README.md)
#
# See bench/README.md for what is measured and how. Writes
# bench/results/{RESULTS.md,results.tsv,plot.png} (or $BENCH_OUT/...);
# $CC, which may carry flags, builds the C helpers; scratch files go to
# $BENCH_WORK (default bench/.work, on the same disk as the repository, so
# that SQLite's fsyncs are real).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench

# --- a PostgreSQL cluster of our own, made durable --------------------------
# scripts/with-postgres.sh starts a throwaway cluster with fsync=off; we turn
# fsync, synchronous_commit and full_page_writes back on (all reloadable) so
# that commits cost what they cost in production. BENCH_PG_FAST=1 keeps the
# test settings. With STRATA_PG_URL already set, that server is used as is.
if [ -z "${STRATA_PG_URL:-}" ]; then
    export BENCH_OWN_PG=1
    exec "$ROOT/scripts/with-postgres.sh" "$0" "$@"
fi

STRATA=${STRATA:-$ROOT/build/strata}
LIBDIR=${LIBDIR:-$ROOT/build/src}
WORK=${BENCH_WORK:-$BENCH/.work}
OUT=${BENCH_OUT:-$BENCH/results}
NS=${BENCH_NS:-"100 1000"}
[ "${BENCH_FULL:-0}" = 1 ] && NS=${BENCH_NS:-"100 1000 10000"}
NOOP_RUNS=${BENCH_NOOP_RUNS:-31}
INPROC_K=${BENCH_INPROC_K:-200}
# Fresh apply is timed up to this N. Above it (N = 10,000: on a busy disk one
# SQLite apply can take tens of minutes, times two tools) the up-to-date
# database is built untimed: SQLite with `up --single-transaction`,
# PostgreSQL with a plain `up` (one transaction would need a lock per
# created relation, 50,000, beyond max_locks_per_transaction).
APPLY_MAX=${BENCH_APPLY_MAX:-1000}
# Repetitions of a fresh apply (each strata run is paired with a raw run).
apply_runs() {
    case $1 in
    100) echo "${BENCH_APPLY_RUNS_100:-5}" ;;
    1000) echo "${BENCH_APPLY_RUNS_1000:-5}" ;;
    *) echo "${BENCH_APPLY_RUNS_BIG:-1}" ;;
    esac
}

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# Also from a command substitution: $$ is the script's own shell.
die() { log "error: $*"; kill -TERM $$; exit 1; }

[ -x "$STRATA" ] && [ -e "$LIBDIR/libstrata.so" ] || die "build first: make"

# --- tools --------------------------------------------------------------------
need_pkgs=()
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v gnuplot >/dev/null 2>&1 || need_pkgs+=(gnuplot-nox)
command -v sqlite3 >/dev/null 2>&1 || need_pkgs+=(sqlite3)
command -v strace >/dev/null 2>&1 || need_pkgs+=(strace)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        "${need_pkgs[@]}" >/dev/null || log "could not install ${need_pkgs[*]}"
fi
# The real psql: Debian's /usr/bin/psql is a Perl wrapper (pg_wrapper) that
# adds ~19 ms to every start.
PSQL=${STRATA_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}/psql
[ -x "$PSQL" ] || die "no psql binary under /usr/lib/postgresql/*/bin"
SQLITE3=$(command -v sqlite3) || die "sqlite3 is not installed"
read -r -a CC <<<"${CC:-cc}"

mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd)
TSV=$OUT/results.tsv
printf 'backend\tn\tmeasure\ttool\tmedian\tmin\tmax\truns\tunit\n' >"$TSV"
SAMPLES=$OUT/samples.tsv
printf 'backend\tn\tmeasure\ttool\tunit\tvalues\n' >"$SAMPLES"

# --- PostgreSQL setup ------------------------------------------------------
pg_admin() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -At "$STRATA_PG_ADMIN_URL" "$@"; }
if [ "${BENCH_OWN_PG:-0}" = 1 ] && [ "${BENCH_PG_FAST:-0}" != 1 ]; then
    pg_admin -c "ALTER SYSTEM SET fsync = on" \
        -c "ALTER SYSTEM SET synchronous_commit = on" \
        -c "ALTER SYSTEM SET full_page_writes = on" \
        -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
fi
PG_SETTINGS=$(pg_admin -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',
    'full_page_writes', 'shared_buffers', 'wal_sync_method')")
PG_VERSION=$(pg_admin -c "SHOW server_version")
log "PostgreSQL $PG_VERSION: $PG_SETTINGS"
# pg_url DB: the strata role's URL on database DB.
pg_url() { printf '%s\n' "$STRATA_PG_URL" | sed "s|@/[^?]*?|@/$1?|"; }
pg_recreate() {
    pg_admin -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1 OWNER strata" >/dev/null
}

# --- measuring -------------------------------------------------------------
# Wall time from bash's $EPOCHREALTIME (no fork, microseconds); `date +%s%N`
# where bash lacks it.
now_us() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo "$t"
    else
        echo $(($(date +%s%N) / 1000))
    fi
}
# timed VAR CMD...: runs CMD (output discarded), appends its wall time in
# microseconds to the array VAR. A failing command stops the benchmark.
timed() {
    local -n _acc=$1
    shift
    local t0 t1
    t0=$(now_us)
    "$@" >/dev/null 2>"$WORK/.err" || {
        cat "$WORK/.err" >&2
        die "failed: $*"
    }
    t1=$(now_us)
    _acc+=($((t1 - t0)))
}
# stats VALUES...: "median min max count" of integers.
stats() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%d %d %d %d\n", m, v[1], v[NR], NR }'
}
# record BACKEND N MEASURE TOOL UNIT VALUES...
record() {
    local b=$1 n=$2 m=$3 tool=$4 unit=$5
    shift 5
    local med min max cnt
    read -r med min max cnt < <(stats "$@")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$n" "$m" "$tool" \
        "$med" "$min" "$max" "$cnt" "$unit" >>"$TSV"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$n" "$m" "$tool" "$unit" "$*" >>"$SAMPLES"
    log "$b N=$n $m $tool: median $med $unit ($cnt runs, $min..$max)"
}
# record_paired BACKEND N MEASURE [DEN TOOL]: the median of strata/raw over
# the pairs of the arrays S and R, or S and the array named DEN (runs of one
# round, close together, so drift cancels), in 1/1000, recorded as TOOL
# (ratio_paired).
record_paired() {
    local -n _den=${4:-R}
    local i P=()
    for i in "${!S[@]}"; do
        P+=($((S[i] * 1000 / _den[i])))
    done
    record "$1" "$2" "$3" "${5:-ratio_paired}" permille "${P[@]}"
}
# peak_kb CMD...: peak resident set size of CMD in kilobytes.
peak_kb() {
    /usr/bin/time -f %M -o "$WORK/.time" "$@" >/dev/null 2>&1 ||
        die "failed under time: $*"
    tail -n 1 "$WORK/.time"
}

# --- the helper programs ---------------------------------------------------
# build_helpers N: the embedded set of N's migrations, and the two programs
# linked with it.
build_helpers() {
    local d=$WORK/n$1
    "$STRATA" embed "$d/migrations" -o "$d/embedded.c" --quiet
    "${CC[@]}" -O2 -c -o "$d/embedded.o" -I"$ROOT/include" "$d/embedded.c"
    local p
    for p in noop_embedded inproc; do
        "${CC[@]}" -O2 -std=c11 -Wall -Wextra -I"$ROOT/include" -o "$d/$p" \
            "$BENCH/$p.c" "$d/embedded.o" -L"$LIBDIR" -lstrata \
            -Wl,-rpath,"$LIBDIR"
    done
}

# The floor under strata's memory on PostgreSQL: a program that only connects
# with libpq and runs `select 1` (libpq-dev, which the build needs, has the
# header).
FLOOR=$WORK/libpq_floor
# shellcheck disable=SC2046 # pkg-config prints flags to split
"${CC[@]}" -O2 -std=c11 -Wall -Wextra -o "$FLOOR" "$BENCH/libpq_floor.c" \
    $(pkg-config --cflags --libs libpq 2>/dev/null ||
        echo -I/usr/include/postgresql -lpq) ||
    die "cannot build bench/libpq_floor.c: is libpq-dev installed?"

# --- round trips (PostgreSQL), as tests/pg/roundtrips.sh counts them --------
# sends FILE: "CONN QUERY TERM" - sends on the PostgreSQL socket before the
# first query, carrying queries, and the Terminate message.
sends() {
    awk '
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
        END { print conn + 0, q + 0, term + 0 }' "$1"
}
traced_sends() {
    # LeakSanitizer cannot run under ptrace: off for a sanitized build.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=connect,sendto,sendmsg,write -o "$WORK/.trace" \
        "$@" >/dev/null 2>&1 || die "failed under strace: $*"
    sends "$WORK/.trace"
}

# round_order: the five commands of a no-op round (A-E) in a new random
# order each round: in a fixed order the command after the heaviest one
# always runs on caches that one has just evicted, which tilts its paired
# ratio.
round_order() { printf '%s\n' A B C D E | shuf; }

# pg_steady URL DIR: runs no-op starts until one trusts the digest cache (one
# query), as every start does once a store has gone through. The run that
# wrote stores the digest, but a transaction open anywhere in the cluster
# then (an autovacuum worker, say) defers that store to a later start, and
# a start that finds the cache stale digests the rows in a second query and
# stores it (pg_digest.h): a cost once per change, not per boot, which the
# per-boot figures below leave out.
pg_steady() {
    local try cc qc tc
    if ! strace -f -o /dev/null true 2>/dev/null; then
        for try in 1 2 3; do "$STRATA" -q -d "$1" -m "$2" up >/dev/null; done
        return
    fi
    for try in $(seq 20); do
        read -r cc qc tc < <(traced_sends "$STRATA" -q -d "$1" -m "$2" up)
        if [ "$qc" = 1 ]; then
            [ "$try" = 1 ] || log "N=$n PostgreSQL: the digest cache held after $try starts"
            return
        fi
        sleep 0.5
    done
    log "N=$n PostgreSQL: the digest cache never held (20 starts)"
}

# --- other migration tools, where installed -----------------------------------
. "$BENCH/others.sh"
others_find
[ -n "$OTHERS" ] && log "other migration tools: $OTHERS"
printf '%s' "$OTHER_VERSIONS" >"$OUT/others.txt"

# --- the workload ------------------------------------------------------------
declare -A RT # round-trip findings, printed into RESULTS.md
for n in $NS; do
    d=$WORK/n$n
    log "N=$n: generating"
    mkdir -p "$d"
    "$BENCH/gen.sh" "$n" "$d"
    build_helpers "$n"
    runs=$(apply_runs "$n")

    # ---- SQLite ----
    sdb=$d/apply.db
    S=() R=() T=()
    if [ "$n" -gt "$APPLY_MAX" ]; then
        log "N=$n SQLite: building the database (untimed, --single-transaction)"
        rm -f "$sdb" "$sdb"-*
        kb=$(peak_kb "$STRATA" -q -d "sqlite:$sdb" -m "$d/migrations" up --single-transaction)
        record sqlite "$n" apply_1tx strata kb "$kb"
    else
    log "N=$n SQLite: fresh apply x $runs (strata, raw, raw with strata's rows, interleaved)"
    for _ in $(seq "$runs"); do
        rm -f "$sdb" "$sdb"-*
        timed S "$STRATA" -q -d "sqlite:$sdb" -m "$d/migrations" up
        rm -f "$sdb" "$sdb"-*
        timed R sh -c '"$1" -bail "$2" <"$3"' sh "$SQLITE3" "$sdb" "$d/raw.sql"
        rm -f "$sdb" "$sdb"-*
        timed T sh -c '"$1" -bail "$2" <"$3"' sh "$SQLITE3" "$sdb" "$d/raw_tracked.sqlite.sql"
    done
    record sqlite "$n" apply strata us "${S[@]}"
    record sqlite "$n" apply raw us "${R[@]}"
    record sqlite "$n" apply raw_tracked us "${T[@]}"
    record_paired sqlite "$n" apply
    record_paired sqlite "$n" apply T ratio_paired_tracked
    rm -f "$sdb" "$sdb"-*
    mem_apply_raw=$(peak_kb sh -c '"$1" -bail "$2" <"$3"' sh "$SQLITE3" "$sdb" "$d/raw.sql")
    rm -f "$sdb" "$sdb"-*
    mem_apply=$(peak_kb "$STRATA" -q -d "sqlite:$sdb" -m "$d/migrations" up)
    record sqlite "$n" apply strata kb "$mem_apply"
    record sqlite "$n" apply raw kb "$mem_apply_raw"
    fi

    # the up-to-date database: the one just applied
    surl="sqlite:$sdb"
    log "N=$n SQLite: no-op up, status x $NOOP_RUNS (interleaved)"
    A=() B=() C=() D=() E=()
    for _ in $(seq "$NOOP_RUNS"); do
        for k in $(round_order); do
            case $k in
            A) timed A "$STRATA" -q -d "$surl" -m "$d/migrations" up ;;
            B) timed B "$d/noop_embedded" "$surl" ;;
            C) timed C "$SQLITE3" "$sdb" 'select 1' ;;
            D) timed D "$STRATA" -d "$surl" -m "$d/migrations" status ;;
            E) timed E "$SQLITE3" "$sdb" 'select * from strata_migrations' ;;
            esac
        done
    done
    record sqlite "$n" noop_up strata_dir us "${A[@]}"
    record sqlite "$n" noop_up strata_embedded us "${B[@]}"
    record sqlite "$n" noop_up raw us "${C[@]}"
    record sqlite "$n" status strata us "${D[@]}"
    record sqlite "$n" status raw us "${E[@]}"
    # against the select 1 run beside it, which cancels drift between rounds
    S=("${A[@]}") && record_paired sqlite "$n" noop_up C ratio_paired_dir
    S=("${B[@]}") && record_paired sqlite "$n" noop_up C ratio_paired_embedded
    record sqlite "$n" noop_up strata_dir kb "$(peak_kb "$STRATA" -q -d "$surl" -m "$d/migrations" up)"
    record sqlite "$n" noop_up strata_embedded kb "$(peak_kb "$d/noop_embedded" "$surl")"
    record sqlite "$n" noop_up raw kb "$(peak_kb "$SQLITE3" "$sdb" 'select 1')"
    record sqlite "$n" status strata kb "$(peak_kb "$STRATA" -d "$surl" -m "$d/migrations" status)"
    record sqlite "$n" status raw kb "$(peak_kb "$SQLITE3" "$sdb" 'select * from strata_migrations')"
    line=$("$d/inproc" "$surl" "$INPROC_K")
    log "N=$n SQLite in-process: $line"
    med=$(printf '%s\n' "$line" | sed 's/.*median_us=\([0-9.]*\).*/\1/')
    printf 'sqlite\t%s\tinproc_up\tstrata_embedded\t%s\t\t\t%s\tus\n' "$n" "$med" "$INPROC_K" >>"$TSV"

    # ---- PostgreSQL ----
    adb=bench_apply
    aurl=$(pg_url $adb)
    S=() R=()
    if [ "$n" -gt "$APPLY_MAX" ]; then
        log "N=$n PostgreSQL: building the database (one strata up, no raw pair)"
        pg_recreate $adb
        timed S /usr/bin/time -f %M -o "$WORK/.time" "$STRATA" -q -d "$aurl" -m "$d/migrations" up
        record pg "$n" apply_once strata us "${S[@]}"
        record pg "$n" apply_once strata kb "$(tail -n 1 "$WORK/.time")"
    else
    log "N=$n PostgreSQL: fresh apply x $runs (strata, raw, interleaved)"
    for _ in $(seq "$runs"); do
        pg_recreate $adb
        timed S "$STRATA" -q -d "$aurl" -m "$d/migrations" up
        pg_recreate $adb
        timed R "$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$d/raw.sql" "$aurl"
    done
    record pg "$n" apply strata us "${S[@]}"
    record pg "$n" apply raw us "${R[@]}"
    record_paired pg "$n" apply
    pg_recreate $adb
    mem_apply_raw=$(peak_kb "$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$d/raw.sql" "$aurl")
    pg_recreate $adb
    mem_apply=$(peak_kb "$STRATA" -q -d "$aurl" -m "$d/migrations" up)
    record pg "$n" apply strata kb "$mem_apply"
    record pg "$n" apply raw kb "$mem_apply_raw"
    fi

    purl=$aurl # up to date now
    pg_steady "$purl" "$d/migrations"
    log "N=$n PostgreSQL: no-op up, status x $NOOP_RUNS (interleaved)"
    A=() B=() C=() D=() E=()
    for _ in $(seq "$NOOP_RUNS"); do
        for k in $(round_order); do
            case $k in
            A) timed A "$STRATA" -q -d "$purl" -m "$d/migrations" up ;;
            B) timed B "$d/noop_embedded" "$purl" ;;
            C) timed C "$PSQL" -X -q -At -c 'select 1' "$purl" ;;
            D) timed D "$STRATA" -d "$purl" -m "$d/migrations" status ;;
            E) timed E "$PSQL" -X -q -At -c 'select * from strata_migrations' "$purl" ;;
            esac
        done
    done
    record pg "$n" noop_up strata_dir us "${A[@]}"
    record pg "$n" noop_up strata_embedded us "${B[@]}"
    record pg "$n" noop_up raw us "${C[@]}"
    record pg "$n" status strata us "${D[@]}"
    record pg "$n" status raw us "${E[@]}"
    # against the select 1 run beside it, which cancels drift between rounds
    S=("${A[@]}") && record_paired pg "$n" noop_up C ratio_paired_dir
    S=("${B[@]}") && record_paired pg "$n" noop_up C ratio_paired_embedded
    record pg "$n" noop_up strata_dir kb "$(peak_kb "$STRATA" -q -d "$purl" -m "$d/migrations" up)"
    record pg "$n" noop_up strata_embedded kb "$(peak_kb "$d/noop_embedded" "$purl")"
    record pg "$n" noop_up raw kb "$(peak_kb "$PSQL" -X -q -At -c 'select 1' "$purl")"
    record pg "$n" noop_up libpq_floor kb "$(peak_kb "$FLOOR" "$purl")"
    record pg "$n" status strata kb "$(peak_kb "$STRATA" -d "$purl" -m "$d/migrations" status)"
    record pg "$n" status raw kb "$(peak_kb "$PSQL" -X -q -At -c 'select * from strata_migrations' "$purl")"
    line=$("$d/inproc" "$purl" "$INPROC_K")
    log "N=$n PostgreSQL in-process: $line"
    med=$(printf '%s\n' "$line" | sed 's/.*median_us=\([0-9.]*\).*/\1/')
    printf 'pg\t%s\tinproc_up\tstrata_embedded\t%s\t\t\t%s\tus\n' "$n" "$med" "$INPROC_K" >>"$TSV"

    # round trips: sends on the server socket
    if strace -f -o /dev/null true 2>/dev/null; then
        read -r cc qc tc < <(traced_sends "$STRATA" -q -d "$purl" -m "$d/migrations" up)
        read -r c1 q1 t1 < <(traced_sends "$d/inproc" "$purl" 1 0)
        read -r c2 q2 t2 < <(traced_sends "$d/inproc" "$purl" 11 0)
        per=$(awk -v a="$q1" -v b="$q2" 'BEGIN { printf "%g", (b - a) / 10 }')
        read -r ce qe te < <(traced_sends "$d/noop_embedded" "$purl")
        read -r cp qp tp < <(traced_sends "$PSQL" -X -q -At -c 'select 1' "$purl")
        RT[$n]="$per|$cc+$qc+$tc|$ce+$qe+$te|$cp+$qp+$tp"
        printf 'pg\t%s\tinproc_up\tsends_per_call\t%s\t\t\t10\tsends\n' "$n" "$per" >>"$TSV"
        log "N=$n PostgreSQL sends: in-process up $per per call; CLI up $cc+$qc+$tc; embedded $ce+$qe+$te; psql select 1 $cp+$qp+$tp (connect+query+terminate)"
    else
        log "strace cannot trace here: no round-trip count"
    fi

    others_measure "$n" "$d"
done

# --- the report --------------------------------------------------------------
export PG_SETTINGS PG_VERSION NS NOOP_RUNS INPROC_K
RT_TEXT=""
for n in $NS; do
    [ -n "${RT[$n]:-}" ] && RT_TEXT="$RT_TEXT$n|${RT[$n]}
"
done
export RT_TEXT
export SQLITE_VERSION=$("$SQLITE3" --version | cut -d' ' -f1)
export SQLITE_SETTINGS=$("$SQLITE3" "$WORK/.probe.db" 'pragma journal_mode' 'pragma synchronous' | paste -sd' ')
rm -f "$WORK/.probe.db"
"$BENCH/report.sh" "$TSV" "$OUT"
log "done: $OUT/RESULTS.md, $OUT/plot.png"
