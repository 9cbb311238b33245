/*
 * test_startup.c - migrating at startup: strata_migrate()'s outcomes, a run
 * on the worker thread driven from a poll loop, cancel between migrations,
 * the readiness check, and embedded sets against real SQLite files.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static it_env env;

static void setup(void)
{
    it_env_init(&env);
}

static void teardown(void)
{
    it_env_cleanup(&env);
}

TestSuite(startup, .init = setup, .fini = teardown);

/* SQLite has no sleep: a recursive count that takes a noticeable time. */
#define SLOW                                                                   \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "          \
    "WHERE x < 300000) SELECT count(*) FROM c;\n"

static strata_source *dir_source(void)
{
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, env.mig), 0);
    return src;
}

static strata_result *migrate(int want)
{
    strata_source *src = dir_source();
    strata_result *res = NULL;
    int rc = strata_migrate(&res, env.url, src, NULL);
    strata_source_free(src);
    cr_assert_not_null(res);
    cr_assert_eq(rc, want, "migrate returned %d (%s): %s", rc,
                 strata_outcome_name(res->outcome), res->error->message);
    cr_assert_eq(res->code, rc);
    return res;
}

Test(startup, migrate_reports_each_outcome)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    strata_result *res = migrate(STRATA_OK);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_APPLIED);
    cr_assert_eq(res->applied, 2);
    cr_assert_str_eq(res->from_version, "0");
    cr_assert_str_eq(res->to_version, "2");
    cr_assert_eq(res->error->code, 0);
    strata_result_free(res);

    res = migrate(STRATA_OK);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_UP_TO_DATE);
    cr_assert_eq(res->applied, 0);
    cr_assert_str_eq(res->to_version, "2");
    strata_result_free(res);

    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER, y);\n");
    res = migrate(STRATA_EREFUSED);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_REFUSED);
    cr_assert_eq(res->error->reason, STRATA_REASON_MODIFIED);
    cr_assert(strstr(res->error->file, "2_b.sql") != NULL);
    strata_result_free(res);

    it_mig(&env, "2_b.sql", "CREATE TABLE b (x INTEGER);\n");
    it_mig(&env, "3_c.sql",
           "CREATE TABLE c (x);\nINSERT INTO nope VALUES (1);\n");
    res = migrate(STRATA_EFAILED);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_FAILED);
    cr_assert_eq(res->error->line, 2);
    cr_assert(strstr(res->error->db_message, "nope") != NULL);
    cr_assert_not(it_table_exists(env.db, "c"));
    strata_result_free(res);
}

Test(startup, migrate_fails_cleanly_without_a_database)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    strata_source *src = dir_source();
    strata_result *res = NULL;
    char url[300];
    snprintf(url, sizeof url, "sqlite://%s/no/such/dir/x.db", env.dir);
    cr_assert_eq(strata_migrate(&res, url, src, NULL), STRATA_ECONNECT);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_FAILED);
    cr_assert_null(res->report);
    cr_assert_str_eq(res->from_version, "");
    cr_assert_neq(res->error->message[0], '\0');
    strata_result_free(res);
    strata_source_free(src);
}

typedef struct done_seen {
    atomic_int calls;
    pthread_t thread;
    strata_outcome outcome;
} done_seen;

static void on_done(const strata_result *res, void *payload)
{
    done_seen *d = payload;
    d->thread = pthread_self();
    d->outcome = res->outcome;
    atomic_fetch_add(&d->calls, 1);
}

Test(startup, run_from_a_poll_loop)
{
    for (int i = 1; i <= 4; i++) {
        char name[32], sql[512];
        snprintf(name, sizeof name, "%d_m%d.sql", i, i);
        snprintf(sql, sizeof sql, "CREATE TABLE t%d (x);\n%s", i, SLOW);
        it_mig(&env, name, sql);
    }
    strata_source *src = dir_source();
    done_seen d = {0};
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, env.url, src, NULL, on_done, &d), 0);
    strata_source_free(src); /* the run keeps its own copy */
    cr_assert_null(strata_run_result(run));
    size_t last_done = 0, total = 0, polls = 0;
    struct pollfd pfd = {strata_run_fd(run), POLLIN, 0};
    for (;;) {
        int n = poll(&pfd, 1, 20);
        cr_assert_geq(n, 0);
        size_t done = 0;
        strata_run_progress(run, &done, &total);
        cr_assert_geq(done, last_done, "progress went back");
        last_done = done;
        polls++;
        if (n == 1)
            break;
        cr_assert_lt(polls, 3000, "the run did not end within a minute");
    }
    cr_assert(pfd.revents & POLLIN);
    cr_assert_eq(strata_run_wait(run, 0), 1);
    const strata_result *res = strata_run_result(run);
    cr_assert_not_null(res);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_APPLIED, "%s",
                 res->error->message);
    cr_assert_eq(res->applied, 4);
    size_t done = 0;
    strata_run_progress(run, &done, &total);
    cr_assert_eq(done, 4);
    cr_assert_eq(total, 4);
    cr_assert_eq(atomic_load(&d.calls), 1);
    cr_assert_eq(d.outcome, STRATA_OUTCOME_APPLIED);
    cr_assert_not(pthread_equal(d.thread, pthread_self()),
                  "done ran on the caller's thread");
    /* Still readable: an event loop may look again. */
    cr_assert_eq(poll(&pfd, 1, 0), 1);
    strata_run_free(run);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 4);
}

