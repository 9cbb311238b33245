/*
 * pgsql.c - splits a PostgreSQL script with PostgreSQL's own parser and
 * classifies each statement (see pgsql.h).
 *
 * How: the script is copied once, NUL-terminated, and handed to
 * pg_query_split_with_parser(), which gives each statement's byte range
 * (from just after the previous ';', so leading whitespace and comments are
 * included, up to its own ';'). We skip the leading whitespace/comments
 * ourselves (the range holds nothing else there), and trim a trailing
 * comment with PostgreSQL's scanner (pg_query_scan) only when the tail can
 * hold one. Only statements whose first word (and, for CREATE/ALTER/DROP, a
 * telling word anywhere in them) could make them interesting are parsed
 * alone with pg_query_parse() and classified from the JSON tree (jansson):
 * parsing all 400k statements of a big script to JSON would take minutes.
 *
 * COPY ... FROM STDIN: its data follows in the script, which the parser must
 * not see. When the split succeeds, the walk stops at the first COPY FROM
 * STDIN, consumes its data up to the "\." line and splits the rest again
 * (once per COPY; the copy of the text is never redone). When the split
 * fails, the failure may be the data: the statements before the error are
 * found with the scanner, and if one is a COPY FROM STDIN the text up to it
 * is split again and the walk goes on after its data; otherwise the error is
 * the script's.
 *
 * libpg_query reports positions as 1-based characters; they are turned into
 * bytes here. Lines are counted incrementally, so the whole split is linear.
 */
#include "pgsql.h"

#include <jansson.h>
#include <pg_query.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * What is flagged NO_TX: PostgreSQL 15's PreventInTransactionBlock callers
 * that can be told from the statement alone:
 *   CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY,
 *   REINDEX ... CONCURRENTLY, REINDEX SCHEMA/SYSTEM/DATABASE,
 *   VACUUM (not ANALYZE), CLUSTER without a table,
 *   CREATE DATABASE, DROP DATABASE, ALTER DATABASE ... SET TABLESPACE,
 *   CREATE TABLESPACE, DROP TABLESPACE, ALTER SYSTEM, DISCARD ALL,
 *   ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY,
 *   CREATE SUBSCRIPTION and DROP SUBSCRIPTION (always, to be safe: PostgreSQL
 *   refuses them only with a replication slot, the default),
 *   ALTER SUBSCRIPTION ... REFRESH PUBLICATION and ... SET/ADD/DROP
 *   PUBLICATION unless WITH (refresh = false),
 *   COMMIT PREPARED, ROLLBACK PREPARED (also TX_CONTROL).
 * Not told without the catalog: CLUSTER and REINDEX TABLE on a partitioned
 * table.
 */

#define PG_SQL_COMMENT 275 /* pg_query.proto Token values */
#define PG_C_COMMENT 276
#define PG_ATOMIC 300
#define PG_BEGIN_P 307

typedef struct splitter {
    char *buf; /* NUL-terminated copy of the script */
    size_t len;
    const char *path;
    int first_line;
    strata__err *err;
    strata__pg_script *out;
    size_t cap;
    size_t line_off; /* incremental line counting: line_no is the line */
    int line_no;     /* of byte line_off */
    int lenient;     /* pass on what the parser rejects (pgsql.h) */
} splitter;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* The first byte in [i, end) that is not whitespace or inside a comment
 * (-- to the end of the line, nested slash-star comments). A line comment
 * ends at a CR as well as at a LF, as in PostgreSQL's scanner. An
 * unterminated block comment counts as text: its "/" is returned. */
static size_t skip_blank(const char *s, size_t i, size_t end)
{
    while (i < end) {
        if (is_space(s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < end && s[i + 1] == '-') {
            while (i < end && s[i] != '\n' && s[i] != '\r')
                i++;
        } else if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
            size_t j = i + 2;
            int depth = 1;
            while (j < end && depth > 0) {
                if (s[j] == '/' && j + 1 < end && s[j + 1] == '*') {
                    depth++;
                    j += 2;
                } else if (s[j] == '*' && j + 1 < end && s[j + 1] == '/') {
                    depth--;
                    j += 2;
                } else {
                    j++;
                }
            }
            if (depth > 0)
                return i;
            i = j;
        } else {
            break;
        }
    }
    return i;
}

/* The 1-based line of `off`, counting on from the last call: offsets are
 * asked in increasing order, so the whole split counts each '\n' once. */
