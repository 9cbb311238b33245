/*
 * handle.c - opening and closing a handle, its options, its source, and the
 * constant names of the public enums.
 *
 * A handle owns copies of everything it was given. Like sqlite3_open(), a
 * failed open still returns the handle so the caller can read the error.
 */
#include "drivers/driver.h"
#include "engine.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *strata_version(void)
{
    return STRATA_VERSION_STRING;
}

const char *strata_code_name(int code)
{
    switch (code) {
    case STRATA_OK: return "ok";
    case STRATA_EFAILED: return "failed";
    case STRATA_EUSAGE: return "usage";
    case STRATA_EREFUSED: return "refused";
    case STRATA_ELOCKED: return "locked";
    case STRATA_ECONNECT: return "connect";
    case STRATA_ENOMEM: return "nomem";
    case STRATA_ECANCELLED: return "cancelled";
    default: return "unknown";
    }
}

const char *strata_reason_name(strata_reason reason)
{
    static const char *const names[] = {
        "none",         "modified",       "missing",         "out_of_order",
        "dirty",        "duplicate",      "bad_name",        "bad_script",
        "irreversible", "no_down",        "unknown_version", "bad_template",
        "exists",       "bad_url",        "bad_option",      "io",
        "read_only",    "not_a_database", "pending",
    };
    if ((unsigned)reason < sizeof names / sizeof names[0])
        return names[reason];
    return "unknown";
}

const char *strata_state_name(strata_state state)
{
    static const char *const names[] = {"applied", "pending",      "modified",
                                        "missing", "out_of_order", "dirty"};
    if ((unsigned)state < sizeof names / sizeof names[0])
        return names[state];
    return "unknown";
}

const char *strata_action_name(strata_action action)
{
    static const char *const names[] = {"up",     "down",   "baseline",
                                        "repair", "forget", "create"};
    if ((unsigned)action < sizeof names / sizeof names[0])
        return names[action];
    return "unknown";
}

void strata_options_init_sized(strata_options *opts, size_t size)
{
    strata_options def = STRATA_OPTIONS_INIT;
    if (size >= sizeof def) {
        *opts = def;
    } else if (size >= STRATA__OPTIONS_V1_SIZE) {
        def.version = 1;
        memcpy(opts, &def, STRATA__OPTIONS_V1_SIZE);
    }
}

/* What programs built against version 1 of the options call: their struct
 * ends before connect_wait_ms. */
#undef strata_options_init
STRATA_EXTERN void strata_options_init(strata_options *opts);
void strata_options_init(strata_options *opts)
{
    strata_options_init_sized(opts, STRATA__OPTIONS_V1_SIZE);
}

void strata_run_options_init(strata_run_options *opts)
{
    strata_run_options def = STRATA_RUN_OPTIONS_INIT;
    *opts = def;
}

void strata_string_free(char *s)
{
    free(s);
}

char *strata_mask_url(const char *url)
{
    return strata__mask_url(url);
}

int strata_source_from_dir(strata_source **out, const char *path)
{
    *out = NULL;
    if (path == NULL || *path == '\0')
        return STRATA_EUSAGE;
    strata_source *src = calloc(1, sizeof *src);
    if (src == NULL)
        return STRATA_ENOMEM;
    src->dir = strata__strdup(path);
    if (src->dir == NULL) {
        free(src);
        return STRATA_ENOMEM;
    }
    *out = src;
    return STRATA_OK;
}

int strata_source_from_embedded(strata_source **out, const strata_embedded *set)
{
    *out = NULL;
    int rc = strata__embedded_check(set);
    if (rc != STRATA_OK)
        return rc;
    strata_source *src = calloc(1, sizeof *src);
    if (src == NULL)
        return STRATA_ENOMEM;
    src->dir = strata__strdup(set->dir);
    if (src->dir == NULL) {
        free(src);
        return STRATA_ENOMEM;
    }
    src->emb = set;
    *out = src;
    return STRATA_OK;
}

void strata_source_free(strata_source *source)
{
    if (source == NULL)
        return;
    free(source->dir);
    free(source);
}

