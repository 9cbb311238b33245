/*
 * test_up_down.c - up, down, redo, dry runs, templates and baseline against
 * a real SQLite file: what runs, in which order, and what is recorded.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static it_env env;

static void setup(void)
{
    it_env_init(&env);
}
static void teardown(void)
{
    it_env_cleanup(&env);
}

TestSuite(up_down, .init = setup, .fini = teardown);

/* Five migrations; each creates table tN and has a down that drops it. */
static void five(void)
{
    char name[64], sql[128];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "%d_t%d.up.sql", i, i);
        snprintf(sql, sizeof sql, "CREATE TABLE t%d (x INTEGER);\n", i);
        it_mig(&env, name, sql);
        snprintf(name, sizeof name, "%d_t%d.down.sql", i, i);
        snprintf(sql, sizeof sql, "DROP TABLE t%d;\n", i);
        it_mig(&env, name, sql);
    }
}

/* An applied up step: its version, name, file and the file's checksum. */
static void assert_up_step(const strata_step *s, const char *version,
                           const char *name, const char *file, const char *sum)
{
    cr_assert_eq(s->action, STRATA_ACTION_UP);
    cr_assert_str_eq(s->version, version);
    cr_assert_str_eq(s->name, name);
    cr_assert_str_eq(s->file, it_mig_path(&env, file));
    cr_assert_str_eq(s->new_checksum, sum);
    cr_assert_geq(s->duration_ms, 0);
}

static char *tracked_versions(void)
{
    char *s = it_text(env.db, "SELECT group_concat(version, ',') FROM "
                              "(SELECT version FROM strata_migrations "
                              "ORDER BY CAST(version AS INTEGER))");
    return s != NULL ? s : strdup("");
}

#define assert_tracked(want)                                                   \
    do {                                                                       \
        char *got_ = tracked_versions();                                       \
        cr_assert_str_eq(got_, want, "tracked versions '%s', want '%s'", got_, \
                         want);                                                \
        free(got_);                                                            \
    } while (0)

Test(up_down, up_applies_in_numeric_order_and_records_everything)
{
    it_mig(&env, "2_two.sql",
           "CREATE TABLE log (v INTEGER);\nINSERT INTO log VALUES (2);\n");
    it_mig(&env, "9_nine.sql", "INSERT INTO log VALUES (9);\n");
    it_mig(&env, "10_ten.up.sql", "INSERT INTO log VALUES (10);\n");
    it_mig(&env, "10_ten.down.sql", "DELETE FROM log WHERE v = 10;\n");
    it_mig(&env, "011_eleven.sql", "INSERT INTO log VALUES (11);\n");
    const char *files[] = {"2_two.sql", "9_nine.sql", "10_ten.up.sql",
                           "011_eleven.sql"};
    const char *versions[] = {"2", "9", "10", "11"};
    const char *names[] = {"two", "nine", "ten", "eleven"};
    char sums[4][65];
    for (int i = 0; i < 4; i++)
        it_sha256_file(it_mig_path(&env, files[i]), sums[i]);

    strata *db = it_open(&env, NULL);
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    cr_assert_eq(rc, 0, "%s", it_err(db));
    cr_assert_not_null(rep);
    cr_assert_eq(rep->count, 4);
    cr_assert_str_eq(rep->from_version, "0");
    cr_assert_str_eq(rep->to_version, "11");
    cr_assert_eq(rep->dry_run, 0);
    for (size_t i = 0; i < 4; i++)
        assert_up_step(rep->steps[i], versions[i], names[i], files[i], sums[i]);
    strata_report_free(rep);

    /* The scripts ran in numeric order: 9 before 10. */
    char *order = it_text(env.db, "SELECT group_concat(v, ',') FROM "
                                  "(SELECT v FROM log ORDER BY rowid)");
    cr_assert_str_eq(order, "2,9,10,11");
    free(order);

    /* One tracking row per migration with the file's SHA-256. */
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 4);
    for (int i = 0; i < 4; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM strata_migrations WHERE module = "
                 "'default' AND version = '%s' AND name = '%s' AND checksum "
                 "= '%s' AND state = 'applied' AND execution_ms >= 0 AND "
                 "length(applied_by) > 0 AND applied_at GLOB "
                 "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'",
                 versions[i], names[i], sums[i]);
        cr_assert_eq(it_scalar(env.db, sql, -1), 1, "row for %s: %s",
                     versions[i], sql);
    }
    /* One history row per migration, in the order they ran. */
    char *hist =
        it_text(env.db, "SELECT group_concat(action || ':' || version, ',') "
                        "FROM (SELECT * FROM strata_migrations_history "
                        "ORDER BY id)");
    cr_assert_str_eq(hist, "up:2,up:9,up:10,up:11");
    free(hist);

    /* Status agrees. */
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_str_eq(plan->current, "11");
    cr_assert_str_eq(plan->module, "default");
    cr_assert_eq(plan->count, 4);
    for (size_t i = 0; i < 4; i++) {
        const strata_migration *m = plan->migrations[i];
        cr_assert_str_eq(m->version, versions[i]);
        cr_assert_eq(m->state, STRATA_STATE_APPLIED, "%s is %s", m->version,
                     strata_state_name(m->state));
        cr_assert_str_eq(m->checksum, sums[i]);
        cr_assert_str_eq(m->recorded_checksum, sums[i]);
        cr_assert_geq(m->execution_ms, 0);
        cr_assert_neq(m->applied_by[0], '\0');
        cr_assert_neq(m->applied_at[0], '\0');
        cr_assert_eq(m->reversible, i == 2, "reversible of %s", m->version);
    }
    strata_plan_free(plan);
    char *cur = NULL;
    cr_assert_eq(strata_current(&cur, db), 0);
    cr_assert_str_eq(cur, "11");
    strata_string_free(cur);

    /* A second up is a no-op that changes nothing at all. */
    char *before = it_snapshot(env.db);
    rep = NULL;
    rc = strata_up(&rep, db, NULL);
    cr_assert_eq(rc, 0, "%s", it_err(db));
    cr_assert_not_null(rep);
    cr_assert_eq(rep->count, 0);
    cr_assert_str_eq(rep->from_version, "11");
    cr_assert_str_eq(rep->to_version, "11");
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    strata_close(db);
}

