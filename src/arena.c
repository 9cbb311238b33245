/*
 * arena.c - a bump allocator for results.
 *
 * A plan, report or history is many small strings and structs that live and
 * die together; building them in one arena gives each result a single free
 * and no path on which a half-built result leaks.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

struct strata__arena_chunk {
    strata__arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *strata__arena_alloc(strata__arena *a, size_t size)
{
    size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    strata__arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > 16384 ? size : 16384;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *strata__arena_strdup(strata__arena *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    char *p = strata__arena_alloc(a, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void strata__arena_free(strata__arena *a)
{
    strata__arena_chunk *c = a->head;
    while (c != NULL) {
        strata__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
