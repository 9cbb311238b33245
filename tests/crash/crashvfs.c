/*
 * crashvfs.c - crash_driver: runs strata_up() on an SQLite database through a
 * VFS shim that stops the process at a chosen I/O event, as a kill -9 or a
 * power failure would.
 *
 *   crash_driver [--fault N] [--mode kill|power|power-random] [--seed S]
 *                DB_PATH MIGRATIONS_DIR
 *
 * The shim wraps the default ("unix") VFS and is registered as the default
 * VFS before strata opens the database (strata passes a NULL VFS name to
 * sqlite3_open_v2). It counts I/O events over every file SQLite opens (the
 * database and its rollback journal): each xWrite, xTruncate, xSync and
 * xDelete is one event. With --fault N the process ends just BEFORE event N
 * runs, so a fault at an xSync lands between the writes before it and their
 * sync:
 *
 *   kill          _exit() at once: every write so far stays in the files
 *                 (a process crash: the kernel keeps its page cache).
 *   power         every write made since the file's last xSync is undone
 *                 (old bytes and old size restored), then _exit(): a power
 *                 failure that loses everything not yet synced.
 *   power-random  each unsynced write (or truncate) is kept or lost at
 *                 random (from --seed), independently, the kept ones in
 *                 their original order: a disk that reorders writes between
 *                 two syncs. Writes are lost whole, never torn, which is what
 *                 SQLite assumes of a powersafe-overwrite disk.
 *
 * The model is simplified on purpose: creating and deleting a file are
 * durable at once (no directory sync is modelled), and a file's unsynced
 * writes are treated as durable once SQLite closes it (SQLite syncs what it
 * needs before that: the database before the journal is deleted).
 *
 * Exit status: that of the strata command for strata_up()'s result (0 ok,
 * 1 failed, 2 usage, 3 refused, 4 locked, 5 connect), or 99 when the fault
 * fired. Without --fault (or when the run ends before event N) the last line
 * on stdout is "events E": how many events the run had.
 */
#include <sqlite3.h>
#include <strata.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASH_EXIT 99

enum mode { MODE_KILL, MODE_POWER, MODE_POWER_RANDOM };

typedef struct undo {
    int truncate;           /* 0: a write, 1: a truncate */
    sqlite3_int64 off;      /* write: offset; truncate: the new size */
    sqlite3_int64 old_size; /* file size before the event */
    unsigned char *old;     /* bytes the event overwrote or cut off */
    sqlite3_int64 old_len;
    unsigned char *data; /* write: the bytes written */
    int amt;
} undo;

typedef struct shim_file {
    sqlite3_file base;  /* base.pMethods = &shim_io */
    sqlite3_file *real; /* the unix VFS's file, allocated right after */
    undo *log;          /* unsynced events, oldest first */
    size_t n, cap;
    struct shim_file *prev, *next; /* every open file */
} shim_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_io;
static shim_file *open_files;
static long long events, fault_at;
static enum mode mode = MODE_KILL;
static unsigned long long rng = 1;

static unsigned next_random(void)
{
    /* xorshift64*: stable across libcs, unlike rand() */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 33);
}

static void log_clear(shim_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->log[i].old);
        free(f->log[i].data);
    }
    f->n = 0;
}

static void restore(shim_file *f)
{
    const sqlite3_io_methods *m = f->real->pMethods;
    /* Back to the last synced image, newest event first... */
    for (size_t i = f->n; i-- > 0;) {
        const undo *u = &f->log[i];
        if (u->old_len > 0) /* a truncate's cut-off bytes start at off too */
            m->xWrite(f->real, u->old, (int)u->old_len, u->off);
        m->xTruncate(f->real, u->old_size);
    }
    if (mode != MODE_POWER_RANDOM)
        return;
    /* ...then the survivors again, in their order. */
    for (size_t i = 0; i < f->n; i++) {
        const undo *u = &f->log[i];
        if (next_random() & 1)
            continue;
        if (u->truncate)
            m->xTruncate(f->real, u->off);
        else
            m->xWrite(f->real, u->data, u->amt, u->off);
    }
}

