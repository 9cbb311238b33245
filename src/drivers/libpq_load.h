/*
 * libpq_load.h - libpq, loaded when the first PostgreSQL handle opens
 * (lib_load.h says why).
 *
 * postgres.c includes this after libpq-fe.h and defines
 * STRATA__LIBPQ_CALLS, which turns each PQxxx(...) call into a call through
 * the table; no other file should.
 */
#ifndef STRATA_LIBPQ_LOAD_H
#define STRATA_LIBPQ_LOAD_H

#include "../strata_int.h"

#include <libpq-fe.h>

/* Every libpq function the driver calls. */
#define STRATA__LIBPQ_FUNCS(X)                                                 \
    X(PQclear)                                                                 \
    X(PQconnectdbParams)                                                       \
    X(PQconninfoFree)                                                          \
    X(PQconninfoParse)                                                         \
    X(PQenterPipelineMode)                                                     \
    X(PQerrorMessage)                                                          \
    X(PQexec)                                                                  \
    X(PQexecParams)                                                            \
    X(PQexitPipelineMode)                                                      \
    X(PQfinish)                                                                \
    X(PQflush)                                                                 \
    X(PQfreemem)                                                               \
    X(PQgetResult)                                                             \
    X(PQgetisnull)                                                             \
    X(PQgetvalue)                                                              \
    X(PQnfields)                                                               \
    X(PQntuples)                                                               \
    X(PQpass)                                                                  \
    X(PQpingParams)                                                            \
    X(PQpipelineSync)                                                          \
    X(PQputCopyData)                                                           \
    X(PQputCopyEnd)                                                            \
    X(PQresultErrorField)                                                      \
    X(PQresultStatus)                                                          \
    X(PQsendFlushRequest)                                                      \
    X(PQsendQueryParams)                                                       \
    X(PQserverVersion)                                                         \
    X(PQsetNoticeReceiver)                                                     \
    X(PQsetSingleRowMode)                                                      \
    X(PQstatus)                                                                \
    X(PQtransactionStatus)

typedef struct strata__libpq {
#define STRATA__LIBPQ_MEMBER(f) __typeof__(f) *f;
    STRATA__LIBPQ_FUNCS(STRATA__LIBPQ_MEMBER)
#undef STRATA__LIBPQ_MEMBER
} strata__libpq;

/*
 * The table, after loading libpq.so.5 once per process (thread-safe,
 * lib_load.h). When the library is missing or too old (pipelining needs libpq
 * 14), returns NULL with STRATA_ECONNECT in `err`, dlopen's own words as the
 * database message and a hint naming the package. The table lives until the
 * process ends: libpq is never unloaded.
 */
const strata__libpq *strata__libpq_load(strata__err *err);

#ifdef STRATA__LIBPQ_CALLS
/* Filled once by strata__libpq_load; the load returns only after the filling,
 * under a mutex every later load takes, so each caller sees it done. */
extern strata__libpq strata__libpq_api;
#define STRATA__LIBPQ_CALL(f) (strata__libpq_api.f)
#define PQclear STRATA__LIBPQ_CALL(PQclear)
#define PQconnectdbParams STRATA__LIBPQ_CALL(PQconnectdbParams)
#define PQconninfoFree STRATA__LIBPQ_CALL(PQconninfoFree)
#define PQconninfoParse STRATA__LIBPQ_CALL(PQconninfoParse)
#define PQenterPipelineMode STRATA__LIBPQ_CALL(PQenterPipelineMode)
#define PQerrorMessage STRATA__LIBPQ_CALL(PQerrorMessage)
#define PQexec STRATA__LIBPQ_CALL(PQexec)
#define PQexecParams STRATA__LIBPQ_CALL(PQexecParams)
#define PQexitPipelineMode STRATA__LIBPQ_CALL(PQexitPipelineMode)
#define PQfinish STRATA__LIBPQ_CALL(PQfinish)
#define PQflush STRATA__LIBPQ_CALL(PQflush)
#define PQfreemem STRATA__LIBPQ_CALL(PQfreemem)
#define PQgetResult STRATA__LIBPQ_CALL(PQgetResult)
#define PQgetisnull STRATA__LIBPQ_CALL(PQgetisnull)
#define PQgetvalue STRATA__LIBPQ_CALL(PQgetvalue)
#define PQnfields STRATA__LIBPQ_CALL(PQnfields)
#define PQntuples STRATA__LIBPQ_CALL(PQntuples)
#define PQpass STRATA__LIBPQ_CALL(PQpass)
#define PQpingParams STRATA__LIBPQ_CALL(PQpingParams)
#define PQpipelineSync STRATA__LIBPQ_CALL(PQpipelineSync)
#define PQputCopyData STRATA__LIBPQ_CALL(PQputCopyData)
#define PQputCopyEnd STRATA__LIBPQ_CALL(PQputCopyEnd)
#define PQresultErrorField STRATA__LIBPQ_CALL(PQresultErrorField)
#define PQresultStatus STRATA__LIBPQ_CALL(PQresultStatus)
#define PQsendFlushRequest STRATA__LIBPQ_CALL(PQsendFlushRequest)
#define PQsendQueryParams STRATA__LIBPQ_CALL(PQsendQueryParams)
#define PQserverVersion STRATA__LIBPQ_CALL(PQserverVersion)
#define PQsetNoticeReceiver STRATA__LIBPQ_CALL(PQsetNoticeReceiver)
#define PQsetSingleRowMode STRATA__LIBPQ_CALL(PQsetSingleRowMode)
#define PQstatus STRATA__LIBPQ_CALL(PQstatus)
#define PQtransactionStatus STRATA__LIBPQ_CALL(PQtransactionStatus)
#endif

#endif /* STRATA_LIBPQ_LOAD_H */
