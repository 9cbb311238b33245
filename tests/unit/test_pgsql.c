/*
 * test_pgsql.c - the PostgreSQL splitter and classifier (drivers/pgsql.c):
 * statement boundaries with PostgreSQL's own parser, COPY ... FROM STDIN
 * data, the no-transaction and transaction-control flags, syntax errors,
 * and the real PostgreSQL corpora when STRATA_CORPORA has them.
 */
#include "drivers/pgsql.h"
#include "strata_int.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static strata__pg_script S;
static strata__err err;

static void setup(void)
{
    strata__err_clear(&err);
    S.count = 0;
    S.items = NULL;
}

static void teardown(void)
{
    strata__pg_script_free(&S);
}

TestSuite(pgsql, .init = setup, .fini = teardown);

static const char *cur; /* the script of the last split */

static void split_ok(const char *sql)
{
    strata__pg_script_free(&S);
    cur = sql;
    int rc = strata__pg_split(&S, sql, strlen(sql), "t.sql", 1, 0, &err);
    cr_assert_eq(rc, 0, "rc=%d: %s [%s]", rc, err.pub.message,
                 err.pub.db_message);
}

/* A split for a server newer than the parser (pgsql.h: lenient). */
static int split_lenient(const char *sql)
{
    strata__pg_script_free(&S);
    cur = sql;
    return strata__pg_split(&S, sql, strlen(sql), "t.sql", 1, 1, &err);
}

static int split_fail(const char *sql, int first_line)
{
    strata__pg_script_free(&S);
    cur = sql;
    int rc =
        strata__pg_split(&S, sql, strlen(sql), "t.sql", first_line, 0, &err);
    cr_assert_eq(S.count, 0);
    cr_assert_null(S.items);
    return rc;
}

/* Statement i is exactly `text`, starting on `line`. */
static void stmt_is(size_t i, const char *text, int line)
{
    cr_assert_lt(i, S.count, "statement %zu of %zu", i, S.count);
    const strata__pg_stmt *st = &S.items[i];
    cr_assert_eq(st->len, strlen(text),
                 "statement %zu: len %zu, want %zu "
                 "(\"%.*s\")",
                 i, st->len, strlen(text), (int)st->len, cur + st->offset);
    cr_assert(memcmp(cur + st->offset, text, st->len) == 0,
              "statement %zu is \"%.*s\", want \"%s\"", i, (int)st->len,
              cur + st->offset, text);
    cr_assert_eq(st->line, line, "statement %zu on line %d, want %d", i,
                 st->line, line);
}

static void flags_are(size_t i, unsigned flags, const char *what)
{
    cr_assert_lt(i, S.count);
    const strata__pg_stmt *st = &S.items[i];
    cr_assert_eq(st->flags, flags, "statement %zu (%.*s): flags %#x want %#x",
                 i, (int)st->len, cur + st->offset, st->flags, flags);
    if (what == NULL)
        cr_assert_null(st->what, "what = %s", st->what);
    else
        cr_assert_str_eq(st->what, what);
}

static void data_is(size_t i, const char *data)
{
    const strata__pg_stmt *st = &S.items[i];
    cr_assert_eq(st->data_len, strlen(data), "data len %zu want %zu",
                 st->data_len, strlen(data));
    cr_assert(memcmp(cur + st->data_offset, data, st->data_len) == 0,
              "data \"%.*s\"", (int)st->data_len, cur + st->data_offset);
}

/* ---- boundaries --------------------------------------------------------- */

Test(pgsql, two_statements_offsets_and_lines)
{
    split_ok("CREATE TABLE a (x int);\n\n  INSERT INTO a VALUES (1);\n");
    cr_assert_eq(S.count, 2);
    stmt_is(0, "CREATE TABLE a (x int)", 1);
    stmt_is(1, "INSERT INTO a VALUES (1)", 3);
    cr_assert_eq(S.items[0].offset, 0);
    cr_assert_eq(S.items[1].offset, 27);
    flags_are(0, 0, NULL);
    flags_are(1, 0, NULL);
    cr_assert_eq(S.items[0].data_len, 0);
}

Test(pgsql, dollar_quotes)
{
    split_ok("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE "
             "sql;\n"
             "CREATE FUNCTION g() RETURNS int AS $body$\nBEGIN\n  RETURN "
             "$$;$$::int; -- no\nEND;\n$body$ LANGUAGE plpgsql;\n"
             "SELECT 2;");
    cr_assert_eq(S.count, 3);
    stmt_is(0,
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            1);
    stmt_is(1,
            "CREATE FUNCTION g() RETURNS int AS $body$\nBEGIN\n  RETURN "
            "$$;$$::int; -- no\nEND;\n$body$ LANGUAGE plpgsql",
            2);
    stmt_is(2, "SELECT 2", 7);
}

