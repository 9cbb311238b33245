/*
 * source_dir.c - a migration directory read into a sorted list.
 *
 * Two layouts, told apart by looking, not by configuration:
 *   flat     every *.sql file is a migration file and its name must parse
 *            (filename.c); NNN_x.up.sql pairs with NNN_x.down.sql, and a
 *            plain NNN_x.sql may carry its down part after a
 *            `-- strata:down` line. Versions order NUMERIC.
 *   folders  as soon as one subdirectory holds an up.sql the directory is
 *            Diesel's: VERSION_name/{up.sql,down.sql,metadata.toml}; loose
 *            files beside the folders are not migrations. Versions are the
 *            digits before the first '_' with dashes removed, ordered as
 *            strings like Diesel does (numeric order would differ).
 * Entries are visited in name order so that, when two files clash, the
 * error always names the same pair. The checksum covers the up file's raw
 * bytes; the down part of a marker file is in it on purpose, since changing
 * either half changes what the migration means.
 */
#include "strata_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char flat_forms[] =
    "migration files are named 0001_name.sql, 0001_name.up.sql + "
    "0001_name.down.sql, V1__name.sql or V1.2__name.sql";

/* A growable list of entry names. Each name is preceded by one byte: its
 * d_type from readdir (DT_UNKNOWN for embedded sets), which spares a stat()
 * per entry on the file systems that report it. */
typedef struct names {
    char **v; /* v[i] - 1 is the type byte */
    size_t n, cap;
} names;

static unsigned char name_type(const char *name)
{
    return (unsigned char)name[-1];
}

static void names_free(names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i] - 1);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir + '/' + name (+ '/' + leaf when leaf is not NULL), in the arena `a`
 * (a path the list keeps) or, when `a` is NULL, in one malloc (scratch):
 * called for every file at every start, so no printf. */
static char *join3(strata__arena *a, const char *dir, const char *name,
                   const char *leaf)
{
    size_t d = strlen(dir), n = strlen(name), l = leaf ? strlen(leaf) : 0;
    int slash = d > 0 && dir[d - 1] == '/';
    size_t size = d + !slash + n + (leaf ? 1 + l : 0) + 1;
    char *p = a != NULL ? strata__arena_bytes(a, size) : malloc(size);
    if (p == NULL)
        return NULL;
    char *q = p;
    memcpy(q, dir, d);
    q += d;
    if (!slash)
        *q++ = '/';
    memcpy(q, name, n);
    q += n;
    if (leaf != NULL) {
        *q++ = '/';
        memcpy(q, leaf, l);
        q += l;
    }
    *q = '\0';
    return p;
}

/* Where the files come from: a directory, or an embedded set whose paths
 * are the set's dir + '/' + each file's relative path. A directory is held
 * open while it is read, and its files are opened by their names under it:
 * walking the whole path again for each of a thousand scripts took a sixth
 * of the time spent opening, stating and reading them. */
typedef struct scan_src {
    const strata_source *src;
    int fd;        /* the directory; -1 for an embedded set */
    size_t prefix; /* length of dir and the '/' join3 puts after it, which
                      start every path */
} scan_src;

/* `path` (a path the scan built) relative to the directory. */
static const char *rel(const scan_src *s, const char *path)
{
    return path + s->prefix;
}

static int is_file(const scan_src *s, const char *path)
{
    struct stat st;
    return fstatat(s->fd, rel(s, path), &st, 0) == 0 && S_ISREG(st.st_mode);
}

static int src_is_file(const scan_src *s, const char *path)
{
    strata_embedded_file f;
    return s->src->emb != NULL ? strata__embedded_find(s->src->emb, path, &f)
                               : is_file(s, path);
}

/* The bytes of a file: borrowed from the set (*owned NULL, and *file the
 * set's file when file is not NULL), or read into a buffer the caller
 * frees (*owned). */
