/*
 * embed.c - a migration directory written out as C source (strata_embed).
 *
 * The directory is read by the same scanner every other call uses, so only
 * a directory that plans cleanly can be embedded, and the scanner decides
 * which files belong to a migration: each up script, each separate down
 * script, and a folder's metadata.toml. Those files are written byte for
 * byte as string literals, sorted by their path relative to the directory,
 * each with the checksum strata__checksum() gives, into one object that a
 * table of offsets indexes (a version 3 set: nothing to relocate per file
 * when the program loads), and a `const strata_embedded SYMBOL` over them
 * that strata_source_from_embedded() reads, together with the state digest
 * and head version of the whole set.
 *
 * The output depends on nothing but the files and the directory's last
 * name component: no time, no absolute path, no version, so regenerating
 * from unchanged files gives identical bytes and build systems see no
 * change. Every byte outside printable ASCII, and '"', '\\' and '?' (no
 * trigraph can form), is written as a three-digit octal escape, which no
 * following digit can extend (newline, tab and CR are \n, \t and \r, which
 * no digit extends either); literals break after each newline of the file
 * so that the generated text diffs like the scripts do.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* A growable text buffer that remembers running out of memory. */

typedef struct text {
    char *s;
    size_t len, cap;
    int nomem;
} text;

static void text_add(text *t, const char *p, size_t n)
{
    if (t->nomem)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (s == NULL) {
            t->nomem = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_puts(text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static void text_printf(text *t, const char *fmt, ...) STRATA__PRINTF(2, 3);

static void text_printf(text *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->nomem = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        text_add(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        t->nomem = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_add(t, big, (size_t)n);
    free(big);
}

/* Appends the bytes as the inside of a C string literal (no quotes). */
static void text_escaped(text *t, const char *p, size_t n)
{
    static const char digits[] = "01234567";
    size_t i = 0;
    while (i < n) {
        /* The longest run written as is, then one escape. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] <= 0x7e && p[j] != '"' &&
               p[j] != '\\' && p[j] != '?')
            j++;
        text_add(t, p + i, j - i);
        if (j == n)
            break;
        unsigned char c = (unsigned char)p[j];
        if (c == '\n' || c == '\t' || c == '\r') {
            char esc[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
            text_add(t, esc, 2);
        } else {
            char esc[4] = {'\\', digits[c >> 6], digits[(c >> 3) & 7],
                           digits[c & 7]};
            text_add(t, esc, 4);
        }
        i = j + 1;
    }
}

/* Appends a file's bytes as string literals, one per line of the file. */
static void text_literal(text *t, const char *p, size_t n)
{
    size_t i = 0;
    if (n == 0) {
        text_puts(t, "\n    \"\"");
        return;
    }
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl != NULL ? (size_t)(nl - p) + 1 : n;
        text_puts(t, "\n    \"");
        text_escaped(t, p + i, end - i);
        text_puts(t, "\"");
        i = end;
    }
}

/* ------------------------------------------------------------------------ */
/* The files to embed. */

typedef struct efile {
    char *rel;  /* path relative to the directory, '/'-separated */
    char *data; /* the bytes, NUL-terminated */
    size_t size;
    char checksum[65];
} efile;

typedef struct efiles {
    efile *v;
    size_t n, cap;
} efiles;

static void efiles_free(efiles *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].rel);
        free(l->v[i].data);
    }
    free(l->v);
}

static int efile_cmp(const void *a, const void *b)
{
    const efile *x = a, *y = b;
    return strcmp(x->rel, y->rel);
}

/* Reads `path` (which the scanner built as dir + '/' + the relative part,
 * `skip` bytes into it) into a new entry of `l`. */
static int add_file(efiles *l, const char *path, size_t skip, strata__err *err)
{
    if (strlen(path) <= skip) {
        strata__err_where(err, path, 0, 0, 0);
        return strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                               "%s is not inside the migration directory",
                               path);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        efile *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return strata__err_nomem(err);
        l->v = v;
        l->cap = cap;
    }
    efile *f = &l->v[l->n];
    memset(f, 0, sizeof *f);
    int rc = strata__read_file(&f->data, &f->size, path, err);
    if (rc != STRATA_OK)
        return rc;
    f->rel = strata__strdup(path + skip);
    if (f->rel == NULL) {
        free(f->data);
        return strata__err_nomem(err);
    }
    strata__checksum(f->checksum, f->data, f->size);
    l->n++;
    return STRATA_OK;
}

/* The metadata.toml beside a folder migration's up.sql, if there is one. */
static int add_metadata(efiles *l, const char *up_path, size_t skip,
                        strata__err *err)
{
    const char *slash = strrchr(up_path, '/');
    if (slash == NULL)
        return STRATA_OK;
    char *meta =
        strata__sprintf("%.*s/metadata.toml", (int)(slash - up_path), up_path);
    if (meta == NULL)
        return strata__err_nomem(err);
    struct stat st;
    int rc = STRATA_OK;
    if (stat(meta, &st) == 0 && S_ISREG(st.st_mode))
        rc = add_file(l, meta, skip, err);
    free(meta);
    return rc;
}

/* ------------------------------------------------------------------------ */

static const char *const c_keywords[] = {
    "auto",       "break",     "case",           "char",
    "const",      "continue",  "default",        "do",
    "double",     "else",      "enum",           "extern",
    "float",      "for",       "goto",           "if",
    "inline",     "int",       "long",           "register",
    "restrict",   "return",    "short",          "signed",
    "sizeof",     "static",    "struct",         "switch",
    "typedef",    "union",     "unsigned",       "void",
    "volatile",   "while",     "_Alignas",       "_Alignof",
    "_Atomic",    "_Bool",     "_Complex",       "_Generic",
    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
};

/* 1 when `s` can name the generated object: a C identifier, not a
 * keyword, short enough for its derived names to stay readable. */
static int valid_symbol(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return 0;
    }
    for (size_t i = 0; i < sizeof c_keywords / sizeof c_keywords[0]; i++)
        if (strcmp(s, c_keywords[i]) == 0)
            return 0;
    return 1;
}

