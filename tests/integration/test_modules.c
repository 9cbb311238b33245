/*
 * test_modules.c - modules sharing one database and one tracking table, a
 * custom tracking table, the history, and the event stream of a run.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static it_env env;

static void setup(void)
{
    it_env_init(&env);
}
static void teardown(void)
{
    it_env_cleanup(&env);
}

TestSuite(modules, .init = setup, .fini = teardown);

static strata *open_module(const char *module, const char *dir)
{
    strata_options o = STRATA_OPTIONS_INIT;
    o.module = module;
    return it_open_dir(&env, dir, &o);
}

Test(modules, two_modules_share_one_table_independently)
{
    char billing[256], auth[256];
    snprintf(billing, sizeof billing, "%s/billing", env.dir);
    snprintf(auth, sizeof auth, "%s/auth", env.dir);
    it_write(billing, "1_invoices.sql", "CREATE TABLE invoices (x INT);\n");
    it_write(billing, "2_lines.up.sql", "CREATE TABLE lines (x INT);\n");
    it_write(billing, "2_lines.down.sql", "DROP TABLE lines;\n");
    it_write(auth, "1_users.sql", "CREATE TABLE users (x INT);\n");
    it_write(auth, "2_roles.up.sql", "CREATE TABLE roles (x INT);\n");
    it_write(auth, "2_roles.down.sql", "DROP TABLE roles;\n");

    strata *b = open_module("billing", billing);
    strata *a = open_module("auth", auth);
    cr_assert_eq(it_up_expect(b, NULL, 0), 2);

    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, a), 0, "%s", it_err(a));
    cr_assert_str_eq(plan->module, "auth");
    cr_assert_str_eq(plan->current, "0");
    cr_assert_eq(plan->count, 2);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_PENDING);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    cr_assert_eq(it_up_expect(a, NULL, 0), 2);
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 4);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE module = 'auth'",
                           -1),
                 2);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE module = 'billing'",
                           -1),
                 2);

    /* Reverting one module leaves the other alone. */
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, b, NULL), 0, "%s", it_err(b));
    cr_assert_eq(rep->count, 1);
    cr_assert_str_eq(rep->module, "billing");
    strata_report_free(rep);
    cr_assert_not(it_table_exists(env.db, "lines"));
    cr_assert(it_table_exists(env.db, "roles"));
    char *cur = NULL;
    cr_assert_eq(strata_current(&cur, a), 0);
    cr_assert_str_eq(cur, "2");
    strata_string_free(cur);
    cur = NULL;
    cr_assert_eq(strata_current(&cur, b), 0);
    cr_assert_str_eq(cur, "1");
    strata_string_free(cur);

    /* Neither module sees the other's rows as missing. */
    plan = NULL;
    cr_assert_eq(strata_status(&plan, b), 0);
    cr_assert_eq(plan->count, 2);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    strata_history_list *h = NULL;
    cr_assert_eq(strata_history(&h, a, 0), 0, "%s", it_err(a));
    cr_assert_str_eq(h->module, "auth");
    cr_assert_eq(h->count, 2);
    strata_history_list_free(h);
    h = NULL;
    cr_assert_eq(strata_history(&h, b, 0), 0);
    cr_assert_eq(h->count, 3);
    strata_history_list_free(h);
    strata_close(a);
    strata_close(b);
}

Test(modules, custom_tracking_table)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.table = "schema_versions";
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "schema_versions"));
    cr_assert(it_table_exists(env.db, "schema_versions_history"));
    cr_assert_not(it_table_exists(env.db, "strata_migrations"));
    cr_assert_not(it_table_exists(env.db, "strata_migrations_history"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM schema_versions "
                           "WHERE version = '1'",
                           -1),
                 1);
    strata_close(db);

    /* A handle on the default table sees nothing applied. */
    db = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);
    strata_close(db);
}

