/*
 * cmd_up.c - `strata up`: apply pending migrations.
 *
 * Turns the flags into strata_run_options and prints the report: one line
 * per applied migration, or "already up to date". A failure after some
 * migrations were applied still prints those before the error.
 */
#include "cli.h"

const char cmd_up_usage[] =
    "usage: strata up [--to VERSION | --steps N] [--dry-run]\n"
    "                 [--allow-out-of-order] [--single-transaction]\n"
    "\n"
    "Applies pending migrations in version order, each in its own\n"
    "transaction with its tracking row. Refuses before running anything\n"
    "(exit 3) when a migration is modified, missing, dirty or out of order.\n"
    "\n"
    "Options:\n"
    "  --to VERSION          apply migrations up to and including VERSION\n"
    "  --steps N             apply at most N migrations\n"
    "  --dry-run             show what would be applied, change nothing\n"
    "  --allow-out-of-order  also apply pending versions older than the\n"
    "                        newest applied one\n"
    "  --single-transaction  run the whole batch in one transaction\n"
    "\n"
    "Output: 'applied VERSION NAME (TIME)' per migration, or 'already up to\n"
    "date'. With --json: {module, from, to, dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

enum {
    OPT_TO = CLI_OPT_BASE,
    OPT_STEPS,
    OPT_DRY_RUN,
    OPT_OUT_OF_ORDER,
    OPT_SINGLE
};

static const struct option options[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"allow-out-of-order", no_argument, NULL, OPT_OUT_OF_ORDER},
    {"single-transaction", no_argument, NULL, OPT_SINGLE},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    strata_run_options *run = state;
    unsigned long n;
    switch (opt) {
    case OPT_TO: run->to = arg; return 0;
    case OPT_STEPS:
        if (cli_parse_count(ctx, "--steps", arg, 1000000, &n) != 0)
            return STRATA_EUSAGE;
        run->steps = (unsigned int)n;
        return 0;
    case OPT_DRY_RUN: run->dry_run = 1; return 0;
    case OPT_OUT_OF_ORDER: run->allow_out_of_order = 1; return 0;
    case OPT_SINGLE: run->single_transaction = 1; return 0;
    }
    return STRATA_EUSAGE;
}

int cmd_up(cli_ctx *ctx, int argc, char **argv)
{
    strata_run_options run;
    strata_report *report = NULL;
    int npos;

    strata_run_options_init(&run);
    int rc =
        cli_parse(ctx, argc, argv, options, option, &run, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    if (run.to != NULL && run.steps != 0)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "give one of them",
                        "--to and --steps exclude "
                        "each other");
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_up(&report, ctx->db, &run);
    cli_print_report(ctx, report, rc, "already up to date");
    strata_report_free(report);
    return rc;
}