/* The last component of `dir` ("db/migrations/" -> "migrations"); for "."
 * and "..", that of the directory they resolve to. The result names files
 * in messages and must not depend on where the directory lives. */
static char *dir_name(const char *dir)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    char *name = strata__strndup(dir + start, end - start);
    if (name == NULL || (strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
                         strcmp(name, "/") != 0 && name[0] != '\0'))
        return name;
    char *real = realpath(dir, NULL);
    if (real == NULL)
        return name;
    const char *base = strrchr(real, '/');
    base = base != NULL ? base + 1 : real;
    if (*base != '\0') {
        free(name);
        name = strata__strdup(base);
    }
    free(real);
    return name;
}

/* Writes the name into a comment: only characters that cannot end the
 * comment, start a trigraph or leave the line. */
static void text_comment_name(text *t, const char *name)
{
    for (const char *p = name; *p; p++) {
        char c = *p;
        int safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                   c == ' ';
        text_add(t, safe ? &c : "_", 1);
    }
}

/* The files as one object and the table of offsets into it. Its members
 * are char arrays, which have no padding, laid out as the set is read:
 * every path (a start with nothing to do reads them all, and only them),
 * then every checksum, then every file. Each member is its own literal, so
 * none is longer than the file it holds; offsetof() places the entries.
 * C11 promises no more than 1,023 members and 65,535-byte objects; GCC and
 * Clang take any number (60,000 members compile in half a second). */
static void generate_bytes(text *t, const char *symbol, const efiles *files)
{
    text_printf(t,
                "\n/* Every path, checksum and file of the set, each followed "
                "by a NUL, in one\n * object that %s_entries indexes by "
                "offset. */\nstatic const struct %s_bytes {\n",
                symbol, symbol);
    for (size_t i = 0; i < files->n; i++)
        text_printf(t, "    char path_%zu[%zu];\n", i,
                    strlen(files->v[i].rel) + 1);
    for (size_t i = 0; i < files->n; i++)
        text_printf(t, "    char sum_%zu[65];\n", i);
    for (size_t i = 0; i < files->n; i++)
        text_printf(t, "    char data_%zu[%zu];\n", i, files->v[i].size + 1);
    text_printf(t, "} %s_bytes = {\n", symbol);
    for (size_t i = 0; i < files->n; i++) {
        text_puts(t, "    \"");
        text_escaped(t, files->v[i].rel, strlen(files->v[i].rel));
        text_puts(t, "\",\n");
    }
    for (size_t i = 0; i < files->n; i++)
        text_printf(t, "    \"%s\",\n", files->v[i].checksum);
    for (size_t i = 0; i < files->n; i++) {
        const efile *f = &files->v[i];
        text_puts(t, "\n    /* ");
        text_comment_name(t, f->rel);
        text_puts(t, " */");
        text_literal(t, f->data, f->size);
        text_puts(t, ",\n");
    }
    text_puts(t, "};\n");

    text_printf(t,
                "\n#define %s_at(member) offsetof(struct %s_bytes, member)\n"
                "static const strata_embedded_entry %s_entries[] = {\n",
                symbol, symbol, symbol);
    for (size_t i = 0; i < files->n; i++)
        text_printf(t,
                    "    {%s_at(path_%zu), %s_at(data_%zu), %zu, "
                    "%s_at(sum_%zu)},\n",
                    symbol, i, symbol, i, files->v[i].size, symbol, i);
    text_printf(t, "};\n#undef %s_at\n", symbol);
}

