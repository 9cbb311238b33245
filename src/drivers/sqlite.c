/*
 * sqlite.c - the SQLite driver.
 *
 * Scripts are split by SQLite's own parser: each statement is prepared from
 * the tail of the previous one and stepped before the next is prepared, so a
 * statement may use a table the previous one created. Error lines come from
 * the statement's byte offset plus sqlite3_error_offset().
 *
 * The migration lock is an open-file-description lock (F_OFD_SETLK) on one
 * byte of a sidecar file "<database>-strata-lock", chosen by hashing the
 * tracking table and module. The kernel drops it when the process dies, so a
 * crash never leaves a stale lock, and it is separate from SQLite's own locks
 * on the database file (closing a second descriptor of the database file
 * would silently drop SQLite's POSIX locks). The lock file is never removed:
 * removing a lock file races with a process that has just opened it.
 */
#include "driver.h"

#define STRATA__SQLITE_CALLS
#include "sqlite_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct sqlite_state {
    sqlite3 *conn;
    char *path; /* file path; NULL for an in-memory database */
    int lock_fd;
    int locked;
    int schema_read; /* the schema was parsed once, without error */
    /* The wait for another connection's lock (on_busy). */
    const strata *db;
    int64_t busy_since;
    int busy_cancellable; /* a cancel may end it: nothing has run yet */
    int busy_cancelled;   /* and one did */
} sqlite_state;

/* SQLite's busy handler: waits as sqlite3_busy_timeout() would, up to the
 * lock timeout, in pauses of at most 50 ms, after each of which a cancel
 * ends a wait that comes before a migration's first statement. */
static int on_busy(void *arg, int count)
{
    static const int pause_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50};
    enum { PAUSES = sizeof pause_ms / sizeof pause_ms[0] };
    sqlite_state *st = arg;
    int64_t now = strata__monotonic_ms();
    if (count == 0)
        st->busy_since = now;
    if (st->busy_cancellable && strata__cancel_asked(st->db)) {
        st->busy_cancelled = 1;
        return 0;
    }
    int64_t left = st->db->lock_timeout_ms - (now - st->busy_since);
    if (left <= 0)
        return 0;
    int64_t ms = pause_ms[count < PAUSES ? count : PAUSES - 1];
    if (ms > left)
        ms = left;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

/* SQLITE_BUSY after the busy timeout: another connection kept the
 * database's own lock longer than --lock-timeout. */
static int busy_error(strata *db, sqlite_state *st, const char *what)
{
    if (st->busy_cancelled) {
        st->busy_cancelled = 0;
        strata__err_set(&db->err, STRATA_ECANCELLED, STRATA_REASON_NONE,
                        "%s: cancelled while another connection held the "
                        "database's write lock",
                        what);
        strata__err_hint(&db->err, "the migrations applied so far are "
                                   "complete; run again to apply the rest");
        return STRATA_ECANCELLED;
    }
    strata__err_set(&db->err, STRATA_ELOCKED, STRATA_REASON_NONE,
                    "%s: the database stayed locked by another connection "
                    "for %d ms",
                    what, db->lock_timeout_ms);
    strata__err_hint(&db->err,
                     "find the process holding %s open in a "
                     "long transaction, or raise --lock-timeout",
                     st->path ? st->path : "the database");
    return STRATA_ELOCKED;
}

static int db_error(strata *db, sqlite_state *st, int code, const char *what)
{
    int ext = sqlite3_extended_errcode(st->conn);
    const char *msg = sqlite3_errmsg(st->conn);
    strata__err_db(&db->err, msg, "", "", ext);
    if ((ext & 0xff) == SQLITE_READONLY) {
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_READ_ONLY,
                        "%s: the database is read-only", what);
        strata__err_hint(&db->err,
                         "run strata as a user who may write %s "
                         "and its directory",
                         st->path ? st->path : "the database");
        return STRATA_ECONNECT;
    }
    if ((ext & 0xff) == SQLITE_NOMEM)
        return strata__err_nomem(&db->err);
    if ((ext & 0xff) == SQLITE_BUSY)
        return busy_error(db, st, what);
    return strata__err_set(&db->err, code, STRATA_REASON_NONE, "%s: %s", what,
                           msg);
}

