/*
 * test_errors.c - failing migrations and tricky scripts against SQLite:
 * where an error points, what is rolled back, no-transaction scripts and
 * their dirty state, repair, and single-transaction runs.
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

TestSuite(errors, .init = setup, .fini = teardown);

Test(errors, syntax_error_in_third_statement_names_file_and_line)
{
    it_mig(&env, "1_ok.sql", "CREATE TABLE ok1 (x INTEGER);\n");
    it_mig(&env, "2_bad.sql",
           /*  1 */
           "-- a migration whose third statement is wrong\n"
           /*  2 */ "CREATE TABLE a (x INTEGER);  -- first; a comment\n"
           /*  3 */ "\n"
           /*  4 */ "/* a block comment; with ; semicolons\n"
           /*  5 */ "   over two lines */\n"
           /*  6 */ "INSERT INTO a VALUES (1);\n"
           /*  7 */ "-- the next one is broken;\n"
           /*  8 */ "\n"
           /*  9 */ "CREATE TABLE b (\n"
           /* 10 */ "  id INTEGER,\n"
           /* 11 */ "  oops INTEGER NOT NULLL\n"
           /* 12 */ ");\n"
           /* 13 */ "CREATE TABLE c (y INTEGER);\n");
    it_mig(&env, "3_after.sql", "CREATE TABLE after3 (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    cr_assert_eq(rc, STRATA_EFAILED, "%s", it_err(db));
    const strata_error *er = strata_last_error(db);
    cr_assert_eq(er->code, STRATA_EFAILED);
    cr_assert_str_eq(er->file, it_mig_path(&env, "2_bad.sql"));
    cr_assert_str_eq(er->version, "2");
    cr_assert_eq(er->line, 11, "%s", it_err(db));
    cr_assert_eq(er->statement_line, 9, "%s", it_err(db));
    cr_assert_gt(er->column, 0);
    cr_assert_neq(er->db_message[0], '\0');
    cr_assert(strstr(er->db_message, "syntax error") != NULL, "%s",
              er->db_message);
    cr_assert_eq(er->db_code, SQLITE_ERROR);
    cr_assert_neq(er->message[0], '\0');
    cr_assert_neq(er->hint[0], '\0');
    /* The report lists what was applied before the failure. */
    cr_assert_not_null(rep);
    cr_assert_eq(rep->count, 1);
    cr_assert_str_eq(rep->steps[0]->version, "1");
    strata_report_free(rep);

    cr_assert(it_table_exists(env.db, "ok1"));
    cr_assert_not(it_table_exists(env.db, "a"), "statement 1 not rolled back");
    cr_assert_not(it_table_exists(env.db, "after3"));
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 1);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE version = '2'",
                           -1),
                 0);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history",
                           -1),
                 1);

    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_APPLIED);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_PENDING);
    cr_assert_eq(plan->migrations[2]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);
    strata_close(db);
}

Test(errors, error_in_a_down_file_points_into_it)
{
    it_mig(&env, "1_a.up.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "1_a.down.sql",
           "-- undo\n\nDROP TABLE a;\nDROP TABLE\n  nope;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), STRATA_EFAILED);
    strata_report_free(rep);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->file, it_mig_path(&env, "1_a.down.sql"));
    cr_assert_eq(er->statement_line, 4, "%s", it_err(db));
    cr_assert(er->line == 4 || er->line == 5, "%s", it_err(db));
    cr_assert(strstr(er->db_message, "no such table") != NULL, "%s",
              er->db_message);
    /* Rolled back: a is still there and still recorded. */
    cr_assert(it_table_exists(env.db, "a"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'applied'",
                           -1),
                 1);
    strata_close(db);
}

