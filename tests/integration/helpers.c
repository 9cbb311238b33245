/*
 * helpers.c - temp directories, files, handles and direct looks at the
 * database for the integration tests. See helpers.h.
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void it_env_init(it_env *e)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/strata-it-XXXXXX");
    cr_assert_not_null(mkdtemp(e->dir), "mkdtemp: %s", strerror(errno));
    snprintf(e->mig, sizeof e->mig, "%s/migrations", e->dir);
    snprintf(e->db, sizeof e->db, "%s/test.db", e->dir);
    snprintf(e->url, sizeof e->url, "sqlite://%s", e->db);
    cr_assert_eq(mkdir(e->mig, 0755), 0, "mkdir %s: %s", e->mig,
                 strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void it_env_cleanup(it_env *e)
{
    if (e->dir[0] != '\0')
        nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void it_write_bytes(const char *dir, const char *rel, const void *data,
                    size_t len)
{
    char path[1024];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        cr_assert_fail("mkdir %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                cr_assert_fail("mkdir %s: %s", path, strerror(errno));
            *p = '/';
        }
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    if (len > 0)
        cr_assert_eq(fwrite(data, 1, len, f), len, "write %s", path);
    cr_assert_eq(fclose(f), 0, "close %s", path);
}

void it_write(const char *dir, const char *rel, const char *text)
{
    it_write_bytes(dir, rel, text, strlen(text));
}

void it_mig(const it_env *e, const char *rel, const char *text)
{
    it_write(e->mig, rel, text);
}

const char *it_mig_path(const it_env *e, const char *rel)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", e->mig, rel);
    return path;
}

const char *it_err(const strata *db)
{
    static char buf[4096];
    const strata_error *er = strata_last_error(db);
    snprintf(buf, sizeof buf,
             "code=%d(%s) reason=%s message='%s' file='%s' line=%d "
             "statement_line=%d db_message='%s' db_code=%d",
             er->code, strata_code_name(er->code),
             strata_reason_name(er->reason), er->message, er->file, er->line,
             er->statement_line, er->db_message, er->db_code);
    return buf;
}

strata *it_open_dir(const it_env *e, const char *migdir,
                    const strata_options *opts)
{
    strata_source *src = NULL;
    if (migdir != NULL)
        cr_assert_eq(strata_source_from_dir(&src, migdir), 0);
    strata *db = NULL;
    int rc = strata_open(&db, e->url, src, opts);
    strata_source_free(src);
    cr_assert_not_null(db);
    cr_assert_eq(rc, 0, "strata_open: %s", it_err(db));
    return db;
}

strata *it_open(const it_env *e, const strata_options *opts)
{
    return it_open_dir(e, e->mig, opts);
}

size_t it_up_expect(strata *db, const strata_run_options *opts, int want)
{
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, opts);
    cr_assert_eq(rc, want, "strata_up returned %d, want %d: %s", rc, want,
                 it_err(db));
    size_t n = rep != NULL ? rep->count : 0;
    strata_report_free(rep);
    return n;
}

/* strata creates a database file only when it first writes, so a missing
 * file reads as an empty database. */
static int absent(const char *path)
{
    struct stat sb;
    return stat(path, &sb) != 0;
}

static sqlite3 *open_ro(const char *path)
{
    sqlite3 *c = NULL;
    if (absent(path))
        path = ":memory:";
    int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL);
    cr_assert_eq(rc, SQLITE_OK, "sqlite3_open_v2 %s: %s", path,
                 c ? sqlite3_errmsg(c) : "nomem");
    sqlite3_busy_timeout(c, 10000);
    return c;
}

int64_t it_scalar(const char *path, const char *sql, int64_t dflt)
{
    if (absent(path))
        return dflt;
    sqlite3 *c = open_ro(path);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "prepare '%s': %s", sql, sqlite3_errmsg(c));
    int64_t v = dflt;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        cr_assert_eq(rc, SQLITE_DONE, "step '%s': %s", sql, sqlite3_errmsg(c));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

char *it_text(const char *path, const char *sql)
{
    if (absent(path))
        return NULL;
    sqlite3 *c = open_ro(path);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "prepare '%s': %s", sql, sqlite3_errmsg(c));
    char *v = NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_ROW)
        cr_assert_eq(rc, SQLITE_DONE, "step '%s': %s", sql, sqlite3_errmsg(c));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

int it_table_exists(const char *path, const char *table)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
             "name = '%s'",
             table);
    return (int)it_scalar(path, sql, 0);
}

void it_exec(const char *path, const char *sql)
{
    sqlite3 *c = NULL;
    cr_assert_eq(sqlite3_open(path, &c), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(c, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "exec '%s': %s", sql, msg ? msg : "");
    sqlite3_close(c);
}

/* A growable string. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + k + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

static void dump_rows(sbuf *b, sqlite3 *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "prepare '%s': %s", sql, sqlite3_errmsg(c));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            sb_add(b, i ? "|" : "  ");
            sb_add(b, v ? v : "<null>");
        }
        sb_add(b, "\n");
    }
    cr_assert_eq(rc, SQLITE_DONE, "step '%s': %s", sql, sqlite3_errmsg(c));
    sqlite3_finalize(st);
}

char *it_snapshot(const char *path)
{
    sbuf b = {NULL, 0, 0};
    sb_add(&b, "");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return b.p;
    sqlite3 *c = open_ro(path);
    sb_add(&b, "schema:\n");
    dump_rows(&b, c,
              "SELECT type, name, tbl_name, sql FROM sqlite_master "
              "ORDER BY type, name");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        /* Insertion order; a WITHOUT ROWID table (the tracking table) has
         * no rowid and is read in its key's order. */
        char *sql =
            sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", name);
        sqlite3_stmt *probe = NULL;
        if (sqlite3_prepare_v2(c, sql, -1, &probe, NULL) != SQLITE_OK) {
            sqlite3_free(sql);
            sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
        }
        sqlite3_finalize(probe);
        sb_add(&b, "table ");
        sb_add(&b, name);
        sb_add(&b, ":\n");
        dump_rows(&b, c, sql);
        sqlite3_free(sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return b.p;
}

char *it_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        if (k == 0)
            break;
        n += k;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

void it_sha256_text(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    cr_assert_eq(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

void it_sha256_file(const char *path, char out[65])
{
    size_t len = 0;
    char *data = it_read_file(path, &len);
    it_sha256_text(data, len, out);
    free(data);
}

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_events_cb(const strata_event *ev, void *payload)
{
    it_events *l = payload;
    if (l->count >= sizeof l->items / sizeof l->items[0])
        return;
    it_event *e = &l->items[l->count++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    snprintf(e->version, sizeof e->version, "%s",
             ev->version ? ev->version : "");
    snprintf(e->file, sizeof e->file, "%s", ev->file ? ev->file : "");
    e->direction = ev->direction;
    e->index = ev->index;
    e->total = ev->total;
    e->duration_ms = ev->duration_ms;
    if (ev->error != NULL) {
        e->has_error = 1;
        e->error_code = ev->error->code;
        e->error_line = ev->error->line;
        snprintf(e->error_file, sizeof e->error_file, "%s",
                 ev->error->file ? ev->error->file : "");
    }
}
