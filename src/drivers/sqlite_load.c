/*
 * sqlite_load.c - loads libsqlite3 on first use; see lib_load.h for why.
 */
#include "sqlite_load.h"
#include "lib_load.h"

strata__sqlite strata__sqlite_api;

#define SYMBOL(f) {#f, offsetof(strata__sqlite, f)},
static const strata__lib_symbol symbols[] = {STRATA__SQLITE_FUNCS(SYMBOL)};
#undef SYMBOL

/* The major version is the ABI: libsqlite3.so.0 has been it since 3.0. */
static strata__lib lib = {"libsqlite3.so.0",
                          symbols,
                          sizeof symbols / sizeof symbols[0],
                          &strata__sqlite_api,
                          "SQLite support needs SQLite 3.38 or later",
                          "install SQLite (Debian and Ubuntu: apt-get install "
                          "libsqlite3-0; Fedora: dnf install sqlite-libs)",
                          STRATA__LIB_STATE};

const strata__sqlite *strata__sqlite_load(strata__err *err)
{
    return strata__lib_ready(&lib, err) ? &strata__sqlite_api : NULL;
}