static int line_at(splitter *sp, size_t off)
{
    if (off < sp->line_off) {
        sp->line_off = 0;
        sp->line_no = 1;
    }
    const char *p = sp->buf + sp->line_off, *end = sp->buf + off;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        sp->line_no++;
        p++;
    }
    sp->line_off = off;
    return sp->line_no;
}

/* Byte offset in s (at most n) of libpg_query's 1-based character position
 * `pos` (0 = unknown, taken as the start). */
static size_t byte_of_char(const char *s, size_t n, int pos)
{
    size_t i = 0;
    for (int c = 1; c < pos && i < n; c++) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* --- errors ------------------------------------------------------------- */

static int is_oom(const PgQueryError *e)
{
    return e->message != NULL && strcmp(e->message, "out of memory") == 0;
}

/* Reports PostgreSQL's error `e`, whose position is counted from byte
 * `base`; `stmt_start` is where the failing statement begins. */
static int refuse_syntax(splitter *sp, const PgQueryError *e, size_t base,
                         size_t stmt_start)
{
    if (is_oom(e))
        return strata__err_nomem(sp->err);
    size_t at =
        base + byte_of_char(sp->buf + base, sp->len - base, e->cursorpos);
    if (stmt_start > at)
        stmt_start = at;
    int line = sp->first_line - 1 + strata__line_of(sp->buf, at);
    int stmt_line = sp->first_line - 1 + strata__line_of(sp->buf, stmt_start);
    int rc = strata__err_set(sp->err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                             "PostgreSQL's parser rejects %s at line %d",
                             sp->path, line);
    strata__err_where(sp->err, sp->path, line, stmt_line,
                      strata__column_of(sp->buf, at));
    strata__err_db(sp->err, e->message, NULL, NULL, 0);
    strata__err_hint(sp->err, "fix the SQL there (strata reads scripts with "
                              "PostgreSQL " PG_MAJORVERSION "'s parser; "
                              "against a newer server, a statement only that "
                              "parser rejects is left to the server)");
    return rc;
}

/* Refuses something about the COPY ... FROM STDIN that starts at `off`. */
static int refuse_copy(splitter *sp, size_t off, const char *msg,
                       const char *hint)
{
    int line = sp->first_line - 1 + strata__line_of(sp->buf, off);
    int rc = strata__err_set(sp->err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                             "%s: COPY at line %d %s", sp->path, line, msg);
    strata__err_where(sp->err, sp->path, line, line, 0);
    strata__err_hint(sp->err, "%s", hint);
    return rc;
}

/* --- trimming ----------------------------------------------------------- */

/* Reads a protobuf varint; 0 when malformed. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return 1;
    }
    return 0;
}

/* Skips one field of wire type `wt`; 0 when malformed. */
static int pb_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0: return pb_varint(p, end, &v);
    case 1:
        if (end - *p < 8)
            return 0;
        *p += 8;
        return 1;
    case 2:
        if (!pb_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return 0;
        *p += v;
        return 1;
    case 5:
        if (end - *p < 4)
            return 0;
        *p += 4;
        return 1;
    default: return 0;
    }
}

/* One token of a pg_query_scan() result (PgQuery__ScanResult: tokens = 2;
 * ScanToken: start = 1, end = 2, token = 4), decoded by hand: the
 * protobuf-c headers are not installed. Reads the next token at *p into
 * *t: 1 when there is one, 0 at the end, -1 when the buffer does not
 * decode. */
typedef struct scan_token {
    uint64_t start, end, token;
} scan_token;

static int next_token(const uint8_t **p, const uint8_t *stop, scan_token *t)
{
    while (*p < stop) {
        uint64_t key, n;
        if (!pb_varint(p, stop, &key))
            return -1;
        if (key != ((2 << 3) | 2)) {
            if (!pb_skip(p, stop, (unsigned)(key & 7)))
                return -1;
            continue;
        }
        if (!pb_varint(p, stop, &n) || n > (uint64_t)(stop - *p))
            return -1;
        const uint8_t *q = *p, *qend = *p + n;
        t->start = t->end = t->token = 0;
        while (q < qend) {
            uint64_t k, v;
            if (!pb_varint(&q, qend, &k))
                return -1;
            if ((k & 7) != 0) {
                if (!pb_skip(&q, qend, (unsigned)(k & 7)))
                    return -1;
                continue;
            }
            if (!pb_varint(&q, qend, &v))
                return -1;
            if ((k >> 3) == 1)
                t->start = v;
            else if ((k >> 3) == 2)
                t->end = v;
            else if ((k >> 3) == 4)
                t->token = v;
        }
        *p = qend;
        return 1;
    }
    return 0;
}

