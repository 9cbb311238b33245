/*
 * history.c - the tracking table and the append-only history.
 *
 * The tracking table holds one row per applied (or dirty) migration of each
 * module; the history table gets one row for every up, down, baseline, repair
 * and forget, and is never updated or deleted from. Identifiers are quoted;
 * every value is a bound parameter.
 */
#include "drivers/driver.h"
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(strata *db, const char *fmt, const char *table, size_t n,
               const char *const *params, strata__row_cb cb, void *payload)
{
    char *qt = db->driver->qualify(db, db->drv, table);
    if (qt == NULL)
        return strata__err_nomem(&db->err);
    char *sql = strata__sprintf(fmt, qt);
    free(qt);
    if (sql == NULL)
        return strata__err_nomem(&db->err);
    int rc = db->driver->exec(db, db->drv, sql, n, params, cb, payload);
    free(sql);
    return rc;
}

/* Hands this module's tracking rows, as `fmt` selects them (%s: the
 * tracking table, ?: the module), to cb. A missing table has no rows. */
static int module_rows(strata *db, const char *fmt, strata__row_cb cb,
                       void *payload)
{
    int exists = db->driver->table_exists(db, db->drv, db->table);
    if (exists <= 0)
        return exists;
    const char *params[] = {db->module};
    return run(db, fmt, db->table, 1, params, cb, payload);
}

typedef struct rows_ctx {
    strata__rows *rows;
    size_t cap;
    int nomem;
    const strata__migrations *shared; /* see strata__rows_load */
    const char *last_state, *last_by; /* the previous row's, to share */
} rows_ctx;

/* `s` when it holds `text` (NULL stays NULL), else a copy in `a`. */
static char *share_or_copy(strata__arena *a, const char *s, const char *text)
{
    if (s != NULL && text != NULL && strcmp(s, text) == 0)
        return (char *)s;
    return strata__arena_strdup(a, text);
}

static int row_cb(void *payload, int ncols, const char *const *v)
{
    rows_ctx *c = payload;
    if (ncols < 7)
        return 0;
    if (c->rows->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        strata__row *items = realloc(c->rows->items, cap * sizeof *items);
        if (items == NULL) {
            c->nomem = 1;
            return 1;
        }
        c->rows->items = items;
        c->cap = cap;
    }
    strata__row *r = &c->rows->items[c->rows->count];
    memset(r, 0, sizeof *r);
    c->rows->count++;
    strata__arena *a = &c->rows->strings;
    /* Most rows repeat their migration's version, name and checksum, and
     * the row before's state and author: at N = 10,000 sharing those
     * instead of copying them saves 1 MB. */
    long i = c->shared != NULL && v[0] != NULL
                 ? strata__migrations_find(c->shared, v[0])
                 : -1;
    const strata__migration *m = i >= 0 ? &c->shared->items[i] : NULL;
    r->version = share_or_copy(a, m ? m->version : NULL, v[0]);
    r->name = share_or_copy(a, m ? m->name : NULL, v[1]);
    r->checksum = share_or_copy(a, m ? m->checksum : NULL, v[2]);
    r->state = share_or_copy(a, c->last_state, v[3]);
    r->applied_at = strata__arena_strdup(a, v[4]);
    r->execution_ms = v[5] ? strtoll(v[5], NULL, 10) : 0;
    r->applied_by = share_or_copy(a, c->last_by, v[6]);
    c->last_state = r->state;
    c->last_by = r->applied_by;
    if (!r->version || !r->name || !r->checksum || !r->state ||
        !r->applied_at || !r->applied_by) {
        c->nomem = 1;
        return 1;
    }
    return 0;
}

typedef struct current_ctx {
    strata__order order;
    char *best; /* the highest applied version so far, or NULL */
    int nomem;
} current_ctx;

static int current_cb(void *payload, int ncols, const char *const *v)
{
    current_ctx *c = payload;
    if (ncols < 2 || v[0] == NULL || v[1] == NULL ||
        strcmp(v[1], STRATA__ROW_APPLIED) != 0)
        return 0;
    if (c->best != NULL && strata__version_cmp(v[0], c->best, c->order) <= 0)
        return 0;
    char *b = strata__strdup(v[0]);
    if (b == NULL) {
        c->nomem = 1;
        return 1;
    }
    free(c->best);
    c->best = b;
    return 0;
}

