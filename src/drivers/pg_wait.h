/*
 * pg_wait.h - waiting for a PostgreSQL server that does not accept
 * connections yet (strata_options.connect_wait_ms).
 */
#ifndef STRATA_PG_WAIT_H
#define STRATA_PG_WAIT_H

#include "../strata_int.h"

/*
 * Asks the server named by the libpq parameters keys/vals (dbname expanded)
 * whether it accepts connections, with PQpingParams(), until it does, until
 * it answers in a way a wait cannot change (a server that runs but refuses
 * this user still "accepts"), or until db->connect_wait_ms have passed;
 * between asks it sleeps 0.1 s, doubling up to 1 s. `shown` names the
 * server in the log events (password masked). Returns STRATA_OK with
 * *waited_ms the time spent when it gave up (0 when the server was ready,
 * or no wait was asked for): the caller connects either way and, on
 * failure, says how long it waited. Returns STRATA_ECANCELLED, with the
 * error in db->err, when db->cancel is raised meanwhile.
 */
int strata__pg_wait(strata *db, const char *const *keys,
                    const char *const *vals, const char *shown,
                    int64_t *waited_ms);

#endif /* STRATA_PG_WAIT_H */
