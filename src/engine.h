/*
 * engine.h - the plan, the tracking rows and the results, shared by the
 * files that run commands (plan.c, history.c, runner.c, result.c,
 * scaffold.c, handle.c). Never installed.
 */
#ifndef STRATA_ENGINE_H
#define STRATA_ENGINE_H

#include "strata_int.h"

/* ------------------------------------------------------------------------ */
/* history.c: the tracking table (one row per applied migration) and the
 * append-only history, written through the driver with bound parameters. */

#define STRATA__ROW_APPLIED "applied"
#define STRATA__ROW_DIRTY_UP "dirty_up"     /* an up began, not finished */
#define STRATA__ROW_DIRTY_DOWN "dirty_down" /* a down began, not finished */

typedef struct strata__row {
    char *version;
    char *name;
    char *checksum;
    char *state;
    char *applied_at;
    char *applied_by;
    int64_t execution_ms;
} strata__row;

typedef struct strata__rows {
    size_t count;
    strata__row *items;    /* sorted by version in the source's order */
    strata__arena strings; /* every row's text: one free, not six per row */
} strata__rows;

/* Loads this module's rows, sorted with `order`. A missing table gives an
 * empty list. `expect` is how many rows there probably are (the source's
 * count): room for that many is made at once. `shared`, when not NULL, is
 * a source list that outlives the rows: a row's version, name or checksum
 * equal to its migration's points into it instead of being copied. */
int strata__rows_load(strata__rows *out, strata *db, strata__order order,
                      size_t expect, const strata__migrations *shared);
void strata__rows_free(strata__rows *rows);
/* The highest version this module has applied, "0" when none (or no
 * table), into *out (the caller frees it), from the rows as they stream
 * by: none is held. Fails with the database's error or STRATA_ENOMEM. */
int strata__rows_current(strata *db, strata__order order, char **out);
/* The state digest (strata__state_hash) of this module's rows, computed by
 * the database where the driver can (one value crosses the wire), else
 * from the rows as they stream by, never held. A missing table hashes as
 * no rows. */
int strata__rows_state(strata *db, char out[65]);

/* Creates both tables if missing: in the open transaction when `in_tx`,
 * else in a transaction of its own. */
int strata__tables_ensure(strata *db, int in_tx);

/* Writes for one migration; the caller holds the transaction. */
int strata__row_insert(strata *db, const strata__migration *m,
                       const char *checksum, const char *state,
                       int64_t execution_ms);
int strata__row_set_state(strata *db, const char *version, const char *state,
                          int64_t execution_ms, int touch_applied_at);
int strata__row_set_checksum(strata *db, const char *version,
                             const char *checksum);
int strata__row_delete(strata *db, const char *version);
int strata__history_add(strata *db, strata_action action, const char *version,
                        const char *name, const char *checksum,
                        const char *old_checksum, int64_t execution_ms,
                        const char *detail);
int strata__history_load(strata_history_list **out, strata *db, size_t limit);

/* ------------------------------------------------------------------------ */
/* plan.c: the source merged with the tracking rows. */

typedef struct strata__entry {
    const char *version;        /* from m or row */
    const strata__migration *m; /* NULL when missing */
    const strata__row *row;     /* NULL when not recorded */
    strata_state state;
} strata__entry;

typedef struct strata__plan {
    strata__migrations source; /* borrowed from the handle when embedded */
    int source_loaded, source_borrowed;
    strata__rows rows;
    size_t count;
    strata__entry *items; /* in version order */
    const char *current;  /* highest applied version or "0" */
} strata__plan;

/*
 * Reads the source and the rows and merges them. Takes no lock. Fails with
 * the source's errors (EUSAGE, EREFUSED) or the database's (EFAILED).
 */
int strata__plan_load(strata__plan *out, strata *db);
/* Reads the tracking rows again and merges them with the source the plan
 * already holds (read once per run: the lock guards the rows, not the
 * files). Fails as strata__plan_load, and frees the plan then. */
