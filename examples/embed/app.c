/*
 * app.c - a program that carries its migrations inside itself.
 *
 * `strata embed migrations -o migrations.c` turns the directory into C
 * source (see README.md for Meson, CMake and Make rules that regenerate it
 * on every build); this file declares the object it defines, migrates the
 * database at startup from it, and refuses to start when that fails. No
 * migration file needs to be shipped or found at run time.
 *
 *   ./app sqlite:app.db
 */
#include <stdio.h>
#include <strata.h>

/* Defined by the generated migrations.c. */
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
        fprintf(stderr, "cannot start: embedded migrations: %s\n",
                strata_code_name(rc));
        return 1;
    }
    rc = strata_migrate(&res, argv[1], src, NULL);
    strata_source_free(src);
    if (res == NULL) {
        fprintf(stderr, "cannot start: out of memory\n");
        return 1;
    }
    if (res->outcome != STRATA_OUTCOME_UP_TO_DATE &&
        res->outcome != STRATA_OUTCOME_APPLIED) {
        const strata_error *e = res->error;
        fprintf(stderr, "cannot start: %s: %s%s%s\n  hint: %s\n",
                strata_outcome_name(res->outcome), e->file,
                *e->file ? ": " : "", e->message, e->hint);
        strata_result_free(res);
        return 1;
    }
    printf("schema at version %s (%zu applied now)\n", res->to_version,
           res->applied);
    strata_result_free(res);
    /* ... the database is current: start serving ... */
    return rc == STRATA_OK ? 0 : 1;
}