Test(pgsql, do_block)
{
    split_ok("DO $$\nBEGIN\n  IF 1 = 1 THEN\n    RAISE NOTICE 'a;b';\n  END "
             "IF;\nEND\n$$;\nSELECT 1;\n");
    cr_assert_eq(S.count, 2);
    stmt_is(0,
            "DO $$\nBEGIN\n  IF 1 = 1 THEN\n    RAISE NOTICE 'a;b';\n  END "
            "IF;\nEND\n$$",
            1);
    stmt_is(1, "SELECT 1", 8);
    flags_are(0, 0, NULL);
}

Test(pgsql, strings_with_semicolons)
{
    split_ok("SELECT E'it\\'s; fine';SELECT 'a;''b';\nSELECT U&'d;' , "
             "\"x;y\" FROM t;");
    cr_assert_eq(S.count, 3);
    stmt_is(0, "SELECT E'it\\'s; fine'", 1);
    stmt_is(1, "SELECT 'a;''b'", 1);
    stmt_is(2, "SELECT U&'d;' , \"x;y\" FROM t", 2);
}

Test(pgsql, comments_between_and_inside)
{
    split_ok("-- lead; comment\n/* outer /* inner; */ still; */ SELECT 1;\n"
             "SELECT /* in; side */ 2; -- tail; here\n"
             "SELECT 3 -- after 3;\n;");
    cr_assert_eq(S.count, 3);
    stmt_is(0, "SELECT 1", 2);
    cr_assert_eq(S.items[0].offset, 49);
    stmt_is(1, "SELECT /* in; side */ 2", 3);
    stmt_is(2, "SELECT 3", 4);
}

/* PostgreSQL ends a line comment at a CR too: the statement after an
 * old-Mac line end starts right there, not at the next LF (found by the
 * fuzzer, where the next LF lay inside a dollar-quoted body). */
Test(pgsql, line_comment_ends_at_cr)
{
    split_ok("-- lead\rCREATE FUNCTION f() RETURNS int AS $$\n"
             "SELECT 1\n$$ LANGUAGE sql;\n");
    cr_assert_eq(S.count, 1);
    cr_assert_eq(S.items[0].offset, 8);
    cr_assert_eq(S.items[0].line, 1);
}

Test(pgsql, last_statement_without_semicolon)
{
    split_ok("SELECT 1;\nSELECT 2\n");
    cr_assert_eq(S.count, 2);
    stmt_is(1, "SELECT 2", 2);
}

Test(pgsql, trailing_comment_without_newline)
{
    split_ok("SELECT 1;\nSELECT 2\n\n-- later; maybe");
    cr_assert_eq(S.count, 2);
    stmt_is(1, "SELECT 2", 2);
    split_ok("SELECT '--' /* a /* b */ c */");
    cr_assert_eq(S.count, 1);
    stmt_is(0, "SELECT '--'", 1);
}

Test(pgsql, last_line_dashes_inside_string_are_kept)
{
    split_ok("SELECT 'a--b'");
    cr_assert_eq(S.count, 1);
    stmt_is(0, "SELECT 'a--b'", 1);
    split_ok("SELECT $$ x */$$");
    stmt_is(0, "SELECT $$ x */$$", 1);
}

Test(pgsql, empty_statements_skipped)
{
    split_ok(";;SELECT 1;; ;\n;SELECT 2;;");
    cr_assert_eq(S.count, 2);
    stmt_is(0, "SELECT 1", 1);
    stmt_is(1, "SELECT 2", 2);
}

Test(pgsql, nothing_to_run)
{
    const char *cases[] = {"", "   \n\t\r\n", "-- only a comment; really",
                           "/* a /* b; */ */\n-- c\n", ";\n;;  -- x\n"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        split_ok(cases[i]);
        cr_assert_eq(S.count, 0, "case %zu: %zu statements", i, S.count);
        strata__pg_script_free(&S);
    }
}

Test(pgsql, not_nul_terminated)
{
    const char text[] = "SELECT 1; SELECT 2; garbage here";
    cur = text;
    int rc = strata__pg_split(&S, text, 19, "t.sql", 1, 0, &err);
    cr_assert_eq(rc, 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 2);
    stmt_is(1, "SELECT 2", 1);
}

Test(pgsql, create_rule_with_inner_semicolons)
{
    split_ok("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES "
             "(1); INSERT INTO b VALUES (2));\nSELECT 3;");
    cr_assert_eq(S.count, 2);
    stmt_is(1, "SELECT 3", 2);
}

Test(pgsql, crlf_lines)
{
    split_ok("SELECT 1;\r\n\r\nSELECT 2;\r\n");
    cr_assert_eq(S.count, 2);
    stmt_is(1, "SELECT 2", 3);
}

/* ---- COPY FROM STDIN ---------------------------------------------------- */

