/*
 * postgres.c - the PostgreSQL driver, on libpq.
 *
 * Scripts are split by PostgreSQL's own parser (pgsql.c) and sent one
 * statement at a time, so an error names the exact statement and, through
 * the server's error position, the exact line.
 *
 * Round trips. Inside a transaction the engine's calls are queued, not sent:
 * BEGIN, the per-migration settings, every statement of the script and the
 * bookkeeping go out together in one libpq pipeline when the engine commits,
 * and the execution time is measured by the server (elapsed_ms_sql). So a
 * migration costs one round trip. A no-op `up` takes no lock and costs
 * one, as `psql -c 'select 1'` does: the digest of the tracking rows
 * (pg_state_digest), one value whatever their number, read from the digest
 * cache while it provably holds (pg_digest.h); a start that finds the cache
 * stale digests the rows in a second. A run with work adds the lock
 * (learn(): the schema, whether the tracking tables exist, and
 * pg_try_advisory_lock), the rows read under it, the digest stored for the
 * next start (store_digest), and the unlock. A long script is flushed in
 * chunks so that neither side's socket buffer can fill and stall the
 * other.
 *
 * The migration lock is a session advisory lock on a key derived from
 * (schema, tracking table, module); see lock_key(). It is taken with
 * pg_try_advisory_lock, polled outside any transaction: a waiter blocked in
 * pg_advisory_lock would hold a snapshot, and CREATE INDEX CONCURRENTLY run
 * by the holder waits for every such snapshot, forever.
 *
 * Session state a migration changes (SET timezone, SET search_path, ...)
 * does not leak into the next one: each migration starts with RESET ALL,
 * also inside a transaction that holds several (step).
 */
#include "driver.h"
#include "pg_digest.h"
#include "pg_proof.h"
#include "pg_wait.h"
#include "pgsql.h"

#define STRATA__LIBPQ_CALLS
#include "libpq_load.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Statements queued before their results are read: bounds what either
 * side must buffer. */
#define FLUSH_EVERY 256

/* A statement waiting to be sent. One from a script carries where it came
 * from, copied, because the script may be gone by the time an error in it
 * comes back (a single-transaction run commits after many migrations). */
typedef struct queued {
    char *sql;
    size_t nparams;
    char **params;
    const char *path; /* the script's file (owned by pg_state.paths), or
                         NULL for the engine's own statements */
    int line;         /* file line of the statement's first token */
    int column;       /* and its column */
} queued;

/* What a look that digested the rows found the cache would store (see
 * strata__pg_digest_fresh), for pg_state_matched(). */
typedef struct refill {
    int ready;        /* all of it is here, and storing it is allowed */
    char horizon[24]; /* <h> */
    char rows[24];    /* <n> */
    char rel[24];     /* <o> */
    char digest[65];  /* <d> */
} refill;

typedef struct pg_state {
    PGconn *conn;
    char *password; /* to scrub from libpq's messages */
    char *current_schema;
    int locked;
    int wrote; /* wrote while locked: a commit, a statement on its own */
    long long lock_key;
    int known; /* learn() told the schema and whether the tables exist */
    int table_exists, history_exists;
    int digest_exists; /* the digest cache table exists */
    int digest_shaped; /* with strata's columns (else it is not ours) */
    refill refill;     /* what the last look would store */
    int in_tx;         /* between begin and commit/rollback */
    queued *queue;
    size_t nqueue, capqueue;
    char **paths; /* script paths the queue points to */
    size_t npaths;
} pg_state;

/* ------------------------------------------------------------------------ */
/* Errors */