/* Whether token t of text[0..len) means nothing to a server: a comment,
 * or a vertical tab, which PostgreSQL 15's scanner takes for a token of
 * its own and later ones for a blank. */
static int is_noise(const scan_token *t, const char *text, size_t len)
{
    if (t->token == PG_SQL_COMMENT || t->token == PG_C_COMMENT)
        return 1;
    if (t->start >= t->end || t->end > len)
        return 0;
    for (uint64_t i = t->start; i < t->end; i++)
        if (!is_space(text[i]))
            return 0;
    return 1;
}

/* What PostgreSQL's scanner finds in s[from..end), noise (is_noise) aside:
 * *last, the end of the last token, relative to from (0 when there is
 * none), and *atomic, whether the tokens BEGIN ATOMIC appear: the body of
 * an SQL-standard function, whose ';'s do not end it. Returns 0, or 1 when
 * the scanner rejects the text or its tokens do not decode; < 0 out of
 * memory. */
static int scan_statement(splitter *sp, size_t from, size_t end, size_t *last,
                          int *atomic)
{
    char *s = sp->buf;
    char saved = s[end];
    s[end] = '\0';
    PgQueryScanResult r = pg_query_scan(s + from);
    s[end] = saved;
    *last = 0;
    *atomic = 0;
    if (r.error != NULL) {
        int rc = is_oom(r.error) ? strata__err_nomem(sp->err) : 1;
        pg_query_free_scan_result(r);
        return rc;
    }
    const uint8_t *p = (const uint8_t *)r.pbuf.data, *stop = p + r.pbuf.len;
    scan_token t;
    uint64_t prev = 0;
    int rc;
    while ((rc = next_token(&p, stop, &t)) > 0) {
        if (is_noise(&t, s + from, end - from))
            continue;
        *atomic |= prev == PG_BEGIN_P && t.token == PG_ATOMIC;
        prev = t.token;
        *last = (size_t)t.end;
    }
    pg_query_free_scan_result(r);
    return rc < 0;
}

/* The end of the statement's last token in [off, end): trailing whitespace
 * dropped, and a trailing comment when the tail can hold one (it ends with
 * a block comment's end, or its last line has "--"), found by PostgreSQL's
 * scanner. */
static int trim_tail(splitter *sp, size_t off, size_t end, size_t *out)
{
    char *s = sp->buf;
    while (end > off && is_space(s[end - 1]))
        end--;
    *out = end;
    int may = end - off >= 2 && s[end - 2] == '*' && s[end - 1] == '/';
    for (size_t i = end; !may && i > off + 1 && s[i - 1] != '\n'; i--)
        may = s[i - 1] == '-' && s[i - 2] == '-';
    if (!may)
        return 0;
    size_t last;
    int atomic;
    int rc = scan_statement(sp, off, end, &last, &atomic);
    if (rc < 0)
        return rc;
    if (rc == 0 && last > 0 && last <= end - off)
        *out = off + last;
    return 0;
}

/* --- classification ----------------------------------------------------- */

/* A byte that may continue an identifier or keyword (any byte of a
 * multibyte character may). */
static int is_ident_char(char c)
{
    unsigned char u = (unsigned char)c;
    unsigned lower = u | 0x20u;
    return (lower >= 'a' && lower <= 'z') || (u >= '0' && u <= '9') ||
           u == '_' || u == '$' || u >= 0x80;
}

/* Case-insensitive: does s[0..n) contain `word` (lower case)? */
static int has_word(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++) {
        size_t k = 0;
        while (k < w && (s[i + k] | 0x20) == word[k])
            k++;
        if (k == w)
            return 1;
    }
    return 0;
}

/* Whether the statement could be flagged at all, from its first word and,
 * for CREATE/ALTER/DROP, a keyword anywhere in it. A superset: the parse
 * tree decides. Keeps the per-statement parse off ordinary statements. */
