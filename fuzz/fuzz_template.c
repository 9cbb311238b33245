/*
 * fuzz_template.c - strata__template_expand on any text.
 *
 * The first byte picks the context (schema, qualification) and the first
 * line number; the rest is the SQL, not NUL-terminated. Invariants: the
 * result is 0 or EREFUSED (reason BAD_TEMPLATE, a line within the text);
 * nothing is expanded without "{{"; expansion never moves a line (same
 * number of newlines, the documented promise error lines rely on); the
 * output is NUL-terminated at out_len. The map of expansions tiles the
 * output: each placeholder starts with "{{" and ends with "}}" in the
 * input, the text between expansions is the input's, byte for byte, and
 * strata__template_raw_offset() sends every byte there back to its source.
 */
#include "fuzz.h"

#include "strata_int.h"

static void check_map(const char *sql, size_t len, const char *out,
                      size_t out_len, const strata__expansion *map, size_t nmap)
{
    FUZZ_CHECK(nmap > 0);
    size_t o = 0, r = 0; /* where the verbatim text resumes */
    for (size_t k = 0; k <= nmap; k++) {
        size_t o_end = k < nmap ? map[k].off : out_len;
        size_t r_end = k < nmap ? map[k].raw_off : len;
        FUZZ_CHECK(o_end >= o && r_end >= r && o_end - o == r_end - r);
        FUZZ_CHECK(memcmp(out + o, sql + r, o_end - o) == 0);
        for (size_t b = o; b < o_end; b++)
            FUZZ_CHECK(strata__template_raw_offset(map, nmap, b) ==
                       r + (b - o));
        if (k == nmap)
            break;
        const strata__expansion *e = &map[k];
        FUZZ_CHECK(e->raw_len >= 5 && e->raw_off + e->raw_len <= len);
        FUZZ_CHECK(memcmp(sql + e->raw_off, "{{", 2) == 0);
        FUZZ_CHECK(memcmp(sql + e->raw_off + e->raw_len - 2, "}}", 2) == 0);
        FUZZ_CHECK(e->len > 0 && e->off + e->len <= out_len);
        for (size_t b = e->off; b < e->off + e->len; b++)
            FUZZ_CHECK(strata__template_raw_offset(map, nmap, b) == e->raw_off);
        o = e->off + e->len;
        r = e->raw_off + e->raw_len;
    }
    /* One past the end maps one past the end. */
    FUZZ_CHECK(strata__template_raw_offset(map, nmap, out_len) == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const schemas[] = {"public", "main", "we\"ird", "a.b"};
    if (size == 0)
        return 0;
    strata__template_ctx t = {schemas[data[0] & 3], (data[0] >> 2) & 1};
    int first_line = 1 + ((data[0] >> 3) & 7);
    size_t len = size - 1;
    char *sql = fuzz_dup(data + 1, len);
    char *out = NULL;
    size_t out_len = 0;
    strata__expansion *map = NULL;
    size_t nmap = 0;
    strata__err err;
    strata__err_clear(&err);

    int rc = strata__template_expand(&out, &out_len, &map, &nmap, sql, len, &t,
                                     "fuzz.sql", first_line, &err);
    FUZZ_CHECK(rc == STRATA_OK || rc == STRATA_EREFUSED);
    size_t nl = fuzz_count_nl(sql, len);
    if (rc == STRATA_OK) {
        int braces = 0;
        for (size_t i = 0; i + 1 < len; i++)
            braces |= sql[i] == '{' && sql[i + 1] == '{';
        if (!braces)
            FUZZ_CHECK(out == NULL);
        if (out != NULL) {
            FUZZ_CHECK(out[out_len] == '\0');
            FUZZ_CHECK(fuzz_count_nl(out, out_len) == nl);
            check_map(sql, len, out, out_len, map, nmap);
        } else {
            FUZZ_CHECK(map == NULL && nmap == 0);
        }
    } else {
        FUZZ_CHECK(out == NULL && map == NULL);
        FUZZ_CHECK(err.pub.reason == STRATA_REASON_BAD_TEMPLATE);
        FUZZ_CHECK(err.pub.line >= first_line &&
                   (size_t)err.pub.line <= (size_t)first_line + nl);
    }
    free(out);
    free(map);
    free(sql);
    return 0;
}