Test(modules, history_in_order_with_limit)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    it_mig(&env, "2_b.up.sql", "CREATE TABLE b (x INT);\n");
    it_mig(&env, "2_b.down.sql", "DROP TABLE b;\n");
    strata_options opts = STRATA_OPTIONS_INIT;
    opts.applied_by = "tester";
    strata *db = it_open(&env, &opts);

    strata_history_list *h = NULL;
    cr_assert_eq(strata_history(&h, db, 0), 0, "%s", it_err(db));
    cr_assert_eq(h->count, 0, "a fresh database has no history");
    strata_history_list_free(h);

    char sum_old[65], sum_new[65];
    it_sha256_file(it_mig_path(&env, "1_a.sql"), sum_old);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2); /* up 1, 2 */
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db)); /* 2 */
    strata_report_free(rep);
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT); -- edited\n");
    it_sha256_file(it_mig_path(&env, "1_a.sql"), sum_new);
    rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db)); /* 1 */
    strata_report_free(rep);
    rep = NULL;
    cr_assert_eq(strata_forget(&rep, db, "1"), 0, "%s", it_err(db));
    strata_report_free(rep);
    rep = NULL;
    cr_assert_eq(strata_baseline(&rep, db, "2"), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    strata_report_free(rep);

    static const struct {
        strata_action action;
        const char *version;
    } want[] = {
        {STRATA_ACTION_UP, "1"},       {STRATA_ACTION_UP, "2"},
        {STRATA_ACTION_DOWN, "2"},     {STRATA_ACTION_REPAIR, "1"},
        {STRATA_ACTION_FORGET, "1"},   {STRATA_ACTION_BASELINE, "1"},
        {STRATA_ACTION_BASELINE, "2"},
    };
    h = NULL;
    cr_assert_eq(strata_history(&h, db, 0), 0, "%s", it_err(db));
    cr_assert_eq(h->count, 7);
    cr_assert_str_eq(h->module, "default");
    for (size_t i = 0; i < 7; i++) {
        const strata_history_entry *e = h->entries[i];
        cr_assert_eq(e->action, want[i].action, "entry %zu is %s, want %s", i,
                     strata_action_name(e->action),
                     strata_action_name(want[i].action));
        cr_assert_str_eq(e->version, want[i].version, "entry %zu", i);
        cr_assert_str_eq(e->applied_by, "tester");
        cr_assert_neq(e->at[0], '\0');
        cr_assert_geq(e->execution_ms, 0);
        if (i > 0)
            cr_assert_gt(e->id, h->entries[i - 1]->id);
    }
    cr_assert_str_eq(h->entries[0]->name, "a");
    cr_assert_str_eq(h->entries[0]->checksum, sum_old);
    cr_assert_str_eq(h->entries[3]->old_checksum, sum_old);
    cr_assert_str_eq(h->entries[3]->checksum, sum_new);
    cr_assert_str_eq(h->entries[5]->checksum, sum_new);
    strata_history_list_free(h);

    /* The newest three, oldest first. */
    h = NULL;
    cr_assert_eq(strata_history(&h, db, 3), 0);
    cr_assert_eq(h->count, 3);
    cr_assert_eq(h->entries[0]->action, STRATA_ACTION_FORGET);
    cr_assert_eq(h->entries[1]->action, STRATA_ACTION_BASELINE);
    cr_assert_str_eq(h->entries[1]->version, "1");
    cr_assert_str_eq(h->entries[2]->version, "2");
    strata_history_list_free(h);
    strata_close(db);

    /* A handle without a source can read the history. */
    db = it_open_dir(&env, NULL, NULL);
    h = NULL;
    cr_assert_eq(strata_history(&h, db, 1), 0, "%s", it_err(db));
    cr_assert_eq(h->count, 1);
    cr_assert_eq(h->entries[0]->action, STRATA_ACTION_BASELINE);
    strata_history_list_free(h);
    strata_close(db);
}

/* Events without the lock and log notes, which may come and go. */
static size_t core_events(const it_events *all, const it_event **out,
                          size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < all->count && n < max; i++) {
        strata_event_type t = all->items[i].type;
        if (t == STRATA_EVENT_LOCK_WAIT || t == STRATA_EVENT_LOCK_ACQUIRED ||
            t == STRATA_EVENT_LOG)
            continue;
        out[n++] = &all->items[i];
    }
    return n;
}

