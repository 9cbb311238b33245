/*
 * test_plan_states.c - modified, missing and out-of-order migrations against
 * a real SQLite file: what status says, what up refuses, and how repair,
 * forget and allow_out_of_order resolve them.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(plan_states, .init = setup, .fini = teardown);

static strata_plan *status(strata *db)
{
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "strata_status: %s", it_err(db));
    return plan;
}

/* Runs up, expects a refusal with `reason`, and checks nothing changed. */
static void up_refused(strata *db, strata_reason reason,
                       const strata_run_options *o)
{
    char *before = it_snapshot(env.db);
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, o);
    cr_assert_eq(rc, STRATA_EREFUSED, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->reason, reason, "%s", it_err(db));
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before, "a refused up changed the database");
    free(before);
    free(after);
}

/* A plan's rows share their migrations' strings, and the plan keeps the
 * source list they point into: it reads the same after its handle is
 * gone. */
Test(plan_states, plan_outlives_its_handle)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    char sum[65];
    it_sha256_file(it_mig_path(&env, "2_b.sql"), sum);
    strata_options o;
    strata_options_init(&o);
    o.applied_by = "tester";
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    strata_plan *plan = status(db);
    strata_close(db);
    cr_assert_eq(plan->count, 2);
    const strata_migration *m = plan->migrations[1];
    cr_assert_str_eq(m->version, "2");
    cr_assert_str_eq(m->name, "b");
    cr_assert_eq(m->state, STRATA_STATE_APPLIED);
    cr_assert_str_eq(m->checksum, sum);
    cr_assert_str_eq(m->recorded_checksum, sum);
    cr_assert_str_eq(m->applied_by, "tester");
    cr_assert_str_eq(plan->migrations[0]->applied_by, "tester");
    strata_plan_free(plan);
}

Test(plan_states, modified_is_refused_until_repaired)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    char old_sum[65], new_sum[65];
    it_sha256_file(it_mig_path(&env, "2_b.sql"), old_sum);
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);

    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER, y TEXT);\n");
    it_sha256_file(it_mig_path(&env, "2_b.sql"), new_sum);
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INTEGER);\n");

    strata_plan *plan = status(db);
    cr_assert_eq(plan->count, 3);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_APPLIED);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_MODIFIED);
    cr_assert_str_eq(plan->migrations[1]->checksum, new_sum);
    cr_assert_str_eq(plan->migrations[1]->recorded_checksum, old_sum);
    cr_assert_eq(plan->migrations[2]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    up_refused(db, STRATA_REASON_MODIFIED, NULL);
    cr_assert_str_eq(strata_last_error(db)->file, it_mig_path(&env, "2_b.sql"));
    cr_assert_str_eq(strata_last_error(db)->version, "2");
    cr_assert_not(it_table_exists(env.db, "c"));

    /* validate refuses too, and still hands back the plan. */
    plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), STRATA_EREFUSED);
    cr_assert_not_null(plan);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_MODIFIED);
    strata_plan_free(plan);

    strata_report *rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_REPAIR);
    cr_assert_str_eq(rep->steps[0]->version, "2");
    cr_assert_str_eq(rep->steps[0]->old_checksum, old_sum);
    cr_assert_str_eq(rep->steps[0]->new_checksum, new_sum);
    strata_report_free(rep);
    char *ck = it_text(env.db, "SELECT checksum FROM strata_migrations "
                               "WHERE version = '2'");
    cr_assert_str_eq(ck, new_sum);
    free(ck);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM strata_migrations_history WHERE action = "
             "'repair' AND version = '2' AND old_checksum = '%s' AND "
             "checksum = '%s'",
             old_sum, new_sum);
    cr_assert_eq(it_scalar(env.db, sql, -1), 1);
    /* The schema was not touched: b has its old shape. */
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM pragma_table_info"
                           "('b')",
                           -1),
                 1);

    plan = status(db);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_APPLIED);
    strata_plan_free(plan);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "c"));
    strata_close(db);
}

