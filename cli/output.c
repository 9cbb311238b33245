/*
 * output.c - everything the strata command prints.
 *
 * Results go to stdout, as text or as fields of the one --json document;
 * errors, progress and log lines go to stderr. Library strings are printed
 * as they come, except that a URL's password is masked wherever it appears,
 * and JSON strings are made valid UTF-8. The formats here are a contract
 * with scripts: change them only by adding.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_human(const cli_ctx *ctx)
{
    return !ctx->json && !ctx->quiet;
}

json_t *cli_doc(cli_ctx *ctx)
{
    if (ctx->doc == NULL)
        ctx->doc = json_object();
    return ctx->doc;
}

void cli_jset(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL) {
        json_decref(value);
        return;
    }
    /* Steals `value` even on failure; nothing else to do then. */
    (void)json_object_set_new(obj, key, value != NULL ? value : json_null());
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned int min;
    unsigned int cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

json_t *cli_jstr(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *v = json_string(s);
    if (v != NULL)
        return v;
    /* Not UTF-8 (a file name, a database message): replace bad bytes with
     * U+FFFD so the document stays valid and the rest stays readable. */
    size_t n = strlen(s);
    char *buf = malloc(n * 3 + 1);
    if (buf == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    v = json_string(buf);
    free(buf);
    return v;
}

json_t *cli_jopt(const char *s)
{
    return s == NULL || *s == '\0' ? json_null() : cli_jstr(s);
}

/* ------------------------------------------------------------------------ */
/* Masking secrets                                                           */

/* Finds the password of a URL "scheme://user:pass@host/..." as [*p, *p+*n). */
static int url_password(const char *url, const char **p, size_t *n)
{
    const char *auth = url != NULL ? strstr(url, "://") : NULL;
    if (auth == NULL)
        return 0;
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (at == NULL)
        return 0;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL || colon + 1 == at)
        return 0;
    *p = colon + 1;
    *n = (size_t)(at - colon - 1);
    return 1;
}

void cli_mask_url(char *buf, size_t cap, const char *url)
{
    char *masked = strata_mask_url(url);
    snprintf(buf, cap, "%s", masked != NULL ? masked : "(hidden)");
    strata_string_free(masked);
}

/*
 * Prints `s` to `f` with every ":<password>@" of the URL in use replaced by
 * ":***@": the library should never echo a password, and this makes sure the
 * command does not either.
 */
static void put_masked(const cli_ctx *ctx, FILE *f, const char *s)
{
    const char *url = ctx->url != NULL ? ctx->url : getenv("DATABASE_URL");
    const char *p;
    size_t n;
    if (s == NULL)
        return;
    if (!url_password(url, &p, &n)) {
        fputs(s, f);
        return;
    }
    for (;;) {
        const char *hit = strstr(s, ":");
        while (hit != NULL &&
               !(strncmp(hit + 1, p, n) == 0 && hit[1 + n] == '@'))
            hit = strchr(hit + 1, ':');
        if (hit == NULL)
            break;
        fwrite(s, 1, (size_t)(hit - s), f);
        fputs(":***@", f);
        s = hit + 2 + n;
    }
    fputs(s, f);
}

/* The same for a JSON string value. */
static json_t *jmasked(const cli_ctx *ctx, const char *s)
{
    if (s == NULL || *s == '\0')
        return json_null();
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m == NULL)
        return NULL;
    put_masked(ctx, m, s);
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    json_t *v = cli_jstr(buf);
    free(buf);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

