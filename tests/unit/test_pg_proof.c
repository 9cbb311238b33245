/*
 * test_pg_proof.c - strata__pg_proof() trusts a cached digest exactly when
 * the look's facts prove it (pg_digest.h): each condition, on its own,
 * refuses; ages are compared across the 32-bit wrap; text that is not as
 * the look writes it is refused, never read past.
 */
#include "drivers/pg_proof.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define DIGEST                                                                 \
    "7dad175e740a8d8a6107c0daa321bee30e2d57525862e371aa07b1468adfc251"

/* One cache row and the tracking table's facts beside it; a negative
 * young, low or high leaves that element out (NULL in SQL). */
typedef struct row {
    const char *module, *digest;
    long long horizon, count, rel, writer;
    long long xmin, age;
    long long rows, young, low, high;
} row;

/* The row of a store at horizon 1727 by transaction 1728 over 1,000 rows
 * of table 16387, the newest written by 1727, read with 25 transactions
 * since: the base age() counts from is 1753. */
static row valid(void)
{
    row r = {"default", DIGEST, 1727, 1000, 16387, 1728,
             1728,      25,     1000, 26,   16387, 16387};
    return r;
}

/* query_to_xml() text for rows (tableforest, NULLs left out); the module
 * goes in as given, so a caller escapes it as query_to_xml() would. */
static void facts(char *out, size_t n, const row *rows, size_t count)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const row *r = &rows[i];
        char young[48] = "", low[48] = "", high[48] = "";
        if (r->young >= 0)
            snprintf(young, sizeof young, "  <m>%lld</m>\n", r->young);
        if (r->low >= 0)
            snprintf(low, sizeof low, "  <lo>%lld</lo>\n", r->low);
        if (r->high >= 0)
            snprintf(high, sizeof high, "  <hi>%lld</hi>\n", r->high);
        used += (size_t)snprintf(
            out + used, n - used,
            "<row xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
            "  <j>{\"rel\": %lld, \"digest\": \"%s\", \"module\": "
            "\"%s\", \"writer\": %lld, \"horizon\": %lld, \"row_count\": "
            "%lld}</j>\n  <x>%lld</x>\n  <a>%lld</a>\n  <n>%lld</n>\n%s%s%s"
            "</row>\n\n",
            r->rel, r->digest, r->module, r->writer, r->horizon, r->count,
            r->xmin, r->age, r->rows, young, low, high);
        cr_assert_lt(used, n);
    }
}

/* Whether r proves module "default"'s digest with snapshot xmax. */
static int proves(const row *r, const char *xmax)
{
    char xml[4096], out[65] = "untouched";
    facts(xml, sizeof xml, r, 1);
    int got = strata__pg_proof(xml, "default", xmax, out);
    if (got)
        cr_assert_str_eq(out, r->digest);
    else
        cr_assert_str_eq(out, "untouched", "a refusal writes nothing");
    return got;
}

Test(pg_proof, valid_row_proves)
{
    row r = valid();
    cr_assert(proves(&r, "1753"));
}

Test(pg_proof, module_and_digest)
{
    row r = valid();
    r.module = "other";
    cr_assert_not(proves(&r, "1753"));
    r = valid();
    r.digest =
        "7DAD175E740A8D8A6107C0DAA321BEE30E2D57525862E371AA07B1468ADFC251";
    cr_assert_not(proves(&r, "1753"), "upper case is not strata's digest");
    r.digest = "7dad175e";
    cr_assert_not(proves(&r, "1753"));
    r.digest =
        "7dad175e740a8d8a6107c0daa321bee30e2d57525862e371aa07b1468adfc25g";
    cr_assert_not(proves(&r, "1753"));
}

Test(pg_proof, writer_owns_the_row)
{
    row r = valid();
    r.xmin = 1900; /* rewritten by another transaction: a restore, say */
    r.age = 25 - (1900 - 1728);
    cr_assert_not(proves(&r, "1753"));
    /* the writer is a 64-bit txid; xmin is its low 32 bits */
    r = valid();
    r.writer = (1LL << 32) + 1728;
    r.horizon = (1LL << 32) + 1727;
    cr_assert(proves(&r, "4294969049")); /* 2^32 + 1753 */
    r.writer = -1728;
    cr_assert_not(proves(&r, "4294969049"));
    /* an xmin that is not a normal id (age() calls it infinitely old) gives
     * no base to count ages from */
    r = valid();
    r.writer = r.xmin = 2;
    r.age = 1751;
    cr_assert_not(proves(&r, "1753"));
}

Test(pg_proof, horizon_age)
{
    row r = valid();
    long long edge = 1727 + (1LL << 30);
    char xmax[32];
    /* 2^30 transactions old is the oldest trusted; one more is not */
    r.age = 25 + (1LL << 30) - 26;
    r.young = (1LL << 30);
    snprintf(xmax, sizeof xmax, "%lld", edge);
    cr_assert(proves(&r, xmax));
    snprintf(xmax, sizeof xmax, "%lld", edge + 1);
    cr_assert_not(proves(&r, xmax));
    /* a horizon after the snapshot is a forgery */
    r = valid();
    cr_assert_not(proves(&r, "1726"));
    /* a horizon 2^32 older has the same low 32 bits: the 64-bit xmax
     * tells them apart */
    r = valid();
    cr_assert_not(proves(&r, "4294969049"));
    r.horizon = -1;
    cr_assert_not(proves(&r, "1753"));
    /* not a normal transaction id: age() calls it infinitely old */
    r = valid();
    r.horizon = 2;
    r.writer = 3;
    r.xmin = 3;
    r.age = 1750;
    r.young = -1;
    r.rows = r.count = 0;
    r.low = r.high = -1;
    cr_assert_not(proves(&r, "1753"));
}

