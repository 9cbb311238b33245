/*
 * strata.h - the whole public API of libstrata.
 *
 * strata brings a database to the schema a program's code expects. A program
 * opens a handle on a database URL and a migration source, then calls
 * strata_up() before it accepts any work. Every call is blocking, returns 0 or
 * a negative strata_code, and leaves the details of a failure in the handle's
 * error record (strata_last_error()). The library never prints, never exits
 * and never reads the environment; progress is reported through one event
 * callback per handle.
 *
 * Ownership, everywhere in this header:
 *   - what comes back through an `out` parameter belongs to the caller and is
 *     released with the matching *_free() function, which accepts NULL;
 *   - what a handle lends (the error record, strings inside events) lives
 *     until the next call on that handle;
 *   - inputs are copied; the library keeps no caller pointer except the
 *     event callback's payload.
 *
 * Structs returned by the library may grow new fields at their end in later
 * versions; lists are arrays of pointers so that growth is safe. Option
 * structs carry a version field and have an _INIT macro and an _init()
 * function.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define STRATA_EXTERN __attribute__((visibility("default")))
#define STRATA_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define STRATA_EXTERN
#define STRATA_WARN_UNUSED
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0". Never NULL, never freed. */
STRATA_EXTERN const char *strata_version(void);

/* ------------------------------------------------------------------------ */
/* Codes                                                                     */

/*
 * Every fallible call returns STRATA_OK or one of these. They map one to one
 * onto the exit codes of the strata command (shown in brackets), except
 * STRATA_ENOMEM, which the command reports as a failure (1).
 */
typedef enum strata_code {
    STRATA_OK = 0,
    /* A migration or a bookkeeping statement failed in the database; the
     * failed migration left no trace unless it was no-transaction. [1] */
    STRATA_EFAILED = -1,
    /* Bad argument, option, URL, or an unreadable migration source. [2] */
    STRATA_EUSAGE = -2,
    /* The plan was refused before anything ran: nothing was applied. [3] */
    STRATA_EREFUSED = -3,
    /* The migration lock was not acquired within the lock timeout. [4] */
    STRATA_ELOCKED = -4,
    /* The database cannot be opened, reached, or written, or the file is
     * not a database of the URL's kind. [5] */
    STRATA_ECONNECT = -5,
    /* Out of memory. [1] */
    STRATA_ENOMEM = -6,
    /* The run was cancelled (strata_run_cancel()) between two migrations,
     * or while it waited for the server (connect_wait_ms), for the
     * migration lock or for SQLite's write lock; every migration it
     * applied is complete and recorded. [1] */
    STRATA_ECANCELLED = -7
} strata_code;

/*
 * Why a plan or a request was refused, or what kind of input was bad. Lets a
 * program (and a test) react to the kind of problem without parsing text.
 */
typedef enum strata_reason {
    STRATA_REASON_NONE = 0,
    STRATA_REASON_MODIFIED,        /* applied script changed since */
    STRATA_REASON_MISSING,         /* applied version has no script any more */
    STRATA_REASON_OUT_OF_ORDER,    /* pending version below an applied one */
    STRATA_REASON_DIRTY,           /* a no-transaction step did not finish */
    STRATA_REASON_DUPLICATE,       /* two files claim one version */
    STRATA_REASON_BAD_NAME,        /* a file name that does not parse */
    STRATA_REASON_BAD_SCRIPT,      /* empty, NUL byte, bad UTF-8, directive */
    STRATA_REASON_IRREVERSIBLE,    /* down script empty or comment-only */
    STRATA_REASON_NO_DOWN,         /* no down script at all */
    STRATA_REASON_UNKNOWN_VERSION, /* a version named by the caller is absent */
    STRATA_REASON_BAD_TEMPLATE,    /* an unknown {{...}} placeholder */
    STRATA_REASON_EXISTS,          /* a file to create already exists */
    STRATA_REASON_BAD_URL,         /* a database URL that does not parse */
    STRATA_REASON_BAD_OPTION,      /* an option value out of range */
    STRATA_REASON_IO,              /* a file or directory cannot be read */
    STRATA_REASON_READ_ONLY,       /* the database cannot be written */
    STRATA_REASON_NOT_A_DATABASE,  /* the file is not a database */
    STRATA_REASON_PENDING          /* strata_check(): not yet migrated */
} strata_reason;