void cli_report_error(cli_ctx *ctx, int code, const strata_error *err)
{
    /* The returned code is the truth; the record only adds detail. */
    const char *message = err->message != NULL && *err->message
                              ? err->message
                              : strata_code_name(code);

    fflush(stdout); /* results first when both streams go to one place */
    fputs("strata: error: ", stderr);
    if (err->file != NULL && *err->file) {
        put_masked(ctx, stderr, err->file);
        if (err->line > 0)
            fprintf(stderr, ":%d", err->line);
        fputs(": ", stderr);
    }
    put_masked(ctx, stderr, message);
    fputc('\n', stderr);
    if (err->db_message != NULL && *err->db_message) {
        fputs("  database: ", stderr);
        put_masked(ctx, stderr, err->db_message);
        if (err->sqlstate != NULL && *err->sqlstate)
            fprintf(stderr, " (SQLSTATE %s)", err->sqlstate);
        else if (err->db_code != 0)
            fprintf(stderr, " (code %d)", err->db_code);
        fputc('\n', stderr);
    }
    if (err->db_detail != NULL && *err->db_detail) {
        fputs("  detail: ", stderr);
        put_masked(ctx, stderr, err->db_detail);
        fputc('\n', stderr);
    }
    if (err->hint != NULL && *err->hint) {
        fputs("  hint: ", stderr);
        put_masked(ctx, stderr, err->hint);
        fputc('\n', stderr);
    }

    if (!ctx->json)
        return;
    json_t *e = json_object();
    cli_jset(e, "code", cli_jstr(strata_code_name(code)));
    cli_jset(e, "exit", json_integer(cli_exit_status(code)));
    cli_jset(e, "reason",
             err->reason != STRATA_REASON_NONE
                 ? cli_jstr(strata_reason_name(err->reason))
                 : json_null());
    cli_jset(e, "message", jmasked(ctx, message));
    cli_jset(e, "hint", jmasked(ctx, err->hint));
    cli_jset(e, "file", jmasked(ctx, err->file));
    cli_jset(e, "line", err->line > 0 ? json_integer(err->line) : json_null());
    cli_jset(e, "statement_line",
             err->statement_line > 0 ? json_integer(err->statement_line)
                                     : json_null());
    cli_jset(e, "column",
             err->column > 0 ? json_integer(err->column) : json_null());
    cli_jset(e, "version", cli_jopt(err->version));
    cli_jset(e, "db_message", jmasked(ctx, err->db_message));
    cli_jset(e, "db_detail", jmasked(ctx, err->db_detail));
    cli_jset(e, "db_code",
             err->db_code != 0 ? json_integer(err->db_code) : json_null());
    cli_jset(e, "sqlstate", cli_jopt(err->sqlstate));
    cli_jset(cli_doc(ctx), "error", e);
}

/* ------------------------------------------------------------------------ */
/* Tables and numbers                                                        */

void cli_format_ms(char *buf, size_t cap, long long ms)
{
    if (ms < 0)
        snprintf(buf, cap, "-");
    else if (ms < 10000)
        snprintf(buf, cap, "%lld ms", ms);
    else
        snprintf(buf, cap, "%.1f s", (double)ms / 1000.0);
}

/* Display width of a UTF-8 string, counted in code points. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void cli_print_table(size_t rows, size_t cols, cli_table_row row,
                     const void *payload)
{
    enum { MAX_COLS = 16 };
    size_t w[MAX_COLS] = {0};
    const char *cells[MAX_COLS];
    char scratch[CLI_TABLE_SCRATCH];
    if (cols > MAX_COLS)
        cols = MAX_COLS;
    for (size_t r = 0; r < rows; r++) {
        row(payload, r, cells, scratch);
        for (size_t c = 0; c < cols; c++) {
            size_t n = width(cells[c]);
            if (n > w[c])
                w[c] = n;
        }
    }
    for (size_t r = 0; r < rows; r++) {
        row(payload, r, cells, scratch);
        for (size_t c = 0; c < cols; c++) {
            fputs(cells[c], stdout);
            if (c + 1 < cols)
                printf("%*s", (int)(w[c] - width(cells[c]) + 2), "");
        }
        fputc('\n', stdout);
    }
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                   */