/* "sqlite:rel/path", "sqlite:///abs/path", "sqlite://rel/path",
 * "sqlite::memory:". */
static const char *url_path(const char *rest)
{
    if (strncmp(rest, "//", 2) == 0)
        return rest + 2;
    return rest;
}

static char *sqlite_display_url(const char *url)
{
    return strata__strdup(url); /* SQLite URLs carry no password */
}

/* Runs `sql`, a read of the file's header or schema, and turns a failure
 * into the error of a database that cannot be used at all (ECONNECT, or
 * ELOCKED when it stayed busy), not that of a failed statement. */
static int read_check(strata *db, sqlite_state *st, const char *sql)
{
    const char *path = st->path ? st->path : ":memory:";
    int rc = sqlite3_exec(st->conn, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return STRATA_OK;
    int ext = sqlite3_extended_errcode(st->conn);
    strata__err_db(&db->err, sqlite3_errmsg(st->conn), "", "", ext);
    if ((ext & 0xff) == SQLITE_BUSY)
        return busy_error(db, st, "cannot read the database schema");
    if ((ext & 0xff) == SQLITE_NOTADB) {
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_NOT_A_DATABASE,
                        "%s is not an SQLite database", path);
        strata__err_hint(&db->err, "point the URL at an SQLite file, or "
                                   "at a new path to create one");
    } else {
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_IO,
                        "cannot read database %s: %s", path,
                        sqlite3_errmsg(st->conn));
        strata__err_hint(&db->err, "the file is damaged or was written by a "
                                   "newer SQLite; check it with "
                                   "sqlite3 FILE 'PRAGMA integrity_check'");
    }
    return STRATA_ECONNECT;
}

/* Opens the connection. Opening is lazy in SQLite: the header is read here
 * so that a file that is not a database fails now, not halfway through a
 * plan. PRAGMA schema_version reads page 1 without parsing the schema,
 * which costs time and megabytes in proportion to it (6 MB for 20,000
 * objects); need_conn() has it parsed, and checked, before the first
 * statement, which on a no-op start from a directory comes after the
 * source scan has freed its scratch memory. */
static int connect(strata *db, sqlite_state *st)
{
    const char *path = st->path ? st->path : ":memory:";
    /* A handle is used by one thread at a time, so the connection needs
     * none of SQLite's mutexes (a lock and an unlock on every call). */
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &st->conn, flags, NULL);
    if (st->conn == NULL)
        return strata__err_nomem(&db->err);
    sqlite3_extended_result_codes(st->conn, 1);
    if (rc != SQLITE_OK) {
        int ext = sqlite3_extended_errcode(st->conn);
        strata__err_db(&db->err, sqlite3_errmsg(st->conn), "", "", ext);
        struct stat sb;
        int odd = stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_IO,
                        odd ? "cannot open database %s: it is not a file"
                            : "cannot open database %s: %s",
                        path, sqlite3_errmsg(st->conn));
        strata__err_hint(&db->err, "check the path and its permissions");
        return STRATA_ECONNECT;
    }
    st->db = db;
    sqlite3_busy_handler(st->conn, db->lock_timeout_ms > 0 ? on_busy : NULL,
                         st);
    return read_check(db, st, "PRAGMA schema_version");
}

/* Gives back SQLite's page cache, outside a transaction only: inside one,
 * the pages will be wanted again before it ends. */
static void sqlite_trim(void *vst)
{
    sqlite_state *st = vst;
    if (st->conn != NULL && sqlite3_get_autocommit(st->conn))
        sqlite3_db_release_memory(st->conn);
}

/* Connects now if the file did not exist at open time, and has the schema
 * parsed once before the first statement, so that a damaged one (or one
 * from a newer SQLite) is refused as an unusable database, not reported as
 * a failed statement. */
static int need_conn(strata *db, sqlite_state *st)
{
    if (st->conn == NULL) {
        int rc = connect(db, st);
        if (rc != STRATA_OK) {
            if (st->conn != NULL)
                sqlite3_close_v2(st->conn); /* a later call tries afresh */
            st->conn = NULL;
            return rc;
        }
    }
    if (st->schema_read)
        return STRATA_OK;
    int rc = read_check(db, st, "SELECT count(*) FROM sqlite_master");
    st->schema_read = rc == STRATA_OK;
    /* The schema's pages, read to parse it, are not wanted again: at
     * 20,000 objects they fill the 2 MB page cache. */
    if (rc == STRATA_OK)
        sqlite_trim(st);
    return rc;
}

