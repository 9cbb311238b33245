/*
 * cmd_down.c - `strata down`: revert applied migrations, newest first.
 *
 * One step by default, so a bare `strata down` never reverts more than the
 * newest migration. --to, --steps and --all choose more; they exclude each
 * other.
 */
#include "cli.h"

const char cmd_down_usage[] =
    "usage: strata down [--to VERSION | --steps N | --all] [--dry-run]\n"
    "\n"
    "Reverts applied migrations, newest first, with their down scripts:\n"
    "the newest one by default. Refuses before running anything (exit 3)\n"
    "when a migration to revert has no down script, or the plan has a\n"
    "modified, missing or dirty migration.\n"
    "\n"
    "Options:\n"
    "  --to VERSION  revert every migration above VERSION (0 = all)\n"
    "  --steps N     revert the newest N migrations\n"
    "  --all         revert every applied migration\n"
    "  --dry-run     show what would be reverted, change nothing\n"
    "\n"
    "Output: 'reverted VERSION NAME (TIME)' per migration, or 'nothing to\n"
    "revert'. With --json: {module, from, to, dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_down(cli_ctx *ctx, int argc, char **argv)
{
    return cli_run_migrations(ctx, argc, argv,
                              CLI_RUN_TO | CLI_RUN_STEPS | CLI_RUN_ALL |
                                  CLI_RUN_DRY_RUN,
                              strata_down, "nothing to revert");
}
