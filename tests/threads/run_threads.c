/*
 * run_threads.c - the worker-thread API under concurrent use, as a plain
 * program so that ThreadSanitizer can watch it (the unit-test framework's
 * own memory setup does not run under TSan).
 *
 * Four runs at once on separate databases, read from the main thread
 * through progress, poll and wait; one cancelled from the event callback;
 * one freed while running. Exits 0 when every check held; prints the failed
 * check and exits 1 otherwise.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strata.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr,                                                    \
                    "run_threads: %s:%d: check failed: %s: ", __FILE__,        \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static char root[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A migrations folder of n slow-ish migrations. */
static void make_dir(const char *dir, int n)
{
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    for (int i = 1; i <= n; i++) {
        char path[256], sql[512];
        snprintf(path, sizeof path, "%s/%d_m.sql", dir, i);
        snprintf(sql, sizeof sql,
                 "CREATE TABLE t%d (x);\nWITH RECURSIVE c(x) AS (SELECT 1 "
                 "UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT "
                 "count(*) FROM c;\n",
                 i);
        write_file(path, sql);
    }
}

static atomic_int events_seen;

static void on_event(const strata_event *ev, void *payload)
{
    (void)payload;
    atomic_fetch_add(&events_seen, 1);
    if (ev->type == STRATA_EVENT_MIGRATION_DONE && payload != NULL) {
        strata_run *r = *(strata_run * _Atomic *)payload;
        if (r != NULL)
            strata_run_cancel(r);
    }
}

static atomic_int done_calls;

static void on_done(const strata_result *res, void *payload)
{
    (void)res;
    (void)payload;
    atomic_fetch_add(&done_calls, 1);
}

int main(void)
{
    strcpy(root, "/tmp/strata-threads-XXXXXX");
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    char dirs[4][128], urls[4][160];
    strata_run *runs[4] = {NULL};
    strata_run *_Atomic cancel_target = NULL;
    for (int i = 0; i < 4; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/m%d", root, i);
        snprintf(urls[i], sizeof urls[i], "sqlite://%s/db%d.db", root, i);
        make_dir(dirs[i], 5);
    }
    for (int i = 0; i < 4; i++) {
        strata_source *src = NULL;
        CHECK(strata_source_from_dir(&src, dirs[i]) == 0, "source");
        strata_options o = STRATA_OPTIONS_INIT;
        o.on_event = on_event;
        o.event_payload = i == 2 ? (void *)&cancel_target : NULL;
        CHECK(strata_run_start(&runs[i], urls[i], src, &o, on_done, NULL) == 0,
              "start %d", i);
        strata_source_free(src);
        if (i == 2)
            atomic_store(&cancel_target, runs[2]);
    }
    strata_run_free(runs[3]); /* freed while it runs */
    runs[3] = NULL;

    struct pollfd pfd[3];
    for (int i = 0; i < 3; i++)
        pfd[i] = (struct pollfd){strata_run_fd(runs[i]), POLLIN, 0};
    /* An event loop: poll the three descriptors, read progress meanwhile,
     * and stop watching a run once its descriptor is readable. */
    int ended = 0;
    for (int spins = 0; ended < 3; spins++) {
        CHECK(spins < 6000, "runs did not end within two minutes");
        int n = poll(pfd, 3, 20);
        CHECK(n >= 0, "poll");
        for (int i = 0; i < 3; i++) {
            size_t done = 0, total = 0;
            strata_run_progress(runs[i], &done, &total);
            CHECK(done <= 5 && total <= 5, "progress %zu/%zu", done, total);
            if (pfd[i].fd >= 0 && (pfd[i].revents & POLLIN)) {
                CHECK(strata_run_result(runs[i]) != NULL,
                      "run %d readable but without a result", i);
                pfd[i].fd = -1;
                ended++;
            }
            pfd[i].revents = 0;
        }
    }
    for (int i = 0; i < 3; i++) {
        CHECK(strata_run_wait(runs[i], -1) == 1, "wait %d", i);
        const strata_result *res = strata_run_result(runs[i]);
        CHECK(res != NULL, "result %d", i);
        if (i == 2) {
            CHECK(res->outcome == STRATA_OUTCOME_CANCELLED, "run 2: %s",
                  strata_outcome_name(res->outcome));
            CHECK(res->applied == 1, "run 2 applied %zu", res->applied);
        } else {
            CHECK(res->outcome == STRATA_OUTCOME_APPLIED, "run %d: %s %s", i,
                  strata_outcome_name(res->outcome), res->error->message);
            CHECK(res->applied == 5, "run %d applied %zu", i, res->applied);
        }
    }
    for (int i = 0; i < 3; i++)
        strata_run_free(runs[i]);
    CHECK(atomic_load(&done_calls) == 4, "done called %d times",
          atomic_load(&done_calls));
    CHECK(atomic_load(&events_seen) > 0, "no events");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "run_threads: could not remove %s\n", root);
    printf("run_threads: 4 runs, %d events, all checks held\n",
           atomic_load(&events_seen));
    return 0;
}