static int sqlite_open(strata *db, void *vst, const strata__url *url)
{
    sqlite_state *st = vst;
    st->lock_fd = -1;
    if (strata__sqlite_load(&db->err) == NULL)
        return STRATA_ECONNECT;
    const char *path = url_path(url->rest);
    if (strncasecmp(db->table, "sqlite_", 7) == 0) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "table names starting with sqlite_ are reserved by "
                        "SQLite");
        strata__err_hint(&db->err, "choose another --table name");
        return STRATA_EUSAGE;
    }
    if (db->schema != NULL && strcmp(db->schema, "main") != 0) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "SQLite has no schema %s", db->schema);
        strata__err_hint(&db->err, "leave --schema out for SQLite: tables "
                                   "live in the database file itself");
        return STRATA_EUSAGE;
    }
    if (*path == '\0')
        return strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                               "the SQLite URL names no file");
    int memory = strcmp(path, ":memory:") == 0;
    if (!memory) {
        st->path = strata__strdup(path);
        if (st->path == NULL)
            return strata__err_nomem(&db->err);
        /* SQLite's own message for a missing directory is "unable to open
         * database file"; say which directory instead. */
        const char *slash = strrchr(path, '/');
        if (slash != NULL && slash != path) {
            char *dir = strata__strndup(path, (size_t)(slash - path));
            if (dir == NULL)
                return strata__err_nomem(&db->err);
            struct stat sb;
            int missing = stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode);
            if (missing) {
                strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_IO,
                                "cannot open database %s: directory %s does "
                                "not exist",
                                path, dir);
                strata__err_hint(&db->err, "create the directory first, or "
                                           "fix the path in the URL");
                free(dir);
                return STRATA_ECONNECT;
            }
            free(dir);
        }
    }
    /* A file that does not exist yet is created by the first write, not by
     * a status or a validate. */
    struct stat fsb;
    if (!memory && stat(path, &fsb) != 0 && errno == ENOENT)
        return STRATA_OK;
    return connect(db, st);
}

static void sqlite_close(void *vst)
{
    sqlite_state *st = vst;
    if (st->conn != NULL)
        sqlite3_close_v2(st->conn);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->path);
    st->conn = NULL;
    st->lock_fd = -1;
    st->path = NULL;
}