/* A report lends its steps' strings from the source list it keeps, so it
 * reads the same after the handle and the run are gone. */
Test(up_down, report_outlives_its_handle)
{
    five();
    char sum[65];
    it_sha256_file(it_mig_path(&env, "5_t5.up.sql"), sum);
    strata *db = it_open(&env, NULL);
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    cr_assert_eq(rc, 0, "%s", it_err(db));
    strata_close(db);
    cr_assert_eq(rep->count, 5);
    cr_assert_str_eq(rep->to_version, "5");
    const strata_step *s = rep->steps[4];
    assert_up_step(s, "5", "t5", "5_t5.up.sql", sum);
    cr_assert_str_eq(s->old_checksum, "");
    cr_assert_str_eq(s->detail, "");
    strata_report_free(rep);
}

Test(up_down, applied_by_option_is_recorded)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.applied_by = "deployer@ci";
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    char *by = it_text(env.db, "SELECT applied_by FROM strata_migrations");
    cr_assert_str_eq(by, "deployer@ci");
    free(by);
    by = it_text(env.db, "SELECT applied_by FROM strata_migrations_history");
    cr_assert_str_eq(by, "deployer@ci");
    free(by);
    strata_close(db);
}

Test(up_down, up_to_and_steps)
{
    five();
    strata *db = it_open(&env, NULL);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = "2";
    cr_assert_eq(it_up_expect(db, &o, 0), 2);
    assert_tracked("1,2");
    cr_assert(it_table_exists(env.db, "t2"));
    cr_assert_not(it_table_exists(env.db, "t3"));

    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.steps = 2;
    cr_assert_eq(it_up_expect(db, &o, 0), 2);
    assert_tracked("1,2,3,4");
    cr_assert_not(it_table_exists(env.db, "t5"));

    /* A padded target names the same version. */
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.to = "0005";
    cr_assert_eq(it_up_expect(db, &o, 0), 1);
    assert_tracked("1,2,3,4,5");

    /* --to at or below the current version has nothing to do. */
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.to = "3";
    cr_assert_eq(it_up_expect(db, &o, 0), 0);

    /* Two targets at once is a usage error. */
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.to = "5";
    o.steps = 1;
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, &o), STRATA_EUSAGE);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    strata_report_free(rep);
    strata_close(db);
}

