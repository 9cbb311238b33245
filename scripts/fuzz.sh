#!/bin/sh
# Coverage-guided fuzzing of every parser of untrusted input (fuzz/).
#
# Builds a clang build directory with libFuzzer, ASan and UBSan, then runs
# each fuzzer for FUZZ_SECONDS (default 30) from its seed corpus and its
# saved regressions (so a known bug fails the run at once until it is
# fixed): new inputs land in a scratch directory, never in fuzz/corpus,
# unless FUZZ_MERGE=1, which merges (minimised) what was found back into
# fuzz/corpus/<target>. Crash, leak, timeout and OOM inputs are kept under
# $FUZZ_BUILD/fuzz-artifacts/<target>/. Exits non-zero when any fuzzer
# found one. The last line sums it up:
#   fuzz: 8 targets, 1234567 runs, 0 crashes
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            longer
#   FUZZ_TARGETS="url version" scripts/fuzz.sh  some targets only
set -eu

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD:-build-fuzz}
merge=${FUZZ_MERGE:-0}

# target:max_len - names and files are short; scripts get room for a few
# statements without making each run slow (the SQLite check is quadratic
# in the number of ';' by design, PostgreSQL's parser is not cheap).
all="filename:256 version:256 script:4096 template:2048 url:512
pg_split:4096 sqlite_check:4096 embedded:512"
if [ -n "${FUZZ_TARGETS:-}" ]; then
    want=""
    for t in $FUZZ_TARGETS; do
        # shellcheck disable=SC2086 # one word per spec, on purpose
        spec=$(printf '%s\n' $all | grep "^$t:" || true)
        [ -n "$spec" ] || { echo "fuzz: unknown target $t" >&2; exit 2; }
        want="$want $spec"
    done
    all=$want
fi

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=true \
        -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja_targets=""
for spec in $all; do
    ninja_targets="$ninja_targets fuzz/fuzz_${spec%%:*}"
done
# shellcheck disable=SC2086
ninja -C "$build" $ninja_targets

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
artifacts="$build/fuzz-artifacts"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

ntargets=0 total_runs=0 total_crashes=0 summary=""
for spec in $all; do
    t=${spec%%:*} max_len=${spec#*:}
    exe="$build/fuzz/fuzz_$t"
    seeds="fuzz/corpus/$t"
    regressions="fuzz/regressions/$t"
    mkdir -p "$scratch/$t" "$artifacts/$t" "$seeds"
    extra=""
    [ -d "$regressions" ] && extra=$regressions
    log="$artifacts/$t/last.log"
    echo "fuzz: $t for ${seconds}s (max_len $max_len)"
    status=0
    # shellcheck disable=SC2086
    "$exe" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/" \
        "$scratch/$t" "$seeds" $extra >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    runs=${runs:-0}
    crashes=0
    if [ "$status" -ne 0 ]; then
        crashes=1
        echo "fuzz: $t FAILED (exit $status); log: $log" >&2
        grep -E "ERROR:|runtime error|invariant does not hold|Test unit written" \
            "$log" | head -n 5 >&2 || true
    elif [ "$merge" = 1 ]; then
        "$exe" -merge=1 -max_len="$max_len" "$seeds" "$scratch/$t" \
            >>"$log" 2>&1
    fi
    ntargets=$((ntargets + 1))
    total_runs=$((total_runs + runs))
    total_crashes=$((total_crashes + crashes))
    summary="$summary
fuzz: $t: $runs runs, $crashes crashes"
done

printf '%s\n' "$summary" | sed '/^$/d'
echo "fuzz: $ntargets targets, $total_runs runs, $total_crashes crashes"
[ "$total_crashes" -eq 0 ]
