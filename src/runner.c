/*
 * runner.c - up, down, redo, baseline, repair and forget.
 *
 * Every command that writes follows one shape: take the migration lock, make
 * sure the tracking tables exist, load the plan, refuse before anything runs
 * if the plan or any script to run has a problem, then run. A migration runs
 * in one transaction together with its tracking row and history row, so a
 * failure leaves no trace of it. A no-transaction script is recorded as dirty
 * first, runs statement by statement, and is marked applied only after its
 * last statement succeeded.
 */
#include "drivers/driver.h"
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    strata *db;
    strata_run_options opts;
    strata__plan plan;
    strata__report_builder rb;
    int locked;
    int plan_loaded;
    int up_to_date; /* seen without the lock: the plan holds no rows */
    size_t total, index;
    int64_t started;
    const strata__migration **steps; /* selected, in run order */
    strata_direction *dirs;          /* and the direction of each */
    size_t nsteps;
    size_t no_tx_steps; /* selected steps whose script runs outside a
                           transaction (precheck) */
    int redo;           /* the steps revert a migration, then apply it */
} run;

static int check_run_options(strata *db, const strata_run_options *in,
                             strata_run_options *out)
{
    strata_run_options def = STRATA_RUN_OPTIONS_INIT;
    *out = in != NULL ? *in : def;
    if (out->version != STRATA_RUN_OPTIONS_VERSION)
        return strata__err_set(
            &db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
            "run options version %u is not supported", out->version);
    int targets = (out->to != NULL) + (out->steps != 0) + (out->all != 0);
    if (targets > 1) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "give at most one of a target version, a step "
                        "count and all");
        strata__err_hint(&db->err, "use --to VERSION, --steps N or --all "
                                   "alone");
        return STRATA_EUSAGE;
    }
    return STRATA_OK;
}

/* What a run may do to the database, which decides whether it locks. */
typedef enum run_kind {
    RUN_WRITE, /* always under the migration lock */
    RUN_UP     /* under the lock, unless already up to date (below) */
} run_kind;

/* Opens a run: lock, plan, report.
 *
 * An `up` on a database that is already up to date takes no lock: one read
 * of the tracking table, which is a consistent snapshot, whose state digest
 * equals the source's is the answer, and it spares every process of a fleet
 * at boot the lock's round trips, the wait behind each other and the
 * reading of every row. Anything else (work to do, a dirty or modified row,
 * a problem that another runner may be fixing right now) is decided under
 * the lock from the whole plan. */
static int run_open(run *r, strata *db, const strata_run_options *opts,
                    run_kind kind, int needs_source)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    r->started = strata__monotonic_ms();
    strata__err_clear(&db->err);
    int rc = strata__require_db(db);
    if (rc == STRATA_OK && needs_source)
        rc = strata__require_source(db);
    if (rc == STRATA_OK)
        rc = check_run_options(db, opts, &r->opts);
    if (rc != STRATA_OK)
        return rc;
    int lock = !r->opts.dry_run, looked = 0;
    if (lock && kind == RUN_UP && r->opts.to == NULL) {
        const char *head;
        rc = strata__plan_look(&r->plan, db, &r->up_to_date, &head);
        if (rc != STRATA_OK)
            return rc;
        r->plan_loaded = looked = 1;
        if (r->up_to_date && db->driver->state_matched != NULL)
            db->driver->state_matched(db, db->drv);
        if (r->up_to_date)
            return strata__report_begin(&r->rb, db, head, 0);
    }
    if (lock) {
        rc = db->driver->lock(db, db->drv);
        if (rc != STRATA_OK)
            return rc;
        r->locked = 1;
    }
    /* A source read by the look stands; the rows are read under the lock. */
    rc = looked ? strata__plan_complete(&r->plan, db)
                : strata__plan_load(&r->plan, db);
    r->plan_loaded = rc == STRATA_OK;
    if (rc != STRATA_OK)
        return rc;
    return strata__report_begin(&r->rb, db, r->plan.current, r->opts.dry_run);
}

