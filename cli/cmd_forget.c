/*
 * cmd_forget.c - `strata forget VERSION`: drop one tracking row, leave the
 * schema alone; for a migration whose script is gone for good ("missing").
 */
#include "cli.h"

const char cmd_forget_usage[] =
    "usage: strata forget VERSION\n"
    "\n"
    "Removes the tracking row of VERSION without touching the schema, and\n"
    "records that in the history. Use it for a migration whose script was\n"
    "deleted on purpose. Fails with exit 3 when VERSION is not recorded.\n"
    "Does not need the migrations directory.\n"
    "\n"
    "Output: 'forgot VERSION NAME'. With --json: {module, from, to,\n"
    "dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_forget(cli_ctx *ctx, int argc, char **argv)
{
    strata_report *report = NULL;
    char *pos[1];
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, pos, 1, 1, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB);
    if (rc != 0)
        return rc;
    rc = strata_forget(&report, ctx->db, pos[0]);
    cli_print_report(ctx, report, rc, NULL);
    strata_report_free(report);
    return rc;
}
