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

#include "../strata_int.h"

#include <pthread.h>
#include <stddef.h>

/* A function to take from a library and where its pointer goes in the
 * caller's table. */
typedef struct strata__lib_symbol {
    const char *name;
    size_t offset;
} strata__lib_symbol;

/* A client library: what to load and what to say when it cannot be. The
 * fields after `hint` are strata__lib_ready()'s; a static instance leaves
 * them to STRATA__LIB_STATE. */
typedef struct strata__lib {
    const char *soname;
    const strata__lib_symbol *symbols;
    size_t count;
    void *table;       /* receives each symbol at its offset */
    const char *needs; /* "PostgreSQL support needs libpq 14 or later" */
    const char *hint;  /* how to install it */
    pthread_mutex_t mutex;
    int tried, loaded;
    char failure[512]; /* dlerror()'s text, or the function it lacks */
} strata__lib;

#define STRATA__LIB_STATE PTHREAD_MUTEX_INITIALIZER, 0, 0, ""

/* Loads lib once per process (thread-safe; never unloaded): the symbols
 * come from the copy of the library the program already has in its global
 * scope, if it has one, else from soname, opened with RTLD_LAZY and
 * RTLD_LOCAL. Lazy, because RTLD_NOW would also bind every call site of
 * the library's own dependencies up front (0.4 ms of a 10 ms start for
 * libpq); what strata calls is checked here, and a dependency broken by a
 * partial upgrade fails at its first call instead. Returns 1 once the
 * table is filled, which happens before any caller that got 1 reads it;
 * else 0 with STRATA_ECONNECT in err: `needs`, dlopen's words or the
 * function the library lacks (too old) as the database message, and the
 * hint. */
int strata__lib_ready(strata__lib *lib, strata__err *err);

#endif /* STRATA_DRIVERS_LIB_LOAD_H */
