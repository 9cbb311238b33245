/*
 * util.c - small helpers for text, time and files used across the engine.
 */
#include "strata_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *strata__strdup(const char *s)
{
    return s == NULL ? NULL : strata__strndup(s, strlen(s));
}

char *strata__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *strata__sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void strata__sort(void *base, size_t n, size_t size,
                  int (*cmp)(const void *, const void *))
{
    const char *p = base;
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + (i - 1) * size, p + i * size) > 0) {
            qsort(base, n, size, cmp);
            return;
        }
    }
}

char *strata__quote_ident(const char *name)
{
    size_t n = 2;
    for (const char *c = name; *c; c++)
        n += (*c == '"') ? 2 : 1;
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    *o++ = '"';
    for (const char *c = name; *c; c++) {
        if (*c == '"')
            *o++ = '"';
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

int strata__line_of(const char *text, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

int strata__column_of(const char *text, size_t offset)
{
    size_t i = offset;
    while (i > 0 && text[i - 1] != '\n')
        i--;
    return (int)(offset - i) + 1;
}

void strata__now_iso(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
}

int64_t strata__monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int strata__read_file(char **out, size_t *len, const char *path,
                      strata__err *err)
{
    return strata__read_file_at(out, len, AT_FDCWD, path, path, err);
}

int strata__read_file_at(char **out, size_t *len, int dirfd, const char *name,
                         const char *path, strata__err *err)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t cap = 0, used = 0;
    int rc = STRATA_OK;
    /* O_NONBLOCK: opening a FIFO planted among the scripts must not hang;
     * it is refused below like anything else that is not a regular file. */
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        goto io_error;
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto io_error;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto io_error;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                             "%s is not a regular file", path);
        strata__err_where(err, path, 0, 0, 0);
        strata__err_hint(err, "migration scripts must be plain files");
        goto out;
    }
    /* Room for one byte more than fstat saw, and the NUL: a first read
     * that comes back short with exactly st_size bytes is the whole file,
     * which saves a second read() per script at every start. */
    cap = (st.st_size > 0 ? (size_t)st.st_size : 4096) + 2;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = strata__err_nomem(err);
        goto out;
    }
    for (;;) {
        if (used + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                rc = strata__err_nomem(err);
                goto out;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t want = cap - used - 1;
        ssize_t n = read(fd, buf + used, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto io_error;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if ((size_t)n < want && used == (size_t)st.st_size)
            break;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    buf = NULL;
    goto out;

io_error:
    rc = strata__err_set(err, STRATA_EUSAGE, STRATA_REASON_IO,
                         "cannot read %s: %s", path, strerror(errno));
    strata__err_where(err, path, 0, 0, 0);
    strata__err_hint(err, "check that the file exists and is readable");
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Length of a password value starting at v: up to '&', ' ', '#' or the end. */
static size_t value_len(const char *v)
{
    return strcspn(v, "& #");
}

char *strata__mask_url(const char *url)
{
    if (url == NULL)
        return NULL;
    size_t len = strlen(url);
    /* "***" may be longer than what it replaces, once per occurrence. */
    char *out = malloc(len * 2 + 8);
    if (out == NULL)
        return NULL;
    const char *p = url;
    char *o = out;
    const char *auth = strstr(url, "://");
    const char *at = NULL, *colon = NULL;
    if (auth != NULL) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        for (const char *c = auth; c < auth + alen; c++)
            if (*c == '@')
                at = c;
        if (at != NULL) {
            colon = memchr(auth, ':', (size_t)(at - auth));
        }
    }
    while (*p != '\0') {
        if (p == colon) {
            memcpy(o, ":***", 4);
            o += 4;
            p = at;
            continue;
        }
        int starts = p == url || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ';
        if (starts && strncmp(p, "password=", 9) == 0) {
            memcpy(o, "password=***", 12);
            o += 12;
            p += 9;
            p += value_len(p);
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}
