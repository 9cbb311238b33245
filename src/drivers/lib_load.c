/*
 * lib_load.c - opening a client library and taking its functions; see
 * lib_load.h for why.
 */
#include "lib_load.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int strata__lib_load(const char *soname, const strata__lib_symbol *symbols,
                     size_t n, void *table, strata__lib_failure *why)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (h == NULL) {
        const char *text = dlerror();
        snprintf(why->text, sizeof why->text, "%s", text ? text : soname);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        void *sym = dlsym(h, symbols[i].name);
        if (sym == NULL) {
            snprintf(why->text, sizeof why->text, "%s has no %s", soname,
                     symbols[i].name);
            return 0;
        }
        /* memcpy, because ISO C has no conversion from void * to a
         * function pointer; POSIX guarantees the representations agree. */
        memcpy((char *)table + symbols[i].offset, &sym, sizeof sym);
    }
    return 1;
}
