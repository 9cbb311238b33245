/*
 * test_refusals.c - every plan that must be refused before anything runs.
 *
 * Each case starts from a database with one applied migration, adds a good
 * pending migration (version 2) and then the bad one (version 3), so a
 * runner that applied "what it could" would be caught. The database must be
 * logically unchanged afterwards: same schema, same rows, same history.
 */
#include "helpers.h"

#include <criterion/criterion.h>
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

TestSuite(refusals, .init = setup, .fini = teardown);

/* Applies 1_base.sql and adds the good pending 2_good.sql. */
static strata *prepared(void)
{
    it_mig(&env, "1_base.sql", "CREATE TABLE base (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    it_mig(&env, "2_good.sql", "CREATE TABLE good (x INTEGER);\n");
    return db;
}

/*
 * Runs up and expects `code`/`reason`, the error naming `file` (relative to
 * the migrations folder; NULL = not checked) at `line` (-1 = not checked),
 * and no change at all to the database.
 */
static void refused(strata *db, const strata_run_options *o, int down, int code,
                    strata_reason reason, const char *file, int line)
{
    char *before = it_snapshot(env.db);
    strata_report *rep = NULL;
    int rc = down ? strata_down(&rep, db, o) : strata_up(&rep, db, o);
    cr_assert_eq(rc, code, "%s returned %d: %s", down ? "down" : "up", rc,
                 it_err(db));
    const strata_error *er = strata_last_error(db);
    cr_assert_eq(er->code, code);
    cr_assert_eq(er->reason, reason, "reason %s, want %s: %s",
                 strata_reason_name(er->reason), strata_reason_name(reason),
                 it_err(db));
    cr_assert_neq(er->message[0], '\0');
    if (file != NULL)
        cr_assert_str_eq(er->file, it_mig_path(&env, file));
    if (line >= 0)
        cr_assert_eq(er->line, line, "line %d, want %d: %s", er->line, line,
                     it_err(db));
    if (rep != NULL)
        cr_assert_eq(rep->count, 0);
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before, "a refused run changed the database");
    free(before);
    free(after);
    if (!down)
        cr_assert_not(it_table_exists(env.db, "good"));
}

/* A bad script: up and validate both refuse with the same reason. */
static void bad_script(const char *rel, const void *data, size_t len,
                       strata_reason reason, int line)
{
    strata *db = prepared();
    it_write_bytes(env.mig, rel, data, len);
    refused(db, NULL, 0, STRATA_EREFUSED, reason, rel, line);
    cr_assert_str_eq(strata_last_error(db)->version, "3");
    strata_plan *plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), STRATA_EREFUSED, "%s",
                 it_err(db));
    cr_assert_eq(strata_last_error(db)->reason, reason);
    strata_plan_free(plan);
    strata_close(db);
}

#define BAD(rel, lit, reason, line)                                            \
    bad_script(rel, lit, sizeof(lit) - 1, reason, line)

Test(refusals, duplicate_versions)
{
    strata *db = prepared();
    it_mig(&env, "3_a.sql", "CREATE TABLE a3 (x INTEGER);\n");
    it_mig(&env, "003_b.sql", "CREATE TABLE b3 (x INTEGER);\n");
    refused(db, NULL, 0, STRATA_EREFUSED, STRATA_REASON_DUPLICATE, NULL, -1);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->version, "3");
    cr_assert(strstr(er->message, "3_a.sql") != NULL &&
                  strstr(er->message, "003_b.sql") != NULL,
              "the message names both files: %s", er->message);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), STRATA_EREFUSED);
    cr_assert_null(plan);
    strata_close(db);
}

Test(refusals, duplicate_001_and_1_on_a_fresh_database)
{
    it_mig(&env, "001_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "1_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "2_c.sql", "CREATE TABLE c (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_DUPLICATE);
    cr_assert_str_eq(strata_last_error(db)->version, "1");
    cr_assert_not(it_table_exists(env.db, "a"));
    cr_assert_not(it_table_exists(env.db, "b"));
    cr_assert_not(it_table_exists(env.db, "c"));
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 0);
    strata_close(db);
}

/*
 * A refused up on a fresh database leaves it exactly as it was: the tracking
 * tables are created only when a migration is about to run.
 */
Test(refusals, refused_up_on_a_fresh_database_creates_nothing)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "-- strata:bogus\nCREATE TABLE b (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    char *before = it_snapshot(env.db);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    char *after = it_snapshot(env.db);
    cr_expect_str_eq(after, before,
                     "a refused up on a fresh database created the "
                     "tracking tables");
    free(before);
    free(after);
    strata_close(db);
}

Test(refusals, unparseable_file_name)
{
    strata *db = prepared();
    it_mig(&env, "3-oops.sql", "CREATE TABLE x (a INTEGER);\n");
    refused(db, NULL, 0, STRATA_EREFUSED, STRATA_REASON_BAD_NAME, "3-oops.sql",
            -1);
    strata_close(db);
}

Test(refusals, empty_up_script)
{
    BAD("3_empty.sql", "\n\n   \n\t\n", STRATA_REASON_BAD_SCRIPT, -1);
}