Test(pgsql, copy_from_stdin)
{
    split_ok("CREATE TABLE t (a int, b text);\n"
             "COPY t (a, b) FROM STDIN;\n"
             "1\tx;y\n"
             "2\tit's \"q\"; $$ /* --\n"
             "\\.\n"
             "SELECT 1;\n");
    cr_assert_eq(S.count, 3);
    stmt_is(1, "COPY t (a, b) FROM STDIN", 2);
    flags_are(1, STRATA__PG_COPY_IN, "COPY FROM STDIN");
    data_is(1, "1\tx;y\n2\tit's \"q\"; $$ /* --\n");
    stmt_is(2, "SELECT 1", 6);
    flags_are(2, 0, NULL);
}

Test(pgsql, copy_variants)
{
    split_ok(
        "copy t from stdin;\n1\n\\.\n"
        "COPY t FROM stdin WITH (FORMAT csv, HEADER true);\na,b\n\"1;\",2\n"
        "\\.\n"
        "COPY t (a,b) FROM STDIN WITH (FORMAT csv); -- data below\n"
        "3,4\r\n\\.\r\n"
        "COPY t FROM STDIN;\n\\.");
    cr_assert_eq(S.count, 4);
    stmt_is(0, "copy t from stdin", 1);
    data_is(0, "1\n");
    stmt_is(1, "COPY t FROM stdin WITH (FORMAT csv, HEADER true)", 4);
    data_is(1, "a,b\n\"1;\",2\n");
    stmt_is(2, "COPY t (a,b) FROM STDIN WITH (FORMAT csv)", 8);
    data_is(2, "3,4\r\n");
    stmt_is(3, "COPY t FROM STDIN", 11);
    data_is(3, "");
    for (size_t i = 0; i < 4; i++)
        flags_are(i, STRATA__PG_COPY_IN, "COPY FROM STDIN");
}

Test(pgsql, copy_data_that_looks_like_sql)
{
    split_ok("SELECT 0;\nCOPY t FROM STDIN;\nselect 1\nselect 2\n\\.\n"
             "SELECT 3;");
    cr_assert_eq(S.count, 3);
    data_is(1, "select 1\nselect 2\n");
    stmt_is(2, "SELECT 3", 6);
}

Test(pgsql, copy_data_with_open_quote_first)
{
    split_ok("COPY t FROM STDIN;\n'abc\n\\.\nSELECT 'x';\n");
    cr_assert_eq(S.count, 2);
    data_is(0, "'abc\n");
    stmt_is(1, "SELECT 'x'", 4);
}

/* The whole text parses (the "\." hides in a comment), so the walk meets the
 * COPY on the success path and must still cut the data there. */
Test(pgsql, copy_found_when_the_split_succeeds)
{
    split_ok("COPY t FROM STDIN;\n/* x\n\\.\n-- */ SELECT 1;\n");
    cr_assert_eq(S.count, 1);
    data_is(0, "/* x\n");
}

