/*
 * pg_proof.c - a cached state digest weighed against the look's facts; see
 * pg_proof.h for what they are and pg_digest.h for why they prove it.
 */
#include "pg_proof.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

/* How many transactions back a horizon may lie: well within the 2^31
 * where age() compares 32-bit ids right (pg_digest.h). */
#define MAX_AGE (INT64_C(1) << 30)

/* The longest cache row, as JSON, worth reading: strata's are ~200 bytes. */
#define MAX_JSON 4096

/* One cache row and what the look read beside it. */
typedef struct facts {
    json_t *row;         /* the cache row (to_jsonb) */
    long long xmin, age; /* its xmin and age(xmin) */
    long long rows;      /* the tracking table's rows */
    int has_young;       /* a row's age(xmin) is not negative */
    long long young;     /* the least such age */
    int has_rel;         /* the rows have a table (there are rows) */
    long long low, high; /* their least and greatest tableoid */
} facts;

const char *strata__pg_xml_element(const char *row, const char *end,
                                   const char *tag, size_t *len)
{
    char open[8], close[8];
    size_t n = strlen(tag);
    if (n + 4 > sizeof close)
        return NULL;
    open[0] = '<';
    memcpy(open + 1, tag, n);
    memcpy(open + 1 + n, ">", 2);
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, n);
    memcpy(close + 2 + n, ">", 2);
    for (const char *p = row; p + n + 2 <= end; p++) {
        if (memcmp(p, open, n + 2) != 0)
            continue;
        const char *v = p + n + 2;
        for (const char *q = v; q + n + 3 <= end; q++)
            if (memcmp(q, close, n + 3) == 0) {
                *len = (size_t)(q - v);
                return v;
            }
        return NULL;
    }
    return NULL;
}

/* A decimal integer, optionally negative, that is all of s[0..len) and
 * lies in [lo, hi]. */
static int number(const char *s, size_t len, long long lo, long long hi,
                  long long *out)
{
    int neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len || len - i > 19)
        return 0;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v > (unsigned long long)INT64_MAX)
        return 0;
    long long x = neg ? -(long long)v : (long long)v;
    if (x < lo || x > hi)
        return 0;
    *out = x;
    return 1;
}

/* The element `tag` of [row, end) as a number in [lo, hi]: 1 when there, 0
 * when absent, -1 when there but not such a number. */
static int element_number(const char *row, const char *end, const char *tag,
                          long long lo, long long hi, long long *out)
{
    size_t len;
    const char *v = strata__pg_xml_element(row, end, tag, &len);
    if (v == NULL)
        return 0;
    return number(v, len, lo, hi, out) ? 1 : -1;
}

/* The JSON in <j>, its XML escapes undone (query_to_xml() escapes &, < and
 * >; JSON escapes every control character itself). NULL when absent,
 * too long or escaped otherwise. */
static json_t *row_json(const char *row, const char *end)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}};
    size_t len, n = 0;
    const char *v = strata__pg_xml_element(row, end, "j", &len);
    char buf[MAX_JSON];
    if (v == NULL || len >= sizeof buf)
        return NULL;
    for (size_t i = 0; i < len;) {
        if (v[i] != '&') {
            buf[n++] = v[i++];
            continue;
        }
        size_t k = 0, count = sizeof entities / sizeof entities[0];
        while (k < count && (len - i < strlen(entities[k].entity) ||
                             memcmp(v + i, entities[k].entity,
                                    strlen(entities[k].entity)) != 0))
            k++;
        if (k == count)
            return NULL;
        buf[n++] = entities[k].c;
        i += strlen(entities[k].entity);
    }
    return json_loadb(buf, n, 0, NULL);
}

/* The row's member `key` as an integer, into out; 0 when it is not one. */
static int member_int(const json_t *row, const char *key, long long *out)
{
    json_t *v = json_object_get(row, key);
    if (!json_is_integer(v))
        return 0;
    *out = (long long)json_integer_value(v);
    return 1;
}