/* The version the database is at now, read back after a run. */
static int current_after(run *r, char **out)
{
    *out = NULL;
    if (r->opts.dry_run || r->rb.report->count == 0)
        return STRATA_OK; /* unchanged: no round trip to find that out */
    /* On failure *out stays NULL and the report keeps from_version; the
     * run's own error comes first. */
    strata__err saved = r->db->err;
    (void)strata__rows_current(r->db, r->plan.source.order, out);
    r->db->err = saved;
    return STRATA_OK;
}

static int run_close(run *r, int rc, strata_report **out)
{
    strata *db = r->db;
    if (r->rb.report != NULL && out != NULL) {
        char *to = NULL;
        current_after(r, &to);
        /* Steps lend their strings from a source list the plan owns. */
        strata__report_finish(
            &r->rb, out, to != NULL ? to : r->rb.report->from_version,
            r->plan_loaded ? strata__plan_own_source(&r->plan) : NULL);
        free(to);
    }
    strata__report_abandon(&r->rb);
    if (r->locked)
        db->driver->unlock(db, db->drv);
    if (r->plan_loaded)
        strata__plan_free(&r->plan);
    free(r->steps);
    free(r->dirs);
    strata_event ev = {0};
    ev.type = STRATA_EVENT_RUN_DONE;
    ev.module = db->module;
    ev.total = r->total;
    ev.index = r->index;
    ev.duration_ms = strata__monotonic_ms() - r->started;
    ev.error = rc != STRATA_OK ? &db->err.pub : NULL;
    strata__emit(db, &ev);
    return rc;
}

static int add_step(run *r, const strata__migration *m, strata_direction dir)
{
    if (r->nsteps % 64 == 0) {
        const strata__migration **s =
            realloc(r->steps, (r->nsteps + 64) * sizeof *s);
        if (s == NULL)
            return strata__err_nomem(&r->db->err);
        r->steps = s;
        strata_direction *d = realloc(r->dirs, (r->nsteps + 64) * sizeof *d);
        if (d == NULL)
            return strata__err_nomem(&r->db->err);
        r->dirs = d;
    }
    r->steps[r->nsteps] = m;
    r->dirs[r->nsteps++] = dir;
    return STRATA_OK;
}

static int parse_version(run *r, const char *text, char **out)
{
    int rc = strata__version_canonical(out, text, strlen(text),
                                       r->plan.source.order);
    if (rc == STRATA_ENOMEM)
        return strata__err_nomem(&r->db->err);
    if (rc != 0) {
        strata__err_set(&r->db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "'%s' is not a version", text);
        strata__err_hint(&r->db->err, "versions are digits, like 3, 0003, "
                                      "1.2 or 20251025120000");
        return STRATA_EUSAGE;
    }
    return STRATA_OK;
}

/* Opens a writing run for a command that names one version (baseline,
 * forget) and puts that version, canonical, in *out (the caller frees). */
static int open_at_version(run *r, strata *db, int needs_source,
                           const char *command, const char *version, char **out)
{
    int rc = run_open(r, db, NULL, RUN_WRITE, needs_source);
    if (rc != STRATA_OK)
        return rc;
    if (version == NULL)
        return strata__err_set(&db->err, STRATA_EUSAGE,
                               STRATA_REASON_BAD_OPTION, "%s needs a version",
                               command);
    return parse_version(r, version, out);
}

static int unknown_version(run *r, const char *text)
{
    strata__err_set(&r->db->err, STRATA_EREFUSED, STRATA_REASON_UNKNOWN_VERSION,
                    "version %s is not a migration in %s", text, r->db->dir);
    strata__err_hint(&r->db->err, "run `strata status` to see the versions");
    return STRATA_EREFUSED;
}

