/*
 * test_concurrency.c - many processes migrating one SQLite file at once,
 * and the migration lock: its timeout, and its release when the holder
 * dies.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(concurrency, .init = setup, .fini = teardown);

#define NCHILD 16
#define NMIG 10

/* Waits for the start signal (EOF on the pipe), migrates, and exits with
 * the number of migrations it applied, or 100 + -code on failure. */
static int racer_in(int start_fd, const char *dir, const char *module)
{
    char c;
    while (read(start_fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(start_fd);
    strata_source *src = NULL;
    if (strata_source_from_dir(&src, dir) != 0)
        return 99;
    strata_options o = STRATA_OPTIONS_INIT;
    o.module = module;
    strata *db = NULL;
    int rc = strata_open(&db, env.url, src, &o);
    strata_source_free(src);
    strata_report *rep = NULL;
    if (rc == 0)
        rc = strata_up(&rep, db, NULL);
    if (rc != 0)
        fprintf(stderr, "racer %d: %s\n", (int)getpid(), it_err(db));
    int out = rc == 0 ? (int)rep->count : 100 - rc;
    strata_report_free(rep);
    strata_close(db);
    return out;
}

static int racer(int start_fd)
{
    return racer_in(start_fd, env.mig, NULL);
}

Test(concurrency, sixteen_processes_apply_each_migration_once)
{
    it_mig(&env, "01_proof.sql",
           "CREATE TABLE proof (v INTEGER);\nINSERT INTO proof VALUES (1);\n");
    for (int i = 2; i <= NMIG; i++) {
        char name[64], sql[128];
        snprintf(name, sizeof name, "%02d_m%d.sql", i, i);
        snprintf(sql, sizeof sql, "INSERT INTO proof VALUES (%d);\n", i);
        it_mig(&env, name, sql);
    }
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pids[NCHILD];
    fflush(NULL);
    for (int i = 0; i < NCHILD; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0, "fork: %s", strerror(errno));
        if (pids[i] == 0) {
            close(fds[1]);
            _exit(racer(fds[0]));
        }
    }
    close(fds[0]);
    close(fds[1]); /* every child wakes at once */
    int total = 0;
    for (int i = 0; i < NCHILD; i++) {
        int st = 0;
        cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
        cr_assert(WIFEXITED(st), "child %d died: status %d", i, st);
        int code = WEXITSTATUS(st);
        cr_assert_leq(code, NMIG, "child %d failed: exit %d", i, code);
        total += code;
    }
    cr_assert_eq(total, NMIG, "children applied %d migrations in all", total);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM proof", -1), NMIG);
    cr_assert_eq(it_scalar(env.db, "SELECT count(DISTINCT v) FROM proof", -1),
                 NMIG);
    char *order = it_text(env.db, "SELECT group_concat(v, ',') FROM "
                                  "(SELECT v FROM proof ORDER BY rowid)");
    cr_assert_str_eq(order, "1,2,3,4,5,6,7,8,9,10");
    free(order);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE state = 'applied'",
                           -1),
                 NMIG);
    char *versions = it_text(env.db, "SELECT group_concat(version, ',') FROM "
                                     "(SELECT version FROM strata_migrations "
                                     "ORDER BY CAST(version AS INTEGER))");
    cr_assert_str_eq(versions, "1,2,3,4,5,6,7,8,9,10");
    free(versions);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history",
                           -1),
                 NMIG);
}

/* Takes the whole lock file with an OFD lock: a different open file
 * description, so it conflicts even within this process. */
static int hold_lock(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s-strata-lock", env.db);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    cr_assert_eq(fcntl(fd, F_OFD_SETLK, &fl), 0, "lock: %s", strerror(errno));
    return fd;
}

static int saw(const it_events *ev, strata_event_type t)
{
    for (size_t i = 0; i < ev->count; i++)
        if (ev->items[i].type == t)
            return 1;
    return 0;
}

Test(concurrency, lock_timeout_applies_nothing)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    it_events ev;
    memset(&ev, 0, sizeof ev);
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 200;
    o.on_event = it_events_cb;
    o.event_payload = &ev;
    strata *db = it_open(&env, &o);
    int fd = hold_lock();
    char *before = it_snapshot(env.db);

    int64_t t0 = it_now_ms();
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    int64_t took = it_now_ms() - t0;
    strata_report_free(rep);
    cr_assert_eq(rc, STRATA_ELOCKED, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->code, STRATA_ELOCKED);
    cr_assert_neq(strata_last_error(db)->message[0], '\0');
    cr_assert_geq(took, 150, "gave up after %lld ms", (long long)took);
    cr_assert_lt(took, 10000, "waited %lld ms for a 200 ms timeout",
                 (long long)took);
    cr_assert(saw(&ev, STRATA_EVENT_LOCK_WAIT));
    cr_assert_not(saw(&ev, STRATA_EVENT_MIGRATION_START));
    char *after = it_snapshot(env.db);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);

    /* Other writers are refused the same way; status needs no lock. */
    rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), STRATA_ELOCKED);
    strata_report_free(rep);
    rep = NULL;
    cr_assert_eq(strata_baseline(&rep, db, "1"), STRATA_ELOCKED);
    strata_report_free(rep);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_eq(plan->migrations[0]->state, STRATA_STATE_PENDING);
    strata_plan_free(plan);

    /* Released, the same handle migrates. */
    close(fd);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
}