static const char *done_verb(strata_action a)
{
    switch (a) {
    case STRATA_ACTION_UP: return "applied";
    case STRATA_ACTION_DOWN: return "reverted";
    case STRATA_ACTION_BASELINE: return "baselined";
    case STRATA_ACTION_REPAIR: return "repaired";
    case STRATA_ACTION_FORGET: return "forgot";
    case STRATA_ACTION_CREATE: return "created";
    }
    return strata_action_name(a);
}

static const char *dry_verb(strata_action a)
{
    switch (a) {
    case STRATA_ACTION_UP: return "would apply";
    case STRATA_ACTION_DOWN: return "would revert";
    case STRATA_ACTION_BASELINE: return "would baseline";
    case STRATA_ACTION_REPAIR: return "would repair";
    case STRATA_ACTION_FORGET: return "would forget";
    case STRATA_ACTION_CREATE: return "would create";
    }
    return strata_action_name(a);
}

static void print_step(const cli_ctx *ctx, const strata_step *s, int dry)
{
    int timed = !dry && (s->action == STRATA_ACTION_UP ||
                         s->action == STRATA_ACTION_DOWN);
    printf("%s", dry ? dry_verb(s->action) : done_verb(s->action));
    if (s->action == STRATA_ACTION_CREATE) {
        printf(" %s\n", s->file);
        return;
    }
    if (*s->version)
        printf(" %s", s->version);
    if (*s->name)
        printf(" %s", s->name);
    if (s->action == STRATA_ACTION_REPAIR && *s->old_checksum &&
        *s->new_checksum)
        printf(": checksum %.12s -> %.12s", s->old_checksum, s->new_checksum);
    /* "(12 ms)", "(12 ms, no-transaction)", "(dry run)" */
    if (timed || *s->detail) {
        fputs(" (", stdout);
        if (timed) {
            char ms[32];
            cli_format_ms(ms, sizeof ms, s->duration_ms);
            fputs(ms, stdout);
            if (*s->detail)
                fputs(", ", stdout);
        }
        put_masked(ctx, stdout, s->detail);
        fputc(')', stdout);
    }
    fputc('\n', stdout);
}

static json_t *step_json(const cli_ctx *ctx, const strata_step *s)
{
    json_t *o = json_object();
    cli_jset(o, "action", cli_jstr(strata_action_name(s->action)));
    cli_jset(o, "version", cli_jopt(s->version));
    cli_jset(o, "name", cli_jopt(s->name));
    cli_jset(o, "file", cli_jopt(s->file));
    cli_jset(o, "duration_ms", json_integer(s->duration_ms));
    cli_jset(o, "old_checksum", cli_jopt(s->old_checksum));
    cli_jset(o, "new_checksum", cli_jopt(s->new_checksum));
    cli_jset(o, "detail", jmasked(ctx, s->detail));
    return o;
}

