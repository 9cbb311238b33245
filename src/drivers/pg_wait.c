/*
 * pg_wait.c - waiting for a PostgreSQL server to accept connections; see
 * pg_wait.h.
 *
 * Replicas often boot beside their database: the socket is not there yet,
 * or the server answers that it is starting up. PQpingParams() tells those
 * apart from a server that runs and would refuse this user, which no wait
 * can mend, so a wrong password still fails at once.
 */
#include "pg_wait.h"

#define STRATA__LIBPQ_CALLS
#include "libpq_load.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

enum { FIRST_PAUSE_MS = 100, LONGEST_PAUSE_MS = 1000, REPORT_EVERY_MS = 10000 };

static int cancelled(const strata *db)
{
    return db->cancel != NULL && atomic_load(db->cancel);
}

/* Sleeps `ms`, in steps short enough to notice a cancel; 0 if cancelled. */
static int pause_ms(const strata *db, int64_t ms)
{
    while (ms > 0) {
        int64_t step = ms < FIRST_PAUSE_MS ? ms : FIRST_PAUSE_MS;
        struct timespec ts = {0, (long)step * 1000000L};
        while (nanosleep(&ts, &ts) != 0) {
        }
        ms -= step;
        if (cancelled(db))
            return 0;
    }
    return !cancelled(db);
}

static const char *why(PGPing ping)
{
    return ping == PQPING_REJECT ? "it does not accept connections yet "
                                   "(starting up, shutting down or "
                                   "recovering)"
                                 : "no server answers";
}

int strata__pg_wait(strata *db, const char *const *keys,
                    const char *const *vals, const char *shown,
                    int64_t *waited_ms)
{
    *waited_ms = 0;
    if (db->connect_wait_ms <= 0)
        return STRATA_OK;
    /* The ask itself must not outlast the wait: libpq's connect_timeout
     * (whole seconds, at least 2) bounds a host that drops packets. */
    char timeout[16];
    const char *pkeys[8], *pvals[8];
    size_t n = 0;
    for (; keys[n] != NULL && n < 6; n++) {
        pkeys[n] = keys[n];
        pvals[n] = vals[n];
    }
    int secs = (db->connect_wait_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%d", secs < 2 ? 2 : secs);
    pkeys[n] = "connect_timeout";
    pvals[n++] = timeout;
    pkeys[n] = pvals[n] = NULL;

    int64_t start = strata__monotonic_ms(), next_report = 0;
    int64_t pause = FIRST_PAUSE_MS;
    for (;;) {
        PGPing ping = PQpingParams(pkeys, pvals, 1);
        int64_t spent = strata__monotonic_ms() - start;
        if (ping == PQPING_OK || ping == PQPING_NO_ATTEMPT) {
            if (next_report > 0) /* it waited: say the wait is over */
                strata__log(db, STRATA_LOG_INFO,
                            "the server at %s accepts connections after "
                            "%.1f s",
                            shown, (double)spent / 1000.0);
            return STRATA_OK;
        }
        if (spent >= db->connect_wait_ms) {
            *waited_ms = spent;
            return STRATA_OK;
        }
        if (spent >= next_report) {
            strata__log(db, STRATA_LOG_INFO,
                        "waiting for the server at %s: %s (%.1f of %.1f s)",
                        shown, why(ping), (double)spent / 1000.0,
                        (double)db->connect_wait_ms / 1000.0);
            next_report = spent + REPORT_EVERY_MS;
        }
        int64_t left = db->connect_wait_ms - spent;
        if (!pause_ms(db, pause < left ? pause : left)) {
            strata__err_set(&db->err, STRATA_ECANCELLED, STRATA_REASON_NONE,
                            "cancelled while waiting for the server at %s",
                            shown);
            return STRATA_ECANCELLED;
        }
        pause = pause * 2 < LONGEST_PAUSE_MS ? pause * 2 : LONGEST_PAUSE_MS;
    }
}