static strata_report *down_ok(strata *db, const strata_run_options *o)
{
    strata_report *rep = NULL;
    int rc = strata_down(&rep, db, o);
    cr_assert_eq(rc, 0, "strata_down: %s", it_err(db));
    cr_assert_not_null(rep);
    return rep;
}

Test(up_down, down_default_steps_to_and_all)
{
    five();
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 5);

    /* Default: one step, the newest. */
    strata_report *rep = down_ok(db, NULL);
    cr_assert_eq(rep->count, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_DOWN);
    cr_assert_str_eq(rep->steps[0]->version, "5");
    cr_assert_str_eq(rep->steps[0]->file, it_mig_path(&env, "5_t5.down.sql"));
    cr_assert_str_eq(rep->from_version, "5");
    cr_assert_str_eq(rep->to_version, "4");
    strata_report_free(rep);
    assert_tracked("1,2,3,4");
    cr_assert_not(it_table_exists(env.db, "t5"));
    cr_assert(it_table_exists(env.db, "t4"));

    /* --steps 2: newest first. */
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.steps = 2;
    rep = down_ok(db, &o);
    cr_assert_eq(rep->count, 2);
    cr_assert_str_eq(rep->steps[0]->version, "4");
    cr_assert_str_eq(rep->steps[1]->version, "3");
    strata_report_free(rep);
    assert_tracked("1,2");
    cr_assert_not(it_table_exists(env.db, "t3"));

    /* --to 2 after re-applying: reverts 5, 4, 3. */
    cr_assert_eq(it_up_expect(db, NULL, 0), 3);
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.to = "2";
    rep = down_ok(db, &o);
    cr_assert_eq(rep->count, 3);
    cr_assert_str_eq(rep->steps[0]->version, "5");
    cr_assert_str_eq(rep->steps[2]->version, "3");
    strata_report_free(rep);
    assert_tracked("1,2");

    /* --all. */
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.all = 1;
    rep = down_ok(db, &o);
    cr_assert_eq(rep->count, 2);
    cr_assert_str_eq(rep->to_version, "0");
    strata_report_free(rep);
    assert_tracked("");
    for (int i = 1; i <= 5; i++) {
        char t[8];
        snprintf(t, sizeof t, "t%d", i);
        cr_assert_not(it_table_exists(env.db, t), "%s still exists", t);
    }

    /* Nothing applied: a down does nothing and succeeds. */
    rep = down_ok(db, NULL);
    cr_assert_eq(rep->count, 0);
    strata_report_free(rep);

    /* --to 0 reverts everything too. */
    cr_assert_eq(it_up_expect(db, NULL, 0), 5);
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.to = "0";
    rep = down_ok(db, &o);
    cr_assert_eq(rep->count, 5);
    strata_report_free(rep);
    assert_tracked("");

    /* History: 5 up, 1+2+3+2 down, 3 up, 5 up, 5 down. */
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history WHERE action "
                           "= 'down'",
                           -1),
                 13);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history WHERE action "
                           "= 'up'",
                           -1),
                 13);
    strata_close(db);
}

Test(up_down, redo_reverts_and_reapplies_the_newest)
{
    it_mig(&env, "1_a.up.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "1_a.down.sql", "DROP TABLE a;\n");
    it_mig(&env, "2_b.up.sql",
           "CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\n");
    it_mig(&env, "2_b.down.sql", "DROP TABLE b;\n");
    strata *db = it_open(&env, NULL);

    strata_report *rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, NULL), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_UNKNOWN_VERSION);
    strata_report_free(rep);

    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, NULL), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_DOWN);
    cr_assert_str_eq(rep->steps[0]->version, "2");
    cr_assert_eq(rep->steps[1]->action, STRATA_ACTION_UP);
    cr_assert_str_eq(rep->steps[1]->version, "2");
    strata_report_free(rep);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM b", -1), 1);
    assert_tracked("1,2");
    char *hist =
        it_text(env.db, "SELECT group_concat(action || ':' || version, ',') "
                        "FROM (SELECT * FROM strata_migrations_history "
                        "ORDER BY id)");
    cr_assert_str_eq(hist, "up:1,up:2,down:2,up:2");
    free(hist);
    strata_close(db);
}

