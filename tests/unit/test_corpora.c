/*
 * test_corpora.c - the real-world migration sets in STRATA_CORPORA (see
 * shared/corpora/README.md) scan as their own tools would read them.
 * Skipped when the corpora are not there.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *corpus(const char *rel)
{
    const char *root = getenv("STRATA_CORPORA");
    if (root == NULL || root[0] == '\0')
        root = "/work/shared/corpora";
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        cr_skip("no corpora at %s", root);
    char *p = strata__sprintf("%s/%s", root, rel);
    cr_assert_not_null(p);
    if (stat(p, &st) != 0)
        cr_skip("corpus %s absent", p);
    return p;
}

static void scan(strata__migrations *l, char *dir)
{
    strata_source src = {dir, NULL};
    strata__err err;
    strata__err_clear(&err);
    int rc = strata__source_scan(l, &src, &err);
    cr_assert_eq(rc, 0, "%s: rc=%d %s (%s)", dir, rc, err.pub.message,
                 err.pub.file);
}

/* Loads every up (and down) section and checks that it is accepted. */
static void load_all(const strata__migrations *l, int *downs, int *empty)
{
    strata__template_ctx t = {"public", 0};
    *downs = *empty = 0;
    for (size_t i = 0; i < l->count; i++) {
        strata__err err;
        strata__err_clear(&err);
        strata__script s;
        int rc = strata__script_load(&s, &l->items[i], STRATA_DIRECTION_UP,
                                     NULL, &t, &err);
        cr_assert_eq(rc, 0, "%s: %s", l->items[i].up_path, err.pub.message);
        cr_assert_eq(s.has_sql, 1, "%s has SQL", l->items[i].up_path);
        strata__script_free(&s);
        if (l->items[i].down_path == NULL)
            continue;
        (*downs)++;
        rc = strata__script_load(&s, &l->items[i], STRATA_DIRECTION_DOWN, NULL,
                                 &t, &err);
        cr_assert_eq(rc, 0, "%s: %s", l->items[i].down_path, err.pub.message);
        *empty += !s.has_sql;
        strata__script_free(&s);
    }
}

static const struct {
    const char *dir;
    size_t count;
    int downs;
    const char *first, *last;
} atuin[] = {
    {"crates/atuin-server-sqlite/migrations", 7, 0, "20231203124112",
     "20260127000000"},
    {"crates/atuin-client/migrations", 12, 0, "20210422143411",
     "20260818000000"},
    {"crates/atuin-client/record-migrations", 3, 0, "20230531212437",
     "20260723000000"},
    {"crates/atuin-client/meta-migrations", 1, 0, "20260203030924",
     "20260203030924"},
    {"crates/atuin-kv/migrations", 1, 1, "20250501160746", "20250501160746"},
    {"crates/atuin-scripts/migrations", 2, 2, "20250326160051",
     "20250402170430"},
    {"crates/atuin-ai/migrations", 3, 0, "20260413000000", "20260707000000"},
    /* PostgreSQL, but the scan does not care about the dialect. */
    {"crates/atuin-server-postgres/migrations", 20, 0, "20210425153745",
     "20260127000000"},
};

Test(corpora, atuin)
{
    for (size_t k = 0; k < sizeof atuin / sizeof *atuin; k++) {
        char *rel = strata__sprintf("atuin/%s", atuin[k].dir);
        char *dir = corpus(rel);
        strata__migrations l;
        scan(&l, dir);
        cr_assert_eq(l.order, STRATA__ORDER_NUMERIC);
        cr_assert_eq(l.count, atuin[k].count, "%s: %zu migrations", dir,
                     l.count);
        cr_assert_str_eq(l.items[0].version, atuin[k].first);
        cr_assert_str_eq(l.items[l.count - 1].version, atuin[k].last);
        for (size_t i = 1; i < l.count; i++)
            cr_assert_lt(strata__version_cmp(l.items[i - 1].version,
                                             l.items[i].version,
                                             STRATA__ORDER_NUMERIC),
                         0);
        int downs, empty;
        load_all(&l, &downs, &empty);
        cr_assert_eq(downs, atuin[k].downs, "%s downs", dir);
        cr_assert_eq(empty, 0);
        strata__migrations_free(&l);
        free(dir);
        free(rel);
    }
}

Test(corpora, atuin_names)
{
    char *dir = corpus("atuin/crates/atuin-client/migrations");
    strata__migrations l;
    scan(&l, dir);
    long i = strata__migrations_find(&l, "20220505083406");
    cr_assert_geq(i, 0);
    cr_assert_str_eq(l.items[i].name, "create-events");
    strata__migrations_free(&l);
    free(dir);
}

Test(corpora, crates_io)
{
    char *dir = corpus("crates-io/migrations");
    strata__migrations l;
    scan(&l, dir);
    cr_assert_eq(l.order, STRATA__ORDER_STRING);
    cr_assert_eq(l.count, 285);
    cr_assert_str_eq(l.items[0].version, "00000000000000");
    cr_assert_str_eq(l.items[0].name, "diesel_initial_setup");
    for (size_t i = 1; i < l.count; i++)
        cr_assert_lt(strcmp(l.items[i - 1].version, l.items[i].version), 0,
                     "order at %zu", i);

    static const char *no_tx[] = {
        "20241025112826",     "20240212120203", "20250922090805",
        "20240305120032",     "20240527142004", "20250929161354",
        "202607301400000000",
    };
    size_t flagged = 0;
    for (size_t i = 0; i < l.count; i++) {
        cr_assert_eq(l.items[i].markers, 0);
        cr_assert_null(strstr(l.items[i].up_path, "data_oauth_github"));
        cr_assert_eq(strlen(l.items[i].checksum), 64);
        flagged += (size_t)l.items[i].meta_no_tx;
    }
    cr_assert_eq(flagged, 7);
    for (size_t k = 0; k < 7; k++) {
        long i = strata__migrations_find(&l, no_tx[k]);
        cr_assert_geq(i, 0, "%s present", no_tx[k]);
        cr_assert_eq(l.items[i].meta_no_tx, 1, "%s flagged", no_tx[k]);
    }

    long sp = strata__migrations_find(&l, "20191115182353");
    cr_assert_geq(sp, 0);
    cr_assert_str_eq(l.items[sp].name,
                     "Add email notifications to crate owners");

    int downs, empty;
    load_all(&l, &downs, &empty);
    /* 5 zero-byte and 4 comment-only downs (README.md); Diesel refuses
     * the former, strata leaves that to its caller. */
    cr_assert_geq(empty, 9, "%d empty downs", empty);
    strata__migrations_free(&l);
    free(dir);
}

Test(corpora, harbor)
{
    char *dir = corpus("harbor/make/migrations/postgresql");
    strata__migrations l;
    scan(&l, dir);
    cr_assert_eq(l.order, STRATA__ORDER_NUMERIC);
    cr_assert_eq(l.count, 39);
    /* Titles hold dots; they are names, not dotted versions. */
    long i = strata__migrations_find(&l, "2");
    cr_assert_geq(i, 0);
    cr_assert_str_eq(l.items[i].name, "1.7.0_schema");
    cr_assert_str_eq(l.items[0].version, "1");
    for (size_t k = 0; k < l.count; k++) {
        cr_assert_null(l.items[k].down_path);
        cr_assert_eq(strchr(l.items[k].version, '.'), NULL);
    }
    int downs, empty;
    load_all(&l, &downs, &empty);
    cr_assert_eq(downs, 0);
    strata__migrations_free(&l);
    free(dir);
}