static void emit_migration(run *r, strata_event_type type,
                           const strata__migration *m, strata_direction dir,
                           int64_t ms)
{
    strata_event ev = {0};
    ev.type = type;
    ev.module = r->db->module;
    ev.version = m->version;
    ev.name = m->name;
    ev.file = dir == STRATA_DIRECTION_UP ? m->up_path : m->down_path;
    ev.direction = dir;
    ev.index = r->index;
    ev.total = r->total;
    ev.duration_ms = ms;
    ev.error = type == STRATA_EVENT_MIGRATION_FAIL ? &r->db->err.pub : NULL;
    strata__emit(r->db, &ev);
}

/* Reads every selected script once before anything runs, so a bad one
 * refuses the whole plan. Contents are dropped again: they are read when
 * they run, and a large set is never held in memory at once. */
static int precheck(run *r)
{
    for (size_t i = 0; i < r->nsteps; i++) {
        strata_direction dir = r->dirs[i];
        strata__script s;
        int rc = strata__load_runnable(&s, r->db, r->steps[i], dir);
        if (rc != STRATA_OK)
            return rc;
        int no_tx = s.no_transaction;
        strata__script_free(&s);
        r->no_tx_steps += no_tx != 0;
        if (no_tx && r->opts.single_transaction) {
            const strata__migration *m = r->steps[i];
            strata__err_where(&r->db->err,
                              dir == STRATA_DIRECTION_UP ? m->up_path
                                                         : m->down_path,
                              0, 0, 0);
            strata__err_version(&r->db->err, m->version);
            strata__err_set(&r->db->err, STRATA_EREFUSED,
                            STRATA_REASON_BAD_SCRIPT,
                            "migration %s (%s) must run outside a "
                            "transaction, so it cannot be part of a single "
                            "transaction",
                            m->version, m->name);
            strata__err_hint(&r->db->err, "run without --single-transaction");
            return STRATA_EREFUSED;
        }
    }
    return STRATA_OK;
}

/* Adds the migration's context to a database error from its script. */
static int script_failed(run *r, const strata__migration *m,
                         strata_direction dir, int no_tx, int rc)
{
    strata *db = r->db;
    if (rc == STRATA_ENOMEM)
        return rc;
    char dbmsg[sizeof db->err.message];
    snprintf(dbmsg, sizeof dbmsg, "%s", db->err.message);
    strata__err_version(&db->err, m->version);
    strata__err_set(&db->err, rc, db->err.pub.reason,
                    "migration %s (%s) %s failed: %s", m->version, m->name,
                    dir == STRATA_DIRECTION_UP ? "up" : "down", dbmsg);
    if (db->err.hint[0] != '\0')
        ; /* the driver said what to do about this script */
    else if (no_tx)
        strata__err_hint(&db->err,
                         "this script ran outside a transaction and may be "
                         "partly applied; it is marked dirty: fix the "
                         "schema by hand, then run `strata repair`");
    else if (r->redo && r->opts.single_transaction)
        strata__err_hint(&db->err, "the redo was rolled back as a whole: the "
                                   "migration is applied as it was before");
    else if (r->opts.single_transaction)
        strata__err_hint(&db->err, "the whole run was rolled back; fix the "
                                   "script and run again");
    else if (r->redo && dir == STRATA_DIRECTION_UP)
        strata__err_hint(&db->err,
                         "the apply was rolled back, but the revert before "
                         "it (outside a transaction) stands: the migration "
                         "is not applied now; fix the script and run "
                         "`strata up`");
    else
        strata__err_hint(&db->err, "the migration was rolled back and left "
                                   "no trace; fix the script and run again");
    return rc;
}

static int in_tx(run *r,
                 int (*body)(run *, const strata__migration *,
                             const strata__script *, int64_t),
                 const strata__migration *m, const strata__script *s,
                 int64_t ms)
{
    strata *db = r->db;
    int outer = r->opts.single_transaction;
    int rc = outer ? STRATA_OK : db->driver->begin(db, db->drv);
    /* Inside one transaction each migration still starts afresh: a SET in
     * the one before must not reach it. */
    if (rc == STRATA_OK && outer && db->driver->step != NULL)
        rc = db->driver->step(db, db->drv);
    if (rc == STRATA_OK)
        rc = body(r, m, s, ms);
    if (rc == STRATA_OK && outer && db->driver->sync != NULL)
        rc = db->driver->sync(db, db->drv);
    if (rc == STRATA_OK && !outer)
        rc = db->driver->commit(db, db->drv);
    if (rc != STRATA_OK && !outer)
        db->driver->rollback(db, db->drv);
    return rc;
}