static const strata__err nomem_record = {
    .pub = {.code = STRATA_ENOMEM,
            .message = "out of memory",
            .hint = "",
            .file = "",
            .version = "",
            .db_message = "",
            .db_detail = "",
            .sqlstate = ""},
};

const strata_error *strata_last_error(const strata *db)
{
    return db == NULL ? &nomem_record.pub : &db->err.pub;
}

/* Who applied a migration: "user@host" from the process's credentials, not
 * the environment. */
static char *default_applied_by(void)
{
    char host[256] = "";
    char buf[1024];
    struct passwd pw, *res = NULL;
    const char *user = "unknown";
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res != NULL)
        user = res->pw_name;
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    return host[0] ? strata__sprintf("%s@%s", user, host)
                   : strata__strdup(user);
}

const char *strata__applied_by(strata *db)
{
    if (db->applied_by == NULL)
        db->applied_by = default_applied_by();
    return db->applied_by;
}

static int valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int strata__options_copy(strata_options *dst, const strata_options *src)
{
    strata_options def = STRATA_OPTIONS_INIT;
    *dst = def;
    if (src == NULL)
        return STRATA_OK;
    if (src->version == 1)
        memcpy(dst, src, STRATA__OPTIONS_V1_SIZE);
    else if (src->version == STRATA_OPTIONS_VERSION)
        *dst = *src;
    else
        return STRATA_EUSAGE;
    dst->version = STRATA_OPTIONS_VERSION;
    return STRATA_OK;
}

static int set_options(strata *db, const strata_options *given)
{
    strata_options all;
    if (strata__options_copy(&all, given) != STRATA_OK)
        return strata__err_set(
            &db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
            "options version %u is not supported", given->version);
    const strata_options *opts = &all;
    const char *module = opts->module ? opts->module : "default";
    const char *table = opts->table ? opts->table : "strata_migrations";
    if (!valid_name(module, 200)) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "invalid module name");
        strata__err_hint(&db->err, "use 1 to 200 printable characters");
        return STRATA_EUSAGE;
    }
    if (!valid_name(table, 55)) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "invalid tracking table name");
        strata__err_hint(&db->err, "use 1 to 55 printable characters");
        return STRATA_EUSAGE;
    }
    db->module = strata__strdup(module);
    db->table = strata__strdup(table);
    db->history_table = strata__sprintf("%s_history", table);
    /* Without the option, found on the first write: the user database
     * lookup costs a start that has nothing to apply. */
    if (opts->applied_by != NULL &&
        (db->applied_by = strata__strdup(opts->applied_by)) == NULL)
        return strata__err_nomem(&db->err);
    db->lock_timeout_ms =
        opts->lock_timeout_ms < 0 ? 60000 : opts->lock_timeout_ms;
    db->statement_timeout_ms =
        opts->statement_timeout_ms > 0 ? opts->statement_timeout_ms : 0;
    db->lock_wait_ms = opts->lock_wait_ms > 0 ? opts->lock_wait_ms : 0;
    db->connect_wait_ms = opts->connect_wait_ms > 0 ? opts->connect_wait_ms : 0;
    if (opts->schema != NULL) {
        if (!valid_name(opts->schema, 63)) {
            strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                            "invalid schema name");
            strata__err_hint(&db->err, "use 1 to 63 printable characters");
            return STRATA_EUSAGE;
        }
        db->schema = strata__strdup(opts->schema);
        if (db->schema == NULL)
            return strata__err_nomem(&db->err);
    }
    db->on_event = opts->on_event;
    db->event_payload = opts->event_payload;
    if (!db->module || !db->table || !db->history_table)
        return strata__err_nomem(&db->err);
    return STRATA_OK;
}

int strata_open(strata **out, const char *url, const strata_source *source,
                const strata_options *opts)
{
    return strata__open(out, url, source, opts, NULL);
}

