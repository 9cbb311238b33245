#!/usr/bin/env bash
# bench.sh - `make bench` keeps working: bench/run.sh on a small workload
# (N = 20, few repetitions) against this server and the built strata, into
# a directory of its own. Checks the report, not the timings: every table
# and figure is there, the plot is drawn, and the round-trip table shows a
# no-op up costing what `psql -c 'select 1'` costs. The other migration
# tools installed here (bench/others.sh) are measured too, each with a row
# for both databases; with none installed the report says so.
. "$(dirname "$0")/pglib.sh"
use_cc

OUTDIR=$TMP/results
results_sum() { find "$SRC/bench/results" -type f -exec md5sum {} + 2>/dev/null | sort; }
before=$(results_sum)
CHECK="bench/run.sh, N = 20" assert_exit 0 env \
    BENCH_NS=20 BENCH_NOOP_RUNS=3 BENCH_INPROC_K=5 BENCH_APPLY_RUNS_BIG=2 \
    BENCH_OTHERS_NOOP_RUNS=2 \
    BENCH_WORK="$TMP/work" BENCH_OUT="$OUTDIR" \
    STRATA="$STRATA" LIBDIR="$LIBDIR" CC="${CC_ARGS[*]} ${CF_ARGS[*]}" \
    "$SRC/bench/run.sh"
BENCH_ERR=$ERR
R=$(cat "$OUTDIR/RESULTS.md" 2>/dev/null)
for backend in SQLite PostgreSQL; do
    assert_contains "bench: a $backend section" "$R" "## $backend"
done
for measure in "fresh apply" "no-op up (directory)" "no-op up (embedded)" \
    "status" "in-process \`strata_up\` on an open handle"; do
    assert_eq "bench: '$measure' for both databases" "2" \
        "$(printf '%s\n' "$R" | grep -c "^| 20 | $measure")"
done
assert_contains "bench: the targets" "$R" "## Targets"
assert_contains "bench: the floors under them" "$R" "## Floors under the targets"
assert_eq "bench: the libpq floor, in MB" "1" \
    "$(printf '%s\n' "$R" | grep -cE '^\| 20 \| PostgreSQL peak memory .* \| [0-9]+\.[0-9] MB \|$')"
assert_eq "bench: the SQLite read floor, as a ratio" "1" \
    "$(printf '%s\n' "$R" | grep -cE '^\| 20 \| SQLite no-op up .* \| [0-9]+\.[0-9]+× `select 1` \|$')"
if strace -f -o /dev/null true 2>/dev/null; then
    assert_contains "bench: round trips, one query like psql's" "$R" \
        "| 20 | 1 | 3+1+1 | 3+1+1 | 3+1+1 |"
fi
assert_contains "bench: the other tools' section" "$R" "## Other migration tools"
others=$(printf '%s\n' "$R" | sed -n '/^## Other migration tools/,/^## /s/^- \([a-z-]*\): .*/\1/p')
if [ -z "$others" ]; then
    assert_contains "bench: no other tool, none measured" "$R" "none measured"
fi
# every tool installed here is measured, or the run says why not
for tool in dbmate sql-migrate sqitch alembic; do
    command -v "$tool" >/dev/null 2>&1 || continue
    case " $(printf '%s ' $others)" in
    *" $tool "*) pass ;;
    *) assert_contains "bench: $tool is installed: measured, or why not" \
        "$BENCH_ERR" "other tools: $tool " ;;
    esac
done
for tool in $others; do
    for backend in SQLite PostgreSQL; do
        # fresh apply, its ratio, the no-op, its ratio and its memory: numbers
        assert_eq "bench: $tool measured on $backend" "1" \
            "$(printf '%s\n' "$R" | grep -cE "^\| $backend \| 20 \| $tool( \| [0-9.]+){5} \|$")"
    done
done
capture env BENCH_NS=20 BENCH_OTHERS=flyway-typo BENCH_WORK="$TMP/work2" \
    BENCH_OUT="$TMP/results2" STRATA="$STRATA" LIBDIR="$LIBDIR" \
    "$SRC/bench/run.sh"
assert_eq "bench: an unknown tool in BENCH_OTHERS fails the run" "failed" \
    "$([ "$RC" -ne 0 ] && echo failed || echo "exit 0")"
assert_contains "bench: ... and says which" "$ERR" "unknown tool 'flyway-typo'"
assert_eq "bench: every figure in results.tsv has a median" "" \
    "$(awk -F'\t' 'NR > 1 && $5 == "" { print }' "$OUTDIR/results.tsv")"
assert_eq "bench: the plot is a PNG" "PNG" \
    "$(head -c 4 "$OUTDIR/plot.png" 2>/dev/null | tail -c 3)"
assert_eq "bench: the repository's results are left alone" "$before" \
    "$(results_sum)"

finish
