#!/usr/bin/env bash
# cancel.sh - a strata_run waiting for the migration lock, which another
# process holds while it runs a slow migration, stops at a cancel within
# moments, not at its lock timeout (10 minutes here), having applied
# nothing; the holder goes on and applies everything.
. "$(dirname "$0")/pglib.sh"

use_cc
cd "$TMP" || exit 1

# waiter URL DIR: starts a run with a 10-minute lock timeout, cancels it
# once it reports waiting for the lock, prints "CODE APPLIED SECONDS
# MESSAGE" (SECONDS from the cancel to the end of the run).
cat >waiter.c <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <strata.h>
#include <time.h>

static void on_event(const strata_event *ev, void *payload)
{
    if (ev->type == STRATA_EVENT_LOCK_WAIT)
        atomic_store((atomic_int *)payload, 1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    strata_source *src = NULL;
    strata_run *run = NULL;
    atomic_int waiting;
    atomic_init(&waiting, 0);
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 600000;
    o.on_event = on_event;
    o.event_payload = &waiting;
    if (argc != 3 || strata_source_from_dir(&src, argv[2]) != STRATA_OK ||
        strata_run_start(&run, argv[1], src, &o, NULL, NULL) != STRATA_OK)
        return 2;
    while (!atomic_load(&waiting))
        if (strata_run_wait(run, 5)) {
            printf("ended before waiting: %s\n",
                   strata_run_result(run)->error->message);
            return 1;
        }
    double t0 = now();
    strata_run_cancel(run);
    if (!strata_run_wait(run, 60000)) {
        printf("still waiting 60 s after the cancel\n");
        return 1;
    }
    const strata_result *res = strata_run_result(run);
    printf("%s %zu %.0f %s\n", strata_code_name(res->code), res->applied,
           now() - t0, res->error->message);
    strata_run_free(run);
    strata_source_free(src);
    return 0;
}
EOF
CHECK="waiter.c builds" assert_exit 0 cc_strict -o waiter waiter.c -L"$LIBDIR" -lstrata

mkdir m
printf 'CREATE TABLE a (x int);\nSELECT pg_sleep(4);\n' >m/001_a.sql
printf 'CREATE TABLE b (x int);\n' >m/002_b.sql
new_db
"$STRATA" -q -d "$DBURL" -m m up >holder.out 2>&1 &
holder=$!
BG_PIDS+=("$holder")
for _ in $(seq 200); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()")" = 1 ] && break
    sleep 0.05
done
assert_exit 0 ./waiter "$DBURL" m
assert_match "the waiting run stops at the cancel, within a second" "$OUT" \
    '^cancelled 0 [01] cancelled while waiting for the migration lock'
# The lock was never free: the holder still sleeps in 001, so the cancel,
# not a release, ended the wait.
assert_eq "the holder still runs when the waiting run has ended" "1" \
    "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND state = 'active' AND pid <> pg_backend_pid()")"
wait "$holder"
assert_eq "the holder went on and applied both" "0" "$?"
assert_eq "both applied" "1 2" \
    "$(q "SELECT string_agg(version, ' ' ORDER BY version) FROM strata_migrations")"
finish