Test(errors, marker_file_error_line_counts_from_file_start)
{
    it_mig(&env, "1_m.sql",
           /* 1 */
           "-- header\n"
           /* 2 */ "-- strata:up\n"
           /* 3 */ "CREATE TABLE m (x INTEGER);\n"
           /* 4 */ "INSERT INTO m VALUES (1, 2);\n"
           /* 5 */ "-- strata:down\n"
           /* 6 */ "DROP TABLE m;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->file, it_mig_path(&env, "1_m.sql"));
    cr_assert_eq(er->statement_line, 4, "%s", it_err(db));
    cr_assert_eq(er->line, 4, "%s", it_err(db));
    cr_assert_not(it_table_exists(env.db, "m"));
    strata_close(db);
}

Test(errors, constraint_violation_at_runtime)
{
    it_mig(&env, "1_ok.sql", "CREATE TABLE ok1 (x INTEGER);\n");
    it_mig(&env, "2_dup.sql",
           /* 1 */
           "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT "
           "UNIQUE);\n"
           /* 2 */ "INSERT INTO u VALUES (1, 'a@x');\n"
           /* 3 */ "-- a duplicate e-mail follows; it must fail\n"
           /* 4 */ "\n"
           /* 5 */ "INSERT INTO u VALUES (2,\n"
           /* 6 */ "  'a@x');\n"
           /* 7 */ "INSERT INTO u VALUES (3, 'b@x');\n");
    strata *db = it_open(&env, NULL);
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, NULL), STRATA_EFAILED, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    strata_report_free(rep);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->file, it_mig_path(&env, "2_dup.sql"));
    cr_assert_eq(er->statement_line, 5, "%s", it_err(db));
    cr_assert_eq(er->line, 5, "%s", it_err(db));
    cr_assert_eq(er->db_code, SQLITE_CONSTRAINT_UNIQUE, "%s", it_err(db));
    cr_assert(strstr(er->db_message, "UNIQUE constraint failed") != NULL, "%s",
              er->db_message);
    cr_assert_not(it_table_exists(env.db, "u"));
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 1);
    strata_close(db);
}

Test(errors, triggers_strings_and_comments_with_semicolons)
{
    it_mig(&env, "1_trigger.sql",
           "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);\n"
           "CREATE TABLE audit (msg TEXT);\n"
           "-- a trigger; its body holds ; too\n"
           "CREATE TRIGGER t_ai AFTER INSERT ON t\n"
           "BEGIN\n"
           "  INSERT INTO audit VALUES ('inserted; ' || NEW.note);\n"
           "  UPDATE t SET note = note || ';' WHERE id = NEW.id;\n"
           "END;\n"
           "/* block ; comment */\n"
           "INSERT INTO t (note) VALUES ('a;b'); -- trailing ; comment\n"
           "INSERT INTO t (note) VALUES ('it''s; \"quoted\"')");
    it_mig(&env, "2_tail.sql",
           "INSERT INTO t (note) VALUES ('x;y');\n"
           "-- a comment after the last statement; no newline");
    it_mig(&env, "3_both.sql",
           "INSERT INTO t (note) VALUES ('z')\n"
           "-- no semicolon above; and none at the end");
    it_mig(&env, "4_block.sql", "INSERT INTO t (note) VALUES ('w'); /* ; */");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 4);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM t", -1), 5);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM audit", -1), 5);
    char *notes = it_text(env.db, "SELECT group_concat(note, '|') FROM "
                                  "(SELECT note FROM t ORDER BY id)");
    cr_assert_str_eq(notes, "a;b;|it's; \"quoted\";|x;y;|z;|w;");
    free(notes);
    char *first = it_text(env.db, "SELECT msg FROM audit ORDER BY rowid");
    cr_assert_str_eq(first, "inserted; a;b");
    free(first);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM sqlite_master "
                           "WHERE type = 'trigger'",
                           -1),
                 1);
    strata_close(db);
}