int strata__lock_pause(strata *db, long *pause_us)
{
    struct timespec ts = {*pause_us / 1000000L, (*pause_us % 1000000L) * 1000L};
    nanosleep(&ts, NULL);
    *pause_us = *pause_us * 2 < 100000 ? *pause_us * 2 : 100000;
    if (!strata__cancel_asked(db))
        return STRATA_OK;
    strata__err_set(&db->err, STRATA_ECANCELLED, STRATA_REASON_NONE,
                    "cancelled while waiting for the migration lock (module "
                    "%s)",
                    db->module);
    strata__err_hint(&db->err, "nothing was applied; the run that holds the "
                               "lock goes on");
    return STRATA_ECANCELLED;
}

int strata__open(strata **out, const char *url, const strata_source *source,
                 const strata_options *opts, const atomic_int *cancel)
{
    strata *db = calloc(1, sizeof *db);
    *out = db;
    if (db == NULL)
        return STRATA_ENOMEM;
    db->cancel = cancel;
    strata__err_clear(&db->err);
    int rc = set_options(db, opts);
    if (rc != STRATA_OK)
        return rc;
    if (source != NULL) {
        db->dir = strata__strdup(source->dir);
        if (db->dir == NULL)
            return strata__err_nomem(&db->err);
        db->emb = source->emb;
    }
    if (url == NULL)
        return STRATA_OK;

    strata__url parsed;
    const strata__driver *drv = strata__driver_for(url, &parsed);
    if (drv == NULL) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                        "unsupported database URL (expected a scheme such "
                        "as sqlite:)");
        strata__err_hint(&db->err, "write sqlite:relative/path.db or "
                                   "sqlite:///absolute/path.db");
        return STRATA_EUSAGE;
    }
    db->drv = calloc(1, drv->state_size);
    if (db->drv == NULL)
        return strata__err_nomem(&db->err);
    db->driver = drv;
    rc = drv->open(db, db->drv, &parsed);
    if (rc != STRATA_OK) {
        drv->close(db->drv);
        free(db->drv);
        db->drv = NULL;
        db->driver = NULL;
        return rc;
    }
    return STRATA_OK;
}

void strata_close(strata *db)
{
    if (db == NULL)
        return;
    if (db->driver != NULL) {
        db->driver->unlock(db, db->drv);
        db->driver->close(db->drv);
    }
    free(db->drv);
    strata__migrations_free(&db->emb_scan);
    free(db->dir);
    free(db->module);
    free(db->table);
    free(db->history_table);
    free(db->applied_by);
    free(db->schema);
    free(db);
}

int strata__require_db(strata *db)
{
    if (db->driver != NULL)
        return STRATA_OK;
    strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                    "no database is open on this handle");
    strata__err_hint(&db->err, "give a database URL (--database or "
                               "DATABASE_URL)");
    return STRATA_EUSAGE;
}

int strata__require_source(strata *db)
{
    /* Checked before any lock or write, so that a typo in the directory
     * leaves nothing behind. */
    struct stat sb;
    if (db->emb != NULL)
        return STRATA_OK; /* compiled in: nothing on disk to look for */
    if (db->dir != NULL) {
        int found = stat(db->dir, &sb) == 0;
        if (found && S_ISDIR(sb.st_mode))
            return STRATA_OK;
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                        "migrations directory %s %s", db->dir,
                        found             ? "is not a directory"
                        : errno == ENOENT ? "does not exist"
                                          : strerror(errno));
        strata__err_where(&db->err, db->dir, 0, 0, 0);
        strata__err_hint(&db->err, "give the directory that holds the "
                                   "migrations (--migrations or "
                                   "STRATA_MIGRATIONS)");
        return STRATA_EUSAGE;
    }
    strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                    "no migration source is set on this handle");
    strata__err_hint(&db->err, "give a migrations directory (--migrations "
                               "or STRATA_MIGRATIONS)");
    return STRATA_EUSAGE;
}

strata__template_ctx strata__template_ctx_for(const strata *db)
{
    strata__template_ctx t;
    t.schema = db->schema;
    if (t.schema == NULL && db->driver != NULL)
        t.schema = db->driver->current_schema(db->drv);
    if (t.schema == NULL)
        t.schema = db->driver != NULL ? db->driver->default_schema : "main";
    t.qualify_tables = db->schema != NULL;
    return t;
}
