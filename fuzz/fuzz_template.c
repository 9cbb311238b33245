/*
 * fuzz_template.c - strata__template_expand on any text.
 *
 * The first byte picks the context (schema, qualification) and the first
 * line number; the rest is the SQL, not NUL-terminated. Invariants: the
 * result is 0 or EREFUSED (reason BAD_TEMPLATE, a line within the text);
 * nothing is expanded without "{{"; expansion never moves a line (same
 * number of newlines, the documented promise error lines rely on); the
 * output is NUL-terminated at out_len.
 */
#include "fuzz.h"

#include "strata_int.h"

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
    strata__err err;
    strata__err_clear(&err);

    int rc = strata__template_expand(&out, &out_len, sql, len, &t, "fuzz.sql",
                                     first_line, &err);
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
        }
    } else {
        FUZZ_CHECK(out == NULL);
        FUZZ_CHECK(err.pub.reason == STRATA_REASON_BAD_TEMPLATE);
        FUZZ_CHECK(err.pub.line >= first_line &&
                   (size_t)err.pub.line <= (size_t)first_line + nl);
    }
    free(out);
    free(sql);
    return 0;
}
