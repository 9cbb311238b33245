#!/usr/bin/env bash
# handle.sh - one library handle kept open across calls, as a service does:
# what it learnt about the tracking tables in one call is not trusted in
# the next without the lock. Here the tables do not exist at the first
# call; another process then applies a migration this handle's source does
# not have, and the handle's next up must refuse it as missing (exit 3),
# not answer "up to date" from what it saw before.
. "$(dirname "$0")/pglib.sh"

use_cc
cd "$TMP" || exit 1

# hold URL DIR GO: status on one handle, prints the number of migrations,
# waits for the file GO, then up on the same handle; prints its code.
cat >hold.c <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <strata.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    strata_source *src = NULL;
    strata *db = NULL;
    strata_plan *plan = NULL;
    strata_report *report = NULL;
    if (argc != 4 || strata_source_from_dir(&src, argv[2]) != STRATA_OK ||
        strata_open(&db, argv[1], src, NULL) != STRATA_OK ||
        strata_status(&plan, db) != STRATA_OK)
        return 2;
    printf("status %zu\n", plan->count);
    fflush(stdout);
    strata_plan_free(plan);
    const struct timespec tick = {0, 20000000};
    while (access(argv[3], F_OK) != 0)
        nanosleep(&tick, NULL);
    int rc = strata_up(&report, db, NULL);
    printf("up %s %s\n", strata_code_name(rc),
           rc == STRATA_OK ? "" : strata_last_error(db)->message);
    strata_report_free(report);
    strata_close(db);
    strata_source_free(src);
    return 0;
}
EOF
CHECK="hold.c builds" assert_exit 0 cc_strict -o hold hold.c -L"$LIBDIR" -lstrata

mkdir none one
printf 'CREATE TABLE a (x int);\n' >one/001_a.sql
new_db
./hold "$DBURL" none "$TMP/go" >hold.out 2>hold.err &
holder=$!
BG_PIDS+=("$holder")
for _ in $(seq 300); do
    grep -q '^status' hold.out 2>/dev/null && break
    sleep 0.05
done
assert_eq "first call: nothing to show" "status 0" "$(head -n 1 hold.out)"
CHECK="another process applies 001" assert_exit 0 "$STRATA" -d "$DBURL" -m one up
touch go
wait "$holder"
assert_eq "the handle exits cleanly" "" "$(cat hold.err)"
assert_match "the same handle's up refuses the applied, unknown 001" \
    "$(sed -n 2p hold.out)" '^up refused .*1.*(gone|missing)'
finish
