/*
 * fuzz_filename.c - strata__filename_parse on any file name.
 *
 * Invariants: the result is 0, 1 or -1 and agrees with the ".sql" suffix and
 * the leading dot; on 0 the version is canonical (digits and dots,
 * canonical of itself), the name is non-empty, and the input ends with the
 * name followed by the suffix the kind says.
 */
#include "fuzz.h"

#include "strata_int.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fname = fuzz_cstr(data, size);
    strata__fname f;
    int rc = strata__filename_parse(&f, fname);

    FUZZ_CHECK(rc == 0 || rc == 1 || rc == -1);
    FUZZ_CHECK((rc == 1) == (fname[0] == '.' || !ends_with(fname, ".sql")));
    if (rc == 0) {
        FUZZ_CHECK(f.version != NULL && f.name != NULL);
        FUZZ_CHECK(f.version[0] != '\0' && f.name[0] != '\0');
        FUZZ_CHECK(strspn(f.version, "0123456789.") == strlen(f.version));

        char *again = NULL;
        FUZZ_CHECK(strata__version_canonical(&again, f.version,
                                             strlen(f.version),
                                             STRATA__ORDER_NUMERIC) == 0);
        FUZZ_CHECK(strcmp(again, f.version) == 0);
        free(again);

        const char *suffix = f.kind == STRATA__FILE_UP     ? ".up.sql"
                             : f.kind == STRATA__FILE_DOWN ? ".down.sql"
                                                           : ".sql";
        FUZZ_CHECK(f.kind == STRATA__FILE_PLAIN || f.kind == STRATA__FILE_UP ||
                   f.kind == STRATA__FILE_DOWN);
        FUZZ_CHECK(ends_with(fname, suffix));
        if (f.kind == STRATA__FILE_PLAIN)
            FUZZ_CHECK(!ends_with(fname, ".up.sql") &&
                       !ends_with(fname, ".down.sql"));
        char *tail = malloc(strlen(f.name) + strlen(suffix) + 1);
        FUZZ_CHECK(tail != NULL);
        strcpy(tail, f.name);
        strcat(tail, suffix);
        FUZZ_CHECK(ends_with(fname, tail));
        /* The separator stands just before the name. */
        size_t at = strlen(fname) - strlen(tail);
        FUZZ_CHECK(at >= 2 && fname[at - 1] == '_');
        free(tail);
    } else {
        FUZZ_CHECK(f.version == NULL && f.name == NULL);
    }
    strata__fname_free(&f);
    free(fname);
    return 0;
}
