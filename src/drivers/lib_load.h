/*
 * lib_load.h - a database's client library, opened on first use.
 *
 * libstrata links neither libpq nor libsqlite3: each driver opens its
 * library with dlopen() when its first handle opens, and calls it through a
 * table of function pointers whose member types come from the library's own
 * header, so they cannot drift from the real prototypes. A program pays for
 * loading only the client it uses (libpq and its twenty-odd dependencies
 * cost a few milliseconds and megabytes; libsqlite3 about 0.3 ms).
 * libpq_load.h and sqlite_load.h hold the tables; this is what they share.
 */
#ifndef STRATA_DRIVERS_LIB_LOAD_H
#define STRATA_DRIVERS_LIB_LOAD_H

#include <stddef.h>

/* Why a library could not be loaded: dlerror()'s text, or the function it
 * lacks. */
typedef struct strata__lib_failure {
    char text[512];
} strata__lib_failure;

/* A function to take from a library and where its pointer goes in the
 * caller's table. */
typedef struct strata__lib_symbol {
    const char *name;
    size_t offset;
} strata__lib_symbol;

/* Takes the n symbols from the copy of the library the program already
 * has in its global scope, if it has one, else from soname, opened
 * (RTLD_LAZY, RTLD_LOCAL; never closed), and copies the address of each
 * into `table` at its offset. Returns 1, or 0 with
 * the reason in why: dlerror()'s text, or the function the library lacks
 * (too old). Lazy, because RTLD_NOW would also bind every call site of the
 * library's own dependencies up front (0.4 ms of a 10 ms start for
 * libpq); what strata calls is checked here, and a dependency broken by a
 * partial upgrade fails at its first call instead. Call it once per
 * process (pthread_once). */
int strata__lib_load(const char *soname, const strata__lib_symbol *symbols,
                     size_t n, void *table, strata__lib_failure *why);

#endif /* STRATA_DRIVERS_LIB_LOAD_H */
