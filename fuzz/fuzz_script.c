/*
 * fuzz_script.c - directive and marker lines, the up/down splitter and
 * template expansion, through strata__script_load.
 *
 * The input is the file of a fake embedded migration, loaded as:
 *   markers=1: a plain file with -- strata:up/down markers, UP and DOWN;
 *   markers=0: a separate up file (UP) and a separate down file (DOWN).
 * Invariants: refusals are EREFUSED with a line inside the file; a loaded
 * section is a verbatim slice of the file (unless templates expanded it),
 * NUL-terminated, with the file's checksum; has_sql agrees with
 * strata__sql_has_content; an up section's no-transaction agrees with
 * strata__script_head_no_tx (what the directory scan shows); and a marker
 * file is good or bad as a whole: a refusal of its lines is the same, on the
 * same line, whichever section is loaded.
 */
#include "fuzz.h"

#include "strata_int.h"

typedef struct outcome {
    int rc;
    strata_reason reason;
    int line;
} outcome;

static outcome load(const strata__migration *m, const strata_embedded *set,
                    strata_direction dir, const char *data, size_t size,
                    int qualify)
{
    static const char *const up_path = "fuzz/0001_x.sql";
    strata__template_ctx t = {"we\"ird", qualify};
    strata__script s;
    strata__err err;
    strata__err_clear(&err);

    int rc = strata__script_load(&s, m, dir, set, &t, &err);
    outcome o = {rc, err.pub.reason, err.pub.line};
    size_t lines = fuzz_count_nl(data, size) + 1;
    if (rc != STRATA_OK) {
        FUZZ_CHECK(rc == STRATA_EREFUSED);
        FUZZ_CHECK(err.pub.reason == STRATA_REASON_BAD_SCRIPT ||
                   err.pub.reason == STRATA_REASON_BAD_TEMPLATE);
        FUZZ_CHECK(err.pub.line >= 0 && (size_t)err.pub.line <= lines);
        FUZZ_CHECK(err.pub.message[0] != '\0');
        return o;
    }
    FUZZ_CHECK(s.buf != NULL && s.sql != NULL);
    FUZZ_CHECK(strcmp(s.path, dir == STRATA_DIRECTION_UP || m->markers
                                  ? up_path
                                  : m->down_path) == 0);
    FUZZ_CHECK(s.first_line >= 1 && (size_t)s.first_line <= lines);
    FUZZ_CHECK(s.no_transaction == 0 || s.no_transaction == 1);
    FUZZ_CHECK(s.has_sql == strata__sql_has_content(s.sql, s.len));

    char sum[65];
    strata__checksum(sum, data, size);
    FUZZ_CHECK(strcmp(sum, s.checksum) == 0);

    if (s.expanded == NULL) {
        FUZZ_CHECK(s.sql >= s.buf && s.sql + s.len <= s.buf + size);
        size_t off = (size_t)(s.sql - s.buf);
        FUZZ_CHECK(memcmp(s.sql, data + off, s.len) == 0);
        FUZZ_CHECK(s.sql[s.len] == '\0');
        FUZZ_CHECK(s.first_line == strata__line_of(data, off));
    } else {
        FUZZ_CHECK(s.sql == s.expanded);
    }
    if (dir == STRATA_DIRECTION_UP)
        FUZZ_CHECK(s.no_transaction == strata__script_head_no_tx(data, size));
    strata__script_free(&s);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_dup(data, size);
    /* The same bytes as the up file alone, and as an up and a down file. */
    strata_embedded_file files[] = {{"0001_x.down.sql", text, size, NULL},
                                    {"0001_x.sql", text, size, NULL}};
    strata_embedded one = {
        .version = 2, .dir = "fuzz", .count = 1, .files = files + 1};
    strata_embedded two = {
        .version = 2, .dir = "fuzz", .count = 2, .files = files};
    int qualify = (int)(size & 1);

    /* A plain file, split by markers. */
    strata__migration m;
    memset(&m, 0, sizeof m);
    m.version = "1";
    m.name = "x";
    m.up_path = "fuzz/0001_x.sql";
    m.down_path = "fuzz/0001_x.sql";
    m.markers = 1;
    outcome up = load(&m, &one, STRATA_DIRECTION_UP, text, size, qualify);
    outcome down = load(&m, &one, STRATA_DIRECTION_DOWN, text, size, qualify);
    /* Refusals of the file's lines come first and carry a line >= 1; the
     * only later refusals are templates (per section) and a missing down
     * marker (line 0). */
    if (up.rc != 0 && up.reason == STRATA_REASON_BAD_SCRIPT) {
        FUZZ_CHECK(up.line >= 1);
        FUZZ_CHECK(down.rc == up.rc && down.reason == up.reason &&
                   down.line == up.line);
    }
    if (down.rc != 0 && down.reason == STRATA_REASON_BAD_SCRIPT &&
        down.line >= 1)
        FUZZ_CHECK(up.rc == down.rc && up.reason == down.reason &&
                   up.line == down.line);

    /* A separate up file and a separate down file. */
    m.markers = 0;
    m.down_path = "fuzz/0001_x.down.sql";
    load(&m, &two, STRATA_DIRECTION_UP, text, size, qualify);
    load(&m, &two, STRATA_DIRECTION_DOWN, text, size, qualify);

    /* No down script at all: refused with NO_DOWN, never read. */
    m.down_path = NULL;
    strata__script s;
    strata__err err;
    strata__err_clear(&err);
    strata__template_ctx t = {"public", 0};
    FUZZ_CHECK(strata__script_load(&s, &m, STRATA_DIRECTION_DOWN, &one, &t,
                                   &err) == STRATA_EREFUSED);
    FUZZ_CHECK(err.pub.reason == STRATA_REASON_NO_DOWN);

    free(text);
    return 0;
}