/* Copies libpq's text without the password, if it ever shows up there. */
static void scrub(const pg_state *st, char *text)
{
    if (st->password == NULL || st->password[0] == '\0')
        return;
    size_t n = strlen(st->password);
    char *p;
    while ((p = strstr(text, st->password)) != NULL) {
        memset(p, '*', n > 3 ? 3 : n);
        memmove(p + (n > 3 ? 3 : n), p + n, strlen(p + n) + 1);
    }
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Fills the database fields of the error record from a result (or from the
 * connection when res is NULL) and sets code with the server's message. */
static int pg_error(strata *db, pg_state *st, const PGresult *res, int code,
                    const char *what)
{
    char msg[2048], detail[1024];
    const char *m =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(msg, sizeof msg, "%s",
             m ? m : (st->conn ? PQerrorMessage(st->conn) : "no connection"));
    const char *d =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    snprintf(detail, sizeof detail, "%s", d ? d : "");
    chomp(msg);
    scrub(st, msg);
    scrub(st, detail);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    strata__err_db(&db->err, msg, detail, state ? state : "", 0);
    const char *hint =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    if (hint != NULL) {
        char h[1024];
        snprintf(h, sizeof h, "%s", hint);
        scrub(st, h);
        strata__err_hint(&db->err, "%s", h);
    }
    if (state != NULL && strcmp(state, "55P03") == 0 && code == STRATA_EFAILED)
        strata__err_hint(&db->err, "a lock was not granted within "
                                   "--lock-wait: application traffic holds "
                                   "it; try again or raise --lock-wait");
    if ((state != NULL && strncmp(state, "57P", 3) == 0) ||
        (st->conn != NULL && PQstatus(st->conn) != CONNECTION_OK))
        strata__err_hint(&db->err, "the connection was cut (server shut "
                                   "down or session terminated): the "
                                   "server rolled the migration back; run "
                                   "strata up again");
    if (state != NULL && strcmp(state, "57014") == 0 && code == STRATA_EFAILED)
        strata__err_hint(&db->err, "a statement ran longer than "
                                   "--statement-timeout");
    if (what == NULL)
        return strata__err_set(&db->err, code, STRATA_REASON_NONE, "%s", msg);
    return strata__err_set(&db->err, code, STRATA_REASON_NONE, "%s: %s", what,
                           msg);
}

/* Byte offset of the 1-based character position `pos` in UTF-8 text. */
static size_t char_offset(const char *text, size_t len, long pos)
{
    size_t i = 0;
    for (long c = 1; c < pos && i < len; c++) {
        i++;
        while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* Where statement `ps` of script `sc` lies in its file. */
static void place(queued *q, const strata__script *sc,
                  const strata__pg_stmt *ps, const char *path)
{
    q->path = path;
    q->line = sc->first_line - 1 + ps->line;
    q->column = strata__column_of(sc->sql, ps->offset);
}

/* An error in script statement `q`: the file line and column of the
 * failing token, from the server's position within the statement. */
static int script_error(strata *db, pg_state *st, const PGresult *res,
                        const queued *q)
{
    pg_error(db, st, res, STRATA_EFAILED, NULL);
    int line = q->line, column = 0;
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    if (pos != NULL) {
        size_t off = char_offset(q->sql, strlen(q->sql), strtol(pos, NULL, 10));
        int in_stmt = strata__line_of(q->sql, off);
        line = q->line + in_stmt - 1;
        column = strata__column_of(q->sql, off);
        if (in_stmt == 1)
            column += q->column - 1;
    }
    strata__err_where(&db->err, q->path, line, q->line, column);
    return STRATA_EFAILED;
}

/* ------------------------------------------------------------------------ */
/* Connection */

static char *pg_display_url(const char *url)
{
    return strata__mask_url(url);
}

static void notice(void *arg, const PGresult *res)
{
    strata *db = arg;
    char text[2048];
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    strata_log_level level =
        sev != NULL && strcmp(sev, "WARNING") == 0 ? STRATA_LOG_WARN
        : sev != NULL && strcmp(sev, "DEBUG") == 0 ? STRATA_LOG_DEBUG
                                                   : STRATA_LOG_INFO;
    snprintf(text, sizeof text, "%s", msg ? msg : "");
    scrub(db->drv, text);
    strata__log(db, level, "database: %s", text);
}

static int pg_open(strata *db, void *vst, const strata__url *url)
{
    pg_state *st = vst;
    (void)url;
    /* The whole URL goes to libpq, which reads its own environment
     * (PGPASSWORD, PGSSLMODE, .pgpass, ...). */
    const char *full = url->text;
    if (strata__libpq_load(&db->err) == NULL)
        return STRATA_ECONNECT;
    /* A URL libpq cannot parse is the user's mistake (exit 2), not a
     * server that cannot be reached. */
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(full, &perr);
    if (parsed == NULL) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", perr ? perr : "out of memory");
        PQfreemem(perr);
        chomp(msg);
        char *shown = pg_display_url(full);
        strata__err_db(&db->err, msg, "", "", 0);
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                        "%s is not a valid PostgreSQL URL: %s",
                        shown ? shown : "the URL", msg);
        free(shown);
        strata__err_hint(&db->err, "write postgres://user@host:port/dbname"
                                   "?param=value, with parameters libpq "
                                   "knows (sslmode, host, ...)");
        return STRATA_EUSAGE;
    }
    /* libpq checks sslmode only when it connects: check it here too. */
    static const char *const modes[] = {"disable", "allow",     "prefer",
                                        "require", "verify-ca", "verify-full",
                                        NULL};
    for (PQconninfoOption *o = parsed; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "sslmode") != 0 || o->val == NULL)
            continue;
        int known = 0;
        for (const char *const *m = modes; *m != NULL; m++)
            known |= strcmp(*m, o->val) == 0;
        if (!known) {
            strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                            "sslmode '%s' is not one of disable, allow, "
                            "prefer, require, verify-ca, verify-full",
                            o->val);
            strata__err_hint(&db->err, "fix sslmode in the URL or PGSSLMODE");
            PQconninfoFree(parsed);
            return STRATA_EUSAGE;
        }
    }
    int url_timeout = 0; /* the URL's own bound on one attempt */
    for (PQconninfoOption *o = parsed; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL)
            url_timeout = atoi(o->val);
    PQconninfoFree(parsed);
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {full, "strata", NULL};
    char *shown = NULL; /* the URL fit for messages: made on failure only */
    strata__pg_waited how = STRATA__PG_NOT_ASKED;
    int64_t waited = 0;
    int rc = STRATA_OK;
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (st->conn != NULL && PQstatus(st->conn) != CONNECTION_OK &&
        db->connect_wait_ms > 0) {
        shown = pg_display_url(full);
        rc = strata__pg_wait(db, keys, vals, url_timeout,
                             shown ? shown : "the URL", &how, &waited);
        if (rc == STRATA_OK) {
            /* Again, for the server's state now: even one that answered at
             * once may have finished starting up just after refusing the
             * first connection, and a lasting refusal comes back as it is. */
            PQfinish(st->conn);
            st->conn = PQconnectdbParams(keys, vals, 1);
        }
    }
    if (rc == STRATA_OK && st->conn == NULL)
        rc = strata__err_nomem(&db->err);
    const char *pw = st->conn != NULL ? PQpass(st->conn) : NULL;
    if (rc == STRATA_OK && pw != NULL && pw[0] != '\0') {
        st->password = strata__strdup(pw);
        if (st->password == NULL)
            rc = strata__err_nomem(&db->err);
    }
    if (rc == STRATA_OK && PQstatus(st->conn) != CONNECTION_OK) {
        if (shown == NULL)
            shown = pg_display_url(full);
        char waited_text[48] = "";
        if (how == STRATA__PG_RAN_OUT)
            snprintf(waited_text, sizeof waited_text, " after waiting %.1f s",
                     (double)waited / 1000.0);
        pg_error(db, st, NULL, STRATA_ECONNECT, NULL);
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_NONE,
                        "cannot connect to %s%s: %s",
                        shown ? shown : "database", waited_text,
                        db->err.db_message);
        /* A server that answered is not helped by waiting. */
        static const char *const wait_hint[] = {
            [STRATA__PG_NOT_ASKED] = ("; if it is still starting, "
                                      "--connect-wait SECONDS "
                                      "(connect_wait_ms) waits for it"),
            [STRATA__PG_ANSWERED] = "",
            [STRATA__PG_READY] = "",
            [STRATA__PG_RAN_OUT] = ("; if it is still starting, give a "
                                    "longer --connect-wait"),
        };
        strata__err_hint(&db->err,
                         "check that the server runs and accepts this user "
                         "(libpq also reads PGHOST, PGPASSWORD and "
                         "~/.pgpass)%s",
                         wait_hint[how]);
        rc = STRATA_ECONNECT;
    }
    free(shown);
    if (rc != STRATA_OK)
        return rc;
    PQsetNoticeReceiver(st->conn, notice, db);
    return STRATA_OK;
}

static void free_queue(pg_state *st)
{
    for (size_t i = 0; i < st->nqueue; i++) {
        free(st->queue[i].sql);
        for (size_t p = 0; p < st->queue[i].nparams; p++)
            free(st->queue[i].params[p]);
        free(st->queue[i].params);
    }
    st->nqueue = 0;
    for (size_t i = 0; i < st->npaths; i++)
        free(st->paths[i]);
    free(st->paths);
    st->paths = NULL;
    st->npaths = 0;
}

