/*
 * sqlite_load.c - loads libsqlite3 on first use; see lib_load.h for why.
 */
#include "sqlite_load.h"
#include "lib_load.h"

#include <pthread.h>
#include <stddef.h>

/* The major version is the ABI: libsqlite3.so.0 has been it since 3.0. */
#define SQLITE_SONAME "libsqlite3.so.0"

static pthread_once_t once = PTHREAD_ONCE_INIT;
strata__sqlite strata__sqlite_api;
static int loaded;
static strata__lib_failure failure;

static void load(void)
{
#define STRATA__SQLITE_SYMBOL(f) {#f, offsetof(strata__sqlite, f)},
    static const strata__lib_symbol symbols[] = {
        STRATA__SQLITE_FUNCS(STRATA__SQLITE_SYMBOL)};
#undef STRATA__SQLITE_SYMBOL
    loaded = strata__lib_load(SQLITE_SONAME, symbols,
                              sizeof symbols / sizeof symbols[0],
                              &strata__sqlite_api, &failure);
}

const strata__sqlite *strata__sqlite_load(strata__err *err)
{
    pthread_once(&once, load);
    if (loaded)
        return &strata__sqlite_api;
    strata__err_db(err, failure.text, "", "", 0);
    strata__err_set(err, STRATA_ECONNECT, STRATA_REASON_NONE,
                    "SQLite support needs SQLite 3.38 or later, which "
                    "cannot be loaded: %s",
                    failure.text);
    strata__err_hint(err, "install SQLite (Debian and Ubuntu: apt-get "
                          "install libsqlite3-0; Fedora: dnf install "
                          "sqlite-libs)");
    return NULL;
}