/* Cancels from the event callback as soon as the first migration is done:
 * the run stops before the second, which must not have started. */
static void cancel_after_first(const strata_event *ev, void *payload)
{
    strata_run **run = payload;
    if (ev->type == STRATA_EVENT_MIGRATION_DONE && *run != NULL)
        strata_run_cancel(*run);
}

Test(startup, cancel_stops_between_migrations)
{
    for (int i = 1; i <= 3; i++) {
        char name[32], sql[512];
        snprintf(name, sizeof name, "%d_m%d.sql", i, i);
        snprintf(sql, sizeof sql, "CREATE TABLE t%d (x);\n%s", i, SLOW);
        it_mig(&env, name, sql);
    }
    strata_source *src = dir_source();
    static strata_run *run; /* read by the worker's event callback */
    run = NULL;
    strata_options o = STRATA_OPTIONS_INIT;
    o.on_event = cancel_after_first;
    o.event_payload = &run;
    /* The callback may fire before `run` is set: take the lock on the
     * database first so the worker waits until we are ready. */
    sqlite3 *hold = NULL;
    cr_assert_eq(sqlite3_open(env.db, &hold), SQLITE_OK);
    /* The worker may be reading when we commit: wait for its shared lock
     * rather than fail with SQLITE_BUSY. */
    sqlite3_busy_timeout(hold, 10000);
    cr_assert_eq(sqlite3_exec(hold, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                 SQLITE_OK);
    strata_run *r = NULL;
    cr_assert_eq(strata_run_start(&r, env.url, src, &o, NULL, NULL), 0);
    run = r;
    cr_assert_eq(sqlite3_exec(hold, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(hold);
    strata_source_free(src);
    cr_assert_eq(strata_run_wait(r, 60000), 1);
    const strata_result *res = strata_run_result(r);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_CANCELLED, "%s (%s)",
                 strata_outcome_name(res->outcome), res->error->message);
    cr_assert_eq(res->code, STRATA_ECANCELLED);
    cr_assert_eq(res->applied, 1);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 1);
    cr_assert(it_table_exists(env.db, "t1"));
    cr_assert_not(it_table_exists(env.db, "t2"));
    strata_run_free(r);

    /* The next start takes up where the cancelled one stopped. */
    strata_result *again = migrate(STRATA_OK);
    cr_assert_eq(again->applied, 2);
    strata_result_free(again);
}

Test(startup, free_while_running_cancels_and_joins)
{
    for (int i = 1; i <= 3; i++) {
        char name[32], sql[512];
        snprintf(name, sizeof name, "%d_m%d.sql", i, i);
        snprintf(sql, sizeof sql, "CREATE TABLE t%d (x);\n%s", i, SLOW);
        it_mig(&env, name, sql);
    }
    strata_source *src = dir_source();
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, env.url, src, NULL, NULL, NULL), 0);
    strata_source_free(src);
    strata_run_free(run); /* must not crash, leak or cut a migration */
    strata_result *res = migrate(STRATA_OK);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM strata_migrations", 0),
                 3);
    strata_result_free(res);
}