void cli_print_report(cli_ctx *ctx, const strata_report *report, int rc,
                      const char *none)
{
    if (report == NULL)
        return;
    if (ctx->json) {
        json_t *doc = cli_doc(ctx);
        json_t *steps = json_array();
        cli_jset(doc, "module", cli_jstr(report->module));
        cli_jset(doc, "from", cli_jstr(report->from_version));
        cli_jset(doc, "to", cli_jstr(report->to_version));
        cli_jset(doc, "dry_run", json_boolean(report->dry_run));
        for (size_t i = 0; i < report->count; i++)
            (void)json_array_append_new(steps,
                                        step_json(ctx, report->steps[i]));
        cli_jset(doc, "steps", steps);
        return;
    }
    if (ctx->quiet)
        return;
    for (size_t i = 0; i < report->count; i++)
        print_step(ctx, report->steps[i], report->dry_run);
    if (report->count == 0 && rc == 0 && none != NULL)
        printf("%s\n", none);
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                     */

/* cli_table_row for a plan: one migration a row. */
static void plan_row(const void *payload, size_t r, const char **cells,
                     char *scratch)
{
    static const char *const head[] = {"VERSION", "NAME", "STATE", "APPLIED AT",
                                       "TIME"};
    const strata_plan *plan = payload;
    if (r == 0) {
        memcpy(cells, head, sizeof head);
        return;
    }
    const strata_migration *m = plan->migrations[r - 1];
    cli_format_ms(scratch, CLI_TABLE_SCRATCH, m->execution_ms);
    cells[0] = m->version;
    cells[1] = *m->name ? m->name : "-";
    cells[2] = strata_state_name(m->state);
    cells[3] = *m->applied_at ? m->applied_at : "-";
    cells[4] = scratch;
}

static json_t *migration_json(const strata_migration *m)
{
    json_t *o = json_object();
    cli_jset(o, "version", cli_jstr(m->version));
    cli_jset(o, "name", cli_jstr(m->name));
    cli_jset(o, "state", cli_jstr(strata_state_name(m->state)));
    cli_jset(o, "applied_at", cli_jopt(m->applied_at));
    cli_jset(o, "execution_ms",
             m->execution_ms >= 0 ? json_integer(m->execution_ms)
                                  : json_null());
    cli_jset(o, "applied_by", cli_jopt(m->applied_by));
    cli_jset(o, "checksum", cli_jopt(m->checksum));
    cli_jset(o, "recorded_checksum", cli_jopt(m->recorded_checksum));
    cli_jset(o, "up_file", cli_jopt(m->up_file));
    cli_jset(o, "down_file", cli_jopt(m->down_file));
    cli_jset(o, "reversible", json_boolean(m->reversible));
    cli_jset(o, "no_transaction", json_boolean(m->no_transaction));
    return o;
}

void cli_print_plan(cli_ctx *ctx, const strata_plan *plan)
{
    if (plan == NULL)
        return;
    if (ctx->json) {
        json_t *doc = cli_doc(ctx);
        json_t *list = json_array();
        cli_jset(doc, "module", cli_jstr(plan->module));
        cli_jset(doc, "current", cli_jstr(plan->current));
        for (size_t i = 0; i < plan->count; i++)
            (void)json_array_append_new(list,
                                        migration_json(plan->migrations[i]));
        cli_jset(doc, "migrations", list);
        return;
    }
    if (ctx->quiet)
        return;
    if (plan->count == 0) {
        printf("no migrations\n");
        printf("current: %s\n", plan->current);
        return;
    }

    cli_print_table(plan->count + 1, 5, plan_row, plan);
    printf("current: %s\n", plan->current);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static const char *dir_word(strata_direction d)
{
    return d == STRATA_DIRECTION_DOWN ? "down" : "up";
}

/* One JSON object per line on stderr, for log collectors
 * (--log-format json): every event, whatever -v says. */
static void event_json(const strata_event *ev)
{
    static const char *const types[] = {
        "",
        "run_start",
        "lock_wait",
        "lock_acquired",
        "migration_start",
        "migration_done",
        "migration_fail",
        "run_done",
        "log",
    };
    static const char *const levels[] = {"debug", "info", "warn"};
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(now.tv_nsec / 1000000));
    json_t *o = json_object();
    if (o == NULL)
        return;
    cli_jset(o, "ts", cli_jstr(ts));
    cli_jset(o, "event",
             cli_jstr((unsigned)ev->type < sizeof types / sizeof types[0]
                          ? types[ev->type]
                          : "unknown"));
    if (ev->module)
        cli_jset(o, "module", cli_jstr(ev->module));
    if (ev->version) {
        cli_jset(o, "version", cli_jstr(ev->version));
        cli_jset(o, "name", cli_jstr(ev->name));
        cli_jset(o, "file", cli_jstr(ev->file));
        cli_jset(o, "direction", cli_jstr(dir_word(ev->direction)));
    }
    if (ev->total > 0 || ev->type == STRATA_EVENT_RUN_START) {
        cli_jset(o, "index", json_integer((json_int_t)ev->index));
        cli_jset(o, "total", json_integer((json_int_t)ev->total));
    }
    if (ev->type == STRATA_EVENT_MIGRATION_DONE ||
        ev->type == STRATA_EVENT_MIGRATION_FAIL ||
        ev->type == STRATA_EVENT_RUN_DONE ||
        ev->type == STRATA_EVENT_LOCK_ACQUIRED)
        cli_jset(o, "duration_ms", json_integer(ev->duration_ms));
    if (ev->type == STRATA_EVENT_LOG)
        cli_jset(o, "level", cli_jstr(levels[ev->level <= 2 ? ev->level : 1]));
    if (ev->message)
        cli_jset(o, "message", cli_jstr(ev->message));
    if (ev->error != NULL && ev->error->code != 0) {
        json_t *e = json_object();
        cli_jset(e, "code", cli_jstr(strata_code_name(ev->error->code)));
        cli_jset(e, "message", cli_jstr(ev->error->message));
        cli_jset(e, "file", cli_jstr(ev->error->file));
        cli_jset(e, "line", json_integer(ev->error->line));
        cli_jset(e, "db_message", cli_jstr(ev->error->db_message));
        cli_jset(e, "sqlstate", cli_jstr(ev->error->sqlstate));
        cli_jset(o, "error", e);
    }
    json_dumpf(o, stderr, JSON_COMPACT);
    fputc('\n', stderr);
    json_decref(o);
}

void cli_on_event(const strata_event *ev, void *payload)
{
    const cli_ctx *ctx = payload;
    char ms[32];

    if (ctx->log_json) {
        event_json(ev);
        return;
    }
    if (ctx->quiet)
        return;
    if (ev->type == STRATA_EVENT_LOG) {
        /* Warnings are always worth a line; the rest only with -v. */
        if (ev->level == STRATA_LOG_WARN ||
            (ev->level == STRATA_LOG_INFO && ctx->verbose > 0) ||
            ctx->verbose > 1) {
            fprintf(stderr, "strata: %s: ",
                    ev->level == STRATA_LOG_WARN   ? "warning"
                    : ev->level == STRATA_LOG_INFO ? "info"
                                                   : "debug");
            put_masked(ctx, stderr, ev->message);
            fputc('\n', stderr);
        }
        return;
    }
    if (ctx->verbose == 0)
        return;

    cli_format_ms(ms, sizeof ms, ev->duration_ms);
    switch (ev->type) {
    case STRATA_EVENT_RUN_START:
        fprintf(stderr, "strata: module %s: %zu step%s planned\n",
                ev->module ? ev->module : "", ev->total,
                ev->total == 1 ? "" : "s");
        break;
    case STRATA_EVENT_LOCK_WAIT:
        fputs("strata: waiting for the migration lock", stderr);
        if (ev->message != NULL && *ev->message) {
            fputs(": ", stderr);
            put_masked(ctx, stderr, ev->message);
        }
        fputc('\n', stderr);
        break;
    case STRATA_EVENT_LOCK_ACQUIRED:
        fprintf(stderr, "strata: lock acquired (waited %s)\n", ms);
        break;
    case STRATA_EVENT_MIGRATION_START:
        fprintf(stderr, "strata: [%zu/%zu] %s %s %s (%s)\n", ev->index,
                ev->total, dir_word(ev->direction),
                ev->version ? ev->version : "", ev->name ? ev->name : "",
                ev->file ? ev->file : "");
        break;
    case STRATA_EVENT_MIGRATION_DONE:
        fprintf(stderr, "strata: [%zu/%zu] done %s %s (%s)\n", ev->index,
                ev->total, ev->version ? ev->version : "",
                ev->name ? ev->name : "", ms);
        break;
    case STRATA_EVENT_MIGRATION_FAIL:
        fprintf(stderr, "strata: [%zu/%zu] failed %s %s\n", ev->index,
                ev->total, ev->version ? ev->version : "",
                ev->name ? ev->name : "");
        break;
    case STRATA_EVENT_RUN_DONE:
        fprintf(stderr, "strata: done in %s\n", ms);
        break;
    case STRATA_EVENT_LOG: break;
    }
}