static void pg_close(void *vst)
{
    pg_state *st = vst;
    free_queue(st);
    free(st->queue);
    if (st->conn != NULL)
        PQfinish(st->conn); /* also releases the session's advisory lock */
    free(st->password);
    free(st->current_schema);
    memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------------------ */
/* Engine SQL: `?` placeholders become $1, $2, ... */

static char *number_params(const char *sql)
{
    size_t n = 0;
    for (const char *p = sql; *p; p++)
        n += *p == '?';
    char *out = malloc(strlen(sql) + n * 4 + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    int k = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '?')
            o += sprintf(o, "$%d", ++k);
        else
            *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int run_now(strata *db, pg_state *st, const char *sql, size_t nparams,
                   const char *const *params, strata__row_cb cb, void *payload)
{
    char *numbered = number_params(sql);
    if (numbered == NULL)
        return strata__err_nomem(&db->err);
    int sent = PQsendQueryParams(st->conn, numbered, (int)nparams, NULL, params,
                                 NULL, NULL, 0);
    free(numbered);
    if (!sent)
        return pg_error(db, st, NULL, STRATA_EFAILED, "bookkeeping statement");
    /* Rows one at a time, each freed once the callback has it: the whole
     * result of 10,000 tracking rows would hold 2.4 MB while the callback
     * copies them. */
    if (cb != NULL)
        PQsetSingleRowMode(st->conn);
    int rc = STRATA_OK, stop = 0;
    PGresult *res;
    /* To the end even after an error or a stop: the connection is ready
     * for the next statement only once every result is read. */
    while ((res = PQgetResult(st->conn)) != NULL) {
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_SINGLE_TUPLE || s == PGRES_TUPLES_OK) {
            int ncols = PQnfields(res);
            const char *vals[16];
            if (ncols > 16)
                ncols = 16;
            for (int r = 0;
                 cb && rc == STRATA_OK && !stop && r < PQntuples(res); r++) {
                for (int c = 0; c < ncols; c++)
                    vals[c] =
                        PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
                stop = cb(payload, ncols, vals) != 0;
            }
        } else if (s != PGRES_COMMAND_OK && rc == STRATA_OK) {
            rc = pg_error(db, st, res, STRATA_EFAILED, "bookkeeping statement");
            if (db->err.hint[0] == '\0')
                strata__err_hint(&db->err,
                                 "strata's own statement on its tracking "
                                 "tables (%s, %s) failed: check that they "
                                 "are strata's, unaltered, and that this "
                                 "role may read and write them",
                                 db->table, db->history_table);
        }
        PQclear(res);
    }
    return rc;
}

/* Queues `sql` (taken over) with copies of its parameters; `from` says
 * where a script statement lies in its file (NULL for engine SQL). */
static int enqueue(strata *db, pg_state *st, char *sql, size_t nparams,
                   const char *const *params, const queued *from)
{
    if (st->nqueue == st->capqueue) {
        size_t cap = st->capqueue ? st->capqueue * 2 : 64;
        queued *q = realloc(st->queue, cap * sizeof *q);
        if (q == NULL) {
            free(sql);
            return strata__err_nomem(&db->err);
        }
        st->queue = q;
        st->capqueue = cap;
    }
    queued *q = &st->queue[st->nqueue++];
    memset(q, 0, sizeof *q);
    q->sql = sql;
    if (from != NULL) {
        q->path = from->path;
        q->line = from->line;
        q->column = from->column;
    }
    if (nparams > 0) {
        q->params = calloc(nparams, sizeof *q->params);
        if (q->params == NULL)
            return strata__err_nomem(&db->err);
        q->nparams = nparams;
        for (size_t i = 0; i < nparams; i++) {
            if (params[i] != NULL &&
                (q->params[i] = strata__strdup(params[i])) == NULL)
                return strata__err_nomem(&db->err);
        }
    }
    return STRATA_OK;
}

static int enqueue_text(strata *db, pg_state *st, const char *sql)
{
    char *copy = strata__strdup(sql);
    if (copy == NULL)
        return strata__err_nomem(&db->err);
    return enqueue(db, st, copy, 0, NULL, NULL);
}

/* Reads results until the pipeline's sync, after an error or at the end. */
static void drain_to_sync(pg_state *st)
{
    for (;;) {
        PGresult *res = PQgetResult(st->conn);
        if (res == NULL) {
            if (PQstatus(st->conn) != CONNECTION_OK)
                break;
            continue;
        }
        ExecStatusType s = PQresultStatus(res);
        PQclear(res);
        if (s == PGRES_PIPELINE_SYNC || s == PGRES_FATAL_ERROR ||
            PQstatus(st->conn) != CONNECTION_OK)
            break;
    }
}

/* Reads the result of queued item `q` (and the NULL that ends it). */
static int read_one(strata *db, pg_state *st, const queued *q)
{
    PGresult *res = PQgetResult(st->conn);
    if (res == NULL)
        return pg_error(db, st, NULL, STRATA_EFAILED, "lost the connection");
    int rc = STRATA_OK;
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH) {
        rc = strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_BAD_SCRIPT,
                             "COPY cannot be sent in a pipeline");
    } else if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK &&
               s != PGRES_EMPTY_QUERY) {
        rc = q->path != NULL ? script_error(db, st, res, q)
                             : pg_error(db, st, res, STRATA_EFAILED,
                                        "bookkeeping statement");
    }
    PQclear(res);
    PGresult *end = PQgetResult(st->conn); /* NULL ends each query */
    PQclear(end);
    return rc;
}

/* Sends every queued statement in one pipeline and reads the results.
 * Stops at the first error; the transaction is then aborted and the caller
 * rolls back. */
static int flush(strata *db, pg_state *st)
{
    int rc = STRATA_OK;
    if (st->nqueue == 0)
        return STRATA_OK;
    if (PQenterPipelineMode(st->conn) != 1) {
        rc = pg_error(db, st, NULL, STRATA_EFAILED, "cannot start a pipeline");
        goto out;
    }
    size_t sent = 0, read = 0;
    while (read < st->nqueue && rc == STRATA_OK) {
        size_t end = sent + FLUSH_EVERY;
        if (end > st->nqueue)
            end = st->nqueue;
        for (; sent < end; sent++) {
            queued *q = &st->queue[sent];
            if (!PQsendQueryParams(st->conn, q->sql, (int)q->nparams, NULL,
                                   (const char *const *)q->params, NULL, NULL,
                                   0)) {
                rc = pg_error(db, st, NULL, STRATA_EFAILED, "cannot send");
                break;
            }
        }
        if (rc != STRATA_OK)
            break;
        if (sent == st->nqueue ? !PQpipelineSync(st->conn)
                               : !PQsendFlushRequest(st->conn)) {
            rc = pg_error(db, st, NULL, STRATA_EFAILED, "cannot send");
            break;
        }
        if (PQflush(st->conn) != 0) {
            rc = pg_error(db, st, NULL, STRATA_EFAILED, "cannot send");
            break;
        }
        for (; read < sent && rc == STRATA_OK; read++)
            rc = read_one(db, st, &st->queue[read]);
    }
    if (PQstatus(st->conn) == CONNECTION_OK) {
        if (rc != STRATA_OK && sent < st->nqueue)
            PQpipelineSync(st->conn);
        drain_to_sync(st);
        PQexitPipelineMode(st->conn);
    }
out:
    free_queue(st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lock */

/*
 * The advisory lock key: FNV-1a, 64 bits, over
 *   "strata" NUL schema NUL table NUL module
 * (schema "" when none is given), as a signed bigint. The database is
 * implicit: advisory locks are per database.
 */
static long long fnv_key(const char *const *parts, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = parts[i];; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
            if (*p == '\0')
                break;
        }
    }
    return (long long)h;
}