Test(refusals, comment_only_up_script)
{
    BAD("3_comments.sql", "-- nothing to do\n/* nor ; here */\n;\n",
        STRATA_REASON_BAD_SCRIPT, -1);
}

Test(refusals, zero_byte_up_script)
{
    BAD("3_zero.sql", "", STRATA_REASON_BAD_SCRIPT, -1);
}

Test(refusals, nul_byte_names_its_line)
{
    BAD("3_nul.sql",
        "CREATE TABLE n (a TEXT);\n-- line 2\nINSERT INTO n VALUES "
        "('a\0b');\n",
        STRATA_REASON_BAD_SCRIPT, 3);
}

Test(refusals, invalid_utf8_names_its_line)
{
    BAD("3_latin1.sql",
        "CREATE TABLE n (a TEXT);\n\n\nINSERT INTO n VALUES ('caf\xe9');\n",
        STRATA_REASON_BAD_SCRIPT, 4);
}

Test(refusals, unknown_directive)
{
    BAD("3_directive.sql",
        "-- a comment\n-- strata:no-transactoin\nCREATE TABLE n (a);\n",
        STRATA_REASON_BAD_SCRIPT, 2);
}

Test(refusals, unknown_template)
{
    BAD("3_template.sql",
        "CREATE TABLE n (a INTEGER);\n"
        "INSERT INTO n VALUES (1);\n"
        "SELECT * FROM {{tabels.n}};\n",
        STRATA_REASON_BAD_TEMPLATE, 3);
}

Test(refusals, up_to_unknown_version)
{
    strata *db = prepared();
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = "9";
    refused(db, &o, 0, STRATA_EREFUSED, STRATA_REASON_UNKNOWN_VERSION, NULL,
            -1);
    o.to = "not-a-version";
    refused(db, &o, 0, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION, NULL, -1);
    strata_close(db);
}

/* Down cases: 1 has the problem, 2 is fine; reverting both must revert
 * neither, although 2 comes first. */
static strata *applied_pair(const char *down1, int with_down1)
{
    it_mig(&env, "1_a.up.sql", "CREATE TABLE a (x INTEGER);\n");
    if (with_down1)
        it_mig(&env, "1_a.down.sql", down1);
    it_mig(&env, "2_b.up.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "2_b.down.sql", "DROP TABLE b;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    return db;
}

Test(refusals, down_without_a_down_script)
{
    strata *db = applied_pair(NULL, 0);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.steps = 2;
    refused(db, &o, 1, STRATA_EREFUSED, STRATA_REASON_NO_DOWN, NULL, -1);
    cr_assert_str_eq(strata_last_error(db)->version, "1");
    cr_assert(it_table_exists(env.db, "b"));
    o = (strata_run_options)STRATA_RUN_OPTIONS_INIT;
    o.all = 1;
    refused(db, &o, 1, STRATA_EREFUSED, STRATA_REASON_NO_DOWN, NULL, -1);
    /* One step, which has a down script, is fine. */
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    strata_report_free(rep);
    cr_assert_not(it_table_exists(env.db, "b"));
    strata_close(db);
}

Test(refusals, down_with_comment_only_down_script)
{
    strata *db = applied_pair("-- cannot be undone\n/* really */\n", 1);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.steps = 2;
    refused(db, &o, 1, STRATA_EREFUSED, STRATA_REASON_IRREVERSIBLE,
            "1_a.down.sql", -1);
    cr_assert(it_table_exists(env.db, "a"));
    cr_assert(it_table_exists(env.db, "b"));
    /* The plan still validates: an irreversible down only refuses down. */
    strata_plan *plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), 0, "%s", it_err(db));
    strata_plan_free(plan);
    strata_close(db);
}

/*
 * A comment-only down script makes a migration irreversible, and both status
 * and validate say so.
 */
Test(refusals, plan_reversible_is_false_for_comment_only_down)
{
    strata *db = applied_pair("-- cannot be undone\n/* really */\n", 1);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[1]->reversible, 1);
    cr_assert_eq(plan->migrations[0]->reversible, 0,
                 "validate's plan calls a comment-only down script "
                 "reversible");
    strata_plan_free(plan);
    plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[0]->reversible, 0,
                 "status calls a comment-only down script reversible");
    strata_plan_free(plan);
    strata_close(db);
}

Test(refusals, down_to_unknown_version)
{
    strata *db = applied_pair("DROP TABLE a;\n", 1);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = "7";
    refused(db, &o, 1, STRATA_EREFUSED, STRATA_REASON_UNKNOWN_VERSION, NULL,
            -1);
    o.to = "x";
    refused(db, &o, 1, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION, NULL, -1);
    strata_close(db);
}

Test(refusals, redo_without_a_down_script)
{
    strata *db = prepared();
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    char *before = it_snapshot(env.db);
    strata_report *rep = NULL;
    cr_assert_eq(strata_redo(&rep, db, NULL), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_NO_DOWN);
    strata_report_free(rep);
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    strata_close(db);
}