Test(errors, single_transaction_rolls_back_the_whole_run)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "3_c.sql",
           "CREATE TABLE c (x INTEGER);\nINSERT INTO nope VALUES (1);\n");
    strata *db = it_open(&env, NULL);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.single_transaction = 1;
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, &o), STRATA_EFAILED, "%s", it_err(db));
    cr_assert_not_null(rep);
    cr_assert_eq(rep->count, 0, "a rolled-back run reported steps as done");
    cr_assert_str_eq(rep->to_version, "0");
    strata_report_free(rep);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->file, it_mig_path(&env, "3_c.sql"));
    cr_assert_eq(er->line, 2);
    for (const char *const *t = (const char *const[]){"a", "b", "c", NULL}; *t;
         t++)
        cr_assert_not(it_table_exists(env.db, *t), "%s exists", *t);
    /* Even the tracking tables were created inside the run's transaction. */
    cr_assert_not(it_table_exists(env.db, "strata_migrations"));
    cr_assert_not(it_table_exists(env.db, "strata_migrations_history"));

    /* Fixed, the same run applies all three at once. */
    it_mig(&env, "3_c.sql", "CREATE TABLE c (x INTEGER);\n");
    cr_assert_eq(it_up_expect(db, &o, 0), 3);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 3);
    strata_close(db);
}

Test(errors, single_transaction_refuses_a_no_transaction_script)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_nt.sql",
           "-- strata:no-transaction\nCREATE TABLE nt (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.single_transaction = 1;
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, &o), STRATA_EREFUSED, "%s", it_err(db));
    strata_report_free(rep);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_str_eq(strata_last_error(db)->file,
                     it_mig_path(&env, "2_nt.sql"));
    cr_assert_not(it_table_exists(env.db, "a"));
    strata_close(db);
}

Test(errors, no_transaction_failure_is_dirty_until_repaired)
{
    it_mig(&env, "1_base.sql", "CREATE TABLE base (x INTEGER);\n");
    it_mig(&env, "2_nt.sql",
           /* 1 */
           "-- strata:no-transaction\n"
           /* 2 */ "CREATE TABLE nt1 (x INTEGER);\n"
           /* 3 */ "INSERT INTO missing_table VALUES (1);\n"
           /* 4 */ "CREATE TABLE nt2 (x INTEGER);\n");
    it_mig(&env, "3_later.sql", "CREATE TABLE later (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, NULL), STRATA_EFAILED, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    strata_report_free(rep);
    const strata_error *er = strata_last_error(db);
    cr_assert_str_eq(er->file, it_mig_path(&env, "2_nt.sql"));
    cr_assert_eq(er->line, 3, "%s", it_err(db));
    cr_assert_neq(er->hint[0], '\0');

    /* The first statement's effect persists; nothing after it ran. */
    cr_assert(it_table_exists(env.db, "nt1"));
    cr_assert_not(it_table_exists(env.db, "nt2"));
    cr_assert_not(it_table_exists(env.db, "later"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE version = '2' AND state <> "
                           "'applied'",
                           -1),
                 1, "no dirty row for the no-transaction script");

    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->count, 3);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_DIRTY, "state %s",
                 strata_state_name(plan->migrations[1]->state));
    cr_assert_eq(plan->migrations[2]->state, STRATA_STATE_PENDING);
    cr_assert_str_eq(plan->current, "1");
    strata_plan_free(plan);

    /* The next up is refused and applies nothing. */
    char *before = it_snapshot(env.db);
    rep = NULL;
    cr_assert_eq(strata_up(&rep, db, NULL), STRATA_EREFUSED, "%s", it_err(db));
    strata_report_free(rep);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_DIRTY);
    cr_assert_str_eq(strata_last_error(db)->version, "2");
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(after);
    /* So is a down. */
    rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), STRATA_EREFUSED);
    strata_report_free(rep);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_DIRTY);
    after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);

    /* Repair clears the marker and says so. */
    rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_REPAIR);
    cr_assert_str_eq(rep->steps[0]->version, "2");
    cr_assert_neq(rep->steps[0]->detail[0], '\0');
    strata_report_free(rep);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE version = '2'",
                           -1),
                 0);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history WHERE action "
                           "= 'repair' AND version = '2' AND "
                           "length(detail) > 0",
                           -1),
                 1);
    plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->migrations[1]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    /* Repair with nothing to do reports nothing. */
    rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 0);
    strata_report_free(rep);

    /* The script, fixed, goes through along with the one after it. */
    it_mig(&env, "2_nt.sql",
           "-- strata:no-transaction\n"
           "CREATE TABLE IF NOT EXISTS nt1 (x INTEGER);\n"
           "CREATE TABLE missing_table (x INTEGER);\n"
           "INSERT INTO missing_table VALUES (1);\n"
           "CREATE TABLE nt2 (x INTEGER);\n");
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    cr_assert(it_table_exists(env.db, "nt2"));
    cr_assert(it_table_exists(env.db, "later"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'applied'",
                           -1),
                 3);
    strata_close(db);
}

