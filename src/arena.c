/*
 * arena.c - a bump allocator.
 *
 * A source list, plan, report or history is many small strings and structs
 * that live and die together; building them in one arena gives each a
 * single free, no path on which a half-built one leaks, and no malloc
 * header per string.
 */
#include "strata_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strata__arena_chunk {
    strata__arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* `size` bytes at a multiple of `align` (a power of two) in the head
 * chunk, or in a new one; NULL on OOM or a size no chunk can hold. */
static void *bump(strata__arena *a, size_t size, size_t align)
{
    strata__arena_chunk *c = a->head;
    size_t at = c != NULL ? (c->used + align - 1) & ~(align - 1) : 0;
    if (c == NULL || at > c->cap || c->cap - at < size) {
        if (size > SIZE_MAX - sizeof *c)
            return NULL;
        size_t cap = size > 16384 ? size : 16384;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
        at = 0;
    }
    c->used = at + size;
    return (char *)c->data + at;
}

void *strata__arena_alloc(strata__arena *a, size_t size)
{
    void *p = bump(a, size, _Alignof(max_align_t));
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

/* Strings need no alignment: packed, the ten thousand short strings of a
 * plan take a fraction of the room they would rounded up to
 * max_align_t. */
char *strata__arena_bytes(strata__arena *a, size_t n)
{
    return bump(a, n, 1);
}

char *strata__arena_strdup(strata__arena *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    char *p = bump(a, n, 1);
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
