/*
 * test_template.c - {{schema}} and {{tables.NAME}} expansion.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static strata__err err;

static void setup(void)
{
    strata__err_clear(&err);
}

TestSuite(template, .init = setup);

/* strata__template_expand without the map, which map_* below check. */
static int expand(char **out, size_t *len, const char *sql, size_t n,
                  const strata__template_ctx *t, const char *path,
                  int first_line, strata__err *e)
{
    strata__expansion *map = (strata__expansion *)1;
    size_t nmap = 99;
    int rc = strata__template_expand(out, len, &map, &nmap, sql, n, t, path,
                                     first_line, e);
    cr_assert_eq(map == NULL, *out == NULL, "a map without a text");
    cr_assert_eq(nmap == 0, map == NULL);
    free(map);
    return rc;
}

static void expand_to(const char *sql, const strata__template_ctx *t,
                      const char *want)
{
    char *out = (char *)1;
    size_t len = 99;
    int rc = expand(&out, &len, sql, strlen(sql), t, "x.sql", 1, &err);
    cr_assert_eq(rc, 0, "rc=%d %s", rc, err.pub.message);
    if (want == NULL) {
        cr_assert_null(out, "nothing to expand in [%s]", sql);
        cr_assert_eq(len, 0);
        return;
    }
    cr_assert_not_null(out, "[%s] should expand", sql);
    cr_assert_str_eq(out, want);
    cr_assert_eq(len, strlen(want));
    free(out);
}

static const strata__template_ctx plain = {"app", 0};
static const strata__template_ctx qual = {"app", 1};

Test(template, schema)
{
    expand_to("CREATE SCHEMA {{schema}};", &plain, "CREATE SCHEMA \"app\";");
    expand_to("{{schema}}", &plain, "\"app\"");
    expand_to("{{ schema }}.t", &plain, "\"app\".t");
    expand_to("{{\tschema\t}}", &plain, "\"app\"");
}

Test(template, quotes_are_doubled)
{
    const strata__template_ctx odd = {"we\"ird", 1};
    expand_to("{{schema}}", &odd, "\"we\"\"ird\"");
    expand_to("{{tables.t}}", &odd, "\"we\"\"ird\".\"t\"");
}

Test(template, tables)
{
    expand_to("DROP TABLE {{tables.users}};", &plain, "DROP TABLE \"users\";");
    expand_to("DROP TABLE {{ tables.users }};", &qual,
              "DROP TABLE \"app\".\"users\";");
    expand_to("{{tables.a}} JOIN {{tables.b_2}}", &plain, "\"a\" JOIN \"b_2\"");
}

Test(template, nothing_to_expand)
{
    expand_to("SELECT 1;", &plain, NULL);
    expand_to("", &plain, NULL);
    expand_to("SELECT '{{\"a\":1}}';", &plain, NULL);
    expand_to("{{", &plain, NULL);
    expand_to("{{}}", &plain, NULL);
    expand_to("{{ }}", &plain, NULL);
    expand_to("{{schema}", &plain, NULL);
    expand_to("{{schema\n}}", &plain, NULL);
    expand_to("{ {schema}}", &plain, NULL);
}

Test(template, other_braces_survive_beside_expansion)
{
    expand_to("SELECT '{{\"a\":1}}', {{schema}};", &plain,
              "SELECT '{{\"a\":1}}', \"app\";");
    expand_to("{{{schema}}}", &plain, "{\"app\"}");
    expand_to("x{{schema}}", &plain, "x\"app\"");
    expand_to("{{schema}}y", &plain, "\"app\"y");
}

Test(template, lines_are_preserved)
{
    const char *sql = "A\n{{schema}}\nB {{tables.t}}\nC\n";
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(expand(&out, &len, sql, strlen(sql), &qual, "x.sql", 1, &err),
                 0);
    int nl = 0;
    for (size_t i = 0; i < len; i++)
        nl += out[i] == '\n';
    cr_assert_eq(nl, 4);
    free(out);
}

Test(template, length_is_respected)
{
    char *out = NULL;
    size_t len = 0;
    /* The placeholder lies beyond len: nothing to expand. */
    cr_assert_eq(
        expand(&out, &len, "ab{{schema}}", 2, &plain, "x.sql", 1, &err), 0);
    cr_assert_null(out);
    cr_assert_eq(
        expand(&out, &len, "{{schema}}zz", 10, &plain, "x.sql", 1, &err), 0);
    cr_assert_str_eq(out, "\"app\"");
    free(out);
}

static void expect_bad(const char *sql, int first_line, int line,
                       const char *needle)
{
    char *out = (char *)1;
    size_t len = 0;
    int rc = expand(&out, &len, sql, strlen(sql), &plain, "dir/7_x.sql",
                    first_line, &err);
    cr_assert_eq(rc, STRATA_EREFUSED, "[%s] rc=%d", sql, rc);
    cr_assert_null(out);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_TEMPLATE);
    cr_assert_str_eq(err.pub.file, "dir/7_x.sql");
    cr_assert_eq(err.pub.line, line, "line %d want %d", err.pub.line, line);
    cr_assert_not_null(strstr(err.pub.message, needle), "message: %s",
                       err.pub.message);
    cr_assert_neq(err.pub.hint[0], '\0');
}

Test(template, unknown_refused_with_line)
{
    expect_bad("{{shcema}}", 1, 1, "shcema");
    expect_bad("SELECT 1;\n\nSELECT {{ foo }};", 1, 3, "foo");
    expect_bad("SELECT 1;\n\nSELECT {{ foo }};", 10, 12, "foo");
    expect_bad("{{tables.}}", 1, 1, "tables.");
    expect_bad("{{tables.a.b}}", 1, 1, "tables.a.b");
    expect_bad("{{tables}}", 1, 1, "tables");
    expect_bad("{{Schema}}", 1, 1, "Schema");
    expect_bad("{{schema}} {{nope}}", 1, 1, "nope");
}