static int record_up(run *r, const strata__migration *m,
                     const strata__script *s, int64_t ms)
{
    (void)s;
    int rc = strata__row_insert(r->db, m, m->checksum, STRATA__ROW_APPLIED, ms);
    if (rc == STRATA_OK)
        rc = strata__history_add(r->db, STRATA_ACTION_UP, m->version, m->name,
                                 m->checksum, NULL, ms, "");
    return rc;
}

static int finish_no_tx_up(run *r, const strata__migration *m,
                           const strata__script *s, int64_t ms)
{
    (void)s;
    int rc =
        strata__row_set_state(r->db, m->version, STRATA__ROW_APPLIED, ms, 1);
    if (rc == STRATA_OK)
        rc = strata__history_add(r->db, STRATA_ACTION_UP, m->version, m->name,
                                 m->checksum, NULL, ms, "no-transaction");
    return rc;
}

static int mark_dirty_up(run *r, const strata__migration *m,
                         const strata__script *s, int64_t ms)
{
    (void)s;
    (void)ms;
    return strata__row_insert(r->db, m, m->checksum, STRATA__ROW_DIRTY_UP, 0);
}

static int record_down(run *r, const strata__migration *m,
                       const strata__script *s, int64_t ms)
{
    (void)s;
    int rc = strata__row_delete(r->db, m->version);
    if (rc == STRATA_OK)
        rc = strata__history_add(r->db, STRATA_ACTION_DOWN, m->version, m->name,
                                 m->checksum, NULL, ms,
                                 s->no_transaction ? "no-transaction" : "");
    return rc;
}

static int mark_dirty_down(run *r, const strata__migration *m,
                           const strata__script *s, int64_t ms)
{
    (void)s;
    (void)ms;
    return strata__row_set_state(r->db, m->version, STRATA__ROW_DIRTY_DOWN, 0,
                                 0);
}

/* The recorded checksum must be that of the bytes that run: refuse a file
 * that changed between the plan and its turn. */
static int same_as_planned(strata *db, const strata__migration *m,
                           const strata__script *s)
{
    if (strcmp(s->checksum, m->checksum) == 0)
        return STRATA_OK;
    strata__err_where(&db->err, m->up_path, 0, 0, 0);
    strata__err_version(&db->err, m->version);
    strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_MODIFIED,
                    "%s changed while strata was running", m->up_path);
    strata__err_hint(&db->err, "do not edit migrations during a run; run "
                               "strata up again");
    return STRATA_EREFUSED;
}

/* Execution time for the tracking row: measured by the server inside the
 * transaction where the driver can (so script and bookkeeping may travel
 * together), else measured here after the script ran. */
static int64_t elapsed(const run *r, int64_t t0)
{
    return r->db->driver->elapsed_ms_sql != NULL ? -1
                                                 : strata__monotonic_ms() - t0;
}

static int run_and_record_up(run *r, const strata__migration *m,
                             const strata__script *s, int64_t t0)
{
    int rc = r->db->driver->exec_script(r->db, r->db->drv, s);
    return rc != STRATA_OK ? rc : record_up(r, m, s, elapsed(r, t0));
}

static int run_and_record_down(run *r, const strata__migration *m,
                               const strata__script *s, int64_t t0)
{
    int rc = r->db->driver->exec_script(r->db, r->db->drv, s);
    return rc != STRATA_OK ? rc : record_down(r, m, s, elapsed(r, t0));
}