static void generate(text *t, const char *symbol, const char *name,
                     const strata__migrations *list, const char *digest,
                     const efiles *files)
{
    size_t migrations = list->count;
    text_puts(t, "/*\n * Generated by strata (`strata embed`) from the "
                 "migration directory\n * \"");
    text_comment_name(t, name);
    text_printf(t,
                "\": %zu migration%s in %zu file%s.\n"
                " * Do not edit: change the directory and generate it "
                "again.\n */\n"
                "#include <stddef.h>\n#include <strata.h>\n",
                migrations, migrations == 1 ? "" : "s", files->n,
                files->n == 1 ? "" : "s");
    if (files->n > 0)
        generate_bytes(t, symbol, files);
    /* Designated: a set stays valid C when later versions add fields. */
    text_printf(t,
                "\nextern const strata_embedded %s;\n"
                "const strata_embedded %s = {\n"
                "    .version = %d,\n"
                "    .dir = \"",
                symbol, symbol, STRATA_EMBED_VERSION);
    text_escaped(t, name, strlen(name));
    text_printf(t, "\",\n    .count = %zu,\n", files->n);
    /* Versions are digits and dots: nothing to escape. */
    text_printf(t,
                "    .state_digest = \"%s\",\n"
                "    .head_version = \"%s\",\n",
                digest,
                migrations > 0 ? list->items[migrations - 1].version : "0");
    if (files->n > 0)
        text_printf(t,
                    "    .entries = %s_entries,\n"
                    "    .bytes = (const char *)&%s_bytes,\n"
                    "    .bytes_size = sizeof %s_bytes,\n",
                    symbol, symbol, symbol);
    text_puts(t, "};\n");
}

int strata_embed(char **out, strata *db, const char *symbol)
{
    strata__migrations list = {0};
    efiles files = {0};
    text t = {0};
    char *name = NULL;
    int rc = STRATA_OK;

    if (out == NULL || db == NULL)
        return db != NULL ? strata__err_set(&db->err, STRATA_EUSAGE,
                                            STRATA_REASON_BAD_OPTION,
                                            "no place to put the result")
                          : STRATA_EUSAGE;
    *out = NULL;
    strata__err_clear(&db->err);
    if (symbol == NULL || !valid_symbol(symbol)) {
        rc = strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                             "'%s' cannot name the embedded migrations",
                             symbol != NULL ? symbol : "(null)");
        strata__err_hint(&db->err, "give a C identifier (letters, digits "
                                   "and '_', not starting with a digit) "
                                   "that is not a keyword");
        goto out;
    }
    if (db->emb != NULL) {
        rc = strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                             "the migrations of this handle are already "
                             "compiled into the program");
        strata__err_hint(&db->err, "open the handle on the directory the "
                                   "migrations come from");
        goto out;
    }
    rc = strata__require_source(db);
    if (rc != STRATA_OK)
        goto out;

    strata_source src = {0};
    src.dir = db->dir;
    rc = strata__source_scan(&list, &src, &db->err);
    if (rc != STRATA_OK)
        goto out;

    /* The scanner joins dir and name with one '/' unless dir ends in one. */
    size_t dlen = strlen(db->dir);
    size_t skip = dlen + (db->dir[dlen - 1] == '/' ? 0 : 1);
    for (size_t i = 0; i < list.count && rc == STRATA_OK; i++) {
        const strata__migration *m = &list.items[i];
        rc = add_file(&files, m->up_path, skip, &db->err);
        if (rc == STRATA_OK && m->down_path != NULL &&
            strcmp(m->down_path, m->up_path) != 0)
            rc = add_file(&files, m->down_path, skip, &db->err);
        if (rc == STRATA_OK && list.order == STRATA__ORDER_STRING)
            rc = add_metadata(&files, m->up_path, skip, &db->err);
    }
    if (rc != STRATA_OK)
        goto out;
    if (files.n > 1)
        qsort(files.v, files.n, sizeof *files.v, efile_cmp);

    name = dir_name(db->dir);
    if (name == NULL) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    char digest[65];
    if (strata__migrations_state(&list, digest) != STRATA_OK) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    generate(&t, symbol, name, &list, digest, &files);
    if (t.nomem) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    *out = t.s;
    t.s = NULL;
out:
    free(t.s);
    free(name);
    efiles_free(&files);
    strata__migrations_free(&list);
    return rc;
}