/* A "\." line inside SQL text is not a COPY terminator. */
Test(pgsql, terminator_line_inside_sql)
{
    split_ok("SELECT $$\n\\.\n$$;\nSELECT 2;");
    cr_assert_eq(S.count, 2);
    stmt_is(0, "SELECT $$\n\\.\n$$", 1);
    stmt_is(1, "SELECT 2", 4);
    split_ok("SELECT '\n\\.\n';\nCOPY t FROM STDIN;\n1\n\\.\nSELECT 3;");
    cr_assert_eq(S.count, 3);
    data_is(1, "1\n");
    stmt_is(2, "SELECT 3", 7);
    int rc = split_fail("SELECT 1;\n\\.\nSELECT 2;\n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 2);
}

Test(pgsql, copy_not_from_stdin_is_plain)
{
    split_ok("COPY t TO STDOUT;\nCOPY t FROM '/tmp/stdin';\n"
             "COPY t FROM PROGRAM 'cat';\nCOPY (SELECT 1) TO STDOUT;");
    cr_assert_eq(S.count, 4);
    for (size_t i = 0; i < 4; i++)
        flags_are(i, 0, NULL);
}

Test(pgsql, copy_without_terminator)
{
    int rc = split_fail("SELECT 1;\n\nCOPY t FROM STDIN;\n1\n2\n", 10);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_eq(err.pub.line, 12);
    cr_assert_str_eq(err.pub.file, "t.sql");
    cr_assert(strstr(err.pub.message, "\\.") != NULL, "%s", err.pub.message);
    cr_assert_neq(err.pub.hint[0], '\0');

    rc = split_fail("COPY t FROM STDIN;", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 1);
    rc = split_fail("COPY t FROM STDIN", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    rc = split_fail("COPY t FROM STDIN;\n1\n\\. \n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED, "\"\\. \" does not end the data");
}

Test(pgsql, copy_with_sql_after_semicolon_on_its_line)
{
    int rc = split_fail("COPY t FROM STDIN; SELECT 1;\n1\n\\.\n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_eq(err.pub.line, 1);
}

Test(pgsql, syntax_error_before_copy_is_reported)
{
    int rc = split_fail("SELEC 1;\nCOPY t FROM STDIN;\n1\n\\.\n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 1);
    cr_assert_str_eq(err.pub.db_message, "syntax error at or near \"SELEC\"");
    rc = split_fail("COPY t FROM STDIN;\n1\n\\.\nSELECT FROM FROM;\n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 4);
}

/* ---- classification ----------------------------------------------------- */

typedef struct want {
    const char *sql;
    unsigned flags;
    const char *what;
} want;

static void classify_all(const want *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        strata__pg_script_free(&S);
        split_ok(w[i].sql);
        cr_assert_eq(S.count, 1, "%s", w[i].sql);
        flags_are(0, w[i].flags, w[i].what);
    }
}

#define NO STRATA__PG_NO_TX
#define TX STRATA__PG_TX_CONTROL

Test(pgsql, no_transaction_statements)
{
    static const want w[] = {
        {"CREATE INDEX CONCURRENTLY i ON t (a)", NO,
         "CREATE INDEX CONCURRENTLY"},
        {"create unique index concurrently if not exists i on t (a)", NO,
         "CREATE INDEX CONCURRENTLY"},
        {"DROP INDEX CONCURRENTLY IF EXISTS i", NO, "DROP INDEX CONCURRENTLY"},
        {"REINDEX INDEX CONCURRENTLY i", NO, "REINDEX CONCURRENTLY"},
        {"REINDEX (CONCURRENTLY) TABLE t", NO, "REINDEX CONCURRENTLY"},
        {"REINDEX (VERBOSE, CONCURRENTLY on) TABLE t", NO,
         "REINDEX CONCURRENTLY"},
        {"REINDEX SCHEMA s", NO, "REINDEX SCHEMA"},
        {"REINDEX SYSTEM d", NO, "REINDEX SYSTEM"},
        {"REINDEX DATABASE d", NO, "REINDEX DATABASE"},
        {"VACUUM", NO, "VACUUM"},
        {"vacuum (analyze, verbose) t", NO, "VACUUM"},
        {"VACUUM FULL t", NO, "VACUUM"},
        {"CLUSTER", NO, "CLUSTER"},
        {"CREATE DATABASE d", NO, "CREATE DATABASE"},
        {"DROP DATABASE IF EXISTS d", NO, "DROP DATABASE"},
        {"ALTER DATABASE d SET TABLESPACE x", NO,
         "ALTER DATABASE SET TABLESPACE"},
        {"ALTER SYSTEM SET work_mem = '8MB'", NO, "ALTER SYSTEM"},
        {"CREATE TABLESPACE x LOCATION '/tmp/x'", NO, "CREATE TABLESPACE"},
        {"DROP TABLESPACE x", NO, "DROP TABLESPACE"},
        {"DISCARD ALL", NO, "DISCARD ALL"},
        {"ALTER TABLE p DETACH PARTITION c CONCURRENTLY", NO,
         "ALTER TABLE DETACH PARTITION CONCURRENTLY"},
        {"CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p", NO,
         "CREATE SUBSCRIPTION"},
        {"DROP SUBSCRIPTION s", NO, "DROP SUBSCRIPTION"},
        {"ALTER SUBSCRIPTION s REFRESH PUBLICATION", NO,
         "ALTER SUBSCRIPTION REFRESH PUBLICATION"},
        {"ALTER SUBSCRIPTION s SET PUBLICATION p", NO,
         "ALTER SUBSCRIPTION PUBLICATION with refresh"},
        {"ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (refresh = true)", NO,
         "ALTER SUBSCRIPTION PUBLICATION with refresh"},
    };
    classify_all(w, sizeof w / sizeof *w);
}

Test(pgsql, transaction_safe_statements_are_not_flagged)
{
    static const want w[] = {
        {"CREATE INDEX i ON t (a)", 0, NULL},
        {"CREATE TABLE concurrently_db_system (database int)", 0, NULL},
        {"DROP INDEX i", 0, NULL},
        {"ANALYZE t", 0, NULL},
        {"ANALYZE", 0, NULL},
        {"CLUSTER t USING i", 0, NULL},
        {"REINDEX INDEX i", 0, NULL},
        {"REINDEX (CONCURRENTLY false) INDEX i", 0, NULL},
        {"REINDEX (CONCURRENTLY 0) INDEX i", 0, NULL},
        {"ALTER DATABASE d SET work_mem = '8MB'", 0, NULL},
        {"ALTER TABLESPACE x OWNER TO u", 0, NULL},
        {"DISCARD PLANS", 0, NULL},
        {"ALTER TABLE p DETACH PARTITION c", 0, NULL},
        {"ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)", 0,
         NULL},
        {"ALTER SUBSCRIPTION s DISABLE", 0, NULL},
        {"REFRESH MATERIALIZED VIEW CONCURRENTLY v", 0, NULL},
        {"ALTER TYPE e ADD VALUE 'x'", 0, NULL},
        {"SELECT 'VACUUM; CREATE DATABASE x'", 0, NULL},
        {"PREPARE p AS SELECT 1", 0, NULL},
        {"SAVEPOINT a", 0, NULL},
        {"RELEASE SAVEPOINT a", 0, NULL},
        {"ROLLBACK TO SAVEPOINT a", 0, NULL},
    };
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
        strata__pg_script_free(&S);
        split_ok(w[i].sql);
        cr_assert_eq(S.count, 1, "%s", w[i].sql);
        flags_are(0, 0, NULL);
    }
}

Test(pgsql, transaction_control)
{
    static const want w[] = {
        {"BEGIN", TX, "BEGIN"},
        {"begin transaction isolation level serializable", TX, "BEGIN"},
        {"START TRANSACTION", TX, "START TRANSACTION"},
        {"COMMIT", TX, "COMMIT"},
        {"END", TX, "COMMIT"},
        {"COMMIT AND CHAIN", TX, "COMMIT"},
        {"ROLLBACK", TX, "ROLLBACK"},
        {"ABORT", TX, "ROLLBACK"},
        {"PREPARE TRANSACTION 'x'", TX, "PREPARE TRANSACTION"},
        {"COMMIT PREPARED 'x'", TX | NO, "COMMIT PREPARED"},
        {"ROLLBACK PREPARED 'x'", TX | NO, "ROLLBACK PREPARED"},
    };
    classify_all(w, sizeof w / sizeof *w);
}

Test(pgsql, flags_in_a_mixed_script)
{
    split_ok("BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n"
             "-- next one cannot run in a transaction\n"
             "CREATE INDEX CONCURRENTLY i ON t (a);\nVACUUM t;\n");
    cr_assert_eq(S.count, 5);
    flags_are(0, TX, "BEGIN");
    flags_are(1, 0, NULL);
    flags_are(2, TX, "COMMIT");
    stmt_is(3, "CREATE INDEX CONCURRENTLY i ON t (a)", 5);
    flags_are(3, NO, "CREATE INDEX CONCURRENTLY");
    flags_are(4, NO, "VACUUM");
}

/* ---- errors ------------------------------------------------------------- */

Test(pgsql, syntax_error_position)
{
    int rc = split_fail("SELECT 1;\n\n-- x\nCREATE TABLE t (\n  a int,\n  b "
                        "intt text\n);\n",
                        20);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_str_eq(err.pub.file, "t.sql");
    cr_assert_eq(err.pub.line, 25);
    cr_assert_eq(err.pub.statement_line, 23);
    cr_assert_eq(err.pub.column, 10);
    cr_assert_str_eq(err.pub.db_message, "syntax error at or near \"text\"");
    cr_assert_neq(err.pub.hint[0], '\0');
}

Test(pgsql, syntax_error_after_multibyte_text)
{
    /* PostgreSQL counts characters; the column here is in bytes. */
    int rc = split_fail("SELECT 'é', 'ü' selec 2;", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 1);
    cr_assert_eq(err.pub.column, 25); /* PostgreSQL says character 23 */
    cr_assert_str_eq(err.pub.db_message, "syntax error at or near \"2\"");
}

Test(pgsql, unterminated_things)
{
    int rc = split_fail("SELECT 1;\nSELECT 'abc;\n", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 2);
    cr_assert_eq(err.pub.column, 8);
    cr_assert(strstr(err.pub.db_message, "unterminated quoted string"));
    rc = split_fail("SELECT 1;\n/* a /* b */\nSELECT 2;", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 2);
    cr_assert(strstr(err.pub.db_message, "unterminated /* comment"));
    rc = split_fail("SELECT $$ abc", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    rc = split_fail("SELECT (1", 1);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_str_eq(err.pub.db_message, "syntax error at end of input");
}

Test(pgsql, nul_byte_refused)
{
    const char text[] = "SELECT 1;\nSELECT\0 2;";
    cur = text;
    int rc = strata__pg_split(&S, text, sizeof text - 1, "t.sql", 1, 0, &err);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_SCRIPT);
    cr_assert_eq(err.pub.line, 2);
    cr_assert_eq(S.count, 0);
}

Test(pgsql, free_accepts_null_and_empty)
{
    strata__pg_script_free(NULL);
    strata__pg_script empty = {0, NULL};
    strata__pg_script_free(&empty);
}

/* Many statements: linear, not quadratic (the suite's timeout would catch a
 * quadratic walk long before this finishes). */
Test(pgsql, many_statements, .timeout = 60)
{
    const size_t n = 50000;
    const char *one = "INSERT INTO t VALUES (1, 'a;b'); -- c;\n";
    size_t l = strlen(one);
    char *big = malloc(n * l + 1);
    cr_assert_not_null(big);
    for (size_t i = 0; i < n; i++)
        memcpy(big + i * l, one, l);
    big[n * l] = '\0';
    split_ok(big);
    cr_assert_eq(S.count, n);
    stmt_is(n - 1, "INSERT INTO t VALUES (1, 'a;b')", (int)n);
    free(big);
}

/* ---- the real corpora --------------------------------------------------- */

static char *corpus(const char *rel)
{
    const char *root = getenv("STRATA_CORPORA");
    if (root == NULL || root[0] == '\0')
        root = "/work/shared/corpora";
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        cr_skip("no corpora at %s", root);
    char *p = strata__sprintf("%s/%s", root, rel);
    cr_assert_not_null(p);
    if (stat(p, &st) != 0)
        cr_skip("corpus %s absent", p);
    return p;
}

/* Splits the file at path; returns the strata__pg_split code. */
static int split_file(const char *path, char **text)
{
    size_t len;
    int rc = strata__read_file(text, &len, path, &err);
    cr_assert_eq(rc, 0, "%s: %s", path, err.pub.message);
    cur = *text;
    strata__pg_script_free(&S);
    strata__err_clear(&err);
    return strata__pg_split(&S, *text, len, path, 1, 0, &err);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int any_no_tx(void)
{
    for (size_t i = 0; i < S.count; i++)
        if (S.items[i].flags & STRATA__PG_NO_TX)
            return 1;
    return 0;
}

/* Every .sql under dir (one level of subfolders) splits, except the files
 * in `bad`, which must fail. Returns the number of files. */
static int split_tree(const char *dir, const char *const *bad, size_t nbad)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = strata__sprintf("%s/%s", dir, e->d_name);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            files += split_tree(p, bad, nbad);
        } else if (ends_with(p, ".sql")) {
            char *text = NULL;
            int rc = split_file(p, &text);
            int expect_bad = 0;
            for (size_t i = 0; i < nbad; i++)
                expect_bad |= strstr(p, bad[i]) != NULL;
            if (expect_bad)
                cr_expect_eq(rc, STRATA_EREFUSED, "%s should not parse", p);
            else
                cr_expect_eq(rc, 0, "%s: %s [%s] line %d", p, err.pub.message,
                             err.pub.db_message, err.pub.line);
            free(text);
            files++;
        }
        free(p);
    }
    closedir(d);
    return files;
}

Test(pgsql_corpora, crates_io_all_split)
{
    char *dir = corpus("crates-io/migrations");
    /* A genuine bug of the corpus: a missing ';' (see its README). */
    static const char *const bad[] = {"20170318181441_downloads_need_no_id/"
                                      "down.sql"};
    int n = split_tree(dir, bad, 1);
    cr_assert_gt(n, 500);
    free(dir);
}

/* --- a server newer than the parser ------------------------------------ */

#define UNKNOWN_WHAT "a statement PostgreSQL 15's parser does not know"

/* PostgreSQL 16's SQL/JSON constructors: PostgreSQL 15's parser rejects
 * them (strict: refused at their line); for a newer server the statement
 * is bounded by the scanner, a ';' inside its dollar quote included, and
 * what follows is parsed again. */
Test(pgsql, newer_syntax_is_passed_on_for_a_newer_server)
{
    const char *sql = "CREATE TABLE a (x int);\n"
                      "SELECT json_object('k' VALUE $$x;y$$);\n"
                      "CREATE INDEX CONCURRENTLY i ON a (x);\n";
    cr_assert_eq(split_fail(sql, 1), STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 2);

    cr_assert_eq(split_lenient(sql), 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 3);
    stmt_is(0, "CREATE TABLE a (x int)", 1);
    flags_are(0, 0, NULL);
    stmt_is(1, "SELECT json_object('k' VALUE $$x;y$$)", 2);
    flags_are(1, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
    stmt_is(2, "CREATE INDEX CONCURRENTLY i ON a (x)", 3);
    flags_are(2, STRATA__PG_NO_TX, "CREATE INDEX CONCURRENTLY");
}

/* Passed-on statements one after another, the last without ';' and with a
 * comment after it. */
Test(pgsql, newer_syntax_last_statement_without_semicolon)
{
    cr_assert_eq(split_lenient("SELECT json_array(1, 2 RETURNING text);\n"
                               "SELECT json_object('a' VALUE 1) -- end\n"),
                 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 2);
    stmt_is(0, "SELECT json_array(1, 2 RETURNING text)", 1);
    flags_are(0, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
    stmt_is(1, "SELECT json_object('a' VALUE 1)", 2);
    flags_are(1, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
}

/* PostgreSQL 15's scanner takes a vertical tab for a token; a newer
 * server, for a blank. So a passed-on statement does not end at one, nor
 * take the comment before one along (it ended with that comment's ';'). */
Test(pgsql, newer_syntax_ends_before_vertical_tabs_and_comments)
{
    cr_assert_eq(split_lenient("SELECT json_object('a' VALUE 1) \v-- c;\n"
                               "\v-- d\n"),
                 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 1);
    stmt_is(0, "SELECT json_object('a' VALUE 1)", 1);
    cr_assert_eq(split_lenient("SELECT json_object('a' VALUE 1) /* c; */\v;"),
                 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 1);
    stmt_is(0, "SELECT json_object('a' VALUE 1)", 1);
}

/* COPY data after a passed-on statement holds what the scanner chokes on
 * (an unterminated quote): the statement is bounded before it, and the
 * COPY keeps its data. */
Test(pgsql, newer_syntax_before_copy_data)
{
    const char *sql = "SELECT json_object('a' VALUE 1);\n"
                      "COPY t (x) FROM stdin;\n"
                      "it's\n"
                      "\\.\n"
                      "SELECT 1;\n";
    cr_assert_eq(split_lenient(sql), 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 3);
    stmt_is(0, "SELECT json_object('a' VALUE 1)", 1);
    flags_are(0, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
    stmt_is(1, "COPY t (x) FROM stdin", 2);
    flags_are(1, STRATA__PG_COPY_IN, "COPY FROM STDIN");
    cr_assert_eq(S.items[1].data_len, strlen("it's\n"));
    stmt_is(2, "SELECT 1", 5);
}

/* Which servers get the lenient split: those newer than the parser. */
Test(pgsql, parser_knows_its_own_and_older_servers)
{
    cr_assert(strata__pg_parser_knows(0)); /* no connection to ask */
    cr_assert(strata__pg_parser_knows(140010));
    cr_assert(strata__pg_parser_knows(150018));
    cr_assert_not(strata__pg_parser_knows(160000));
    cr_assert_not(strata__pg_parser_knows(180001));
}

/* Empty statements before a passed-on one are not part of it. */
Test(pgsql, newer_syntax_after_empty_statements)
{
    cr_assert_eq(split_lenient("SELECT 1;;\n;SELECT json_object('a' VALUE 1);"),
                 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 2);
    stmt_is(0, "SELECT 1", 1);
    stmt_is(1, "SELECT json_object('a' VALUE 1)", 2);
    flags_are(1, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
}

/* A passed-on statement longer than the first window the scanner looks
 * in, with a ';' in a string that crosses the window's edge. */
Test(pgsql, newer_syntax_longer_than_the_scan_window)
{
    size_t n = 9000;
    char *sql = malloc(n + 64);
    cr_assert_not_null(sql);
    int head = sprintf(sql, "SELECT json_object('k' VALUE '");
    memset(sql + head, 'x', n);
    sql[head + 4000] = ';';
    sprintf(sql + head + n, "');\nSELECT 2;\n");
    cr_assert_eq(split_lenient(sql), 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 2);
    cr_assert_eq(S.items[0].offset, 0);
    cr_assert_eq(S.items[0].len, (size_t)head + n + 2);
    flags_are(0, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
    stmt_is(1, "SELECT 2", 2);
    strata__pg_script_free(&S);
    free(sql);
}

/* What the scanner cannot bound safely is refused as before, for any
 * server: a COPY the parser rejects (its data would be read as SQL) and a
 * BEGIN ATOMIC body (the scanner would end it at its first ';'). */
Test(pgsql, newer_server_refuses_an_unparsable_copy_or_atomic_body)
{
    cr_assert_eq(split_lenient("SELECT 1;\nCOPY t FROM stdin WITH FOO BAR;\n"
                               "1\n\\.\n"),
                 STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 2);
    cr_assert_eq(S.count, 0);
    cr_assert_eq(split_lenient("CREATE FUNCTION f() RETURNS json LANGUAGE sql\n"
                               "BEGIN ATOMIC\n"
                               "  SELECT json_object('a' VALUE 1);\n"
                               "END;\n"),
                 STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 3);
    cr_assert_eq(S.count, 0);
    /* the two tokens, with comments between them */
    cr_assert_eq(split_lenient("SELECT 1;\nCREATE FUNCTION f() RETURNS json "
                               "LANGUAGE sql BEGIN /* body */\n"
                               "-- standard\nATOMIC SELECT json_object('a' "
                               "VALUE 1);\nEND;\n"),
                 STRATA_EREFUSED);
    cr_assert_eq(err.pub.line, 4);
    cr_assert_eq(S.count, 0);
    /* a word that merely contains one of them, ATOMIC alone, or both
     * inside a string or a comment, is passed on */
    cr_assert_eq(split_lenient("SELECT json_object('atomically' VALUE 1) AS "
                               "copy_count, 1 AS atomic;"),
                 0, "%s", err.pub.message);
    flags_are(0, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
    cr_assert_eq(split_lenient("SELECT json_object('begin atomic' VALUE 1) "
                               "/* BEGIN ATOMIC */;"),
                 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 1);
    flags_are(0, STRATA__PG_UNPARSED, UNKNOWN_WHAT);
}

/* What the scanner rejects too is refused for any server: an unterminated
 * string, or a statement with no ';' before a lexer error. */
Test(pgsql, newer_server_still_refuses_what_the_scanner_rejects)
{
    cr_assert_eq(split_lenient("SELECT 1;\nSELECT 'abc\n"), STRATA_EREFUSED);
    cr_assert_eq(S.count, 0);
    cr_assert_null(S.items);
    cr_assert_eq(err.pub.line, 2);
    cr_assert_eq(split_lenient("SELECT json_object('a' VALUE 1) 'x\n"),
                 STRATA_EREFUSED);
    cr_assert_eq(S.count, 0);
    cr_assert_eq(err.pub.line, 1);
    /* a script the parser accepts splits the same either way */
    const char *ok = "CREATE TABLE a (x int);\nBEGIN;\nVACUUM a;\n";
    cr_assert_eq(split_lenient(ok), 0);
    cr_assert_eq(S.count, 3);
    flags_are(1, STRATA__PG_TX_CONTROL, "BEGIN");
    flags_are(2, STRATA__PG_NO_TX, "VACUUM");
}

Test(pgsql_corpora, harbor_all_split)
{
    char *dir = corpus("harbor/make/migrations/postgresql");
    int n = split_tree(dir, NULL, 0);
    cr_assert_gt(n, 30);
    free(dir);
}

Test(pgsql_corpora, crates_io_no_transaction_ups_are_flagged)
{
    char *dir = corpus("crates-io/migrations");
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        char *meta = strata__sprintf("%s/%s/metadata.toml", dir, e->d_name);
        char *text = NULL;
        size_t len;
        struct stat st;
        if (stat(meta, &st) == 0 &&
            strata__read_file(&text, &len, meta, &err) == 0 &&
            strstr(text, "run_in_transaction = false") != NULL) {
            char *up = strata__sprintf("%s/%s/up.sql", dir, e->d_name);
            char *sql = NULL;
            cr_assert_eq(split_file(up, &sql), 0, "%s: %s", up,
                         err.pub.message);
            cr_expect(any_no_tx(), "%s has no NO_TX statement", up);
            found++;
            free(sql);
            free(up);
        }
        free(text);
        free(meta);
    }
    closedir(d);
    cr_assert_eq(found, 7);
    free(dir);
}

Test(pgsql_corpora, kratos_autocommit_concurrently)
{
    char *dir = corpus("kratos/persistence/sql/migrations/sql");
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".postgres.autocommit.up.sql"))
            continue;
        char *p = strata__sprintf("%s/%s", dir, e->d_name);
        char *sql = NULL;
        cr_assert_eq(split_file(p, &sql), 0, "%s: %s", p, err.pub.message);
        cr_assert_gt(S.count, 0);
        for (size_t i = 0; i < S.count; i++)
            flags_are(i, NO, "CREATE INDEX CONCURRENTLY");
        found++;
        free(sql);
        free(p);
    }
    closedir(d);
    cr_assert_geq(found, 2);
    free(dir);
}

Test(pgsql_corpora, harbor_0071_semicolon_in_string)
{
    char *p =
        corpus("harbor/make/migrations/postgresql/0071_2.4.2_schema.up.sql");
    char *sql = NULL;
    cr_assert_eq(split_file(p, &sql), 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 1);
    cr_assert_eq(S.items[0].line, 2);
    cr_assert(strncmp(sql + S.items[0].offset, "DELETE FROM scan_report", 23) ==
              0);
    cr_assert_eq(sql[S.items[0].offset + S.items[0].len - 1], ')');
    free(sql);
    free(p);
}

Test(pgsql_corpora, crates_io_final_statement_without_semicolon)
{
    char *p = corpus("crates-io/migrations/2025-02-11-122509_add-expires-at-"
                     "column/up.sql");
    char *sql = NULL;
    cr_assert_eq(split_file(p, &sql), 0, "%s", err.pub.message);
    cr_assert_eq(S.count, 2);
    const strata__pg_stmt *last = &S.items[1];
    cr_assert(strncmp(sql + last->offset, "comment on column", 17) == 0);
    cr_assert_eq(sql[last->offset + last->len - 1], '\'',
                 "ends with the string, not the trailing comment: \"%.*s\"",
                 (int)last->len, sql + last->offset);
    free(sql);
    free(p);
}
