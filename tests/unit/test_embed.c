/*
 * test_embed.c - strata_embed(): a migration directory as C source.
 *
 * The generated text is read back here by a small decoder of C string
 * literals (adjacent literals, \n \t \r and octal escapes, which is all the
 * generator writes), so every file's bytes, size and checksum are checked
 * without a compiler; tests/cli/embed.sh compiles the output for real.
 * Each test builds its own directories under /tmp, removed by the fixture.
 */
#include "engine.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

static void setup(void)
{
    strcpy(tmp, "/tmp/strata-embed-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(embed, .init = setup, .fini = teardown);

/* Writes `len` bytes to tmp/rel, creating folders on the way. */
static void put_n(const char *rel, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    for (char *p = path + strlen(tmp) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                cr_assert_fail("mkdir %s: %s", path, strerror(errno));
            *p = '/';
        }
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "fopen %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put(const char *rel, const char *text)
{
    put_n(rel, text, strlen(text));
}

/* Opens a handle without a database on directory tmp/rel ("" = tmp). */
static strata *open_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s%s", tmp, *rel ? "/" : "", rel);
    strata_source *src = NULL;
    strata *db = NULL;
    cr_assert_eq(strata_source_from_dir(&src, path), 0);
    cr_assert_eq(strata_open(&db, NULL, src, NULL), 0);
    strata_source_free(src);
    return db;
}

static char *embed_ok(const char *rel, const char *symbol)
{
    strata *db = open_dir(rel);
    char *c = NULL;
    int rc = strata_embed(&c, db, symbol);
    cr_assert_eq(rc, 0, "strata_embed: rc=%d %s", rc,
                 strata_last_error(db)->message);
    cr_assert_not_null(c);
    strata_close(db);
    return c;
}

/* ------------------------------------------------------------------------ */
/* Reading the generated text back */

/* Decodes the adjacent string literals starting at *p (skipping blanks and
 * newlines between them) into a malloc'ed buffer; *p is left after them. */
static char *decode(const char **p, size_t *len)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    const char *s = *p;
    for (;;) {
        while (*s == ' ' || *s == '\n')
            s++;
        if (*s != '"')
            break;
        s++;
        while (*s != '"') {
            cr_assert_neq(*s, '\0', "unterminated literal");
            cr_assert_neq(*s, '\n', "raw newline inside a literal");
            unsigned char c = (unsigned char)*s++;
            cr_assert(c >= 0x20 && c <= 0x7e, "raw byte 0x%02x in literal", c);
            cr_assert_neq(c, '?', "raw '?' could start a trigraph");
            if (c == '\\') {
                char e = *s++;
                if (e == 'n')
                    c = '\n';
                else if (e == 't')
                    c = '\t';
                else if (e == 'r')
                    c = '\r';
                else {
                    cr_assert(e >= '0' && e <= '7' && s[0] >= '0' &&
                                  s[0] <= '7' && s[1] >= '0' && s[1] <= '7',
                              "escape \\%c is not three octal digits", e);
                    c = (unsigned char)((e - '0') * 64 + (s[0] - '0') * 8 +
                                        (s[1] - '0'));
                    s += 2;
                }
            }
            if (n + 1 >= cap) {
                cap *= 2;
                out = realloc(out, cap);
                cr_assert_not_null(out);
            }
            out[n++] = (char)c;
        }
        s++;
    }
    out[n] = '\0';
    *len = n;
    *p = s;
    return out;
}

typedef struct entry {
    char *path;
    char *data;
    size_t data_len;
    size_t size;
    char *checksum;
} entry;

typedef struct parsed {
    char *dir;
    char *digest, *head;
    size_t count;
    entry e[16];
} parsed;

/* Reads `count` member declarations "char KIND_i[SIZE];" at *p, numbered
 * from 0, into sizes. */
static void members(const char **p, const char *kind, size_t count,
                    size_t *sizes)
{
    char fmt[64];
    snprintf(fmt, sizeof fmt, " char %s_%%u[%%zu];", kind);
    for (size_t i = 0; i < count; i++) {
        unsigned idx;
        cr_assert_eq(sscanf(*p, fmt, &idx, &sizes[i]), 2, "%s member %zu", kind,
                     i);
        cr_assert_eq(idx, i);
        *p = strchr(*p, ';') + 1;
    }
}

/* Parses the file table and the object of `symbol` out of generated C. */
static void parse(parsed *out, const char *c, const char *symbol)
{
    char key[256];
    memset(out, 0, sizeof *out);

    snprintf(key, sizeof key, "const strata_embedded %s = {", symbol);
    const char *p = strstr(c, key);
    cr_assert_not_null(p, "no definition of %s", symbol);
    p += strlen(key);
    while (*p == ' ' || *p == '\n')
        p++;
    unsigned version;
    cr_assert_eq(sscanf(p, ".version = %u,", &version), 1);
    cr_assert_eq(version, STRATA_EMBED_VERSION);
    p = strstr(p, ".dir = ");
    cr_assert_not_null(p);
    p += 7;
    size_t len;
    out->dir = decode(&p, &len);
    cr_assert_eq(sscanf(p, ",\n    .count = %zu,", &out->count), 1);
    cr_assert_leq(out->count, 16);
    const char *q = strstr(p, ".state_digest = ");
    cr_assert_not_null(q);
    q += 16;
    out->digest = decode(&q, &len);
    cr_assert_eq(len, 64);
    q = strstr(q, ".head_version = ");
    cr_assert_not_null(q);
    q += 16;
    out->head = decode(&q, &len);

    snprintf(key, sizeof key, "static const struct %s_bytes {\n", symbol);
    p = strstr(c, key);
    if (out->count == 0) {
        cr_assert_null(p, "an object of bytes for no files");
        cr_assert_null(strstr(c, ".entries"), "a table for no files");
        return;
    }
    cr_assert_not_null(p);
    p += strlen(key);
    /* The members: every path, every checksum, every file, each sized for
     * its literal and a NUL. */
    size_t path_size[16], sum_size[16], data_size[16];
    members(&p, "path", out->count, path_size);
    members(&p, "sum", out->count, sum_size);
    members(&p, "data", out->count, data_size);
    for (size_t i = 0; i < out->count; i++)
        cr_assert_eq(sum_size[i], 65);
    snprintf(key, sizeof key, "\n} %s_bytes = {\n", symbol);
    cr_assert_eq(strncmp(p, key, strlen(key)), 0,
                 "no initializer after the members");
    p += strlen(key);
    /* The initializer, in the same order. */
    for (size_t i = 0; i < out->count; i++) {
        out->e[i].path = decode(&p, &len);
        cr_assert_eq(len + 1, path_size[i], "path %zu", i);
        cr_assert_eq(*p++, ',');
    }
    for (size_t i = 0; i < out->count; i++) {
        out->e[i].checksum = decode(&p, &len);
        cr_assert_eq(len, 64);
        cr_assert_eq(*p++, ',');
    }
    for (size_t i = 0; i < out->count; i++) {
        entry *e = &out->e[i];
        p = strstr(p, "*/");
        cr_assert_not_null(p, "no comment naming file %zu", i);
        p += 2;
        e->data = decode(&p, &e->data_len);
        cr_assert_eq(e->data_len + 1, data_size[i], "data %zu", i);
        cr_assert_eq(*p++, ',');
    }
    cr_assert_eq(strncmp(p, "\n};\n", 4), 0);

    /* The table: each entry places its own members. */
    snprintf(key, sizeof key, "strata_embedded_entry %s_entries[] = {", symbol);
    p = strstr(c, key);
    cr_assert_not_null(p);
    p += strlen(key);
    for (size_t i = 0; i < out->count; i++) {
        char want[256];
        p = strchr(p, '{');
        cr_assert_not_null(p);
        snprintf(want, sizeof want,
                 "{%s_at(path_%zu), %s_at(data_%zu), %zu, "
                 "%s_at(sum_%zu)},",
                 symbol, i, symbol, i, data_size[i] - 1, symbol, i);
        cr_assert_eq(strncmp(p, want, strlen(want)), 0, "entry %zu", i);
        out->e[i].size = data_size[i] - 1;
        p++;
    }
    snprintf(key, sizeof key,
             "    .entries = %s_entries,\n    .bytes = "
             "(const char *)&%s_bytes,\n    .bytes_size = sizeof %s_bytes,\n",
             symbol, symbol, symbol);
    cr_assert_not_null(strstr(c, key), "the object does not point at them");
}

static void parsed_free(parsed *p)
{
    free(p->dir);
    free(p->digest);
    free(p->head);
    for (size_t i = 0; i < p->count; i++) {
        free(p->e[i].path);
        free(p->e[i].data);
        free(p->e[i].checksum);
    }
}

/* The entry for `rel` holds exactly the bytes of tmp/dir/rel, its size and
 * strata's checksum of them. */
static void expect_file(const parsed *p, size_t i, const char *dir,
                        const char *rel)
{
    const entry *e = &p->e[i];
    cr_assert_str_eq(e->path, rel, "entry %zu", i);
    char path[512];
    snprintf(path, sizeof path, "%s%s%s/%s", tmp, *dir ? "/" : "", dir, rel);
    char *buf = NULL;
    size_t len = 0;
    strata__err err;
    strata__err_clear(&err);
    cr_assert_eq(strata__read_file(&buf, &len, path, &err), 0, "%s", path);
    cr_assert_eq(e->size, len, "%s: size %zu, file has %zu", rel, e->size, len);
    cr_assert_eq(e->data_len, len, "%s: literal holds %zu bytes, file %zu", rel,
                 e->data_len, len);
    cr_assert_eq(memcmp(e->data, buf, len), 0, "%s: bytes differ", rel);
    char sum[65];
    strata__checksum(sum, buf, len);
    cr_assert_str_eq(e->checksum, sum, "%s: checksum", rel);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* A directory with every kind of content */

/* 0x01..0x7f, then UTF-8 sequences whose bytes cover every lead byte
 * 0xC2..0xF4 and every continuation byte 0x80..0xBF. */
static size_t nasty_bytes(char *out)
{
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        out[n++] = (char)c;
    for (int lead = 0xC2; lead <= 0xDF; lead++) {
        out[n++] = (char)lead;
        out[n++] = (char)0x80;
    }
    for (int cont = 0x80; cont <= 0xBF; cont++) {
        out[n++] = (char)0xC3;
        out[n++] = (char)cont;
    }
    for (int lead = 0xE1; lead <= 0xEF; lead++) { /* E0 and ED are fussy */
        if (lead == 0xED)
            continue;
        out[n++] = (char)lead;
        out[n++] = (char)0x80;
        out[n++] = (char)0x80;
    }
    const char fussy[] = "\xE0\xA0\x80\xED\x9F\xBF\xF0\x90\x80\x80"
                         "\xF1\x80\x80\x80\xF2\x80\x80\x80\xF3\x80\x80\x80"
                         "\xF4\x8F\xBF\xBF\n";
    memcpy(out + n, fussy, sizeof fussy - 1);
    return n + sizeof fussy - 1;
}

static void make_flat(const char *dir)
{
    char rel[256], bytes[1024];
#define AT(name) (snprintf(rel, sizeof rel, "%s/%s", dir, name), rel)
    put(AT("0001_users.up.sql"), "CREATE TABLE users (id INTEGER);\n");
    put(AT("0001_users.down.sql"), "DROP TABLE users;\n");
    put(AT("0002_both.sql"), "-- strata:up\nCREATE TABLE b (x);\n"
                             "-- strata:down\nDROP TABLE b;\n");
    put(AT("0003_crlf.sql"), "CREATE TABLE c (x);\r\nSELECT 1;\r\n");
    size_t n = nasty_bytes(bytes);
    put_n(AT("0004_bytes.up.sql"), bytes, n);
    put(AT("0004_bytes.down.sql"),
        "SELECT '?', '?\?=', '?\?/', '\"quoted\"', 'back\\\\slash\\', "
        "'\\0121', '\t';\n-- no newline at the end: ?\?>");
    put(AT("0005_empty_down.up.sql"), "SELECT 5;");
    put(AT("0005_empty_down.down.sql"), "");
    put(AT("README.md"), "not a migration\n");
    put(AT(".hidden.sql"), "SELECT 0;\n");
#undef AT
}

/* The set records the head version and the state digest that scanning
 * the directory gives. */
static void expect_state(const parsed *p, const char *dir, const char *head)
{
    char path[512], digest[65];
    snprintf(path, sizeof path, "%s/%s", tmp, dir);
    strata_source src = {path, NULL};
    strata__migrations list;
    strata__err err;
    strata__err_clear(&err);
    cr_assert_eq(strata__source_scan(&list, &src, &err), 0, "%s",
                 err.pub.message);
    cr_assert_eq(strata__migrations_state(&list, digest), 0);
    cr_assert_str_eq(p->digest, digest);
    cr_assert_str_eq(p->head, head);
    strata__migrations_free(&list);
}

static const char *const flat_files[] = {
    "0001_users.down.sql",
    "0001_users.up.sql",
    "0002_both.sql",
    "0003_crlf.sql",
    "0004_bytes.down.sql",
    "0004_bytes.up.sql",
    "0005_empty_down.down.sql",
    "0005_empty_down.up.sql",
};
#define FLAT_N (sizeof flat_files / sizeof flat_files[0])

Test(embed, flat_files_byte_for_byte)
{
    make_flat("migrations");
    char *c = embed_ok("migrations", "my_set");
    parsed p;
    parse(&p, c, "my_set");
    cr_assert_str_eq(p.dir, "migrations");
    cr_assert_eq(p.count, FLAT_N, "%zu files", p.count);
    for (size_t i = 0; i < FLAT_N; i++)
        expect_file(&p, i, "migrations", flat_files[i]);
    cr_assert_null(strstr(c, "README"), "a loose file was embedded");
    cr_assert_null(strstr(c, "hidden"), "a dotfile was embedded");
    cr_assert_not_null(strstr(c, "#include <strata.h>\n"));
    cr_assert_not_null(strstr(c, "5 migrations in 8 files"));
    cr_assert_null(strstr(c, tmp), "the absolute path leaked");
    expect_state(&p, "migrations", "5");
    parsed_free(&p);
    free(c);
}

Test(embed, regenerating_gives_identical_bytes)
{
    make_flat("a/migrations");
    make_flat("b/c/migrations");
    char *one = embed_ok("a/migrations", "strata_migrations");
    char *two = embed_ok("a/migrations", "strata_migrations");
    char *slash = embed_ok("a/migrations/", "strata_migrations");
    char *elsewhere = embed_ok("b/c/migrations", "strata_migrations");
    cr_assert_str_eq(one, two);
    cr_assert_str_eq(one, slash, "a trailing slash changed the output");
    cr_assert_str_eq(one, elsewhere, "the output depends on where DIR is");
    free(one);
    free(two);
    free(slash);
    free(elsewhere);
}

Test(embed, dot_is_named_after_the_directory)
{
    make_flat("migrations");
    char cwd[4096], dir[512];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(dir, sizeof dir, "%s/migrations", tmp);
    cr_assert_eq(chdir(dir), 0);
    strata_source *src = NULL;
    strata *db = NULL;
    char *c = NULL;
    cr_assert_eq(strata_source_from_dir(&src, "."), 0);
    cr_assert_eq(strata_open(&db, NULL, src, NULL), 0);
    int rc = strata_embed(&c, db, "s");
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(rc, 0, "%s", strata_last_error(db)->message);
    parsed p;
    parse(&p, c, "s");
    cr_assert_str_eq(p.dir, "migrations");
    cr_assert_eq(p.count, FLAT_N);
    parsed_free(&p);
    free(c);
    strata_close(db);
    strata_source_free(src);
}

Test(embed, folder_layout_with_metadata)
{
    put("diesel/2017-08-31-120000_users/up.sql", "CREATE TABLE u (x);\n");
    put("diesel/2017-08-31-120000_users/down.sql", "DROP TABLE u;\n");
    put("diesel/2017-09-01-000000_idx/up.sql",
        "CREATE INDEX CONCURRENTLY i ON u (x);\n");
    put("diesel/2017-09-01-000000_idx/metadata.toml",
        "run_in_transaction = false\n");
    put("diesel/2017-09-01-000000_idx/notes.txt", "not embedded\n");
    put("diesel/README.md", "loose\n");
    char *c = embed_ok("diesel", "diesel_migrations");
    parsed p;
    parse(&p, c, "diesel_migrations");
    cr_assert_str_eq(p.dir, "diesel");
    cr_assert_eq(p.count, 4, "%zu files", p.count);
    expect_file(&p, 0, "diesel", "2017-08-31-120000_users/down.sql");
    expect_file(&p, 1, "diesel", "2017-08-31-120000_users/up.sql");
    expect_file(&p, 2, "diesel", "2017-09-01-000000_idx/metadata.toml");
    expect_file(&p, 3, "diesel", "2017-09-01-000000_idx/up.sql");
    cr_assert_not_null(strstr(c, "2 migrations in 4 files"));
    expect_state(&p, "diesel", "20170901000000");
    parsed_free(&p);
    free(c);
}

Test(embed, empty_directory)
{
    char dir[96];
    snprintf(dir, sizeof dir, "%s/none", tmp);
    cr_assert_eq(mkdir(dir, 0700), 0);
    char *c = embed_ok("none", "nothing");
    parsed p;
    parse(&p, c, "nothing");
    cr_assert_eq(p.count, 0);
    cr_assert_null(strstr(c, ".files"));
    cr_assert_null(strstr(c, ".bytes"));
    /* No rows: the SHA-256 of nothing. */
    cr_assert_str_eq(p.digest, "e3b0c44298fc1c149afbf4c8996fb924"
                               "27ae41e4649b934ca495991b7852b855");
    cr_assert_str_eq(p.head, "0");
    parsed_free(&p);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Refusals */

Test(embed, bad_symbols_are_refused)
{
    make_flat("migrations");
    strata *db = open_dir("migrations");
    const char *bad[] = {"",    "1abc", "a-b",   "a b",
                         "x.y", "int",  "_Bool", "caf\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *c = (char *)"untouched";
        int rc = strata_embed(&c, db, bad[i]);
        cr_assert_eq(rc, STRATA_EUSAGE, "'%s': rc=%d", bad[i], rc);
        cr_assert_null(c, "'%s': *out not cleared", bad[i]);
        const strata_error *e = strata_last_error(db);
        cr_assert_eq(e->code, STRATA_EUSAGE);
        cr_assert_eq(e->reason, STRATA_REASON_BAD_OPTION, "'%s'", bad[i]);
        cr_assert_neq(e->hint[0], '\0');
    }
    char *c = NULL;
    cr_assert_eq(strata_embed(&c, db, NULL), STRATA_EUSAGE);
    cr_assert_eq(strata_embed(&c, db, "_ok9"), 0);
    free(c);
    strata_close(db);
}

/* The error is the scanner's own, field for field. */
static void expect_scanner_error(const char *rel, int want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    strata__err err;
    strata__err_clear(&err);
    strata__migrations list;
    strata_source src = {0};
    src.dir = path;
    cr_assert_eq(strata__source_scan(&list, &src, &err), want);

    strata *db = open_dir(rel);
    char *c = (char *)"untouched";
    cr_assert_eq(strata_embed(&c, db, "s"), want);
    cr_assert_null(c);
    const strata_error *e = strata_last_error(db);
    cr_assert_eq(e->code, want);
    cr_assert_eq(e->reason, err.pub.reason);
    cr_assert_str_eq(e->message, err.pub.message);
    cr_assert_str_eq(e->hint, err.pub.hint);
    cr_assert_str_eq(e->file, err.pub.file);
    cr_assert_str_eq(e->version, err.pub.version);
    strata_close(db);
}

Test(embed, bad_name_refused_as_the_scanner_does)
{
    put("m/0001_ok.sql", "SELECT 1;\n");
    put("m/abc.sql", "SELECT 2;\n");
    expect_scanner_error("m", STRATA_EREFUSED);
}

Test(embed, duplicate_refused_as_the_scanner_does)
{
    put("m/0001_a.sql", "SELECT 1;\n");
    put("m/1_b.sql", "SELECT 2;\n");
    expect_scanner_error("m", STRATA_EREFUSED);
}

Test(embed, missing_directory_refused)
{
    strata *db = open_dir("nope");
    char *c = NULL;
    cr_assert_eq(strata_embed(&c, db, "s"), STRATA_EUSAGE);
    const strata_error *e = strata_last_error(db);
    cr_assert_eq(e->reason, STRATA_REASON_IO);
    cr_assert(strstr(e->message, "does not exist") != NULL, "%s", e->message);
    cr_assert_null(c);
    strata_close(db);
}

Test(embed, handle_without_a_directory_refused)
{
    strata *db = NULL;
    cr_assert_eq(strata_open(&db, NULL, NULL, NULL), 0);
    char *c = NULL;
    cr_assert_eq(strata_embed(&c, db, "s"), STRATA_EUSAGE);
    const strata_error *e = strata_last_error(db);
    cr_assert_eq(e->reason, STRATA_REASON_IO);
    cr_assert_str_eq(e->message, "no migration source is set on this handle");
    strata_close(db);
}