Test(startup, events_of_a_run_with_a_failure)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x);\nSELEC 1;\n");
    static it_events ev;
    memset(&ev, 0, sizeof ev);
    strata_options o = STRATA_OPTIONS_INIT;
    o.on_event = it_events_cb;
    o.event_payload = &ev;
    strata_source *src = dir_source();
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, env.url, src, &o, NULL, NULL), 0);
    strata_source_free(src);
    cr_assert_eq(strata_run_wait(run, -1), 1);
    strata_run_free(run);
    strata_event_type want[] = {
        STRATA_EVENT_LOCK_ACQUIRED,   STRATA_EVENT_RUN_START,
        STRATA_EVENT_MIGRATION_START, STRATA_EVENT_MIGRATION_DONE,
        STRATA_EVENT_MIGRATION_START, STRATA_EVENT_MIGRATION_FAIL,
        STRATA_EVENT_RUN_DONE};
    cr_assert_eq(ev.count, sizeof want / sizeof want[0], "%zu events",
                 ev.count);
    for (size_t i = 0; i < ev.count; i++)
        cr_assert_eq(ev.items[i].type, want[i], "event %zu is %d", i,
                     ev.items[i].type);
    cr_assert_eq(ev.items[5].error_line, 2);
    cr_assert_eq(ev.items[5].index, 2);
    cr_assert_eq(ev.items[5].total, 2);
    cr_assert(ev.items[6].has_error);
}

Test(startup, check_says_whether_the_database_is_current)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x);\n");
    strata *db = it_open(&env, NULL);
    cr_assert_eq(strata_check(db), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_PENDING);
    cr_assert_str_eq(strata_last_error(db)->version, "1");
    struct stat sb;
    cr_assert_neq(stat(env.db, &sb), 0, "check created the database");
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    cr_assert_eq(strata_check(db), STRATA_OK, "%s", it_err(db));
    it_mig(&env, "2_b.sql", "CREATE TABLE b (y);\n");
    cr_assert_eq(strata_check(db), STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, STRATA_REASON_MODIFIED);
    strata_close(db);
}

/* A set built by hand, as the generator would: the database migrated from
 * it and from the directory holding the same files is the same. */
Test(startup, embedded_set_plans_like_its_directory)
{
    static const char up1[] = "CREATE TABLE a (x);\r\n";
    static const char both[] = "-- strata:up\nCREATE TABLE b (x);\n"
                               "-- strata:down\nDROP TABLE b;\n";
    static const strata_embedded_file files[] = {
        {"0001_a.up.sql", up1, sizeof up1 - 1, NULL},
        {"0002_b.sql", both, sizeof both - 1, NULL},
    };
    strata_embedded set = {
        .version = 2, .dir = "migrations", .count = 2, .files = files};
    it_write(env.mig, "0001_a.up.sql", up1);
    it_write(env.mig, "0002_b.sql", both);

    strata_source *emb = NULL;
    cr_assert_eq(strata_source_from_embedded(&emb, &set), 0);
    strata_result *res = NULL;
    cr_assert_eq(strata_migrate(&res, env.url, emb, NULL), 0, "%s",
                 res ? res->error->message : "");
    cr_assert_eq(res->applied, 2);
    cr_assert_str_eq(res->report->steps[1]->file, "migrations/0002_b.sql");
    strata_result_free(res);

    /* The directory sees the same migrations applied, same checksums. */
    strata *db = it_open(&env, NULL);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0);
    cr_assert_eq(plan->count, 2);
    for (size_t i = 0; i < plan->count; i++)
        cr_assert_eq(plan->migrations[i]->state, STRATA_STATE_APPLIED,
                     "migration %zu is %s", i,
                     strata_state_name(plan->migrations[i]->state));
    strata_plan_free(plan);
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    strata_report_free(rep);
    strata_close(db);

    /* And back up from the set: its down ran from the directory. */
    strata *edb = NULL;
    cr_assert_eq(strata_open(&edb, env.url, emb, NULL), 0);
    cr_assert_eq(strata_check(edb), STRATA_EREFUSED);
    cr_assert_eq(it_up_expect(edb, NULL, 0), 1);
    cr_assert_eq(strata_check(edb), 0);
    strata_close(edb);
    strata_source_free(emb);

    /* An unsorted set is refused. */
    static const strata_embedded_file bad[] = {
        {"0002_b.sql", both, sizeof both - 1, NULL},
        {"0001_a.up.sql", up1, sizeof up1 - 1, NULL},
    };
    strata_embedded unsorted = {
        .version = 2, .dir = "m", .count = 2, .files = bad};
    strata_source *s2 = NULL;
    cr_assert_eq(strata_source_from_embedded(&s2, &unsorted), STRATA_EUSAGE);
    cr_assert_null(s2);
}

/* A version 3 set, laid out by hand as the generator does: one object of
 * paths, checksums and bytes, and entries of offsets into it. It migrates
 * like the same files as a version 2 table of pointers, reads back file by
 * file through strata_embedded_file_at(), and every entry that does not
 * fit in the object is refused when the source is made. */
