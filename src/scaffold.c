/*
 * scaffold.c - `strata new`: creates the next migration's files.
 *
 * The next version follows the directory's own style: the zero padding and
 * the V prefix of its newest file, or Diesel-style folders named by a UTC
 * timestamp. Files are created with O_EXCL | O_NOFOLLOW, so nothing is ever
 * overwritten and no symlink is followed.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Adds one to a string of decimal digits, into a new string. */
static char *increment(const char *digits)
{
    size_t n = strlen(digits);
    char *out = malloc(n + 2);
    if (out == NULL)
        return NULL;
    memcpy(out + 1, digits, n + 1);
    out[0] = '0';
    size_t i = n + 1;
    while (i-- > 0) {
        if (out[i] == '9') {
            out[i] = '0';
            continue;
        }
        out[i]++;
        break;
    }
    if (out[0] == '0')
        memmove(out, out + 1, n + 1);
    return out;
}

/* Letters, digits, '_', '-' and spaces (which become '_'). No '.': a name
 * ending in ".down" would turn the new up file into a down file. */
static int clean_name(strata *db, const char *name, char **out)
{
    *out = NULL;
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 200) {
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "a migration needs a name of 1 to 200 characters");
        strata__err_hint(&db->err, "e.g. strata new add_users_table");
        return STRATA_EUSAGE;
    }
    char *s = strata__strdup(name);
    if (s == NULL)
        return strata__err_nomem(&db->err);
    for (char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ')
            *p = '_';
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            free(s);
            strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                            "a migration name may hold letters, digits, "
                            "'_', '-' and spaces only");
            strata__err_hint(&db->err, "e.g. strata new add_users_table");
            return STRATA_EUSAGE;
        }
    }
    *out = s;
    return STRATA_OK;
}

static int create_file(strata *db, const char *path, const char *text)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        strata__err_where(&db->err, path, 0, 0, 0);
        if (e == EEXIST || e == ELOOP) {
            strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_EXISTS,
                            "%s already exists", path);
            strata__err_hint(&db->err, "strata never overwrites a file; "
                                       "choose another name or remove it");
            return STRATA_EREFUSED;
        }
        strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                        "cannot create %s: %s", path, strerror(e));
        return STRATA_EUSAGE;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            strata__err_where(&db->err, path, 0, 0, 0);
            return strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                                   "cannot write %s: %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(path);
        strata__err_where(&db->err, path, 0, 0, 0);
        return strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                               "cannot write %s: %s", path, strerror(e));
    }
    return STRATA_OK;
}

/* The directory's naming style, read from its newest file. */
typedef struct style {
    int folders;  /* Diesel-style folders */
    int v_prefix; /* V1__name.sql */
    size_t width; /* zero padding of the version */
    char *next;   /* next sequential version, canonical */
} style;

static int read_style(strata *db, const strata__migrations *src, style *st)
{
    memset(st, 0, sizeof *st);
    st->width = 4;
    st->folders = src->order == STRATA__ORDER_STRING;
    const char *last = src->count ? src->items[src->count - 1].version : "0";
    if (src->count) {
        const char *path = src->items[src->count - 1].up_path;
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        st->v_prefix = base[0] == 'V';
        size_t w = strspn(base + st->v_prefix, "0123456789");
        st->width = w;
    }
    /* Dotted versions step their first part: V1.2 -> V2. */
    char *major = strata__strndup(last, strcspn(last, "."));
    st->next = major ? increment(major) : NULL;
    free(major);
    return st->next ? STRATA_OK : strata__err_nomem(&db->err);
}