Test(concurrency, zero_timeout_fails_at_once)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 0;
    strata *db = it_open(&env, &o);
    int fd = hold_lock();
    int64_t t0 = it_now_ms();
    cr_assert_eq(it_up_expect(db, NULL, STRATA_ELOCKED), 0);
    cr_assert_lt(it_now_ms() - t0, 5000);
    close(fd);
    strata_close(db);
}

Test(concurrency, lock_is_released_when_the_holder_dies)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 200;
    strata *db = it_open(&env, &o);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        hold_lock();
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not take the lock");
    close(ready[0]);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_ELOCKED), 0);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
}

/* Another connection holding SQLite's write lock: the run waits at most
 * the timeout, fails without applying anything, and says the database was
 * busy. */
Test(concurrency, database_write_lock_held_elsewhere)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    it_exec(env.db, "CREATE TABLE other (x INT);");
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 200;
    strata *db = it_open(&env, &o);
    sqlite3 *c = NULL;
    cr_assert_eq(sqlite3_open(env.db, &c), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(c,
                              "BEGIN IMMEDIATE; INSERT INTO other "
                              "VALUES (1);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    int64_t t0 = it_now_ms();
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    int64_t took = it_now_ms() - t0;
    strata_report_free(rep);
    cr_assert_neq(rc, 0);
    cr_assert(rc == STRATA_ELOCKED || rc == STRATA_EFAILED, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->db_code & 0xff, SQLITE_BUSY, "%s",
                 it_err(db));
    cr_assert_lt(took, 10000);
    cr_assert_eq(sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    cr_assert_not(it_table_exists(env.db, "a"));
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    strata_close(db);
}

/* Two handles in one process exclude each other too: the event callback
 * of one (mid-run, holding the lock) tries to migrate through another. */
typedef struct nested {
    strata *other;
    int rc;
    int tried;
} nested;

static void try_other(const strata_event *ev, void *payload)
{
    nested *n = payload;
    if (ev->type != STRATA_EVENT_MIGRATION_START || n->tried)
        return;
    n->tried = 1;
    strata_report *rep = NULL;
    n->rc = strata_up(&rep, n->other, NULL);
    strata_report_free(rep);
}

Test(concurrency, two_handles_in_one_process_exclude_each_other)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INT);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INT);\n");
    nested n = {NULL, 0, 0};
    strata_options o2 = STRATA_OPTIONS_INIT;
    o2.lock_timeout_ms = 100;
    n.other = it_open(&env, &o2);
    strata_options o = STRATA_OPTIONS_INIT;
    o.on_event = try_other;
    o.event_payload = &n;
    strata *db = it_open(&env, &o);
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    cr_assert_eq(n.tried, 1);
    cr_assert_eq(n.rc, STRATA_ELOCKED, "the second handle got %d: %s", n.rc,
                 it_err(n.other));
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 2);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM "
                           "strata_migrations_history",
                           -1),
                 2);
    strata_close(n.other);
    strata_close(db);
}

/* Two modules racing on one file: each has its own lock, so both create
 * the shared tracking table and write to it at the same time. */
Test(concurrency, two_modules_race_on_one_database)
{
    char dirs[2][256];
    const char *modules[2] = {"alpha", "beta"};
    for (int m = 0; m < 2; m++) {
        snprintf(dirs[m], sizeof dirs[m], "%s/%s", env.dir, modules[m]);
        for (int i = 1; i <= 5; i++) {
            char name[64], sql[128];
            snprintf(name, sizeof name, "%d_m.sql", i);
            snprintf(sql, sizeof sql, "CREATE TABLE %s_%d (x INT);\n",
                     modules[m], i);
            it_write(dirs[m], name, sql);
        }
    }
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pids[8];
    fflush(NULL);
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0);
        if (pids[i] == 0) {
            close(fds[1]);
            _exit(racer_in(fds[0], dirs[i % 2], modules[i % 2]));
        }
    }
    close(fds[0]);
    close(fds[1]);
    int total[2] = {0, 0};
    for (int i = 0; i < 8; i++) {
        int st = 0;
        cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
        cr_assert(WIFEXITED(st));
        cr_assert_leq(WEXITSTATUS(st), 5, "child %d failed: exit %d", i,
                      WEXITSTATUS(st));
        total[i % 2] += WEXITSTATUS(st);
    }
    cr_assert_eq(total[0], 5);
    cr_assert_eq(total[1], 5);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE module = 'alpha'",
                           -1),
                 5);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations "
                           "WHERE module = 'beta'",
                           -1),
                 5);
    cr_assert(it_table_exists(env.db, "beta_5"));
}
