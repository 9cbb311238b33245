/*
 * test_open.c - databases and sources that cannot be used: a missing
 * migrations folder, a database in a missing directory, a file that is not
 * SQLite, a bad URL, and a database the process may only read.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

TestSuite(open, .init = setup, .fini = teardown);

Test(open, missing_migrations_directory_is_a_usage_error)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/no-such-dir", env.dir);
    strata *db = it_open_dir(&env, dir, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), STRATA_EUSAGE, "%s", it_err(db));
    cr_assert_null(plan);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_IO);
    cr_assert_str_eq(strata_last_error(db)->file, dir);
    strata_report *rep = NULL;
    cr_assert_eq(strata_up(&rep, db, NULL), STRATA_EUSAGE, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_IO);
    strata_report_free(rep);
    struct stat sb;
    cr_assert_neq(stat(env.db, &sb), 0, "the database file was created");
    char lock[600];
    snprintf(lock, sizeof lock, "%s-strata-lock", env.db);
    cr_assert_neq(stat(lock, &sb), 0, "the lock file was created");
    strata_close(db);
}

Test(open, database_in_a_missing_directory)
{
    char url[512];
    snprintf(url, sizeof url, "sqlite://%s/nope/sub/test.db", env.dir);
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    strata *db = NULL;
    int rc = strata_open(&db, url, src, NULL);
    strata_source_free(src);
    cr_assert_not_null(db, "a failed open still returns a handle");
    cr_assert_eq(rc, STRATA_ECONNECT);
    cr_assert_eq(strata_last_error(db)->code, STRATA_ECONNECT);
    cr_assert_neq(strata_last_error(db)->message[0], '\0');
    /* The handle refuses further work instead of crashing. */
    strata_plan *plan = NULL;
    cr_assert_neq(strata_status(&plan, db), 0);
    cr_assert_null(plan);
    strata_close(db);
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/nope", env.dir);
    cr_assert_neq(stat(path, &st), 0, "open created the directory");
}

Test(open, file_that_is_not_sqlite)
{
    char text[8192] = "";
    for (int i = 0; i < 200; i++)
        strcat(text, "this is not a database\n");
    it_write(env.dir, "test.db", text);
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    strata *db = NULL;
    int rc = strata_open(&db, env.url, src, NULL);
    strata_source_free(src);
    cr_assert_not_null(db);
    cr_assert_eq(rc, STRATA_ECONNECT, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_NOT_A_DATABASE,
                 "%s", it_err(db));
    cr_assert_neq(strata_last_error(db)->db_message[0], '\0');
    strata_close(db);
    size_t len = 0;
    char *after = it_read_file(env.db, &len);
    cr_assert_str_eq(after, text, "the file was changed");
    free(after);
}

Test(open, bad_urls)
{
    const char *urls[] = {"mysql://localhost/x", "no-scheme.db", "sqlite:"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        strata *db = NULL;
        int rc = strata_open(&db, urls[i], NULL, NULL);
        cr_assert_not_null(db);
        cr_assert_eq(rc, STRATA_EUSAGE, "%s: %s", urls[i], it_err(db));
        cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_BAD_URL,
                     "%s: %s", urls[i], it_err(db));
        strata_close(db);
    }
}

Test(open, relative_url_and_sqlite3_scheme)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    char cwd[1024];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(env.dir), 0);
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, "migrations"), 0);
    strata *db = NULL;
    int rc = strata_open(&db, "sqlite3:test.db", src, NULL);
    strata_source_free(src);
    cr_assert_eq(rc, 0, "%s", it_err(db));
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert(it_table_exists(env.db, "a"));
}

/*
 * Read-only: the child drops to an unprivileged user (root may write any
 * file) or, when not root, the file is made 0444. It must be able to read
 * the status but not to migrate.
 */
enum {
    RO_OK = 0,
    RO_OPEN = 10,
    RO_STATUS,
    RO_UP_CODE,
    RO_UP_REASON,
    RO_SETUID
};

static int read_only_child(void)
{
    if (geteuid() == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            return RO_SETUID;
    }
    strata_source *src = NULL;
    if (strata_source_from_dir(&src, env.mig) != 0)
        return RO_OPEN;
    strata *db = NULL;
    int rc = strata_open(&db, env.url, src, NULL);
    strata_source_free(src);
    if (rc != 0) {
        fprintf(stderr, "open: %s\n", it_err(db));
        strata_close(db);
        return RO_OPEN;
    }
    int result = RO_OK;
    strata_plan *plan = NULL;
    rc = strata_status(&plan, db);
    if (rc != 0 || plan->count != 2 ||
        plan->migrations[0]->state != STRATA_STATE_APPLIED ||
        plan->migrations[1]->state != STRATA_STATE_PENDING) {
        fprintf(stderr, "status: rc %d %s\n", rc, it_err(db));
        result = RO_STATUS;
    }
    strata_plan_free(plan);
    strata_report *rep = NULL;
    if (result == RO_OK) {
        rc = strata_up(&rep, db, NULL);
        if (rc != STRATA_ECONNECT) {
            fprintf(stderr, "up: rc %d %s\n", rc, it_err(db));
            result = RO_UP_CODE;
        } else if (strata_last_error(db)->reason != STRATA_REASON_READ_ONLY) {
            fprintf(stderr, "up: %s\n", it_err(db));
            result = RO_UP_REASON;
        }
    }
    strata_report_free(rep);
    strata_close(db);
    return result;
}

Test(open, read_only_database_can_be_read_not_migrated)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    char *before = it_snapshot(env.db);

    char lock[256];
    snprintf(lock, sizeof lock, "%s-strata-lock", env.db);
    cr_assert_eq(chmod(env.dir, 0755), 0);
    cr_assert_eq(chmod(env.mig, 0755), 0);
    cr_assert_eq(chmod(it_mig_path(&env, "1_a.sql"), 0644), 0);
    cr_assert_eq(chmod(it_mig_path(&env, "2_b.sql"), 0644), 0);
    cr_assert_eq(chmod(env.db, geteuid() == 0 ? 0644 : 0444), 0);
    if (geteuid() != 0)
        cr_assert_eq(chmod(env.dir, 0555), 0);

    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(read_only_child());
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    chmod(env.dir, 0700);
    cr_assert(WIFEXITED(status), "child died: status %d", status);
    cr_assert_eq(WEXITSTATUS(status), RO_OK,
                 "child failed at step %d (10 open, 11 status, 12 up code, "
                 "13 up reason, 14 setuid)",
                 WEXITSTATUS(status));
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    cr_assert_not(it_table_exists(env.db, "b"));
}