/* FNV-1a over table NUL module: a stable byte offset per lock key. */
static off_t lock_offset(const char *table, const char *module)
{
    uint64_t h = 1469598103934665603ull;
    /* SQLite's table names are case-blind, so the key is too. */
    for (const char *p = table;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h = (h ^ c) * 1099511628211ull;
        if (*p == '\0')
            break;
    }
    for (const char *p = module; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (off_t)(h % (1ull << 40));
}

static int sqlite_lock(strata *db, void *vst)
{
    sqlite_state *st = vst;
    if (st->path == NULL || st->locked)
        return STRATA_OK; /* in-memory: only this connection can see it */
    /* A database that does not exist yet stays uncreated until the first
     * write, so a refused run leaves no empty file behind. */
    if (st->conn != NULL && sqlite3_db_readonly(st->conn, "main") == 1) {
        strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_READ_ONLY,
                        "database %s is read-only", st->path);
        strata__err_hint(&db->err, "run strata as a user who may write the "
                                   "file and its directory");
        return STRATA_ECONNECT;
    }
    if (st->lock_fd < 0) {
        /* Beside the real file, whatever link or relative path named it,
         * so that every name of one database shares one lock. */
        char *real = realpath(st->path, NULL);
        char *lock_path =
            strata__sprintf("%s-strata-lock", real ? real : st->path);
        free(real);
        if (lock_path == NULL)
            return strata__err_nomem(&db->err);
        st->lock_fd =
            open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (st->lock_fd < 0) {
            int e = errno;
            int ro = e == EACCES || e == EROFS || e == EPERM;
            strata__err_set(&db->err, STRATA_ECONNECT,
                            ro ? STRATA_REASON_READ_ONLY : STRATA_REASON_IO,
                            "cannot open lock file %s: %s", lock_path,
                            strerror(e));
            strata__err_hint(&db->err, "strata needs to create this file "
                                       "beside the database");
            free(lock_path);
            return STRATA_ECONNECT;
        }
        free(lock_path);
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = lock_offset(db->table, db->module);
    fl.l_len = 1;
    int64_t start = strata__monotonic_ms();
    int waited = 0;
    long sleep_us = 2000;
    for (;;) {
        if (fcntl(st->lock_fd, F_OFD_SETLK, &fl) == 0)
            break;
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            strata__err_set(&db->err, STRATA_ECONNECT, STRATA_REASON_IO,
                            "cannot lock %s-strata-lock: %s", st->path,
                            strerror(errno));
            return STRATA_ECONNECT;
        }
        int64_t elapsed = strata__monotonic_ms() - start;
        if (elapsed >= db->lock_timeout_ms) {
            strata__err_set(&db->err, STRATA_ELOCKED, STRATA_REASON_NONE,
                            "another strata process holds the migration "
                            "lock on %s (module %s) and did not release it "
                            "within %d ms",
                            st->path, db->module, db->lock_timeout_ms);
            strata__err_hint(&db->err, "wait for the other run to finish, "
                                       "or raise --lock-timeout");
            return STRATA_ELOCKED;
        }
        if (!waited) {
            waited = 1;
            strata_event ev = {0};
            ev.type = STRATA_EVENT_LOCK_WAIT;
            ev.module = db->module;
            ev.message = "another process holds the migration lock; waiting";
            strata__emit(db, &ev);
        }
        int rc = strata__lock_pause(db, &sleep_us);
        if (rc != STRATA_OK)
            return rc;
    }
    st->locked = 1;
    strata_event ev = {0};
    ev.type = STRATA_EVENT_LOCK_ACQUIRED;
    ev.module = db->module;
    ev.duration_ms = strata__monotonic_ms() - start;
    strata__emit(db, &ev);
    return STRATA_OK;
}

static void sqlite_unlock(strata *db, void *vst)
{
    (void)db;
    sqlite_state *st = vst;
    if (!st->locked)
        return;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = lock_offset(db->table, db->module);
    fl.l_len = 1;
    (void)fcntl(st->lock_fd, F_OFD_SETLK, &fl);
    st->locked = 0;
}

