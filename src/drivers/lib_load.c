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
    /* A program that links the library itself, or another build of it
     * (SQLCipher, an SQLite compiled in and exported), has it in the global
     * scope: that copy is the one to call. Two copies of SQLite in one
     * process would drop each other's POSIX locks. */
    int global = n > 0 && dlsym(RTLD_DEFAULT, symbols[0].name) != NULL;
    void *h = RTLD_DEFAULT; /* NULL in glibc: `global` says which it is */
    if (!global) {
        h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
        if (h == NULL) {
            const char *text = dlerror();
            snprintf(why->text, sizeof why->text, "%s", text ? text : soname);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        void *sym = dlsym(h, symbols[i].name);
        if (sym == NULL) {
            snprintf(why->text, sizeof why->text, "%s%s has no %s",
                     global ? "the program's own copy of " : "", soname,
                     symbols[i].name);
            return 0;
        }
        /* memcpy, because ISO C has no conversion from void * to a
         * function pointer; POSIX guarantees the representations agree. */
        memcpy((char *)table + symbols[i].offset, &sym, sizeof sym);
    }
    return 1;
}
