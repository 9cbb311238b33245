#!/usr/bin/env bash
# footprint.sh - what a start costs in libraries: neither the command nor
# libstrata links libpq or OpenSSL; an SQLite run never loads libpq, a
# PostgreSQL URL loads it on first use (and still fails cleanly, exit 5,
# when no server answers).
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

for bin in "$STRATA" "$STRATA_LIBDIR/libstrata.so"; do
    deps=$(ldd "$bin" 2>&1)
    assert_not_contains "$(basename "$bin") does not link libpq" "$deps" "libpq"
    assert_not_contains "$(basename "$bin") does not link OpenSSL" "$deps" "libcrypto"
done

mkdir m
printf 'CREATE TABLE a (x);\n' >m/1_a.sql
# LD_DEBUG=files names every object the dynamic loader maps, dlopen()ed
# ones included.
capture env LD_DEBUG=files "$STRATA" -d sqlite:f.db -m m up
assert_eq "SQLite up works" "0" "$RC"
assert_not_contains "an SQLite run does not load libpq" "$ERR" "libpq"
capture env LD_DEBUG=files "$STRATA" -d sqlite:f.db -m m status
assert_not_contains "an SQLite status does not load libpq" "$ERR" "libpq"

# A private socket directory with no server in it: libpq is loaded, then
# cannot connect.
mkdir nosrv
capture env LD_DEBUG=files "$STRATA" -d "postgres:///x?host=$TMP/nosrv" -m m status
assert_eq "no server: exit 5" "5" "$RC"
assert_contains "a PostgreSQL URL loads libpq" "$ERR" "libpq.so.5"
capture "$STRATA" -d "postgres:///x?host=$TMP/nosrv" -m m status
assert_error "no server" "cannot connect"
finish