/*
 * The error record of a handle, filled by the last call that failed and valid
 * until the next call on that handle. Strings are never NULL ("" when
 * unknown); numbers are 0 when unknown.
 */
typedef struct strata_error {
    strata_code code;
    strata_reason reason;
    const char *message;    /* one line, no "failed to" prefix */
    const char *hint;       /* what the user can do next, or "" */
    const char *file;       /* the script or file involved, or "" */
    const char *version;    /* the migration version involved, or "" */
    int line;               /* 1-based line of the failing token in file */
    int statement_line;     /* 1-based line where that statement starts */
    int column;             /* 1-based column of the failing token */
    const char *db_message; /* the database's own message, unaltered */
    const char *db_detail;  /* the database's detail, if it gives one */
    const char *sqlstate;   /* SQLSTATE (PostgreSQL), or "" */
    int db_code;            /* SQLite extended result code, or 0 */
} strata_error;

/* A constant English name of a code ("failed", "usage", "refused", "locked",
 * "connect", "nomem", "cancelled", "ok"). Never NULL. */
STRATA_EXTERN const char *strata_code_name(int code);

/* A constant snake_case name of a reason ("modified", "out_of_order", ...).
 * Never NULL. */
STRATA_EXTERN const char *strata_reason_name(strata_reason reason);

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

typedef enum strata_event_type {
    STRATA_EVENT_RUN_START = 1,   /* steps are about to run: total = steps
                                     planned (not sent when refused) */
    STRATA_EVENT_LOCK_WAIT,       /* the lock is held elsewhere; waiting */
    STRATA_EVENT_LOCK_ACQUIRED,   /* duration_ms = time spent waiting */
    STRATA_EVENT_MIGRATION_START, /* index of total, direction, file */
    STRATA_EVENT_MIGRATION_DONE,  /* duration_ms = execution time */
    STRATA_EVENT_MIGRATION_FAIL,  /* error = what went wrong */
    STRATA_EVENT_RUN_DONE,        /* ends every up, down, redo, baseline,
                                     repair, forget: duration_ms = whole
                                     call, error set when it failed */
    STRATA_EVENT_LOG              /* level + message: a note worth logging */
} strata_event_type;

typedef enum strata_direction {
    STRATA_DIRECTION_UP = 0,
    STRATA_DIRECTION_DOWN = 1
} strata_direction;

typedef enum strata_log_level {
    STRATA_LOG_DEBUG = 0,
    STRATA_LOG_INFO = 1,
    STRATA_LOG_WARN = 2
} strata_log_level;

/*
 * One event. Every pointer in it is lent for the duration of the callback
 * only; copy what you keep. Fields that do not apply are NULL or 0.
 */
typedef struct strata_event {
    strata_event_type type;
    const char *module;
    const char *version;
    const char *name;
    const char *file;
    strata_direction direction;
    size_t index; /* 1-based position in this run */
    size_t total; /* steps planned in this run */
    int64_t duration_ms;
    const strata_error *error; /* MIGRATION_FAIL only */
    strata_log_level level;    /* LOG only */
    const char *message;       /* LOG and LOCK_WAIT */
} strata_event;

/* Called synchronously on the calling thread. It must not call back into
 * the same handle. */
typedef void (*strata_event_cb)(const strata_event *event, void *payload);

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */

/* Where migrations come from. Opaque; see strata_source_from_dir(). */
typedef struct strata_source strata_source;

/* A handle on one database and one source; see strata_open(). */
typedef struct strata strata;

/*
 * Creates a source that reads migrations from the directory at `path`. The
 * directory is read on every call that needs the plan, not here, so this only
 * fails on STRATA_EUSAGE (NULL or empty path) and STRATA_ENOMEM. The path is
 * copied. Free the result with strata_source_free().
 *
 * Accepted layouts:
 *   flat files   0001_name.sql, 0001_name.up.sql + 0001_name.down.sql,
 *                V1__name.sql, V1.2__name.sql, 20251025120000_name.sql; a
 *                single file may hold both with `-- strata:up` and
 *                `-- strata:down` marker lines;
 *   folders      VERSION_name/up.sql + down.sql (+ metadata.toml with
 *                `run_in_transaction = false`); dashes in VERSION are ignored
 *                and versions order as strings; loose files are ignored.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_source_from_dir(strata_source **out,
                                                            const char *path);

/* Frees a source. Accepts NULL. A handle keeps its own copy, so a source may
 * be freed right after strata_open(). */
