/*
 * db_pg.c - the notes service's PostgreSQL backend, on libpq.
 *
 * The URL goes to libpq whole, as strata does with it, so everything libpq
 * reads (PGPASSWORD, .pgpass, sslmode, a socket directory as host) works
 * the same for the migration and for the service. Statements are sent with
 * PQexecParams in text format; the note body is a parameter, never spliced
 * into SQL. Messages carry libpq's text, never the URL (it may hold a
 * password).
 */
#include "db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

struct notes_db {
    PGconn *conn;
};

/* libpq's messages end with a newline; an error line must not. */
static void set_err(char *err, size_t errlen, const char *what, PGconn *conn)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, (int)n, msg);
}

static void pg_close(notes_db *db)
{
    if (db == NULL)
        return;
    PQfinish(db->conn);
    free(db);
}

static int pg_open(notes_db **out, const char *url, char *err, size_t errlen)
{
    *out = NULL;
    notes_db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {url, "notes-service", NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        set_err(err, errlen, "cannot connect to the database", db->conn);
        pg_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static int pg_add_note(notes_db *db, const char *body, size_t len, int64_t *id,
                       char *err, size_t errlen)
{
    const char *params[] = {body};
    const int lengths[] = {(int)len};
    const int formats[] = {1}; /* binary: the body need not end with NUL */
    PGresult *res = PQexecParams(
        db->conn, "INSERT INTO notes (body) VALUES ($1::text) RETURNING id", 1,
        NULL, params, lengths, formats, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        set_err(err, errlen, "cannot insert the note", db->conn);
    PQclear(res);
    return ok ? 0 : -1;
}

static int pg_list_notes(notes_db *db, db_note_cb cb, void *payload, char *err,
                         size_t errlen)
{
    PGresult *res = PQexec(
        db->conn, "SELECT id, body, to_char(created_at AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM notes ORDER BY id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "cannot list the notes", db->conn);
        PQclear(res);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        if (cb(strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1),
               (size_t)PQgetlength(res, i, 1), PQgetvalue(res, i, 2),
               payload) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}

const db_backend db_pg_backend = {
    "postgres", pg_open, pg_add_note, pg_list_notes, pg_close,
};