/* Revert and apply commit together: an apply that fails leaves the
 * migration applied exactly as it was. The down script leaves behind what
 * makes the apply fail the second time. */
Test(up_down, redo_whose_apply_fails_changes_nothing)
{
    it_mig(&env, "1_a.up.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "1_a.down.sql", "DROP TABLE a;\n");
    it_mig(&env, "2_b.up.sql",
           "CREATE TABLE b (x INTEGER);\nCREATE TABLE marker (x INTEGER);\n");
    it_mig(&env, "2_b.down.sql", "DROP TABLE b;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    char *before = it_snapshot(env.db);

    strata_report *rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, NULL), STRATA_EFAILED);
    const strata_error *e = strata_last_error(db);
    cr_assert(strstr(e->message, "marker") != NULL, "%s", e->message);
    cr_assert(strstr(e->hint, "rolled back as a whole") != NULL, "%s", e->hint);
    cr_assert(rep == NULL || rep->count == 0, "a rolled-back redo reported "
                                              "steps as done");
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before, "a failed redo changed the database");
    free(before);
    free(after);
    strata_close(db);
}

/* A down script that must run outside a transaction cannot share one with
 * the apply: the revert commits alone, and the error says so. */
Test(up_down, redo_with_a_no_transaction_revert_says_the_revert_stands)
{
    it_mig(&env, "1_b.up.sql",
           "CREATE TABLE b (x INTEGER);\nCREATE TABLE marker (x INTEGER);\n");
    it_mig(&env, "1_b.down.sql", "-- strata:no-transaction\nDROP TABLE b;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);

    strata_report *rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, NULL), STRATA_EFAILED);
    const strata_error *e = strata_last_error(db);
    cr_assert(strstr(e->hint, "revert before it") != NULL, "%s", e->hint);
    cr_assert(strstr(e->hint, "strata up") != NULL, "%s", e->hint);
    cr_assert_eq(rep->count, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_DOWN);
    strata_report_free(rep);
    assert_tracked("");
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM sqlite_master WHERE name "
                           "= 'b'",
                           -1),
                 0);
    strata_close(db);
}

Test(up_down, dry_run_changes_nothing)
{
    five();
    strata *db = it_open(&env, NULL);
    char *before = it_snapshot(env.db);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.dry_run = 1;
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, &o), 0, "%s", it_err(db));
    cr_assert_eq(rep->dry_run, 1);
    cr_assert_eq(rep->count, 5);
    cr_assert_str_eq(rep->steps[0]->version, "1");
    cr_assert_str_eq(rep->steps[4]->version, "5");
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_UP);
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before, "a dry-run up wrote to the database");
    free(before);
    free(after);

    cr_assert_eq(it_up_expect(db, NULL, 0), 5);
    before = it_snapshot(env.db);
    o.all = 1;
    rep = NULL;
    cr_assert_eq(strata_down(&rep, db, &o), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 5);
    cr_assert_eq(rep->dry_run, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_DOWN);
    cr_assert_str_eq(rep->steps[0]->version, "5");
    strata_report_free(rep);
    o.all = 0;
    rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, &o), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    strata_report_free(rep);
    after = it_snapshot(env.db);
    cr_assert_str_eq(after, before, "a dry-run down/redo wrote");
    free(before);
    free(after);
    strata_close(db);
}

Test(up_down, templates_expand_to_quoted_identifiers)
{
    it_mig(&env, "1_users.sql",
           "CREATE TABLE {{schema}}.{{tables.users}} (id INTEGER);\n"
           "INSERT INTO {{ tables.users }} VALUES (7);\n"
           "INSERT INTO {{schema}}.users SELECT id + 1 FROM {{tables.users}};"
           "\n");
    char sum[65];
    it_sha256_file(it_mig_path(&env, "1_users.sql"), sum);
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "users"));
    cr_assert_eq(it_scalar(env.db, "SELECT sum(id) FROM main.users", -1), 15);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM sqlite_master "
                           "WHERE sql LIKE '%\"users\"%'",
                           -1),
                 1, "the table name was not quoted");
    /* The checksum is of the raw file, before expansion. */
    char *rec = it_text(env.db, "SELECT checksum FROM strata_migrations");
    cr_assert_str_eq(rec, sum);
    free(rec);
    strata_close(db);
}

