/*
 * strata_int.h - internals shared by the engine's files; never installed.
 *
 * Names here are strata__module_verb. The engine is layered:
 *   error/event  -> the handle's error record and event emission
 *   version, filename, checksum, script, template -> pure functions on text
 *   source_dir   -> reads a directory into a sorted list of migrations
 *   plan         -> merges that list with the tracking rows into states
 *   history      -> the tracking and history tables, through the driver
 *   runner       -> up, down, redo, baseline, repair, forget under the lock
 *   drivers/     -> one file per database behind drivers/driver.h
 */
#ifndef STRATA_INT_H
#define STRATA_INT_H

#include "strata.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#if defined(__GNUC__) || defined(__clang__)
#define STRATA__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define STRATA__PRINTF(f, a)
#endif

/* ------------------------------------------------------------------------ */
/* error.c: one error record per handle, fixed buffers so that reporting
 * out-of-memory never allocates. */

typedef struct strata__err {
    strata_error pub; /* what strata_last_error() lends; points below */
    char message[1024];
    char hint[1024];
    char file[4096];
    char version[256];
    char db_message[2048];
    char db_detail[1024];
    char sqlstate[8];
} strata__err;

/* Resets to "no error" (code 0, empty strings). */
void strata__err_clear(strata__err *e);
/* Sets code, reason and a printf-formatted message; returns `code` so that
 * callers can write `return strata__err_set(...)`. Keeps file/line/db fields
 * already set since the last clear. */
int strata__err_set(strata__err *e, int code, strata_reason reason,
                    const char *fmt, ...) STRATA__PRINTF(4, 5);
int strata__err_vset(strata__err *e, int code, strata_reason reason,
                     const char *fmt, va_list ap);
/* Sets the hint (printf-formatted). */
void strata__err_hint(strata__err *e, const char *fmt, ...)
    STRATA__PRINTF(2, 3);
/* Sets where: file, line of the failing token, line where the statement
 * starts, column (0 = unknown). */
void strata__err_where(strata__err *e, const char *file, int line,
                       int statement_line, int column);
/* Sets the version involved. */
void strata__err_version(strata__err *e, const char *version);
/* Sets the database's own fields; NULL strings become "". */
void strata__err_db(strata__err *e, const char *message, const char *detail,
                    const char *sqlstate, int code);
/* Records STRATA_ENOMEM without allocating; returns STRATA_ENOMEM. */
int strata__err_nomem(strata__err *e);

/* ------------------------------------------------------------------------ */
/* util.c: small allocation and text helpers. */

/* strdup/strndup that return NULL on failure (callers report ENOMEM). */
char *strata__strdup(const char *s);
char *strata__strndup(const char *s, size_t n);
/* malloc'ed printf. NULL on failure. */
char *strata__sprintf(const char *fmt, ...) STRATA__PRINTF(1, 2);
/* qsort(), after a linear check that returns at once when the array is
 * already in order: directory listings and tracking rows nearly always
 * are, and this runs at every start. */
void strata__sort(void *base, size_t n, size_t size,
                  int (*cmp)(const void *, const void *));
/* Double-quoted SQL identifier with embedded quotes doubled. NULL on OOM. */
char *strata__quote_ident(const char *name);
/* A copy of a database URL with every password replaced by "***": the
 * `user:secret@` of a URI and any `password=` parameter. NULL on OOM. */
char *strata__mask_url(const char *url);
/* The 1-based line number of byte `offset` in text (counting '\n'). */
int strata__line_of(const char *text, size_t offset);
/* The 1-based column of byte `offset` in text. */
int strata__column_of(const char *text, size_t offset);
/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf[32]. */
void strata__now_iso(char buf[32]);
/* Monotonic milliseconds. */
int64_t strata__monotonic_ms(void);
/* Reads a whole file into a malloc'ed buffer (NUL-terminated, *len without
 * the NUL). Returns 0, STRATA_EUSAGE (unreadable, reason IO) or
 * STRATA_ENOMEM, with `err` filled. */
int strata__read_file(char **out, size_t *len, const char *path,
                      strata__err *err);
/* The same for the file `name` under the open directory `dirfd` (or
 * AT_FDCWD), which is `path` in messages. */
int strata__read_file_at(char **out, size_t *len, int dirfd, const char *name,
                         const char *path, strata__err *err);

/* embedded.c: an embedded set of any version. */

/* STRATA_OK when strata_source_from_embedded() may take the set, else
 * STRATA_EUSAGE (strata.h lists why). */
