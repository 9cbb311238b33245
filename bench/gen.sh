#!/bin/sh
# gen.sh N DIR - writes the synthetic workload of N migrations:
#   DIR/migrations/NNNNN_create_tNNNNN.up.sql    CREATE TABLE (integer
#       primary key + text column), CREATE INDEX on the text column, and
#       10 single-row INSERTs: 12 statements
#   DIR/migrations/NNNNN_create_tNNNNN.down.sql  DROP TABLE
#   DIR/raw.sql   the same up statements, each migration wrapped in its own
#                 BEGIN; ... COMMIT; - the lower bound fed to psql / sqlite3.
#                 It has no tracking-table insert (strata records one row,
#                 plus a history row, inside each migration's transaction).
#   DIR/raw_tracked.sqlite.sql   raw.sql plus, in each migration's
#                 transaction, rows of the same size as strata's tracking
#                 and history rows, in tables of the same shape: the
#                 writes strata must make, through the raw client (SQLite).
# raw.sql is valid for both SQLite and PostgreSQL.
set -eu
n=$1
dir=$2
rm -rf "$dir/migrations" "$dir/raw.sql" "$dir/raw_tracked.sqlite.sql"
mkdir -p "$dir/migrations"
awk -v n="$n" -v dir="$dir" 'BEGIN {
    raw = dir "/raw.sql"
    trk = dir "/raw_tracked.sqlite.sql"
    printf "CREATE TABLE strata_migrations (module TEXT NOT NULL, " \
        "version TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, " \
        "state TEXT NOT NULL, applied_at TEXT NOT NULL, execution_ms " \
        "INTEGER NOT NULL, applied_by TEXT NOT NULL, PRIMARY KEY (module, " \
        "version)) WITHOUT ROWID;\nCREATE TABLE strata_migrations_history " \
        "(id INTEGER PRIMARY KEY, module TEXT NOT NULL, version TEXT NOT " \
        "NULL, name TEXT NOT NULL, action TEXT NOT NULL, checksum TEXT NOT " \
        "NULL, old_checksum TEXT NOT NULL, at TEXT NOT NULL, execution_ms " \
        "INTEGER NOT NULL, applied_by TEXT NOT NULL, detail TEXT NOT " \
        "NULL);\n" > trk
    ck = sprintf("%064d", 0)
    at = "2026-01-01T00:00:00.000Z"
    for (i = 1; i <= n; i++) {
        t = sprintf("t%05d", i)
        base = sprintf("%s/migrations/%05d_create_%s", dir, i, t)
        up = "CREATE TABLE " t " (id integer PRIMARY KEY, v text NOT NULL);\n" \
             "CREATE INDEX " t "_v ON " t " (v);\n"
        for (r = 1; r <= 10; r++)
            up = up sprintf("INSERT INTO %s (id, v) VALUES (%d, %crow %d of %s%c);\n",
                            t, r, 39, r, t, 39)
        printf "%s", up > (base ".up.sql")
        close(base ".up.sql")
        printf "DROP TABLE %s;\n", t > (base ".down.sql")
        close(base ".down.sql")
        printf "BEGIN;\n%sCOMMIT;\n", up > raw
        printf "BEGIN;\n%sINSERT INTO strata_migrations VALUES " \
            "(%cdefault%c, %c%d%c, %ccreate_%s%c, %c%s%c, %capplied%c, " \
            "%c%s%c, 1, %croot%c);\nINSERT INTO strata_migrations_history " \
            "(module, version, name, action, checksum, old_checksum, at, " \
            "execution_ms, applied_by, detail) VALUES (%cdefault%c, %c%d%c, " \
            "%ccreate_%s%c, %capply%c, %c%s%c, %c%c, %c%s%c, 1, %croot%c, " \
            "%c%c);\nCOMMIT;\n", up, 39, 39, 39, i, 39, 39, t, 39, 39, ck,
            39, 39, 39, 39, at, 39, 39, 39, 39, 39, 39, i, 39, 39, t, 39, 39,
            39, 39, ck, 39, 39, 39, 39, at, 39, 39, 39, 39, 39 > trk
    }
    close(raw)
    close(trk)
}'