Test(template, schema_needs_a_context)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(expand(&out, &len, "{{schema}}", 10, NULL, "x.sql", 1, &err),
                 STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_TEMPLATE);
    cr_assert_eq(expand(&out, &len, "{{tables.t}}", 12, NULL, "x.sql", 1, &err),
                 0);
    cr_assert_str_eq(out, "\"t\"");
    free(out);
}

/* Offsets in the expanded text map back to the file's: verbatim bytes to
 * themselves, shifted; an expansion to its placeholder's first byte. */
Test(template, map_back_to_the_file)
{
    const char *sql = "SELECT a FROM {{ schema }}.t, {{tables.u}} WHERE";
    char *out = NULL;
    size_t len = 0;
    strata__expansion *map = NULL;
    size_t nmap = 0;
    cr_assert_eq(strata__template_expand(&out, &len, &map, &nmap, sql,
                                         strlen(sql), &qual, "x.sql", 1, &err),
                 0);
    cr_assert_str_eq(out, "SELECT a FROM \"app\".t, \"app\".\"u\" WHERE");
    cr_assert_eq(nmap, 2);
    cr_assert_eq(map[0].off, 14);
    cr_assert_eq(map[0].len, 5);
    cr_assert_eq(map[0].raw_off, 14);
    cr_assert_eq(map[0].raw_len, 12);
    cr_assert_eq(map[1].raw_len, 12);
    /* "SELECT" and what precedes the first placeholder: unchanged. */
    cr_assert_eq(strata__template_raw_offset(map, nmap, 0), 0);
    cr_assert_eq(strata__template_raw_offset(map, nmap, 13), 13);
    /* Inside "app": the placeholder. */
    cr_assert_eq(strata__template_raw_offset(map, nmap, 16), 14);
    /* ".t, " after it: shifted by 12 - 5. */
    const char *t_out = strstr(out, ".t,"), *t_raw = strstr(sql, ".t,");
    cr_assert_eq(strata__template_raw_offset(map, nmap, (size_t)(t_out - out)),
                 (size_t)(t_raw - sql));
    /* "WHERE" after the second. */
    cr_assert_eq(strata__template_raw_offset(
                     map, nmap, (size_t)(strstr(out, "WHERE") - out)),
                 (size_t)(strstr(sql, "WHERE") - sql));
    cr_assert_eq(strata__template_raw_offset(map, nmap, len), strlen(sql));
    free(out);
    free(map);
}

/* A schema name with a line break would move the lines after it. */
Test(template, schema_with_a_line_break_refused)
{
    const strata__template_ctx nl = {"a\nb", 0}, nlq = {"a\nb", 1};
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(expand(&out, &len, "X\n{{schema}}", 12, &nl, "x.sql", 1, &err),
                 STRATA_EREFUSED);
    cr_assert_eq(err.pub.reason, STRATA_REASON_BAD_TEMPLATE);
    cr_assert_eq(err.pub.line, 2);
    cr_assert_not_null(strstr(err.pub.message, "line break"));
    cr_assert_eq(expand(&out, &len, "{{tables.t}}", 12, &nlq, "x.sql", 1, &err),
                 STRATA_EREFUSED);
    /* Unqualified, the table's name alone is written: no line break. */
    cr_assert_eq(expand(&out, &len, "{{tables.t}}", 12, &nl, "x.sql", 1, &err),
                 0);
    cr_assert_str_eq(out, "\"t\"");
    free(out);
}

/* strata__script_locate moves a column that points into the script's
 * expanded text, and leaves every other error as it is. */
Test(template, locate_moves_columns_into_the_file)
{
    static const char raw[] = "SELECT {{schema}} x;\nSELECT 1 {{schema}} "
                              "{{schema}};\n";
    strata__script s;
    memset(&s, 0, sizeof s);
    char *out = NULL;
    cr_assert_eq(strata__template_expand(&out, &s.len, &s.map, &s.nmap, raw,
                                         sizeof raw - 1, &plain, "f.sql", 5,
                                         &err),
                 0);
    cr_assert_str_eq(out, "SELECT \"app\" x;\nSELECT 1 \"app\" \"app\";\n");
    s.sql = out;
    s.raw = raw;
    s.path = "f.sql";
    s.first_line = 5; /* the section starts on the file's line 5 */

    struct {
        const char *file;
        int line, column, want;
    } cases[] = {
        {"f.sql", 5, 14, 19}, /* "x" after the first expansion */
        {"f.sql", 6, 17, 21}, /* inside the second "app" of line 6 */
        {"f.sql", 6, 21, 31}, /* the ";" after it */
        {"f.sql", 6, 1, 1},   /* before any expansion */
        {"f.sql", 5, 0, 0},   /* no column */
        {"g.sql", 5, 16, 16}, /* another file */
        {"f.sql", 4, 16, 16}, /* a line before the section */
        {"f.sql", 8, 1, 1},   /* a line after it */
        {"f.sql", 5, 40, 40}, /* past the end of its line */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strata__err e;
        strata__err_clear(&e);
        strata__err_where(&e, cases[i].file, cases[i].line, cases[i].line,
                          cases[i].column);
        strata__script_locate(&s, &e);
        cr_assert_eq(e.pub.column, cases[i].want, "case %zu: column %d", i,
                     e.pub.column);
        cr_assert_eq(e.pub.line, cases[i].line);
    }
    free(out);
    free(s.map);
}
