/*
 * test_filename.c - every accepted file name form and every refusal.
 */
#include "strata_int.h"

#include <criterion/criterion.h>

static void expect_ok(const char *fname, const char *version, const char *name,
                      strata__file_kind kind)
{
    strata__fname f;
    int rc = strata__filename_parse(&f, fname);
    cr_assert_eq(rc, 0, "\"%s\" should parse, rc=%d", fname, rc);
    cr_assert_str_eq(f.version, version, "version of \"%s\"", fname);
    cr_assert_str_eq(f.name, name, "name of \"%s\"", fname);
    cr_assert_eq(f.kind, kind, "kind of \"%s\"", fname);
    strata__fname_free(&f);
}

static void expect_rc(const char *fname, int want)
{
    strata__fname f;
    int rc = strata__filename_parse(&f, fname);
    cr_assert_eq(rc, want, "\"%s\": rc=%d, want %d", fname, rc, want);
    cr_assert_null(f.version);
    cr_assert_null(f.name);
}

Test(filename, sequential)
{
    expect_ok("0001_create_users.sql", "1", "create_users", STRATA__FILE_PLAIN);
    expect_ok("0001_create_users.up.sql", "1", "create_users", STRATA__FILE_UP);
    expect_ok("0001_create_users.down.sql", "1", "create_users",
              STRATA__FILE_DOWN);
    expect_ok("1_x.sql", "1", "x", STRATA__FILE_PLAIN);
    expect_ok("000_init.sql", "0", "init", STRATA__FILE_PLAIN);
    expect_ok("10_ten.sql", "10", "ten", STRATA__FILE_PLAIN);
}

Test(filename, timestamps)
{
    expect_ok("20251025120000_add_email.sql", "20251025120000", "add_email",
              STRATA__FILE_PLAIN);
    expect_ok("20251105000000000001_kratos.up.sql", "20251105000000000001",
              "kratos", STRATA__FILE_UP);
}

Test(filename, flyway)
{
    expect_ok("V1__init.sql", "1", "init", STRATA__FILE_PLAIN);
    expect_ok("V1.2__add.sql", "1.2", "add", STRATA__FILE_PLAIN);
    expect_ok("V1.2.0__add.sql", "1.2", "add", STRATA__FILE_PLAIN);
    expect_ok("V001.010__x.up.sql", "1.10", "x", STRATA__FILE_UP);
    expect_ok("V3__x.down.sql", "3", "x", STRATA__FILE_DOWN);
    expect_ok("V2___lead.sql", "2", "_lead", STRATA__FILE_PLAIN);
}

Test(filename, names_with_dots_spaces_and_underscores)
{
    expect_ok("0002_1.7.0_schema.up.sql", "2", "1.7.0_schema", STRATA__FILE_UP);
    expect_ok("0003_add index on users.sql", "3", "add index on users",
              STRATA__FILE_PLAIN);
    expect_ok("0004_a.b.sql", "4", "a.b", STRATA__FILE_PLAIN);
    expect_ok("0005_x_up.sql", "5", "x_up", STRATA__FILE_PLAIN);
    expect_ok("0006_create-events.sql", "6", "create-events",
              STRATA__FILE_PLAIN);
    expect_ok("0007__double.sql", "7", "_double", STRATA__FILE_PLAIN);
    expect_ok("0008_up.sql", "8", "up", STRATA__FILE_PLAIN);
    expect_ok("V1__a.b.c.sql", "1", "a.b.c", STRATA__FILE_PLAIN);
}

Test(filename, not_candidates)
{
    expect_rc("README.md", 1);
    expect_rc("0001_x.txt", 1);
    expect_rc("0001_x.sql~", 1);
    expect_rc("0001_x.sql.bak", 1);
    expect_rc(".0001_x.sql", 1);
    expect_rc(".hidden.sql", 1);
    expect_rc("0001_x.SQL", 1);
    expect_rc("metadata.toml", 1);
    expect_rc("", 1);
}

Test(filename, refusals)
{
    expect_rc("abc.sql", -1);
    expect_rc("001.sql", -1);
    expect_rc("001_.sql", -1);
    expect_rc("001_.up.sql", -1);
    expect_rc("001_.down.sql", -1);
    expect_rc("_x.sql", -1);
    expect_rc("1.2_x.sql", -1);
    expect_rc("V1_x.sql", -1);
    expect_rc("v1__x.sql", -1);
    expect_rc("V__x.sql", -1);
    expect_rc("V1.__x.sql", -1);
    expect_rc("V.1__x.sql", -1);
    expect_rc("V1..2__x.sql", -1);
    expect_rc("V1__.sql", -1);
    expect_rc("Vx__y.sql", -1);
    expect_rc("V1.2.sql", -1);
    expect_rc("1a_x.sql", -1);
    expect_rc("x_1.sql", -1);
    expect_rc("up.sql", -1);
    expect_rc(".sql", 1);
    expect_rc("a.sql", -1);
    expect_rc("sql", 1);
}

Test(filename, free_accepts_empty)
{
    strata__fname f = {NULL, NULL, STRATA__FILE_PLAIN};
    strata__fname_free(&f);
    strata__fname_free(NULL);
}