int strata__embedded_check(const strata_embedded *set);

/* Fills *out with file i of a checked set; its pointers point into it. */
void strata__embedded_at(const strata_embedded *set, size_t i,
                         strata_embedded_file *out);

/* 1, filling *out, when the checked set has `path` (its dir + '/' + a
 * file's path); else 0. */
int strata__embedded_find(const strata_embedded *set, const char *path,
                          strata_embedded_file *out);

/* The same, or STRATA_EUSAGE (reason IO, `path` in err) when the set
 * lacks it: a path the scan did not take from this set. */
int strata__embedded_get(const strata_embedded *set, const char *path,
                         strata_embedded_file *out, strata__err *err);

/* ------------------------------------------------------------------------ */
/* version.c: versions are digit strings of any length. */

typedef enum strata__order {
    /* Parts separated by '.', each compared as an unbounded number, leading
     * zeros ignored, missing trailing parts equal to zero ("1" == "1.0"). */
    STRATA__ORDER_NUMERIC = 0,
    /* Plain byte-wise string comparison (Diesel's order). */
    STRATA__ORDER_STRING = 1
} strata__order;

/*
 * Canonical form of a user- or file-given version text of `len` bytes:
 * NUMERIC: digits with optional '.'-separated digit parts; leading zeros of
 * each part and trailing ".0" parts removed ("0001" -> "1", "1.2.0" ->
 * "1.2", "000" -> "0"). STRING: digits and '-' with the dashes removed
 * ("2017-08-31-120000" -> "20170831120000"). Returns 0, -1 when the text is
 * not a version of that kind, or STRATA_ENOMEM. *out is malloc'ed.
 */
int strata__version_canonical(char **out, const char *text, size_t len,
                              strata__order order);
/* <0, 0, >0 like strcmp, for canonical versions. */
int strata__version_cmp(const char *a, const char *b, strata__order order);

/* ------------------------------------------------------------------------ */
/* filename.c: what a flat file name says. */

typedef enum strata__file_kind {
    STRATA__FILE_PLAIN = 0, /* NNN_name.sql: up, may hold markers */
    STRATA__FILE_UP,        /* NNN_name.up.sql */
    STRATA__FILE_DOWN       /* NNN_name.down.sql */
} strata__file_kind;

typedef struct strata__fname {
    char *version; /* canonical, NUMERIC order */
    char *name;    /* the name part, as written */
    strata__file_kind kind;
} strata__fname;

/*
 * Parses a flat file name (no directory part). Returns 0 and fills *out
 * (free with strata__fname_free), 1 when the name is not a migration
 * candidate at all (does not end in ".sql", or starts with '.'), -1 when it
 * ends in ".sql" but does not parse (e.g. "abc.sql", "001_.sql"), or
 * STRATA_ENOMEM.
 * Grammar: V<d>[.<d>...]__<name>[.up|.down].sql  or
 *          <d>_<name>[.up|.down].sql  where <name> is non-empty and may
 * contain dots and spaces (a dotted version exists only in the V form).
 */
int strata__filename_parse(strata__fname *out, const char *fname);
void strata__fname_free(strata__fname *f);

/* ------------------------------------------------------------------------ */
/* checksum.c */

/* SHA-256 of `len` bytes with every CRLF counted as LF, as 64 lowercase hex
 * digits plus NUL into out. Cannot fail: nothing is allocated. */
void strata__checksum(char out[65], const char *data, size_t len);

/*
 * The state digest of a set of tracking rows: SHA-256, as 64 hex digits, of
 * "VERSION CHECKSUM STATE\n" for each row, in byte order of VERSION. An
 * up-to-date database's rows hash to the digest of its source with every
 * state "applied"; equal digests mean equal rows, so a start compares two
 * values instead of merging two lists. A driver may compute it in SQL.
 */
typedef struct strata__state_hash {
    struct sha256_ctx ctx;
} strata__state_hash;

void strata__state_hash_init(strata__state_hash *h);
void strata__state_hash_add(strata__state_hash *h, const char *version,
                            const char *checksum, const char *state);
void strata__state_hash_end(strata__state_hash *h, char out[65]);

/* ------------------------------------------------------------------------ */
/* arena.c: many small things that live and die together, freed at once. */

typedef struct strata__arena_chunk strata__arena_chunk;
typedef struct strata__arena {
    strata__arena_chunk *head;
} strata__arena;

