/*
 * fuzz.h - what every fuzz target shares.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput and nothing else that
 * is global, so the same file links either with libFuzzer (a fuzz build) or
 * with replay.c (every build: replays the saved corpora and regressions).
 * An invariant that does not hold aborts with the expression and its place,
 * which both libFuzzer and the replay test report as a crash.
 */
#ifndef STRATA_FUZZ_H
#define STRATA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant does not hold: %s\n", __FILE__,  \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A malloc'ed copy of the input with exactly `size` bytes, so that ASan sees
 * any read past the end (libFuzzer's own buffer is exact too, the replay's
 * is not). */
static inline char *fuzz_dup(const uint8_t *data, size_t size)
{
    char *p = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(p != NULL);
    if (size > 0)
        memcpy(p, data, size);
    return p;
}

/* A malloc'ed NUL-terminated copy of the input (cut at its first NUL by
 * whoever reads it as a C string). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    FUZZ_CHECK(p != NULL);
    if (size > 0)
        memcpy(p, data, size);
    p[size] = '\0';
    return p;
}

/* Newlines in [s, s + n). */
static inline size_t fuzz_count_nl(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

#endif /* STRATA_FUZZ_H */