STRATA_EXTERN void strata_source_free(strata_source *source);

/*
 * Migrations compiled into the program. `strata embed DIR -o FILE.c`
 * generates a strata_embedded holding every file of DIR that is part of a
 * migration (up and down scripts, metadata.toml), byte for byte, with the
 * checksum of each precomputed, so the same database can be migrated from
 * the binary or from the directory and nothing is hashed at startup. It
 * also records what the tracking table of an up-to-date database holds, so
 * that a start with nothing to do neither reads the set nor every row.
 *
 * Since version 3 a set may hold no pointer per file: every path, checksum
 * and file lies in one object, `bytes`, that `entries` index by offset, so
 * a program that carries 10,000 migrations of two files each has five
 * pointers to relocate when it starts, not 60,000 (a position-independent
 * executable writes each one at load). `strata embed` generates that
 * layout, with `files` NULL: read its files with strata_embedded_file_at(),
 * which reads every layout. A set may instead give `files`, a table of
 * pointers, as versions 1 and 2 do, which stay accepted.
 */
#define STRATA_EMBED_VERSION 3

typedef struct strata_embedded_file {
    const char *path;     /* relative to the directory, '/'-separated:
                             "0001_a.up.sql", "2017-08-31-120000_x/up.sql" */
    const char *data;     /* the file's bytes, followed by a NUL */
    size_t size;          /* bytes, without that NUL */
    const char *checksum; /* strata's SHA-256 of the file (CRLF counted as
                             LF), 64 hex digits; NULL, or text of another
                             length, to compute it at startup */
} strata_embedded_file;

/* A file of a set laid out by offsets: where its parts lie in the set's
 * `bytes`, and its size. */
typedef struct strata_embedded_entry {
    size_t path;     /* offset of the path, as above, and a NUL */
    size_t data;     /* offset of the file's bytes, and room for a NUL */
    size_t size;     /* the file's length in bytes, without that NUL */
    size_t checksum; /* offset of the checksum, as above, and a NUL */
} strata_embedded_entry;

typedef struct strata_embedded {
    unsigned int version; /* 1 to STRATA_EMBED_VERSION: the fields it has */
    const char *dir;      /* the directory it was made from: names files in
                             messages ("migrations/0003_x.sql:7") */
    size_t count;         /* files */
    const strata_embedded_file *files; /* a table of pointers, sorted by
                                          path, byte-wise; or, since version
                                          3, NULL for the layout below */
    /* Since version 2; both NULL to work them out at startup. */
    const char *state_digest; /* 64 hex digits: the digest of the tracking
                                 rows of a database that has applied every
                                 migration of the set, and nothing else */
    const char *head_version; /* the highest version of the set, or "0" */
    /* Since version 3, where `files` is NULL (unused when count is 0). */
    const strata_embedded_entry *entries; /* sorted by path, byte-wise */
    const char *bytes;                    /* what the entries point into */
    size_t bytes_size;                    /* its length in bytes */
} strata_embedded;

/*
 * Creates a source over embedded migrations. Unlike every other input, the
 * set is not copied: it is meant to be static data, and must outlive the
 * source and every handle opened with it. Fails with STRATA_EUSAGE when the
 * set is NULL or of an unknown version; when its dir is NULL, empty or
 * ends in '/'; when it has files but neither `files` nor (version 3)
 * `entries` and `bytes`; when a file of `files` has no path or no data, an
 * entry's path does not end in a NUL inside `bytes`, or its data (with
 * room for a NUL) or checksum (with its NUL) does not fit in `bytes`; when
 * the paths are not sorted or repeat; or when it has a state_digest that
 * is not 64 lowercase hex digits, or no head_version beside it. Fails with
 * STRATA_ENOMEM. Free the result with strata_source_free().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_source_from_embedded(strata_source **out, const strata_embedded *set);

/*
 * Fills *file with file `i` of the set, in path order, whatever the set's
 * version: its pointers point into the set, nothing is allocated. Returns
 * STRATA_OK, or STRATA_EUSAGE (leaving *file untouched) when set or file is
 * NULL, the version is unknown or i >= set->count. It checks no more: pass
 * a set that strata_source_from_embedded() accepts.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_embedded_file_at(const strata_embedded *set, size_t i,
                        strata_embedded_file *file);

/*
 * Writes into *out the C source of an embedded set holding the migrations of
 * the handle's source directory (a handle opened with a NULL url will do, as
 * for strata_new()). The text defines `const strata_embedded SYMBOL`. It
 * depends on nothing but the files: regenerating from unchanged files gives
 * identical bytes. The directory must plan cleanly, else the call fails as
 * strata_status() would. `symbol` must be a C identifier (STRATA_EUSAGE).
 * The caller frees *out with strata_string_free().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_embed(char **out, strata *db,
                                                  const char *symbol);

/* ------------------------------------------------------------------------ */
/* The handle                                                                */

