/*
 * libpq_load.c - loads libpq on first use; see libpq_load.h for why.
 */
#include "libpq_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The major version is the ABI: libpq.so.5 has been it since 8.x. */
#define LIBPQ_SONAME "libpq.so.5"

static pthread_once_t once = PTHREAD_ONCE_INIT;
strata__libpq strata__libpq_api;
static int loaded;
static char failure[512]; /* dlerror()'s text when loading failed */

static void load(void)
{
    /* Lazy: RTLD_NOW would also bind every call site in libpq's twenty-odd
     * dependencies (Kerberos, LDAP, TLS) up front, about 0.4 ms of a
     * 10 ms start. What strata calls is checked by dlsym() below; a
     * dependency broken by a partial upgrade fails at its first call
     * instead of here. */
    void *h = dlopen(LIBPQ_SONAME, RTLD_LAZY | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        snprintf(failure, sizeof failure, "%s", why ? why : LIBPQ_SONAME);
        return;
    }
    /* memcpy, because ISO C has no conversion from void * to a function
     * pointer; POSIX guarantees the representations agree. */
#define STRATA__LIBPQ_RESOLVE(f)                                               \
    {                                                                          \
        void *sym = dlsym(h, #f);                                              \
        if (sym == NULL) {                                                     \
            snprintf(failure, sizeof failure, "%s has no %s", LIBPQ_SONAME,    \
                     #f);                                                      \
            return;                                                            \
        }                                                                      \
        memcpy(&strata__libpq_api.f, &sym, sizeof sym);                        \
    }
    STRATA__LIBPQ_FUNCS(STRATA__LIBPQ_RESOLVE)
#undef STRATA__LIBPQ_RESOLVE
    loaded = 1;
}

const strata__libpq *strata__libpq_load(strata__err *err)
{
    pthread_once(&once, load);
    if (loaded)
        return &strata__libpq_api;
    strata__err_db(err, failure, "", "", 0);
    strata__err_set(err, STRATA_ECONNECT, STRATA_REASON_NONE,
                    "PostgreSQL support needs libpq 14 or later, which "
                    "cannot be loaded: %s",
                    failure);
    strata__err_hint(err, "install libpq (Debian and Ubuntu: apt-get install "
                          "libpq5; Fedora: dnf install libpq)");
    return NULL;
}