Test(modules, events_of_a_failing_run)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INT);\n");
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INT);\nSELECT nope();\n");
    it_events ev;
    memset(&ev, 0, sizeof ev);
    strata_options o = STRATA_OPTIONS_INIT;
    o.on_event = it_events_cb;
    o.event_payload = &ev;
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 2);

    const it_event *e[32];
    size_t n = core_events(&ev, e, 32);
    static const strata_event_type want[] = {
        STRATA_EVENT_RUN_START,      STRATA_EVENT_MIGRATION_START,
        STRATA_EVENT_MIGRATION_DONE, STRATA_EVENT_MIGRATION_START,
        STRATA_EVENT_MIGRATION_DONE, STRATA_EVENT_MIGRATION_START,
        STRATA_EVENT_MIGRATION_FAIL, STRATA_EVENT_RUN_DONE,
    };
    cr_assert_eq(n, 8, "got %zu events", n);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(e[i]->type, want[i], "event %zu is %d, want %d", i,
                     e[i]->type, want[i]);
    cr_assert_eq(e[0]->total, 3);
    const char *files[] = {"1_a.sql", "2_b.sql", "3_c.sql"};
    for (size_t k = 0; k < 3; k++) {
        const it_event *s = e[1 + 2 * k], *d = e[2 + 2 * k];
        cr_assert_eq(s->index, k + 1);
        cr_assert_eq(s->total, 3);
        cr_assert_eq(d->index, k + 1);
        cr_assert_eq(s->direction, STRATA_DIRECTION_UP);
        cr_assert_str_eq(s->file, it_mig_path(&env, files[k]));
        cr_assert_str_eq(d->file, it_mig_path(&env, files[k]));
        cr_assert_geq(d->duration_ms, 0);
    }
    cr_assert_str_eq(e[5]->version, "3");
    cr_assert_eq(e[2]->has_error, 0);
    cr_assert_eq(e[6]->has_error, 1);
    cr_assert_eq(e[6]->error_code, STRATA_EFAILED);
    cr_assert_str_eq(e[6]->error_file, it_mig_path(&env, "3_c.sql"));
    cr_assert_eq(e[6]->error_line, 2);
    cr_assert_eq(e[7]->has_error, 1);
    cr_assert_eq(e[7]->error_code, STRATA_EFAILED);
    cr_assert_geq(e[7]->duration_ms, 0);

    /* A successful down: RUN_START, START, DONE, RUN_DONE without error. */
    memset(&ev, 0, sizeof ev);
    it_mig(&env, "2_b.sql",
           "CREATE TABLE b (x INT);\n-- strata:down\n"
           "DROP TABLE b;\n");
    strata_report *rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db));
    strata_report_free(rep);
    memset(&ev, 0, sizeof ev);
    rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    strata_report_free(rep);
    n = core_events(&ev, e, 32);
    cr_assert_eq(n, 4, "got %zu events", n);
    cr_assert_eq(e[0]->type, STRATA_EVENT_RUN_START);
    cr_assert_eq(e[0]->total, 1);
    cr_assert_eq(e[1]->type, STRATA_EVENT_MIGRATION_START);
    cr_assert_eq(e[1]->direction, STRATA_DIRECTION_DOWN);
    cr_assert_str_eq(e[1]->version, "2");
    cr_assert_eq(e[2]->type, STRATA_EVENT_MIGRATION_DONE);
    cr_assert_eq(e[3]->type, STRATA_EVENT_RUN_DONE);
    cr_assert_eq(e[3]->has_error, 0);
    strata_close(db);
}

Test(modules, tracking_table_name_needing_quotes)
{
    it_mig(&env, "1_a.up.sql", "CREATE TABLE a (x INT);\n");
    it_mig(&env, "1_a.down.sql", "DROP TABLE a;\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.table = "my \"odd\" table";
    o.module = "it's";
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "my \"odd\" table"));
    cr_assert(it_table_exists(env.db, "my \"odd\" table_history"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "\"my \"\"odd\"\" table\" WHERE module = "
                           "'it''s'",
                           -1),
                 1);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    strata_report_free(rep);
    strata_history_list *h = NULL;
    cr_assert_eq(strata_history(&h, db, 0), 0, "%s", it_err(db));
    cr_assert_eq(h->count, 2);
    strata_history_list_free(h);
    strata_close(db);
}

/* SQLite's table names are case-blind: --table Track and --table track are
 * one table, one plan and one lock; sqlite_* names are SQLite's own. */
Test(modules, table_names_are_case_blind_on_sqlite)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.table = "Track";
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
    o.table = "track";
    db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 0, "migration 1 ran twice");
    char *cur = NULL;
    cr_assert_eq(strata_current(&cur, db), 0);
    cr_assert_str_eq(cur, "1");
    strata_string_free(cur);
    strata_close(db);

    o.table = "sqlite_track";
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    db = NULL;
    cr_assert_eq(strata_open(&db, env.url, src, &o), STRATA_EUSAGE);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    strata_close(db);
    strata_source_free(src);
}

/* The lock sits beside the real file, so a symlink to the database shares
 * the lock of the database itself. */
Test(modules, a_symlinked_database_shares_the_lock)
{
    it_mig(&env, "1_a.sql",
           "CREATE TABLE a (x INTEGER);\n-- strata:down\nDROP TABLE a;\n");
    char link[256], url[300], lock[300], link_lock[300];
    snprintf(link, sizeof link, "%s/link.db", env.dir);
    snprintf(url, sizeof url, "sqlite://%s", link);
    snprintf(lock, sizeof lock, "%s-strata-lock", env.db);
    snprintf(link_lock, sizeof link_lock, "%s-strata-lock", link);
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
    cr_assert_eq(symlink(env.db, link), 0);
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    db = NULL;
    cr_assert_eq(strata_open(&db, url, src, NULL), 0, "%s", it_err(db));
    strata_source_free(src);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    strata_report_free(rep);
    strata_close(db);
    struct stat sb;
    cr_assert_eq(stat(lock, &sb), 0, "no lock beside the real file");
    cr_assert_neq(lstat(link_lock, &sb), 0, "a lock beside the link");
}