/* 2 added connect_wait_ms; a struct of version 1 (without it) is still
 * accepted, and read no further than its last field. */
#define STRATA_OPTIONS_VERSION 2

typedef struct strata_options {
    unsigned int version;     /* STRATA_OPTIONS_VERSION */
    const char *module;       /* namespace of this set; NULL = "default" */
    const char *table;        /* tracking table; NULL = "strata_migrations";
                                 history goes to "<table>_history" */
    int lock_timeout_ms;      /* wait for the migration lock and for the
                                 database's write lock; <0 = default 60000 */
    strata_event_cb on_event; /* NULL = no events */
    void *event_payload;      /* passed to on_event */
    const char *applied_by;   /* recorded as who applied; NULL = the
                                 effective user and host name */
    const char *schema;       /* PostgreSQL: the schema that holds the
                                 tracking tables, that {{schema}} names and
                                 that migrations run in (search_path);
                                 created if missing. NULL = the connection's
                                 current schema. SQLite: NULL or "main" */
    int statement_timeout_ms; /* PostgreSQL statement_timeout for each
                                 migration's statements; 0 = none */
    int lock_wait_ms;         /* PostgreSQL lock_timeout for each
                                 migration's statements: how long one may
                                 wait behind application traffic; 0 = none */
    /* Since version 2. */
    int connect_wait_ms; /* PostgreSQL: how long strata_open() waits for a
                            server that does not accept connections yet, as
                            replicas booting beside their database do: it
                            cannot be reached (nothing listens, the host
                            name does not resolve, or the connection fails
                            before the server answers, SSL included), or it
                            answers that it is starting up, shutting down or
                            recovering; 0 = none. A server that answers
                            anything else (a wrong password, no such
                            database, too many clients) fails at once.
                            SQLite: unused */
} strata_options;

#define STRATA_OPTIONS_INIT                                                    \
    {                                                                          \
        STRATA_OPTIONS_VERSION, NULL, NULL, -1, NULL, NULL, NULL, NULL, 0, 0,  \
            0                                                                  \
    }

/* Fills `opts` with the defaults, as STRATA_OPTIONS_INIT does. A macro, as
 * zlib's deflateInit() is, so that the library writes no more than the
 * struct the program was built with: `size` is its size, and a struct of
 * version 1 (programs built before connect_wait_ms existed call a function
 * of this name, which fills version 1) gets version 1. */
STRATA_EXTERN void strata_options_init_sized(strata_options *opts, size_t size);
#define strata_options_init(opts)                                              \
    strata_options_init_sized((opts), sizeof *(opts))

