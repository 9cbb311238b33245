/*
 * cmd_history.c - `strata history`: the append-only log of every up, down,
 * baseline, repair and forget of the module, oldest first.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char cmd_history_usage[] =
    "usage: strata history [--limit N]\n"
    "\n"
    "Shows the log of every change strata made to the module: up, down,\n"
    "baseline, repair and forget, oldest first. Does not need the\n"
    "migrations directory.\n"
    "\n"
    "Options:\n"
    "  --limit N  show only the newest N entries\n"
    "\n"
    "Output: a table (ID, AT, ACTION, VERSION, NAME, TIME, BY). With --json:\n"
    "{module, entries[]}.\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_LIMIT = CLI_OPT_BASE };

static const struct option options[] = {
    {"limit", required_argument, NULL, OPT_LIMIT},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    unsigned long n;
    if (opt != OPT_LIMIT)
        return STRATA_EUSAGE;
    if (cli_parse_count(ctx, "--limit", arg, 1000000000ul, &n) != 0)
        return STRATA_EUSAGE;
    *(size_t *)state = n;
    return 0;
}

static json_t *entry_json(const strata_history_entry *e)
{
    json_t *o = json_object();
    cli_jset(o, "id", json_integer(e->id));
    cli_jset(o, "action", cli_jstr(strata_action_name(e->action)));
    cli_jset(o, "version", cli_jopt(e->version));
    cli_jset(o, "name", cli_jopt(e->name));
    cli_jset(o, "at", cli_jopt(e->at));
    cli_jset(o, "execution_ms",
             e->execution_ms >= 0 ? json_integer(e->execution_ms)
                                  : json_null());
    cli_jset(o, "applied_by", cli_jopt(e->applied_by));
    cli_jset(o, "checksum", cli_jopt(e->checksum));
    cli_jset(o, "old_checksum", cli_jopt(e->old_checksum));
    cli_jset(o, "detail", cli_jopt(e->detail));
    return o;
}

/* cli_table_row for the history: one entry a row. */
static void history_row(const void *payload, size_t r, const char **cells,
                        char *scratch)
{
    static const char *const head[] = {"ID",   "AT",   "ACTION", "VERSION",
                                       "NAME", "TIME", "BY"};
    const strata_history_list *h = payload;
    if (r == 0) {
        memcpy(cells, head, sizeof head);
        return;
    }
    const strata_history_entry *e = h->entries[r - 1];
    char *id = scratch, *ms = scratch + CLI_TABLE_SCRATCH / 2;
    snprintf(id, CLI_TABLE_SCRATCH / 2, "%lld", (long long)e->id);
    cli_format_ms(ms, CLI_TABLE_SCRATCH / 2, e->execution_ms);
    cells[0] = id;
    cells[1] = *e->at ? e->at : "-";
    cells[2] = strata_action_name(e->action);
    cells[3] = *e->version ? e->version : "-";
    cells[4] = *e->name ? e->name : "-";
    cells[5] = ms;
    cells[6] = *e->applied_by ? e->applied_by : "-";
}

static void print_text(const strata_history_list *h)
{
    cli_print_table(h->count + 1, 7, history_row, h);
}

int cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    strata_history_list *h = NULL;
    size_t limit = 0;
    int npos;

    int rc =
        cli_parse(ctx, argc, argv, options, option, &limit, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB);
    if (rc != 0)
        return rc;
    rc = strata_history(&h, ctx->db, limit);
    if (rc == 0) {
        if (ctx->json) {
            json_t *doc = cli_doc(ctx);
            json_t *list = json_array();
            cli_jset(doc, "module", cli_jstr(h->module));
            for (size_t i = 0; i < h->count; i++)
                (void)json_array_append_new(list, entry_json(h->entries[i]));
            cli_jset(doc, "entries", list);
        } else if (!ctx->quiet) {
            if (h->count == 0)
                printf("no history\n");
            else
                print_text(h);
        }
    }
    strata_history_list_free(h);
    return rc;
}
