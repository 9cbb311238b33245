/*
 * template.c - {{schema}} and {{tables.NAME}} in scripts.
 *
 * A placeholder is "{{", optional blanks, a word of [A-Za-z0-9_.], optional
 * blanks, "}}". Known words expand to quoted identifiers; any other word is
 * refused, because a typo such as {{shcema}} must not reach the database as
 * text. Everything else that merely contains "{{" (JSON in a string literal,
 * say) is left alone. Blanks here are spaces and tabs only, identifiers
 * from NAME hold no newline, and a schema name that holds one is refused,
 * so expansion never moves a line: error lines from the database still
 * point into the file. Columns do move, so each
 * expansion is recorded where it lands, and strata__script_locate() moves
 * an error's column back. The text is measured first, then written once.
 */
#include "strata_int.h"

#include <stdlib.h>
#include <string.h>

typedef enum tkind { T_NONE = 0, T_SCHEMA, T_TABLE, T_UNKNOWN } tkind;

typedef struct tmatch {
    tkind kind;
    size_t end;        /* offset just past "}}" */
    size_t word, wlen; /* the word inside the braces */
} tmatch;

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* Classifies the text at sql[i], which starts with "{{". */
static tmatch match_at(const char *sql, size_t len, size_t i)
{
    tmatch t = {T_NONE, 0, 0, 0};
    size_t p = i + 2;
    while (p < len && (sql[p] == ' ' || sql[p] == '\t'))
        p++;
    size_t w = p;
    while (p < len && is_word(sql[p]))
        p++;
    size_t wlen = p - w;
    while (p < len && (sql[p] == ' ' || sql[p] == '\t'))
        p++;
    if (wlen == 0 || p + 2 > len || sql[p] != '}' || sql[p + 1] != '}')
        return t;
    t.end = p + 2;
    t.word = w;
    t.wlen = wlen;
    t.kind = T_UNKNOWN;
    if (wlen == 6 && memcmp(sql + w, "schema", 6) == 0) {
        t.kind = T_SCHEMA;
    } else if (wlen > 7 && memcmp(sql + w, "tables.", 7) == 0 &&
               memchr(sql + w + 7, '.', wlen - 7) == NULL) {
        t.kind = T_TABLE;
        t.word = w + 7; /* from here on, the table's NAME */
        t.wlen = wlen - 7;
    }
    return t;
}

/* Why placeholder `t` cannot expand, as a format taking its text, with
 * what to do in *hint; NULL when it can. */
static const char *refusal(const tmatch *t, const char *qschema, size_t qlen,
                           int qualify, const char **hint)
{
    if (t->kind == T_UNKNOWN) {
        *hint = "the templates are {{schema}} and {{tables.NAME}}";
        return "unknown template {{%.*s}}";
    }
    if (t->kind == T_SCHEMA && qschema == NULL) {
        *hint = "set a schema, or write the name out";
        return "template {{%.*s}} but no schema is set";
    }
    /* A line break in the name would move every later line of the script
     * away from the file's, and with it every error line. */
    if ((t->kind == T_SCHEMA || qualify) && memchr(qschema, '\n', qlen)) {
        *hint = "use a schema whose name has no line break, or write the "
                "name out";
        return "template {{%.*s}} would expand to a name holding a line "
               "break";
    }
    return NULL;
}

int strata__template_expand(char **out, size_t *out_len,
                            strata__expansion **map, size_t *nmap,
                            const char *sql, size_t len,
                            const strata__template_ctx *tctx, const char *path,
                            int first_line, strata__err *err)
{
    char *qschema = NULL;
    char *buf = NULL;
    strata__expansion *at = NULL;
    int rc = STRATA_OK;
    const char *schema = tctx != NULL ? tctx->schema : NULL;
    int qualify = tctx != NULL && tctx->qualify_tables && schema != NULL;
    size_t need = 0, found = 0;

    *out = NULL;
    *out_len = 0;
    *map = NULL;
    *nmap = 0;
    if (schema != NULL) {
        qschema = strata__quote_ident(schema);
        if (qschema == NULL) {
            rc = strata__err_nomem(err);
            goto out;
        }
    }
    size_t qlen = qschema != NULL ? strlen(qschema) : 0;

    /* Pass 1: validate and measure. */
    for (size_t i = 0; i + 1 < len;) {
        if (sql[i] != '{' || sql[i + 1] != '{') {
            i++;
            need++;
            continue;
        }
        tmatch t = match_at(sql, len, i);
        if (t.kind == T_NONE) {
            i++;
            need++;
            continue;
        }
        const char *hint;
        const char *why = refusal(&t, qschema, qlen, qualify, &hint);
        if (why != NULL) {
            int line = first_line + strata__line_of(sql, i) - 1;
            rc = strata__err_set(err, STRATA_EREFUSED,
                                 STRATA_REASON_BAD_TEMPLATE, why,
                                 (int)(t.end - i - 4), sql + i + 2);
            strata__err_where(err, path, line, line, strata__column_of(sql, i));
            strata__err_hint(err, "%s", hint);
            goto out;
        }
        found++;
        if (t.kind == T_SCHEMA)
            need += qlen;
        else
            need += (qualify ? qlen + 1 : 0) + t.wlen + 2;
        i = t.end;
    }
    if (found == 0)
        goto out;
    need += 1; /* the last byte the loop above stops short of, if any */

    buf = malloc(need + 1);
    at = malloc(found * sizeof *at);
    if (buf == NULL || at == NULL) {
        rc = strata__err_nomem(err);
        goto out;
    }
    /* Pass 2: write. */
    size_t o = 0;
    size_t i = 0;
    size_t n = 0;
    while (i < len) {
        tmatch t = {T_NONE, 0, 0, 0};
        if (i + 1 < len && sql[i] == '{' && sql[i + 1] == '{')
            t = match_at(sql, len, i);
        if (t.kind == T_NONE) {
            buf[o++] = sql[i++];
            continue;
        }
        at[n] = (strata__expansion){o, 0, i, t.end - i};
        if (t.kind == T_SCHEMA) {
            memcpy(buf + o, qschema, qlen);
            o += qlen;
        } else {
            if (qualify) {
                memcpy(buf + o, qschema, qlen);
                o += qlen;
                buf[o++] = '.';
            }
            buf[o++] = '"';
            memcpy(buf + o, sql + t.word, t.wlen);
            o += t.wlen;
            buf[o++] = '"';
        }
        at[n].len = o - at[n].off;
        n++;
        i = t.end;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    *map = at;
    *nmap = n;
    buf = NULL;
    at = NULL;
out:
    free(qschema);
    free(buf);
    free(at);
    return rc;
}

size_t strata__template_raw_offset(const strata__expansion *map, size_t nmap,
                                   size_t off)
{
    size_t raw = off; /* before the first expansion, the texts agree */
    for (size_t k = 0; k < nmap && map[k].off <= off; k++) {
        const strata__expansion *e = &map[k];
        if (off < e->off + e->len)
            return e->raw_off;
        /* After it, until the next, they agree shifted. */
        raw = off - (e->off + e->len) + (e->raw_off + e->raw_len);
    }
    return raw;
}