Test(plan_states, missing_is_refused_until_forgotten)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 3);
    cr_assert_eq(unlink(it_mig_path(&env, "2_b.sql")), 0);
    it_mig(&env, "4_d.sql", "CREATE TABLE d (x INTEGER);\n");

    strata_plan *plan = status(db);
    cr_assert_eq(plan->count, 4);
    cr_assert_str_eq(plan->migrations[1]->version, "2");
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_MISSING);
    cr_assert_str_eq(plan->migrations[1]->up_file, "");
    cr_assert_str_eq(plan->migrations[1]->name, "b");
    cr_assert_eq(plan->migrations[3]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    up_refused(db, STRATA_REASON_MISSING, NULL);
    cr_assert_str_eq(strata_last_error(db)->version, "2");
    cr_assert_not(it_table_exists(env.db, "d"));

    strata_report *rep = NULL;
    cr_assert_eq(strata_forget(&rep, db, "99"), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_UNKNOWN_VERSION);
    strata_report_free(rep);

    rep = NULL;
    cr_assert_eq(strata_forget(&rep, db, "0002"), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_FORGET);
    cr_assert_str_eq(rep->steps[0]->version, "2");
    strata_report_free(rep);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE version = '2'",
                           -1),
                 0);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history WHERE action "
                           "= 'forget' AND version = '2'",
                           -1),
                 1);
    cr_assert(it_table_exists(env.db, "b"), "forget touched the schema");

    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "d"));
    strata_close(db);
}

Test(plan_states, out_of_order_is_refused_unless_allowed)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "4_d.sql", "CREATE TABLE d (x INTEGER);\n");

    strata_plan *plan = status(db);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_OUT_OF_ORDER);
    cr_assert_eq(plan->migrations[3]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    up_refused(db, STRATA_REASON_OUT_OF_ORDER, NULL);
    cr_assert_str_eq(strata_last_error(db)->version, "2");
    cr_assert_str_eq(strata_last_error(db)->file, it_mig_path(&env, "2_b.sql"));
    cr_assert_not(it_table_exists(env.db, "d"));

    plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), STRATA_EREFUSED);
    cr_assert_not_null(plan);
    strata_plan_free(plan);
    plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 1), 0, "%s", it_err(db));
    strata_plan_free(plan);

    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.allow_out_of_order = 1;
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, &o), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    cr_assert_str_eq(rep->steps[0]->version, "2");
    cr_assert_str_eq(rep->steps[1]->version, "4");
    strata_report_free(rep);
    cr_assert(it_table_exists(env.db, "b"));
    plan = status(db);
    for (size_t i = 0; i < plan->count; i++)
        cr_assert_eq(plan->migrations[i]->state, STRATA_STATE_APPLIED);
    cr_assert_str_eq(plan->current, "4");
    strata_plan_free(plan);
    strata_close(db);
}

static char *crlf(const char *lf)
{
    size_t n = strlen(lf);
    char *out = malloc(2 * n + 1), *o = out;
    for (const char *p = lf; *p; p++) {
        if (*p == '\n')
            *o++ = '\r';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

Test(plan_states, crlf_rewrite_is_not_a_modification)
{
    const char *lf = "-- one\nCREATE TABLE a (x INTEGER);\n"
                     "INSERT INTO a VALUES (1);\n";
    const char *lf2 = "CREATE TABLE b (x INTEGER);\n";
    it_mig(&env, "1_a.sql", lf);
    char *c2 = crlf(lf2);
    it_mig(&env, "2_b.sql", c2); /* applied as CRLF, rewritten as LF */
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);

    char *c1 = crlf(lf);
    it_mig(&env, "1_a.sql", c1);
    it_mig(&env, "2_b.sql", lf2);
    free(c1);
    free(c2);
    strata_plan *plan = status(db);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_APPLIED,
                 "CRLF made an applied file %s",
                 strata_state_name(plan->migrations[0]->state));
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_APPLIED);
    strata_plan_free(plan);
    char *before = it_snapshot(env.db);
    cr_assert_eq(it_up_expect(db, NULL, 0), 0);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);

    /* A real edit still counts. */
    it_mig(&env, "1_a.sql",
           "-- one\nCREATE TABLE a (x INTEGER);\n"
           "INSERT INTO a VALUES (2);\n");
    plan = status(db);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_MODIFIED);
    strata_plan_free(plan);
    strata_close(db);
}

Test(plan_states, forget_without_a_source)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    strata_close(db);
    db = it_open_dir(&env, NULL, NULL);
    strata_report *rep = NULL;
    cr_assert_eq(strata_forget(&rep, db, "2"), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_str_eq(rep->steps[0]->name, "b");
    strata_report_free(rep);
    char *cur = NULL;
    cr_assert_eq(strata_current(&cur, db), 0, "%s", it_err(db));
    cr_assert_str_eq(cur, "1");
    strata_string_free(cur);
    strata_close(db);
    db = it_open(&env, NULL);
    strata_plan *plan = status(db);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);
    strata_close(db);
}
