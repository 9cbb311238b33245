/*
 * sqlite_load.h - libsqlite3, loaded when the first SQLite handle opens
 * (lib_load.h says why).
 *
 * sqlite.c includes this after sqlite3.h and defines STRATA__SQLITE_CALLS,
 * which turns each sqlite3_xxx(...) call into a call through the table; no
 * other file should. A program that links SQLite itself (the system's,
 * SQLCipher, or one compiled in and exported) is called through that copy
 * (lib_load.h): one copy in the process, so its VFS registrations and
 * POSIX locks are strata's too.
 */
#ifndef STRATA_SQLITE_LOAD_H
#define STRATA_SQLITE_LOAD_H

#include "../strata_int.h"

#include <sqlite3.h>

/* Every SQLite function the driver calls. */
#define STRATA__SQLITE_FUNCS(X)                                                \
    X(sqlite3_bind_null)                                                       \
    X(sqlite3_bind_text)                                                       \
    X(sqlite3_busy_handler)                                                    \
    X(sqlite3_close_v2)                                                        \
    X(sqlite3_column_count)                                                    \
    X(sqlite3_column_text)                                                     \
    X(sqlite3_complete)                                                        \
    X(sqlite3_db_readonly)                                                     \
    X(sqlite3_db_release_memory)                                               \
    X(sqlite3_errmsg)                                                          \
    X(sqlite3_error_offset)                                                    \
    X(sqlite3_exec)                                                            \
    X(sqlite3_extended_errcode)                                                \
    X(sqlite3_extended_result_codes)                                           \
    X(sqlite3_finalize)                                                        \
    X(sqlite3_get_autocommit)                                                  \
    X(sqlite3_open_v2)                                                         \
    X(sqlite3_prepare_v2)                                                      \
    X(sqlite3_set_authorizer)                                                  \
    X(sqlite3_step)

typedef struct strata__sqlite {
#define STRATA__SQLITE_MEMBER(f) __typeof__(f) *f;
    STRATA__SQLITE_FUNCS(STRATA__SQLITE_MEMBER)
#undef STRATA__SQLITE_MEMBER
} strata__sqlite;

/*
 * The table, after loading libsqlite3.so.0 once per process (thread-safe,
 * lib_load.h). When the library is missing or too old (sqlite3_error_offset()
 * needs 3.38), returns NULL with STRATA_ECONNECT in `err`, dlopen's own words
 * as the database message and a hint naming the package. The table lives until
 * the process ends: the library is never unloaded.
 */
const strata__sqlite *strata__sqlite_load(strata__err *err);

#ifdef STRATA__SQLITE_CALLS
/* Filled once by strata__sqlite_load; the load returns only after the filling,
 * under a mutex every later load takes, so each caller sees it done. */
extern strata__sqlite strata__sqlite_api;
#define STRATA__SQLITE_CALL(f) (strata__sqlite_api.f)
#define sqlite3_bind_null STRATA__SQLITE_CALL(sqlite3_bind_null)
#define sqlite3_bind_text STRATA__SQLITE_CALL(sqlite3_bind_text)
#define sqlite3_busy_handler STRATA__SQLITE_CALL(sqlite3_busy_handler)
#define sqlite3_close_v2 STRATA__SQLITE_CALL(sqlite3_close_v2)
#define sqlite3_column_count STRATA__SQLITE_CALL(sqlite3_column_count)
#define sqlite3_column_text STRATA__SQLITE_CALL(sqlite3_column_text)
#define sqlite3_complete STRATA__SQLITE_CALL(sqlite3_complete)
#define sqlite3_db_readonly STRATA__SQLITE_CALL(sqlite3_db_readonly)
#define sqlite3_db_release_memory STRATA__SQLITE_CALL(sqlite3_db_release_memory)
#define sqlite3_errmsg STRATA__SQLITE_CALL(sqlite3_errmsg)
#define sqlite3_error_offset STRATA__SQLITE_CALL(sqlite3_error_offset)
#define sqlite3_exec STRATA__SQLITE_CALL(sqlite3_exec)
#define sqlite3_extended_errcode STRATA__SQLITE_CALL(sqlite3_extended_errcode)
#define sqlite3_extended_result_codes                                          \
    STRATA__SQLITE_CALL(sqlite3_extended_result_codes)
#define sqlite3_finalize STRATA__SQLITE_CALL(sqlite3_finalize)
#define sqlite3_get_autocommit STRATA__SQLITE_CALL(sqlite3_get_autocommit)
#define sqlite3_open_v2 STRATA__SQLITE_CALL(sqlite3_open_v2)
#define sqlite3_prepare_v2 STRATA__SQLITE_CALL(sqlite3_prepare_v2)
#define sqlite3_set_authorizer STRATA__SQLITE_CALL(sqlite3_set_authorizer)
#define sqlite3_step STRATA__SQLITE_CALL(sqlite3_step)
#endif

#endif /* STRATA_SQLITE_LOAD_H */
