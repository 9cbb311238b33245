/*
 * filename.c - what a flat migration file name says.
 *
 * Two spellings are accepted, both ending in ".sql", ".up.sql" or
 * ".down.sql":
 *   V<d>[.<d>...]__<name>   Flyway's form, the only one with dotted versions
 *   <d>_<name>              sqlx / golang-migrate / timestamps
 * The name is everything between the separator and the suffix, so it may hold
 * dots and spaces: "0002_1.7.0_schema.up.sql" is version 2, name
 * "1.7.0_schema". Anything ending in ".sql" that fits neither form is an
 * error (-1), not something to skip: a migration the user meant to add but
 * misnamed must not vanish silently.
 */
#include "strata_int.h"

#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

void strata__fname_free(strata__fname *f)
{
    if (f == NULL)
        return;
    free(f->version);
    free(f->name);
    f->version = NULL;
    f->name = NULL;
}

int strata__filename_parse(strata__fname *out, const char *fname)
{
    char *version = NULL;
    char *name = NULL;
    int rc = 0;
    size_t len = strlen(fname);
    strata__file_kind kind = STRATA__FILE_PLAIN;

    out->version = NULL;
    out->name = NULL;
    out->kind = STRATA__FILE_PLAIN;

    if (fname[0] == '.' || !ends_with(fname, len, ".sql")) {
        rc = 1;
        goto out;
    }
    len -= 4;
    if (ends_with(fname, len, ".up")) {
        kind = STRATA__FILE_UP;
        len -= 3;
    } else if (ends_with(fname, len, ".down")) {
        kind = STRATA__FILE_DOWN;
        len -= 5;
    }

    /* [vstart, vend) is the version text, name starts at nstart. */
    size_t i = 0, vstart, vend, nstart;
    if (fname[0] == 'V') {
        vstart = i = 1;
        /* Digits and dots; the canonical form rejects empty parts. */
        while (i < len &&
               ((fname[i] >= '0' && fname[i] <= '9') || fname[i] == '.'))
            i++;
        vend = i;
        if (i + 2 > len || fname[i] != '_' || fname[i + 1] != '_') {
            rc = -1;
            goto out;
        }
        nstart = i + 2;
    } else {
        vstart = 0;
        while (i < len && fname[i] >= '0' && fname[i] <= '9')
            i++;
        vend = i;
        if (i >= len || fname[i] != '_') {
            rc = -1;
            goto out;
        }
        nstart = i + 1;
    }
    if (vend == vstart || nstart >= len) {
        rc = -1; /* no version, or an empty name ("001_.sql") */
        goto out;
    }
    rc = strata__version_canonical(&version, fname + vstart, vend - vstart,
                                   STRATA__ORDER_NUMERIC);
    if (rc != 0)
        goto out;
    name = strata__strndup(fname + nstart, len - nstart);
    if (name == NULL) {
        rc = STRATA_ENOMEM;
        goto out;
    }
    out->version = version;
    out->name = name;
    out->kind = kind;
    version = NULL;
    name = NULL;
out:
    free(version);
    free(name);
    return rc;
}
