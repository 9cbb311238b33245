/*
 * embedded.c - reading an embedded set (strata_embedded) of any version:
 * checking it once when a source is made, then files by index or by path.
 *
 * A set is a table of pointers (`files`, every version) or, since version
 * 3, offsets into one object (strata.h says why). Everything past the
 * check sees a file as a strata_embedded_file either way, filled in on
 * demand.
 */
#include "strata_int.h"

#include <string.h>

/* Whether the set is laid out by offsets rather than given as `files`.
 * Only a version 3 set has the fields to say so. */
static int by_offsets(const strata_embedded *set)
{
    return set->version >= 3 && set->files == NULL;
}

/* An entry that lies inside the set's bytes: the path ends in a
 * NUL there, the data and its NUL and the checksum and its NUL fit. The
 * data and the checksum are not read: a start with nothing to do touches
 * only the entries and the paths, which the generator puts together. */
static int entry_fits(const strata_embedded *set,
                      const strata_embedded_entry *e)
{
    size_t n = set->bytes_size;
    return e->path < n && memchr(set->bytes + e->path, '\0', n - e->path) &&
           e->data < n && e->size < n - e->data && e->checksum < n &&
           n - e->checksum > 64;
}

int strata__embedded_check(const strata_embedded *set)
{
    if (set == NULL || set->version < 1 ||
        set->version > STRATA_EMBED_VERSION || set->dir == NULL ||
        set->dir[0] == '\0' || set->dir[strlen(set->dir) - 1] == '/')
        return STRATA_EUSAGE;
    if (set->count > 0 &&
        (by_offsets(set) ? set->entries == NULL || set->bytes == NULL
                         : set->files == NULL))
        return STRATA_EUSAGE;
    /* Fields of later versions are read only where the set has them. */
    if (set->version >= 2 && set->state_digest != NULL) {
        const char *d = set->state_digest;
        size_t n = strspn(d, "0123456789abcdef");
        if (n != 64 || d[n] != '\0' || set->head_version == NULL ||
            set->head_version[0] == '\0')
            return STRATA_EUSAGE;
    }
    /* Lookups are binary searches: the generator sorts, this makes sure. */
    const char *prev = NULL;
    for (size_t i = 0; i < set->count; i++) {
        const char *path;
        if (!by_offsets(set)) {
            const strata_embedded_file *f = &set->files[i];
            if (f->path == NULL || f->data == NULL)
                return STRATA_EUSAGE;
            path = f->path;
        } else {
            if (!entry_fits(set, &set->entries[i]))
                return STRATA_EUSAGE;
            path = set->bytes + set->entries[i].path;
        }
        if (prev != NULL && strcmp(prev, path) >= 0)
            return STRATA_EUSAGE;
        prev = path;
    }
    return STRATA_OK;
}

/* The path of file i, without filling in the rest. */
static const char *path_at(const strata_embedded *set, size_t i)
{
    return by_offsets(set) ? set->bytes + set->entries[i].path
                           : set->files[i].path;
}

void strata__embedded_at(const strata_embedded *set, size_t i,
                         strata_embedded_file *out)
{
    if (!by_offsets(set)) {
        *out = set->files[i];
        return;
    }
    const strata_embedded_entry *e = &set->entries[i];
    out->path = set->bytes + e->path;
    out->data = set->bytes + e->data;
    out->size = e->size;
    out->checksum = set->bytes + e->checksum;
}

int strata__embedded_find(const strata_embedded *set, const char *path,
                          strata_embedded_file *out)
{
    size_t n = strlen(set->dir);
    if (strncmp(path, set->dir, n) != 0 || path[n] != '/')
        return 0;
    const char *key = path + n + 1;
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, path_at(set, mid));
        if (c == 0) {
            strata__embedded_at(set, mid, out);
            return 1;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

int strata__embedded_get(const strata_embedded *set, const char *path,
                         strata_embedded_file *out, strata__err *err)
{
    if (strata__embedded_find(set, path, out))
        return STRATA_OK;
    strata__err_where(err, path, 0, 0, 0);
    return strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                           "%s is not in the embedded set", path);
}

int strata_embedded_file_at(const strata_embedded *set, size_t i,
                            strata_embedded_file *file)
{
    if (set == NULL || file == NULL || set->version < 1 ||
        set->version > STRATA_EMBED_VERSION || i >= set->count)
        return STRATA_EUSAGE;
    strata__embedded_at(set, i, file);
    return STRATA_OK;
}