/*
 * Opens a handle on the database at `url` with migrations from `source`.
 *
 * URLs: `sqlite:relative/path.db`, `sqlite:///absolute/path.db`
 * (`sqlite3:` is accepted as a synonym); `postgres://` and `postgresql://`
 * in libpq's URI form, with everything libpq accepts (sslmode, a socket
 * directory as host, PGPASSWORD, .pgpass and the other PG* variables, which
 * libpq itself reads). A password never appears in an error or event. `url` may
 * be NULL for a handle that only works on the source (strata_new()); `source`
 * may be NULL for a handle that only reads the database (strata_history(),
 * strata_forget()).
 *
 * Like sqlite3_open(), a handle is returned in *out even when opening fails,
 * so the caller can read strata_last_error(); it must always be closed with
 * strata_close(). Only on STRATA_ENOMEM may *out be NULL.
 *
 * With opts->connect_wait_ms, when connecting to PostgreSQL fails, the
 * server is asked whether it accepts connections (PQpingParams()), at once
 * and then after 0.1 s, doubling up to 1 s, until it does or the time is
 * up, each ask bounded by the time left (and by the URL's connect_timeout);
 * a STRATA_LOG_INFO event says when the wait begins, every 10 s of it, and
 * when the server answers. Then strata_open() connects again, and a failure
 * is that attempt's (a server that answered the first ask was not waited
 * for: its refusal is not one a wait mends). A server that is up
 * costs the option nothing.
 *
 * Fails with STRATA_EUSAGE (bad URL or option), STRATA_ECONNECT (cannot open,
 * or not a database; on PostgreSQL also when the wait ran out),
 * STRATA_ENOMEM.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_open(strata **out, const char *url,
                                                 const strata_source *source,
                                                 const strata_options *opts);

/* A copy of `url` fit to show: every password ("user:secret@" and any
 * "password=" parameter) replaced by "***". The caller frees it with
 * strata_string_free(). NULL only for a NULL url or out of memory. */
STRATA_EXTERN char *strata_mask_url(const char *url);

/* Closes the handle, its connection and any lock it holds. Accepts NULL. */
STRATA_EXTERN void strata_close(strata *db);

/* The error record of the last failed call on `db`; see strata_error. Never
 * NULL, even for a NULL db (then a static record of STRATA_ENOMEM). */
STRATA_EXTERN const strata_error *strata_last_error(const strata *db);

/* ------------------------------------------------------------------------ */
/* The plan (status)                                                         */

typedef enum strata_state {
    STRATA_STATE_APPLIED = 0,  /* recorded, checksum matches */
    STRATA_STATE_PENDING,      /* not recorded, newer than every applied */
    STRATA_STATE_MODIFIED,     /* recorded, script changed since */
    STRATA_STATE_MISSING,      /* recorded, no script any more */
    STRATA_STATE_OUT_OF_ORDER, /* not recorded, older than an applied one */
    STRATA_STATE_DIRTY         /* began but never finished */
} strata_state;

/* A constant name of a state: "applied", "pending", "modified", "missing",
 * "out_of_order", "dirty". Never NULL. */
STRATA_EXTERN const char *strata_state_name(strata_state state);

/* One migration as the plan sees it. Strings are "" when they do not apply,
 * never NULL. */
typedef struct strata_migration {
    const char *version; /* canonical version: "1", "1.2", "2017..." */
    const char *name;
    strata_state state;
    const char *applied_at; /* ISO 8601 UTC, "" when not recorded */
    int64_t execution_ms;   /* -1 when not recorded */
    const char *applied_by;
    const char *checksum; /* SHA-256 hex of the script, "" if missing */
    const char *recorded_checksum; /* from the tracking table, or "" */
    const char *up_file;           /* path of the up script, "" if missing */
    const char *down_file;         /* path of the down script, "" if none */
    int reversible;                /* has a down script with SQL in it */
    int no_transaction;            /* up runs outside a transaction */
} strata_migration;

typedef struct strata_plan {
    const char *module;
    const char *current; /* highest applied version, "0" when none */
    size_t count;
    const strata_migration *const *migrations; /* in version order */
} strata_plan;

/*
 * Compares the source with the tracking table and returns every migration
 * with its state. Takes no lock and writes nothing; a missing tracking table
 * means nothing is applied. Fails with STRATA_EREFUSED when the source itself
 * cannot be planned (bad file name, duplicate version), STRATA_EUSAGE when
 * the source is unreadable, STRATA_EFAILED on a database error. Free the
 * result with strata_plan_free().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_status(strata_plan **out,
                                                   strata *db);

/*
 * Like strata_status(), but also reads and checks every script (names,
 * encoding, directives, templates, emptiness) and fails with STRATA_EREFUSED
 * when anything would make `up` refuse (modified, missing, dirty,
 * out-of-order unless `allow_out_of_order`). On such a refusal *out still
 * receives the plan, so the caller can show every problem; when the source
 * itself cannot be planned (a bad file name, a duplicate version) there is
 * no plan and *out is NULL.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_validate(strata_plan **out, strata *db, int allow_out_of_order);

/* Frees a plan. Accepts NULL. */
STRATA_EXTERN void strata_plan_free(strata_plan *plan);