/* Called before each event: ends the process at the chosen one. */
static void tick(void)
{
    events++;
    if (fault_at <= 0 || events != fault_at)
        return;
    if (mode != MODE_KILL)
        for (shim_file *f = open_files; f != NULL; f = f->next)
            restore(f);
    fflush(NULL);
    _exit(CRASH_EXIT);
}

/* Remembers what an event at [off, off+len) is about to replace. */
static int log_add(shim_file *f, int truncate, sqlite3_int64 off,
                   sqlite3_int64 len, const void *data)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        undo *l = realloc(f->log, cap * sizeof *l);
        if (l == NULL)
            return SQLITE_NOMEM;
        f->log = l;
        f->cap = cap;
    }
    undo *u = &f->log[f->n];
    memset(u, 0, sizeof *u);
    u->truncate = truncate;
    u->off = off;
    sqlite3_int64 size = 0;
    int rc = f->real->pMethods->xFileSize(f->real, &size);
    if (rc != SQLITE_OK)
        return rc;
    u->old_size = size;
    sqlite3_int64 end = truncate ? size : off + len;
    if (end > size)
        end = size;
    if (end > off) {
        u->old_len = end - off;
        u->old = malloc((size_t)u->old_len);
        if (u->old == NULL)
            return SQLITE_NOMEM;
        rc = f->real->pMethods->xRead(f->real, u->old, (int)u->old_len, off);
        if (rc != SQLITE_OK) {
            free(u->old);
            return rc;
        }
    }
    if (!truncate) {
        u->amt = (int)len;
        u->data = malloc((size_t)len);
        if (u->data == NULL) {
            free(u->old);
            return SQLITE_NOMEM;
        }
        memcpy(u->data, data, (size_t)len);
    }
    f->n++;
    return SQLITE_OK;
}

static int shim_close(sqlite3_file *file)
{
    shim_file *f = (shim_file *)file;
    log_clear(f);
    free(f->log);
    if (f->prev)
        f->prev->next = f->next;
    else
        open_files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    return f->real->pMethods->xClose(f->real);
}

static int shim_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xRead(f->real, buf, amt, off);
}

static int shim_write(sqlite3_file *file, const void *buf, int amt,
                      sqlite3_int64 off)
{
    shim_file *f = (shim_file *)file;
    tick();
    int rc = log_add(f, 0, off, amt, buf);
    if (rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xWrite(f->real, buf, amt, off);
}

static int shim_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    shim_file *f = (shim_file *)file;
    tick();
    int rc = log_add(f, 1, size, 0, NULL);
    if (rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xTruncate(f->real, size);
}

static int shim_sync(sqlite3_file *file, int flags)
{
    shim_file *f = (shim_file *)file;
    tick();
    int rc = f->real->pMethods->xSync(f->real, flags);
    if (rc == SQLITE_OK)
        log_clear(f);
    return rc;
}

static int shim_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xFileSize(f->real, size);
}

static int shim_lock(sqlite3_file *file, int lock)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xLock(f->real, lock);
}

static int shim_unlock(sqlite3_file *file, int lock)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xUnlock(f->real, lock);
}

