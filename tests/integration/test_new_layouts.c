/*
 * test_new_layouts.c - strata_new (numbering, timestamps, never
 * overwriting) and the Diesel folder layout run end to end.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fnmatch.h>
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

TestSuite(new_layouts, .init = setup, .fini = teardown);

static int is_regular(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int exists_l(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A handle without a database, for strata_new. */
static strata *source_only(const char *dir)
{
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, dir), 0);
    strata *db = NULL;
    int rc = strata_open(&db, NULL, src, NULL);
    strata_source_free(src);
    cr_assert_eq(rc, 0, "%s", it_err(db));
    return db;
}

Test(new_layouts, fresh_directory_gets_0001)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/fresh", env.dir);
    strata *db = source_only(dir);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "create users", 0), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    char up[512], down[512];
    snprintf(up, sizeof up, "%s/0001_create_users.up.sql", dir);
    snprintf(down, sizeof down, "%s/0001_create_users.down.sql", dir);
    cr_assert_eq(rep->steps[0]->action, STRATA_ACTION_CREATE);
    cr_assert_str_eq(rep->steps[0]->version, "1");
    cr_assert_str_eq(rep->steps[0]->name, "create_users");
    cr_assert_str_eq(rep->steps[0]->file, up);
    cr_assert_str_eq(rep->steps[1]->file, down);
    strata_report_free(rep);
    cr_assert(is_regular(up));
    cr_assert(is_regular(down));
    strata_close(db);
}

Test(new_layouts, sequential_numbering_keeps_padding)
{
    it_mig(&env, "0001_a.sql", "CREATE TABLE a (x INT);\n");
    it_mig(&env, "0003_c.up.sql", "CREATE TABLE c (x INT);\n");
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "add_name", 0), 0, "%s", it_err(db));
    cr_assert_str_eq(rep->steps[0]->file,
                     it_mig_path(&env, "0004_add_name.up.sql"));
    cr_assert_str_eq(rep->steps[1]->file,
                     it_mig_path(&env, "0004_add_name.down.sql"));
    strata_report_free(rep);
    cr_assert(is_regular(it_mig_path(&env, "0004_add_name.up.sql")));
    cr_assert(is_regular(it_mig_path(&env, "0004_add_name.down.sql")));

    /* The generated pair is a valid (if empty) migration: status reads
     * it, and its empty up is refused rather than recorded. */
    strata_close(db);
    db = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->count, 3);
    cr_assert_str_eq(plan->migrations[2]->version, "4");
    strata_plan_free(plan);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EREFUSED), 0);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_str_eq(strata_last_error(db)->file,
                     it_mig_path(&env, "0004_add_name.up.sql"));
    strata_close(db);
}

Test(new_layouts, single_file_and_v_prefix)
{
    it_mig(&env, "V7__seven.sql", "CREATE TABLE a (x INT);\n");
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "eight", STRATA_NEW_SINGLE), 0, "%s",
                 it_err(db));
    cr_assert_eq(rep->count, 1);
    cr_assert_str_eq(rep->steps[0]->file, it_mig_path(&env, "V8__eight.sql"));
    strata_report_free(rep);
    size_t len = 0;
    char *text = it_read_file(it_mig_path(&env, "V8__eight.sql"), &len);
    cr_assert(strstr(text, "-- strata:up") != NULL);
    cr_assert(strstr(text, "-- strata:down") != NULL);
    free(text);
    strata_close(db);
}

Test(new_layouts, timestamp_gives_fourteen_digits)
{
    it_mig(&env, "0001_a.sql", "CREATE TABLE a (x INT);\n");
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "stamped", STRATA_NEW_TIMESTAMP), 0, "%s",
                 it_err(db));
    const char *base = strrchr(rep->steps[0]->file, '/') + 1;
    cr_assert_eq(fnmatch("[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
                         "[0-9][0-9][0-9][0-9]_stamped.up.sql",
                         base, 0),
                 0, "%s", base);
    cr_assert_eq(strlen(rep->steps[0]->version), 14);
    cr_assert_eq(strncmp(rep->steps[0]->version, base, 14), 0);
    cr_assert(is_regular(rep->steps[0]->file));
    strata_report_free(rep);
    strata_close(db);
}

Test(new_layouts, never_overwrites_or_follows_symlinks)
{
    it_mig(&env, "0003_x.sql", "CREATE TABLE x (x INT);\n");
    char target[256];
    snprintf(target, sizeof target, "%s/target.sql", env.dir);
    cr_assert_eq(symlink(target, it_mig_path(&env, "0004_name.up.sql")), 0,
                 "%s", strerror(errno));
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "name", 0), STRATA_EREFUSED, "%s",
                 it_err(db));
    cr_assert_null(rep);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_EXISTS);
    cr_assert_str_eq(strata_last_error(db)->file,
                     it_mig_path(&env, "0004_name.up.sql"));
    cr_assert_not(exists_l(target), "strata_new followed the symlink");
    cr_assert_not(exists_l(it_mig_path(&env, "0004_name.down.sql")));
    cr_assert_eq(unlink(it_mig_path(&env, "0004_name.up.sql")), 0);

    /* Something in the way of the down file: the up file is not left
     * behind either. */
    cr_assert_eq(mkdir(it_mig_path(&env, "0004_name.down.sql"), 0755), 0);
    rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "name", 0), STRATA_EREFUSED, "%s",
                 it_err(db));
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_EXISTS);
    cr_assert_str_eq(strata_last_error(db)->file,
                     it_mig_path(&env, "0004_name.down.sql"));
    cr_assert_not(exists_l(it_mig_path(&env, "0004_name.up.sql")),
                  "a half-created migration was left behind");
    strata_report_free(rep);

    /* A name that is not safe in a file name is refused. */
    rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "../escape", 0), STRATA_EUSAGE);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    strata_report_free(rep);
    strata_close(db);
}

