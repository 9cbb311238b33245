/*
 * test_plan.c - every state of the plan, on a real SQLite file.
 *
 * The source is a temporary directory and the tracking rows are real rows:
 * each test applies migrations with strata, then changes files or rows
 * behind its back (with the sqlite3 API) and checks the merged plan.
 */
#include "engine.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];
static char dir[128];
static char url[256];
static char path[160];
static strata *db;

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir(p, 0700);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "fopen %s", p);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    strcpy(tmp, "/tmp/strata-plan-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/m", tmp);
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/t.db", tmp);
    snprintf(url, sizeof url, "sqlite:%s", path);
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    strata_close(db);
    db = NULL;
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(plan, .init = setup, .fini = teardown);

static void open_db(void)
{
    strata_source *src = NULL;
    cr_assert_eq(strata_source_from_dir(&src, dir), 0);
    strata_close(db);
    db = NULL;
    int rc = strata_open(&db, url, src, NULL);
    strata_source_free(src);
    cr_assert_eq(rc, 0, "open: %s", strata_last_error(db)->message);
}

static void up_to(const char *version)
{
    strata_run_options o = STRATA_RUN_OPTIONS_INIT;
    o.to = version;
    strata_report *r = NULL;
    int rc = strata_up(&r, db, &o);
    cr_assert_eq(rc, 0, "up: %s", strata_last_error(db)->message);
    strata_report_free(r);
}

static void sql(const char *text)
{
    sqlite3 *c = NULL;
    cr_assert_eq(sqlite3_open(path, &c), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(c, text, NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(c));
    sqlite3_close(c);
}

/* The plan as "version:state version:state ...", and its current version. */
static void plan_string(char *out, size_t cap, char *current, size_t ccap)
{
    strata__plan p;
    int rc = strata__plan_load(&p, db);
    cr_assert_eq(rc, 0, "plan: %s", strata_last_error(db)->message);
    out[0] = '\0';
    for (size_t i = 0; i < p.count; i++) {
        char item[96];
        snprintf(item, sizeof item, "%s%s:%s", i ? " " : "", p.items[i].version,
                 strata_state_name(p.items[i].state));
        strncat(out, item, cap - strlen(out) - 1);
    }
    snprintf(current, ccap, "%s", p.current);
    strata__plan_free(&p);
}

static void three(void)
{
    put("001_a.sql", "CREATE TABLE a (x);\n");
    put("002_b.sql", "CREATE TABLE b (x);\n");
    put("10_c.sql", "CREATE TABLE c (x);\n");
}

Test(plan, fresh_database_is_all_pending)
{
    three();
    open_db();
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:pending 2:pending 10:pending");
    cr_assert_str_eq(cur, "0");
}

Test(plan, applied_and_pending_in_numeric_order)
{
    three();
    put("9_d.sql", "CREATE TABLE d (x);\n");
    open_db();
    up_to("2");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:applied 9:pending 10:pending");
    cr_assert_str_eq(cur, "2");
}

Test(plan, modified_when_an_applied_script_changes)
{
    three();
    open_db();
    up_to("10");
    put("002_b.sql", "CREATE TABLE b (x, y);\n");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:modified 10:applied");
}

Test(plan, crlf_rewrite_is_not_modified)
{
    three();
    open_db();
    up_to("10");
    put("002_b.sql", "CREATE TABLE b (x);\r\n");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:applied 10:applied");
}

Test(plan, missing_when_an_applied_script_is_gone)
{
    three();
    open_db();
    up_to("10");
    char p[256];
    snprintf(p, sizeof p, "%s/002_b.sql", dir);
    cr_assert_eq(unlink(p), 0);
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:missing 10:applied");
    cr_assert_str_eq(cur, "10");
}

Test(plan, out_of_order_below_the_highest_applied)
{
    put("001_a.sql", "CREATE TABLE a (x);\n");
    put("003_c.sql", "CREATE TABLE c (x);\n");
    open_db();
    up_to("3");
    put("002_b.sql", "CREATE TABLE b (x);\n");
    put("004_d.sql", "CREATE TABLE d (x);\n");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:out_of_order 3:applied 4:pending");
}

Test(plan, dirty_row_is_dirty_even_without_its_file)
{
    three();
    open_db();
    up_to("2");
    sql("UPDATE strata_migrations SET state = 'dirty_up' WHERE version = "
        "'2';"
        "INSERT INTO strata_migrations VALUES ('default', '7', 'gone', 'x', "
        "'dirty_down', 'now', 0, 'me');");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:dirty 7:dirty 10:pending");
    cr_assert_str_eq(cur, "1", "dirty rows do not count as current");
}

Test(plan, other_modules_rows_are_invisible)
{
    three();
    open_db();
    up_to("1");
    sql("INSERT INTO strata_migrations VALUES ('other', '2', 'b', 'x', "
        "'applied', 'now', 0, 'me');");
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "1:applied 2:pending 10:pending");
}

Test(plan, folder_layout_orders_as_strings)
{
    /* 12 digits against 14: numerically the first is smaller, as strings
     * (Diesel's order) it is larger. */
    put("2017-08-31-1200_x/up.sql", "CREATE TABLE x (a);\n");
    put("20170102000000_y/up.sql", "CREATE TABLE y (a);\n");
    open_db();
    char s[256], cur[32];
    plan_string(s, sizeof s, cur, sizeof cur);
    cr_assert_str_eq(s, "20170102000000:pending 201708311200:pending");
}

/* plan_check refuses each problem state with its reason. */
static void expect_refusal(strata_reason reason, int allow_ooo)
{
    strata__plan p;
    cr_assert_eq(strata__plan_load(&p, db), 0);
    int rc = strata__plan_check(db, &p, allow_ooo);
    strata__plan_free(&p);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(strata_last_error(db)->reason, reason, "reason %s",
                 strata_reason_name(strata_last_error(db)->reason));
    cr_assert_neq(strata_last_error(db)->hint[0], '\0');
}

Test(plan, check_refuses_modified_missing_dirty_and_out_of_order)
{
    put("001_a.sql", "CREATE TABLE a (x);\n");
    put("003_c.sql", "CREATE TABLE c (x);\n");
    open_db();
    up_to("3");
    put("002_b.sql", "CREATE TABLE b (x);\n");
    expect_refusal(STRATA_REASON_OUT_OF_ORDER, 0);
    strata__plan p;
    cr_assert_eq(strata__plan_load(&p, db), 0);
    cr_assert_eq(strata__plan_check(db, &p, 1), 0, "allowed out of order");
    strata__plan_free(&p);

    put("003_c.sql", "CREATE TABLE c (y);\n");
    expect_refusal(STRATA_REASON_MODIFIED, 1);
    put("003_c.sql", "CREATE TABLE c (x);\n");

    char f[256];
    snprintf(f, sizeof f, "%s/001_a.sql", dir);
    cr_assert_eq(unlink(f), 0);
    expect_refusal(STRATA_REASON_MISSING, 1);
    put("001_a.sql", "CREATE TABLE a (x);\n");

    sql("UPDATE strata_migrations SET state = 'dirty_up' WHERE version = "
        "'3';");
    expect_refusal(STRATA_REASON_DIRTY, 1);
}