/*
 * Writes the highest applied version into *out ("0" when none). The caller
 * frees it with strata_string_free(). Fails like strata_status().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_current(char **out, strata *db);

/* Frees a string returned by the library. Accepts NULL. */
STRATA_EXTERN void strata_string_free(char *s);

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

#define STRATA_RUN_OPTIONS_VERSION 1

typedef struct strata_run_options {
    unsigned int version;   /* STRATA_RUN_OPTIONS_VERSION */
    const char *to;         /* up: apply through this version; down: revert
                               every migration above it ("0" = all) */
    unsigned int steps;     /* at most this many migrations; 0 = no limit
                               (up) or 1 (down) */
    int all;                /* down: revert everything */
    int dry_run;            /* plan and report, change nothing */
    int single_transaction; /* the whole run in one transaction */
    int allow_out_of_order; /* up: apply out-of-order migrations too */
} strata_run_options;

#define STRATA_RUN_OPTIONS_INIT                                                \
    {                                                                          \
        STRATA_RUN_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0                        \
    }

/* Fills `opts` with the defaults, as STRATA_RUN_OPTIONS_INIT does. */
STRATA_EXTERN void strata_run_options_init(strata_run_options *opts);

typedef enum strata_action {
    STRATA_ACTION_UP = 0,
    STRATA_ACTION_DOWN,
    STRATA_ACTION_BASELINE,
    STRATA_ACTION_REPAIR,
    STRATA_ACTION_FORGET,
    STRATA_ACTION_CREATE
} strata_action;

/* A constant name of an action: "up", "down", "baseline", "repair",
 * "forget", "create". Never NULL. */
STRATA_EXTERN const char *strata_action_name(strata_action action);

/* One thing a command did (or, in a dry run, would do). */
typedef struct strata_step {
    strata_action action;
    const char *version;
    const char *name;
    const char *file;         /* script run, or file created */
    int64_t duration_ms;      /* execution time; 0 when nothing ran */
    const char *old_checksum; /* repair: what was recorded, else "" */
    const char *new_checksum; /* repair/baseline/up: what is recorded now */
    const char *detail;       /* a short human note, or "" */
} strata_step;

typedef struct strata_report {
    const char *module;
    const char *from_version; /* current version before the command */
    const char *to_version;   /* current version after it */
    int dry_run;
    size_t count;
    const strata_step *const *steps;
} strata_report;

/* Frees a report. Accepts NULL. */
STRATA_EXTERN void strata_report_free(strata_report *report);

/*
 * Applies pending migrations in version order: all of them, those up to
 * opts->to, or the first opts->steps. opts may be NULL (apply all).
 *
 * First looks, without the lock, at whether the database is up to date:
 * the tracking rows, one consistent read, must hash to the digest of the
 * source (see strata_embedded). If they do, that is the answer and nothing
 * else happens, except that on PostgreSQL a digest the server had to
 * compute from the rows is kept for the next start (the digest cache,
 * README). Otherwise it takes the migration lock for the whole run,
 * creates the tracking table if needed, plans from every row, and refuses
 * (STRATA_EREFUSED, nothing applied) when any migration is modified,
 * missing, dirty, out of order (unless allowed) or has a script that cannot
 * run. Each migration runs in its own transaction with its tracking row; a
 * `-- strata:no-transaction` script runs statement by statement and its row
 * stays dirty until the last statement succeeds.
 *
 * *out receives a report of what was applied, also when a later migration
 * fails (STRATA_EFAILED: the failed one left no trace) or when nothing was
 * pending (count 0). The caller frees it with strata_report_free(). On
 * STRATA_EUSAGE, STRATA_ELOCKED, STRATA_ECONNECT, STRATA_EREFUSED and
 * STRATA_ENOMEM, *out may be NULL.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_up(strata_report **out, strata *db,
                                               const strata_run_options *opts);

/*
 * Reverts applied migrations, newest first: one (default), opts->steps, all
 * above opts->to, or all (opts->all). Refuses before running anything when a
 * migration to revert has no down script (STRATA_REASON_NO_DOWN), an empty
 * or comment-only one (STRATA_REASON_IRREVERSIBLE), or when the plan has a
 * modified, missing or dirty migration. Reports and fails like strata_up().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_down(strata_report **out, strata *db, const strata_run_options *opts);

/*
 * Reverts the newest applied migration and applies it again, under one
 * lock, in one transaction: when the apply fails, the revert is rolled back
 * with it and the migration stays applied as it was (STRATA_EFAILED, a
 * report with count 0). On PostgreSQL the apply starts from fresh session
 * settings (RESET ALL), as in a transaction of its own. When either script must
 * run outside a transaction (`-- strata:no-transaction`), the two commit one by
 * one, as strata_down() and strata_up() would: a failing apply leaves the
 * migration reverted, or dirty when the apply is that script, and the error's
 * hint says which. opts->single_transaction refuses such a script instead.
 * Refuses like strata_down(); a target (to, steps, all) is STRATA_EUSAGE.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_redo(strata_report **out, strata *db, const strata_run_options *opts);

/*
 * Records every migration of the source up to and including `version` as
 * applied without running it (for a database whose schema already exists).
 * Already-recorded migrations are left alone. Each record goes to the
 * history as a baseline. Fails with STRATA_EUSAGE for a malformed version.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_baseline(strata_report **out, strata *db, const char *version);

/*
 * The one audited way to accept what happened outside strata: clears every
 * dirty marker (an interrupted up is removed, so the migration is pending
 * again; an interrupted down returns to applied) and re-records the checksum
 * of every modified migration. The report lists each change with old and new
 * checksum; the history keeps them.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_repair(strata_report **out,
                                                   strata *db);

/*
 * Removes the tracking row of `version` without touching the schema, and
 * records that in the history. Fails with STRATA_EREFUSED
 * (STRATA_REASON_UNKNOWN_VERSION) when no such row exists.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_forget(strata_report **out, strata *db, const char *version);

#define STRATA_NEW_TIMESTAMP 1u /* 14-digit UTC timestamp, not sequential */
#define STRATA_NEW_SINGLE 2u    /* one file with up/down markers */

