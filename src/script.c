/*
 * script.c - one section of a migration script, read and checked.
 *
 * A script is refused before it runs if it holds a NUL byte or invalid
 * UTF-8, or a `-- strata:` line that strata would not act on: a directive
 * that is misspelt or sits below the first statement would silently do
 * nothing, and the user would find out in production. So every line that
 * starts with `-- strata:` (after blanks) must be one of:
 *   -- strata:up              once, in the up file, before -- strata:down;
 *                             what precedes it is the file header and may
 *                             hold only comments
 *   -- strata:down            once, in a plain file the scan found it in
 *   -- strata:no-transaction  in the leading comment block of a section, or
 *                             in the header (then it applies to both)
 * The whole file is checked whichever section is loaded, so a file is good
 * or bad as a whole and the line of the problem is always exact.
 */
#include "strata_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

static const char bom[] = "\xEF\xBB\xBF";

/* Offset of the first byte that is not whitespace, a comment or ';', or
 * `len` when there is none. Block comments end at the first star-slash as
 * in SQLite; for PostgreSQL's nested comments this errs towards "has SQL",
 * which is the harmless direction. An unterminated one runs to the end. */
static size_t first_content(const char *s, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(s, bom, 3) == 0)
        i = 3;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
            c == '\v' || c == ';') {
            i++;
        } else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
            const char *nl = memchr(s + i, '\n', len - i);
            i = nl != NULL ? (size_t)(nl - s) + 1 : len;
        } else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t j = i + 2;
            while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            if (j + 1 >= len)
                return len;
            i = j + 2;
        } else {
            return i;
        }
    }
    return len;
}

int strata__sql_has_content(const char *sql, size_t len)
{
    return first_content(sql, len) < len;
}

/* ------------------------------------------------------------------------ */
/* Lines */

typedef enum lkind {
    L_BLANK,
    L_COMMENT, /* a -- line that is not a directive */
    L_OTHER,   /* anything else: SQL, or a block comment */
    L_UP,
    L_DOWN,
    L_NOTX,
    L_UNKNOWN /* -- strata:something we do not know */
} lkind;

typedef struct line {
    size_t start; /* first byte */
    size_t next;  /* first byte of the next line, or len */
    int no;       /* 1-based */
    lkind kind;
} line;

static lkind classify(const char *buf, size_t s, size_t e)
{
    static const char pfx[] = "-- strata:";
    const size_t plen = sizeof pfx - 1;
    if (s == 0 && e >= 3 && memcmp(buf, bom, 3) == 0)
        s = 3;
    while (s < e && (buf[s] == ' ' || buf[s] == '\t'))
        s++;
    while (e > s &&
           (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r'))
        e--;
    if (s == e)
        return L_BLANK;
    if (e - s < 2 || buf[s] != '-' || buf[s + 1] != '-')
        return L_OTHER;
    if (e - s < plen || memcmp(buf + s, pfx, plen) != 0)
        return L_COMMENT;
    s += plen;
    if (e - s == 2 && memcmp(buf + s, "up", 2) == 0)
        return L_UP;
    if (e - s == 4 && memcmp(buf + s, "down", 4) == 0)
        return L_DOWN;
    if (e - s == 14 && memcmp(buf + s, "no-transaction", 14) == 0)
        return L_NOTX;
    return L_UNKNOWN;
}

/* Steps to the line at `pos`; returns 0 at the end of the text. */
static int next_line(line *l, const char *buf, size_t len, size_t pos, int no)
{
    if (pos >= len)
        return 0;
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - buf) : len;
    l->start = pos;
    l->next = nl != NULL ? end + 1 : len;
    l->no = no;
    l->kind = classify(buf, pos, end);
    return 1;
}

int strata__script_head_no_tx(const char *buf, size_t len)
{
    /* The same rule as pass 2 of check_lines() for the up part: in a
     * header above -- strata:up the directive counts wherever it stands;
     * below it, only in the leading comment block. */
    line l;
    size_t pos = 0;
    int has_up = 0;
    for (int no = 1; next_line(&l, buf, len, pos, no); no++, pos = l.next) {
        if (l.kind == L_DOWN)
            break;
        if (l.kind == L_UP)
            has_up = 1;
    }
    int header = has_up, lead = 1;
    pos = 0;
    for (int no = 1; next_line(&l, buf, len, pos, no); no++, pos = l.next) {
        if (l.kind == L_DOWN)
            break;
        if (l.kind == L_UP) {
            header = 0;
            lead = 1;
        } else if (l.kind == L_OTHER) {
            lead = 0;
        } else if (l.kind == L_NOTX && (header || lead)) {
            return 1;
        }
    }
    return 0;
}

/* What the marker lines say about a file. */
typedef struct layout {
    int up_no, down_no; /* lines of the markers, 0 when absent */
    size_t up_next;     /* where the up section starts */
    size_t down_start;  /* the down marker line */
    size_t down_next;   /* where the down section starts */
    int notx_head, notx_up, notx_down;
} layout;

static int refuse(strata__err *err, const char *path, int line_no,
                  const char *hint, const char *fmt, const char *arg)
{
    int rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_BAD_SCRIPT,
                             fmt, arg);
    strata__err_where(err, path, line_no, 0, 0);
    strata__err_hint(err, "%s", hint);
    return rc;
}

