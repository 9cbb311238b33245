#!/usr/bin/env bash
# bench/profile.sh [N] - where strata's no-op startup and status spend their
# time, in instructions (callgrind: repeatable, unlike wall time) and in
# system calls (strace -c), for the targets bench/run.sh reports as missed.
# Uses the workload and helpers run.sh left in $BENCH_WORK/nN (run it
# first). Writes bench/results/PROFILE-N.txt. Needs valgrind.
#
#   bench/profile.sh 1000
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${STRATA_PG_URL:-}" ]; then
    exec "$ROOT/scripts/with-postgres.sh" "$0" "$@"
fi
N=${1:-1000}
STRATA=$ROOT/build/strata
WORK=${BENCH_WORK:-$ROOT/bench/.work}
d=$WORK/n$N
[ -x "$d/inproc" ] || { echo "run bench/run.sh first (no $d/inproc)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
out=$ROOT/bench/results/PROFILE-$N.txt
P=$WORK/prof$N
mkdir -p "$P"

# An up-to-date SQLite database and PostgreSQL database of N migrations.
sdb=$P/s.db
rm -f "$sdb" "$sdb"-*
"$STRATA" -q -d "sqlite:$sdb" -m "$d/migrations" up --single-transaction
PSQL=$STRATA_PG_BIN/psql
"$PSQL" -X -q "$STRATA_PG_ADMIN_URL" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS bench_prof WITH (FORCE)" \
    -c "CREATE DATABASE bench_prof OWNER strata" >/dev/null
purl=$(printf '%s\n' "$STRATA_PG_URL" | sed "s|@/[^?]*?|@/bench_prof?|")
"$STRATA" -q -d "$purl" -m "$d/migrations" up --single-transaction

# cg NAME CMD...: callgrind CMD into $P/NAME.cg; prints the total.
cg() {
    local name=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$P/$name.cg" "$@" \
        >/dev/null 2>"$P/$name.vg"
    grep -o 'refs: *[0-9,]*' "$P/$name.vg" | tr -d ' ,' | cut -d: -f2
}
# top NAME [LINES]: inclusive instruction counts by function, strata's and
# the libraries' (startup glue and recursion duplicates left out).
top() {
    callgrind_annotate --inclusive=yes "$P/$1.cg" 2>/dev/null |
        awk '/^ *[0-9,]+ \(/ && !/below main|libc-start|libc_start|0x000000000001ab70|'"'"'2 / ' |
        sed -e 's/ \[.*//' -e 's|/work/main/build/../||' | head -n "${2:-28}"
}
# delta A B K: per-call instructions of B over A ((B - A) / K) by function.
delta() {
    local f
    for f in "$1" "$2"; do
        callgrind_annotate --inclusive=yes "$P/$f.cg" 2>/dev/null |
            awk '/^ *[0-9,]+ \(/ { v = $1; gsub(",", "", v); n = $3; print v, n }' >"$P/$f.flat"
    done
    awk -v k="$3" 'NR == FNR { a[$2] = $1; next }
        { d = ($1 - a[$2]) / k; if (d > 100000 && $2 !~ /below|libc_start|libc-start|0x000000000001ab70|main$|one_up|'"'"'2$/)
          printf "%14.0f  %s\n", d, $2 }' "$P/$1.flat" "$P/$2.flat" |
        sed 's|/work/main/build/../||' | sort -rn | head -n 25
}
# syscalls CMD...: the system calls of CMD, by count.
syscalls() {
    strace -f -c -o "$P/.sc" "$@" >/dev/null 2>&1 || true
    awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" {
            calls = ($5 ~ /^[0-9]+$/) ? $4 : $4; print $4, ($5 ~ /^[0-9]+$/ ? $5 : 0), $NF }' "$P/.sc" |
        sort -rn | head -n 8 | awk '{ printf "  %7d calls %6d errors  %s\n", $1, $2, $3 }'
}

{
    echo "strata profile, N=$N migrations, $(date -u +%Y-%m-%dT%H:%MZ), strata $(git -C "$ROOT" rev-parse --short HEAD)"
    echo "Instruction counts (Ir) from callgrind, inclusive; percentages of the run."
    echo "Valgrind hides SHA-NI from the program, so Nettle hashes here with plain"
    echo "x86-64 code: natively the SHA-256 share of a directory run is far smaller."
    for spec in \
        "sqlite-up-dir|$STRATA -q -d sqlite:$sdb -m $d/migrations up" \
        "sqlite-up-embedded|$d/noop_embedded sqlite:$sdb" \
        "sqlite-status|$STRATA -d sqlite:$sdb -m $d/migrations status" \
        "pg-up-dir|$STRATA -q -d $purl -m $d/migrations up" \
        "pg-up-embedded|$d/noop_embedded $purl" \
        "pg-status|$STRATA -d $purl -m $d/migrations status"; do
        name=${spec%%|*}
        # shellcheck disable=SC2086
        set -- ${spec#*|}
        echo
        echo "=== $name: $(cg "$name" "$@") instructions"
        top "$name"
        echo "--- system calls (strace -c; a SCRAM login and the ELF loader included)"
        syscalls "$@"
    done
    for b in sqlite pg; do
        url="sqlite:$sdb"
        [ $b = pg ] && url=$purl
        echo
        echo "=== $b in-process strata_up() on an open handle (embedded): per call"
        cg "$b-inproc1" "$d/inproc" "$url" 1 0 >/dev/null
        a=$(grep -o 'refs: *[0-9,]*' "$P/$b-inproc1.vg" | tr -d ' ,' | cut -d: -f2)
        cg "$b-inproc11" "$d/inproc" "$url" 11 0 >/dev/null
        z=$(grep -o 'refs: *[0-9,]*' "$P/$b-inproc11.vg" | tr -d ' ,' | cut -d: -f2)
        echo "instructions per call: $(((z - a) / 10)) (= (11 calls - 1 call) / 10), by function:"
        delta "$b-inproc1" "$b-inproc11" 10
    done
} >"$out"
echo "wrote $out"