static const struct v3_bytes {
    char path_0[14];
    char path_1[11];
    char sum_0[65];
    char sum_1[65];
    char data_0[22];
    char data_1[63];
} v3_bytes = {
    "0001_a.up.sql",
    "0002_b.sql",
    "59d7a8d5ad7d6e4be2e4b8b0b6b3c33ccd4f27f1ac2ef9d87a6a0bd2e6ac6b1d",
    "b9e2c4dd4a7dce0dbf5b7b1e5d0f1c1c9b6c6b1b5b2b0e0d1c4d0f2a1b3c4d5e",
    "CREATE TABLE a (x);\r\n",
    "-- strata:up\nCREATE TABLE b (x);\n-- strata:down\nDROP TABLE b;\n",
};
#define V3_AT(member) offsetof(struct v3_bytes, member)
static const strata_embedded_entry v3_entries[] = {
    {V3_AT(path_0), V3_AT(data_0), 21, V3_AT(sum_0)},
    {V3_AT(path_1), V3_AT(data_1), 62, V3_AT(sum_1)},
};

Test(startup, embedded_set_of_offsets)
{
    /* The checksums above are placeholders: the real ones go in. */
    static struct v3_bytes bytes;
    bytes = v3_bytes;
    it_sha256_text("CREATE TABLE a (x);\n", 20, bytes.sum_0);
    it_sha256_text(v3_bytes.data_1, 62, bytes.sum_1);
    strata_embedded set = {.version = 3,
                           .dir = "migrations",
                           .count = 2,
                           .entries = v3_entries,
                           .bytes = (const char *)&bytes,
                           .bytes_size = sizeof bytes};
    strata_embedded_file f;
    cr_assert_eq(strata_embedded_file_at(&set, 1, &f), 0);
    cr_assert_str_eq(f.path, "0002_b.sql");
    cr_assert_eq(f.size, 62);
    cr_assert_eq(memcmp(f.data, v3_bytes.data_1, 63), 0);
    cr_assert_str_eq(f.checksum, bytes.sum_1);
    cr_assert_eq(strata_embedded_file_at(&set, 2, &f), STRATA_EUSAGE);
    cr_assert_eq(strata_embedded_file_at(NULL, 0, &f), STRATA_EUSAGE);
    cr_assert_eq(strata_embedded_file_at(&set, 0, NULL), STRATA_EUSAGE);

    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_embedded(&src, &set), 0);
    strata_result *res = NULL;
    cr_assert_eq(strata_migrate(&res, env.url, src, NULL), 0, "%s",
                 res ? res->error->message : "");
    cr_assert_eq(res->applied, 2);
    cr_assert_str_eq(res->report->steps[0]->file, "migrations/0001_a.up.sql");
    strata_result_free(res);
    strata_source_free(src);

    /* The same files as a version 2 table, whose checksums are computed:
     * up to date, so the given ones were right. */
    const strata_embedded_file files[] = {
        {"0001_a.up.sql", v3_bytes.data_0, 21, NULL},
        {"0002_b.sql", v3_bytes.data_1, 62, NULL},
    };
    strata_embedded v2 = {
        .version = 2, .dir = "migrations", .count = 2, .files = files};
    cr_assert_eq(strata_embedded_file_at(&v2, 0, &f), 0);
    cr_assert_eq(f.data, v3_bytes.data_0);
    cr_assert_eq(strata_source_from_embedded(&src, &v2), 0);
    strata *db = NULL;
    cr_assert_eq(strata_open(&db, env.url, src, NULL), 0);
    cr_assert_eq(strata_check(db), 0, "%s", it_err(db));
    strata_report *rep = NULL;
    cr_assert_eq(strata_down(&rep, db, NULL), 0, "%s", it_err(db));
    cr_assert_eq(rep->count, 1);
    strata_report_free(rep);
    strata_close(db);
    strata_source_free(src);

    /* The checksums given are the ones used, not worked out again. */
    static struct v3_bytes fake;
    fake = bytes;
    memset(fake.sum_0, 'a', 64);
    strata_embedded faked = set;
    faked.bytes = (const char *)&fake;
    cr_assert_eq(strata_source_from_embedded(&src, &faked), 0);
    cr_assert_eq(strata_open(&db, env.url, src, NULL), 0);
    strata_plan *plan = NULL;
    cr_assert_eq(strata_status(&plan, db), 0, "%s", it_err(db));
    cr_assert_str_eq(plan->migrations[0]->checksum, fake.sum_0);
    strata_plan_free(plan);
    strata_close(db);
    strata_source_free(src);

    /* Entries that do not fit, or out of order: each case is one change
     * to the good table, and the good table passes. */
    static const struct {
        const char *what;
        size_t entry, field, value; /* field: 0 path 1 data 2 size 3 sum */
        size_t cut;                 /* bytes_size = sizeof bytes - cut */
    } cases[] = {
        {"a path past the end", 1, 0, sizeof bytes + 5, 0},
        {"a path at the end", 1, 0, sizeof bytes, 0},
        /* Past the last NUL, all else fitting: "strata:up\n..." sorts
         * after "0001_a.up.sql". */
        {"a path without its NUL", 1, 0, V3_AT(data_1) + 3, 1},
        {"data past the end", 1, 1, sizeof bytes + 1, 0},
        {"data at the end", 1, 1, sizeof bytes, 0},
        {"data without room for its NUL", 1, 2, 63, 0},
        {"a size that wraps", 1, 2, (size_t)-1, 0},
        {"a checksum past the end", 0, 3, (size_t)-1, 0},
        {"a checksum without its NUL", 0, 3, sizeof bytes - 64, 0},
        {"a repeated path", 0, 0, V3_AT(path_1), 0},
    };
    strata_embedded_entry bad[2];
    strata_embedded b = set;
    b.entries = bad;
    for (size_t i = 0; i <= sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, v3_entries, sizeof bad);
        b.bytes_size = sizeof bytes;
        int control = i == sizeof cases / sizeof cases[0];
        if (!control) {
            size_t *fields[] = {
                &bad[cases[i].entry].path, &bad[cases[i].entry].data,
                &bad[cases[i].entry].size, &bad[cases[i].entry].checksum};
            *fields[cases[i].field] = cases[i].value;
            b.bytes_size -= cases[i].cut;
            if (cases[i].cut) /* keep the rest of entry 1 inside */
                bad[1].data = V3_AT(data_0), bad[1].size = 21;
        }
        src = NULL;
        cr_assert_eq(strata_source_from_embedded(&src, &b),
                     control ? 0 : STRATA_EUSAGE, "%s",
                     control ? "the good table" : cases[i].what);
        cr_assert((src != NULL) == control);
        strata_source_free(src);
    }
    bad[0] = v3_entries[1];
    bad[1] = v3_entries[0];
    cr_assert_eq(strata_source_from_embedded(&src, &b), STRATA_EUSAGE,
                 "unsorted: accepted");

    /* A version 3 set may give a table of pointers instead; with neither,
     * or without its bytes, it is refused. */
    strata_embedded both = set;
    both.files = files;
    cr_assert_eq(strata_source_from_embedded(&src, &both), 0);
    strata_source_free(src);
    cr_assert_eq(strata_embedded_file_at(&both, 0, &f), 0);
    cr_assert_eq(f.data, v3_bytes.data_0, "read the offsets, not the table");
    strata_embedded no_entries = set;
    no_entries.entries = NULL;
    strata_embedded no_bytes = set;
    no_bytes.bytes = NULL;
    src = NULL;
    cr_assert_eq(strata_source_from_embedded(&src, &no_entries), STRATA_EUSAGE);
    cr_assert_eq(strata_source_from_embedded(&src, &no_bytes), STRATA_EUSAGE);

    /* Any known version reads through strata_embedded_file_at(). */
    strata_embedded v1 = v2;
    v1.version = 1;
    cr_assert_eq(strata_embedded_file_at(&v1, 1, &f), 0);
    cr_assert_eq(f.data, v3_bytes.data_1);
    v1.version = 0;
    cr_assert_eq(strata_embedded_file_at(&v1, 0, &f), STRATA_EUSAGE);
    v1.version = STRATA_EMBED_VERSION + 1;
    cr_assert_eq(strata_embedded_file_at(&v1, 0, &f), STRATA_EUSAGE);

    /* No files: a source that plans nothing, on a database of its own. */
    strata_embedded empty = {.version = 3, .dir = "m"};
    char url[256];
    snprintf(url, sizeof url, "sqlite://%s/empty.db", env.dir);
    cr_assert_eq(strata_source_from_embedded(&src, &empty), 0);
    strata_result *none = NULL;
    cr_assert_eq(strata_migrate(&none, url, src, NULL), 0, "%s",
                 none ? none->error->message : "");
    cr_assert_eq(none->applied, 0);
    strata_result_free(none);
    strata_source_free(src);
}
#undef V3_AT