/* Zeroed memory from the arena; NULL on OOM. */
void *strata__arena_alloc(strata__arena *a, size_t size);
/* `n` bytes for text: not aligned, not zeroed; NULL on OOM. */
char *strata__arena_bytes(strata__arena *a, size_t n);
/* Copy of s ("" for NULL), packed like strata__arena_bytes; NULL on OOM. */
char *strata__arena_strdup(strata__arena *a, const char *s);
void strata__arena_free(strata__arena *a);

/* ------------------------------------------------------------------------ */
/* source_dir.c: a directory read into migrations. */

struct strata_source {
    char *dir;                  /* the directory, or an embedded set's name */
    const strata_embedded *emb; /* embedded files, or NULL for a directory */
};

typedef struct strata__migration {
    char *version; /* canonical */
    char *name;
    char *up_path;   /* dir + file; for folders dir/VERSION_name/up.sql */
    char *down_path; /* NULL when there is no down file; == up_path's text
                        when the up file holds a `-- strata:down` marker */
    /* Flags, a byte each: ten thousand of these are held at once. */
    unsigned char markers;    /* the up file is split by -- strata:up/down
                                 markers */
    unsigned char meta_no_tx; /* metadata.toml says run_in_transaction =
                                 false */
    unsigned char head_no_tx; /* the up script starts with
                                 -- strata:no-transaction (not filled for
                                 embedded sets: worked out when shown) */
    unsigned char down_empty; /* known to have an empty or comment-only down
                                 script (set when the down script was read) */
    char checksum[65];
    /* An embedded set's scripts are found in the set by path when they are
     * loaded: two pointers here made each item 128 bytes instead of 104,
     * 240 KB more at N = 10,000. */
} strata__migration;

typedef struct strata__migrations {
    strata__order order;
    size_t count;
    strata__migration *items; /* sorted by version */
    strata__arena strings;    /* the items' versions, names and paths */
} strata__migrations;

/*
 * Reads the directory of `src`: parses every name, pairs up and down files,
 * detects the folder layout, refuses duplicates and names that do not parse
 * (STRATA_EREFUSED with reason BAD_NAME or DUPLICATE and the file in err),
 * computes each up script's checksum, and sorts. An unreadable directory
 * gives STRATA_EUSAGE (reason IO). Free with strata__migrations_free.
 */
int strata__source_scan(strata__migrations *out, const strata_source *src,
                        strata__err *err);
void strata__migrations_free(strata__migrations *list);
/* Index of `version` in the list, or -1. */
long strata__migrations_find(const strata__migrations *list,
                             const char *version);

/* ------------------------------------------------------------------------ */
/* script.c: one script section read, checked and ready to run. */

/* Where a template was expanded: the placeholder at [raw_off, raw_off +
 * raw_len) of the original text became [off, off + len) of the result. */
typedef struct strata__expansion {
    size_t off, len;
    size_t raw_off, raw_len;
} strata__expansion;

typedef struct strata__script {
    char *buf;        /* whole file as read; owned */
    char *expanded;   /* templates expanded (owned), or NULL */
    const char *path; /* lent from the migration */
    const char *sql;  /* the section to run (in buf or expanded) */
    size_t len;
    const char *raw;        /* the section as in the file (in buf) */
    strata__expansion *map; /* where sql differs from raw, in order;
                               owned, NULL when not expanded */
    size_t nmap;
    int first_line;     /* file line on which sql[0] lies */
    int no_transaction; /* -- strata:no-transaction (or metadata.toml) */
    int has_sql;        /* anything besides whitespace, comments and ';' */
    char checksum[65];  /* of the whole file read, as strata__checksum */
} strata__script;

/*
 * Template context: what {{schema}} and {{tables.NAME}} expand to.
 * `qualify_tables` makes {{tables.NAME}} "schema"."NAME" instead of "NAME".
 */
typedef struct strata__template_ctx {
    const char *schema;
    int qualify_tables;
} strata__template_ctx;

/*
 * Reads the up or down section of migration `m`, refusing (STRATA_EREFUSED,
 * reason BAD_SCRIPT, file and line in err) NUL bytes, invalid UTF-8, unknown
 * or misplaced `-- strata:` lines and unknown templates (BAD_TEMPLATE). For
 * DOWN with no down file, fails with reason NO_DOWN. It does not refuse an
 * empty section: the caller decides (has_sql == 0). Expands templates with
 * `tctx`. The bytes come from `set` when it is not NULL (the migration was
 * scanned from that embedded set; a path it lacks fails with STRATA_EUSAGE,
 * reason IO), else from disk. Free with strata__script_free.
 */
