/*
 * cmd_repair.c - `strata repair`: the one audited way to accept what
 * happened outside strata (dirty markers, edited scripts). Every change is
 * printed with its old and new checksum and kept in the history.
 */
#include "cli.h"

const char cmd_repair_usage[] =
    "usage: strata repair\n"
    "\n"
    "Clears every dirty marker (an interrupted up becomes pending again; an\n"
    "interrupted down returns to applied) and re-records the checksum of\n"
    "every modified migration. Fix the schema by hand first: repair only\n"
    "changes the tracking table. Every change is kept in the history.\n"
    "\n"
    "Output: 'repaired VERSION NAME: ...' per change, or 'nothing to\n"
    "repair'. With --json: {module, from, to, dry_run, steps[]} with\n"
    "old_checksum and new_checksum.\n"
    "Global options: see 'strata --help'.\n";

int cmd_repair(cli_ctx *ctx, int argc, char **argv)
{
    strata_report *report = NULL;
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_repair(&report, ctx->db);
    cli_print_report(ctx, report, rc, "nothing to repair");
    strata_report_free(report);
    return rc;
}
