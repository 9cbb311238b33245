#!/usr/bin/env bash
# footprint.sh - what a start costs in libraries: neither the command nor
# libstrata links libpq, OpenSSL or libsqlite3; an SQLite run never loads
# libpq, a PostgreSQL URL never loads libsqlite3, each loads its own on
# first use (and still fails cleanly, exit 5, when no server answers or
# the library is too old).
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

for bin in "$STRATA" "$STRATA_LIBDIR/libstrata.so"; do
    deps=$(ldd "$bin" 2>&1)
    assert_not_contains "$(basename "$bin") does not link libpq" "$deps" "libpq"
    assert_not_contains "$(basename "$bin") does not link OpenSSL" "$deps" "libcrypto"
    assert_not_contains "$(basename "$bin") does not link SQLite" "$deps" "libsqlite3"
done

mkdir m
printf 'CREATE TABLE a (x);\n' >m/1_a.sql
# LD_DEBUG=files names every object the dynamic loader maps, dlopen()ed
# ones included.
capture env LD_DEBUG=files "$STRATA" -d sqlite:f.db -m m up
assert_eq "SQLite up works" "0" "$RC"
assert_not_contains "an SQLite run does not load libpq" "$ERR" "libpq"
assert_contains "an SQLite run loads libsqlite3" "$ERR" "libsqlite3.so.0"
capture env LD_DEBUG=files "$STRATA" -d sqlite:f.db -m m status
assert_not_contains "an SQLite status does not load libpq" "$ERR" "libpq"

# A private socket directory with no server in it: libpq is loaded, then
# cannot connect.
mkdir nosrv
capture env LD_DEBUG=files "$STRATA" -d "postgres:///x?host=$TMP/nosrv" -m m status
assert_eq "no server: exit 5" "5" "$RC"
assert_contains "a PostgreSQL URL loads libpq" "$ERR" "libpq.so.5"
assert_not_contains "a PostgreSQL URL does not load libsqlite3" "$ERR" "libsqlite3"
capture "$STRATA" -d "postgres:///x?host=$TMP/nosrv" -m m status
assert_error "no server" "cannot connect"

# Libraries too old: stand-ins under the real names that lack what strata
# needs (sqlite3_error_offset came in SQLite 3.38, pipelining in libpq 14).
mkdir old
printf 'int sqlite3_open_v2(void) { return 1; }\n' >old/s.c
printf 'int PQclear(void) { return 1; }\n' >old/p.c
if ${STRATA_CC:-cc} -shared -fPIC -o old/libsqlite3.so.0 old/s.c 2>/dev/null &&
    ${STRATA_CC:-cc} -shared -fPIC -o old/libpq.so.5 old/p.c 2>/dev/null; then
    capture env LD_LIBRARY_PATH="$TMP/old" "$STRATA" -d sqlite:f.db -m m status
    assert_eq "SQLite too old: exit 5" "5" "$RC"
    assert_error "SQLite too old" "needs SQLite 3.38 or later"
    assert_contains "SQLite too old: what it lacks" "$ERR" "has no sqlite3_"
    assert_contains "SQLite too old: the package" "$ERR" "libsqlite3-0"
    capture env LD_LIBRARY_PATH="$TMP/old" "$STRATA" -d "postgres:///x?host=$TMP/nosrv" -m m status
    assert_eq "libpq too old: exit 5" "5" "$RC"
    assert_error "libpq too old" "needs libpq 14 or later"
    assert_contains "libpq too old: the package" "$ERR" "libpq5"
    # A program that carries SQLite itself is called through its copy, not
    # a second one loaded beside it: here a copy that is too old.
    printf 'int sqlite3_bind_null(void) { return 1; }\n' >old/own.c
    ${STRATA_CC:-cc} -shared -fPIC -o old/libown.so old/own.c
    capture env LD_PRELOAD="$TMP/old/libown.so" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$STRATA" -d sqlite:f.db -m m status
    assert_eq "the program's own SQLite, too old: exit 5" "5" "$RC"
    assert_contains "the program's own SQLite is the one called" "$ERR" \
        "the program's own copy of libsqlite3.so.0 has no sqlite3_bind_text"
else
    echo "no C compiler for the stand-in libraries: skipped those checks"
fi
finish