static int src_read(const scan_src *s, const char *path, const char **data,
                    size_t *len, char **owned, strata_embedded_file *file,
                    strata__err *err)
{
    *owned = NULL;
    if (s->src->emb != NULL) {
        strata_embedded_file one;
        strata_embedded_file *f = file != NULL ? file : &one;
        int rc = strata__embedded_get(s->src->emb, path, f, err);
        if (rc != STRATA_OK)
            return rc;
        *data = f->data;
        *len = f->size;
        return STRATA_OK;
    }
    int rc = strata__read_file_at(owned, len, s->fd, rel(s, path), path, err);
    *data = *owned;
    return rc;
}

static int names_add(names *out, const char *name, size_t n, unsigned char type,
                     strata__err *err)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        char **v = realloc(out->v, cap * sizeof *v);
        if (v == NULL)
            return strata__err_nomem(err);
        out->v = v;
        out->cap = cap;
    }
    char *p = malloc(n + 2);
    if (p == NULL)
        return strata__err_nomem(err);
    p[0] = (char)type;
    memcpy(p + 1, name, n);
    p[n + 1] = '\0';
    out->v[out->n++] = p + 1;
    return STRATA_OK;
}

/* The top-level entries of an embedded set: each path's first component,
 * once. The files are sorted, so all of "X/..." follow one another. */
static int embedded_names(names *out, const strata_embedded *set,
                          strata__err *err)
{
    const char *last = NULL;
    size_t last_n = 0;
    for (size_t i = 0; i < set->count; i++) {
        strata_embedded_file f;
        strata__embedded_at(set, i, &f);
        const char *p = f.path;
        size_t n = strcspn(p, "/");
        if (last != NULL && n == last_n && memcmp(p, last, n) == 0)
            continue;
        int rc = names_add(out, p, n, p[n] == '/' ? DT_DIR : DT_REG, err);
        if (rc != STRATA_OK)
            return rc;
        last = p;
        last_n = n;
    }
    return STRATA_OK;
}

/* Every entry of the directory `d` (named `dir`) except "." and "..",
 * sorted by name. */
static int read_names(names *out, DIR *d, const char *dir, strata__err *err)
{
    int rc = STRATA_OK;

    if (d == NULL)
        goto io_error;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                goto io_error;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = names_add(out, de->d_name, strlen(de->d_name), de->d_type, err);
        if (rc != STRATA_OK)
            goto out;
    }
    if (out->n > 1)
        strata__sort(out->v, out->n, sizeof *out->v, names_cmp);
    goto out;

io_error:
    rc = strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                         "cannot read migration directory %s: %s", dir,
                         strerror(errno));
    strata__err_where(err, dir, 0, 0, 0);
    strata__err_hint(err, "check that the directory exists and is readable");
out:
    return rc;
}

void strata__migrations_free(strata__migrations *list)
{
    if (list == NULL)
        return;
    free(list->items);
    strata__arena_free(&list->strings);
    list->items = NULL;
    list->count = 0;
}

