/*
 * plan.c - the heart of strata: the source compared with the tracking table.
 *
 * Both lists are sorted in the source's order and merged, so each migration
 * lands in exactly one state (applied, pending, modified, missing,
 * out_of_order, dirty). Every command starts here; a plan with a problem
 * applies nothing.
 */
#include "drivers/driver.h"
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int merge_rows(strata__plan *out, strata *db);

/* Reads (or borrows) the source into a fresh plan, without rows. */
static int load_source(strata__plan *out, strata *db)
{
    memset(out, 0, sizeof *out);
    out->current = "0";
    strata_source src = {db->dir, db->emb};
    int rc = STRATA_OK; /* no source: every row shows as missing */
    if (db->emb != NULL) {
        if (!db->emb_scanned) {
            rc = strata__source_scan(&db->emb_scan, &src, &db->err);
            db->emb_scanned = rc == STRATA_OK;
        }
        out->source = db->emb_scan;
        out->source_borrowed = 1;
    } else if (db->dir != NULL) {
        rc = strata__source_scan(&out->source, &src, &db->err);
    }
    out->source_loaded = rc == STRATA_OK;
    return rc;
}

int strata__plan_load(strata__plan *out, strata *db)
{
    int rc = load_source(out, db);
    return rc == STRATA_OK ? merge_rows(out, db) : rc;
}

static int version_bytes_cmp(const void *a, const void *b)
{
    const strata__migration *const *x = a, *const *y = b;
    return strcmp((*x)->version, (*y)->version);
}

int strata__migrations_state(const strata__migrations *m, char out[65])
{
    /* Canonical versions have no leading zeros, so from "10" on the
     * source's order is not byte order: pointers are sorted, the source
     * stays as it is. */
    const strata__migration **by_bytes =
        malloc((m->count + 1) * sizeof *by_bytes);
    if (by_bytes == NULL)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < m->count; i++)
        by_bytes[i] = &m->items[i];
    strata__sort(by_bytes, m->count, sizeof *by_bytes, version_bytes_cmp);
    strata__state_hash h;
    strata__state_hash_init(&h);
    for (size_t i = 0; i < m->count; i++)
        strata__state_hash_add(&h, by_bytes[i]->version, by_bytes[i]->checksum,
                               STRATA__ROW_APPLIED);
    strata__state_hash_end(&h, out);
    free(by_bytes);
    return STRATA_OK;
}

int strata__plan_look(strata__plan *p, strata *db, int *up, const char **head)
{
    char want[65], have[65];
    const strata_embedded *e = db->emb;
    *up = 0;
    *head = "0";
    memset(p, 0, sizeof *p);
    p->current = "0";
    if (e != NULL && e->version >= 2 && e->state_digest != NULL) {
        memcpy(want, e->state_digest, sizeof want);
        *head = e->head_version;
    } else {
        int rc = load_source(p, db);
        if (rc == STRATA_OK &&
            strata__migrations_state(&p->source, want) != STRATA_OK)
            rc = strata__err_nomem(&db->err);
        if (rc != STRATA_OK) {
            strata__plan_free(p);
            return rc;
        }
        if (p->source.count > 0)
            *head = p->source.items[p->source.count - 1].version;
    }
    int rc = strata__rows_state(db, have);
    if (rc != STRATA_OK) {
        strata__plan_free(p);
        return rc;
    }
    *up = strcmp(want, have) == 0;
    return STRATA_OK;
}

int strata__plan_complete(strata__plan *p, strata *db)
{
    if (p->source_loaded)
        return strata__plan_reread_rows(p, db);
    strata__plan_free(p);
    return strata__plan_load(p, db);
}

int strata__plan_reread_rows(strata__plan *p, strata *db)
{
    strata__rows_free(&p->rows);
    free(p->items);
    p->items = NULL;
    p->count = 0;
    p->current = "0";
    return merge_rows(p, db);
}

/* Reads the tracking rows and merges them with the source already in
 * `out`; frees the whole plan on failure. */
