/*
 * test_source_dir.c - reading migration directories in both layouts.
 *
 * Each test builds its own directory under /tmp (removed by the fixture,
 * also when an assertion fails) and scans it.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];
static strata__err err;

static void setup(void)
{
    strcpy(tmp, "/tmp/strata-srcdir-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    strata__err_clear(&err);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void teardown(void)
{
    chmod(tmp, 0700);
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(source_dir, .init = setup, .fini = teardown);

/* Writes `text` to tmp/rel, creating folders on the way. */
static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    for (char *p = path + strlen(tmp) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                cr_assert_fail("mkdir %s: %s", path, strerror(errno));
            *p = '/';
        }
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "fopen %s", path);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void mkd(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    cr_assert_eq(mkdir(path, 0700), 0);
}

static char *path_of(const char *rel)
{
    return strata__sprintf("%s/%s", tmp, rel);
}

static int scan(strata__migrations *list)
{
    strata_source src = {tmp, NULL};
    return strata__source_scan(list, &src, &err);
}

static void scan_ok(strata__migrations *list)
{
    int rc = scan(list);
    cr_assert_eq(rc, 0, "scan: rc=%d %s", rc, err.pub.message);
}

static void expect_path(const char *got, const char *rel)
{
    char *want = path_of(rel);
    cr_assert_not_null(got, "expected %s", want);
    cr_assert_str_eq(got, want);
    free(want);
}

static void sha(char out[65], const char *text)
{
    strata__checksum(out, text, strlen(text));
}

/* ------------------------------------------------------------------------ */
/* Flat */

