/*
 * cmd_redo.c - `strata redo`: revert the newest migration and apply it
 * again, under one lock; the usual loop while writing a migration.
 */
#include "cli.h"

const char cmd_redo_usage[] =
    "usage: strata redo [--dry-run]\n"
    "\n"
    "Reverts the newest applied migration and applies it again, under one\n"
    "lock. Refuses (exit 3) like 'strata down'.\n"
    "\n"
    "Options:\n"
    "  --dry-run  show what would be done, change nothing\n"
    "\n"
    "Output: a 'reverted ...' line then an 'applied ...' line. With --json:\n"
    "{module, from, to, dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_DRY_RUN = CLI_OPT_BASE };

static const struct option options[] = {
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    strata_run_options *run = state;
    (void)ctx;
    (void)arg;
    if (opt != OPT_DRY_RUN)
        return STRATA_EUSAGE;
    run->dry_run = 1;
    return 0;
}

int cmd_redo(cli_ctx *ctx, int argc, char **argv)
{
    strata_run_options run;
    strata_report *report = NULL;
    int npos;

    strata_run_options_init(&run);
    int rc =
        cli_parse(ctx, argc, argv, options, option, &run, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_redo(&report, ctx->db, &run);
    cli_print_report(ctx, report, rc, "nothing to redo");
    strata_report_free(report);
    return rc;
}