static long long lock_key(const strata *db)
{
    const char *parts[] = {"strata", db->schema ? db->schema : "", db->table,
                           db->module};
    return fnv_key(parts, 4);
}

/* The transaction lock that serialises creating the tracking tables and
 * the digest cache: modules share them, so it leaves the module out. */
static long long tables_key(const strata *db)
{
    const char *parts[] = {"strata tables", db->schema ? db->schema : "",
                           db->table};
    return fnv_key(parts, 3);
}

/* "schema"."name": the schema given, else the one the connection started
 * in (learnt with the lock), so a migration's own SET search_path cannot
 * hide the tracking tables from the bookkeeping in its transaction. */
static char *qualify(const strata *db, const pg_state *st, const char *name)
{
    const char *schema = db->schema ? db->schema : st->current_schema;
    char *qn = strata__quote_ident(name);
    if (qn == NULL || schema == NULL)
        return qn;
    char *qs = strata__quote_ident(schema);
    char *out = qs ? strata__sprintf("%s.%s", qs, qn) : NULL;
    free(qs);
    free(qn);
    return out;
}

static char *pg_qualify(strata *db, void *vst, const char *name)
{
    return qualify(db, vst, name);
}

typedef struct lock_answer {
    int got, table, history, digest_exists, digest_shaped;
    char *schema;
} lock_answer;

static int lock_cb(void *payload, int ncols, const char *const *v)
{
    lock_answer *a = payload;
    a->got = v[0] != NULL && v[0][0] == 't';
    if (ncols >= 4) {
        free(a->schema);
        a->schema = strata__strdup(v[1] ? v[1] : "public");
        a->table = v[2] != NULL && v[2][0] == 't';
        a->history = v[3] != NULL && v[3][0] == 't';
    }
    if (ncols >= 6) {
        a->digest_exists = v[4] != NULL && v[4][0] == 't';
        a->digest_shaped = v[5] != NULL && v[5][0] == 't';
    }
    return 0;
}

typedef struct holder {
    char text[512];
} holder;

static int holder_cb(void *payload, int ncols, const char *const *v)
{
    holder *h = payload;
    if (ncols >= 5)
        snprintf(h->text, sizeof h->text,
                 "pid %s (user %s, application '%s', %s, since %s)",
                 v[0] ? v[0] : "?", v[1] ? v[1] : "?", v[2] ? v[2] : "",
                 v[3] ? v[3] : "?", v[4] ? v[4] : "?");
    return 1;
}

/* Where the engine's SQL reaches the tracking tables: in the configured
 * schema, else in current_schema(), which the server works out in the same
 * statement (`s` below; its parameter is the quoted schema or NULL). An
 * unqualified name would find a table of the same name in a later schema
 * of the search_path. */
#define TRACKING_SCHEMA                                                        \
    " FROM (SELECT coalesce(?, quote_ident(current_schema())) AS s) AS target"

typedef struct tracking_names {
    char *schema; /* quoted, or NULL for current_schema() */
    char *table, *history;
    char *cache; /* quoted, or NULL when the table's name is too long */
} tracking_names;

static void tracking_names_free(tracking_names *n)
{
    free(n->schema);
    free(n->table);
    free(n->history);
    free(n->cache);
}

static int tracking_names_quote(strata *db, tracking_names *n)
{
    char cache[64];
    int has_cache = strata__pg_digest_name(db->table, cache);
    n->schema = db->schema ? strata__quote_ident(db->schema) : NULL;
    n->table = strata__quote_ident(db->table);
    n->history = strata__quote_ident(db->history_table);
    n->cache = has_cache ? strata__quote_ident(cache) : NULL;
    if (n->table && n->history && (n->schema || !db->schema) &&
        (n->cache || !has_cache))
        return STRATA_OK;
    tracking_names_free(n);
    return strata__err_nomem(&db->err);
}

/* Learns, in one round trip, what the plan needs: the current schema and
 * whether the tracking tables (and the digest cache) exist; with `key`, it
 * also tries the lock. Every try asks again, since the holder may have
 * created them meanwhile. */
static int learn(strata *db, pg_state *st, const char *key, lock_answer *a)
{
#define LEARN_REST                                                             \
    ", current_schema(), to_regclass(s || '.' || ?) IS NOT NULL, "             \
    "to_regclass(s || '.' || ?) IS NOT NULL, to_regclass(s || '.' || ?) IS "   \
    "NOT NULL, " STRATA__PG_DIGEST_SHAPED("to_regclass(s || '.' || ?)")        \
        TRACKING_SCHEMA
    tracking_names n;
    int rc = tracking_names_quote(db, &n);
    if (rc != STRATA_OK)
        return rc;
    const char *params[] = {key,     n.table, n.history,
                            n.cache, n.cache, n.schema};
    rc = run_now(
        db, st,
        key != NULL ? "SELECT pg_try_advisory_lock(?::bigint)" LEARN_REST
                    : "SELECT NULL" LEARN_REST,
        key != NULL ? 6 : 5, key != NULL ? params : params + 1, lock_cb, a);
#undef LEARN_REST
    tracking_names_free(&n);
    if (rc != STRATA_OK) {
        /* Rows come one at a time, so an error can follow the one that
         * says the lock was taken: give it back, and keep the error. */
        if (key != NULL && a->got && PQstatus(st->conn) == CONNECTION_OK) {
            strata__err saved = db->err;
            const char *k[] = {key};
            (void)run_now(db, st, "SELECT pg_advisory_unlock(?::bigint)", 1, k,
                          NULL, NULL);
            db->err = saved;
        }
        free(a->schema);
        a->schema = NULL;
        return rc;
    }
    free(st->current_schema);
    st->current_schema = a->schema;
    a->schema = NULL;
    st->known = 1;
    st->table_exists = a->table;
    st->history_exists = a->history;
    st->digest_exists = a->digest_exists;
    st->digest_shaped = a->digest_shaped;
    return STRATA_OK;
}

