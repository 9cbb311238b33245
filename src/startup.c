/*
 * startup.c - migrating at startup: strata_migrate() in one call, and the
 * same run on a worker thread the library owns (strata_run_*).
 *
 * A run copies its inputs, opens its own handle on its own thread, and
 * reports through three channels that suit any event loop: a pipe whose
 * read end becomes readable when the run ends, a completion callback, and
 * strata_run_wait(). Progress counters are atomics fed by the run's own
 * event callback, which then forwards each event to the caller's. Cancel is
 * a flag the runner reads between migrations, so a migration is never cut.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct result_box {
    strata_result pub;
    strata_error error;
    strata__arena arena;
    strata_report *report;
} result_box;

const char *strata_outcome_name(strata_outcome outcome)
{
    static const char *const names[] = {"up_to_date", "applied", "refused",
                                        "failed", "cancelled"};
    if ((unsigned)outcome < sizeof names / sizeof names[0])
        return names[outcome];
    return "unknown";
}

void strata_result_free(strata_result *result)
{
    if (result == NULL)
        return;
    result_box *box = (result_box *)result;
    strata_report_free(box->report);
    strata__arena_free(&box->arena);
    free(box);
}

static strata_outcome outcome_of(int code, const strata_report *report)
{
    switch (code) {
    case STRATA_OK:
        return report != NULL && report->count > 0 ? STRATA_OUTCOME_APPLIED
                                                   : STRATA_OUTCOME_UP_TO_DATE;
    case STRATA_EREFUSED: return STRATA_OUTCOME_REFUSED;
    case STRATA_ECANCELLED: return STRATA_OUTCOME_CANCELLED;
    default: return STRATA_OUTCOME_FAILED;
    }
}

/* A deep copy of the handle's error into the result's arena. */
static int copy_error(result_box *box, const strata_error *e)
{
    strata__arena *a = &box->arena;
    strata_error *c = &box->error;
    *c = *e;
    c->message = strata__arena_strdup(a, e->message);
    c->hint = strata__arena_strdup(a, e->hint);
    c->file = strata__arena_strdup(a, e->file);
    c->version = strata__arena_strdup(a, e->version);
    c->db_message = strata__arena_strdup(a, e->db_message);
    c->db_detail = strata__arena_strdup(a, e->db_detail);
    c->sqlstate = strata__arena_strdup(a, e->sqlstate);
    return c->message && c->hint && c->file && c->version && c->db_message &&
                   c->db_detail && c->sqlstate
               ? STRATA_OK
               : STRATA_ENOMEM;
}

/* strata_migrate() with an optional cancel flag. */
static int migrate(strata_result **out, const char *url,
                   const strata_source *source, const strata_options *opts,
                   const atomic_int *cancel)
{
    *out = NULL;
    result_box *box = calloc(1, sizeof *box);
    if (box == NULL)
        return STRATA_ENOMEM;
    strata *db = NULL;
    int rc = STRATA_OK;
    if (source == NULL) {
        rc = STRATA_EUSAGE;
    } else {
        rc = strata__open(&db, url, source, opts, cancel);
        if (rc == STRATA_OK)
            rc = strata_up(&box->report, db, NULL);
    }
    const strata_error *e = strata_last_error(db);
    strata__err usage;
    if (source == NULL) {
        strata__err_clear(&usage);
        strata__err_set(&usage, STRATA_EUSAGE, STRATA_REASON_IO,
                        "no migration source given");
        e = &usage.pub;
    }
    box->pub.code = rc;
    box->pub.outcome = outcome_of(rc, box->report);
    box->pub.applied = box->report != NULL ? box->report->count : 0;
    box->pub.report = box->report;
    box->pub.from_version = strata__arena_strdup(
        &box->arena, box->report ? box->report->from_version : "");
    box->pub.to_version = strata__arena_strdup(
        &box->arena, box->report ? box->report->to_version : "");
    int crc = rc == STRATA_OK ? copy_error(box, &(strata_error){0})
                              : copy_error(box, e);
    strata_close(db);
    if (crc != STRATA_OK || !box->pub.from_version || !box->pub.to_version) {
        strata_result_free(&box->pub);
        return STRATA_ENOMEM;
    }
    box->pub.error = &box->error;
    *out = &box->pub;
    return rc;
}

int strata_migrate(strata_result **out, const char *url,
                   const strata_source *source, const strata_options *opts)
{
    return migrate(out, url, source, opts, NULL);
}

/* ------------------------------------------------------------------------ */
/* A run on a worker thread */

struct strata_run {
    pthread_t thread;
    int fds[2]; /* [0] becomes readable at the end; [1] is written once */
    atomic_int cancel;
    atomic_size_t done, total;
    atomic_int finished;
    pthread_mutex_t mu;
    pthread_cond_t cv;

    char *url;
    strata_source *source;
    strata_options opts;
    char *module, *table, *applied_by, *schema;
    strata_event_cb user_event;
    void *user_payload;
    strata_done_cb done_cb;
    void *done_payload;
    strata_result *result;
};