static int worth_parsing(const char *s, size_t n)
{
    static const char *const first[] = {
        "copy",  "vacuum", "cluster", "reindex",  "discard", "begin",
        "start", "commit", "end",     "rollback", "abort",   "prepare"};
    static const char *const ddl[] = {"create", "alter", "drop"};
    static const char *const words[] = {"concurrently", "database",
                                        "tablespace", "subscription", "system"};
    char w[16];
    size_t k = 0;
    while (k < n && k < sizeof w - 1 &&
           (((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z') || s[k] == '_')) {
        w[k] = (char)(s[k] | 0x20);
        k++;
    }
    w[k] = '\0';
    for (size_t i = 0; i < sizeof first / sizeof *first; i++)
        if (strcmp(w, first[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof ddl / sizeof *ddl; i++) {
        if (strcmp(w, ddl[i]) != 0)
            continue;
        for (size_t j = 0; j < sizeof words / sizeof *words; j++)
            if (has_word(s, n, words[j]))
                return 1;
    }
    return 0;
}

static int jbool(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

static const char *jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The DefElem named `name` in the list `options`, or NULL. */
static json_t *find_def(const json_t *options, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(options, i, item)
    {
        json_t *d = json_object_get(item, "DefElem");
        const char *n = jstr(d, "defname");
        if (n != NULL && strcmp(n, name) == 0)
            return d;
    }
    return NULL;
}

/* A DefElem's value read as PostgreSQL's defGetBoolean does. */
static int def_true(const json_t *def)
{
    const json_t *arg = json_object_get(def, "arg");
    if (arg == NULL)
        return 1;
    const json_t *v;
    if ((v = json_object_get(arg, "Integer")) != NULL)
        return json_integer_value(json_object_get(v, "ival")) != 0;
    if ((v = json_object_get(arg, "Boolean")) != NULL)
        return jbool(v, "boolval");
    const char *s = jstr(json_object_get(arg, "String"), "sval");
    if (s == NULL)
        return 1;
    static const char *const no[] = {"false", "off", "no", "0", "f", "n"};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strlen(s) == strlen(no[i]) && has_word(s, strlen(s), no[i]))
            return 0; /* same length and contained: equal */
    return 1;
}

/* Sets st->flags and st->what from the node `type` with fields `n`. */
static void classify_node(strata__pg_stmt *st, const char *type,
                          const json_t *n)
{
    const char *what = NULL;
    unsigned flags = STRATA__PG_NO_TX;

    if (strcmp(type, "CopyStmt") == 0) {
        if (jbool(n, "is_from") && jstr(n, "filename") == NULL) {
            flags = STRATA__PG_COPY_IN;
            what = "COPY FROM STDIN";
        }
    } else if (strcmp(type, "IndexStmt") == 0) {
        if (jbool(n, "concurrent"))
            what = "CREATE INDEX CONCURRENTLY";
    } else if (strcmp(type, "DropStmt") == 0) {
        if (jbool(n, "concurrent"))
            what = "DROP INDEX CONCURRENTLY";
    } else if (strcmp(type, "ReindexStmt") == 0) {
        const char *kind = jstr(n, "kind");
        json_t *c = find_def(json_object_get(n, "params"), "concurrently");
        if (c != NULL && def_true(c))
            what = "REINDEX CONCURRENTLY";
        else if (kind != NULL && strcmp(kind, "REINDEX_OBJECT_SCHEMA") == 0)
            what = "REINDEX SCHEMA";
        else if (kind != NULL && strcmp(kind, "REINDEX_OBJECT_SYSTEM") == 0)
            what = "REINDEX SYSTEM";
        else if (kind != NULL && strcmp(kind, "REINDEX_OBJECT_DATABASE") == 0)
            what = "REINDEX DATABASE";
    } else if (strcmp(type, "VacuumStmt") == 0) {
        if (jbool(n, "is_vacuumcmd"))
            what = "VACUUM";
    } else if (strcmp(type, "ClusterStmt") == 0) {
        if (json_object_get(n, "relation") == NULL)
            what = "CLUSTER";
    } else if (strcmp(type, "CreatedbStmt") == 0) {
        what = "CREATE DATABASE";
    } else if (strcmp(type, "DropdbStmt") == 0) {
        what = "DROP DATABASE";
    } else if (strcmp(type, "AlterDatabaseStmt") == 0) {
        if (find_def(json_object_get(n, "options"), "tablespace") != NULL)
            what = "ALTER DATABASE SET TABLESPACE";
    } else if (strcmp(type, "AlterSystemStmt") == 0) {
        what = "ALTER SYSTEM";
    } else if (strcmp(type, "CreateTableSpaceStmt") == 0) {
        what = "CREATE TABLESPACE";
    } else if (strcmp(type, "DropTableSpaceStmt") == 0) {
        what = "DROP TABLESPACE";
    } else if (strcmp(type, "DiscardStmt") == 0) {
        const char *t = jstr(n, "target");
        if (t != NULL && strcmp(t, "DISCARD_ALL") == 0)
            what = "DISCARD ALL";
    } else if (strcmp(type, "CreateSubscriptionStmt") == 0) {
        what = "CREATE SUBSCRIPTION";
    } else if (strcmp(type, "DropSubscriptionStmt") == 0) {
        what = "DROP SUBSCRIPTION";
    } else if (strcmp(type, "AlterSubscriptionStmt") == 0) {
        const char *kind = jstr(n, "kind");
        json_t *r = find_def(json_object_get(n, "options"), "refresh");
        if (kind == NULL) {
        } else if (strcmp(kind, "ALTER_SUBSCRIPTION_REFRESH") == 0) {
            what = "ALTER SUBSCRIPTION REFRESH PUBLICATION";
        } else if ((strcmp(kind, "ALTER_SUBSCRIPTION_SET_PUBLICATION") == 0 ||
                    strcmp(kind, "ALTER_SUBSCRIPTION_ADD_PUBLICATION") == 0 ||
                    strcmp(kind, "ALTER_SUBSCRIPTION_DROP_PUBLICATION") == 0) &&
                   (r == NULL || def_true(r))) {
            what = "ALTER SUBSCRIPTION PUBLICATION with refresh";
        }
    } else if (strcmp(type, "AlterTableStmt") == 0) {
        size_t i;
        json_t *cmd;
        json_array_foreach(json_object_get(n, "cmds"), i, cmd)
        {
            const json_t *c = json_object_get(cmd, "AlterTableCmd");
            const char *sub = jstr(c, "subtype");
            const json_t *pc =
                json_object_get(json_object_get(c, "def"), "PartitionCmd");
            if (sub != NULL && strcmp(sub, "AT_DetachPartition") == 0 &&
                jbool(pc, "concurrent"))
                what = "ALTER TABLE DETACH PARTITION CONCURRENTLY";
        }
    } else if (strcmp(type, "TransactionStmt") == 0) {
        static const struct {
            const char *kind, *what;
            unsigned flags;
        } tx[] = {
            {"TRANS_STMT_BEGIN", "BEGIN", STRATA__PG_TX_CONTROL},
            {"TRANS_STMT_START", "START TRANSACTION", STRATA__PG_TX_CONTROL},
            {"TRANS_STMT_COMMIT", "COMMIT", STRATA__PG_TX_CONTROL},
            {"TRANS_STMT_ROLLBACK", "ROLLBACK", STRATA__PG_TX_CONTROL},
            {"TRANS_STMT_PREPARE", "PREPARE TRANSACTION",
             STRATA__PG_TX_CONTROL},
            {"TRANS_STMT_COMMIT_PREPARED", "COMMIT PREPARED",
             STRATA__PG_TX_CONTROL | STRATA__PG_NO_TX},
            {"TRANS_STMT_ROLLBACK_PREPARED", "ROLLBACK PREPARED",
             STRATA__PG_TX_CONTROL | STRATA__PG_NO_TX},
        };
        const char *kind = jstr(n, "kind");
        for (size_t i = 0; kind != NULL && i < sizeof tx / sizeof *tx; i++)
            if (strcmp(kind, tx[i].kind) == 0) {
                what = tx[i].what;
                flags = tx[i].flags;
            }
    }
    if (what != NULL) {
        st->flags = flags;
        st->what = what;
    }
}

/* Parses the statement alone when it could be flagged and classifies it. */
static int classify(splitter *sp, strata__pg_stmt *st)
{
    char *s = sp->buf + st->offset;
    if (!worth_parsing(s, st->len))
        return 0;
    char saved = s[st->len];
    s[st->len] = '\0';
    PgQueryParseResult p = pg_query_parse(s);
    s[st->len] = saved;
    if (p.error != NULL) {
        /* The split parsed it already; only memory can fail here. */
        int rc = refuse_syntax(sp, p.error, st->offset, st->offset);
        pg_query_free_parse_result(p);
        return rc;
    }
    json_t *root = json_loads(p.parse_tree, 0, NULL);
    pg_query_free_parse_result(p);
    if (root == NULL)
        return strata__err_nomem(sp->err);
    json_t *stmt = json_object_get(
        json_array_get(json_object_get(root, "stmts"), 0), "stmt");
    void *it = json_object_iter(stmt);
    if (it != NULL)
        classify_node(st, json_object_iter_key(it), json_object_iter_value(it));
    json_decref(root);
    return 0;
}

/* The start of the first line at or after `from` that is exactly "\." (a
 * trailing CR allowed), or len. */
static size_t next_terminator(const char *s, size_t from, size_t len)
{
    const char *p = s + from, *end = s + len;
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - s);
        if ((i == 0 || s[i - 1] == '\n') && i + 1 < len && s[i + 1] == '.' &&
            (i + 2 == len || s[i + 2] == '\n' ||
             (s[i + 2] == '\r' && (i + 3 == len || s[i + 3] == '\n'))))
            return i;
        p++;
    }
    return len;
}

/* --- the walk ----------------------------------------------------------- */

static int push(splitter *sp, const strata__pg_stmt *st)
{
    strata__pg_script *o = sp->out;
    if (o->count == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        strata__pg_stmt *items = realloc(o->items, cap * sizeof *items);
        if (items == NULL)
            return strata__err_nomem(sp->err);
        o->items = items;
        sp->cap = cap;
    }
    o->items[o->count++] = *st;
    return 0;
}

/* Finds the data of the COPY FROM STDIN `st` whose ';' is at `semi`: from
 * the next line to the "\." line. *next is where splitting resumes. */
static int copy_data(splitter *sp, strata__pg_stmt *st, size_t semi,
                     size_t *next)
{
    const char *s = sp->buf;
    size_t n = sp->len;
    const char *nl;
    if (semi >= n || s[semi] != ';' ||
        (nl = memchr(s + semi + 1, '\n', n - semi - 1)) == NULL)
        return refuse_copy(sp, st->offset, "FROM STDIN has no \\. line",
                           "end the COPY statement with ';', put its data on "
                           "the lines after it and end the data with a line "
                           "holding only \\.");
    size_t eol = (size_t)(nl - s);
    if (skip_blank(s, semi + 1, eol) < eol)
        return refuse_copy(sp, st->offset,
                           "FROM STDIN has more SQL after its ';' on its line",
                           "end the line after the COPY statement's ';': its "
                           "data starts on the next line");
    size_t data = eol + 1, ls = data;
    for (;;) {
        nl = ls < n ? memchr(s + ls, '\n', n - ls) : NULL;
        size_t le = nl != NULL ? (size_t)(nl - s) : n;
        size_t l = le - ls;
        if ((l == 2 || (l == 3 && s[ls + 2] == '\r')) && s[ls] == '\\' &&
            s[ls + 1] == '.') {
            st->data_offset = data;
            st->data_len = ls - data;
            *next = nl != NULL ? le + 1 : n;
            return 0;
        }
        if (nl == NULL)
            return refuse_copy(sp, st->offset, "FROM STDIN has no \\. line",
                               "end the data with a line holding only \\.");
        ls = le + 1;
    }
}

/*
 * Appends the statements of a successful split `r` of buf[base..limit).
 * Stops after the first COPY FROM STDIN and consumes its data: *next is
 * where splitting resumes (limit when there was no COPY) and *copied says
 * whether a COPY stopped the walk.
 */
static int walk(splitter *sp, size_t base, size_t limit,
                const PgQuerySplitResult *r, size_t *next, int *copied)
{
    *next = limit;
    *copied = 0;
    for (int i = 0; i < r->n_stmts; i++) {
        size_t start = base + (size_t)r->stmts[i]->stmt_location;
        size_t end = r->stmts[i]->stmt_len > 0
                         ? start + (size_t)r->stmts[i]->stmt_len
                         : limit;
        if (end > limit)
            end = limit;
        strata__pg_stmt st = {0};
        st.offset = skip_blank(sp->buf, start, end);
        if (st.offset >= end)
            continue;
        size_t last;
        int rc = trim_tail(sp, st.offset, end, &last);
        if (rc < 0)
            return rc;
        st.len = last - st.offset;
        st.line = line_at(sp, st.offset);
        if ((rc = classify(sp, &st)) < 0)
            return rc;
        if ((st.flags & STRATA__PG_COPY_IN) &&
            (rc = copy_data(sp, &st, end, next)) < 0)
            return rc;
        if ((rc = push(sp, &st)) < 0)
            return rc;
        if (st.flags & STRATA__PG_COPY_IN) {
            *copied = 1;
            return 0;
        }
    }
    return 0;
}

/* Whether s[0..n) starts with `word` (lower case), any case, as a word. */
static int starts_with_word(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && has_word(s, w, word) && (n == w || !is_ident_char(s[w]));
}

/* The end of the first statement of s[start..limit) as PostgreSQL's
 * scanner bounds it: its ';' token, or with `whole` (limit is the end of
 * the script) the end; 0 when there is none. A lexer error further on
 * (COPY data, say) cuts the scan short, which then needs the ';'. */
static int first_bound(splitter *sp, size_t start, size_t limit, int whole,
                       size_t *end)
{
    char *s = sp->buf;
    *end = 0;
    for (;;) {
        char saved = s[limit];
        s[limit] = '\0';
        PgQuerySplitResult r = pg_query_split_with_scanner(s + start);
        s[limit] = saved;
        if (r.error != NULL) {
            size_t cut = start + byte_of_char(s + start, limit - start,
                                              r.error->cursorpos);
            int oom = is_oom(r.error);
            pg_query_free_split_result(r);
            if (oom)
                return strata__err_nomem(sp->err);
            if (cut <= start || cut >= limit)
                return 0;
            limit = cut;
            whole = 0;
            continue;
        }
        for (int i = 0; i < r.n_stmts; i++) {
            size_t st = start + (size_t)r.stmts[i]->stmt_location;
            size_t semi = r.stmts[i]->stmt_len > 0
                              ? st + (size_t)r.stmts[i]->stmt_len
                              : limit;
            if (semi < limit && s[semi] == ';')
                *end = semi;
            else if (whole && skip_blank(s, st, limit) < limit)
                *end = limit; /* the last statement, without ';' */
            if (*end != 0 || skip_blank(s, st, limit) < limit)
                break;
        }
        pg_query_free_split_result(r);
        return 0;
    }
}

/*
 * Lenient splitting, after the parser rejected the statement that starts at
 * `stmt_start` (error `e`): the statements before it, from `pos`, as the
 * parser splits them, then that one as PostgreSQL's scanner bounds it,
 * flagged UNPARSED. It is looked for in a window that doubles, so that a
 * script of many such statements is not scanned to its end for each. What
 * the scanner cannot bound safely is refused with `e`: a COPY (its data
 * would be taken for SQL) and a BEGIN ATOMIC body (the scanner ends it at
 * its first ';'). *next is where splitting resumes.
 */
static int pass_on(splitter *sp, size_t pos, size_t stmt_start,
                   const PgQueryError *e, size_t *next)
{
    char *s = sp->buf;
    int rc = 0, copied = 0;
    if (stmt_start > pos) {
        char saved = s[stmt_start];
        s[stmt_start] = '\0';
        PgQuerySplitResult r = pg_query_split_with_parser(s + pos);
        s[stmt_start] = saved;
        /* The region's own error would name the wrong place: the parser
         * read past it the first time. */
        rc = r.error != NULL
                 ? (is_oom(r.error) ? strata__err_nomem(sp->err)
                                    : refuse_syntax(sp, e, pos, pos))
                 : walk(sp, pos, stmt_start, &r, next, &copied);
        pg_query_free_split_result(r);
        if (rc != 0 || copied)
            return rc; /* a COPY ends the walk: split again after its data */
    }
    /* Empty statements (";;") before it are no part of it. */
    size_t from = skip_blank(s, stmt_start, sp->len);
    while (from < sp->len && s[from] == ';')
        from = skip_blank(s, from + 1, sp->len);
    size_t end = 0;
    for (size_t window = 4096;; window *= 2) {
        size_t limit = sp->len - from > window ? from + window : sp->len;
        if ((rc = first_bound(sp, from, limit, limit == sp->len, &end)) < 0)
            return rc;
        if (end != 0 || limit == sp->len)
            break;
    }
    if (end == 0 || starts_with_word(s + from, end - from, "copy"))
        return refuse_syntax(sp, e, pos, from);
    size_t last;
    int atomic;
    if ((rc = scan_statement(sp, from, end, &last, &atomic)) < 0)
        return rc;
    if (rc > 0 || atomic || last == 0 || last > end - from)
        return refuse_syntax(sp, e, pos, from);
    strata__pg_stmt st = {0};
    st.offset = from;
    st.len = last;
    st.line = line_at(sp, st.offset);
    st.flags = STRATA__PG_UNPARSED;
    st.what = "a statement PostgreSQL " PG_MAJORVERSION "'s parser does not "
              "know";
    *next = end < sp->len ? end + 1 : end;
    return push(sp, &st);
}

/*
 * The split of buf[pos..] failed with `e`. If a COPY FROM STDIN comes before
 * the error, its data is what the parser choked on: split up to its ';' and
 * walk on (*next). Otherwise refuse with `e`, or return 1 when the split
 * was `bounded` (cut short before a "\." line): the caller splits again
 * without the bound.
 */
static int after_error(splitter *sp, size_t pos, int bounded,
                       const PgQueryError *e, size_t *next)
{
    char *s = sp->buf;
    size_t at = pos + byte_of_char(s + pos, sp->len - pos, e->cursorpos);
    size_t stmt_start = pos, copy_semi = 0;
    int found = 0;

    if (is_oom(e))
        return strata__err_nomem(sp->err);
    char saved = s[at];
    s[at] = '\0';
    PgQuerySplitResult r = pg_query_split_with_scanner(s + pos);
    s[at] = saved;
    for (int i = 0; r.error == NULL && i < r.n_stmts && !found; i++) {
        size_t st = pos + (size_t)r.stmts[i]->stmt_location;
        size_t semi = st + (size_t)r.stmts[i]->stmt_len;
        if (semi >= at || s[semi] != ';')
            break;
        stmt_start = semi + 1;
        strata__pg_stmt probe = {0};
        probe.offset = skip_blank(s, st, semi);
        probe.len = semi - probe.offset;
        if (probe.len >= 4 && has_word(s + probe.offset, 4, "copy")) {
            int rc = classify(sp, &probe);
            if (rc < 0) {
                pg_query_free_split_result(r);
                return rc;
            }
            if (probe.flags & STRATA__PG_COPY_IN) {
                found = 1;
                copy_semi = semi;
            }
        }
    }
    pg_query_free_split_result(r);
    if (!found && bounded)
        return 1;
    if (!found && sp->lenient)
        return pass_on(sp, pos, stmt_start, e, next);
    if (!found)
        return refuse_syntax(sp, e, pos, skip_blank(s, stmt_start, at));

    saved = s[copy_semi + 1];
    s[copy_semi + 1] = '\0';
    r = pg_query_split_with_parser(s + pos);
    s[copy_semi + 1] = saved;
    int rc = 0, copied = 0;
    if (r.error != NULL)
        rc = refuse_syntax(sp, r.error, pos, pos);
    else
        rc = walk(sp, pos, copy_semi + 1, &r, next, &copied);
    pg_query_free_split_result(r);
    if (rc == 0 && !copied)
        rc = refuse_syntax(sp, e, pos, skip_blank(s, stmt_start, at));
    return rc;
}

int strata__pg_split(strata__pg_script *out, const char *sql, size_t len,
                     const char *path, int first_line, int lenient,
                     strata__err *err)
{
    splitter sp = {0};
    int rc = 0;

    out->count = 0;
    out->items = NULL;
    sp.path = path != NULL ? path : "";
    sp.first_line = first_line > 0 ? first_line : 1;
    sp.err = err;
    sp.lenient = lenient;
    sp.out = out;
    sp.len = len;
    sp.line_no = 1;
    if (len > 0 && memchr(sql, '\0', len) != NULL) {
        size_t at = (size_t)((const char *)memchr(sql, '\0', len) - sql);
        int line = sp.first_line - 1 + strata__line_of(sql, at);
        rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                             "%s has a NUL byte at line %d", sp.path, line);
        strata__err_where(err, sp.path, line, 0, 0);
        strata__err_hint(err, "remove the NUL byte; SQL scripts are text");
        return rc;
    }
    sp.buf = malloc(len + 1);
    if (sp.buf == NULL)
        return strata__err_nomem(err);
    if (len > 0)
        memcpy(sp.buf, sql, len);
    sp.buf[len] = '\0';

    /* Each split stops before the next "\." line (`stop`): a COPY's data
     * ends there, and without the bound every COPY would make the parser
     * copy the whole rest of the script. When the bound cuts SQL (a "\."
     * line inside a string or comment), the split is redone unbounded. */
    size_t pos = 0, stop = 0;
    int unbounded = 0;
    while (rc == 0 && pos < len) {
        size_t next = len;
        int copied;
        if (stop <= pos)
            stop = next_terminator(sp.buf, pos + 1, len);
        size_t end = unbounded ? len : stop;
        char saved = sp.buf[end];
        sp.buf[end] = '\0';
        PgQuerySplitResult r = pg_query_split_with_parser(sp.buf + pos);
        sp.buf[end] = saved;
        if (r.error != NULL)
            rc = after_error(&sp, pos, end < len, r.error, &next);
        else
            rc = walk(&sp, pos, end, &r, &next, &copied);
        pg_query_free_split_result(r);
        unbounded = rc == 1;
        if (rc == 1)
            rc = 0;
        else
            pos = next;
    }
    free(sp.buf);
    if (rc < 0)
        strata__pg_script_free(out);
    return rc;
}

int strata__pg_parser_knows(int server_version)
{
    return server_version < (PG_VERSION_NUM / 10000 + 1) * 10000;
}

void strata__pg_script_free(strata__pg_script *s)
{
    if (s == NULL)
        return;
    free(s->items);
    s->items = NULL;
    s->count = 0;
}