int strata__script_load(strata__script *out, const strata__migration *m,
                        strata_direction dir, const strata_embedded *set,
                        const strata__template_ctx *tctx, strata__err *err);
void strata__script_free(strata__script *s);

/* When `err` points into this script's file (its path, a line of the
 * section and a column), moves the column from the expanded text, where
 * the database counted it, to the file: a placeholder's expansion counts
 * as the placeholder's first byte. */
void strata__script_locate(const strata__script *s, strata__err *err);

/* 1 when the leading comment block of an up script (or of a marker file's
 * header and up section) holds `-- strata:no-transaction`. Cheap enough for
 * the directory scan, which has the bytes in hand for the checksum. */
int strata__script_head_no_tx(const char *buf, size_t len);

/* 1 when sql holds anything besides whitespace, SQL comments and ';'. */
int strata__sql_has_content(const char *sql, size_t len);

/*
 * Expands {{schema}} and {{tables.NAME}} (spaces inside the braces allowed)
 * into quoted identifiers. Anything else of the form {{ word }} is refused
 * with reason BAD_TEMPLATE and the line (first_line-based) of `path`; other
 * "{{" text is left alone. *out is malloc'ed, NULL when there was nothing to
 * expand; so is *map, one entry per expansion in order (*nmap of them).
 * Returns 0, STRATA_EREFUSED or STRATA_ENOMEM.
 */
int strata__template_expand(char **out, size_t *out_len,
                            strata__expansion **map, size_t *nmap,
                            const char *sql, size_t len,
                            const strata__template_ctx *tctx, const char *path,
                            int first_line, strata__err *err);

/* The offset in the original text of byte `off` of the expanded one; a
 * byte inside an expansion maps to its placeholder's first byte. */
size_t strata__template_raw_offset(const strata__expansion *map, size_t nmap,
                                   size_t off);

/* ------------------------------------------------------------------------ */
/* The handle. */

struct strata__driver;

struct strata {
    strata__err err;
    const struct strata__driver *driver;
    void *drv;                  /* driver state, driver->state_size bytes */
    char *dir;                  /* migration directory, or embedded name */
    const strata_embedded *emb; /* embedded set, or NULL */
    /* An embedded set never changes, so it is read once per handle and
     * every plan borrows the result (a directory is read every time). */
    strata__migrations emb_scan;
    int emb_scanned;
    const atomic_int *cancel; /* set by a strata_run to stop between
                                 migrations, or NULL */
    char *module;
    char *table;
    char *history_table;
    char *applied_by; /* NULL until strata__applied_by() needs it */
    char *schema;     /* as given in the options, or NULL */
    int lock_timeout_ms;
    int statement_timeout_ms;
    int lock_wait_ms;
    int connect_wait_ms;
    strata_event_cb on_event;
    void *event_payload;
};

/* handle.c: strata_open() with the cancel flag of a strata_run, which also
 * ends a wait for the server (STRATA_ECANCELLED). */
int strata__open(strata **out, const char *url, const strata_source *source,
                 const strata_options *opts, const atomic_int *cancel);

/* Whether the strata_run behind the handle was asked to stop (never, for a
 * handle of strata_open()). */
static inline int strata__cancel_asked(const strata *db)
{
    return db->cancel != NULL && atomic_load(db->cancel);
}

/* handle.c: a driver's pause between two tries at the migration lock:
 * sleeps *pause_us, doubles it up to 100 ms (so that a cancel is seen
 * within 0.1 s), and returns STRATA_OK to try again, or STRATA_ECANCELLED
 * with the error set when the run was asked to stop. */
int strata__lock_pause(strata *db, long *pause_us);

/* The size of a struct strata_options of version 1, which ends before
 * connect_wait_ms. */
#define STRATA__OPTIONS_V1_SIZE offsetof(strata_options, connect_wait_ms)

/* handle.c: *dst = the options `src` gives, of any accepted version, the
 * fields it lacks at their defaults (NULL src: all defaults). Returns
 * STRATA_EUSAGE, with *dst the defaults, for an unknown version. */
int strata__options_copy(strata_options *dst, const strata_options *src);

/* handle.c: who applies, as the tracking rows record it: the option, else
 * "user@host", looked up on first use and kept by the handle. NULL when out
 * of memory. */
const char *strata__applied_by(strata *db);

/* event.c: emit one event (no-op without a callback). */
void strata__emit(strata *db, const strata_event *ev);
void strata__log(strata *db, strata_log_level level, const char *fmt, ...)
    STRATA__PRINTF(3, 4);

#endif /* STRATA_INT_H */