long strata__migrations_find(const strata__migrations *list,
                             const char *version)
{
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c =
            strata__version_cmp(list->items[mid].version, version, list->order);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Sizes `out` for exactly `n` migrations, counted before any is filled:
 * at N = 10,000 a doubling array would hold up to twice the 1.3 MB the list
 * needs, and twice more while it is copied. */
static int reserve(strata__migrations *out, size_t n, strata__err *err)
{
    out->items = calloc(n ? n : 1, sizeof *out->items);
    return out->items != NULL ? STRATA_OK : strata__err_nomem(err);
}

/* 1 when a line of `buf` is `-- strata:down`, give or take surrounding
 * blanks and a CR: the same test script.c applies when it splits the file. */
static int has_down_marker(const char *buf, size_t len)
{
    static const char marker[] = "-- strata:down";
    const size_t mlen = sizeof marker - 1;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        size_t p = i;
        if (i == 0 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            p = 3; /* a UTF-8 BOM, as script.c skips it */
        while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
            p++;
        if (end - p >= mlen && memcmp(buf + p, marker, mlen) == 0) {
            size_t q = p + mlen;
            while (q < end &&
                   (buf[q] == ' ' || buf[q] == '\t' || buf[q] == '\r'))
                q++;
            if (q == end)
                return 1;
        }
        i = end + 1;
    }
    return 0;
}

/* Reads the up file of `m`: its checksum, and for a plain flat file whether
 * it holds a down part. */
static int read_up(const scan_src *src, strata__migration *m, int plain,
                   strata__err *err)
{
    char *buf = NULL;
    const char *data = NULL;
    size_t len = 0;
    strata_embedded_file f = {0};
    int rc = src_read(src, m->up_path, &data, &len, &buf, &f, err);
    if (rc != 0)
        goto out;
    if (f.checksum != NULL && strnlen(f.checksum, 65) == 64) {
        memcpy(m->checksum, f.checksum, 65); /* computed when embedded */
    } else {
        strata__checksum(m->checksum, data, len);
    }
    if (plain && has_down_marker(data, len))
        m->markers = 1;
    /* Only status shows it: for an embedded set it is worked out there,
     * so that a no-op start touches no script's bytes. */
    if (src->src->emb == NULL)
        m->head_no_tx = strata__script_head_no_tx(data, len);
out:
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Flat layout */

typedef struct flat_entry {
    const char *fname; /* the tail of path */
    char *path;        /* in the list's arena */
    strata__fname f;   /* its strings in scan_flat's scratch arena */
} flat_entry;

static int flat_cmp(const void *a, const void *b)
{
    const flat_entry *x = a, *y = b;
    int c =
        strata__version_cmp(x->f.version, y->f.version, STRATA__ORDER_NUMERIC);
    /* Then by name, the order of the listing, so that a sorted directory
     * needs no sort: the order within a version only decides which file
     * an error names first. */
    return c != 0 ? c : strcmp(x->fname, y->fname);
}

static int refuse_duplicate(strata__err *err, const flat_entry *a,
                            const flat_entry *b, const char *hint)
{
    int rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_DUPLICATE,
                             "version %s is claimed by both %s and %s",
                             b->f.version, a->fname, b->fname);
    strata__err_where(err, b->path, 0, 0, 0);
    strata__err_version(err, b->f.version);
    strata__err_hint(err, "%s", hint);
    return rc;
}

/* Turns one group of files sharing a version, [g, g + n), into `m`, whose
 * text goes to the arena `a`. */
static int flat_group(const scan_src *src, strata__arena *a,
                      strata__migration *m, flat_entry *g, size_t n,
                      strata__err *err)
{
    flat_entry *up = NULL, *down = NULL;

    for (size_t i = 0; i < n; i++) {
        flat_entry *e = &g[i];
        if (e->f.kind == STRATA__FILE_DOWN) {
            if (down != NULL)
                return refuse_duplicate(
                    err, down, e,
                    "keep one down script per version; renumber or remove "
                    "the other");
            down = e;
        } else {
            if (up != NULL)
                return refuse_duplicate(
                    err, up, e,
                    up->f.kind != e->f.kind
                        ? "use either NNN_name.sql or NNN_name.up.sql + "
                          "NNN_name.down.sql for a version, not both"
                        : "each version needs exactly one up script; give "
                          "one of them the next free number");
            up = e;
        }
    }
    if (up == NULL) {
        int rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_BAD_NAME,
                                 "%s is a down script without an up script",
                                 down->fname);
        strata__err_where(err, down->path, 0, 0, 0);
        strata__err_version(err, down->f.version);
        strata__err_hint(err, "add %s_%s.up.sql, or remove the down script",
                         down->f.version, down->f.name);
        return rc;
    }
    if (down != NULL && strcmp(up->f.name, down->f.name) != 0)
        return refuse_duplicate(err, up, down,
                                "an up and a down script of one version "
                                "must have the same name");

    m->version = strata__arena_strdup(a, up->f.version);
    m->name = strata__arena_strdup(a, up->f.name);
    if (m->version == NULL || m->name == NULL)
        return strata__err_nomem(err);
    m->up_path = up->path;
    if (down != NULL)
        m->down_path = down->path;
    int rc = read_up(src, m, up->f.kind == STRATA__FILE_PLAIN, err);
    if (rc != 0)
        return rc;
    if (m->markers && down != NULL) {
        rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_DUPLICATE,
                             "version %s has two down scripts: the "
                             "-- strata:down part of %s and %s",
                             m->version, up->fname, down->fname);
        strata__err_where(err, m->down_path, 0, 0, 0);
        strata__err_version(err, m->version);
        strata__err_hint(err, "keep one of them");
        return rc;
    }
    if (m->markers)
        m->down_path = m->up_path;
    return 0;
}