/* The state digest a set carries is what the tracking rows of an
 * up-to-date database hash to, worked out here with OpenSSL from the
 * table itself. A start answers from it; a digest that does not match
 * the rows only costs the whole plan, never a wrong answer. */
static int add_row_line(void *payload, int ncols, char **v, char **names)
{
    (void)ncols;
    (void)names;
    char *text = payload;
    size_t n = strlen(text);
    snprintf(text + n, 4096 - n, "%s %s %s\n", v[0], v[1], v[2]);
    return 0;
}

static void rows_digest(const char *path, char out[65])
{
    sqlite3 *s = NULL;
    char text[4096] = "";
    cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(s,
                              "SELECT version, checksum, state FROM "
                              "strata_migrations ORDER BY version",
                              add_row_line, text, NULL),
                 SQLITE_OK);
    sqlite3_close(s);
    it_sha256_text(text, strlen(text), out);
}

static int migrate_set(const strata_embedded *set, strata_result **res)
{
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_embedded(&src, set), 0);
    int rc = strata_migrate(res, env.url, src, NULL);
    strata_source_free(src);
    return rc;
}

Test(startup, embedded_state_digest_answers_a_start)
{
    static const char a[] = "CREATE TABLE a (x);\n";
    static const char b[] = "CREATE TABLE b (x);\n";
    static const strata_embedded_file files[] = {
        {"0009_a.sql", a, sizeof a - 1, NULL},
        {"0010_b.sql", b, sizeof b - 1, NULL},
    };
    /* Versions in byte order ("10" before "9"), each file's SHA-256. */
    char sa[65], sb[65], lines[256], want[65];
    it_sha256_text(a, sizeof a - 1, sa);
    it_sha256_text(b, sizeof b - 1, sb);
    snprintf(lines, sizeof lines, "10 %s applied\n9 %s applied\n", sb, sa);
    it_sha256_text(lines, strlen(lines), want);

    strata_embedded set = {.version = 2,
                           .dir = "m",
                           .count = 2,
                           .files = files,
                           .state_digest = want,
                           .head_version = "10"};
    strata_result *res = NULL;
    cr_assert_eq(migrate_set(&set, &res), 0, "%s", res->error->message);
    cr_assert_eq(res->applied, 2);
    cr_assert_str_eq(res->to_version, "10");
    strata_result_free(res);
    char have[65];
    rows_digest(env.db, have);
    cr_assert_str_eq(have, want, "the rows do not hash as the set says");

    /* Up to date: answered at the head version. */
    cr_assert_eq(migrate_set(&set, &res), 0);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_UP_TO_DATE);
    cr_assert_str_eq(res->from_version, "10");
    strata_result_free(res);

    /* A digest that does not match: the whole plan gives the same answer. */
    char other[65];
    it_sha256_text("x", 1, other);
    strata_embedded stale = set;
    stale.state_digest = other;
    cr_assert_eq(migrate_set(&stale, &res), 0);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_UP_TO_DATE);
    cr_assert_str_eq(res->from_version, "10");
    strata_result_free(res);

    /* Without one (and as version 1) the set is read at startup. */
    strata_embedded plain = set;
    plain.state_digest = plain.head_version = NULL;
    cr_assert_eq(migrate_set(&plain, &res), 0);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_UP_TO_DATE);
    strata_result_free(res);
    strata_embedded v1 = {.version = 1, .dir = "m", .count = 2, .files = files};
    cr_assert_eq(migrate_set(&v1, &res), 0);
    cr_assert_str_eq(res->from_version, "10");
    strata_result_free(res);

    /* A row the set does not know of: refused as missing, not up to date. */
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open(env.db, &s), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(s,
                              "INSERT INTO strata_migrations SELECT module, "
                              "'11', 'c', checksum, state, applied_at, "
                              "execution_ms, applied_by FROM "
                              "strata_migrations WHERE version = '10'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(s);
    cr_assert_eq(migrate_set(&set, &res), STRATA_EREFUSED);
    cr_assert_eq(res->error->reason, STRATA_REASON_MISSING);
    strata_result_free(res);

    /* Malformed records are refused when the source is made. */
    static const char *const bad_digests[] = {
        "", "xyz",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"};
    for (size_t i = 0; i < sizeof bad_digests / sizeof bad_digests[0]; i++) {
        strata_embedded bad = set;
        bad.state_digest = bad_digests[i];
        strata_source *src = NULL;
        cr_assert_eq(strata_source_from_embedded(&src, &bad), STRATA_EUSAGE,
                     "digest '%s' accepted", bad_digests[i]);
        cr_assert_null(src);
    }
    strata_embedded headless = set;
    headless.head_version = NULL;
    strata_embedded later = set;
    later.version = STRATA_EMBED_VERSION + 1;
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_embedded(&src, &headless), STRATA_EUSAGE);
    cr_assert_eq(strata_source_from_embedded(&src, &later), STRATA_EUSAGE);
}

