/*
 * helpers.h - shared pieces of the library's integration tests.
 *
 * Every test gets a fresh directory under /tmp holding a migrations folder
 * and an SQLite file, writes its own scripts, drives the public API and then
 * looks at the database with the sqlite3 API directly. Helpers assert with
 * Criterion, so a failing helper fails the test that called it.
 */
#ifndef STRATA_IT_HELPERS_H
#define STRATA_IT_HELPERS_H

#include "strata.h"

#include <stddef.h>
#include <stdint.h>

typedef struct it_env {
    char dir[128]; /* the temp root */
    char mig[192]; /* dir/migrations */
    char db[192];  /* dir/test.db */
    char url[224]; /* sqlite:///dir/test.db */
} it_env;

/* Creates a fresh temp root with an empty migrations folder. */
void it_env_init(it_env *e);
/* Removes the temp root and everything in it. */
void it_env_cleanup(it_env *e);

/* Writes `len` bytes to dir/rel, creating folders on the way. */
void it_write_bytes(const char *dir, const char *rel, const void *data,
                    size_t len);
/* Writes the C string `text` to dir/rel. */
void it_write(const char *dir, const char *rel, const char *text);
/* Writes a migration file into e->mig. */
void it_mig(const it_env *e, const char *rel, const char *text);
/* Path e->mig/rel in a static buffer (one at a time). */
const char *it_mig_path(const it_env *e, const char *rel);

/* Opens a handle on e->url with migrations from `migdir` (NULL = none);
 * asserts success. */
strata *it_open_dir(const it_env *e, const char *migdir,
                    const strata_options *opts);
/* Opens a handle on e->url with e->mig as source; asserts success. */
strata *it_open(const it_env *e, const strata_options *opts);

/* A one-line description of the handle's last error, for messages. */
const char *it_err(const strata *db);

/* Runs strata_up with `opts` (NULL = all) and asserts it returned `want`.
 * Returns the report's count (0 when there was no report) and frees it. */
size_t it_up_expect(strata *db, const strata_run_options *opts, int want);

/* Integer result of the first column of the first row of `sql` on the
 * database file `path`; `dflt` when there is no row. */
int64_t it_scalar(const char *path, const char *sql, int64_t dflt);
/* Text of the first column of the first row, malloc'ed; NULL when no row
 * or SQL NULL. */
char *it_text(const char *path, const char *sql);
/* 1 when `table` exists in the database file at `path`. */
int it_table_exists(const char *path, const char *table);
/* Runs SQL on the database at `path` directly; asserts success. */
void it_exec(const char *path, const char *sql);

/* Everything a "nothing changed" assertion compares: the schema and every
 * row of every table. malloc'ed. "" for a database without tables. */
char *it_snapshot(const char *path);

/* SHA-256 hex of a file's bytes, or of `len` bytes, into out[65]; with
 * OpenSSL, to check strata's own digests independently. */
void it_sha256_file(const char *path, char out[65]);
void it_sha256_text(const char *data, size_t len, char out[65]);

/* Reads a whole file, malloc'ed, NUL-terminated; *len gets the size. */
char *it_read_file(const char *path, size_t *len);

/* Milliseconds from a monotonic clock. */
int64_t it_now_ms(void);

/* Recorded events, deep copies. */
typedef struct it_event {
    strata_event_type type;
    char version[64];
    char file[512];
    strata_direction direction;
    size_t index, total;
    int64_t duration_ms;
    int has_error;
    int error_code;
    int error_line;
    char error_file[512];
} it_event;

typedef struct it_events {
    size_t count;
    it_event items[128];
} it_events;

/* An on_event callback; payload is an it_events. */
void it_events_cb(const strata_event *ev, void *payload);

#endif
