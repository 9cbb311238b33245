/*
 * noop_embedded.c - the per-boot cost of a program that carries its
 * migrations: strata_migrate() on the URL given, from the embedded set that
 * `strata embed` generated (linked in as strata_migrations).
 *
 *   noop_embedded DATABASE_URL     exit 0 when up to date or applied
 */
#include <stdio.h>
#include <strata.h>

extern const strata_embedded strata_migrations;

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATABASE_URL\n", argv[0]);
        return 2;
    }
    strata_source *src = NULL;
    strata_result *res = NULL;
    int rc = strata_source_from_embedded(&src, &strata_migrations);
    if (rc != STRATA_OK) {
        fprintf(stderr, "embedded source: %s\n", strata_code_name(rc));
        return 1;
    }
    rc = strata_migrate(&res, argv[1], src, NULL);
    if (rc != STRATA_OK)
        fprintf(stderr, "migrate: %s: %s\n", strata_code_name(rc),
                res != NULL ? res->error->message : "out of memory");
    strata_result_free(res);
    strata_source_free(src);
    return rc == STRATA_OK ? 0 : 1;
}
