/*
 * test_script.c - loading script sections: markers, directives, refusals,
 * and the "is there any SQL" lexer.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmp[64];
static strata__err err;
static const strata__template_ctx tctx = {"app", 0};

static void setup(void)
{
    strcpy(tmp, "/tmp/strata-script-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    strata__err_clear(&err);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(script, .init = setup, .fini = teardown);
TestSuite(has_content);

/* Writes `len` bytes to tmp/name; returns the malloc'ed path. */
static char *put_n(const char *name, const char *text, size_t len)
{
    char *path = strata__sprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

static char *put(const char *name, const char *text)
{
    return put_n(name, text, strlen(text));
}

/* A migration over files in tmp; the test frees it. */
static strata__migration mig(const char *up, const char *down, int markers)
{
    strata__migration m;
    memset(&m, 0, sizeof m);
    m.version = strata__strdup("7");
    m.name = strata__strdup("seven");
    m.up_path = up != NULL ? strata__sprintf("%s/%s", tmp, up) : NULL;
    m.down_path = down != NULL ? strata__sprintf("%s/%s", tmp, down) : NULL;
    m.markers = markers;
    return m;
}

static void mig_free(strata__migration *m)
{
    free(m->version);
    free(m->name);
    free(m->up_path);
    free(m->down_path);
}

static void sql_is(const strata__script *s, const char *want)
{
    cr_assert_eq(s->len, strlen(want), "len %zu, sql [%.*s]", s->len,
                 (int)s->len, s->sql);
    cr_assert_eq(memcmp(s->sql, want, s->len), 0, "sql [%.*s] want [%s]",
                 (int)s->len, s->sql, want);
    cr_assert_eq(s->sql[s->len], '\0', "the section ends in a NUL");
}

static void load_ok(strata__script *s, const strata__migration *m,
                    strata_direction dir)
{
    int rc = strata__script_load(s, m, dir, NULL, &tctx, &err);
    cr_assert_eq(rc, 0, "load: rc=%d %s (line %d)", rc, err.pub.message,
                 err.pub.line);
}

static void load_refused(const strata__migration *m, strata_direction dir,
                         strata_reason reason, int line)
{
    strata__script s;
    int rc = strata__script_load(&s, m, dir, NULL, &tctx, &err);
    cr_assert_eq(rc, STRATA_EREFUSED, "rc=%d", rc);
    cr_assert_eq(err.pub.reason, reason, "reason %s: %s",
                 strata_reason_name(err.pub.reason), err.pub.message);
    cr_assert_eq(err.pub.line, line, "line %d, want %d: %s", err.pub.line, line,
                 err.pub.message);
    cr_assert_str_eq(err.pub.version, "7");
    cr_assert_neq(err.pub.hint[0], '\0');
    cr_assert_null(s.buf);
    cr_assert_null(s.sql);
}

/* ------------------------------------------------------------------------ */

Test(script, plain_up)
{
    char *p = put("7_seven.sql", "CREATE TABLE t (id int);\n");
    strata__migration m = mig("7_seven.sql", NULL, 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    sql_is(&s, "CREATE TABLE t (id int);\n");
    cr_assert_str_eq(s.path, p);
    cr_assert_eq(s.first_line, 1);
    cr_assert_eq(s.has_sql, 1);
    cr_assert_eq(s.no_transaction, 0);
    cr_assert_null(s.expanded);
    strata__script_free(&s);
    mig_free(&m);
    free(p);
}

Test(script, separate_down_file)
{
    free(put("7_seven.up.sql", "CREATE TABLE t (id int);\n"));
    char *p = put("7_seven.down.sql", "-- undo\nDROP TABLE t;\n");
    strata__migration m = mig("7_seven.up.sql", "7_seven.down.sql", 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    sql_is(&s, "-- undo\nDROP TABLE t;\n");
    cr_assert_str_eq(s.path, p);
    cr_assert_eq(s.first_line, 1);
    strata__script_free(&s);
    mig_free(&m);
    free(p);
}

Test(script, markers)
{
    free(put("7_seven.sql", "-- header\n"
                            "-- strata:up\n"
                            "CREATE TABLE t (id int);\n"
                            "\n"
                            "-- strata:down\n"
                            "DROP TABLE t;\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    sql_is(&s, "CREATE TABLE t (id int);\n\n");
    cr_assert_eq(s.first_line, 3);
    cr_assert_eq(s.has_sql, 1);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    sql_is(&s, "DROP TABLE t;\n");
    cr_assert_eq(s.first_line, 6);
    cr_assert_eq(s.has_sql, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, markers_without_up_marker_and_crlf)
{
    free(put("7_seven.sql", "CREATE TABLE t (id int);\r\n"
                            "-- strata:down \t\r\n"
                            "DROP TABLE t;"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    sql_is(&s, "CREATE TABLE t (id int);\r\n");
    cr_assert_eq(s.first_line, 1);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    sql_is(&s, "DROP TABLE t;");
    cr_assert_eq(s.first_line, 3);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, empty_down_section)
{
    free(put("7_seven.sql", "SELECT 1;\n-- strata:down\n-- irreversible\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.has_sql, 0, "a comment-only down is not refused here");
    cr_assert_eq(s.first_line, 3);
    strata__script_free(&s);
    free(put("7_seven.sql", "SELECT 1;\n-- strata:down"));
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.has_sql, 0);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, zero_byte_file)
{
    free(put("7_seven.up.sql", ""));
    strata__migration m = mig("7_seven.up.sql", NULL, 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.has_sql, 0);
    cr_assert_eq(s.first_line, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, bom_is_skipped)
{
    free(put("7_seven.sql", "\xEF\xBB\xBF-- strata:no-transaction\n"
                            "SELECT 1;\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    sql_is(&s, "-- strata:no-transaction\nSELECT 1;\n");
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, no_down)
{
    free(put("7_seven.sql", "SELECT 1;\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    strata__script s;
    int rc =
        strata__script_load(&s, &m, STRATA_DIRECTION_DOWN, NULL, &tctx, &err);
    cr_assert_eq(rc, STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_NO_DOWN);
    cr_assert_not_null(strstr(err.pub.message, "7"));
    cr_assert_not_null(strstr(err.pub.hint, "7_seven.down.sql"), "%s",
                       err.pub.hint);
    cr_assert_str_eq(err.pub.version, "7");
    mig_free(&m);
}

Test(script, missing_file)
{
    strata__migration m = mig("7_gone.sql", NULL, 0);
    strata__script s;
    int rc =
        strata__script_load(&s, &m, STRATA_DIRECTION_UP, NULL, &tctx, &err);
    cr_assert_eq(rc, STRATA_EUSAGE);
    cr_assert_eq(err.pub.reason, STRATA_REASON_IO);
    cr_assert_str_eq(err.pub.file, m.up_path);
    mig_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Directives */

Test(script, no_transaction_in_leading_block)
{
    free(put("7_seven.sql", "-- a comment\n"
                            "\n"
                            "  -- strata:no-transaction  \n"
                            "CREATE INDEX CONCURRENTLY i ON t (x);\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, no_transaction_per_section)
{
    free(put("7_seven.sql", "-- strata:up\n"
                            "SELECT 1;\n"
                            "-- strata:down\n"
                            "-- strata:no-transaction\n"
                            "DROP INDEX CONCURRENTLY i;\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.no_transaction, 0);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, no_transaction_in_header_applies_to_both)
{
    free(put("7_seven.sql", "-- strata:no-transaction\n"
                            "-- strata:up\n"
                            "SELECT 1;\n"
                            "-- strata:down\n"
                            "SELECT 2;\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, no_transaction_of_up_section_not_down)
{
    free(put("7_seven.sql", "-- strata:no-transaction\n"
                            "SELECT 1;\n"
                            "-- strata:down\n"
                            "SELECT 2;\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.no_transaction, 0);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, metadata_no_transaction)
{
    free(put("up.sql", "SELECT 1;\n"));
    free(put("down.sql", "SELECT 2;\n"));
    strata__migration m = mig("up.sql", "down.sql", 0);
    m.meta_no_tx = 1;
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_eq(s.no_transaction, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, misplaced_no_transaction)
{
    free(put("7_seven.sql", "-- top\n"
                            "SELECT 1;\n"
                            "-- strata:no-transaction\n"
                            "SELECT 2;\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 3);
    cr_assert_str_eq(err.pub.file, m.up_path);
    mig_free(&m);
}

Test(script, misplaced_no_transaction_in_other_section)
{
    /* Loading the up part still checks the down part. */
    free(put("7_seven.sql", "SELECT 1;\n"
                            "-- strata:down\n"
                            "DROP TABLE t;\n"
                            "-- strata:no-transaction\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 4);
    mig_free(&m);
}

Test(script, unknown_directive)
{
    free(put("7_seven.sql", "-- strata:no-transactions\nSELECT 1;\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 1);
    cr_assert_not_null(strstr(err.pub.message, "unknown"));
    mig_free(&m);
}

Test(script, unknown_directive_deep)
{
    free(put("7_seven.sql", "SELECT 1;\n\n\n\n-- strata:transaction\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 5);
    mig_free(&m);
}

Test(script, ordinary_comments_pass)
{
    free(put("7_seven.sql", "-- strata is great\n"
                            "--strata:down\n"
                            "SELECT 1; -- strata:down\n"
                            "-- strata:\n"
                            "SELECT 2;\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    /* "-- strata:" alone is a directive with no word: unknown. */
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 4);
    free(put("7_seven.sql", "-- strata is great\n"
                            "--strata:down\n"
                            "SELECT 1; -- strata:down\n"));
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    cr_assert_eq(s.has_sql, 1);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, down_marker_in_up_file)
{
    free(put("7_seven.up.sql", "SELECT 1;\n-- strata:down\nSELECT 2;\n"));
    strata__migration m = mig("7_seven.up.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 2);
    mig_free(&m);
}

Test(script, up_marker_in_down_file)
{
    free(put("7_seven.up.sql", "SELECT 1;\n"));
    free(put("7_seven.down.sql", "\n-- strata:up\nSELECT 2;\n"));
    strata__migration m = mig("7_seven.up.sql", "7_seven.down.sql", 0);
    load_refused(&m, STRATA_DIRECTION_DOWN, STRATA_REASON_BAD_SCRIPT, 2);
    cr_assert_str_eq(err.pub.file, m.down_path);
    mig_free(&m);
}

Test(script, second_up_marker)
{
    free(put("7_seven.sql", "-- strata:up\nSELECT 1;\n-- strata:up\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 3);
    mig_free(&m);
}

Test(script, second_down_marker)
{
    free(put("7_seven.sql",
             "SELECT 1;\n-- strata:down\nSELECT 2;\n-- strata:down\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_DOWN, STRATA_REASON_BAD_SCRIPT, 4);
    mig_free(&m);
}

Test(script, up_marker_after_down)
{
    free(put("7_seven.sql",
             "SELECT 1;\n-- strata:down\nSELECT 2;\n-- strata:up\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 4);
    mig_free(&m);
}

Test(script, sql_above_up_marker)
{
    free(put("7_seven.sql", "-- fine\nSELECT 0;\n-- strata:up\nSELECT 1;\n"
                            "-- strata:down\nSELECT 2;\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 2);
    mig_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Encoding */

Test(script, nul_byte_line)
{
    free(put_n("7_seven.sql", "SELECT 1;\nSELECT 2;\nSELECT\0 3;\n", 30));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 3);
    cr_assert_not_null(strstr(err.pub.message, "NUL"));
    mig_free(&m);
}

Test(script, invalid_utf8_line)
{
    free(put("7_seven.sql", "-- caf\xC3\xA9 is fine\n"
                            "SELECT 1;\n"
                            "SELECT 'caf\xE9';\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 3);
    cr_assert_not_null(strstr(err.pub.message, "UTF-8"));
    mig_free(&m);
}

Test(script, invalid_utf8_in_other_section)
{
    free(put("7_seven.sql", "SELECT 1;\n-- strata:down\n\xFF\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_UP, STRATA_REASON_BAD_SCRIPT, 3);
    mig_free(&m);
}

Test(script, valid_multibyte)
{
    free(put("7_seven.sql", "SELECT '\xE2\x82\xAC \xF0\x9F\x98\x80';\n"));
    strata__migration m = mig("7_seven.sql", NULL, 0);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    strata__script_free(&s);
    mig_free(&m);
}

/* ------------------------------------------------------------------------ */
/* Templates through the loader */

Test(script, templates_expand)
{
    free(put("7_seven.sql", "SELECT 1;\n-- strata:down\n"
                            "DROP TABLE {{ tables.users }};\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_DOWN);
    cr_assert_not_null(s.expanded);
    sql_is(&s, "DROP TABLE \"users\";\n");
    cr_assert_eq(s.first_line, 3);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, bad_template_line)
{
    free(put("7_seven.sql", "SELECT 1;\n-- strata:down\n\n"
                            "DROP TABLE {{tabels.users}};\n"));
    strata__migration m = mig("7_seven.sql", "7_seven.sql", 1);
    load_refused(&m, STRATA_DIRECTION_DOWN, STRATA_REASON_BAD_TEMPLATE, 4);
    strata__script s;
    load_ok(&s, &m, STRATA_DIRECTION_UP);
    strata__script_free(&s);
    mig_free(&m);
}

Test(script, free_accepts_null_and_zeroed)
{
    strata__script s;
    memset(&s, 0, sizeof s);
    strata__script_free(&s);
    strata__script_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* strata__sql_has_content */

static int hc(const char *s)
{
    return strata__sql_has_content(s, strlen(s));
}

Test(has_content, empty_and_blank)
{
    cr_assert_eq(strata__sql_has_content("", 0), 0);
    cr_assert_eq(strata__sql_has_content("SELECT 1", 0), 0, "len counts");
    cr_assert_eq(hc(" \t\r\n\f\v"), 0);
    cr_assert_eq(hc(";;\n ; "), 0);
    cr_assert_eq(hc("\xEF\xBB\xBF\n"), 0);
}

Test(has_content, comments)
{
    cr_assert_eq(hc("-- only a comment"), 0);
    cr_assert_eq(hc("-- one\n-- two\n"), 0);
    cr_assert_eq(hc("/* block */"), 0);
    cr_assert_eq(hc("/* multi\nline */\n-- x\n;"), 0);
    cr_assert_eq(hc("-- has ; inside\n/* and ; here */ ;"), 0);
    cr_assert_eq(hc("/* unterminated"), 0);
    cr_assert_eq(hc("/**/"), 0);
    cr_assert_eq(hc("-- Not reversible\r\n"), 0);
}

Test(has_content, sql)
{
    cr_assert_eq(hc("SELECT 1"), 1);
    cr_assert_eq(hc("-- c\nx"), 1);
    cr_assert_eq(hc("/* c */ DROP TABLE t;"), 1);
    cr_assert_eq(hc("; ; x ;"), 1);
    cr_assert_eq(hc("-"), 1);
    cr_assert_eq(hc("/"), 1);
    cr_assert_eq(hc("/* a */ */"), 1, "SQLite ends a comment at */");
    cr_assert_eq(strata__sql_has_content("-- c\nSELECT", 6), 1);
    cr_assert_eq(strata__sql_has_content("-- c\nSELECT", 5), 0);
}