static int merge_rows(strata__plan *out, strata *db)
{
    strata__order order = out->source.order;
    /* A plan's rows live no longer than its source, but strings of a
     * source the handle owns must not reach a plan the handle may not
     * outlive (strata__plan_export lends the rows as they are). */
    int rc = strata__rows_load(&out->rows, db, order, out->source.count,
                               strata__plan_own_source(out));
    if (rc != STRATA_OK)
        goto fail;

    const strata__migrations *s = &out->source;
    const strata__rows *r = &out->rows;
    out->items = calloc(s->count + r->count + 1, sizeof *out->items);
    if (out->items == NULL) {
        rc = strata__err_nomem(&db->err);
        goto fail;
    }
    const char *highest = r->count ? r->items[r->count - 1].version : NULL;
    size_t i = 0, j = 0;
    while (i < s->count || j < r->count) {
        int c;
        if (i < s->count && j < r->count)
            c = strata__version_cmp(s->items[i].version, r->items[j].version,
                                    order);
        else
            c = i < s->count ? -1 : 1;
        strata__entry *e = &out->items[out->count++];
        if (c < 0) {
            e->m = &s->items[i++];
            e->version = e->m->version;
            e->state = highest != NULL && strata__version_cmp(
                                              e->version, highest, order) < 0
                           ? STRATA_STATE_OUT_OF_ORDER
                           : STRATA_STATE_PENDING;
            continue;
        }
        e->row = &r->items[j++];
        e->version = e->row->version;
        if (c == 0)
            e->m = &s->items[i++];
        if (strcmp(e->row->state, STRATA__ROW_APPLIED) != 0)
            e->state = STRATA_STATE_DIRTY;
        else if (e->m == NULL)
            e->state = STRATA_STATE_MISSING;
        else if (strcmp(e->m->checksum, e->row->checksum) != 0)
            e->state = STRATA_STATE_MODIFIED;
        else
            e->state = STRATA_STATE_APPLIED;
        if (strcmp(e->row->state, STRATA__ROW_APPLIED) == 0)
            out->current = e->version;
    }
    /* Sized for no overlap at all; usually nearly everything overlaps. */
    strata__entry *fit = realloc(out->items, (out->count + 1) * sizeof *fit);
    if (fit != NULL)
        out->items = fit;
    return STRATA_OK;
fail:
    strata__plan_free(out);
    return rc;
}

strata__migrations *strata__plan_own_source(strata__plan *p)
{
    return p->source_loaded && !p->source_borrowed ? &p->source : NULL;
}

void strata__plan_free(strata__plan *p)
{
    if (!p->source_borrowed)
        strata__migrations_free(&p->source);
    strata__rows_free(&p->rows);
    free(p->items);
    memset(p, 0, sizeof *p);
    p->current = "0";
}

static const char *name_of(const strata__entry *e)
{
    return e->m ? e->m->name : e->row->name;
}

