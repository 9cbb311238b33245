/*
 * lib_load.c - opening a client library and taking its functions; see
 * lib_load.h for why.
 */
#include "lib_load.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Fills lib->table; 0 with lib->failure set when it cannot. */
static int load(strata__lib *lib)
{
    /* A program that links the library itself, or another build of it
     * (SQLCipher, an SQLite compiled in and exported), has it in the global
     * scope: that copy is the one to call. Two copies of SQLite in one
     * process would drop each other's POSIX locks. */
    int global =
        lib->count > 0 && dlsym(RTLD_DEFAULT, lib->symbols[0].name) != NULL;
    void *h = RTLD_DEFAULT; /* NULL in glibc: `global` says which it is */
    if (!global) {
        h = dlopen(lib->soname, RTLD_LAZY | RTLD_LOCAL);
        if (h == NULL) {
            const char *text = dlerror();
            snprintf(lib->failure, sizeof lib->failure, "%s",
                     text ? text : lib->soname);
            return 0;
        }
    }
    for (size_t i = 0; i < lib->count; i++) {
        void *sym = dlsym(h, lib->symbols[i].name);
        if (sym == NULL) {
            snprintf(lib->failure, sizeof lib->failure, "%s%s has no %s",
                     global ? "the program's own copy of " : "", lib->soname,
                     lib->symbols[i].name);
            return 0;
        }
        /* memcpy, because ISO C has no conversion from void * to a
         * function pointer; POSIX guarantees the representations agree. */
        memcpy((char *)lib->table + lib->symbols[i].offset, &sym, sizeof sym);
    }
    return 1;
}

int strata__lib_ready(strata__lib *lib, strata__err *err)
{
    pthread_mutex_lock(&lib->mutex);
    if (!lib->tried) {
        lib->loaded = load(lib);
        lib->tried = 1;
    }
    int loaded = lib->loaded;
    pthread_mutex_unlock(&lib->mutex);
    if (loaded)
        return 1;
    strata__err_db(err, lib->failure, "", "", 0);
    strata__err_set(err, STRATA_ECONNECT, STRATA_REASON_NONE,
                    "%s, which cannot be loaded: %s", lib->needs, lib->failure);
    strata__err_hint(err, "%s", lib->hint);
    return 0;
}
