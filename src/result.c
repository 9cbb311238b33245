/*
 * result.c - building the reports that up, down, redo, baseline, repair,
 * forget and new return.
 *
 * A report lives in an arena owned by a box around the public struct, so one
 * strata_report_free() releases everything.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

typedef struct report_box {
    strata_report pub;
    strata__arena arena;
    strata_step **steps;
    strata__migrations kept; /* the source list lent strings point into */
} report_box;

int strata__report_begin(strata__report_builder *b, strata *db,
                         const char *from_version, int dry_run)
{
    memset(b, 0, sizeof *b);
    report_box *box = calloc(1, sizeof *box);
    if (box == NULL)
        return strata__err_nomem(&db->err);
    b->report = &box->pub;
    box->pub.module = strata__arena_strdup(&box->arena, db->module);
    box->pub.from_version = strata__arena_strdup(&box->arena, from_version);
    box->pub.to_version = box->pub.from_version;
    box->pub.dry_run = dry_run;
    if (box->pub.module == NULL || box->pub.from_version == NULL) {
        strata__report_abandon(b);
        return strata__err_nomem(&db->err);
    }
    return STRATA_OK;
}

static int add(strata__report_builder *b, int lend, strata_action action,
               const char *version, const char *name, const char *file,
               int64_t duration_ms, const char *old_checksum,
               const char *new_checksum, const char *detail)
{
    report_box *box = (report_box *)b->report;
    if (b->report->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        strata_step **steps = realloc(box->steps, cap * sizeof *steps);
        if (steps == NULL)
            return STRATA_ENOMEM;
        box->steps = steps;
        b->cap = cap;
    }
    strata__arena *a = &box->arena;
    strata_step *s = strata__arena_alloc(a, sizeof *s);
    if (s == NULL)
        return STRATA_ENOMEM;
    s->action = action;
    s->duration_ms = duration_ms;
    if (lend) {
        s->version = version;
        s->name = name;
        s->file = file;
        s->old_checksum = old_checksum;
        s->new_checksum = new_checksum;
        s->detail = detail;
    } else {
        s->version = strata__arena_strdup(a, version);
        s->name = strata__arena_strdup(a, name);
        s->file = strata__arena_strdup(a, file);
        s->old_checksum = strata__arena_strdup(a, old_checksum);
        s->new_checksum = strata__arena_strdup(a, new_checksum);
        s->detail = strata__arena_strdup(a, detail);
    }
    if (!s->version || !s->name || !s->file || !s->old_checksum ||
        !s->new_checksum || !s->detail)
        return STRATA_ENOMEM;
    box->steps[b->report->count++] = s;
    box->pub.steps = (const strata_step *const *)box->steps;
    return STRATA_OK;
}

int strata__report_add(strata__report_builder *b, strata_action action,
                       const char *version, const char *name, const char *file,
                       int64_t duration_ms, const char *old_checksum,
                       const char *new_checksum, const char *detail)
{
    return add(b, 0, action, version, name, file, duration_ms, old_checksum,
               new_checksum, detail);
}

int strata__report_add_lent(strata__report_builder *b, strata_action action,
                            const char *version, const char *name,
                            const char *file, int64_t duration_ms,
                            const char *old_checksum, const char *new_checksum,
                            const char *detail)
{
    return add(b, 1, action, version, name, file, duration_ms, old_checksum,
               new_checksum, detail);
}

void strata__report_finish(strata__report_builder *b, strata_report **out,
                           const char *to_version, strata__migrations *keep)
{
    report_box *box = (report_box *)b->report;
    if (keep != NULL) {
        box->kept = *keep;
        memset(keep, 0, sizeof *keep);
    }
    const char *to = strata__arena_strdup(&box->arena, to_version);
    if (to != NULL)
        box->pub.to_version = to;
    *out = b->report;
    b->report = NULL;
}

void strata__report_abandon(strata__report_builder *b)
{
    strata_report_free(b->report);
    b->report = NULL;
}

void strata_report_free(strata_report *report)
{
    if (report == NULL)
        return;
    report_box *box = (report_box *)report;
    free(box->steps);
    strata__arena_free(&box->arena);
    strata__migrations_free(&box->kept);
    free(box);
}
