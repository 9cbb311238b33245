/*
 * pg_wait.c - waiting for a PostgreSQL server to accept connections; see
 * pg_wait.h.
 *
 * Replicas often boot beside their database: the socket is not there yet,
 * the host name does not resolve yet, or the server answers that it is
 * starting up. PQpingParams() tells those apart from a server that runs and
 * would refuse this user, which no wait can mend, so a wrong password
 * still fails at once. It is asked only once a connection has failed: a
 * start against a server that is up pays nothing for the option.
 */
#include "pg_wait.h"

#define STRATA__LIBPQ_CALLS
#include "libpq_load.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

enum { FIRST_PAUSE_MS = 100, LONGEST_PAUSE_MS = 1000, REPORT_EVERY_MS = 10000 };

/* Sleeps `ms`, in steps short enough to notice a cancel; 0 if cancelled. */
static int pause_ms(const strata *db, int64_t ms)
{
    while (ms > 0) {
        int64_t step = ms < FIRST_PAUSE_MS ? ms : FIRST_PAUSE_MS;
        struct timespec ts = {0, (long)step * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ms -= step;
        if (strata__cancel_asked(db))
            return 0;
    }
    return !strata__cancel_asked(db);
}

static const char *why(PGPing ping)
{
    return ping == PQPING_REJECT
               ? "it does not accept connections yet (starting up, shutting "
                 "down or recovering)"
               : "it cannot be reached (nothing listens, the host name does "
                 "not resolve, or the connection fails before the server "
                 "answers)";
}

int strata__pg_wait(strata *db, const char *const *keys,
                    const char *const *vals, int url_timeout, const char *shown,
                    strata__pg_waited *how, int64_t *waited_ms)
{
    *how = STRATA__PG_NOT_ASKED;
    *waited_ms = 0;
    if (db->connect_wait_ms <= 0)
        return STRATA_OK;
    const char *pkeys[STRATA__PG_WAIT_KEYS + 2];
    const char *pvals[STRATA__PG_WAIT_KEYS + 2];
    size_t n = 0;
    for (; keys[n] != NULL && n < STRATA__PG_WAIT_KEYS; n++) {
        pkeys[n] = keys[n];
        pvals[n] = vals[n];
    }
    char timeout[24];
    pkeys[n] = "connect_timeout"; /* later keys override the URL's */
    pvals[n++] = timeout;
    pkeys[n] = pvals[n] = NULL;

    int64_t limit = db->connect_wait_ms, start = strata__monotonic_ms();
    int64_t next_report = 0, pause = FIRST_PAUSE_MS;
    for (;;) {
        /* An ask must not outlast the wait: a host that drops packets
         * would hold it for the kernel's TCP timeout. */
        int64_t left = limit - (strata__monotonic_ms() - start);
        int64_t secs = left / 1000 + (left % 1000 != 0);
        if (secs < 2)
            secs = 2;
        if (url_timeout > 0 && url_timeout < secs)
            secs = url_timeout;
        snprintf(timeout, sizeof timeout, "%lld", (long long)secs);
        PGPing ping = PQpingParams(pkeys, pvals, 1);
        int64_t spent = strata__monotonic_ms() - start;
        if (ping == PQPING_OK || ping == PQPING_NO_ATTEMPT) {
            *how = next_report > 0 ? STRATA__PG_READY : STRATA__PG_ANSWERED;
            if (*how == STRATA__PG_READY)
                strata__log(db, STRATA_LOG_INFO,
                            "the server at %s accepts connections after "
                            "%.1f s",
                            shown, (double)spent / 1000.0);
            return STRATA_OK;
        }
        if (spent >= limit) {
            *how = STRATA__PG_RAN_OUT;
            *waited_ms = spent;
            return STRATA_OK;
        }
        if (spent >= next_report) {
            strata__log(db, STRATA_LOG_INFO,
                        "waiting for the server at %s: %s (%.1f of %.1f s)",
                        shown, why(ping), (double)spent / 1000.0,
                        (double)limit / 1000.0);
            next_report = spent + REPORT_EVERY_MS;
        }
        left = limit - spent;
        if (!pause_ms(db, pause < left ? pause : left)) {
            strata__err_set(&db->err, STRATA_ECANCELLED, STRATA_REASON_NONE,
                            "cancelled while waiting for the server at %s",
                            shown);
            return STRATA_ECANCELLED;
        }
        pause = pause * 2 < LONGEST_PAUSE_MS ? pause * 2 : LONGEST_PAUSE_MS;
    }
}