int strata__rows_current(strata *db, strata__order order, char **out)
{
    *out = NULL;
    current_ctx c = {order, NULL, 0};
    int rc = module_rows(db, "SELECT version, state FROM %s WHERE module = ?",
                         current_cb, &c);
    if (rc == STRATA_OK && c.nomem)
        rc = strata__err_nomem(&db->err);
    if (rc == STRATA_OK && c.best == NULL) {
        c.best = strata__strdup("0");
        if (c.best == NULL)
            rc = strata__err_nomem(&db->err);
    }
    if (rc != STRATA_OK) {
        free(c.best);
        return rc;
    }
    *out = c.best;
    return STRATA_OK;
}

/* qsort takes no context in C11, so one comparator per order. */
static int row_cmp_numeric(const void *a, const void *b)
{
    const strata__row *x = a, *y = b;
    return strata__version_cmp(x->version, y->version, STRATA__ORDER_NUMERIC);
}

static int row_cmp_string(const void *a, const void *b)
{
    const strata__row *x = a, *y = b;
    return strata__version_cmp(x->version, y->version, STRATA__ORDER_STRING);
}

int strata__rows_load(strata__rows *out, strata *db, strata__order order,
                      size_t expect, const strata__migrations *shared)
{
    memset(out, 0, sizeof *out);
    rows_ctx c = {out, 0, 0, shared, NULL, NULL};
    if (expect > 0) {
        out->items = malloc(expect * sizeof *out->items);
        c.cap = out->items != NULL ? expect : 0;
    }
    int rc = module_rows(db,
                         "SELECT version, name, checksum, state, applied_at, "
                         "execution_ms, applied_by FROM %s WHERE module = ?",
                         row_cb, &c);
    if (rc == STRATA_OK && c.nomem)
        rc = strata__err_nomem(&db->err);
    if (rc != STRATA_OK) {
        strata__rows_free(out);
        return rc;
    }
    if (db->driver->trim != NULL)
        db->driver->trim(db->drv);
    /* Give back what doubling left over: a plan holds the rows to its end. */
    if (out->count == 0) {
        free(out->items);
        out->items = NULL;
    } else if (c.cap > out->count) {
        strata__row *fit = realloc(out->items, out->count * sizeof *fit);
        if (fit != NULL)
            out->items = fit;
    }
    if (out->count > 1)
        strata__sort(out->items, out->count, sizeof *out->items,
                     order == STRATA__ORDER_STRING ? row_cmp_string
                                                   : row_cmp_numeric);
    return STRATA_OK;
}

typedef struct state_ctx {
    strata__state_hash hash; /* rows hashed here as they stream by */
    int bad;
} state_ctx;

static int state_row_cb(void *payload, int ncols, const char *const *v)
{
    state_ctx *c = payload;
    if (ncols == 3 && v[0] != NULL && v[1] != NULL && v[2] != NULL) {
        strata__state_hash_add(&c->hash, v[0], v[1], v[2]);
        return 0;
    }
    c->bad = 1;
    return 1;
}

int strata__rows_state(strata *db, char out[65])
{
    if (db->driver->state_digest != NULL)
        return db->driver->state_digest(db, db->drv, out);
    state_ctx c = {.bad = 0};
    strata__state_hash_init(&c.hash);
    /* The primary key (module, version) hands the rows over in byte order
     * of version, as the digest wants them. */
    int rc = module_rows(db,
                         "SELECT version, checksum, state FROM %s WHERE "
                         "module = ? ORDER BY version",
                         state_row_cb, &c);
    if (rc == STRATA_OK && c.bad)
        rc = strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_NONE,
                             "the tracking table %s holds a row strata "
                             "cannot read",
                             db->table);
    if (rc == STRATA_OK)
        strata__state_hash_end(&c.hash, out);
    return rc;
}

void strata__rows_free(strata__rows *rows)
{
    strata__arena_free(&rows->strings);
    free(rows->items);
    memset(rows, 0, sizeof *rows);
}

int strata__tables_ensure(strata *db, int in_tx)
{
    int exists = db->driver->table_exists(db, db->drv, db->history_table);
    if (exists < 0)
        return exists;
    if (exists == 1) {
        exists = db->driver->table_exists(db, db->drv, db->table);
        if (exists != 0)
            return exists < 0 ? exists : STRATA_OK;
    }
    if (in_tx)
        return db->driver->ensure_tables(db, db->drv, db->table,
                                         db->history_table);
    int rc = db->driver->begin(db, db->drv);
    if (rc != STRATA_OK)
        return rc;
    rc = db->driver->ensure_tables(db, db->drv, db->table, db->history_table);
    if (rc == STRATA_OK)
        rc = db->driver->commit(db, db->drv);
    if (rc != STRATA_OK)
        db->driver->rollback(db, db->drv);
    return rc;
}