int strata__plan_check(strata *db, const strata__plan *p,
                       int allow_out_of_order)
{
    const strata__entry *first = NULL;
    size_t problems = 0;
    for (size_t i = 0; i < p->count; i++) {
        strata_state st = p->items[i].state;
        if (st == STRATA_STATE_MODIFIED || st == STRATA_STATE_MISSING ||
            st == STRATA_STATE_DIRTY ||
            (st == STRATA_STATE_OUT_OF_ORDER && !allow_out_of_order)) {
            if (first == NULL)
                first = &p->items[i];
            problems++;
        }
    }
    if (first == NULL)
        return STRATA_OK;

    strata__err *err = &db->err;
    const char *v = first->version, *name = name_of(first);
    char more[96] = "";
    if (problems > 1)
        snprintf(more, sizeof more,
                 " (and %zu more problems: see strata "
                 "status)",
                 problems - 1);
    strata__err_version(err, v);
    if (first->m != NULL)
        strata__err_where(err, first->m->up_path, 0, 0, 0);
    switch (first->state) {
    case STRATA_STATE_MODIFIED:
        strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_MODIFIED,
                        "migration %s (%s) was changed after it was "
                        "applied%s",
                        v, name, more);
        strata__err_hint(err,
                         "restore the script as it was applied "
                         "(recorded checksum %.12s...), or run `strata "
                         "repair` to accept the change",
                         first->row->checksum);
        break;
    case STRATA_STATE_MISSING:
        strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_MISSING,
                        "migration %s (%s) is applied but its script is "
                        "gone%s",
                        v, name, more);
        strata__err_hint(err,
                         "restore the script, or run `strata forget "
                         "%s` if it was removed on purpose",
                         v);
        break;
    case STRATA_STATE_DIRTY:
        strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_DIRTY,
                        "migration %s (%s) began but did not finish (it "
                        "ran outside a transaction)%s",
                        v, name, more);
        strata__err_hint(err, "check the schema and finish or undo its "
                              "statements by hand, then run `strata "
                              "repair`");
        break;
    default:
        strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_OUT_OF_ORDER,
                        "migration %s (%s) is pending but older than the "
                        "applied version %s%s",
                        v, name, p->current, more);
        strata__err_hint(err,
                         "give it a version above %s, or pass "
                         "--allow-out-of-order to apply it anyway",
                         p->current);
        break;
    }
    return STRATA_EREFUSED;
}

int strata__load_runnable(strata__script *out, strata *db,
                          const strata__migration *m, strata_direction dir)
{
    strata__template_ctx t = strata__template_ctx_for(db);
    int rc = strata__script_load(out, m, dir, db->emb, &t, &db->err);
    if (rc != STRATA_OK) {
        strata__err_version(&db->err, m->version);
        return rc;
    }
    if (out->has_sql) {
        int crc = db->driver != NULL && db->driver->check_script != NULL
                      ? db->driver->check_script(db, db->drv, out)
                      : STRATA_OK;
        if (crc != STRATA_OK) {
            strata__script_locate(out, &db->err);
            strata__err_version(&db->err, m->version);
            strata__script_free(out);
        }
        return crc;
    }
    const char *path = dir == STRATA_DIRECTION_UP ? m->up_path : m->down_path;
    strata__err_where(&db->err, path, 0, 0, 0);
    strata__err_version(&db->err, m->version);
    if (dir == STRATA_DIRECTION_UP) {
        strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                        "up script of migration %s (%s) is empty or only "
                        "comments",
                        m->version, m->name);
        strata__err_hint(&db->err, "write the migration's SQL in the file, "
                                   "or delete the file");
    } else {
        strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_IRREVERSIBLE,
                        "migration %s (%s) is irreversible: its down "
                        "script is empty or only comments",
                        m->version, m->name);
        strata__err_hint(&db->err, "write SQL that undoes the migration in "
                                   "the down script to make it reversible");
    }
    strata__script_free(out);
    return STRATA_EREFUSED;
}

typedef struct plan_box {
    strata_plan pub;
    strata__plan own;    /* the strings of pub point into it */
    strata__arena arena; /* pub's structs, and copies of what the handle owns */
} plan_box;

/* A string of the plan for pub: lent from the plan the box owns, or copied
 * when the handle owns it (an embedded source), since a plan may outlive
 * its handle. Lending keeps status at N = 10,000 from holding every string
 * twice. */
static const char *pub_str(plan_box *box, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return "";
    return box->own.source_borrowed ? strata__arena_strdup(&box->arena, s) : s;
}

