/*
 * test_version.c - canonical versions and their two orders.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *canon(const char *text, strata__order order)
{
    char *out = NULL;
    int rc = strata__version_canonical(&out, text, strlen(text), order);
    cr_assert_eq(rc, 0, "canonical(\"%s\") rc=%d", text, rc);
    cr_assert_not_null(out);
    return out;
}

static void expect_canon(const char *text, strata__order order,
                         const char *want)
{
    char *got = canon(text, order);
    cr_assert_str_eq(got, want, "canonical(\"%s\")", text);
    free(got);
}

static void expect_reject(const char *text, strata__order order)
{
    char *out = (char *)1;
    int rc = strata__version_canonical(&out, text, strlen(text), order);
    cr_assert_eq(rc, -1, "\"%s\" should be rejected, rc=%d", text, rc);
    cr_assert_null(out);
}

static int num(const char *a, const char *b)
{
    return strata__version_cmp(a, b, STRATA__ORDER_NUMERIC);
}

Test(version, canonical_numeric)
{
    expect_canon("1", STRATA__ORDER_NUMERIC, "1");
    expect_canon("0001", STRATA__ORDER_NUMERIC, "1");
    expect_canon("000", STRATA__ORDER_NUMERIC, "0");
    expect_canon("0", STRATA__ORDER_NUMERIC, "0");
    expect_canon("1.2", STRATA__ORDER_NUMERIC, "1.2");
    expect_canon("1.2.0", STRATA__ORDER_NUMERIC, "1.2");
    expect_canon("1.0.0", STRATA__ORDER_NUMERIC, "1");
    expect_canon("1.0.2", STRATA__ORDER_NUMERIC, "1.0.2");
    expect_canon("01.002.0003", STRATA__ORDER_NUMERIC, "1.2.3");
    expect_canon("0.0", STRATA__ORDER_NUMERIC, "0");
    expect_canon("0.1", STRATA__ORDER_NUMERIC, "0.1");
    expect_canon("10", STRATA__ORDER_NUMERIC, "10");
    expect_canon("20251025120000", STRATA__ORDER_NUMERIC, "20251025120000");
    expect_canon("00020251105000000000001", STRATA__ORDER_NUMERIC,
                 "20251105000000000001");
}

Test(version, canonical_uses_len_not_nul)
{
    char *out = NULL;
    cr_assert_eq(
        strata__version_canonical(&out, "0012_name", 4, STRATA__ORDER_NUMERIC),
        0);
    cr_assert_str_eq(out, "12");
    free(out);
}

Test(version, canonical_numeric_rejects)
{
    expect_reject("", STRATA__ORDER_NUMERIC);
    expect_reject(".", STRATA__ORDER_NUMERIC);
    expect_reject("1.", STRATA__ORDER_NUMERIC);
    expect_reject(".1", STRATA__ORDER_NUMERIC);
    expect_reject("1..2", STRATA__ORDER_NUMERIC);
    expect_reject("1a", STRATA__ORDER_NUMERIC);
    expect_reject("-1", STRATA__ORDER_NUMERIC);
    expect_reject("1-2", STRATA__ORDER_NUMERIC);
    expect_reject(" 1", STRATA__ORDER_NUMERIC);
    expect_reject("V1", STRATA__ORDER_NUMERIC);
}

Test(version, canonical_string)
{
    expect_canon("2017-08-31-120000", STRATA__ORDER_STRING, "20170831120000");
    expect_canon("00000000000000", STRATA__ORDER_STRING, "00000000000000");
    expect_canon("2026-07-30-140000-0000", STRATA__ORDER_STRING,
                 "202607301400000000");
    expect_canon("007", STRATA__ORDER_STRING, "007");
    expect_reject("", STRATA__ORDER_STRING);
    expect_reject("---", STRATA__ORDER_STRING);
    expect_reject("2017_01", STRATA__ORDER_STRING);
    expect_reject("1.2", STRATA__ORDER_STRING);
    expect_reject("2017a", STRATA__ORDER_STRING);
}

Test(version, numeric_order)
{
    cr_assert_lt(num("9", "10"), 0);
    cr_assert_gt(num("10", "9"), 0);
    cr_assert_eq(num("1", "1"), 0);
    cr_assert_eq(num("001", "1"), 0, "non-canonical zeros must not matter");
    cr_assert_eq(num("1", "1.0"), 0);
    cr_assert_eq(num("1.0.0", "1"), 0);
    cr_assert_lt(num("1", "1.1"), 0);
    cr_assert_lt(num("1.2", "1.10"), 0);
    cr_assert_gt(num("1.10", "1.9"), 0);
    cr_assert_lt(num("1.9", "2"), 0);
    cr_assert_gt(num("2", "1.99999"), 0);
    cr_assert_lt(num("0", "1"), 0);
    cr_assert_eq(num("0", "0.0"), 0);
}

Test(version, numeric_beyond_uint64)
{
    /* 18446744073709551615 is UINT64_MAX; both sides are above it. */
    cr_assert_lt(num("20251105000000000001", "20251105000000000002"), 0);
    cr_assert_gt(num("99999999999999999999", "18446744073709551616"), 0);
    cr_assert_gt(num("100000000000000000000", "99999999999999999999"), 0);
    cr_assert_gt(num("20251105000000000001", "20251025120000"), 0);
    cr_assert_eq(num("000020251105000000000001", "20251105000000000001"), 0);
}

Test(version, string_order_differs_from_numeric)
{
    /* Diesel mixes 14- and 18-digit versions and compares them as strings;
     * as numbers every 18-digit one would come last. */
    const char *a = "202607301400000000", *b = "20270101000000";
    cr_assert_lt(strata__version_cmp(a, b, STRATA__ORDER_STRING), 0);
    cr_assert_gt(strata__version_cmp(a, b, STRATA__ORDER_NUMERIC), 0);
    cr_assert_gt(strata__version_cmp("9", "10", STRATA__ORDER_STRING), 0);
    cr_assert_lt(strata__version_cmp("9", "10", STRATA__ORDER_NUMERIC), 0);
    cr_assert_eq(strata__version_cmp("007", "007", STRATA__ORDER_STRING), 0);
    cr_assert_neq(strata__version_cmp("007", "7", STRATA__ORDER_STRING), 0);
}

Test(version, cmp_sign_is_normalised)
{
    cr_assert_eq(num("1", "5"), -1);
    cr_assert_eq(num("5", "1"), 1);
    cr_assert_eq(strata__version_cmp("a", "z", STRATA__ORDER_STRING), -1);
}
