#!/usr/bin/env bash
# Runs the unit and integration tests and the strata command on a small
# workload under valgrind memcheck, and fails on any memory error or any
# definite or indirect leak.
#
#   scripts/valgrind.sh [BUILD_DIR]      (default: build)
#
# Criterion runs every test in a forked process; valgrind follows forks, and
# each process writes its own log, so a report in any test process is seen.
# The last line is "valgrind: N tests, M reports" (M = processes with a
# report). VALGRIND_TESTS overrides the list of meson tests; it_large (50 MB
# scripts) is left out by default because it takes far too long under
# valgrind and adds no code path the others miss.
set -u

BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
command -v valgrind >/dev/null || { echo "valgrind: not installed (make deps)" >&2; exit 1; }
[ -f "$BUILD/build.ninja" ] || { echo "valgrind: no build in $BUILD (run make)" >&2; exit 1; }
ninja -C "$BUILD" >/dev/null || exit 1

LOGS=$(mktemp -d /tmp/strata-valgrind.XXXXXX)
trap 'rm -rf "$LOGS"' EXIT
# One suppression, for the tests, not the library: test_open.c takes a
# snapshot (it_snapshot) and then forks a child that _exit()s, so the child
# "loses" the parent's buffer; valgrind would turn that into exit status 1,
# which the test reads as the child's step number.
cat >"$LOGS/strata.supp" <<'SUPP'
{
   forked-child-inherits-a-test-snapshot
   Memcheck:Leak
   match-leak-kinds: definite
   ...
   fun:it_snapshot
}
SUPP
# shellcheck disable=SC2054 # the commas belong to one option
VG=(valgrind --suppressions="$LOGS/strata.supp" --tool=memcheck --error-exitcode=1 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --track-origins=yes --trace-children=yes --child-silent-after-fork=no
    --num-callers=30 --log-file="$LOGS/vg.%p.log")

TESTS=${VALGRIND_TESTS:-"version filename checksum template mask embed
it_up_down it_refusals it_open it_startup"}
if [ "$TESTS" = all ]; then
    set -- --suite unit --suite integration
    NTESTS=$(meson test -C "$BUILD" --list --suite unit --suite integration 2>/dev/null | grep -c ' / ')
else
    # shellcheck disable=SC2086
    set -- $TESTS
    NTESTS=$#
fi
start=$SECONDS
meson test -C "$BUILD" --print-errorlogs --timeout-multiplier 20 \
    --wrap="${VG[*]}" "$@"
mrc=$?

# The strata command on a small workload: every command, successes and
# refusals, on SQLite (and PostgreSQL when STRATA_PG_URL is set).
W=$LOGS/work
mkdir -p "$W/m"
S=$TOP/$BUILD/strata
printf 'CREATE TABLE a(x INTEGER);\nINSERT INTO a VALUES (1);\n' >"$W/m/0001_a.up.sql"
printf 'DROP TABLE a;\n' >"$W/m/0001_a.down.sql"
printf -- '-- strata:up\nCREATE TABLE {{tables.b}}(y);\nCREATE TRIGGER t AFTER INSERT ON b BEGIN SELECT 1; END;\n-- strata:down\nDROP TABLE b;\n' >"$W/m/0002_b.sql"
printf -- '-- strata:no-transaction\nCREATE TABLE c(z);\n' >"$W/m/0003_c.up.sql"
printf 'DROP TABLE c;\n' >"$W/m/0003_c.down.sql"
cli_runs=0
cli_bad=0
# run EXPECTED-EXIT ARGS...: strata under valgrind
run() {
    local want=$1
    shift
    cli_runs=$((cli_runs + 1))
    "${VG[@]}" "$S" "$@" >"$LOGS/cli.out" 2>&1
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        # The command line may hold a password: never print it.
        echo "valgrind: strata $* exited $rc, expected $want:" |
            sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#g' >&2
        cat "$LOGS/cli.out" >&2
        cli_bad=$((cli_bad + 1))
    fi
}
cli_workload() {
    local url=$1 M=$2
    run 0 -d "$url" -m "$M" status
    run 0 -d "$url" -m "$M" up --steps 1
    run 0 -d "$url" -m "$M" -v up
    run 0 -d "$url" -m "$M" --json status
    run 0 -d "$url" -m "$M" --log-format json redo
    run 0 -d "$url" -m "$M" history --json
    run 0 -d "$url" -m "$M" validate
    run 0 -d "$url" -m "$M" current
    run 0 -d "$url" -m "$M" status --check
    run 0 -d "$url" -m "$M" down --to 1
    run 0 -d "$url" -m "$M" --module other baseline 2
    run 0 -d "$url" -m "$M" --module other forget 2
    run 0 -d "$url" -m "$M" --module other repair
    run 0 -d "$url" -m "$M" up --dry-run --json
    printf '\n-- edited\n' >>"$M/0001_a.up.sql"
    run 3 -d "$url" -m "$M" --json up
    run 0 -d "$url" -m "$M" repair
    run 0 -d "$url" -m "$M" down --all
    printf 'SELECT * FROM no_such_table;\n' >"$M/0004_bad.sql"
    run 1 -d "$url" -m "$M" -vv up
    rm -f "$M/0004_bad.sql"
    printf 'CREATE TABLE a(x INTEGER);\nINSERT INTO a VALUES (1);\n' >"$M/0001_a.up.sql"
}
cli_workload "sqlite:$W/x.db" "$W/m"
run 2 --bogus
run 2 -d mysql://x -m "$W/m" up
run 5 -d "sqlite:$W/no/dir/x.db" -m "$W/m" up
run 0 -m "$W/m" new "next one"
run 0 -m "$W/m" embed -o "$W/out.c"
run 0 help up
if [ -n "${STRATA_PG_URL:-}" ]; then
    # The same shape of workload in PostgreSQL's SQL.
    mkdir -p "$W/pg"
    printf 'CREATE TABLE a(x INTEGER);\nINSERT INTO a VALUES (1);\n' >"$W/pg/0001_a.up.sql"
    printf 'DROP TABLE a;\n' >"$W/pg/0001_a.down.sql"
    printf -- '-- strata:up\nCREATE TABLE {{tables.b}}(y int);\nDO $$ BEGIN PERFORM 1; END $$;\n-- strata:down\nDROP TABLE b;\n' >"$W/pg/0002_b.sql"
    printf -- '-- strata:no-transaction\nCREATE TABLE c(z int);\nCREATE INDEX CONCURRENTLY c_z ON c (z);\n' >"$W/pg/0003_c.up.sql"
    printf 'DROP TABLE c;\n' >"$W/pg/0003_c.down.sql"
    cli_workload "$STRATA_PG_URL" "$W/pg"
    # Leave the shared database as it was: accept the restored script, then
    # revert everything.
    run 0 -d "$STRATA_PG_URL" -m "$W/pg" repair
    run 0 -d "$STRATA_PG_URL" -m "$W/pg" down --all
fi

# Every process that valgrind found something in.
reports=0
for f in "$LOGS"/vg.*.log; do
    [ -e "$f" ] || continue
    if grep -qE 'ERROR SUMMARY: [1-9]' "$f"; then
        reports=$((reports + 1))
        echo "==== $f" >&2
        cat "$f" >&2
    fi
done
processes=$(find "$LOGS" -name 'vg.*.log' | wc -l)
echo "valgrind: $processes processes traced, $cli_runs strata runs, $((SECONDS - start)) s"
echo "valgrind: $((NTESTS + cli_runs)) tests, $reports reports"
[ "$mrc" -eq 0 ] && [ "$cli_bad" -eq 0 ] && [ "$reports" -eq 0 ]
