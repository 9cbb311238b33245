/*
 * libpq_load.c - loads libpq on first use; see lib_load.h for why.
 */
#include "libpq_load.h"
#include "lib_load.h"

strata__libpq strata__libpq_api;

#define SYMBOL(f) {#f, offsetof(strata__libpq, f)},
static const strata__lib_symbol symbols[] = {STRATA__LIBPQ_FUNCS(SYMBOL)};
#undef SYMBOL

/* The major version is the ABI: libpq.so.5 has been it since 8.x. */
static strata__lib lib = {"libpq.so.5",
                          symbols,
                          sizeof symbols / sizeof symbols[0],
                          &strata__libpq_api,
                          "PostgreSQL support needs libpq 14 or later",
                          "install libpq (Debian and Ubuntu: apt-get install "
                          "libpq5; Fedora: dnf install libpq)",
                          STRATA__LIB_STATE};

const strata__libpq *strata__libpq_load(strata__err *err)
{
    return strata__lib_ready(&lib, err) ? &strata__libpq_api : NULL;
}
