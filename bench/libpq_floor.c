/*
 * libpq_floor.c - the least memory a program that talks to PostgreSQL
 * through libpq takes: it connects, runs `select 1` and disconnects. Its
 * peak resident set is the floor under strata's on PostgreSQL, which
 * loads libpq too.
 *
 *   libpq_floor CONNINFO     exit 0 when `select 1` answered
 */
#include <libpq-fe.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONNINFO\n", argv[0]);
        return 2;
    }
    PGconn *conn = PQconnectdb(argv[1]);
    int ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
        PGresult *res = PQexec(conn, "select 1");
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
    }
    if (!ok)
        fprintf(stderr, "libpq_floor: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return ok ? 0 : 1;
}