static int simple(strata *db, sqlite_state *st, const char *sql,
                  const char *what)
{
    if (sqlite3_exec(st->conn, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(db, st, STRATA_EFAILED, what);
    return STRATA_OK;
}

static int sqlite_begin(strata *db, void *vst)
{
    int rc = need_conn(db, vst);
    if (rc != STRATA_OK)
        return rc;
    /* IMMEDIATE takes the write lock now, so two writers never both read
     * the tracking table and then collide on commit; and while it waits
     * for that lock nothing of the migration has run, so a cancel may end
     * the wait. */
    sqlite_state *st = vst;
    st->busy_cancellable = 1;
    st->busy_cancelled = 0;
    rc = simple(db, st, "BEGIN IMMEDIATE", "cannot begin a transaction");
    st->busy_cancellable = 0;
    return rc;
}

static int sqlite_commit(strata *db, void *vst)
{
    return simple(db, vst, "COMMIT", "cannot commit");
}

static void sqlite_rollback(strata *db, void *vst)
{
    (void)db;
    sqlite_state *st = vst;
    if (st->conn != NULL && !sqlite3_get_autocommit(st->conn))
        (void)sqlite3_exec(st->conn, "ROLLBACK", NULL, NULL, NULL);
}

static int sqlite_exec(strata *db, void *vst, const char *sql, size_t nparams,
                       const char *const *params, strata__row_cb cb,
                       void *payload)
{
    sqlite_state *st = vst;
    sqlite3_stmt *stmt = NULL;
    int rc = need_conn(db, st);
    if (rc != STRATA_OK)
        return rc;
    rc = sqlite3_prepare_v2(st->conn, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return db_error(db, st, STRATA_EFAILED, "bookkeeping statement");
    for (size_t i = 0; i < nparams; i++) {
        rc = params[i] == NULL ? sqlite3_bind_null(stmt, (int)i + 1)
                               : sqlite3_bind_text(stmt, (int)i + 1, params[i],
                                                   -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            return db_error(db, st, STRATA_EFAILED, "bookkeeping statement");
        }
    }
    int ncols = sqlite3_column_count(stmt);
    const char *vals[16];
    if (ncols > 16)
        ncols = 16;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (cb == NULL)
            continue;
        for (int c = 0; c < ncols; c++)
            vals[c] = (const char *)sqlite3_column_text(stmt, c);
        if (cb(payload, ncols, vals) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        int code = db_error(db, st, STRATA_EFAILED, "bookkeeping statement");
        sqlite3_finalize(stmt);
        return code;
    }
    sqlite3_finalize(stmt);
    return STRATA_OK;
}

/* Skips whitespace and comments so an error can name the line where the
 * statement itself starts, not the comment above it. */
static const char *skip_blank(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
            *p == '\v') {
            p++;
        } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *c = p + 2;
            while (c + 1 < end && !(c[0] == '*' && c[1] == '/'))
                c++;
            p = (c + 1 < end) ? c + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

static int script_error(strata *db, sqlite_state *st, const strata__script *sc,
                        const char *text, const char *stmt_start,
                        int token_offset)
{
    const char *start = skip_blank(stmt_start, text + sc->len);
    size_t start_off = (size_t)(start - text);
    int stmt_line = sc->first_line - 1 + strata__line_of(text, start_off);
    int line = stmt_line, column = 0;
    if (token_offset >= 0) {
        size_t off = (size_t)(stmt_start - text) + (size_t)token_offset;
        if (off > sc->len)
            off = sc->len;
        line = sc->first_line - 1 + strata__line_of(text, off);
        column = strata__column_of(text, off);
    }
    int ext = sqlite3_extended_errcode(st->conn);
    strata__err_db(&db->err, sqlite3_errmsg(st->conn), "", "", ext);
    strata__err_where(&db->err, sc->path, line, stmt_line, column);
    if ((ext & 0xff) == SQLITE_NOMEM)
        return strata__err_nomem(&db->err);
    return strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_NONE, "%s",
                           sqlite3_errmsg(st->conn));
}

/* Denies BEGIN, COMMIT and ROLLBACK while a transactional script runs:
 * one of them would end strata's transaction, so the rest of the script and
 * the tracking row would commit on their own. SQLite's parser reports them
 * to the authorizer as SQLITE_TRANSACTION; savepoints stay allowed. */
static int deny_transaction(void *payload, int action, const char *a,
                            const char *b, const char *c, const char *d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    if (action != SQLITE_TRANSACTION)
        return SQLITE_OK;
    *(int *)payload = 1;
    return SQLITE_DENY;
}

static int transaction_refused(strata *db, const strata__script *sc,
                               const char *text, const char *stmt_start)
{
    const char *start = skip_blank(stmt_start, text + sc->len);
    int line =
        sc->first_line - 1 + strata__line_of(text, (size_t)(start - text));
    strata__err_where(&db->err, sc->path, line, line, 1);
    strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_BAD_SCRIPT,
                    "the script begins or ends a transaction itself, but "
                    "strata runs it inside its own");
    strata__err_hint(&db->err, "remove the BEGIN/COMMIT/ROLLBACK, or mark "
                               "the script -- strata:no-transaction to "
                               "manage transactions yourself");
    return STRATA_EFAILED;
}

static int sqlite_exec_script(strata *db, void *vst, const strata__script *sc)
{
    sqlite_state *st = vst;
    char *copy = NULL;
    const char *text = sc->sql;
    int denied = 0;
    int rc = need_conn(db, st);
    if (rc != STRATA_OK)
        return rc;
    if (sc->len >= (size_t)INT_MAX)
        return strata__err_set(&db->err, STRATA_EREFUSED,
                               STRATA_REASON_BAD_SCRIPT,
                               "script is larger than 2 GiB");
    /* Give SQLite a NUL-terminated text and its length including the NUL:
     * otherwise it copies the whole remaining script for every statement. */
    if (text[sc->len] != '\0') {
        copy = strata__strndup(text, sc->len);
        if (copy == NULL)
            return strata__err_nomem(&db->err);
        text = copy;
    }
    if (!sc->no_transaction)
        sqlite3_set_authorizer(st->conn, deny_transaction, &denied);
    const char *p = text, *end = text + sc->len;
    while (p < end) {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        int src =
            sqlite3_prepare_v2(st->conn, p, (int)(end - p) + 1, &stmt, &tail);
        if (src != SQLITE_OK) {
            rc = denied ? transaction_refused(db, sc, text, p)
                        : script_error(db, st, sc, text, p,
                                       sqlite3_error_offset(st->conn));
            goto out;
        }
        if (stmt == NULL) { /* only whitespace or comments were left */
            p = (tail != NULL && tail > p) ? tail : end;
            continue;
        }
        while ((src = sqlite3_step(stmt)) == SQLITE_ROW)
            ;
        if (src != SQLITE_DONE) {
            rc = script_error(db, st, sc, text, p, -1);
            sqlite3_finalize(stmt);
            goto out;
        }
        sqlite3_finalize(stmt);
        p = tail;
    }
    if (sc->no_transaction && !sqlite3_get_autocommit(st->conn)) {
        int line = sc->first_line - 1 + strata__line_of(text, sc->len);
        strata__err_where(&db->err, sc->path, line, 0, 0);
        rc = strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_BAD_SCRIPT,
                             "the script left a transaction open");
        strata__err_hint(&db->err, "end the script's transaction with "
                                   "COMMIT; it was rolled back");
    }
out:
    if (!sc->no_transaction)
        sqlite3_set_authorizer(st->conn, NULL, NULL);
    free(copy);
    return rc;
}