/* Checks every `-- strata:` line of buf and fills `lay`. `is_up_file` says
 * whether up markers may appear, `split` whether a down marker may. */
static int check_lines(layout *lay, const char *buf, size_t len,
                       const char *path, int is_up_file, int split,
                       strata__err *err)
{
    line l;
    size_t pos = 0;
    int no = 1;

    memset(lay, 0, sizeof *lay);
    lay->down_start = lay->down_next = len;
    /* Pass 1: the markers, and every unknown directive. */
    for (; next_line(&l, buf, len, pos, no); pos = l.next, no++) {
        if (l.kind == L_UNKNOWN)
            return refuse(err, path, l.no,
                          "the directives are -- strata:no-transaction, "
                          "-- strata:up and -- strata:down; write other "
                          "comments without the strata: prefix",
                          "%s has an unknown -- strata: directive", path);
        if (l.kind == L_UP) {
            if (!is_up_file)
                return refuse(err, path, l.no,
                              "a separate down script needs no marker; "
                              "remove the line",
                              "%s is a down script, -- strata:up does "
                              "not belong in it",
                              path);
            if (lay->up_no != 0)
                return refuse(err, path, l.no, "keep one -- strata:up line",
                              "%s has a second -- strata:up line", path);
            if (lay->down_no != 0)
                return refuse(err, path, l.no,
                              "put -- strata:up above -- strata:down",
                              "%s has -- strata:up after -- strata:down", path);
            lay->up_no = l.no;
            lay->up_next = l.next;
        } else if (l.kind == L_DOWN) {
            if (!split)
                return refuse(err, path, l.no,
                              "only a plain NNN_name.sql file may hold both "
                              "parts; put the down part in the down script",
                              "%s is not a single up/down file, "
                              "-- strata:down does not belong in it",
                              path);
            if (lay->down_no != 0)
                return refuse(err, path, l.no, "keep one -- strata:down line",
                              "%s has a second -- strata:down line", path);
            lay->down_no = l.no;
            lay->down_start = l.start;
            lay->down_next = l.next;
        }
    }
    if (lay->up_no != 0) {
        size_t c = first_content(buf, lay->up_next);
        if (c < lay->up_next)
            return refuse(err, path, strata__line_of(buf, c),
                          "move the SQL below -- strata:up; above it only "
                          "comments and directives may stand",
                          "%s has SQL above -- strata:up", path);
    }

    /* Pass 2: no-transaction only in a leading comment block. `lead` is
     * 1 while no SQL line has been seen in the current region. */
    int region = lay->up_no != 0 ? 0 : 1; /* 0 header, 1 up, 2 down */
    int lead = 1;
    pos = 0;
    no = 1;
    for (; next_line(&l, buf, len, pos, no); pos = l.next, no++) {
        if (l.kind == L_UP || l.kind == L_DOWN) {
            region = l.kind == L_UP ? 1 : 2;
            lead = 1;
        } else if (l.kind == L_OTHER) {
            lead = 0;
        } else if (l.kind == L_NOTX) {
            if (!lead && region != 0)
                return refuse(err, path, l.no,
                              "put -- strata:no-transaction among the "
                              "comment lines at the top of the script, "
                              "before any SQL",
                              "%s has -- strata:no-transaction below SQL",
                              path);
            if (region == 0)
                lay->notx_head = 1;
            else if (region == 1)
                lay->notx_up = 1;
            else
                lay->notx_down = 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

void strata__script_free(strata__script *s)
{
    if (s == NULL)
        return;
    free(s->buf);
    free(s->expanded);
    free(s->map);
    memset(s, 0, sizeof *s);
}

void strata__script_locate(const strata__script *s, strata__err *err)
{
    int k = err->pub.line - s->first_line; /* the section's line, from 0 */
    if (s->map == NULL || err->pub.column <= 0 || k < 0 ||
        strcmp(err->file, s->path) != 0)
        return;
    size_t off = 0;
    while (k > 0 && off < s->len)
        if (s->sql[off++] == '\n')
            k--;
    if (k > 0)
        return;
    /* A column past the end of its line is not one the drivers give. */
    size_t col = (size_t)err->pub.column - 1;
    if (col > s->len - off || memchr(s->sql + off, '\n', col) != NULL)
        return;
    off += col;
    size_t raw = strata__template_raw_offset(s->map, s->nmap, off);
    err->pub.column = strata__column_of(s->raw, raw);
}

int strata__script_load(strata__script *out, const strata__migration *m,
                        strata_direction dir, const strata_embedded *set,
                        const strata__template_ctx *tctx, strata__err *err)
{
    strata__script s;
    layout lay;
    char *expanded = NULL;
    size_t elen = 0;
    int rc = STRATA_OK;

    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    if (dir == STRATA_DIRECTION_DOWN && m->down_path == NULL) {
        rc = strata__err_set(err, STRATA_EREFUSED, STRATA_REASON_NO_DOWN,
                             "migration %s (%s) has no down script", m->version,
                             m->name);
        strata__err_where(err, m->up_path, 0, 0, 0);
        strata__err_version(err, m->version);
        strata__err_hint(err,
                         "add a down script %s_%s.down.sql, or a "
                         "-- strata:down section to the up script; "
                         "or leave this migration applied",
                         m->version, m->name);
        goto out;
    }
    /* A marker file is read as the up file whichever part is wanted. */
    int is_up_file = dir == STRATA_DIRECTION_UP || m->markers;
    s.path = is_up_file ? m->up_path : m->down_path;

    size_t len = 0;
    strata_embedded_file emb;
    if (set != NULL) {
        /* Embedded: a copy, since the section is cut out of it in place. */
        rc = strata__embedded_get(set, s.path, &emb, err);
        if (rc == STRATA_OK) {
            s.buf = strata__strndup(emb.data, emb.size);
            len = emb.size;
            rc = s.buf != NULL ? STRATA_OK : strata__err_nomem(err);
        }
    } else {
        rc = strata__read_file(&s.buf, &len, s.path, err);
    }
    if (rc != 0)
        goto out;

    const char *nul = memchr(s.buf, '\0', len);
    if (nul != NULL) {
        rc = refuse(err, s.path, strata__line_of(s.buf, (size_t)(nul - s.buf)),
                    "a script must be UTF-8 text; was it saved as UTF-16?",
                    "%s contains a NUL byte", s.path);
        goto out;
    }
    const uint8_t *bad = u8_check((const uint8_t *)s.buf, len);
    if (bad != NULL) {
        rc = refuse(
            err, s.path,
            strata__line_of(s.buf, (size_t)(bad - (const uint8_t *)s.buf)),
            "save the script as UTF-8", "%s is not valid UTF-8", s.path);
        goto out;
    }
    rc = check_lines(&lay, s.buf, len, s.path, is_up_file, m->markers, err);
    if (rc != 0)
        goto out;

    size_t start, end;
    int notx;
    if (!is_up_file) {
        start = 0;
        end = len;
        notx = lay.notx_up; /* a down file's own top counts as its section */
    } else if (dir == STRATA_DIRECTION_UP) {
        start = lay.up_no != 0 ? lay.up_next : 0;
        end = lay.down_start;
        notx = lay.notx_head || lay.notx_up;
    } else {
        if (lay.down_no == 0) {
            /* The file lost its marker since the directory was scanned. */
            rc = refuse(err, s.path, 0,
                        "add the -- strata:down line back, or a down script",
                        "%s has no -- strata:down line", s.path);
            goto out;
        }
        start = lay.down_next;
        end = len;
        notx = lay.notx_head || lay.notx_down;
    }
    if (start == 0 && end >= 3 && memcmp(s.buf, bom, 3) == 0)
        start = 3; /* the database would take the BOM for a token */
    s.first_line = strata__line_of(s.buf, start);
    /* Before the section is cut out of it: the file as the plan saw it. */
    strata__checksum(s.checksum, s.buf, len);
    /* Ends the section in place so that it is a C string too. */
    s.buf[end] = '\0';
    s.sql = s.buf + start;
    s.len = end - start;
    s.no_transaction = notx || m->meta_no_tx;
    s.has_sql = strata__sql_has_content(s.sql, s.len);

    s.raw = s.sql;
    rc = strata__template_expand(&expanded, &elen, &s.map, &s.nmap, s.sql,
                                 s.len, tctx, s.path, s.first_line, err);
    if (rc != 0)
        goto out;
    if (expanded != NULL) {
        s.expanded = expanded;
        s.sql = expanded;
        s.len = elen;
        expanded = NULL;
    }
    *out = s;
    memset(&s, 0, sizeof s);
out:
    if (rc != 0 && rc != STRATA_ENOMEM)
        strata__err_version(err, m->version);
    strata__script_free(&s);
    free(expanded);
    return rc;
}
