/*
 * fuzz_sqlite_check.c - the SQLite driver's plan-time check of a script
 * (sqlite_check_script: statement ends found with sqlite3_complete(), then
 * BEGIN/COMMIT/END/ROLLBACK refused), reached through strata__load_runnable
 * as strata_validate reaches it, on a handle over `sqlite::memory:`.
 *
 * The input is a marker file loaded UP and DOWN. Invariants: the result is
 * 0 or EREFUSED; a refusal names a line within the file (0 only when there
 * is no line to name) and a column >= 1 when it names a statement; a
 * success has SQL.
 */
#include "fuzz.h"

#include "engine.h"

static strata *handle(void)
{
    static strata *db;
    if (db == NULL) {
        FUZZ_CHECK(strata_open(&db, "sqlite::memory:", NULL, NULL) ==
                   STRATA_OK);
    }
    return db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata *db = handle();
    char *text = fuzz_dup(data, size);
    strata_embedded_file file = {"0001_x.sql", text, size, NULL};
    strata_embedded set = {
        .version = 2, .dir = "fuzz", .count = 1, .files = &file};
    strata__migration m;
    memset(&m, 0, sizeof m);
    m.version = "1";
    m.name = "x";
    m.up_path = "fuzz/0001_x.sql";
    m.down_path = "fuzz/0001_x.sql";
    m.markers = 1;
    db->emb = &set; /* the script's bytes are read from the set */
    size_t lines = fuzz_count_nl(text, size) + 1;

    for (int d = 0; d < 2; d++) {
        strata__script s;
        strata__err_clear(&db->err);
        int rc = strata__load_runnable(
            &s, db, &m, d ? STRATA_DIRECTION_DOWN : STRATA_DIRECTION_UP);
        if (rc == STRATA_OK) {
            FUZZ_CHECK(s.has_sql);
            strata__script_free(&s);
            continue;
        }
        const strata_error *e = &db->err.pub;
        FUZZ_CHECK(rc == STRATA_EREFUSED);
        FUZZ_CHECK(e->code == rc);
        FUZZ_CHECK(e->line >= 0 && (size_t)e->line <= lines);
        FUZZ_CHECK(e->statement_line >= 0 && e->statement_line <= e->line);
        if (e->statement_line > 0)
            FUZZ_CHECK(e->column >= 1);
        FUZZ_CHECK(strcmp(e->version, "1") == 0);
    }
    db->emb = NULL;
    free(text);
    return 0;
}