static int pg_lock(strata *db, void *vst)
{
    pg_state *st = vst;
    if (st->locked)
        return STRATA_OK;
    char key[32];
    snprintf(key, sizeof key, "%lld", lock_key(db));
    lock_answer a = {0};
    int rc = learn(db, st, key, &a);
    if (rc != STRATA_OK)
        return rc;
    int64_t start = strata__monotonic_ms();
    long sleep_us = 5000;
    if (!a.got) {
        strata_event ev = {0};
        ev.type = STRATA_EVENT_LOCK_WAIT;
        ev.module = db->module;
        ev.message = "another session holds the migration lock; waiting";
        strata__emit(db, &ev);
    }
    while (!a.got) {
        int64_t waited = strata__monotonic_ms() - start;
        if (waited >= db->lock_timeout_ms) {
            holder h = {"another session"};
            char hi[16], lo[16];
            unsigned long long k = (unsigned long long)lock_key(db);
            snprintf(hi, sizeof hi, "%llu", (k >> 32) & 0xffffffffull);
            snprintf(lo, sizeof lo, "%llu", k & 0xffffffffull);
            const char *hp[] = {hi, lo};
            (void)run_now(db, st,
                          "SELECT a.pid, a.usename, a.application_name, "
                          "coalesce(host(a.client_addr), 'local socket'), "
                          "a.backend_start FROM pg_locks l JOIN "
                          "pg_stat_activity a ON a.pid = l.pid WHERE "
                          "l.locktype = 'advisory' AND l.granted AND "
                          "l.database = (SELECT oid FROM pg_database WHERE "
                          "datname = current_database()) AND "
                          "l.classid = ?::bigint::oid AND "
                          "l.objid = ?::bigint::oid AND l.objsubid = 1",
                          2, hp, holder_cb, &h);
            strata__err_clear(&db->err);
            strata__err_set(&db->err, STRATA_ELOCKED, STRATA_REASON_NONE,
                            "the migration lock (module %s, key %s) is held "
                            "by %s and was not released within %d ms",
                            db->module, key, h.text, db->lock_timeout_ms);
            strata__err_hint(&db->err, "wait for that run to finish, or "
                                       "raise --lock-timeout");
            return STRATA_ELOCKED;
        }
        rc = strata__lock_pause(db, &sleep_us);
        if (rc == STRATA_OK)
            rc = learn(db, st, key, &a);
        if (rc != STRATA_OK)
            return rc;
    }
    st->locked = 1;
    st->lock_key = lock_key(db);
    strata_event ev = {0};
    ev.type = STRATA_EVENT_LOCK_ACQUIRED;
    ev.module = db->module;
    ev.duration_ms = strata__monotonic_ms() - start;
    strata__emit(db, &ev);
    return STRATA_OK;
}

static void store_digest(strata *db, pg_state *st, int create,
                         const refill *values);

static void pg_unlock(strata *db, void *vst)
{
    pg_state *st = vst;
    if (!st->locked || st->conn == NULL)
        return;
    char key[32];
    snprintf(key, sizeof key, "%lld", st->lock_key);
    const char *params[] = {key};
    if (st->known && st->table_exists && st->wrote &&
        (!st->digest_exists || st->digest_shaped))
        store_digest(db, st, !st->digest_exists, NULL);
    strata__err saved = db->err; /* unlocking must not hide the run's error */
    (void)run_now(db, st, "SELECT pg_advisory_unlock(?::bigint)", 1, params,
                  NULL, NULL);
    db->err = saved;
    st->locked = 0;
    st->known = 0;
    st->wrote = 0;
}

/* ------------------------------------------------------------------------ */
/* Transactions: queued, sent at commit */

static int session_settings(strata *db, pg_state *st, int local)
{
    const char *scope = local ? "LOCAL " : "";
    char sql[256];
    int rc = enqueue_text(db, st, "RESET ALL");
    if (rc == STRATA_OK && db->statement_timeout_ms > 0) {
        snprintf(sql, sizeof sql, "SET %sstatement_timeout = %d", scope,
                 db->statement_timeout_ms);
        rc = enqueue_text(db, st, sql);
    }
    if (rc == STRATA_OK && db->lock_wait_ms > 0) {
        snprintf(sql, sizeof sql, "SET %slock_timeout = %d", scope,
                 db->lock_wait_ms);
        rc = enqueue_text(db, st, sql);
    }
    if (rc == STRATA_OK && db->schema != NULL) {
        char *qs = strata__quote_ident(db->schema);
        char *set =
            qs ? strata__sprintf("SET %ssearch_path = %s, public", scope, qs)
               : NULL;
        rc = set ? enqueue(db, st, set, 0, NULL, NULL)
                 : strata__err_nomem(&db->err);
        free(qs);
    }
    return rc;
}

static int pg_begin(strata *db, void *vst)
{
    pg_state *st = vst;
    free_queue(st);
    st->in_tx = 1;
    int rc = enqueue_text(db, st, "BEGIN");
    return rc == STRATA_OK ? session_settings(db, st, 1) : rc;
}

static int pg_sync(strata *db, void *vst)
{
    return flush(db, vst);
}

/* The next migration of a transaction that holds several: what pg_begin
 * sets, and the clock its execution time is read from (elapsed_ms_sql). */
static int pg_step(strata *db, void *vst)
{
    pg_state *st = vst;
    int rc = session_settings(db, st, 1);
    if (rc == STRATA_OK)
        rc = enqueue_text(db, st,
                          "SELECT set_config('strata.step_start', "
                          "extract(epoch FROM clock_timestamp())::text, "
                          "true)");
    return rc;
}

static int pg_commit(strata *db, void *vst)
{
    pg_state *st = vst;
    int rc = enqueue_text(db, st, "COMMIT");
    if (rc == STRATA_OK)
        rc = flush(db, st);
    if (rc == STRATA_OK) {
        st->in_tx = 0;
        st->wrote |= st->locked;
    }
    return rc;
}

static void pg_rollback(strata *db, void *vst)
{
    pg_state *st = vst;
    free_queue(st);
    st->in_tx = 0;
    if (st->conn != NULL && PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(st->conn, "ROLLBACK");
        PQclear(res);
    }
    (void)db;
}

static int pg_exec(strata *db, void *vst, const char *sql, size_t nparams,
                   const char *const *params, strata__row_cb cb, void *payload)
{
    pg_state *st = vst;
    if (st->in_tx && cb == NULL) {
        char *numbered = number_params(sql);
        if (numbered == NULL)
            return strata__err_nomem(&db->err);
        return enqueue(db, st, numbered, nparams, params, NULL);
    }
    if (st->in_tx) {
        int rc = flush(db, st);
        if (rc != STRATA_OK)
            return rc;
    }
    if (cb == NULL)
        st->wrote |= st->locked;
    return run_now(db, st, sql, nparams, params, cb, payload);
}

/* ------------------------------------------------------------------------ */
/* Scripts */