/* Runs one migration in one direction, with its bookkeeping. */
static int apply(run *r, const strata__migration *m, strata_direction dir)
{
    strata *db = r->db;
    strata__script s;
    int up = dir == STRATA_DIRECTION_UP;
    int rc = strata__load_runnable(&s, db, m, dir);
    if (rc != STRATA_OK)
        return rc;
    if (up) {
        rc = same_as_planned(db, m, &s);
        if (rc != STRATA_OK) {
            strata__script_free(&s);
            return rc;
        }
    }
    r->index++;
    emit_migration(r, STRATA_EVENT_MIGRATION_START, m, dir, 0);
    int64_t t0 = strata__monotonic_ms();
    if (s.no_transaction) {
        rc = in_tx(r, up ? mark_dirty_up : mark_dirty_down, m, &s, 0);
        if (rc == STRATA_OK) {
            rc = db->driver->exec_script(db, db->drv, &s);
            if (rc != STRATA_OK) {
                /* A transaction the script opened itself must not swallow
                 * the bookkeeping that follows. */
                db->driver->rollback(db, db->drv);
                rc = script_failed(r, m, dir, 1, rc);
            }
        }
        if (rc == STRATA_OK)
            rc = in_tx(r, up ? finish_no_tx_up : record_down, m, &s,
                       strata__monotonic_ms() - t0);
    } else {
        rc = in_tx(r, up ? run_and_record_up : run_and_record_down, m, &s, t0);
        /* A driver may send the script with its bookkeeping and learn of a
         * failure only at commit: whenever the error lies in this script,
         * it gets the migration's context. */
        if (rc != STRATA_OK && strcmp(db->err.file, s.path) == 0)
            rc = script_failed(r, m, dir, 0, rc);
    }
    int64_t ms = strata__monotonic_ms() - t0;
    if (rc != STRATA_OK) {
        strata__script_locate(&s, &db->err);
        emit_migration(r, STRATA_EVENT_MIGRATION_FAIL, m, dir, ms);
    } else {
        emit_migration(r, STRATA_EVENT_MIGRATION_DONE, m, dir, ms);
        /* From a directory the plan owns the source list, and the report
         * keeps it (run_close): lend. An embedded set's list belongs to the
         * handle, which the report may outlive: copy. */
        int arc = (strata__plan_own_source(&r->plan) != NULL
                       ? strata__report_add_lent
                       : strata__report_add)(
            &r->rb, up ? STRATA_ACTION_UP : STRATA_ACTION_DOWN, m->version,
            m->name, up ? m->up_path : m->down_path, ms, "",
            up ? m->checksum : "", s.no_transaction ? "no-transaction" : "");
        if (arc != STRATA_OK)
            rc = strata__err_nomem(&db->err);
    }
    strata__script_free(&s);
    return rc;
}

static void emit_run_start(run *r)
{
    r->total = r->nsteps;
    strata_event ev = {0};
    ev.type = STRATA_EVENT_RUN_START;
    ev.module = r->db->module;
    ev.total = r->total;
    strata__emit(r->db, &ev);
}

/* Runs the selected steps (or, in a dry run, only reports them). */
static int execute(run *r)
{
    strata *db = r->db;
    emit_run_start(r);
    if (r->opts.dry_run) {
        for (size_t i = 0; i < r->nsteps; i++) {
            const strata__migration *m = r->steps[i];
            int up = r->dirs[i] == STRATA_DIRECTION_UP;
            if (strata__report_add(
                    &r->rb, up ? STRATA_ACTION_UP : STRATA_ACTION_DOWN,
                    m->version, m->name, up ? m->up_path : m->down_path, 0, "",
                    "", "") != STRATA_OK)
                return strata__err_nomem(&db->err);
        }
        return STRATA_OK;
    }
    if (r->nsteps == 0)
        return STRATA_OK;
    int outer = r->opts.single_transaction;
    int rc = outer ? db->driver->begin(db, db->drv) : STRATA_OK;
    /* Created only now, so a refused or empty run leaves no trace; inside
     * the outer transaction when there is one. */
    if (rc == STRATA_OK)
        rc = strata__tables_ensure(db, outer);
    for (size_t i = 0; rc == STRATA_OK && i < r->nsteps; i++) {
        /* A cancel is honoured between migrations, never inside one. */
        if (i > 0 && strata__cancel_asked(db)) {
            rc = strata__err_set(
                &db->err, STRATA_ECANCELLED, STRATA_REASON_NONE,
                "cancelled after %zu of %zu migrations", i, r->nsteps);
            strata__err_hint(&db->err, "the migrations applied so far are "
                                       "complete; run again to apply the "
                                       "rest");
            break;
        }
        rc = apply(r, r->steps[i], r->dirs[i]);
    }
    if (outer) {
        if (rc == STRATA_OK)
            rc = db->driver->commit(db, db->drv);
        if (rc != STRATA_OK) {
            db->driver->rollback(db, db->drv);
            /* Nothing of the run survived: report nothing as done. */
            r->rb.report->count = 0;
        }
    }
    return rc;
}