/* Cancels `run`, which waits for something, and checks that the cancel
 * ended the wait (`why`, in the message) with nothing applied; frees it. */
static void cancel_ends_the_wait(strata_run *run, const char *why)
{
    strata_run_cancel(run);
    cr_assert_eq(strata_run_wait(run, 30000), 1, "the cancel ended the wait");
    const strata_result *res = strata_run_result(run);
    cr_assert_eq(res->code, STRATA_ECANCELLED, "%d: %s", res->code,
                 res->error->message);
    cr_assert_eq(res->outcome, STRATA_OUTCOME_CANCELLED);
    cr_assert(strstr(res->error->message, why) != NULL, "%s",
              res->error->message);
    cr_assert_eq(res->applied, 0);
    strata_run_free(run);
}

/* The wait for a PostgreSQL server that does not answer ends at a cancel,
 * not when its time runs out (no server: a socket directory of our own
 * where none listens). */
Test(startup, cancel_ends_a_wait_for_the_server)
{
    void *libpq = dlopen("libpq.so.5", RTLD_LAZY);
    if (libpq == NULL)
        cr_skip_test("libpq.so.5 is not installed");
    dlclose(libpq);
    char url[600];
    snprintf(url, sizeof url, "postgresql:///x?host=%s&port=5432", env.dir);
    strata_options o = STRATA_OPTIONS_INIT;
    o.connect_wait_ms = 600000;
    strata_source *src = dir_source();
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, url, src, &o, NULL, NULL), 0);
    strata_source_free(src);
    cr_assert_eq(strata_run_wait(run, 300), 0, "the run ended at once");
    cancel_ends_the_wait(run, "waiting for the server");
}