Test(pg_proof, rows_and_table)
{
    row r = valid();
    r.rows = 999; /* a row deleted, none written */
    cr_assert_not(proves(&r, "1753"));
    r = valid();
    r.high = 16388; /* some rows from another table: a child */
    cr_assert_not(proves(&r, "1753"));
    r = valid();
    r.low = r.high = 16388; /* a renamed copy swapped in */
    cr_assert_not(proves(&r, "1753"));
    /* an empty table names none: the digest of no rows stands */
    r = valid();
    r.rows = r.count = 0;
    r.young = r.low = r.high = -1;
    cr_assert(proves(&r, "1753"));
    /* rows without a table, or a table without rows, is not the look */
    r = valid();
    r.low = r.high = -1;
    cr_assert_not(proves(&r, "1753"));
    r = valid();
    r.low = -1;
    cr_assert_not(proves(&r, "1753"));
}

Test(pg_proof, rows_after_the_horizon)
{
    row r = valid();
    r.young = 25; /* written by 1728, after the horizon 1727 */
    cr_assert_not(proves(&r, "1753"));
    r.young = 0; /* by the transaction about to be assigned */
    cr_assert_not(proves(&r, "1753"));
    r.young = 26; /* by 1727 itself: before, and so seen */
    cr_assert(proves(&r, "1753"));
    /* no row has an age that is not negative: all 2^31 or more old */
    r.young = -1;
    cr_assert(proves(&r, "1753"));
}

Test(pg_proof, ages_across_the_wrap)
{
    /* The 32-bit ids wrapped between the horizon and now: horizon
     * 2^32 - 10 (epoch 0), writer 2^32 - 9, base 15 (epoch 1). */
    row r = valid();
    r.horizon = (1LL << 32) - 10;
    r.writer = (1LL << 32) - 9;
    r.xmin = (1LL << 32) - 9;
    r.age = 24;
    r.young = 25;
    cr_assert(proves(&r, "4294967311")); /* 2^32 + 15 */
    r.young = 24;
    cr_assert_not(proves(&r, "4294967311"));
}

Test(pg_proof, the_module_row_among_others)
{
    row rows[3] = {valid(), valid(), valid()};
    rows[0].module = "billing";
    rows[1].module =
        "a&lt;b&amp;c&gt;"; /* "a<b&c>", as query_to_xml() has it */
    rows[2].digest =
        "0000000000000000000000000000000000000000000000000000000000000000";
    char xml[8192], out[65];
    facts(xml, sizeof xml, rows, 3);
    cr_assert(strata__pg_proof(xml, "default", "1753", out));
    cr_assert_str_eq(out, rows[2].digest);
    cr_assert(strata__pg_proof(xml, "a<b&c>", "1753", out));
    cr_assert_str_eq(out, DIGEST);
    cr_assert_not(strata__pg_proof(xml, "a&lt;b&amp;c&gt;", "1753", out));
    cr_assert_not(strata__pg_proof(xml, "missing", "1753", out));
}

Test(pg_proof, text_not_as_the_look_writes_it)
{
    char out[65] = "untouched";
    const char *bad[] = {
        "",
        "<row>",
        "<row><j>{}</j></row>",
        /* a member of the wrong type */
        "<row><j>{\"rel\": \"16387\", \"digest\": \"" DIGEST "\", "
        "\"module\": \"default\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>1728</x><a>25</a><n>1000</n><m>26</m>"
        "<lo>16387</lo><hi>16387</hi></row>",
        /* an escape query_to_xml() does not write, in a row otherwise
         * good */
        "<row><j>{\"rel\": 16387, \"digest\": \"" DIGEST "\", "
        "\"module\": \"def&#34;ault\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>1728</x><a>25</a><n>1000</n><m>26</m>"
        "<lo>16387</lo><hi>16387</hi></row>",
        /* numbers out of range or not numbers */
        "<row><j>{\"rel\": 16387, \"digest\": \"" DIGEST "\", "
        "\"module\": \"default\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>4294969024</x><a>25</a><n>1000</n>"
        "<m>26</m><lo>16387</lo><hi>16387</hi></row>",
        "<row><j>{\"rel\": 16387, \"digest\": \"" DIGEST "\", "
        "\"module\": \"default\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>1728</x><a>2.5</a><n>1000</n>"
        "<m>26</m><lo>16387</lo><hi>16387</hi></row>",
        /* no closing tag */
        "<row><j>{\"rel\": 16387, \"digest\": \"" DIGEST "\", "
        "\"module\": \"default\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>1728</x><a>25</a><n>1000</n>"
        "<m>26</m><lo>16387</lo><hi>16387</hi>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(strata__pg_proof(bad[i], "default", "1753", out),
                      "case %zu", i);
    const char *good =
        "<row><j>{\"rel\": 16387, \"digest\": \"" DIGEST "\", "
        "\"module\": \"default\", \"writer\": 1728, \"horizon\": 1727, "
        "\"row_count\": 1000}</j><x>1728</x><a>25</a><n>1000</n>"
        "<m>26</m><lo>16387</lo><hi>16387</hi></row>";
    cr_assert_not(strata__pg_proof(good, "default", "", out));
    cr_assert_not(strata__pg_proof(good, "default", "-5", out));
    cr_assert_not(strata__pg_proof(good, "default", "17x", out));
    cr_assert_not(strata__pg_proof(NULL, "default", "1753", out));
    cr_assert_str_eq(out, "untouched");
    cr_assert(strata__pg_proof(good, "default", "1753", out));
}
