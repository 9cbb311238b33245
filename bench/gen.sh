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
# The SQL is valid for both SQLite and PostgreSQL.
set -eu
n=$1
dir=$2
rm -rf "$dir/migrations" "$dir/raw.sql"
mkdir -p "$dir/migrations"
awk -v n="$n" -v dir="$dir" 'BEGIN {
    raw = dir "/raw.sql"
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
    }
    close(raw)
}'