/* Holds run A inside its first migration's start event until `go` is
 * set, so A keeps the migration lock for as long as the test needs. */
typedef struct held {
    atomic_int started;
    atomic_int go;
} held;

static void hold_at_start(const strata_event *ev, void *payload)
{
    held *h = payload;
    if (ev->type != STRATA_EVENT_MIGRATION_START)
        return;
    atomic_store(&h->started, 1);
    while (!atomic_load(&h->go)) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void note_lock_wait(const strata_event *ev, void *payload)
{
    if (ev->type == STRATA_EVENT_LOCK_WAIT)
        atomic_store((atomic_int *)payload, 1);
}

/* A run waiting for the migration lock that another run holds stops at a
 * cancel, long before its lock timeout, having applied nothing; the run
 * holding the lock goes on and applies everything. */
Test(startup, cancel_ends_a_wait_for_the_migration_lock)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x);\n");
    it_mig(&env, "2_b.sql", "CREATE TABLE b (x);\n");
    strata_source *src = dir_source();
    held h;
    atomic_init(&h.started, 0);
    atomic_init(&h.go, 0);
    strata_options oa = STRATA_OPTIONS_INIT;
    oa.on_event = hold_at_start;
    oa.event_payload = &h;
    strata_run *a = NULL;
    cr_assert_eq(strata_run_start(&a, env.url, src, &oa, NULL, NULL), 0);
    while (!atomic_load(&h.started))
        cr_assert_eq(strata_run_wait(a, 5), 0, "run A ended: %s",
                     strata_run_result(a)->error->message);

    atomic_int waiting;
    atomic_init(&waiting, 0);
    strata_options ob = STRATA_OPTIONS_INIT;
    ob.lock_timeout_ms = 600000;
    ob.on_event = note_lock_wait;
    ob.event_payload = &waiting;
    strata_run *b = NULL;
    cr_assert_eq(strata_run_start(&b, env.url, src, &ob, NULL, NULL), 0);
    strata_source_free(src);
    while (!atomic_load(&waiting))
        cr_assert_eq(strata_run_wait(b, 5), 0, "run B ended: %s",
                     strata_run_result(b)->error->message);
    cancel_ends_the_wait(b, "waiting for the migration lock");

    atomic_store(&h.go, 1);
    cr_assert_eq(strata_run_wait(a, 60000), 1);
    const strata_result *ra = strata_run_result(a);
    cr_assert_eq(ra->code, STRATA_OK, "%s", ra->error->message);
    cr_assert_eq(ra->applied, 2);
    strata_run_free(a);
}

