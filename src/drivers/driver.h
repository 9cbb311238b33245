/*
 * driver.h - the private, versioned vtable every database driver fills.
 *
 * The engine allocates `state_size` zeroed bytes per handle and passes them to
 * every call, so a driver keeps no globals. Every call that can fail fills the
 * handle's error record (db->err) with the database's own message and code
 * and returns a strata_code; the engine adds file and version context.
 *
 * SQL handed to exec() is written by the engine with `?` placeholders and
 * text values; a driver whose database numbers its placeholders rewrites
 * them. Scripts handed to exec_script() are split by the database's own
 * parser, never by searching for ';'.
 */
#ifndef STRATA_DRIVER_H
#define STRATA_DRIVER_H

#include "../strata_int.h"

#define STRATA__DRIVER_ABI 1

/* Capability bits. */
#define STRATA__CAP_TRANSACTIONAL_DDL 0x1u /* DDL rolls back with the tx */
#define STRATA__CAP_SCHEMAS 0x2u           /* has named schemas */

/* Receives one result row: `ncols` values, NULL for SQL NULL. Return 0 to
 * continue, non-zero to stop (exec then returns STRATA_OK). */
typedef int (*strata__row_cb)(void *payload, int ncols,
                              const char *const *values);

typedef struct strata__url {
    const char *text;   /* the whole URL as given */
    const char *scheme; /* "sqlite", ... */
    const char *rest;   /* everything after "scheme:" */
} strata__url;

typedef struct strata__driver {
    unsigned abi;               /* STRATA__DRIVER_ABI */
    const char *name;           /* "sqlite" */
    const char *const *schemes; /* NULL-terminated URL schemes */
    unsigned caps;
    size_t state_size;
    const char *default_schema; /* what {{schema}} names by default */

    /* Connects. On failure the state must still be safe to close(). */
    int (*open)(strata *db, void *st, const strata__url *url);
    void (*close)(void *st);

    /* A URL fit for display: no password. malloc'ed; NULL on OOM. */
    char *(*display_url)(const char *url);

    /* The migration lock for (database, table, module): wait up to
     * db->lock_timeout_ms, emitting LOCK_WAIT; STRATA_ELOCKED on timeout. */
    int (*lock)(strata *db, void *st);
    void (*unlock)(strata *db, void *st);

    /* Transactions for the engine's own units of work. begin() takes the
     * database's write lock where the database has one. */
    int (*begin)(strata *db, void *st);
    int (*commit)(strata *db, void *st);
    /* Optional: sends what the driver holds back inside the transaction
     * and reports its errors, without committing, so that a failure is
     * reported with the migration it belongs to. */
    int (*sync)(strata *db, void *st);
    /* Optional: called before each migration of a transaction that holds
     * several (the first too): starts it as begin would, with the session
     * settings every migration starts from and the start of its
     * elapsed_ms_sql. */
    int (*step)(strata *db, void *st);
    void (*rollback)(strata *db, void *st);

    /* One statement of the engine's with `?` text parameters (NULL = SQL
     * NULL); rows go to cb (may be NULL). */
    int (*exec)(strata *db, void *st, const char *sql, size_t nparams,
                const char *const *params, strata__row_cb cb, void *payload);

    /* Runs every statement of a script in order, in whatever transaction is
     * open. On failure fills err with the database's message and the file
     * line of the failing token and of the statement's start. */
    int (*exec_script)(strata *db, void *st, const strata__script *script);

    /* Optional: refuses, before anything runs, a script this database
     * cannot run as marked (STRATA_EREFUSED with file, line and a hint):
     * a syntax error, a statement that cannot run in a transaction in a
     * transactional script, a script that manages its own transaction. */
    int (*check_script)(strata *db, void *st, const strata__script *script);

    /* 1 if table `name` exists, 0 if not, or a negative strata_code. */
    int (*table_exists)(strata *db, void *st, const char *name);

    /* Creates the tracking and history tables if missing (in the open
     * transaction), and db->schema where the database has schemas. Names
     * come unquoted. */
    int (*ensure_tables)(strata *db, void *st, const char *table,
                         const char *history_table);

    /* The quoted name under which the engine's SQL reaches table `name`
     * (schema-qualified where db->schema is set). malloc'ed; NULL on OOM. */
    char *(*qualify)(strata *db, void *st, const char *name);

    /* The schema {{schema}} names when db->schema is not set, if the driver
     * has learnt it from the connection; NULL otherwise. */
    const char *(*current_schema)(void *st);

    /* An SQL expression for the milliseconds the current migration has run
     * so far (since begin or step), or NULL. With it, bookkeeping written in
     * the migration's own transaction records the time measured by the server,
     * so a driver may send the script and its bookkeeping together. */
    const char *elapsed_ms_sql;

    /* Optional: the state digest (strata__state_hash) of this module's
     * tracking rows, computed by the database, into out; a missing table
     * (or schema) counts as no rows. NULL: the engine hashes the rows as
     * it reads them. With it, an up-to-date start reads one value however
     * many migrations there are. */
    int (*state_digest)(strata *db, void *st, char out[65]);

    /* Optional: the state_digest() of an `up` equalled the source's. A
     * driver that keeps the digest (PostgreSQL's cache) may store it now,
     * at no risk to the run: it must neither fail nor leave an error
     * behind. Not called for strata_check(), which writes nothing. */
    void (*state_matched)(strata *db, void *st);

    /* Optional: gives back memory the connection caches but does not need
     * any more (SQLite's page cache, up to 2 MB), called once the tracking
     * rows are in memory, so that the plan built from them reuses it
     * instead of adding to the peak. Cannot fail. */
    void (*trim)(void *st);
} strata__driver;

/* registry.c: the driver for a URL's scheme, or NULL. Fills url. */
const strata__driver *strata__driver_for(const char *url_text,
                                         strata__url *url);

extern const strata__driver strata__driver_sqlite;
extern const strata__driver strata__driver_postgres;

#endif /* STRATA_DRIVER_H */