/* A server newer than the parser may know syntax the parser does not: what
 * the parser rejects is then passed on for the server to judge, not
 * refused. */
static int split(strata *db, const pg_state *st, const strata__script *sc,
                 strata__pg_script *out)
{
    int newer =
        st->conn != NULL && !strata__pg_parser_knows(PQserverVersion(st->conn));
    return strata__pg_split(out, sc->sql, sc->len, sc->path, sc->first_line,
                            newer, &db->err);
}

static int refuse_stmt(strata *db, const strata__script *sc,
                       const strata__pg_stmt *ps, const char *fmt,
                       const char *hint)
{
    int line = sc->first_line - 1 + ps->line;
    strata__err_where(&db->err, sc->path, line, line, 0);
    strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT, fmt,
                    ps->what ? ps->what : "this statement");
    strata__err_hint(&db->err, "%s", hint);
    return STRATA_EREFUSED;
}

static int pg_check_script(strata *db, void *vst, const strata__script *sc)
{
    strata__pg_script ps;
    int rc = split(db, vst, sc, &ps);
    if (rc != STRATA_OK)
        return rc;
    for (size_t i = 0; i < ps.count && !sc->no_transaction; i++) {
        const strata__pg_stmt *s = &ps.items[i];
        if (s->flags & STRATA__PG_NO_TX) {
            rc = refuse_stmt(db, sc, s,
                             "%s cannot run inside a transaction block",
                             "put `-- strata:no-transaction` on the first "
                             "line of the script (its statements then run "
                             "one by one, and the migration stays dirty "
                             "until the last one succeeds)");
            break;
        }
        if (s->flags & STRATA__PG_TX_CONTROL) {
            rc = refuse_stmt(db, sc, s,
                             "%s would end the transaction strata runs the "
                             "migration in",
                             "remove it (strata wraps each migration in a "
                             "transaction), or mark the script `-- "
                             "strata:no-transaction` to manage transactions "
                             "yourself");
            break;
        }
    }
    strata__pg_script_free(&ps);
    return rc;
}

/* Runs COPY ... FROM STDIN with the data that followed it in the script. */
static int copy_in(strata *db, pg_state *st, const strata__script *sc,
                   const strata__pg_stmt *ps)
{
    char *sql = strata__strndup(sc->sql + ps->offset, ps->len);
    if (sql == NULL)
        return strata__err_nomem(&db->err);
    queued q = {sql, 0, NULL, NULL, 0, 0};
    place(&q, sc, ps, sc->path);
    PGresult *res = PQexec(st->conn, sql);
    int rc = STRATA_OK;
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = script_error(db, st, res, &q);
        PQclear(res);
        free(sql);
        return rc;
    }
    PQclear(res);
    if (PQputCopyData(st->conn, sc->sql + ps->data_offset, (int)ps->data_len) !=
            1 ||
        PQputCopyEnd(st->conn, NULL) != 1)
        rc = pg_error(db, st, NULL, STRATA_EFAILED, "COPY");
    while ((res = PQgetResult(st->conn)) != NULL) {
        if (rc == STRATA_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = script_error(db, st, res, &q);
        PQclear(res);
    }
    free(sql);
    return rc;
}

/* Runs the statements of a script one by one, now. */
static int run_statements(strata *db, pg_state *st, const strata__script *sc,
                          const strata__pg_script *ps)
{
    int rc = STRATA_OK;
    for (size_t i = 0; rc == STRATA_OK && i < ps->count; i++) {
        const strata__pg_stmt *s = &ps->items[i];
        if (s->flags & STRATA__PG_COPY_IN) {
            rc = copy_in(db, st, sc, s);
            continue;
        }
        char *sql = strata__strndup(sc->sql + s->offset, s->len);
        if (sql == NULL)
            return strata__err_nomem(&db->err);
        queued q = {sql, 0, NULL, NULL, 0, 0};
        place(&q, sc, s, sc->path);
        PGresult *res = PQexec(st->conn, sql);
        ExecStatusType t = PQresultStatus(res);
        if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK &&
            t != PGRES_EMPTY_QUERY)
            rc = script_error(db, st, res, &q);
        PQclear(res);
        free(sql);
    }
    return rc;
}

/* A no-transaction script: fresh session settings, then each statement on
 * its own, in autocommit. */
static int run_each(strata *db, pg_state *st, const strata__script *sc,
                    const strata__pg_script *ps)
{
    int rc = session_settings(db, st, 0);
    if (rc == STRATA_OK)
        rc = flush(db, st);
    if (rc == STRATA_OK)
        rc = run_statements(db, st, sc, ps);
    if (rc == STRATA_OK && PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
        int line = sc->first_line - 1 + strata__line_of(sc->sql, sc->len);
        strata__err_where(&db->err, sc->path, line, 0, 0);
        rc = strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_BAD_SCRIPT,
                             "the script left a transaction open");
        strata__err_hint(&db->err, "end the script's transaction with "
                                   "COMMIT; it was rolled back");
    }
    return rc;
}

static int has_copy(const strata__pg_script *ps)
{
    for (size_t i = 0; i < ps->count; i++)
        if (ps->items[i].flags & STRATA__PG_COPY_IN)
            return 1;
    return 0;
}