int strata__plan_reread_rows(strata__plan *p, strata *db);
void strata__plan_free(strata__plan *p);
/* The plan's source list when the plan owns it (a directory), so that what
 * outlives the handle may point into it or take it over; NULL when it is
 * borrowed from the handle (an embedded set) or not loaded. */
strata__migrations *strata__plan_own_source(strata__plan *p);

/*
 * A look, without the lock, at whether the database is up to date: sets
 * *up to 1 when the state digest of the tracking rows equals the source's,
 * and *head to the version the database is then at (a string that lives as
 * long as the plan or the handle). The digest of an embedded set made by
 * strata_embed() is precomputed, so the set is not read; otherwise the
 * source is read into `p` (p->source_loaded). Fails as strata__plan_load.
 */
int strata__plan_look(strata__plan *p, strata *db, int *up, const char **head);
/* Makes a plan that strata__plan_look() left partial a whole one, reading
 * the source only if the look did not. Fails as strata__plan_load. */
int strata__plan_complete(strata__plan *p, strata *db);
/* The state digest of `m` as an up-to-date database's rows would give it.
 * Fails only with STRATA_ENOMEM. */
int strata__migrations_state(const strata__migrations *m, char out[65]);

/*
 * Refuses (STRATA_EREFUSED) the first entry that blocks a run: modified,
 * missing, dirty, and out-of-order unless allowed. The error names the file
 * or version and says what to do.
 */
int strata__plan_check(strata *db, const strata__plan *p,
                       int allow_out_of_order);

/*
 * Loads a script that is about to run (or be checked) and refuses, with the
 * migration's version in the error, one that cannot run: an empty or
 * comment-only up (BAD_SCRIPT), an empty or comment-only down
 * (IRREVERSIBLE), no down at all (NO_DOWN), or any refusal of
 * strata__script_load. Free with strata__script_free.
 */
int strata__load_runnable(strata__script *out, strata *db,
                          const strata__migration *m, strata_direction dir);

/* The public form of a plan. Takes `p` over, whether it succeeds or fails
 * (STRATA_ENOMEM): *p is left empty, and freeing it again does nothing. */
int strata__plan_export(strata_plan **out, strata *db, strata__plan *p);

/* ------------------------------------------------------------------------ */
/* result.c: building reports. */

typedef struct strata__report_builder {
    strata__arena arena;
    strata_report *report;
    size_t cap;
    strata_step **steps;
} strata__report_builder;

int strata__report_begin(strata__report_builder *b, strata *db,
                         const char *from_version, int dry_run);
/* Adds a step; strings are copied. Returns 0 or STRATA_ENOMEM. */
int strata__report_add(strata__report_builder *b, strata_action action,
                       const char *version, const char *name, const char *file,
                       int64_t duration_ms, const char *old_checksum,
                       const char *new_checksum, const char *detail);
/* The same, with every string lent, not copied: each must be a literal or
 * belong to the source list that strata__report_finish() will keep. An
 * apply of 10,000 migrations would otherwise copy 1.6 MB of them. */
int strata__report_add_lent(strata__report_builder *b, strata_action action,
                            const char *version, const char *name,
                            const char *file, int64_t duration_ms,
                            const char *old_checksum, const char *new_checksum,
                            const char *detail);
/* Hands the report to *out (sets to_version). When `keep` is not NULL, the
 * report takes that source list over (freed with the report) and leaves
 * *keep empty. */
void strata__report_finish(strata__report_builder *b, strata_report **out,
                           const char *to_version, strata__migrations *keep);
void strata__report_abandon(strata__report_builder *b);

/* handle.c: checks every public call makes first. */
int strata__require_db(strata *db);
int strata__require_source(strata *db);
/* The template context for this handle's database. */
strata__template_ctx strata__template_ctx_for(const strata *db);

#endif /* STRATA_ENGINE_H */
