/*
 * cmd_redo.c - `strata redo`: revert the newest migration and apply it
 * again, under one lock; the usual loop while writing a migration.
 */
#include "cli.h"

const char cmd_redo_usage[] =
    "usage: strata redo [--dry-run]\n"
    "\n"
    "Reverts the newest applied migration and applies it again, under one\n"
    "lock and in one transaction: if the apply fails, the revert is rolled\n"
    "back too and the migration stays applied as it was. A script marked\n"
    "'-- strata:no-transaction' rules that out: the revert then commits\n"
    "first. Refuses (exit 3) like 'strata down'.\n"
    "\n"
    "Options:\n"
    "  --dry-run  show what would be done, change nothing\n"
    "\n"
    "Output: a 'reverted ...' line then an 'applied ...' line. With --json:\n"
    "{module, from, to, dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_redo(cli_ctx *ctx, int argc, char **argv)
{
    return cli_run_migrations(ctx, argc, argv, CLI_RUN_DRY_RUN, strata_redo,
                              "nothing to redo");
}
