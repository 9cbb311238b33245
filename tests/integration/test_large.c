/*
 * test_large.c - 50 MB scripts: one with ~400k statements and one single
 * 50 MB statement. Both must apply completely, in one transaction each, in
 * a time far below the test's timeout (the bound here is deliberately
 * generous: it catches quadratic behaviour, not a slow machine).
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

TestSuite(large, .init = setup, .fini = teardown, .timeout = 500);

#define TARGET (50u * 1024u * 1024u)

Test(large, fifty_megabytes_of_statements)
{
    size_t cap = TARGET + 4096;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n = (size_t)snprintf(buf, cap,
                                "-- a large data migration\n"
                                "CREATE TABLE big (id INTEGER PRIMARY KEY, "
                                "payload TEXT NOT NULL);\n");
    char pad[97];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    size_t count = 0;
    while (n < TARGET) {
        n += (size_t)snprintf(buf + n, cap - n,
                              "INSERT INTO big (payload) VALUES ('%s;%zu');\n",
                              pad, count);
        count++;
    }
    cr_assert_geq(count, 350000);
    it_write_bytes(env.mig, "1_big.sql", buf, n);
    free(buf);
    it_mig(&env, "2_after.sql", "CREATE INDEX big_payload ON big (payload);\n");

    strata *db = it_open(&env, NULL);
    int64_t t0 = it_now_ms();
    cr_assert_eq(it_up_expect(db, NULL, 0), 2);
    int64_t took = it_now_ms() - t0;
    cr_assert_lt(took, 400000, "took %lld ms", (long long)took);
    cr_assert_eq(it_scalar(env.db, "SELECT count(*) FROM big", -1),
                 (int64_t)count);
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM big WHERE payload LIKE '%%;%zu'", count - 1);
    cr_assert_eq(it_scalar(env.db, sql, -1), 1, "the last row is missing");
    cr_assert_eq(
        it_scalar(env.db, "SELECT count(*) FROM strata_migrations", -1), 2);
    strata_close(db);
}

Test(large, one_fifty_megabyte_statement)
{
    size_t cap = TARGET + 4096;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n = (size_t)snprintf(buf, cap,
                                "CREATE TABLE s (v TEXT);\n"
                                "INSERT INTO s VALUES ('");
    memset(buf + n, 'y', TARGET);
    n += TARGET;
    n += (size_t)snprintf(buf + n, cap - n, "');\n");
    it_write_bytes(env.mig, "1_blob.sql", buf, n);
    free(buf);

    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, 0), 1);
    cr_assert_eq(it_scalar(env.db, "SELECT length(v) FROM s", -1),
                 (int64_t)TARGET);
    strata_close(db);
}

/* The error line is still exact deep inside a large script. */
Test(large, error_line_deep_in_a_large_script)
{
    size_t lines = 200000;
    size_t cap = lines * 48 + 4096;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n = (size_t)snprintf(buf, cap, "CREATE TABLE t (x INTEGER);\n");
    for (size_t i = 2; i < lines; i++)
        n += (size_t)snprintf(buf + n, cap - n, "INSERT INTO t VALUES (%zu);\n",
                              i);
    n += (size_t)snprintf(buf + n, cap - n, "INSERT INTO t VALUES (1,2);\n");
    it_write_bytes(env.mig, "1_deep.sql", buf, n);
    free(buf);
    strata *db = it_open(&env, NULL);
    cr_assert_eq(it_up_expect(db, NULL, STRATA_EFAILED), 0);
    cr_assert_eq(strata_last_error(db)->line, (int)lines, "%s", it_err(db));
    cr_assert_eq(strata_last_error(db)->statement_line, (int)lines);
    cr_assert_not(it_table_exists(env.db, "t"));
    strata_close(db);
}
