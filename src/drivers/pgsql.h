/*
 * pgsql.h - PostgreSQL script splitting and classification (pgsql.c).
 *
 * A script is split into statements by PostgreSQL 15's own scanner and
 * parser (libpg_query), never by searching for ';'. Each statement is
 * classified from its parse tree: whether it refuses to run inside a
 * transaction block, whether it is transaction control, and whether it is a
 * COPY ... FROM STDIN whose data lines follow it in the script (as psql reads
 * them). The PostgreSQL driver runs the statements one by one; the runner
 * uses the flags to refuse what cannot work (a COMMIT inside a transactional
 * script, CREATE INDEX CONCURRENTLY without -- strata:no-transaction).
 */
#ifndef STRATA_DRIVERS_PGSQL_H
#define STRATA_DRIVERS_PGSQL_H

#include "../strata_int.h"

#include <stddef.h>

/* PostgreSQL refuses the statement inside a transaction block
 * (PreventInTransactionBlock): CREATE INDEX CONCURRENTLY, VACUUM, ... */
#define STRATA__PG_NO_TX 0x1u
/* Ends or starts a transaction: BEGIN, START TRANSACTION, COMMIT, END,
 * ROLLBACK, ABORT, PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED.
 * SAVEPOINT, RELEASE and ROLLBACK TO are not flagged. */
#define STRATA__PG_TX_CONTROL 0x2u
/* COPY ... FROM STDIN: data_offset/data_len hold the data that follows. */
#define STRATA__PG_COPY_IN 0x4u
/* Lenient splits only: the parser rejected the statement, so it was split
 * by PostgreSQL's scanner alone (up to its ';' token) and is not
 * classified; the server judges it. */
#define STRATA__PG_UNPARSED 0x8u

typedef struct strata__pg_stmt {
    /* Byte offset in the script of the statement's first token (leading
     * whitespace and comments skipped). */
    size_t offset;
    /* Bytes of the statement text from its first token to the end of its
     * last token: without the terminating ';' and without trailing
     * whitespace or comments. */
    size_t len;
    /* COPY_IN only (else 0): the data lines after the statement, from the
     * line after its ';' up to but excluding the terminating "\." line;
     * data_len includes the last data line's '\n'. */
    size_t data_offset, data_len;
    unsigned flags; /* STRATA__PG_* bits */
    /* Static text naming why the statement is flagged ("CREATE INDEX
     * CONCURRENTLY", "VACUUM", "COMMIT", "COPY FROM STDIN", ...), or NULL
     * when flags is 0. */
    const char *what;
    int line; /* 1-based line, in the script text, of the first token */
} strata__pg_stmt;

typedef struct strata__pg_script {
    size_t count;
    strata__pg_stmt *items; /* count statements in script order */
} strata__pg_script;

/*
 * Splits `sql` (`len` bytes, not necessarily NUL-terminated; copied, not
 * kept) into statements with PostgreSQL's parser and classifies each. Empty
 * statements (";;") are skipped: a script of whitespace, comments and ';'
 * gives 0 statements. The last statement needs no ';'.
 *
 * On success returns 0 and fills *out, which the caller frees with
 * strata__pg_script_free(). On failure *out is empty ({0, NULL}) and err is
 * filled:
 *  - STRATA_EREFUSED, reason STRATA_REASON_BAD_SCRIPT, for a syntax error:
 *    file = path, line and column of the failing token (line counted as
 *    first_line - 1 + its line in sql; column in bytes), statement_line,
 *    db_message = PostgreSQL's message ("syntax error at or near ..."), and
 *    a hint. Also for a NUL byte, for a COPY ... FROM STDIN without its
 *    "\." line (line = the COPY's) and for text after a COPY's ';' on its
 *    line.
 *  - STRATA_ENOMEM when memory runs out.
 * With `lenient` (a server newer than the parser, PostgreSQL 16 or later),
 * a statement the parser rejects is not refused: it is bounded by the
 * scanner instead, up to its ';' token, and flagged STRATA__PG_UNPARSED.
 * What the scanner rejects too (an unterminated string or comment), or a
 * statement the scanner cannot bound, is refused as above.
 * `path` is used only for the error record. Keeps no state between calls;
 * libpg_query's memory is per thread and everything it returns is freed.
 */
int strata__pg_split(strata__pg_script *out, const char *sql, size_t len,
                     const char *path, int first_line, int lenient,
                     strata__err *err);

/* Whether a server of `server_version` (PQserverVersion()'s form, 150004)
 * is of the parser's major version or older, so that its grammar holds no
 * statement the parser does not know: split strictly then. */
int strata__pg_parser_knows(int server_version);

/* Frees the statements of `s` and leaves it empty; NULL is fine. */
void strata__pg_script_free(strata__pg_script *s);

#endif /* STRATA_DRIVERS_PGSQL_H */