/* Frees the names list `nl` once the entries are parsed, and keeps their
 * parts in one scratch arena: at N = 10,000 the listing and 40,000 small
 * mallocs would otherwise add some 2 MB to the peak, alive while the list
 * is built. */
static int scan_flat(strata__migrations *out, const scan_src *src, names *nl,
                     strata__err *err)
{
    flat_entry *v = NULL;
    size_t n = 0;
    int rc = STRATA_OK;
    strata__arena scratch = {0};

    v = calloc(nl->n ? nl->n : 1, sizeof *v);
    if (v == NULL) {
        rc = strata__err_nomem(err);
        goto out;
    }
    for (size_t i = 0; i < nl->n; i++) {
        const char *fname = nl->v[i];
        strata__fname f;
        int prc = strata__filename_parse(&f, fname);
        if (prc == 1)
            continue;
        if (prc < -1) {
            rc = strata__err_nomem(err);
            goto out;
        }
        char *path = join3(&out->strings, src->src->dir, fname, NULL);
        if (path == NULL) {
            strata__fname_free(&f);
            rc = strata__err_nomem(err);
            goto out;
        }
        /* A directory that happens to end in .sql is not a script; any
         * other thing that is not a plain file (a FIFO, a dangling or
         * looping symlink) is refused rather than silently skipped. */
        if (name_type(fname) != DT_REG && !src_is_file(src, path)) {
            struct stat sb;
            int emb = src->src->emb != NULL;
            int dir = !emb && fstatat(src->fd, rel(src, path), &sb, 0) == 0 &&
                      S_ISDIR(sb.st_mode);
            strata__fname_free(&f);
            if (dir || emb)
                continue;
            rc = strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                                 "%s is not a regular file", fname);
            strata__err_where(err, path, 0, 0, 0);
            strata__err_hint(err, "a migration script must be a plain file "
                                  "(or a symlink to one); fix or remove it");
            goto out;
        }
        if (prc == -1) {
            rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_BAD_NAME,
                                 "%s is not a migration file name", fname);
            strata__err_where(err, path, 0, 0, 0);
            strata__err_hint(err,
                             "%s (the name must not be empty); rename "
                             "it, or move it out of the directory",
                             flat_forms);
            goto out;
        }
        v[n].fname = path + strlen(path) - strlen(fname);
        v[n].path = path;
        v[n].f.kind = f.kind;
        v[n].f.version = strata__arena_strdup(&scratch, f.version);
        v[n].f.name = strata__arena_strdup(&scratch, f.name);
        strata__fname_free(&f);
        if (v[n].f.version == NULL || v[n].f.name == NULL) {
            rc = strata__err_nomem(err);
            goto out;
        }
        n++;
    }
    names_free(nl);
    if (n > 1)
        strata__sort(v, n, sizeof *v, flat_cmp);

    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        groups +=
            i == 0 || strata__version_cmp(v[i - 1].f.version, v[i].f.version,
                                          STRATA__ORDER_NUMERIC) != 0;
    rc = reserve(out, groups, err);
    if (rc != STRATA_OK)
        goto out;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strata__version_cmp(v[i].f.version, v[j].f.version,
                                            STRATA__ORDER_NUMERIC) == 0)
            j++;
        strata__migration *m = &out->items[out->count++];
        rc = flat_group(src, &out->strings, m, v + i, j - i, err);
        if (rc != 0)
            goto out;
        i = j;
    }
