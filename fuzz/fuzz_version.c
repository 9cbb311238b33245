/*
 * fuzz_version.c - strata__version_canonical in both orders and
 * strata__version_cmp.
 *
 * The input is up to three versions separated by '\n'. For each order:
 *   - canonical is idempotent, never longer than its input, and made of
 *     digits (and dots, NUMERIC) only; STRING keeps exactly the digits;
 *     NUMERIC leaves no leading zero in a part and no trailing ".0";
 *   - NUMERIC compares a raw version equal to its canonical form;
 *   - cmp is -1/0/1, reflexive, antisymmetric, transitive, and 0 only for
 *     identical canonical texts; short single-part versions compare as
 *     integers.
 */
#include "fuzz.h"

#include "strata_int.h"

#define NV 3

static int sign(int c)
{
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static void check_numeric_form(const char *v)
{
    FUZZ_CHECK(strspn(v, "0123456789.") == strlen(v));
    for (const char *p = v;;) {
        size_t n = strcspn(p, ".");
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(n == 1 || p[0] != '0');
        if (p[n] == '\0') {
            /* The last part is not zero unless it is the only one. */
            FUZZ_CHECK(p == v || !(n == 1 && p[0] == '0'));
            break;
        }
        p += n + 1;
    }
}

static void check_one(const char *text, size_t len, strata__order order,
                      char **out)
{
    int rc = strata__version_canonical(out, text, len, order);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(*out == NULL);
        return;
    }
    const char *v = *out;
    FUZZ_CHECK(v != NULL && v[0] != '\0' && strlen(v) <= len);
    if (order == STRATA__ORDER_STRING) {
        size_t o = 0;
        for (size_t i = 0; i < len; i++)
            if (text[i] >= '0' && text[i] <= '9')
                FUZZ_CHECK(v[o++] == text[i]);
        FUZZ_CHECK(v[o] == '\0');
    } else {
        check_numeric_form(v);
        /* The raw text is digits and dots here, so it is a C string. */
        char *raw = fuzz_cstr((const uint8_t *)text, len);
        FUZZ_CHECK(strata__version_cmp(raw, v, order) == 0);
        FUZZ_CHECK(strata__version_cmp(v, raw, order) == 0);
        free(raw);
    }
    char *again = NULL;
    FUZZ_CHECK(strata__version_canonical(&again, v, strlen(v), order) == 0);
    FUZZ_CHECK(strcmp(again, v) == 0);
    free(again);
}

/* A single part of at most 18 digits as an integer, or -1. */
static long long small_value(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
        return -1;
    return strtoll(v, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    const char *text[NV];
    size_t len[NV];
    size_t n = 0, pos = 0;
    while (n < NV) {
        const char *nl = size > pos ? memchr(buf + pos, '\n', size - pos) : 0;
        size_t end = nl != NULL ? (size_t)(nl - buf) : size;
        text[n] = buf + pos;
        len[n++] = end - pos;
        if (nl == NULL)
            break;
        pos = end + 1;
    }

    for (int o = 0; o < 2; o++) {
        strata__order order = o ? STRATA__ORDER_STRING : STRATA__ORDER_NUMERIC;
        char *v[NV] = {NULL};
        for (size_t i = 0; i < n; i++)
            check_one(text[i], len[i], order, &v[i]);
        for (size_t i = 0; i < n; i++) {
            if (v[i] == NULL)
                continue;
            FUZZ_CHECK(strata__version_cmp(v[i], v[i], order) == 0);
            for (size_t j = 0; j < n; j++) {
                if (v[j] == NULL)
                    continue;
                int c = strata__version_cmp(v[i], v[j], order);
                FUZZ_CHECK(c == -1 || c == 0 || c == 1);
                FUZZ_CHECK(c == -strata__version_cmp(v[j], v[i], order));
                FUZZ_CHECK((c == 0) == (strcmp(v[i], v[j]) == 0));
                if (order == STRATA__ORDER_STRING)
                    FUZZ_CHECK(c == sign(strcmp(v[i], v[j])));
                long long a = small_value(v[i]), b = small_value(v[j]);
                if (order == STRATA__ORDER_NUMERIC && a >= 0 && b >= 0)
                    FUZZ_CHECK(c == (a < b ? -1 : (a > b ? 1 : 0)));
                for (size_t k = 0; k < n; k++) {
                    if (v[k] == NULL)
                        continue;
                    if (c <= 0 && strata__version_cmp(v[j], v[k], order) <= 0)
                        FUZZ_CHECK(strata__version_cmp(v[i], v[k], order) <= 0);
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            free(v[i]);
    }
    free(buf);
    return 0;
}
