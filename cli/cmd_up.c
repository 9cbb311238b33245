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

int cmd_up(cli_ctx *ctx, int argc, char **argv)
{
    return cli_run_migrations(ctx, argc, argv,
                              CLI_RUN_TO | CLI_RUN_STEPS | CLI_RUN_DRY_RUN |
                                  CLI_RUN_OUT_OF_ORDER | CLI_RUN_SINGLE,
                              strata_up, "already up to date");
}