/*
 * Creates the next migration in the source directory: NNNN_name.up.sql and
 * NNNN_name.down.sql (or one marker file with STRATA_NEW_SINGLE), numbered
 * one past the highest version, keeping the existing zero padding (4 digits
 * in an empty directory), or a UTC timestamp with STRATA_NEW_TIMESTAMP.
 * Never overwrites and never follows a symlink: fails with STRATA_EREFUSED
 * (STRATA_REASON_EXISTS) if a file is in the way. The report lists the files
 * created (STRATA_ACTION_CREATE).
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_new(strata_report **out, strata *db,
                                                const char *name,
                                                unsigned int flags);

/*
 * Readiness, for probes and deploy gates: is the database at the version
 * the source describes? Takes no lock and writes nothing (a missing
 * database file or tracking table reads as nothing applied); for an
 * embedded set it reads no script, and an up-to-date database answers with
 * one digest of its tracking rows. Returns STRATA_OK when every migration is
 * applied and none is modified, missing or dirty; otherwise
 * STRATA_EREFUSED with the reason (STRATA_REASON_PENDING, _MODIFIED, ...)
 * and the first migration concerned in the error record.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_check(strata *db);

/* ------------------------------------------------------------------------ */
/* Startup: one call, and the same on a worker thread                       */

typedef enum strata_outcome {
    STRATA_OUTCOME_UP_TO_DATE = 0, /* nothing was pending */
    STRATA_OUTCOME_APPLIED,        /* `applied` migrations ran, all fine */
    STRATA_OUTCOME_REFUSED,        /* the plan was refused: nothing ran */
    STRATA_OUTCOME_FAILED,         /* could not open, lock, or a migration
                                      failed (those before it stay) */
    STRATA_OUTCOME_CANCELLED       /* stopped between two migrations, or
                                      while waiting for the server or a
                                      lock */
} strata_outcome;

/* A constant name: "up_to_date", "applied", "refused", "failed",
 * "cancelled". Never NULL. */
STRATA_EXTERN const char *strata_outcome_name(strata_outcome outcome);

/* What a startup run did. Everything in it lives until
 * strata_result_free(). */
typedef struct strata_result {
    strata_outcome outcome;
    int code;                 /* the strata_code of the run */
    size_t applied;           /* migrations this run applied */
    const char *from_version; /* "" when the database was not reached */
    const char *to_version;
    const strata_error *error;   /* a copy; code 0 when all went well */
    const strata_report *report; /* what ran; NULL when nothing could */
} strata_result;