Test(errors, no_transaction_foreign_keys_off_table_rebuild)
{
    it_mig(&env, "1_init.sql",
           "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
           "CREATE TABLE child (id INTEGER PRIMARY KEY,\n"
           "                    pid INTEGER REFERENCES parent(id));\n"
           "INSERT INTO parent VALUES (1);\n"
           "INSERT INTO child VALUES (10, 1);\n");
    it_mig(&env, "2_rebuild.sql",
           "-- strata:no-transaction\n"
           "-- The documented SQLite recipe for changing a table.\n"
           "PRAGMA foreign_keys = OFF;\n"
           "BEGIN;\n"
           "CREATE TABLE parent_new (id INTEGER PRIMARY KEY,\n"
           "                         label TEXT NOT NULL DEFAULT 'p');\n"
           "INSERT INTO parent_new (id) SELECT id FROM parent;\n"
           "DROP TABLE parent;\n"
           "ALTER TABLE parent_new RENAME TO parent;\n"
           "PRAGMA foreign_key_check;\n"
           "COMMIT;\n"
           "PRAGMA foreign_keys = ON;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'applied'",
                           -1),
                 2);
    char *label = it_text(env.db, "SELECT label FROM parent WHERE id = 1");
    cr_assert_str_eq(label, "p");
    free(label);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM child", -1), 1);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "pragma_foreign_key_check",
                           -1),
                 0);
    cr_assert_not(it_table_exists(env.db, "parent_new"));
    char *detail = it_text(env.db, "SELECT detail FROM "
                                   "strata_migrations_history WHERE version "
                                   "= '2'");
    cr_assert_str_eq(detail, "no-transaction");
    free(detail);
    strata_close(db);
}

/* A transaction-opening script outside no-transaction mode is refused
 * before anything runs, naming the line. */
Test(errors, begin_inside_a_transactional_script_fails_cleanly)
{
    it_mig(&env, "1_tx.sql",
           "CREATE TABLE a (x INTEGER);\nBEGIN;\nCREATE TABLE b (x "
           "INTEGER);\nCOMMIT;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_eq(strata_last_error(db)->line, 2, "%s", it_err(db));
    cr_assert_not(it_table_exists(env.db, "a"));
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 0);
    /* The handle is still usable. */
    it_mig(&env, "1_tx.sql", "CREATE TABLE a (x INTEGER);\n");
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
}

/* A COMMIT in the middle would end strata's transaction and let the rest of
 * the script and its tracking row commit on their own: found with SQLite's
 * tokenizer and refused before anything runs, the migration before it
 * included. */