Test(source_dir, flat_numeric_order_and_pairs)
{
    put("10_ten.sql", "SELECT 10;\n");
    put("9_nine.up.sql", "SELECT 9;\n");
    put("9_nine.down.sql", "SELECT -9;\n");
    put("0001_one.sql", "SELECT 1;\n");
    put("V1.5__half.sql", "SELECT 1.5;\n");
    put("20251025120000_ts.sql", "SELECT 2025;\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.order, STRATA__ORDER_NUMERIC);
    cr_assert_eq(l.count, 5);
    const char *want[] = {"1", "1.5", "9", "10", "20251025120000"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(l.items[i].version, want[i], "item %zu", i);
    cr_assert_str_eq(l.items[0].name, "one");
    expect_path(l.items[0].up_path, "0001_one.sql");
    cr_assert_null(l.items[0].down_path);
    cr_assert_eq(l.items[0].markers, 0);
    cr_assert_str_eq(l.items[2].name, "nine");
    expect_path(l.items[2].up_path, "9_nine.up.sql");
    expect_path(l.items[2].down_path, "9_nine.down.sql");
    char h[65];
    sha(h, "SELECT 9;\n");
    cr_assert_str_eq(l.items[2].checksum, h, "checksum is of the up file");
    cr_assert_eq(strata__migrations_find(&l, "9"), 2);
    cr_assert_eq(strata__migrations_find(&l, "1.5"), 1);
    cr_assert_eq(strata__migrations_find(&l, "20251025120000"), 4);
    cr_assert_eq(strata__migrations_find(&l, "2"), -1);
    strata__migrations_free(&l);
    cr_assert_eq(l.count, 0);
    cr_assert_null(l.items);
}

Test(source_dir, empty_dir)
{
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(strata__migrations_find(&l, "1"), -1);
    strata__migrations_free(&l);
}

Test(source_dir, ignores_dotfiles_and_other_files)
{
    put("0001_a.sql", "SELECT 1;\n");
    put(".0002_b.sql", "SELECT 2;\n");
    put(".#0003_c.sql", "junk");
    put("README.md", "# notes\n");
    put("0004_d.sql~", "backup\n");
    put("notes/whatever.txt", "x\n");
    mkd("0005_dir.sql");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 1);
    cr_assert_str_eq(l.items[0].version, "1");
    strata__migrations_free(&l);
}

Test(source_dir, trailing_slash_gives_single_slash)
{
    put("0001_a.sql", "SELECT 1;\n");
    char dir[80];
    snprintf(dir, sizeof dir, "%s/", tmp);
    strata_source src = {dir, NULL};
    strata__migrations l;
    cr_assert_eq(strata__source_scan(&l, &src, &err), 0);
    expect_path(l.items[0].up_path, "0001_a.sql");
    strata__migrations_free(&l);
}

Test(source_dir, names_with_dots_and_spaces)
{
    put("0002_1.7.0_schema.up.sql", "SELECT 2;\n");
    put("0003_add index on users.sql", "SELECT 3;\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 2);
    cr_assert_str_eq(l.items[0].version, "2");
    cr_assert_str_eq(l.items[0].name, "1.7.0_schema");
    cr_assert_str_eq(l.items[1].name, "add index on users");
    expect_path(l.items[1].up_path, "0003_add index on users.sql");
    strata__migrations_free(&l);
}

Test(source_dir, markers_make_a_down)
{
    const char *text = "-- strata:up\nCREATE TABLE t (id int);\n"
                       "-- strata:down  \r\nDROP TABLE t;\n";
    put("0001_t.sql", text);
    put("0002_u.sql", "SELECT 1; -- strata:down\n--strata:down\n"
                      "-- strata:downx\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 2);
    cr_assert_eq(l.items[0].markers, 1);
    expect_path(l.items[0].up_path, "0001_t.sql");
    expect_path(l.items[0].down_path, "0001_t.sql");
    cr_assert_eq(l.items[0].up_path, l.items[0].down_path,
                 "one string in the list's arena serves both");
    char h[65];
    sha(h, text);
    cr_assert_str_eq(l.items[0].checksum, h, "the whole file is hashed");
    cr_assert_eq(l.items[1].markers, 0, "no line is exactly the marker");
    cr_assert_null(l.items[1].down_path);
    strata__migrations_free(&l);
}

Test(source_dir, marker_on_bom_line)
{
    put("0001_t.sql", "\xEF\xBB\xBF-- strata:down\nDROP TABLE t;\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.items[0].markers, 1);
    strata__migrations_free(&l);
}

Test(source_dir, markers_only_in_plain_files)
{
    put("0001_t.up.sql", "SELECT 1;\n-- strata:down\nSELECT 2;\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.items[0].markers, 0);
    cr_assert_null(l.items[0].down_path);
    strata__migrations_free(&l);
}

Test(source_dir, plain_with_down_file_pairs)
{
    put("0001_t.sql", "SELECT 1;\n");
    put("0001_t.down.sql", "SELECT 2;\n");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 1);
    expect_path(l.items[0].down_path, "0001_t.down.sql");
    strata__migrations_free(&l);
}

Test(source_dir, crlf_checksum_equals_lf)
{
    put("0001_a.sql", "SELECT 1;\r\nSELECT 2;\r\n");
    strata__migrations l;
    scan_ok(&l);
    char h[65];
    sha(h, "SELECT 1;\nSELECT 2;\n");
    cr_assert_str_eq(l.items[0].checksum, h);
    strata__migrations_free(&l);
}

static void expect_refused(strata_reason reason, const char *file_rel,
                           const char *needle1, const char *needle2)
{
    strata__migrations l;
    int rc = scan(&l);
    cr_assert_eq(rc, STRATA_EREFUSED, "rc=%d %s", rc, err.pub.message);
    cr_assert_eq(err.pub.code, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, reason, "reason %s: %s",
                 strata_reason_name(err.pub.reason), err.pub.message);
    char *want = path_of(file_rel);
    cr_assert_str_eq(err.pub.file, want);
    free(want);
    cr_assert_eq(err.pub.line, 0);
    cr_assert_not_null(strstr(err.pub.message, needle1), "message: %s",
                       err.pub.message);
    if (needle2 != NULL)
        cr_assert_not_null(strstr(err.pub.message, needle2), "message: %s",
                           err.pub.message);
    cr_assert_neq(err.pub.hint[0], '\0', "a hint is given");
    cr_assert_eq(l.count, 0);
    cr_assert_null(l.items);
}

Test(source_dir, duplicate_same_number)
{
    put("001_a.sql", "SELECT 1;\n");
    put("1_b.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "1_b.sql", "001_a.sql", "1_b.sql");
    cr_assert_str_eq(err.pub.version, "1");
}

Test(source_dir, duplicate_plain_and_up)
{
    put("1_a.sql", "SELECT 1;\n");
    put("1_a.up.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "1_a.up.sql", "1_a.sql",
                   "1_a.up.sql");
    cr_assert_not_null(strstr(err.pub.hint, "not both"), "%s", err.pub.hint);
}

Test(source_dir, duplicate_two_downs)
{
    put("1_a.up.sql", "SELECT 1;\n");
    put("1_a.down.sql", "SELECT 1;\n");
    put("01_a.down.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "1_a.down.sql", "01_a.down.sql",
                   "1_a.down.sql");
}

Test(source_dir, duplicate_marker_and_down_file)
{
    put("1_a.sql", "SELECT 1;\n-- strata:down\nSELECT 2;\n");
    put("1_a.down.sql", "SELECT 2;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "1_a.down.sql", "1_a.sql",
                   "1_a.down.sql");
}

Test(source_dir, duplicate_dotted_equal)
{
    put("V1__a.sql", "SELECT 1;\n");
    put("V1.0__b.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "V1__a.sql", "V1.0__b.sql",
                   "V1__a.sql");
}

Test(source_dir, up_and_down_names_differ)
{
    put("1_a.up.sql", "SELECT 1;\n");
    put("1_b.down.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_DUPLICATE, "1_b.down.sql", "1_a.up.sql",
                   "1_b.down.sql");
}

Test(source_dir, down_without_up)
{
    put("1_a.sql", "SELECT 1;\n");
    put("2_b.down.sql", "SELECT 1;\n");
    expect_refused(STRATA_REASON_BAD_NAME, "2_b.down.sql",
                   "down script without an up script", "2_b.down.sql");
}

Test(source_dir, bad_names)
{
    const char *bad[] = {"abc.sql", "001_.sql", "001.sql", "V1_x.sql",
                         "1.2_x.sql"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        teardown();
        setup();
        put("0001_fine.sql", "SELECT 1;\n");
        put(bad[i], "SELECT 1;\n");
        expect_refused(STRATA_REASON_BAD_NAME, bad[i], bad[i], NULL);
        cr_assert_not_null(strstr(err.pub.hint, "0001_name.sql"), "%s",
                           err.pub.hint);
    }
}

Test(source_dir, unreadable_dir)
{
    strata_source src = {"/nonexistent/strata/migrations", NULL};
    strata__migrations l;
    int rc = strata__source_scan(&l, &src, &err);
    cr_assert_eq(rc, STRATA_EUSAGE);
    cr_assert_eq(err.pub.reason, STRATA_REASON_IO);
    cr_assert_str_eq(err.pub.file, "/nonexistent/strata/migrations");
    cr_assert_neq(err.pub.hint[0], '\0');
    cr_assert_eq(l.count, 0);
}

Test(source_dir, not_a_directory)
{
    put("file", "x");
    char *p = path_of("file");
    strata_source src = {p, NULL};
    strata__migrations l;
    cr_assert_eq(strata__source_scan(&l, &src, &err), STRATA_EUSAGE);
    cr_assert_eq(err.pub.reason, STRATA_REASON_IO);
    cr_assert_str_eq(err.pub.file, p);
    free(p);
}

Test(source_dir, no_dir_given)
{
    strata_source src = {NULL, NULL};
    strata__migrations l;
    cr_assert_eq(strata__source_scan(&l, &src, &err), STRATA_EUSAGE);
    strata_source empty = {"", NULL};
    cr_assert_eq(strata__source_scan(&l, &empty, &err), STRATA_EUSAGE);
}

Test(source_dir, unreadable_script)
{
    if (geteuid() == 0)
        cr_skip("root reads every file");
    put("0001_a.sql", "SELECT 1;\n");
    char *p = path_of("0001_a.sql");
    cr_assert_eq(chmod(p, 0), 0);
    strata__migrations l;
    cr_assert_eq(scan(&l), STRATA_EUSAGE);
    cr_assert_eq(err.pub.reason, STRATA_REASON_IO);
    cr_assert_str_eq(err.pub.file, p);
    free(p);
}

Test(source_dir, unreadable_dir_permissions)
{
    if (geteuid() == 0)
        cr_skip("root reads every directory");
    put("0001_a.sql", "SELECT 1;\n");
    cr_assert_eq(chmod(tmp, 0), 0);
    strata__migrations l;
    cr_assert_eq(scan(&l), STRATA_EUSAGE);
    cr_assert_eq(err.pub.reason, STRATA_REASON_IO);
    cr_assert_str_eq(err.pub.file, tmp);
}

/* ------------------------------------------------------------------------ */
/* Folders */

Test(source_dir, folders_diesel)
{
    put("00000000000000_diesel_initial_setup/up.sql", "SELECT 0;\n");
    put("00000000000000_diesel_initial_setup/down.sql", "SELECT 0;\n");
    put("2017-08-31-120000_dashes/up.sql", "SELECT 1;\n");
    put("20170102000000_plain/up.sql", "SELECT 2;\n");
    put("20170102000000_plain/down.sql", "");
    put("2026-07-30-140000-0000_long/up.sql", "SELECT 3;\n");
    put("2026-07-30-140000-0000_long/metadata.toml",
        "run_in_transaction = false\n");
    put("20270101000000_later/up.sql", "SELECT 4;\n");
    put("20270101000000_later/metadata.toml",
        "# comment\n  run_in_transaction=false   # why\n");
    put("2019-11-15-182353_Add email notifications/up.sql", "SELECT 5;\n");
    put("2019-11-15-182353_Add email notifications/metadata.toml",
        "run_in_transaction = true\n");
    /* Loose files and folders without up.sql are not migrations. */
    put("data_oauth_github.sql", "INSERT INTO x VALUES (1);\n");
    put("abc.sql", "junk");
    put("0001_flat.sql", "SELECT 1;\n");
    put("notes/README.md", "x");
    put("stray/down.sql", "x");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.order, STRATA__ORDER_STRING);
    cr_assert_eq(l.count, 6);
    const char *want[] = {"00000000000000",     "20170102000000",
                          "20170831120000",     "20191115182353",
                          "202607301400000000", "20270101000000"};
    for (size_t i = 0; i < 6; i++)
        cr_assert_str_eq(l.items[i].version, want[i], "item %zu", i);
    cr_assert_str_eq(l.items[0].name, "diesel_initial_setup");
    expect_path(l.items[0].up_path,
                "00000000000000_diesel_initial_setup/up.sql");
    expect_path(l.items[0].down_path,
                "00000000000000_diesel_initial_setup/down.sql");
    expect_path(l.items[1].down_path, "20170102000000_plain/down.sql");
    cr_assert_null(l.items[2].down_path);
    cr_assert_str_eq(l.items[3].name, "Add email notifications");
    expect_path(l.items[3].up_path,
                "2019-11-15-182353_Add email notifications/up.sql");
    cr_assert_eq(l.items[3].meta_no_tx, 0, "true means a transaction");
    cr_assert_eq(l.items[4].meta_no_tx, 1);
    cr_assert_eq(l.items[5].meta_no_tx, 1);
    cr_assert_eq(l.items[0].meta_no_tx, 0);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(l.items[i].markers, 0);
    char h[65];
    sha(h, "SELECT 3;\n");
    cr_assert_str_eq(l.items[4].checksum, h);
    cr_assert_eq(strata__migrations_find(&l, "202607301400000000"), 4);
    cr_assert_eq(strata__migrations_find(&l, "00000000000000"), 0);
    cr_assert_eq(strata__migrations_find(&l, "0"), -1,
                 "string order: no zero stripping");
    strata__migrations_free(&l);
}

Test(source_dir, folders_duplicate)
{
    put("2017-01-01-000000_a/up.sql", "SELECT 1;\n");
    put("20170101000000_b/up.sql", "SELECT 1;\n");
    strata__migrations l;
    cr_assert_eq(scan(&l), STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_DUPLICATE);
    cr_assert_not_null(strstr(err.pub.message, "2017-01-01-000000_a"));
    cr_assert_not_null(strstr(err.pub.message, "20170101000000_b"));
    cr_assert_str_eq(err.pub.version, "20170101000000");
}

Test(source_dir, folders_bad_name)
{
    put("20170101000000_a/up.sql", "SELECT 1;\n");
    put("create_users/up.sql", "SELECT 1;\n");
    strata__migrations l;
    cr_assert_eq(scan(&l), STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_NAME);
    cr_assert_not_null(strstr(err.pub.message, "create_users"));
    expect_path(err.pub.file, "create_users/up.sql");
    cr_assert_neq(err.pub.hint[0], '\0');
}

Test(source_dir, folders_bad_name_no_underscore)
{
    put("20170101000000/up.sql", "SELECT 1;\n");
    strata__migrations l;
    cr_assert_eq(scan(&l), STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_NAME);
}

Test(source_dir, folders_ignore_dot_folders)
{
    put("20170101000000_a/up.sql", "SELECT 1;\n");
    put(".git/up.sql", "x");
    strata__migrations l;
    scan_ok(&l);
    cr_assert_eq(l.count, 1);
    strata__migrations_free(&l);
}