/* Frees a result. Accepts NULL. */
STRATA_EXTERN void strata_result_free(strata_result *result);

/*
 * The startup call: opens `url`, takes the lock, checks the plan, applies
 * every pending migration and closes, and says which of the outcomes above
 * it came to. *out is set in every case but STRATA_ENOMEM; the return value
 * is (*out)->code. A program should refuse to serve (or report not-ready)
 * unless the outcome is STRATA_OUTCOME_UP_TO_DATE or _APPLIED.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_migrate(strata_result **out,
                                                    const char *url,
                                                    const strata_source *source,
                                                    const strata_options *opts);

/* A strata_migrate() running on a worker thread the library owns. */
typedef struct strata_run strata_run;

/* Called once on the worker thread when the run ends, before the run's
 * file descriptor becomes readable. The result is lent until
 * strata_run_free(); it is NULL when memory ran out. */
typedef void (*strata_done_cb)(const strata_result *result, void *payload);

/*
 * Starts strata_migrate() on a new thread and returns at once. Events (the
 * options' on_event) and `done` (may be NULL) are called on that thread,
 * which blocks every signal. Inputs are copied as for strata_open(). Fails
 * with STRATA_ENOMEM or STRATA_EFAILED (no thread or no descriptor could be
 * made); *out is NULL then. A migration that is running finishes before a
 * cancel or a free takes effect: cancel never cuts one.
 */
STRATA_EXTERN STRATA_WARN_UNUSED int
strata_run_start(strata_run **out, const char *url, const strata_source *source,
                 const strata_options *opts, strata_done_cb done,
                 void *payload);

/* A file descriptor that becomes readable when the run has ended and stays
 * readable, for poll, epoll, libuv or libevent. Owned by the run: do not
 * read or close it. */
STRATA_EXTERN int strata_run_fd(const strata_run *run);

/* Waits up to timeout_ms (<0: forever) for the end of the run. Returns 1
 * when it has ended, 0 on timeout. */
STRATA_EXTERN int strata_run_wait(strata_run *run, int timeout_ms);

/* Asks the run to stop at the next point between two migrations, never
 * inside one; while it waits for the server (connect_wait_ms), for the
 * migration lock that another run holds or, before a migration starts, for
 * SQLite's write lock that another connection holds, within 0.1 s, or once
 * the ask under way returns. The outcome is then
 * STRATA_OUTCOME_CANCELLED, unless the run had nothing left to do. Safe from
 * any thread, any number of times. */
STRATA_EXTERN void strata_run_cancel(strata_run *run);

/* How far the run is: migrations finished so far and planned in all (both
 * 0 until the plan is known). Safe from any thread while it runs. */
STRATA_EXTERN void strata_run_progress(const strata_run *run, size_t *done,
                                       size_t *total);

/* The result once the run has ended, else NULL; also NULL after the end
 * when the worker ran out of memory building it. Lent until
 * strata_run_free(). */
STRATA_EXTERN const strata_result *strata_run_result(const strata_run *run);

/* Cancels the run if it still runs, waits for its thread, and frees it.
 * Accepts NULL. */
STRATA_EXTERN void strata_run_free(strata_run *run);

/* ------------------------------------------------------------------------ */
/* History                                                                   */

typedef struct strata_history_entry {
    int64_t id;
    strata_action action;
    const char *version;
    const char *name;
    const char *checksum;     /* checksum recorded by this action */
    const char *old_checksum; /* repair: the checksum it replaced */
    const char *at;           /* ISO 8601 UTC */
    int64_t execution_ms;     /* 0 when nothing ran (baseline, repair) */
    const char *applied_by;
    const char *detail;
} strata_history_entry;

typedef struct strata_history_list {
    const char *module;
    size_t count;
    const strata_history_entry *const *entries; /* oldest first */
} strata_history_list;

/*
 * Reads the append-only history of this module: the newest `limit` entries
 * (0 = all), oldest first. A missing history table gives an empty list.
 * Free the result with strata_history_list_free().
 */
STRATA_EXTERN STRATA_WARN_UNUSED int strata_history(strata_history_list **out,
                                                    strata *db, size_t limit);

/* Frees a history. Accepts NULL. */
STRATA_EXTERN void strata_history_list_free(strata_history_list *history);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