static int pg_exec_script(strata *db, void *vst, const strata__script *sc)
{
    pg_state *st = vst;
    strata__pg_script ps;
    int rc = split(db, st, sc, &ps);
    if (rc != STRATA_OK)
        return rc;
    if (!st->in_tx) {
        st->wrote |= st->locked; /* statements run on their own */
        rc = run_each(db, st, sc, &ps);
        strata__pg_script_free(&ps);
        return rc;
    }
    if (has_copy(&ps)) {
        /* COPY cannot travel in a pipeline: send what is queued, then run
         * this script's statements one by one in the same transaction. */
        rc = flush(db, st);
        if (rc == STRATA_OK)
            rc = run_statements(db, st, sc, &ps);
        strata__pg_script_free(&ps);
        return rc;
    }
    /* Queued: each statement keeps a copy of where it came from. */
    char **paths = realloc(st->paths, (st->npaths + 1) * sizeof *paths);
    char *path = paths != NULL ? strata__strdup(sc->path) : NULL;
    if (paths != NULL)
        st->paths = paths;
    if (path == NULL) {
        strata__pg_script_free(&ps);
        return strata__err_nomem(&db->err);
    }
    st->paths[st->npaths++] = path;
    for (size_t i = 0; rc == STRATA_OK && i < ps.count; i++) {
        const strata__pg_stmt *s = &ps.items[i];
        char *sql = strata__strndup(sc->sql + s->offset, s->len);
        if (sql == NULL) {
            rc = strata__err_nomem(&db->err);
            break;
        }
        queued from;
        place(&from, sc, s, path);
        rc = enqueue(db, st, sql, 0, NULL, &from);
    }
    strata__pg_script_free(&ps);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Tracking tables */

typedef struct digest_answer {
    char *out;
    int bad;
    int nomem;
    refill values; /* what the cache would store */
    char *schema;  /* current_schema(), malloc'ed */
    char *facts;   /* the look's first column, malloc'ed; NULL: no table */
    char *xmax;    /* the look's snapshot xmax, malloc'ed */
} digest_answer;

/* Copies the digits between <tag> and </tag> in xml into out (size n);
 * returns 0 when they are not there, or empty, or do not fit. */
static int xml_digits(const char *xml, const char *tag, const char *digits,
                      char *out, size_t n)
{
    size_t len;
    const char *v = strata__pg_xml_element(xml, xml + strlen(xml), tag, &len);
    if (v == NULL || len == 0 || len >= n || strspn(v, digits) < len)
        return 0;
    memcpy(out, v, len);
    out[len] = '\0';
    return 1;
}

/* The digest in <d>64 hex digits</d>, into out; 0 when not there. */
static int xml_digest(const char *xml, char out[65])
{
    return xml_digits(xml, "d", "0123456789abcdef", out, 65) &&
           strlen(out) == 64;
}

/* The look's row (strata__pg_digest_look), kept for pg_state_digest(). */
static int look_cb(void *payload, int ncols, const char *const *v)
{
    digest_answer *a = payload;
    if (ncols != 3) {
        a->bad = 1;
        return 1;
    }
    a->schema = v[1] != NULL ? strata__strdup(v[1]) : NULL;
    a->facts = v[0] != NULL ? strata__strdup(v[0]) : NULL;
    a->xmax = v[2] != NULL ? strata__strdup(v[2]) : NULL;
    a->nomem = (v[0] != NULL && a->facts == NULL) ||
               (v[1] != NULL && a->schema == NULL) ||
               (v[2] != NULL && a->xmax == NULL);
    return 1;
}

/* The fresh look's row (strata__pg_digest_fresh): <d>64 hex digits</d>
 * and, where this session may store, <h>, <n>, <y>, <o>. */
static int fresh_cb(void *payload, int ncols, const char *const *v)
{
    digest_answer *a = payload;
    if (ncols != 2) {
        a->bad = 1;
        return 1;
    }
    free(a->schema);
    a->schema = v[1] != NULL ? strata__strdup(v[1]) : NULL;
    if (v[1] != NULL && a->schema == NULL) {
        a->nomem = 1;
        return 1;
    }
    if (v[0] == NULL)
        return 1; /* no table: the digest of no rows stands */
    static const char dec[] = "0123456789";
    char digest[65], young[24];
    if (!xml_digest(v[0], digest)) {
        a->bad = 1;
        return 1;
    }
    memcpy(a->out, digest, sizeof digest);
    refill *r = &a->values;
    r->ready = xml_digits(v[0], "h", dec, r->horizon, sizeof r->horizon) &&
               xml_digits(v[0], "n", dec, r->rows, sizeof r->rows) &&
               xml_digits(v[0], "y", dec, young, sizeof young) &&
               xml_digits(v[0], "o", dec, r->rel, sizeof r->rel) &&
               strcmp(young, "0") == 0;
    memcpy(r->digest, digest, sizeof digest);
    return 1;
}

/* Where the look found no tracking table, the digest of no rows stands;
 * where it could not read the cache, it digested the rows; else its facts
 * are weighed (pg_proof.h), which costs no round trip, and only where they
 * do not prove the cached digest does a second statement digest the rows
 * and work out what the cache would store, for pg_state_matched(). So a
 * start against an unchanged database costs one round trip. */
static int pg_state_digest(strata *db, void *vst, char out[65])
{
    pg_state *st = vst;
    tracking_names n;
    int rc = tracking_names_quote(db, &n);
    if (rc != STRATA_OK)
        return rc;
    const char *params[] = {n.schema, n.table, n.cache, db->module};
    strata__state_hash h;
    strata__state_hash_init(&h);
    strata__state_hash_end(&h, out);
    digest_answer a = {.out = out};
    st->refill.ready = 0;
    rc = run_now(db, st, strata__pg_digest_look, 4, params, look_cb, &a);
    if (rc == STRATA_OK && !a.bad && !a.nomem && a.facts != NULL) {
        char digest[65];
        if (xml_digest(a.facts, digest))
            memcpy(out, digest, sizeof digest);
        else if (!strata__pg_proof(a.facts, db->module, a.xmax, out))
            rc = run_now(db, st, strata__pg_digest_fresh, 4, params, fresh_cb,
                         &a);
    }
    tracking_names_free(&n);
    free(a.facts);
    free(a.xmax);
    if (rc == STRATA_OK && a.nomem)
        rc = strata__err_nomem(&db->err);
    if (rc == STRATA_OK && a.bad)
        rc = strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_NONE,
                             "the digest of the tracking table %s came "
                             "back malformed",
                             db->table);
    if (rc == STRATA_OK && a.schema != NULL) {
        /* where qualify() finds the tables for pg_state_matched() */
        free(st->current_schema);
        st->current_schema = a.schema;
        a.schema = NULL;
        if (a.values.ready)
            st->refill = a.values;
    }
    free(a.schema);
    return rc;
}

/* Stores a digest in the cache so that the next start checks the rows
 * instead of digesting them: `values` when a look computed them, else the
 * digest of this module's rows, computed now, creating the cache table
 * first when `create`; `schema` is the tracking table's. Runs at the end
 * of a locked run that wrote, and after a look that digested the rows and
 * found the database up to date (pg_state_matched), in a transaction of
 * its own. Best effort: the cache only saves time, so a failure (no right
 * to create a table, a lock held for longer than the lock_timeout below)
 * costs the next start the digest from the rows, never the run. */