out:
    strata__arena_free(&scratch);
    free(v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Folder layout */

/* 1 when metadata.toml text says `run_in_transaction = false`. Only the
 * one key Diesel defines is read; a full TOML parser would be overkill. */
static int meta_says_no_tx(const char *buf, size_t len)
{
    static const char key[] = "run_in_transaction";
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        const char *hash = memchr(buf + i, '#', end - i);
        if (hash != NULL)
            end = (size_t)(hash - buf);
        size_t p = i;
        while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
            p++;
        if (end - p >= sizeof key - 1 &&
            memcmp(buf + p, key, sizeof key - 1) == 0) {
            p += sizeof key - 1;
            while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
                p++;
            if (p < end && buf[p] == '=') {
                p++;
                while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
                    p++;
                size_t q = end;
                while (q > p && (buf[q - 1] == ' ' || buf[q - 1] == '\t' ||
                                 buf[q - 1] == '\r'))
                    q--;
                if (q - p == 5 && memcmp(buf + p, "false", 5) == 0)
                    return 1;
            }
        }
        i = (nl != NULL ? (size_t)(nl - buf) : len) + 1;
    }
    return 0;
}

static int folder_cmp(const void *a, const void *b)
{
    const strata__migration *x = a, *y = b;
    return strata__version_cmp(x->version, y->version, STRATA__ORDER_STRING);
}

/* Fills `m` from the folder `sub` (an entry of `dir` holding up.sql),
 * its text in the arena `a`. */
static int folder_one(const scan_src *src, strata__arena *a,
                      strata__migration *m, const char *sub, strata__err *err)
{
    char *version = NULL, *down = NULL, *meta = NULL, *buf = NULL;
    size_t blen = 0;
    int rc = STRATA_OK;

    m->up_path = join3(a, src->src->dir, sub, "up.sql");
    if (m->up_path == NULL)
        goto nomem;

    const char *us = strchr(sub, '_');
    size_t vlen = us != NULL ? (size_t)(us - sub) : 0;
    int vrc = -1;
    if (us != NULL && us[1] != '\0')
        vrc = strata__version_canonical(&version, sub, vlen,
                                        STRATA__ORDER_STRING);
    if (vrc < -1)
        goto nomem;
    if (vrc != 0) {
        rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_BAD_NAME,
                             "%s is not a migration folder name", sub);
        strata__err_where(err, m->up_path, 0, 0, 0);
        strata__err_hint(err, "migration folders are named VERSION_name, "
                              "VERSION being digits and dashes, e.g. "
                              "2025-10-25-120000_create_users");
        goto out;
    }
    m->version = strata__arena_strdup(a, version);
    m->name = strata__arena_strdup(a, us + 1);
    if (m->version == NULL || m->name == NULL)
        goto nomem;

    down = join3(NULL, src->src->dir, sub, "down.sql");
    if (down == NULL)
        goto nomem;
    if (src_is_file(src, down)) {
        m->down_path = strata__arena_strdup(a, down);
        if (m->down_path == NULL)
            goto nomem;
    }
    meta = join3(NULL, src->src->dir, sub, "metadata.toml");
    if (meta == NULL)
        goto nomem;
    if (src_is_file(src, meta)) {
        const char *data = NULL;
        rc = src_read(src, meta, &data, &blen, &buf, NULL, err);
        if (rc != 0)
            goto out;
        m->meta_no_tx = meta_says_no_tx(data, blen);
    }
    rc = read_up(src, m, 0, err);
    goto out;

