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
 * BAD_SCRIPT, nothing returned, a line within the input. Split both
 * strictly and leniently (for a server newer than the parser): the same
 * invariants, UNPARSED allowed in the latter, and whatever the strict
 * split accepts, the lenient one splits identically.
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

/* Splits in one mode and checks the invariants above; returns the code,
 * with *s filled on success. */
static int check(const char *sql, size_t size, int lenient,
                 strata__pg_script *s)
{
    strata__err err;
    strata__err_clear(&err);
    int rc = strata__pg_split(s, sql, size, "fuzz.sql", 1, lenient, &err);
    size_t lines = fuzz_count_nl(sql, size) + 1;
    if (rc == STRATA_ENOMEM && u8_check((const uint8_t *)sql, size) != NULL) {
        FUZZ_CHECK(s->count == 0 && s->items == NULL);
        return rc;
    }
    if (rc != STRATA_OK) {
        FUZZ_CHECK(rc == STRATA_EREFUSED);
        FUZZ_CHECK(err.pub.reason == STRATA_REASON_BAD_SCRIPT);
        FUZZ_CHECK(s->count == 0 && s->items == NULL);
        FUZZ_CHECK(err.pub.line >= 1 && (size_t)err.pub.line <= lines);
        return rc;
    }
    unsigned known = STRATA__PG_NO_TX | STRATA__PG_TX_CONTROL |
                     STRATA__PG_COPY_IN | (lenient ? STRATA__PG_UNPARSED : 0u);
    FUZZ_CHECK((s->count == 0) == (s->items == NULL));
    int utf8 = u8_check((const uint8_t *)sql, size) == NULL;
    size_t floor = 0;
    for (size_t i = 0; i < s->count; i++) {
        const strata__pg_stmt *st = &s->items[i];
        FUZZ_CHECK(st->len > 0);
        FUZZ_CHECK(st->offset >= floor && st->offset < size);
        FUZZ_CHECK(st->len <= size - st->offset);
        FUZZ_CHECK(!blank(sql[st->offset]));
        FUZZ_CHECK(!blank(sql[st->offset + st->len - 1]));
        FUZZ_CHECK(sql[st->offset + st->len - 1] != ';');
        FUZZ_CHECK(st->line == strata__line_of(sql, st->offset));
        FUZZ_CHECK((st->flags & ~known) == 0);
        FUZZ_CHECK((st->flags != 0) == (st->what != NULL));
        floor = st->offset + st->len;
        if (st->flags & STRATA__PG_COPY_IN) {
            FUZZ_CHECK(st->data_offset >= floor && st->data_offset <= size);
            FUZZ_CHECK(st->data_len <= size - st->data_offset);
            floor = st->data_offset + st->data_len;
        } else {
            FUZZ_CHECK(st->data_offset == 0 && st->data_len == 0);
        }

        /* What was passed on was bounded by the scanner in place, which
         * needs a keyword before a ';' to end a statement: alone, its text
         * may bound differently. And libpg_query counts an invalid UTF-8
         * lead byte and the bytes after it as one character, so an error's
         * position may land early, even inside a string. */
        if ((st->flags & (STRATA__PG_COPY_IN | STRATA__PG_UNPARSED)) ||
            (lenient && !utf8))
            continue;
        strata__pg_script one;
        strata__err err1;
        strata__err_clear(&err1);
        FUZZ_CHECK(strata__pg_split(&one, sql + st->offset, st->len, "one.sql",
                                    1, lenient, &err1) == STRATA_OK);
        FUZZ_CHECK(one.count == 1);
        FUZZ_CHECK(one.items[0].offset == 0 && one.items[0].len == st->len);
        FUZZ_CHECK(one.items[0].flags == st->flags);
        strata__pg_script_free(&one);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = fuzz_dup(data, size);
    strata__pg_script strict, lenient;
    int rc = check(sql, size, 0, &strict);
    int lrc = check(sql, size, 1, &lenient);
    /* What the parser accepts splits the same for a newer server. */
    if (rc == STRATA_OK) {
        FUZZ_CHECK(lrc == STRATA_OK && lenient.count == strict.count);
        for (size_t i = 0; i < strict.count; i++) {
            const strata__pg_stmt *a = &strict.items[i], *b = &lenient.items[i];
            FUZZ_CHECK(a->offset == b->offset && a->len == b->len);
            FUZZ_CHECK(a->data_offset == b->data_offset &&
                       a->data_len == b->data_len);
            FUZZ_CHECK(a->flags == b->flags && a->what == b->what);
            FUZZ_CHECK(a->line == b->line);
        }
    }
    strata__pg_script_free(&strict);
    strata__pg_script_free(&lenient);
    FUZZ_CHECK(strict.count == 0 && strict.items == NULL);
    free(sql);
    return 0;
}