Test(errors, commit_inside_a_transactional_script_is_refused)
{
    it_mig(&env, "1_ok.sql", "CREATE TABLE ok (x INTEGER);\n");
    it_mig(&env, "2_tx.sql",
           "CREATE TABLE y (x INTEGER);\n-- done?\nCOMMIT;\n"
           "CREATE TABLE z (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    const strata_error *e = strata_last_error(db);
    cr_assert_eq(e->reason, STRATA_REASON_BAD_SCRIPT, "%s", it_err(db));
    cr_assert_eq(e->line, 3, "%s", it_err(db));
    cr_assert(strstr(e->file, "2_tx.sql") != NULL);
    cr_assert(strstr(e->hint, "no-transaction") != NULL, "%s", e->hint);
    cr_assert_not(it_table_exists(env.db, "ok"));
    cr_assert_not(it_table_exists(env.db, "y"));
    cr_assert_not(it_table_exists(env.db, "z"));
    /* A savepoint and a ROLLBACK TO it are fine inside a migration. */
    it_mig(&env, "3_sp.sql",
           "SAVEPOINT s;\nCREATE TABLE sp (x);\nROLLBACK TO s;\n"
           "ROLLBACK TRANSACTION TO SAVEPOINT s;\nRELEASE s;\n");
    /* The same script runs as written once it manages its own transaction. */
    it_mig(&env, "2_tx.sql",
           "-- strata:no-transaction\nBEGIN;\nCREATE TABLE y (x INTEGER);\n"
           "COMMIT;\nCREATE TABLE z (x INTEGER);\n");
    cr_assert_eq(it_up_expect(db, NULL, 0), 3, "%s", it_err(db));
    cr_assert(it_table_exists(env.db, "z"));
    cr_assert_not(it_table_exists(env.db, "sp"));
    strata_close(db);
}

/* A no-transaction script that leaves its own transaction open is rolled
 * back and stays dirty. */
Test(errors, no_transaction_script_leaving_a_transaction_open)
{
    it_mig(&env, "1_nt.sql",
           "-- strata:no-transaction\nBEGIN;\nCREATE TABLE b (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_not(it_table_exists(env.db, "b"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'dirty_up'",
                           -1),
                 1);
    strata_close(db);
}

/* A no-transaction script that opens a transaction and then fails must not
 * leave that transaction open to swallow the dirty marker. */
Test(errors, no_transaction_script_failing_inside_its_own_begin)
{
    it_mig(&env, "1_nt.sql",
           "-- strata:no-transaction\n"
           "CREATE TABLE a (x INTEGER);\n"
           "BEGIN;\n"
           "CREATE TABLE b (x INTEGER);\n"
           "INSERT INTO nope VALUES (1);\n"
           "COMMIT;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    cr_assert_eq(strata_last_error(db)->line, 5, "%s", it_err(db));
    cr_assert(it_table_exists(env.db, "a"));
    cr_assert_not(it_table_exists(env.db, "b"));
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state <> 'applied'",
                           -1),
                 1);
    /* A second handle sees the dirty row: it was committed. */
    strata *db2 = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db2), 0);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_DIRTY);
    strata_plan_free(plan);
    strata_close(db2);
    strata_close(db);
}

/* The plan says a script runs outside a transaction: a metadata flag and
 * the -- strata:no-transaction directive mean the same thing. */
Test(errors, plan_shows_no_transaction_directive)
{
    it_mig(&env, "1_nt.sql",
           "-- strata:no-transaction\nCREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_tx.sql", "CREATE TABLE b (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_validate(&plan, db, 0), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[1]->no_transaction, 0);
    cr_assert_eq(plan->migrations[0]->no_transaction, 1,
                 "strata_validate's plan says 1_nt.sql runs in a "
                 "transaction although it holds -- strata:no-transaction");
    strata_plan_free(plan);
    plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[0]->no_transaction, 1);
    cr_assert_eq(plan->migrations[1]->no_transaction, 0);
    strata_plan_free(plan);
    strata_close(db);
}

/* The same from an embedded set, where the directive is read only when a
 * plan is shown (a start reads no script's bytes). */