nomem:
    rc = strata__err_nomem(err);
out:
    free(version);
    free(down);
    free(meta);
    free(buf);
    return rc;
}

static int scan_folders(strata__migrations *out, const scan_src *src,
                        const names *nl, const unsigned char *has_up,
                        strata__err *err)
{
    size_t folders = 0;
    for (size_t i = 0; i < nl->n; i++)
        folders += has_up[i];
    int rc = reserve(out, folders, err);
    if (rc != STRATA_OK)
        return rc;

    for (size_t i = 0; i < nl->n; i++) {
        if (!has_up[i])
            continue;
        strata__migration *m = &out->items[out->count++];
        rc = folder_one(src, &out->strings, m, nl->v[i], err);
        if (rc != 0)
            goto out;
    }
    if (out->count > 1)
        strata__sort(out->items, out->count, sizeof *out->items, folder_cmp);
    for (size_t i = 1; i < out->count; i++) {
        const strata__migration *a = &out->items[i - 1], *b = &out->items[i];
        if (strcmp(a->version, b->version) == 0) {
            rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_DUPLICATE,
                                 "version %s is claimed by both %s and %s",
                                 a->version, a->up_path, b->up_path);
            strata__err_where(err, b->up_path, 0, 0, 0);
            strata__err_version(err, b->version);
            strata__err_hint(err, "dashes in folder versions are ignored, "
                                  "so each folder needs distinct digits; "
                                  "renumber one of them");
            goto out;
        }
    }
out:
    return rc;
}

/* ------------------------------------------------------------------------ */

int strata__source_scan(strata__migrations *out, const strata_source *src,
                        strata__err *err)
{
    names nl = {NULL, 0, 0};
    unsigned char *has_up = NULL;
    char *path = NULL;
    DIR *d = NULL;
    scan_src s = {src, -1, 0};
    int folders = 0;
    int rc = STRATA_OK;

    memset(out, 0, sizeof *out);
    out->order = STRATA__ORDER_NUMERIC;
    if (src == NULL || src->dir == NULL || src->dir[0] == '\0') {
        rc = strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                             "no migration directory given");
        strata__err_hint(err, "name the directory that holds the migrations");
        goto out;
    }
    size_t dlen = strlen(src->dir);
    s.prefix = dlen + (src->dir[dlen - 1] != '/');
    if (src->emb != NULL) {
        rc = embedded_names(&nl, src->emb, err);
    } else {
        d = opendir(src->dir);
        s.fd = d != NULL ? dirfd(d) : -1;
        rc = read_names(&nl, d, src->dir, err);
    }
    if (rc != 0)
        goto out;

    /* Dotfiles are editor and VCS litter in either layout. */
    has_up = calloc(nl.n ? nl.n : 1, 1);
    if (has_up == NULL) {
        rc = strata__err_nomem(err);
        goto out;
    }
    for (size_t i = 0; i < nl.n; i++) {
        unsigned char type = name_type(nl.v[i]);
        if (nl.v[i][0] == '.' ||
            (type != DT_DIR && type != DT_LNK && type != DT_UNKNOWN))
            continue;
        path = join3(NULL, src->dir, nl.v[i], "up.sql");
        if (path == NULL) {
            rc = strata__err_nomem(err);
            goto out;
        }
        /* "entry/up.sql" is a file only when entry is a folder. */
        if (src_is_file(&s, path)) {
            has_up[i] = 1;
            folders = 1;
        }
        free(path);
        path = NULL;
    }

    if (folders) {
        out->order = STRATA__ORDER_STRING;
        rc = scan_folders(out, &s, &nl, has_up, err);
    } else {
        rc = scan_flat(out, &s, &nl, err);
    }
out:
    if (rc != 0)
        strata__migrations_free(out);
    if (d != NULL)
        closedir(d);
    names_free(&nl);
    free(has_up);
    free(path);
    return rc;
}