static int shim_check_reserved(sqlite3_file *file, int *out)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int shim_file_control(sqlite3_file *file, int op, void *arg)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int shim_sector_size(sqlite3_file *file)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int shim_device_characteristics(sqlite3_file *file)
{
    shim_file *f = (shim_file *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int shim_open(sqlite3_vfs *vfs, sqlite3_filename name,
                     sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    shim_file *f = (shim_file *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (f->real->pMethods == NULL) {
        f->base.pMethods = NULL;
        return rc;
    }
    f->base.pMethods = &shim_io;
    f->next = open_files;
    if (open_files)
        open_files->prev = f;
    open_files = f;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    tick();
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int n,
                              char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int shim_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int shim_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int shim_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int shim_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int shim_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL)
        return SQLITE_ERROR;
    /* Version 1 I/O methods: no shared memory (no WAL) and no mmap, which
     * strata's rollback-journal databases do not use. */
    shim_io.iVersion = 1;
    shim_io.xClose = shim_close;
    shim_io.xRead = shim_read;
    shim_io.xWrite = shim_write;
    shim_io.xTruncate = shim_truncate;
    shim_io.xSync = shim_sync;
    shim_io.xFileSize = shim_file_size;
    shim_io.xLock = shim_lock;
    shim_io.xUnlock = shim_unlock;
    shim_io.xCheckReservedLock = shim_check_reserved;
    shim_io.xFileControl = shim_file_control;
    shim_io.xSectorSize = shim_sector_size;
    shim_io.xDeviceCharacteristics = shim_device_characteristics;

    shim_vfs.iVersion = 2;
    shim_vfs.szOsFile = (int)sizeof(shim_file) + real_vfs->szOsFile;
    shim_vfs.mxPathname = real_vfs->mxPathname;
    shim_vfs.zName = "crash";
    shim_vfs.xOpen = shim_open;
    shim_vfs.xDelete = shim_delete;
    shim_vfs.xAccess = shim_access;
    shim_vfs.xFullPathname = shim_full_pathname;
    shim_vfs.xRandomness = shim_randomness;
    shim_vfs.xSleep = shim_sleep;
    shim_vfs.xCurrentTime = shim_current_time;
    shim_vfs.xGetLastError = shim_last_error;
    shim_vfs.xCurrentTimeInt64 = shim_current_time_int64;
    return sqlite3_vfs_register(&shim_vfs, 1); /* the default from now on */
}

static int exit_code(int rc)
{
    switch (rc) {
    case STRATA_OK: return 0;
    case STRATA_EUSAGE: return 2;
    case STRATA_EREFUSED: return 3;
    case STRATA_ELOCKED: return 4;
    case STRATA_ECONNECT: return 5;
    default: return 1;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: crash_driver [--fault N] "
                    "[--mode kill|power|power-random] [--seed S] "
                    "DB_PATH MIGRATIONS_DIR\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            usage();
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--fault") == 0)
            fault_at = strtoll(v, NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            rng = strtoull(v, NULL, 10) * 2654435761ULL + 1;
        else if (strcmp(argv[i], "--mode") == 0 && strcmp(v, "kill") == 0)
            mode = MODE_KILL;
        else if (strcmp(argv[i], "--mode") == 0 && strcmp(v, "power") == 0)
            mode = MODE_POWER;
        else if (strcmp(argv[i], "--mode") == 0 &&
                 strcmp(v, "power-random") == 0)
            mode = MODE_POWER_RANDOM;
        else
            usage();
    }
    if (argc - i != 2)
        usage();
    if (shim_register() != SQLITE_OK) {
        fprintf(stderr, "crash_driver: cannot register the VFS shim\n");
        return 2;
    }
    char *url = malloc(strlen(argv[i]) + 16);
    if (url == NULL)
        return 1;
    sprintf(url, "%s%s", argv[i][0] == '/' ? "sqlite://" : "sqlite:", argv[i]);

    strata_source *src = NULL;
    strata *db = NULL;
    strata_report *report = NULL;
    strata_options opts = STRATA_OPTIONS_INIT;
    opts.applied_by = "crash";
    int rc = strata_source_from_dir(&src, argv[i + 1]);
    if (rc == STRATA_OK)
        rc = strata_open(&db, url, src, &opts);
    if (rc == STRATA_OK)
        rc = strata_up(&report, db, NULL);
    if (rc != STRATA_OK) {
        const strata_error *e = strata_last_error(db);
        fprintf(stderr, "crash_driver: %s: %s\n  hint: %s\n",
                strata_code_name(rc), e->message, e->hint);
    }
    strata_report_free(report);
    strata_close(db);
    strata_source_free(src);
    free(url);
    printf("events %lld\n", events);
    return exit_code(rc);
}