/* The first keyword of a statement, upper-cased into out (empty if none). */
static const char *keyword(const char *p, const char *end, char out[16])
{
    size_t n = 0;
    while (p < end && n < 15 &&
           ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
        out[n++] = (char)(*p >= 'a' ? *p - 'a' + 'A' : *p);
        p++;
    }
    out[n] = '\0';
    return p;
}

/* Refuses a transaction-control statement at position [p, end) of a
 * transactional script: BEGIN, COMMIT, END, ROLLBACK (not ROLLBACK TO a
 * savepoint, not SAVEPOINT or RELEASE). */
static int check_statement(strata *db, const strata__script *sc, const char *p,
                           const char *end)
{
    const char *start = skip_blank(p, end);
    char kw[16], next[16] = "";
    const char *after = keyword(start, end, kw);
    int control = strcmp(kw, "BEGIN") == 0 || strcmp(kw, "COMMIT") == 0 ||
                  strcmp(kw, "END") == 0;
    if (strcmp(kw, "ROLLBACK") == 0) {
        after = keyword(skip_blank(after, end), end, next);
        if (strcmp(next, "TRANSACTION") == 0)
            keyword(skip_blank(after, end), end, next);
        control = strcmp(next, "TO") != 0;
    }
    if (!control)
        return STRATA_OK;
    size_t off = (size_t)(start - sc->sql);
    int line = sc->first_line - 1 + strata__line_of(sc->sql, off);
    strata__err_where(&db->err, sc->path, line, line,
                      strata__column_of(sc->sql, off));
    strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                    "%s would end the transaction strata runs the migration "
                    "in",
                    kw);
    strata__err_hint(&db->err, "remove it (strata wraps each migration in a "
                               "transaction), or mark the script `-- "
                               "strata:no-transaction` to manage transactions "
                               "yourself");
    return STRATA_EREFUSED;
}

/* Before anything runs: a transactional script must not begin or end a
 * transaction itself. Statements cannot be prepared yet (they may use
 * tables that earlier ones create), so their ends are found with SQLite's
 * own tokenizer through sqlite3_complete(), which knows strings, comments
 * and trigger bodies. */
static int sqlite_check_script(strata *db, void *vst, const strata__script *sc)
{
    (void)vst;
    if (sc->no_transaction)
        return STRATA_OK;
    const char *text = sc->sql, *end = sc->sql + sc->len;
    const char *start = text;
    char *buf = NULL;
    size_t cap = 0;
    int rc = STRATA_OK;
    for (const char *p = text; p < end && rc == STRATA_OK; p++) {
        if (*p != ';')
            continue;
        size_t n = (size_t)(p - start) + 1;
        if (n + 1 > cap) {
            cap = (n + 1) * 2;
            char *bigger = realloc(buf, cap);
            if (bigger == NULL) {
                rc = strata__err_nomem(&db->err);
                break;
            }
            buf = bigger;
        }
        memcpy(buf, start, n);
        buf[n] = '\0';
        if (!sqlite3_complete(buf))
            continue; /* the ';' is inside a string, comment or trigger */
        rc = check_statement(db, sc, start, p);
        start = p + 1;
    }
    if (rc == STRATA_OK && start < end)
        rc = check_statement(db, sc, start, end);
    free(buf);
    return rc;
}