/* The value of an execution_ms column: a bound parameter, or, for a
 * negative `ms`, the server's own measure of the running transaction. */
static const char *ms_value(const strata *db, int64_t ms)
{
    return ms < 0 && db->driver->elapsed_ms_sql != NULL
               ? db->driver->elapsed_ms_sql
               : "?";
}

int strata__row_insert(strata *db, const strata__migration *m,
                       const char *checksum, const char *state,
                       int64_t execution_ms)
{
    char now[32], ms[32];
    strata__now_iso(now);
    snprintf(ms, sizeof ms, "%" PRId64, execution_ms < 0 ? 0 : execution_ms);
    const char *mv = ms_value(db, execution_ms);
    const char *by = strata__applied_by(db);
    if (by == NULL)
        return strata__err_nomem(&db->err);
    const char *params[] = {db->module, m->version, m->name, checksum,
                            state,      now,        by,      ms};
    char *fmt = strata__sprintf(
        "INSERT INTO %%s (module, version, name, checksum, state, "
        "applied_at, applied_by, execution_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, %s)",
        mv);
    if (fmt == NULL)
        return strata__err_nomem(&db->err);
    int rc = run(db, fmt, db->table, mv[0] == '?' ? 8 : 7, params, NULL, NULL);
    free(fmt);
    return rc;
}

static int count_cb(void *payload, int ncols, const char *const *values)
{
    (void)ncols;
    (void)values;
    (*(int *)payload)++;
    return 0;
}

/* Runs a change that must hit exactly the one row the plan saw. Another
 * process can only have changed it behind the lock's back (the same
 * database under another name, a hand edit), and then this run must stop
 * rather than record a second time what happened once. */
static int change_one(strata *db, const char *fmt, size_t n,
                      const char *const *params, const char *version)
{
    int hits = 0;
    int rc = run(db, fmt, db->table, n, params, count_cb, &hits);
    if (rc != STRATA_OK || hits == 1)
        return rc;
    strata__err_version(&db->err, version);
    strata__err_set(&db->err, STRATA_EFAILED, STRATA_REASON_NONE,
                    "the tracking row of migration %s changed while strata "
                    "was working on it",
                    version);
    strata__err_hint(&db->err, "another process migrates this database "
                               "without sharing strata's lock (the same file "
                               "under another path?); run `strata status`");
    return STRATA_EFAILED;
}

int strata__row_set_state(strata *db, const char *version, const char *state,
                          int64_t execution_ms, int touch_applied_at)
{
    char now[32], ms[32];
    strata__now_iso(now);
    snprintf(ms, sizeof ms, "%" PRId64, execution_ms);
    const char *params[] = {state, ms, touch_applied_at ? now : NULL,
                            db->module, version};
    return change_one(db,
                      "UPDATE %s SET state = ?, execution_ms = ?, "
                      "applied_at = COALESCE(?, applied_at) "
                      "WHERE module = ? AND version = ? RETURNING version",
                      5, params, version);
}

int strata__row_set_checksum(strata *db, const char *version,
                             const char *checksum)
{
    const char *params[] = {checksum, db->module, version};
    return change_one(db,
                      "UPDATE %s SET checksum = ? WHERE module = ? AND "
                      "version = ? RETURNING version",
                      3, params, version);
}

int strata__row_delete(strata *db, const char *version)
{
    const char *params[] = {db->module, version};
    return change_one(db,
                      "DELETE FROM %s WHERE module = ? AND version = ? "
                      "RETURNING version",
                      2, params, version);
}

int strata__history_add(strata *db, strata_action action, const char *version,
                        const char *name, const char *checksum,
                        const char *old_checksum, int64_t execution_ms,
                        const char *detail)
{
    char now[32], ms[32];
    strata__now_iso(now);
    snprintf(ms, sizeof ms, "%" PRId64, execution_ms < 0 ? 0 : execution_ms);
    const char *mv = ms_value(db, execution_ms);
    const char *by = strata__applied_by(db);
    if (by == NULL)
        return strata__err_nomem(&db->err);
    const char *params[] = {db->module,
                            version,
                            name ? name : "",
                            strata_action_name(action),
                            checksum ? checksum : "",
                            old_checksum ? old_checksum : "",
                            now,
                            by,
                            detail ? detail : "",
                            ms};
    char *fmt = strata__sprintf(
        "INSERT INTO %%s (module, version, name, action, checksum, "
        "old_checksum, at, applied_by, detail, execution_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, %s)",
        mv);
    if (fmt == NULL)
        return strata__err_nomem(&db->err);
    int rc = run(db, fmt, db->history_table, mv[0] == '?' ? 10 : 9, params,
                 NULL, NULL);
    free(fmt);
    return rc;
}