Test(errors, plan_shows_no_transaction_directive_embedded)
{
    static const char nt[] =
        "-- strata:no-transaction\nCREATE TABLE a (x INTEGER);\n";
    static const char tx[] = "CREATE TABLE b (x INTEGER);\n";
    static const strata_embedded_file files[] = {
        {"1_nt.sql", nt, sizeof nt - 1, NULL},
        {"2_tx.sql", tx, sizeof tx - 1, NULL},
    };
    static const strata_embedded set = {
        .version = 2, .dir = "m", .count = 2, .files = files};
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_embedded(&src, &set), 0);
    strata *db = NULL;
    cr_assert_eq(strata_open(&db, env.url, src, NULL), 0);
    strata_source_free(src);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[0]->no_transaction, 1);
    cr_assert_eq(plan->migrations[1]->no_transaction, 0);
    strata_plan_free(plan);
    strata_close(db);
}

Test(errors, syntax_error_column_points_at_the_token)
{
    it_mig(&env, "1_bad.sql",
           "CREATE TABLE a (x INTEGER);\n"
           "CREATE TABLE b (\n"
           "  oops INTEGER NOT NULLL\n"
           ");\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    const strata_error *er = strata_last_error(db);
    cr_assert_eq(er->statement_line, 2, "%s", it_err(db));
    cr_assert_eq(er->line, 3, "%s", it_err(db));
    /* "  oops INTEGER NOT NULLL": NULLL starts in column 20. */
    cr_assert_eq(er->column, 20, "column %d: %s", er->column, it_err(db));
    strata_close(db);
}

/* Writes migration `file`, runs up expecting `rc`, and checks that the
 * error names the file's line and column. */
static void up_places_error(strata *db, const char *file, const char *text,
                            int rc, int line, int column)
{
    it_mig(&env, file, text);
    cr_assert_eq(it_up_expect(db, NULL, rc), 0, "%s", file);
    const strata_error *er = strata_last_error(db);
    cr_assert_eq(er->line, line, "[%s] %s", text, it_err(db));
    cr_assert_eq(er->column, column, "[%s] column %d: %s", text, er->column,
                 it_err(db));
}

/* The database counts columns in the expanded text; strata reports them
 * in the file. {{schema}} (10 bytes) becomes "main" (6): a token after it
 * would otherwise be reported 4 columns early. */
Test(errors, column_after_a_template_points_into_the_file)
{
    strata *db = it_open(&env, NULL);
    /* "oops" starts in column 65 of the file. */
    up_places_error(db, "1_bad.sql",
                    "CREATE TABLE {{schema}}.a (x INTEGER); INSERT INTO a "
                    "VALUES (1) oops;\n",
                    STRATA_EFAILED, 1, 65);
    /* A refusal before anything runs is placed the same way. */
    up_places_error(db, "1_bad.sql",
                    "CREATE TABLE {{ schema }}.a (x INTEGER); COMMIT;\n",
                    STRATA_EREFUSED, 1, 42);
    /* A token inside an expansion points at its placeholder: the second
     * "main" of SELECT 1 "main" "main" is the error. */
    up_places_error(db, "1_bad.sql", "SELECT 1 {{schema}} {{schema}};\n",
                    STRATA_EFAILED, 1, 21);

    /* In the down section of a marker file, and after a BOM (columns
     * count from after it, as without a template). */
    it_mig(&env, "1_bad.sql",
           "-- strata:up\nCREATE TABLE {{schema}}.a (x INTEGER);\n"
           "-- strata:down\nDROP TABLE {{schema}}.a; INSERT INTO a VALUES (1) "
           "oops;\n");
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), STRATA_EFAILED);
    strata_report_free(rep);
    const strata_error *er = strata_last_error(db);
    cr_assert_eq(er->line, 4, "%s", it_err(db));
    cr_assert_eq(er->column, 51, "column %d: %s", er->column, it_err(db));
    up_places_error(db, "2_bom.sql",
                    "\xEF\xBB\xBF"
                    "CREATE TABLE {{schema}}.b (x INTEGER); INSERT INTO b "
                    "VALUES (1) oops;\n",
                    STRATA_EFAILED, 1, 65);
    strata_close(db);
}