static void store_digest(strata *db, pg_state *st, int create,
                         const refill *values)
{
    char name[64];
    if ((db->schema == NULL && st->current_schema == NULL) || st->in_tx ||
        PQstatus(st->conn) != CONNECTION_OK ||
        PQtransactionStatus(st->conn) != PQTRANS_IDLE ||
        !strata__pg_digest_name(db->table, name))
        return;
    char *table = qualify(db, st, db->table);
    char *cache = qualify(db, st, name);
    char *make = cache && create ? strata__pg_digest_create(cache) : NULL;
    char *store = !table || !cache ? NULL
                  : values         ? strata__pg_digest_store_values(cache)
                                   : strata__pg_digest_store(table, cache);
    free(cache);
    if (store == NULL || (create && make == NULL)) {
        free(make);
        free(store);
        free(table);
        return;
    }
    strata__err saved = db->err;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)",
             tables_key(db));
    /* A session that holds the tracking table or the cache exclusively (an
     * ALTER TABLE left open) must not hold up the end of this run or this
     * start: give up on the cache instead. */
    int rc = pg_begin(db, st);
    if (rc == STRATA_OK)
        rc = enqueue_text(db, st, "SET LOCAL lock_timeout = 200");
    if (rc == STRATA_OK && create) {
        rc = enqueue_text(db, st, lock);
        if (rc == STRATA_OK) /* CREATE ... IF NOT EXISTS notices a skip */
            rc =
                enqueue_text(db, st, "SET LOCAL client_min_messages = warning");
        if (rc == STRATA_OK) {
            rc = enqueue(db, st, make, 0, NULL, NULL); /* takes make */
            make = NULL;
        }
    }
    const char *by_values[] = {db->module, values ? values->horizon : NULL,
                               values ? values->rows : NULL,
                               values ? values->digest : NULL,
                               values ? values->rel : NULL};
    if (rc == STRATA_OK) /* takes store */
        rc = enqueue(db, st, store, values ? 5 : 1, by_values, NULL);
    else
        free(store);
    free(make);
    if (rc == STRATA_OK)
        rc = pg_commit(db, st);
    if (rc != STRATA_OK)
        pg_rollback(db, st);
    else
        st->digest_exists = st->digest_shaped = 1;
    free(table);
    db->err = saved;
}

static void pg_state_matched(strata *db, void *vst)
{
    pg_state *st = vst;
    if (st->refill.ready)
        store_digest(db, st, 0, &st->refill);
    st->refill.ready = 0;
}

static int pg_table_exists(strata *db, void *vst, const char *name)
{
    pg_state *st = vst;
    int which = strcmp(name, db->table) == 0           ? 1
                : strcmp(name, db->history_table) == 0 ? 2
                                                       : 0;
    /* Under the lock nobody else creates the tracking tables, so what
     * learn() said still holds; without it, another process may have
     * created them since, so an unlocked read (status, current) asks
     * again, for both tables and the schema at once. */
    if (which != 0 && st->known && (st->locked || st->in_tx))
        return which == 1 ? st->table_exists : st->history_exists;
    if (which != 0 && !st->in_tx) {
        lock_answer a = {0};
        int rc = learn(db, st, NULL, &a);
        free(a.schema);
        if (rc != STRATA_OK)
            return rc;
        return which == 1 ? st->table_exists : st->history_exists;
    }
    char *qn = qualify(db, st, name);
    if (qn == NULL)
        return strata__err_nomem(&db->err);
    lock_answer a = {0};
    const char *params[] = {qn};
    int rc = pg_exec(db, st, "SELECT to_regclass(?) IS NOT NULL", 1, params,
                     lock_cb, &a);
    free(qn);
    free(a.schema);
    return rc != STRATA_OK ? rc : a.got;
}

static int pg_ensure_tables(strata *db, void *vst, const char *table,
                            const char *history_table)
{
    pg_state *st = vst;
    char *qt = qualify(db, st, table), *qh = qualify(db, st, history_table);
    char *qs = db->schema ? strata__quote_ident(db->schema) : NULL;
    char *sql = NULL;
    int rc = STRATA_OK;
    if (!qt || !qh || (db->schema && !qs)) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    /* Modules share the tables but not the migration lock: creating them
     * is serialised by a transaction lock of its own. */
    char key[64];
    snprintf(key, sizeof key, "SELECT pg_advisory_xact_lock(%lld)",
             tables_key(db));
    rc = enqueue_text(db, st, key);
    if (rc == STRATA_OK && qs != NULL) {
        sql = strata__sprintf("CREATE SCHEMA IF NOT EXISTS %s", qs);
        rc = sql ? enqueue(db, st, sql, 0, NULL, NULL)
                 : strata__err_nomem(&db->err);
        sql = NULL;
    }
    if (rc == STRATA_OK) {
        sql = strata__sprintf(
            "CREATE TABLE IF NOT EXISTS %s ("
            "module text NOT NULL, version text NOT NULL, name text NOT NULL, "
            "checksum text NOT NULL, state text NOT NULL, "
            "applied_at text NOT NULL, execution_ms bigint NOT NULL, "
            "applied_by text NOT NULL, PRIMARY KEY (module, version))",
            qt);
        rc = sql ? enqueue(db, st, sql, 0, NULL, NULL)
                 : strata__err_nomem(&db->err);
        sql = NULL;
    }
    if (rc == STRATA_OK) {
        sql = strata__sprintf(
            "CREATE TABLE IF NOT EXISTS %s ("
            "id bigserial PRIMARY KEY, module text NOT NULL, "
            "version text NOT NULL, name text NOT NULL, action text NOT NULL, "
            "checksum text NOT NULL, old_checksum text NOT NULL, "
            "at text NOT NULL, execution_ms bigint NOT NULL, "
            "applied_by text NOT NULL, detail text NOT NULL)",
            qh);
        rc = sql ? enqueue(db, st, sql, 0, NULL, NULL)
                 : strata__err_nomem(&db->err);
        sql = NULL;
    }
    if (rc == STRATA_OK && st->known)
        st->table_exists = st->history_exists = 1;
out:
    free(qt);
    free(qh);
    free(qs);
    free(sql);
    return rc;
}

static const char *pg_current_schema(void *vst)
{
    return ((pg_state *)vst)->current_schema;
}

static const char *const pg_schemes[] = {"postgres", "postgresql", NULL};

const strata__driver strata__driver_postgres = {
    .abi = STRATA__DRIVER_ABI,
    .name = "postgres",
    .schemes = pg_schemes,
    .caps = STRATA__CAP_TRANSACTIONAL_DDL | STRATA__CAP_SCHEMAS,
    .state_size = sizeof(pg_state),
    .default_schema = "public",
    .open = pg_open,
    .close = pg_close,
    .display_url = pg_display_url,
    .lock = pg_lock,
    .unlock = pg_unlock,
    .begin = pg_begin,
    .commit = pg_commit,
    .sync = pg_sync,
    .step = pg_step,
    .rollback = pg_rollback,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .check_script = pg_check_script,
    .table_exists = pg_table_exists,
    .ensure_tables = pg_ensure_tables,
    .qualify = pg_qualify,
    .current_schema = pg_current_schema,
    /* now() is when the transaction began: the migration's start, unless
     * a step of a longer transaction recorded its own (in epoch seconds,
     * which no DateStyle a script sets can misread). */
    .elapsed_ms_sql =
        "((extract(epoch FROM clock_timestamp()) - coalesce(nullif("
        "current_setting('strata.step_start', true), '')::numeric, "
        "extract(epoch FROM now()))) * 1000)::bigint",
    .state_digest = pg_state_digest,
    .state_matched = pg_state_matched,
};