/* Reads one <row> into f; f->row is NULL when it is not as pg_proof.h has
 * it (f->row, when set, is the caller's to json_decref). */
static void read_row(const char *row, const char *end, facts *f)
{
    const long long u32 = INT64_C(0xffffffff), i32 = INT32_MAX;
    memset(f, 0, sizeof *f);
    int young = element_number(row, end, "m", 0, i32, &f->young);
    int has_low = element_number(row, end, "lo", 0, u32, &f->low);
    int has_high = element_number(row, end, "hi", 0, u32, &f->high);
    if (element_number(row, end, "x", 0, u32, &f->xmin) != 1 ||
        element_number(row, end, "a", INT32_MIN, i32, &f->age) != 1 ||
        element_number(row, end, "n", 0, INT64_MAX, &f->rows) != 1 ||
        young < 0 || has_low < 0 || has_high < 0 || has_low != has_high ||
        has_low != (f->rows > 0))
        return;
    f->has_young = young;
    f->has_rel = has_low;
    f->row = row_json(row, end);
}

/* 32-bit x - y as PostgreSQL's age() reads it: a signed distance. */
static long long distance32(long long x, long long y)
{
    long long d = (x - y) & INT64_C(0xffffffff);
    return d > INT32_MAX ? d - (INT64_C(1) << 32) : d;
}

/* Whether f proves module's digest, which goes into out when it does. */
static int proves(const facts *f, const char *module, long long xmax,
                  char out[65])
{
    const json_t *row = f->row;
    const char *name = json_string_value(json_object_get(row, "module"));
    const char *digest = json_string_value(json_object_get(row, "digest"));
    long long horizon, count, rel, writer;
    if (name == NULL || strcmp(name, module) != 0 || digest == NULL ||
        strlen(digest) != 64 || strspn(digest, "0123456789abcdef") != 64 ||
        !member_int(row, "horizon", &horizon) ||
        !member_int(row, "row_count", &count) ||
        !member_int(row, "rel", &rel) || !member_int(row, "writer", &writer))
        return 0;
    /* the row is still the one its writer wrote; a normal id, since the
     * base of every age() below is worked out from it */
    if (writer < 0 || (writer & INT64_C(0xffffffff)) != f->xmin || f->xmin < 3)
        return 0;
    /* the horizon is recent enough for 32-bit ages to compare right */
    if (horizon < 0 || horizon > xmax || xmax - horizon > MAX_AGE)
        return 0;
    /* the same table, with as many rows */
    if (f->rows != count || (f->has_rel && (f->low != rel || f->high != rel)))
        return 0;
    /* none written after the horizon: every age() counts from one base,
     * the cache row's xmin plus its age */
    long long h32 = horizon & INT64_C(0xffffffff);
    if (h32 < 3) /* not a normal id: age() would call it infinitely old */
        return 0;
    long long base = (f->xmin + f->age) & INT64_C(0xffffffff);
    long long horizon_age = distance32(base, h32);
    if (horizon_age < 0 || (f->has_young && f->young < horizon_age))
        return 0;
    memcpy(out, digest, 65);
    return 1;
}

int strata__pg_proof(const char *facts_xml, const char *module,
                     const char *xmax, char out[65])
{
    long long top;
    if (facts_xml == NULL || module == NULL || xmax == NULL ||
        !number(xmax, strlen(xmax), 0, INT64_MAX, &top))
        return 0;
    const char *p = facts_xml;
    while ((p = strstr(p, "<row")) != NULL) {
        const char *end = strstr(p, "</row>");
        if (end == NULL)
            return 0;
        facts f;
        read_row(p, end, &f);
        int ok = f.row != NULL && proves(&f, module, top, out);
        json_decref(f.row);
        if (ok)
            return 1;
        p = end;
    }
    return 0;
}
