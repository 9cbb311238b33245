/*
 * fuzz_embedded.c - strata__embedded_check against a hand-made embedded
 * set laid out by offsets, and the reads a checked set allows.
 *
 * The input is a count (first byte, mod 5), then four bytes per entry
 * (path, data, size, checksum; a byte from 0xf0 up stands for an offset
 * near SIZE_MAX, to reach the overflow guards), then the set's bytes, an
 * exact copy so that ASan sees any read past them. Invariants:
 *   - the check accepts exactly when every entry fits (its path ends in a
 *     NUL inside the bytes, its data and a NUL and its checksum and a NUL
 *     lie inside them) and the paths are strictly increasing, as worked
 *     out here another way;
 *   - an accepted set reads back through strata_embedded_file_at() and
 *     strata__embedded_find() within its bytes, every file found at its
 *     own path.
 */
#include "fuzz.h"

#include "strata_int.h"

#define MAX_FILES 4

static size_t field(uint8_t b)
{
    return b >= 0xf0 ? SIZE_MAX - (size_t)(0xff - b) : b;
}

/* [off, off + len) lies inside [0, n), without computing off + len. */
static int inside(size_t off, size_t len, size_t n)
{
    return off <= n && len <= n - off;
}

/* Reads every byte of [p, p + n), so that ASan reports one out of bounds. */
static void touch(const char *p, size_t n)
{
    volatile unsigned char sink = 0;
    for (size_t k = 0; k < n; k++)
        sink ^= (unsigned char)p[k];
    (void)sink;
}

static int fits(const strata_embedded_entry *e, const char *bytes, size_t n)
{
    if (!inside(e->path, 1, n))
        return 0;
    size_t k = e->path;
    while (k < n && bytes[k] != '\0')
        k++;
    /* The data's NUL is counted as a byte of room; size + 1 may wrap. */
    return k < n && e->size != SIZE_MAX && inside(e->data, e->size + 1, n) &&
           inside(e->checksum, 65, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t count = data[0] % (MAX_FILES + 1);
    if (size < 1 + 4 * count)
        return 0;
    strata_embedded_entry entries[MAX_FILES];
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = data + 1 + 4 * i;
        entries[i] = (strata_embedded_entry){field(p[0]), field(p[1]),
                                             field(p[2]), field(p[3])};
    }
    size_t n = size - 1 - 4 * count;
    char *bytes = fuzz_dup(data + 1 + 4 * count, n);
    strata_embedded set = {.version = 3,
                           .dir = "fuzz",
                           .count = count,
                           .entries = entries,
                           .bytes = bytes,
                           .bytes_size = n};

    int want = 1;
    for (size_t i = 0; i < count && want; i++) {
        want = fits(&entries[i], bytes, n);
        if (want && i > 0)
            want = strcmp(bytes + entries[i - 1].path,
                          bytes + entries[i].path) < 0;
    }
    int rc = strata__embedded_check(&set);
    FUZZ_CHECK(rc == STRATA_OK || rc == STRATA_EUSAGE);
    FUZZ_CHECK((rc == STRATA_OK) == want);

    for (size_t i = 0; rc == STRATA_OK && i < count; i++) {
        strata_embedded_file f;
        FUZZ_CHECK(strata_embedded_file_at(&set, i, &f) == STRATA_OK);
        FUZZ_CHECK(f.path == bytes + entries[i].path);
        FUZZ_CHECK(f.data == bytes + entries[i].data);
        FUZZ_CHECK(f.checksum == bytes + entries[i].checksum);
        FUZZ_CHECK(f.size == entries[i].size);
        touch(f.data, f.size + 1);
        touch(f.checksum, 65);

        char *path = strata__sprintf("fuzz/%s", f.path);
        FUZZ_CHECK(path != NULL);
        strata_embedded_file g;
        FUZZ_CHECK(strata__embedded_find(&set, path, &g) == 1);
        FUZZ_CHECK(g.path == f.path && g.data == f.data);
        free(path);
    }
    FUZZ_CHECK(strata_embedded_file_at(
                   &set, count, &(strata_embedded_file){0}) == STRATA_EUSAGE);
    free(bytes);
    return 0;
}