/* Counts progress, then hands the event on. */
static void run_event(const strata_event *ev, void *payload)
{
    strata_run *run = payload;
    if (ev->type == STRATA_EVENT_RUN_START)
        atomic_store(&run->total, ev->total);
    else if (ev->type == STRATA_EVENT_MIGRATION_DONE)
        atomic_fetch_add(&run->done, 1);
    if (run->user_event != NULL)
        run->user_event(ev, run->user_payload);
}

static void *worker(void *arg)
{
    strata_run *run = arg;
    strata_result *result = NULL;
    (void)migrate(&result, run->url, run->source, &run->opts, &run->cancel);
    run->result = result; /* NULL only when memory ran out */
    if (run->done_cb != NULL)
        run->done_cb(result, run->done_payload);
    pthread_mutex_lock(&run->mu);
    atomic_store(&run->finished, 1);
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
    ssize_t w;
    do
        w = write(run->fds[1], "", 1);
    while (w < 0 && errno == EINTR);
    return NULL;
}

static void run_release(strata_run *run)
{
    if (run->fds[0] >= 0)
        close(run->fds[0]);
    if (run->fds[1] >= 0)
        close(run->fds[1]);
    pthread_cond_destroy(&run->cv);
    pthread_mutex_destroy(&run->mu);
    strata_source_free(run->source);
    strata_result_free(run->result);
    free(run->url);
    free(run->module);
    free(run->table);
    free(run->applied_by);
    free(run->schema);
    free(run);
}

/* Copies what the caller lent: a run outlives the call that starts it. */
static int copy_inputs(strata_run *run, const char *url,
                       const strata_source *source, const strata_options *opts)
{
    /* A struct of an older version is shorter: read no further than it. An
     * unknown version is kept, for the run's strata_open() to refuse. */
    if (strata__options_copy(&run->opts, opts) != STRATA_OK)
        run->opts.version = opts->version;
    if (url != NULL && (run->url = strata__strdup(url)) == NULL)
        return STRATA_ENOMEM;
    if (source != NULL) {
        int rc = source->emb != NULL
                     ? strata_source_from_embedded(&run->source, source->emb)
                     : strata_source_from_dir(&run->source, source->dir);
        if (rc != STRATA_OK)
            return rc;
    }
    struct {
        const char **field;
        char **copy;
    } strings[] = {{&run->opts.module, &run->module},
                   {&run->opts.table, &run->table},
                   {&run->opts.applied_by, &run->applied_by},
                   {&run->opts.schema, &run->schema}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (*strings[i].field == NULL)
            continue;
        *strings[i].copy = strata__strdup(*strings[i].field);
        if (*strings[i].copy == NULL)
            return STRATA_ENOMEM;
        *strings[i].field = *strings[i].copy;
    }
    run->user_event = run->opts.on_event;
    run->user_payload = run->opts.event_payload;
    run->opts.on_event = run_event;
    run->opts.event_payload = run;
    return STRATA_OK;
}

int strata_run_start(strata_run **out, const char *url,
                     const strata_source *source, const strata_options *opts,
                     strata_done_cb done, void *payload)
{
    *out = NULL;
    strata_run *run = calloc(1, sizeof *run);
    if (run == NULL)
        return STRATA_ENOMEM;
    run->fds[0] = run->fds[1] = -1;
    atomic_init(&run->cancel, 0);
    atomic_init(&run->done, 0);
    atomic_init(&run->total, 0);
    atomic_init(&run->finished, 0);
    run->done_cb = done;
    run->done_payload = payload;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&run->mu, NULL);
    pthread_cond_init(&run->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = copy_inputs(run, url, source, opts);
    if (rc == STRATA_OK && pipe2(run->fds, O_CLOEXEC) != 0)
        rc = STRATA_EFAILED;
    if (rc == STRATA_OK) {
        /* The worker blocks every signal: a program's SIGTERM belongs to
         * its own threads, and must not interrupt a migration's I/O. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&run->thread, NULL, worker, run) != 0)
            rc = STRATA_EFAILED;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (rc != STRATA_OK) {
        run_release(run);
        return rc;
    }
    *out = run;
    return STRATA_OK;
}

int strata_run_fd(const strata_run *run)
{
    return run->fds[0];
}

int strata_run_wait(strata_run *run, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&run->mu);
    while (!atomic_load(&run->finished)) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&run->cv, &run->mu);
        } else if (pthread_cond_timedwait(&run->cv, &run->mu, &until) ==
                   ETIMEDOUT) {
            break;
        }
    }
    int finished = atomic_load(&run->finished);
    pthread_mutex_unlock(&run->mu);
    return finished;
}

void strata_run_cancel(strata_run *run)
{
    atomic_store(&run->cancel, 1);
}

void strata_run_progress(const strata_run *run, size_t *done, size_t *total)
{
    strata_run *r = (strata_run *)run; /* atomics are read, not changed */
    if (done != NULL)
        *done = atomic_load(&r->done);
    if (total != NULL)
        *total = atomic_load(&r->total);
}

const strata_result *strata_run_result(const strata_run *run)
{
    strata_run *r = (strata_run *)run;
    return atomic_load(&r->finished) ? r->result : NULL;
}

void strata_run_free(strata_run *run)
{
    if (run == NULL)
        return;
    strata_run_cancel(run);
    pthread_join(run->thread, NULL);
    run_release(run);
}
