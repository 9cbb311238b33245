/*
 * db_sqlite.c - the notes service's SQLite backend, on the sqlite3 library.
 *
 * The URL forms are strata's: "sqlite:rel/path.db", "sqlite:///abs/path.db"
 * ("sqlite3:" alike). The file must exist already: strata created it and
 * its schema, so opening read-write without SQLITE_OPEN_CREATE catches a
 * wrong path instead of serving from an empty new file. The two statements
 * are prepared once; a busy timeout covers another writer (a later
 * migration run from elsewhere, say).
 */
#include "db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

struct notes_db {
    sqlite3 *conn;
    sqlite3_stmt *insert;
    sqlite3_stmt *list;
};

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *conn)
{
    snprintf(err, errlen, "%s: %s", what,
             conn ? sqlite3_errmsg(conn) : "out of memory");
}

static void sqlite_close(notes_db *db)
{
    if (db == NULL)
        return;
    sqlite3_finalize(db->insert);
    sqlite3_finalize(db->list);
    sqlite3_close(db->conn);
    free(db);
}

static int sqlite_open(notes_db **out, const char *url, char *err,
                       size_t errlen)
{
    *out = NULL;
    const char *path = strchr(url, ':') + 1; /* db_backend_for saw a ':' */
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    notes_db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE, NULL) !=
        SQLITE_OK) {
        set_err(err, errlen, "cannot open the database", db->conn);
        goto fail;
    }
    sqlite3_busy_timeout(db->conn, 5000);
    if (sqlite3_prepare_v2(db->conn,
                           "INSERT INTO notes (body) VALUES (?1) "
                           "RETURNING id",
                           -1, &db->insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->conn,
                           "SELECT id, body, created_at FROM notes "
                           "ORDER BY id",
                           -1, &db->list, NULL) != SQLITE_OK) {
        set_err(err, errlen, "cannot prepare the notes statements", db->conn);
        goto fail;
    }
    *out = db;
    return 0;
fail:
    sqlite_close(db);
    return -1;
}

static int sqlite_add_note(notes_db *db, const char *body, size_t len,
                           int64_t *id, char *err, size_t errlen)
{
    int rc = sqlite3_bind_text(db->insert, 1, body, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(db->insert);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(db->insert, 0);
        rc = sqlite3_step(db->insert); /* SQLITE_DONE commits */
    }
    if (rc != SQLITE_DONE)
        set_err(err, errlen, "cannot insert the note", db->conn);
    sqlite3_reset(db->insert);
    sqlite3_clear_bindings(db->insert);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_list_notes(notes_db *db, db_note_cb cb, void *payload,
                             char *err, size_t errlen)
{
    int rc;
    while ((rc = sqlite3_step(db->list)) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(db->list, 1);
        size_t len = (size_t)sqlite3_column_bytes(db->list, 1);
        const char *at = (const char *)sqlite3_column_text(db->list, 2);
        if (cb(sqlite3_column_int64(db->list, 0), body ? body : "", len,
               at ? at : "", payload) != 0) {
            snprintf(err, errlen, "out of memory");
            sqlite3_reset(db->list);
            return -1;
        }
    }
    if (rc != SQLITE_DONE)
        set_err(err, errlen, "cannot list the notes", db->conn);
    sqlite3_reset(db->list);
    return rc == SQLITE_DONE ? 0 : -1;
}

const db_backend db_sqlite_backend = {
    "sqlite", sqlite_open, sqlite_add_note, sqlite_list_notes, sqlite_close,
};
