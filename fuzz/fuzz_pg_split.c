/*
 * fuzz_pg_split.c - strata__pg_split, PostgreSQL's own parser splitting a
 * script, on any bytes (not NUL-terminated).
 *
 * Invariants on success: every statement lies within the input, starts and
 * ends on a non-blank byte that is not the ';', comes after the previous
 * one (and after its COPY data) without overlap; its line is the line of its
 * offset; flags are known bits and `what` is set exactly when flags are;
 * COPY data lies after the statement and only COPY_IN has any. A statement's
 * own text, split again alone, is one statement with the same flags (COPY
 * excepted: its data is not in that text). On failure: EREFUSED,
 * BAD_SCRIPT, nothing returned, a line within the input.
 *
 * The only caller passes a loaded script, which strata__script_load has
 * checked to be UTF-8. Other bytes are still split (memory errors count),
 * but may fail with STRATA_ENOMEM: libpg_query hands back its parse tree
 * as JSON holding the raw bytes, which jansson rejects as invalid UTF-8
 * and pgsql.c reports as out of memory (see fuzz/regressions/pg_split).
 */
#include "fuzz.h"

#include "drivers/pgsql.h"

#include <unistr.h>

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = fuzz_dup(data, size);
    strata__pg_script s;
    strata__err err;
    strata__err_clear(&err);

    int rc = strata__pg_split(&s, sql, size, "fuzz.sql", 1, &err);
    size_t lines = fuzz_count_nl(sql, size) + 1;
    if (rc == STRATA_ENOMEM && u8_check((const uint8_t *)sql, size) != NULL) {
        FUZZ_CHECK(s.count == 0 && s.items == NULL);
        free(sql);
        return 0;
    }
    if (rc != STRATA_OK) {
        FUZZ_CHECK(rc == STRATA_EREFUSED);
        FUZZ_CHECK(err.pub.reason == STRATA_REASON_BAD_SCRIPT);
        FUZZ_CHECK(s.count == 0 && s.items == NULL);
        FUZZ_CHECK(err.pub.line >= 1 && (size_t)err.pub.line <= lines);
        free(sql);
        return 0;
    }
    FUZZ_CHECK((s.count == 0) == (s.items == NULL));
    size_t floor = 0;
    for (size_t i = 0; i < s.count; i++) {
        const strata__pg_stmt *st = &s.items[i];
        FUZZ_CHECK(st->len > 0);
        FUZZ_CHECK(st->offset >= floor && st->offset < size);
        FUZZ_CHECK(st->len <= size - st->offset);
        FUZZ_CHECK(!blank(sql[st->offset]));
        FUZZ_CHECK(!blank(sql[st->offset + st->len - 1]));
        FUZZ_CHECK(sql[st->offset + st->len - 1] != ';');
        FUZZ_CHECK(st->line == strata__line_of(sql, st->offset));
        FUZZ_CHECK((st->flags & ~(STRATA__PG_NO_TX | STRATA__PG_TX_CONTROL |
                                  STRATA__PG_COPY_IN)) == 0);
        FUZZ_CHECK((st->flags != 0) == (st->what != NULL));
        floor = st->offset + st->len;
        if (st->flags & STRATA__PG_COPY_IN) {
            FUZZ_CHECK(st->data_offset >= floor && st->data_offset <= size);
            FUZZ_CHECK(st->data_len <= size - st->data_offset);
            floor = st->data_offset + st->data_len;
        } else {
            FUZZ_CHECK(st->data_offset == 0 && st->data_len == 0);
        }

        if (st->flags & STRATA__PG_COPY_IN)
            continue;
        strata__pg_script one;
        strata__err err1;
        strata__err_clear(&err1);
        FUZZ_CHECK(strata__pg_split(&one, sql + st->offset, st->len, "one.sql",
                                    1, &err1) == STRATA_OK);
        FUZZ_CHECK(one.count == 1);
        FUZZ_CHECK(one.items[0].offset == 0 && one.items[0].len == st->len);
        FUZZ_CHECK(one.items[0].flags == st->flags);
        strata__pg_script_free(&one);
    }
    strata__pg_script_free(&s);
    FUZZ_CHECK(s.count == 0 && s.items == NULL);
    free(sql);
    return 0;
}