int strata_new(strata_report **out, strata *db, const char *name,
               unsigned int flags)
{
    *out = NULL;
    strata__err_clear(&db->err);
    strata__migrations src = {0};
    strata__report_builder rb = {0};
    style st = {0};
    char *clean = NULL, *version = NULL, *folder = NULL;
    char *up = NULL, *down = NULL;
    int created_up = 0;
    int rc = STRATA_OK;
    if (db->emb != NULL) {
        rc = strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                             "migrations compiled into the program cannot "
                             "get new files");
        strata__err_hint(&db->err, "create the migration in the directory, "
                                   "then embed it again");
    } else if (db->dir == NULL) {
        /* The directory itself may be missing: it is created below. */
        rc = strata__require_source(db);
    }
    if (rc == STRATA_OK)
        rc = clean_name(db, name, &clean);
    if (rc != STRATA_OK)
        goto out;
    if (mkdir(db->dir, 0755) != 0 && errno != EEXIST) {
        strata__err_where(&db->err, db->dir, 0, 0, 0);
        rc = strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                             "cannot create directory %s: %s", db->dir,
                             strerror(errno));
        goto out;
    }
    strata_source s = {db->dir, NULL};
    rc = strata__source_scan(&src, &s, &db->err);
    struct stat lsb;
    if (rc == STRATA_EUSAGE && db->err.pub.reason == STRATA_REASON_IO &&
        lstat(db->err.file, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
        /* A symlink planted among the scripts: in the way, never followed. */
        strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_EXISTS,
                        "%s is in the way: a symlink strata will not follow",
                        db->err.file);
        strata__err_hint(&db->err, "remove it; strata never writes through "
                                   "a symlink");
        rc = STRATA_EREFUSED;
    }
    if (rc != STRATA_OK)
        goto out;
    rc = read_style(db, &src, &st);
    if (rc != STRATA_OK)
        goto out;

    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (st.folders)
        strftime(stamp, sizeof stamp, "%Y-%m-%d-%H%M%S", &tm);
    else
        strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);

    if (st.folders || (flags & STRATA_NEW_TIMESTAMP)) {
        version = strata__sprintf("%s%s", st.v_prefix ? "V" : "", stamp);
    } else {
        size_t len = strlen(st.next);
        size_t pad = len < st.width ? st.width - len : 0;
        version = malloc(1 + pad + len + 1);
        if (version != NULL) {
            char *p = version;
            if (st.v_prefix)
                *p++ = 'V';
            memset(p, '0', pad);
            memcpy(p + pad, st.next, len + 1);
        }
    }
    if (version == NULL) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    int single = (flags & STRATA_NEW_SINGLE) && !st.folders;
    const char *sep = st.v_prefix ? "__" : "_";
    const char *canon = version + (st.v_prefix ? 1 : 0);
    if (st.folders) {
        folder = strata__sprintf("%s/%s_%s", db->dir, version, clean);
        up = strata__sprintf("%s/up.sql", folder ? folder : "");
        down = strata__sprintf("%s/down.sql", folder ? folder : "");
    } else if (single) {
        up = strata__sprintf("%s/%s%s%s.sql", db->dir, version, sep, clean);
    } else {
        up = strata__sprintf("%s/%s%s%s.up.sql", db->dir, version, sep, clean);
        down =
            strata__sprintf("%s/%s%s%s.down.sql", db->dir, version, sep, clean);
    }
    if (up == NULL || (!single && down == NULL) ||
        (st.folders && folder == NULL)) {
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    char *canonical = NULL;
    int vrc =
        strata__version_canonical(&canonical, canon, strlen(canon), src.order);
    if (vrc == 0 && strata__migrations_find(&src, canonical) >= 0) {
        strata__err_where(&db->err, up, 0, 0, 0);
        strata__err_set(&db->err, STRATA_EREFUSED, STRATA_REASON_EXISTS,
                        "version %s already exists", canonical);
        strata__err_hint(&db->err, "wait a second for a new timestamp, or "
                                   "use sequential numbering");
        free(canonical);
        rc = STRATA_EREFUSED;
        goto out;
    }
    rc = strata__report_begin(&rb, db, "", 0);
    if (rc != STRATA_OK) {
        free(canonical);
        goto out;
    }
    if (st.folders && mkdir(folder, 0755) != 0) {
        int e = errno;
        strata__err_where(&db->err, folder, 0, 0, 0);
        rc = e == EEXIST
                 ? strata__err_set(&db->err, STRATA_EREFUSED,
                                   STRATA_REASON_EXISTS, "%s already exists",
                                   folder)
                 : strata__err_set(&db->err, STRATA_EUSAGE, STRATA_REASON_IO,
                                   "cannot create %s: %s", folder, strerror(e));
        free(canonical);
        goto out;
    }
    char *up_text = strata__sprintf(
        single ? "-- %s\n-- strata:up\n\n\n-- strata:down\n\n"
               : "-- %s: write the SQL that applies this change.\n\n",
        clean);
    char *down_text =
        strata__sprintf("-- %s: write the SQL that reverts the up script.\n"
                        "-- Left empty, the migration is irreversible.\n\n",
                        clean);
    if (up_text == NULL || down_text == NULL) {
        free(up_text);
        free(down_text);
        free(canonical);
        rc = strata__err_nomem(&db->err);
        goto out;
    }
    rc = create_file(db, up, up_text);
    created_up = rc == STRATA_OK;
    if (rc == STRATA_OK && down != NULL)
        rc = create_file(db, down, down_text);
    free(up_text);
    free(down_text);
    if (rc == STRATA_OK) {
        const char *v = canonical ? canonical : canon;
        if (strata__report_add(&rb, STRATA_ACTION_CREATE, v, clean, up, 0, "",
                               "", "up") != STRATA_OK ||
            (down != NULL &&
             strata__report_add(&rb, STRATA_ACTION_CREATE, v, clean, down, 0,
                                "", "", "down") != STRATA_OK))
            rc = strata__err_nomem(&db->err);
    }
    free(canonical);
    if (rc == STRATA_OK) {
        strata__report_finish(&rb, out, "", NULL);
        created_up = 0;
    }
out:
    if (rc != STRATA_OK && created_up)
        unlink(up);
    strata__report_abandon(&rb);
    strata__migrations_free(&src);
    free(st.next);
    free(clean);
    free(version);
    free(folder);
    free(up);
    free(down);
    return rc;
}