Test(up_down, baseline_records_without_running)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INTEGER);\n");
    char sum1[65];
    it_sha256_file(it_mig_path(&env, "1_a.sql"), sum1);
    strata *db = it_open(&env, NULL);

    strata_report *rep = NULL;
    cr_assert_eq(strata_baseline(&rep, db, "2"), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_BASELINE);
    cr_assert_str_eq(rep->steps[0]->version, "1");
    cr_assert_str_eq(rep->steps[0]->new_checksum, sum1);
    cr_assert_str_eq(rep->steps[1]->version, "2");
    cr_assert_str_eq(rep->to_version, "2");
    strata_report_free(rep);
    cr_assert_not(it_table_exists(env.db, "a"));
    cr_assert_not(it_table_exists(env.db, "b"));
    assert_tracked("1,2");
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'applied'",
                           -1),
                 2);
    char *ck = it_text(env.db, "SELECT checksum FROM strata_migrations "
                               "WHERE version = '1'");
    cr_assert_str_eq(ck, sum1);
    free(ck);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history WHERE action "
                           "= 'baseline'",
                           -1),
                 2);

    /* A later up applies only the rest. */
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "c"));
    cr_assert_not(it_table_exists(env.db, "a"));
    assert_tracked("1,2,3");

    /* Baseline again records nothing new. */
    rep = NULL;
    cr_assert_eq(strata_baseline(&rep, db, "3"), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 0);
    strata_report_free(rep);

    rep = NULL;
    cr_assert_eq(strata_baseline(&rep, db, "x1"), STRATA_EUSAGE);
    strata_report_free(rep);
    strata_close(db);
}

Test(up_down, dotted_and_huge_versions_order_numerically)
{
    it_mig(&env, "V1__a.sql",
           "CREATE TABLE log (v TEXT);\n"
           "INSERT INTO log VALUES ('1');\n");
    it_mig(&env, "V1.10__d.sql", "INSERT INTO log VALUES ('1.10');\n");
    it_mig(&env, "V1.2__c.sql", "INSERT INTO log VALUES ('1.2');\n");
    it_mig(&env, "V1.1__b.sql", "INSERT INTO log VALUES ('1.1');\n");
    it_mig(&env, "V2__e.sql", "INSERT INTO log VALUES ('2');\n");
    it_mig(&env, "99999999999999999999_f.sql",
           "INSERT INTO log VALUES ('big');\n");
    it_mig(&env, "100000000000000000000_g.sql",
           "INSERT INTO log VALUES ('bigger');\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 7);
    char *order = it_text(env.db, "SELECT group_concat(v, ',') FROM "
                                  "(SELECT v FROM log ORDER BY rowid)");
    cr_assert_str_eq(order, "1,1.1,1.2,1.10,2,big,bigger");
    free(order);
    char *cur = NULL;
    cr_assert_eq(strata_current(&cur, db), 0);
    cr_assert_str_eq(cur, "100000000000000000000");
    strata_string_free(cur);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = "1.2";
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, &o), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_NO_DOWN);
    strata_report_free(rep);
    strata_close(db);
}

Test(up_down, bad_options_are_usage_errors)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.version = 99;
    strata *db = NULL;
    cr_assert_eq(strata_open(&db, env.url, NULL, &o), STRATA_EUSAGE);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    strata_close(db);
    o = (strata_options)STRATA_OPTIONS_INIT;
    o.module = "";
    db = NULL;
    cr_assert_eq(strata_open(&db, env.url, NULL, &o), STRATA_EUSAGE);
    strata_close(db);

    db = it_open(&env, NULL);
    strata_run_options ro = STRATA_RUN_OPTIONS_INIT;
    ro.version = 42;
    cr_assert_eq(it_up_expect(db, &ro, STRATA_EUSAGE), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    cr_assert_not(it_table_exists(env.db, "a"));
    strata_close(db);

    /* A handle without a database cannot plan. */
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    db = NULL;
    cr_assert_eq(strata_open(&db, NULL, src, NULL), 0);
    strata_source_free(src);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), STRATA_EUSAGE);
    cr_assert_null(plan);
    strata_close(db);
}
