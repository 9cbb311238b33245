/*
 * pg_wait.h - waiting for a PostgreSQL server that does not accept
 * connections yet (strata_options.connect_wait_ms).
 */
#ifndef STRATA_PG_WAIT_H
#define STRATA_PG_WAIT_H

#include "../strata_int.h"

/* How a wait ended, for what the caller does next. */
typedef enum strata__pg_waited {
    STRATA__PG_NOT_ASKED, /* no wait was asked for */
    STRATA__PG_ANSWERED,  /* the server answered at once: a failure of the
                             next connection is not one a wait mends */
    STRATA__PG_READY,     /* it accepts connections after a wait */
    STRATA__PG_RAN_OUT    /* the time ran out */
} strata__pg_waited;

/*
 * Called after a connection failed: asks the server named by the libpq
 * parameters keys/vals (at most STRATA__PG_WAIT_KEYS of them, dbname
 * expanded) whether it accepts connections, with PQpingParams(), at once
 * and then after 0.1 s, doubling up to 1 s, until it does, until it answers
 * in a way a wait cannot change (a server that runs but would refuse this
 * user "accepts"), or until db->connect_wait_ms have passed. Each ask
 * carries a connect_timeout of the time left (libpq's least, 2 s, at the
 * end), never more than `url_timeout` seconds when the URL gives one
 * (> 0). `shown` names the server in the log events (password masked).
 * Returns STRATA_OK with *how and, when it ran out, *waited_ms; the caller
 * then connects again. Returns STRATA_ECANCELLED, with
 * the error in db->err, when db->cancel is raised.
 */
#define STRATA__PG_WAIT_KEYS 4
int strata__pg_wait(strata *db, const char *const *keys,
                    const char *const *vals, int url_timeout, const char *shown,
                    strata__pg_waited *how, int64_t *waited_ms);

#endif /* STRATA_PG_WAIT_H */