/* A run waiting for SQLite's write lock, which another connection holds
 * in an open transaction, stops at a cancel long before its lock timeout,
 * having applied nothing. */
Test(startup, cancel_ends_a_wait_for_the_database_write_lock)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x);\n");
    strata_source *src = dir_source();
    sqlite3 *hold = NULL;
    cr_assert_eq(sqlite3_open(env.db, &hold), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(hold, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                 SQLITE_OK);
    strata_options o = STRATA_OPTIONS_INIT;
    o.lock_timeout_ms = 600000;
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, env.url, src, &o, NULL, NULL), 0);
    strata_source_free(src);
    cr_assert_eq(strata_run_wait(run, 300), 0, "the run ended at once: %s",
                 strata_run_result(run)->error->message);
    cancel_ends_the_wait(run, "write lock");
    cr_assert_eq(sqlite3_exec(hold, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(hold);
    cr_assert_not(it_table_exists(env.db, "a"));
}

/* A program built against version 1 of the options passes a struct that
 * ends before connect_wait_ms: nothing past its end is read (AddressSanitizer
 * watches the exact allocation), for a handle and for a run alike. */
Test(startup, options_of_version_1_are_read_to_their_end)
{
    it_mig(&env, "1_a.sql", "CREATE TABLE a (x INTEGER);\n");
    size_t v1 = offsetof(strata_options, connect_wait_ms);
    strata_options full = STRATA_OPTIONS_INIT;
    full.version = 1;
    full.module = "old";
    void *bytes = malloc(v1);
    cr_assert_not_null(bytes);
    memcpy(bytes, &full, v1);
    const strata_options *o = bytes;
    strata_source *src = dir_source();
    strata *db = NULL;
    cr_assert_eq(strata_open(&db, env.url, src, o), STRATA_OK);
    strata_close(db);
    strata_run *run = NULL;
    cr_assert_eq(strata_run_start(&run, env.url, src, o, NULL, NULL), 0);
    cr_assert_eq(strata_run_wait(run, -1), 1);
    cr_assert_eq(strata_run_result(run)->code, STRATA_OK, "%s",
                 strata_run_result(run)->error->message);
    strata_run_free(run);
    cr_assert_eq(it_scalar(env.db,
                           "SELECT count(*) FROM strata_migrations WHERE "
                           "module = 'old'",
                           0),
                 1);
    full.version = 3;
    memcpy(bytes, &full, v1);
    cr_assert_eq(strata_open(&db, env.url, src, o), STRATA_EUSAGE);
    cr_assert(strstr(strata_last_error(db)->message, "version 3") != NULL);
    strata_close(db);
    cr_assert_eq(strata_run_start(&run, env.url, src, o, NULL, NULL), 0);
    cr_assert_eq(strata_run_wait(run, -1), 1);
    cr_assert_eq(strata_run_result(run)->code, STRATA_EUSAGE);
    cr_assert(strstr(strata_run_result(run)->error->message, "version 3") !=
              NULL);
    strata_run_free(run);
    strata_source_free(src);
    free(bytes);
}

/* What programs built against version 1 call, by its own name: the
 * parentheses keep the header's macro away. */
void(strata_options_init)(strata_options *opts);

/* strata_options_init() writes no more than the caller's struct: version 1
 * for a struct of version 1's size, whether through the macro's size or the
 * old entry point, and everything for a whole one. */
Test(startup, options_init_writes_only_the_callers_struct)
{
    size_t v1 = offsetof(strata_options, connect_wait_ms);
    void *small = malloc(v1);
    cr_assert_not_null(small);
    strata_options seen;
    strata_options_init_sized(small, v1);
    memset(&seen, 0, sizeof seen);
    memcpy(&seen, small, v1);
    cr_assert_eq(seen.version, 1);
    cr_assert_eq(seen.lock_timeout_ms, -1);
    memset(small, 0, v1);
    (strata_options_init)(small);
    memcpy(&seen, small, v1);
    cr_assert_eq(seen.version, 1);
    cr_assert_eq(seen.lock_timeout_ms, -1);
    free(small);
    strata_options whole;
    memset(&whole, 0x55, sizeof whole);
    strata_options_init(&whole);
    cr_assert_eq(whole.version, STRATA_OPTIONS_VERSION);
    cr_assert_eq(whole.connect_wait_ms, 0);
    cr_assert_null(whole.module);
}