static int exists_cb(void *payload, int ncols, const char *const *values)
{
    (void)ncols;
    (void)values;
    *(int *)payload = 1;
    return 1;
}

static int sqlite_table_exists(strata *db, void *vst, const char *name)
{
    sqlite_state *st = vst;
    if (st->conn == NULL) {
        /* Absent at open; another process may have created it since. */
        struct stat sb;
        if (stat(st->path, &sb) != 0 && errno == ENOENT)
            return 0;
        int rc = need_conn(db, st);
        if (rc != STRATA_OK)
            return rc;
    }
    int found = 0;
    const char *params[] = {name};
    int rc = sqlite_exec(db, vst,
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                         "AND name = ? COLLATE NOCASE",
                         1, params, exists_cb, &found);
    return rc != STRATA_OK ? rc : found;
}

static int sqlite_ensure_tables(strata *db, void *vst, const char *table,
                                const char *history_table)
{
    sqlite_state *st = vst;
    int rc = need_conn(db, st);
    if (rc != STRATA_OK)
        return rc;
    char *qt = strata__quote_ident(table);
    char *qh = strata__quote_ident(history_table);
    char *sql = NULL;
    if (qt == NULL || qh == NULL) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    /* The tracking table is WITHOUT ROWID: its rows live in the primary
     * key's b-tree alone, so each apply dirties one page of it, not two (a
     * rowid table plus its key index), and the journal and the fsyncs carry
     * that much less. The history keeps INTEGER PRIMARY KEY, not
     * AUTOINCREMENT: it is never deleted from, and AUTOINCREMENT would add
     * sqlite_sequence to the schema. */
    sql = strata__sprintf(
        "CREATE TABLE IF NOT EXISTS %s ("
        "module TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL, "
        "checksum TEXT NOT NULL, state TEXT NOT NULL, "
        "applied_at TEXT NOT NULL, execution_ms INTEGER NOT NULL, "
        "applied_by TEXT NOT NULL, PRIMARY KEY (module, version)) "
        "WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS %s ("
        "id INTEGER PRIMARY KEY, module TEXT NOT NULL, "
        "version TEXT NOT NULL, name TEXT NOT NULL, action TEXT NOT NULL, "
        "checksum TEXT NOT NULL, old_checksum TEXT NOT NULL, "
        "at TEXT NOT NULL, execution_ms INTEGER NOT NULL, "
        "applied_by TEXT NOT NULL, detail TEXT NOT NULL);",
        qt, qh);
    if (sql == NULL) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    rc = simple(db, st, sql, "cannot create the tracking table");
out:
    free(sql);
    free(qt);
    free(qh);
    return rc;
}

static char *sqlite_qualify(strata *db, void *st, const char *name)
{
    (void)db;
    (void)st;
    return strata__quote_ident(name);
}

static const char *sqlite_current_schema(void *st)
{
    (void)st;
    return "main";
}

static const char *const sqlite_schemes[] = {"sqlite", "sqlite3", NULL};

const strata__driver strata__driver_sqlite = {
    .abi = STRATA__DRIVER_ABI,
    .name = "sqlite",
    .schemes = sqlite_schemes,
    .caps = STRATA__CAP_TRANSACTIONAL_DDL,
    .state_size = sizeof(sqlite_state),
    .default_schema = "main",
    .open = sqlite_open,
    .close = sqlite_close,
    .display_url = sqlite_display_url,
    .lock = sqlite_lock,
    .unlock = sqlite_unlock,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .sync = NULL,
    .step = NULL,
    .rollback = sqlite_rollback,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .table_exists = sqlite_table_exists,
    .ensure_tables = sqlite_ensure_tables,
    .check_script = sqlite_check_script,
    .qualify = sqlite_qualify,
    .current_schema = sqlite_current_schema,
    .elapsed_ms_sql = NULL,
    .state_digest = NULL, /* no SHA-256 in SQL; the rows are local anyway */
    .trim = sqlite_trim,
};
