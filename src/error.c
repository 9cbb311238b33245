/*
 * error.c - the handle's error record.
 *
 * Every buffer is fixed-size and lives in the handle, so a failure can always
 * be reported, out-of-memory included. The public strata_error points into
 * these buffers; strata__err_clear() at the start of each API call resets it.
 */
#include "strata_int.h"

#include <stdio.h>
#include <string.h>

static void copy(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memmove(dst, src, n);
    dst[n] = '\0';
}

void strata__err_clear(strata__err *e)
{
    e->message[0] = e->hint[0] = e->file[0] = e->version[0] = '\0';
    e->db_message[0] = e->db_detail[0] = e->sqlstate[0] = '\0';
    e->pub.code = STRATA_OK;
    e->pub.reason = STRATA_REASON_NONE;
    e->pub.message = e->message;
    e->pub.hint = e->hint;
    e->pub.file = e->file;
    e->pub.version = e->version;
    e->pub.line = 0;
    e->pub.statement_line = 0;
    e->pub.column = 0;
    e->pub.db_message = e->db_message;
    e->pub.db_detail = e->db_detail;
    e->pub.sqlstate = e->sqlstate;
    e->pub.db_code = 0;
}

int strata__err_vset(strata__err *e, int code, strata_reason reason,
                     const char *fmt, va_list ap)
{
    e->pub.code = code;
    e->pub.reason = reason;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return code;
}

int strata__err_set(strata__err *e, int code, strata_reason reason,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strata__err_vset(e, code, reason, fmt, ap);
    va_end(ap);
    return code;
}

void strata__err_hint(strata__err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof e->hint, fmt, ap);
    va_end(ap);
}

void strata__err_where(strata__err *e, const char *file, int line,
                       int statement_line, int column)
{
    copy(e->file, sizeof e->file, file);
    e->pub.line = line;
    e->pub.statement_line = statement_line;
    e->pub.column = column;
}

void strata__err_version(strata__err *e, const char *version)
{
    copy(e->version, sizeof e->version, version);
}

void strata__err_db(strata__err *e, const char *message, const char *detail,
                    const char *sqlstate, int code)
{
    copy(e->db_message, sizeof e->db_message, message);
    copy(e->db_detail, sizeof e->db_detail, detail);
    copy(e->sqlstate, sizeof e->sqlstate, sqlstate);
    e->pub.db_code = code;
}

int strata__err_nomem(strata__err *e)
{
    e->pub.code = STRATA_ENOMEM;
    e->pub.reason = STRATA_REASON_NONE;
    copy(e->message, sizeof e->message, "out of memory");
    return STRATA_ENOMEM;
}