int strata__plan_export(strata_plan **out, strata *db, strata__plan *p)
{
    *out = NULL;
    plan_box *box = calloc(1, sizeof *box);
    if (box == NULL) {
        strata__plan_free(p);
        return strata__err_nomem(&db->err);
    }
    box->own = *p;
    memset(p, 0, sizeof *p);
    p->current = "0";
    const strata__plan *own = &box->own;
    strata__arena *a = &box->arena;
    strata_migration **list =
        strata__arena_alloc(a, (own->count + 1) * sizeof *list);
    strata_migration *items =
        strata__arena_alloc(a, (own->count + 1) * sizeof *items);
    box->pub.module = strata__arena_strdup(a, db->module);
    box->pub.current = strata__arena_strdup(a, own->current);
    if (list == NULL || items == NULL || !box->pub.module || !box->pub.current)
        goto nomem;
    for (size_t i = 0; i < own->count; i++) {
        const strata__entry *e = &own->items[i];
        const strata__row *row = e->row; /* the plan's own: lent as is */
        strata_migration *m = &items[i];
        m->version = e->m ? pub_str(box, e->version) : row->version;
        m->name = e->m ? pub_str(box, e->m->name) : row->name;
        m->state = e->state;
        m->applied_at = row ? row->applied_at : "";
        m->execution_ms = row ? row->execution_ms : -1;
        m->applied_by = row ? row->applied_by : "";
        m->checksum = e->m ? pub_str(box, e->m->checksum) : "";
        m->recorded_checksum = row ? row->checksum : "";
        m->up_file = e->m ? pub_str(box, e->m->up_path) : "";
        m->down_file = e->m ? pub_str(box, e->m->down_path) : "";
        m->reversible =
            e->m != NULL && e->m->down_path != NULL && !e->m->down_empty;
        strata_embedded_file f;
        m->no_transaction =
            e->m != NULL &&
            (e->m->meta_no_tx || e->m->head_no_tx ||
             (db->emb != NULL &&
              strata__embedded_find(db->emb, e->m->up_path, &f) &&
              strata__script_head_no_tx(f.data, f.size)));
        if (!m->version || !m->name || !m->checksum || !m->up_file ||
            !m->down_file)
            goto nomem;
        list[i] = m;
    }
    box->pub.count = own->count;
    box->pub.migrations = (const strata_migration *const *)list;
    *out = &box->pub;
    return STRATA_OK;
nomem:
    strata_plan_free(&box->pub);
    return strata__err_nomem(&db->err);
}

void strata_plan_free(strata_plan *plan)
{
    if (plan == NULL)
        return;
    plan_box *box = (plan_box *)plan;
    strata__arena_free(&box->arena);
    strata__plan_free(&box->own);
    free(box);
}

/* Reads each down script to tell an irreversible migration (empty or
 * comment-only down) from a reversible one. A down script that cannot be
 * read or checked stays "reversible" here: down and validate report it. */
static int mark_irreversible(strata *db, strata__plan *p)
{
    for (size_t i = 0; i < p->source.count; i++) {
        strata__migration *m = &p->source.items[i];
        if (m->down_path == NULL)
            continue;
        strata__script s;
        strata__template_ctx t = strata__template_ctx_for(db);
        int rc = strata__script_load(&s, m, STRATA_DIRECTION_DOWN, db->emb, &t,
                                     &db->err);
        if (rc == STRATA_ENOMEM)
            return rc;
        if (rc == STRATA_OK) {
            m->down_empty = !s.has_sql;
            strata__script_free(&s);
        }
    }
    strata__err_clear(&db->err);
    return STRATA_OK;
}

/* What every read of the plan needs first: a database and a source. */
static int plan_inputs(strata *db)
{
    strata__err_clear(&db->err);
    int rc = strata__require_db(db);
    return rc == STRATA_OK ? strata__require_source(db) : rc;
}

/* What status, validate and check begin with: a handle with a database
 * and a source, and the plan read without the lock. */
static int read_plan(strata__plan *p, strata *db)
{
    int rc = plan_inputs(db);
    return rc == STRATA_OK ? strata__plan_load(p, db) : rc;
}

int strata_status(strata_plan **out, strata *db)
{
    *out = NULL;
    strata__plan p;
    int rc = read_plan(&p, db);
    if (rc != STRATA_OK)
        return rc;
    rc = mark_irreversible(db, &p);
    if (rc == STRATA_OK)
        rc = strata__plan_export(out, db, &p);
    strata__plan_free(&p);
    return rc;
}