int strata_up(strata_report **out, strata *db, const strata_run_options *opts)
{
    *out = NULL;
    run r;
    char *to = NULL;
    int rc = run_open(&r, db, opts, RUN_UP, 1);
    if (rc != STRATA_OK)
        goto out;
    if (r.up_to_date)
        goto run; /* nothing to select, and no plan to select from */
    rc = strata__plan_check(db, &r.plan, r.opts.allow_out_of_order);
    if (rc != STRATA_OK)
        goto out;
    strata__order order = r.plan.source.order;
    if (r.opts.to != NULL) {
        rc = parse_version(&r, r.opts.to, &to);
        if (rc != STRATA_OK)
            goto out;
        if (strata__migrations_find(&r.plan.source, to) < 0) {
            rc = unknown_version(&r, r.opts.to);
            goto out;
        }
    }
    for (size_t i = 0; i < r.plan.count; i++) {
        const strata__entry *e = &r.plan.items[i];
        if (e->state != STRATA_STATE_PENDING &&
            e->state != STRATA_STATE_OUT_OF_ORDER)
            continue;
        if (to != NULL && strata__version_cmp(e->version, to, order) > 0)
            break;
        if (r.opts.steps != 0 && r.nsteps == r.opts.steps)
            break;
        rc = add_step(&r, e->m, STRATA_DIRECTION_UP);
        if (rc != STRATA_OK)
            goto out;
    }
run:
    rc = precheck(&r);
    if (rc == STRATA_OK)
        rc = execute(&r);
out:
    free(to);
    return run_close(&r, rc, out);
}

/* Applied migrations to revert, newest first, each with a down script. */
static int select_down(run *r, const char *to, unsigned steps, int all)
{
    strata__order order = r->plan.source.order;
    for (size_t i = r->plan.count; i-- > 0;) {
        const strata__entry *e = &r->plan.items[i];
        if (e->state != STRATA_STATE_APPLIED)
            continue;
        if (to != NULL && strata__version_cmp(e->version, to, order) <= 0)
            break;
        if (to == NULL && !all && r->nsteps == steps)
            break;
        int rc = add_step(r, e->m, STRATA_DIRECTION_DOWN);
        if (rc != STRATA_OK)
            return rc;
    }
    return STRATA_OK;
}

int strata_down(strata_report **out, strata *db, const strata_run_options *opts)
{
    *out = NULL;
    run r;
    char *to = NULL;
    int rc = run_open(&r, db, opts, RUN_WRITE, 1);
    if (rc != STRATA_OK)
        goto out;
    /* Pending or out-of-order migrations do not stand in a down's way. */
    rc = strata__plan_check(db, &r.plan, 1);
    if (rc != STRATA_OK)
        goto out;
    if (r.opts.to != NULL) {
        rc = parse_version(&r, r.opts.to, &to);
        if (rc != STRATA_OK)
            goto out;
        if (strcmp(to, "0") != 0 &&
            strata__migrations_find(&r.plan.source, to) < 0) {
            rc = unknown_version(&r, r.opts.to);
            goto out;
        }
    }
    rc = select_down(&r, to, r.opts.steps ? r.opts.steps : 1, r.opts.all);
    if (rc == STRATA_OK)
        rc = precheck(&r);
    if (rc == STRATA_OK)
        rc = execute(&r);
out:
    free(to);
    return run_close(&r, rc, out);
}

