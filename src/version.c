/*
 * version.c - canonical form and ordering of migration versions.
 *
 * Versions are digit strings of any length: timestamps with 14, 18 or 20
 * digits exist in the wild and 20 digits overflow uint64, so nothing here
 * converts a version to a machine integer. A numeric part is compared by its
 * length once leading zeros are gone, then byte by byte, which is the same as
 * comparing the numbers. Two orders exist:
 *   NUMERIC  "1.2", "0001", "20251025120000": '.'-separated numeric parts;
 *   STRING   Diesel's order: dashes removed, then plain strcmp, so
 *            "2017-08-31-120000" becomes "20170831120000" and an 18-digit
 *            version sorts among 14-digit ones as a string would.
 */
#include "strata_int.h"

#include <stdlib.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Canonical NUMERIC form written into `dst` (capacity >= len + 2). Returns
 * the length written, or -1 when `text` is not a dotted digit string. */
static long canonical_numeric(char *dst, const char *text, size_t len)
{
    size_t o = 0;
    /* Where the output stood after the last part that was not zero: trailing
     * zero parts are cut back to it. */
    size_t keep = 0;
    size_t i = 0;
    int first = 1;

    if (len == 0)
        return -1;
    for (;;) {
        size_t start = i;
        while (i < len && is_digit(text[i]))
            i++;
        if (i == start)
            return -1; /* empty part: "", ".1", "1..2", "1." */
        size_t p = start;
        while (p + 1 < i && text[p] == '0')
            p++;
        if (!first)
            dst[o++] = '.';
        memcpy(dst + o, text + p, i - p);
        o += i - p;
        if (first || !(i - p == 1 && text[p] == '0'))
            keep = o;
        first = 0;
        if (i == len)
            break;
        if (text[i] != '.')
            return -1;
        i++;
    }
    dst[keep] = '\0';
    return (long)keep;
}

/* Canonical STRING form: digits kept, dashes dropped, at least one digit. */
static long canonical_string(char *dst, const char *text, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(text[i]))
            dst[o++] = text[i];
        else if (text[i] != '-')
            return -1;
    }
    if (o == 0)
        return -1;
    dst[o] = '\0';
    return (long)o;
}

int strata__version_canonical(char **out, const char *text, size_t len,
                              strata__order order)
{
    char *buf = NULL;
    int rc = 0;

    *out = NULL;
    if (text == NULL) {
        rc = -1;
        goto out;
    }
    buf = malloc(len + 2);
    if (buf == NULL) {
        rc = STRATA_ENOMEM;
        goto out;
    }
    long n = order == STRATA__ORDER_STRING ? canonical_string(buf, text, len)
                                           : canonical_numeric(buf, text, len);
    if (n < 0) {
        rc = -1;
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    return rc;
}

/* One numeric part [p, end) of a version: skips leading zeros so that the
 * comparison also holds for text that is not canonical. */
static void part_bounds(const char *s, const char **p, const char **end)
{
    const char *e = s;
    while (*e != '\0' && *e != '.')
        e++;
    while (s + 1 < e && *s == '0')
        s++;
    *p = s;
    *end = e;
}

static int cmp_part(const char *a, const char *a_end, const char *b,
                    const char *b_end)
{
    size_t la = (size_t)(a_end - a), lb = (size_t)(b_end - b);
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = memcmp(a, b, la);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int strata__version_cmp(const char *a, const char *b, strata__order order)
{
    static const char zero[] = "0";

    if (order == STRATA__ORDER_STRING) {
        int c = strcmp(a, b);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    /* A side that has run out of parts stands for 0 ("1" == "1.0"). */
    while (*a != '\0' || *b != '\0') {
        const char *pa, *ea, *pb, *eb;
        if (*a != '\0') {
            part_bounds(a, &pa, &ea);
        } else {
            pa = zero;
            ea = zero + 1;
        }
        if (*b != '\0') {
            part_bounds(b, &pb, &eb);
        } else {
            pb = zero;
            eb = zero + 1;
        }
        int c = cmp_part(pa, ea, pb, eb);
        if (c != 0)
            return c;
        a = *a == '\0' ? a : (*ea == '.' ? ea + 1 : ea);
        b = *b == '\0' ? b : (*eb == '.' ? eb + 1 : eb);
    }
    return 0;
}