/* Reads every script the plan could run and returns the first refusal. */
static int check_scripts(strata *db, strata__plan *p)
{
    for (size_t i = 0; i < p->source.count; i++) {
        strata__migration *m = &p->source.items[i];
        strata__script s;
        int rc = strata__load_runnable(&s, db, m, STRATA_DIRECTION_UP);
        if (rc != STRATA_OK)
            return rc;
        strata__script_free(&s);
        if (m->down_path == NULL)
            continue;
        rc = strata__load_runnable(&s, db, m, STRATA_DIRECTION_DOWN);
        if (rc == STRATA_EREFUSED &&
            db->err.pub.reason == STRATA_REASON_IRREVERSIBLE) {
            strata__err_clear(&db->err); /* allowed: down just refuses */
            m->down_empty = 1;
            continue;
        }
        if (rc != STRATA_OK)
            return rc;
        strata__script_free(&s);
    }
    return STRATA_OK;
}

int strata_validate(strata_plan **out, strata *db, int allow_out_of_order)
{
    *out = NULL;
    strata__plan p;
    int rc = read_plan(&p, db);
    if (rc != STRATA_OK)
        return rc;
    /* Every script is read first, so the exported plan knows which
     * migrations are irreversible; it is returned also on refusal. */
    int check = check_scripts(db, &p);
    if (check == STRATA_OK)
        check = strata__plan_check(db, &p, allow_out_of_order);
    strata__err saved = db->err;
    rc = strata__plan_export(out, db, &p);
    if (rc == STRATA_OK && check != STRATA_OK) {
        db->err = saved;
        rc = check;
    }
    strata__plan_free(&p);
    return rc;
}

int strata_current(char **out, strata *db)
{
    *out = NULL;
    strata__err_clear(&db->err);
    int rc = strata__require_db(db);
    if (rc != STRATA_OK)
        return rc;
    /* The source decides the order; without a readable one, numeric. */
    strata__order order = STRATA__ORDER_NUMERIC;
    if (db->dir != NULL) {
        strata__migrations src;
        strata_source s = {db->dir, db->emb};
        if (strata__source_scan(&src, &s, &db->err) == STRATA_OK) {
            order = src.order;
            strata__migrations_free(&src);
        }
        strata__err_clear(&db->err);
    }
    return strata__rows_current(db, order, out);
}

int strata_check(strata *db)
{
    strata__plan p;
    int rc = plan_inputs(db);
    int up = 0;
    const char *head;
    if (rc == STRATA_OK)
        rc = strata__plan_look(&p, db, &up, &head);
    if (rc != STRATA_OK || up) {
        if (rc == STRATA_OK)
            strata__plan_free(&p);
        return rc;
    }
    /* Not up to date: the whole plan says why. */
    rc = strata__plan_complete(&p, db);
    if (rc != STRATA_OK)
        return rc;
    rc = strata__plan_check(db, &p, 0);
    for (size_t i = 0; rc == STRATA_OK && i < p.count; i++) {
        const strata__entry *e = &p.items[i];
        if (e->state != STRATA_STATE_PENDING)
            continue;
        size_t pending = 0;
        for (size_t j = i; j < p.count; j++)
            pending += p.items[j].state == STRATA_STATE_PENDING;
        strata__err_version(&db->err, e->version);
        strata__err_where(&db->err, e->m->up_path, 0, 0, 0);
        strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_PENDING,
                        "the database is at version %s; %zu migration%s "
                        "pending, from %s (%s)",
                        p.current, pending, pending == 1 ? " is" : "s are",
                        e->version, e->m->name);
        strata__err_hint(&db->err, "run strata up (or let the service "
                                   "migrate at startup)");
        rc = STRATA_EREFUSED;
    }
    strata__plan_free(&p);
    return rc;
}
