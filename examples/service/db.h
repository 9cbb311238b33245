/*
 * db.h - the notes service's own access to its database, with one backend
 * per client library: db_sqlite.c (sqlite3) and db_pg.c (libpq).
 *
 * strata only migrates; once the schema is current the service talks to the
 * database through the database's own client, as any application would. A
 * backend is a small table of functions; db_backend_for() picks one by the
 * URL's scheme, with the same URL forms strata accepts. Every call is
 * blocking and is made from one thread at a time (the HTTP thread). Errors
 * are written as one line into the caller's buffer.
 */
#ifndef NOTES_DB_H
#define NOTES_DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct notes_db notes_db;

/* Called once per note by list_notes, oldest first. The strings are lent
 * for the duration of the call. Returns 0 to go on, non-zero to stop (the
 * listing then fails). */
typedef int (*db_note_cb)(int64_t id, const char *body, size_t body_len,
                          const char *created_at, void *payload);

typedef struct db_backend {
    const char *name;
    /* Connects to `url`. On failure returns -1, fills err, and *out is
     * NULL. The handle is freed with close. */
    int (*open)(notes_db **out, const char *url, char *err, size_t errlen);
    /* Inserts a note and writes its id into *id. 0 or -1 (err filled). */
    int (*add_note)(notes_db *db, const char *body, size_t len, int64_t *id,
                    char *err, size_t errlen);
    /* Calls cb for every note, in id order. 0 or -1 (err filled). */
    int (*list_notes)(notes_db *db, db_note_cb cb, void *payload, char *err,
                      size_t errlen);
    /* Closes the connection. Accepts NULL. */
    void (*close)(notes_db *db);
} db_backend;

extern const db_backend db_sqlite_backend;
extern const db_backend db_pg_backend;

/* The backend for a database URL, or NULL when the scheme is not one of
 * sqlite:, sqlite3:, postgres:, postgresql:. */
static inline const db_backend *db_backend_for(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0 || strncmp(url, "sqlite3:", 8) == 0)
        return &db_sqlite_backend;
    if (strncmp(url, "postgres://", 11) == 0 ||
        strncmp(url, "postgresql://", 13) == 0)
        return &db_pg_backend;
    return NULL;
}

#endif /* NOTES_DB_H */