typedef struct hist_ctx {
    strata__arena *arena;
    strata_history_entry **items;
    size_t count, cap;
    int nomem;
} hist_ctx;

static strata_action action_of(const char *s)
{
    for (int a = STRATA_ACTION_UP; a <= STRATA_ACTION_CREATE; a++)
        if (strcmp(strata_action_name((strata_action)a), s) == 0)
            return (strata_action)a;
    return STRATA_ACTION_UP;
}

static int hist_cb(void *payload, int ncols, const char *const *v)
{
    hist_ctx *c = payload;
    if (ncols < 10)
        return 0;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        strata_history_entry **items = realloc(c->items, cap * sizeof *items);
        if (items == NULL) {
            c->nomem = 1;
            return 1;
        }
        c->items = items;
        c->cap = cap;
    }
    strata_history_entry *e = strata__arena_alloc(c->arena, sizeof *e);
    if (e == NULL) {
        c->nomem = 1;
        return 1;
    }
    e->id = v[0] ? strtoll(v[0], NULL, 10) : 0;
    e->version = strata__arena_strdup(c->arena, v[1]);
    e->name = strata__arena_strdup(c->arena, v[2]);
    e->action = action_of(v[3] ? v[3] : "");
    e->checksum = strata__arena_strdup(c->arena, v[4]);
    e->old_checksum = strata__arena_strdup(c->arena, v[5]);
    e->at = strata__arena_strdup(c->arena, v[6]);
    e->execution_ms = v[7] ? strtoll(v[7], NULL, 10) : 0;
    e->applied_by = strata__arena_strdup(c->arena, v[8]);
    e->detail = strata__arena_strdup(c->arena, v[9]);
    if (!e->version || !e->name || !e->checksum || !e->old_checksum || !e->at ||
        !e->applied_by || !e->detail) {
        c->nomem = 1;
        return 1;
    }
    c->items[c->count++] = e;
    return 0;
}

typedef struct history_box {
    strata_history_list pub;
    strata__arena arena;
} history_box;

int strata__history_load(strata_history_list **out, strata *db, size_t limit)
{
    *out = NULL;
    history_box *box = calloc(1, sizeof *box);
    if (box == NULL)
        return strata__err_nomem(&db->err);
    hist_ctx c = {&box->arena, NULL, 0, 0, 0};
    int rc = STRATA_OK;
    box->pub.module = strata__arena_strdup(&box->arena, db->module);
    if (box->pub.module == NULL) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    int exists = db->driver->table_exists(db, db->drv, db->history_table);
    if (exists < 0) {
        rc = exists;
        goto out;
    }
    if (exists) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", limit);
        const char *params[] = {db->module, lim};
        /* Newest `limit` rows, returned oldest first. */
        rc = run(db,
                 limit ? "SELECT id, version, name, action, checksum, "
                         "old_checksum, at, execution_ms, applied_by, detail "
                         "FROM (SELECT * FROM %s WHERE module = ? ORDER BY "
                         "id DESC LIMIT ?) AS newest ORDER BY id"
                       : "SELECT id, version, name, action, checksum, "
                         "old_checksum, at, execution_ms, applied_by, detail "
                         "FROM %s WHERE module = ? ORDER BY id",
                 db->history_table, limit ? 2 : 1, params, hist_cb, &c);
        if (rc == STRATA_OK && c.nomem)
            rc = strata__err_nomem(&db->err);
        if (rc != STRATA_OK)
            goto out;
    }
    box->pub.count = c.count;
    box->pub.entries = (const strata_history_entry *const *)c.items;
    c.items = NULL;
    *out = &box->pub;
    box = NULL;
out:
    free(c.items);
    if (box != NULL) {
        strata__arena_free(&box->arena);
        free(box);
    }
    return rc;
}

void strata_history_list_free(strata_history_list *history)
{
    if (history == NULL)
        return;
    history_box *box = (history_box *)history;
    free((void *)box->pub.entries);
    strata__arena_free(&box->arena);
    free(box);
}