Test(new_layouts, diesel_folders_end_to_end)
{
    it_mig(&env, "20170102000000_b/up.sql",
           "CREATE TABLE log (v TEXT);\nINSERT INTO log VALUES ('b');\n");
    it_mig(&env, "20170102000000_b/down.sql", "DROP TABLE log;\n");
    it_mig(&env, "2017-08-31-120000_a/up.sql",
           "INSERT INTO log VALUES ('a');\n");
    it_mig(&env, "2017-08-31-120000_a/down.sql",
           "DELETE FROM log WHERE v = 'a';\n");
    /* VACUUM cannot run inside a transaction: it only succeeds if the
     * metadata flag is honoured. */
    it_mig(&env, "2017-09-01-000000_c/up.sql",
           "INSERT INTO log VALUES ('c');\nVACUUM;\n");
    it_mig(&env, "2017-09-01-000000_c/metadata.toml",
           "# Diesel metadata\nrun_in_transaction = false\n");
    /* Versions order as strings, as Diesel does: "3" sorts last. */
    it_mig(&env, "3_z/up.sql", "INSERT INTO log VALUES ('z');\n");
    /* Loose files beside the folders are not migrations. */
    it_mig(&env, "README.md", "notes\n");
    it_mig(&env, "schema.sql", "this is not SQL at all\n");

    strata *db = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->count, 4);
    const char *versions[] = {"20170102000000", "20170831120000",
                              "20170901000000", "3"};
    const char *names[] = {"b", "a", "c", "z"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_str_eq(plan->migrations[i]->version, versions[i]);
        cr_assert_str_eq(plan->migrations[i]->name, names[i]);
        cr_assert_eq(plan->migrations[i]->no_transaction, i == 2,
                     "no_transaction of %s", versions[i]);
    }
    cr_assert_eq(plan->migrations[0]->reversible, 1);
    cr_assert_eq(plan->migrations[3]->reversible, 0);
    strata_plan_free(plan);

    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, NULL), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 4);
    cr_assert_str_eq(rep->to_version, "3");
    strata_report_free(rep);
    char *order = it_text(env.db, "SELECT group_concat(v, ',') FROM "
                                  "(SELECT v FROM log ORDER BY rowid)");
    cr_assert_str_eq(order, "b,a,c,z");
    free(order);
    char *detail = it_text(env.db, "SELECT detail FROM "
                                   "strata_migrations_history WHERE version "
                                   "= '20170901000000'");
    cr_assert_str_eq(detail, "no-transaction");
    free(detail);

    /* Down --to a folder version reverts what is above it, string-wise;
     * 3_z has no down script, so it must be refused as a whole. */
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = "2017-08-31-120000";
    rep = NULL;
    cr_assert_eq(strata_down(&rep, db, &o), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_NO_DOWN);
    cr_assert_str_eq(strata_last_error(db)->version, "3");
    strata_report_free(rep);
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 4);

    /* strata_new in a folder layout makes a timestamped folder. */
    rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "next", 0), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 2);
    const char *f = rep->steps[0]->file;
    cr_assert(strstr(f, "_next/up.sql") != NULL, "%s", f);
    cr_assert(is_regular(f));
    strata_report_free(rep);
    strata_close(db);
}

/* A timestamp in a Flyway-style directory keeps the V prefix, and the
 * report names the version the file really has. */
Test(new_layouts, timestamp_keeps_the_v_prefix)
{
    it_mig(&env, "V1__a.sql", "CREATE TABLE a (x INT);\n");
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "later", STRATA_NEW_TIMESTAMP), 0, "%s",
                 it_err(db));
    const char *base = strrchr(rep->steps[0]->file, '/') + 1;
    cr_assert_eq(fnmatch("V[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
                         "[0-9][0-9][0-9][0-9]__later.up.sql",
                         base, 0),
                 0, "%s", base);
    cr_assert_eq(strlen(rep->steps[0]->version), 14);
    cr_assert_eq(strncmp(rep->steps[0]->version, base + 1, 14), 0);
    strata_report_free(rep);
    strata_close(db);
}

/* A name that would change what the file is (x.down, a.b) is refused and
 * nothing is created. */
Test(new_layouts, names_with_dots_are_refused)
{
    strata *db = source_only(env.mig);
    strata_report *rep = NULL;
    cr_assert_eq(strata_new(&rep, db, "undo.down", STRATA_NEW_SINGLE),
                 STRATA_EUSAGE);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_OPTION);
    cr_assert_null(rep);
    cr_assert_not(exists_l(it_mig_path(&env, "0001_undo.down.sql")));
    strata_close(db);
}