int strata_redo(strata_report **out, strata *db, const strata_run_options *opts)
{
    *out = NULL;
    run r;
    int rc = run_open(&r, db, opts, RUN_WRITE, 1);
    if (rc != STRATA_OK)
        goto out;
    if (r.opts.to != NULL || r.opts.steps != 0 || r.opts.all) {
        rc = strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                             "redo takes no target: it redoes the newest "
                             "applied migration");
        goto out;
    }
    rc = strata__plan_check(db, &r.plan, 1);
    if (rc != STRATA_OK)
        goto out;
    rc = select_down(&r, NULL, 1, 0);
    if (rc != STRATA_OK)
        goto out;
    if (r.nsteps == 0) {
        strata__err_set(&db->err, STRATA_EREFUSED,
                        STRATA_REASON_UNKNOWN_VERSION,
                        "nothing to redo: no migration is applied");
        strata__err_hint(&db->err, "run `strata up` first");
        rc = STRATA_EREFUSED;
        goto out;
    }
    r.redo = 1;
    rc = add_step(&r, r.steps[0], STRATA_DIRECTION_UP);
    if (rc == STRATA_OK)
        rc = precheck(&r);
    /* Revert and apply commit together, so a failing apply leaves the
     * migration applied as it was; a script that runs outside a transaction
     * rules that out, and the two then commit one by one. */
    if (r.no_tx_steps == 0)
        r.opts.single_transaction = 1;
    if (rc == STRATA_OK)
        rc = execute(&r);
out:
    return run_close(&r, rc, out);
}

/* Runs `body` for the whole command in one transaction. */
static int one_tx(run *r, int (*body)(run *, void *), void *arg)
{
    strata *db = r->db;
    int rc = db->driver->begin(db, db->drv);
    if (rc == STRATA_OK)
        rc = body(r, arg);
    if (rc == STRATA_OK)
        rc = db->driver->commit(db, db->drv);
    if (rc != STRATA_OK) {
        db->driver->rollback(db, db->drv);
        r->rb.report->count = 0;
    }
    return rc;
}

/* A bookkeeping-only action: one history row and one report step. */
static int note(run *r, strata_action action, const char *version,
                const char *name, const char *file, const char *old_sum,
                const char *new_sum, const char *detail)
{
    int rc = strata__history_add(r->db, action, version, name, new_sum, old_sum,
                                 0, detail);
    if (rc == STRATA_OK &&
        strata__report_add(&r->rb, action, version, name, file, 0, old_sum,
                           new_sum, detail) != STRATA_OK)
        rc = strata__err_nomem(&r->db->err);
    return rc;
}

static int to_baseline(const run *r, const strata__entry *e, const char *to)
{
    return e->row == NULL && e->m != NULL &&
           strata__version_cmp(e->version, to, r->plan.source.order) <= 0;
}

static int to_repair(const strata__entry *e)
{
    return e->state == STRATA_STATE_DIRTY || e->state == STRATA_STATE_MODIFIED;
}

static int baseline_body(run *r, void *arg)
{
    const char *to = arg;
    int rc = strata__tables_ensure(r->db, 1);
    for (size_t i = 0; rc == STRATA_OK && i < r->plan.count; i++) {
        const strata__entry *e = &r->plan.items[i];
        if (!to_baseline(r, e, to))
            continue;
        const strata__migration *m = e->m;
        rc = strata__row_insert(r->db, m, m->checksum, STRATA__ROW_APPLIED, 0);
        if (rc == STRATA_OK)
            rc = note(r, STRATA_ACTION_BASELINE, m->version, m->name,
                      m->up_path, "", m->checksum, "recorded without running");
    }
    return rc;
}

