/*
 * libpq_load.c - loads libpq on first use; see libpq_load.h for why.
 */
#include "libpq_load.h"
#include "lib_load.h"

#include <pthread.h>
#include <stddef.h>

/* The major version is the ABI: libpq.so.5 has been it since 8.x. */
#define LIBPQ_SONAME "libpq.so.5"

static pthread_once_t once = PTHREAD_ONCE_INIT;
strata__libpq strata__libpq_api;
static int loaded;
static strata__lib_failure failure;

static void load(void)
{
#define STRATA__LIBPQ_SYMBOL(f) {#f, offsetof(strata__libpq, f)},
    static const strata__lib_symbol symbols[] = {
        STRATA__LIBPQ_FUNCS(STRATA__LIBPQ_SYMBOL)};
#undef STRATA__LIBPQ_SYMBOL
    loaded = strata__lib_load(LIBPQ_SONAME, symbols,
                              sizeof symbols / sizeof symbols[0],
                              &strata__libpq_api, &failure);
}

const strata__libpq *strata__libpq_load(strata__err *err)
{
    pthread_once(&once, load);
    if (loaded)
        return &strata__libpq_api;
    strata__err_db(err, failure.text, "", "", 0);
    strata__err_set(err, STRATA_ECONNECT, STRATA_REASON_NONE,
                    "PostgreSQL support needs libpq 14 or later, which "
                    "cannot be loaded: %s",
                    failure.text);
    strata__err_hint(err, "install libpq (Debian and Ubuntu: apt-get install "
                          "libpq5; Fedora: dnf install libpq)");
    return NULL;
}