Test(errors, utf8_bom_does_not_shift_lines)
{
    it_mig(&env, "1_bom.sql",
           "\xEF\xBB\xBF"
           "CREATE TABLE a (x INTEGER);\n"
           "INSERT INTO nope VALUES (1);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    cr_assert_eq(strata_last_error(db)->line, 2, "%s", it_err(db));
    it_mig(&env, "1_bom.sql",
           "\xEF\xBB\xBF"
           "-- strata:no-transaction\n"
           "CREATE TABLE a (x INTEGER);\n");
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert(it_table_exists(env.db, "a"));
    strata_close(db);
}

Test(errors, interrupted_no_transaction_down_is_repaired_to_applied)
{
    it_mig(&env, "1_a.up.sql",
           "CREATE TABLE a (x INTEGER);\n"
           "CREATE TABLE a2 (x INTEGER);\n");
    it_mig(&env, "1_a.down.sql",
           "-- strata:no-transaction\n"
           "DROP TABLE a;\n"
           "DROP TABLE nope;\n"
           "DROP TABLE a2;\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), STRATA_EFAILED, "%s", it_err(db));
    strata_report_free(rep);
    cr_assert_str_eq(strata_last_error(db)->file,
                     it_mig_path(&env, "1_a.down.sql"));
    cr_assert_eq(strata_last_error(db)->line, 3);
    cr_assert_not(it_table_exists(env.db, "a"));
    cr_assert(it_table_exists(env.db, "a2"));

    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_DIRTY);
    cr_assert_str_eq(plan->current, "0");
    strata_plan_free(plan);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_DIRTY);

    rep = NULL;
    cr_assert_eq(strata_repair(&rep, db), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_str_eq(rep->steps[0]->version, "1");
    strata_report_free(rep);
    plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_APPLIED);
    cr_assert_str_eq(plan->current, "1");
    strata_plan_free(plan);
    strata_close(db);
}

Test(errors, no_transaction_directive_below_sql_is_refused)
{
    it_mig(&env, "1_a.sql",
           "CREATE TABLE a (x INTEGER);\n"
           "-- strata:no-transaction\n"
           "CREATE TABLE b (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_eq(strata_last_error(db)->line, 2);
    cr_assert_not(it_table_exists(env.db, "a"));
    strata_close(db);
}

/* A script edited while the run is under way (here: by the event callback
 * after the first migration) must either be refused or be recorded with
 * the checksum of what actually ran, never the checksum of the old text. */
static void rewrite_two(const strata_event *ev, void *payload)
{
    const it_env *e = payload;
    if (ev->type == STRATA_EVENT_MIGRATION_DONE &&
        strcmp(ev->version, "1") == 0)
        it_mig(e, "2_b.sql", "CREATE TABLE b_changed (x INTEGER);\n");
}

Test(errors, script_changed_during_the_run)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.on_event = rewrite_two;
    o.event_payload = &env;
    strata *db = it_open(&env, &o);
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    strata_report_free(rep);
    char now[65];
    it_sha256_file(it_mig_path(&env, "2_b.sql"), now);
    char *rec = it_text(env.db, "SELECT checksum FROM strata_migrations "
                                "WHERE version = '2'");
    if (rc == 0) {
        cr_assert(it_table_exists(env.db, "b_changed"));
        cr_assert_not(it_table_exists(env.db, "b"));
        cr_assert_not_null(rec);
        cr_assert_str_eq(rec, now,
                         "recorded a checksum of text that did "
                         "not run");
    } else {
        cr_assert_null(rec, "%s", it_err(db));
        cr_assert_not(it_table_exists(env.db, "b"));
        cr_assert_not(it_table_exists(env.db, "b_changed"));
    }
    free(rec);
    strata_close(db);
}