int strata_baseline(strata_report **out, strata *db, const char *version)
{
    *out = NULL;
    run r;
    char *to = NULL;
    int rc = open_at_version(&r, db, 1, "baseline", version, &to);
    size_t work = 0;
    for (size_t i = 0; rc == STRATA_OK && i < r.plan.count; i++)
        work += to_baseline(&r, &r.plan.items[i], to);
    if (rc == STRATA_OK && work > 0) /* nothing to record: touch nothing */
        rc = one_tx(&r, baseline_body, to);
    free(to);
    return run_close(&r, rc, out);
}

static int repair_body(run *r, void *arg)
{
    (void)arg;
    strata *db = r->db;
    for (size_t i = 0; i < r->plan.count; i++) {
        const strata__entry *e = &r->plan.items[i];
        const strata__row *row = e->row;
        const char *name = e->m ? e->m->name : row ? row->name : "";
        const char *file = e->m ? e->m->up_path : "";
        const char *detail = NULL, *old_sum = "", *new_sum = "";
        int rc = STRATA_OK;
        if (!to_repair(e))
            continue;
        if (e->state == STRATA_STATE_DIRTY &&
            strcmp(row->state, STRATA__ROW_DIRTY_DOWN) == 0) {
            detail = "cleared an interrupted down: recorded as applied";
            rc = strata__row_set_state(db, e->version, STRATA__ROW_APPLIED,
                                       row->execution_ms, 0);
        } else if (e->state == STRATA_STATE_DIRTY) {
            detail = "cleared an interrupted up: the migration is pending";
            rc = strata__row_delete(db, e->version);
        } else { /* modified */
            detail = "accepted the changed script";
            old_sum = row->checksum;
            new_sum = e->m->checksum;
            rc = strata__row_set_checksum(db, e->version, new_sum);
        }
        if (rc == STRATA_OK)
            rc = note(r, STRATA_ACTION_REPAIR, e->version, name, file, old_sum,
                      new_sum, detail);
        if (rc != STRATA_OK)
            return rc;
    }
    return STRATA_OK;
}

int strata_repair(strata_report **out, strata *db)
{
    *out = NULL;
    run r;
    int rc = run_open(&r, db, NULL, RUN_WRITE, 1);
    size_t work = 0;
    for (size_t i = 0; rc == STRATA_OK && i < r.plan.count; i++)
        work += to_repair(&r.plan.items[i]);
    if (rc == STRATA_OK && work > 0)
        rc = one_tx(&r, repair_body, NULL);
    return run_close(&r, rc, out);
}

static int forget_body(run *r, void *arg)
{
    const strata__entry *e = arg;
    int rc = strata__row_delete(r->db, e->version);
    if (rc == STRATA_OK)
        rc = note(r, STRATA_ACTION_FORGET, e->version, e->row->name, "",
                  e->row->checksum, "",
                  "tracking row removed; schema untouched");
    return rc;
}

int strata_forget(strata_report **out, strata *db, const char *version)
{
    *out = NULL;
    run r;
    char *v = NULL;
    int rc = open_at_version(&r, db, 0, "forget", version, &v);
    if (rc != STRATA_OK)
        goto out;
    const strata__entry *found = NULL;
    for (size_t i = 0; i < r.plan.count; i++)
        if (r.plan.items[i].row != NULL &&
            strata__version_cmp(r.plan.items[i].version, v,
                                r.plan.source.order) == 0)
            found = &r.plan.items[i];
    if (found == NULL) {
        strata__err_set(&db->err, STRATA_EREFUSED,
                        STRATA_REASON_UNKNOWN_VERSION,
                        "version %s is not recorded in %s for module %s",
                        version, db->table, db->module);
        strata__err_hint(&db->err, "run `strata status` to see what is "
                                   "recorded");
        rc = STRATA_EREFUSED;
        goto out;
    }
    rc = one_tx(&r, forget_body, (void *)found);
out:
    free(v);
    return run_close(&r, rc, out);
}

int strata_history(strata_history_list **out, strata *db, size_t limit)
{
    *out = NULL;
    strata__err_clear(&db->err);
    int rc = strata__require_db(db);
    if (rc != STRATA_OK)
        return rc;
    return strata__history_load(out, db, limit);
}
