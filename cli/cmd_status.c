/*
 * cmd_status.c - `strata status`: every migration and its state.
 *
 * Read-only: takes no lock and writes nothing. A plan with problems is still
 * a successful status (exit 0); `strata validate` is the check that fails.
 */
#include "cli.h"

const char cmd_status_usage[] =
    "usage: strata status\n"
    "\n"
    "Shows every migration of the module with its state: applied, pending,\n"
    "modified, missing, out_of_order or dirty. Takes no lock, writes\n"
    "nothing.\n"
    "\n"
    "Output: a table (VERSION, NAME, STATE, APPLIED AT, TIME), then\n"
    "'current: VERSION'. With --json: {module, current, migrations[]}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    strata_plan *plan = NULL;
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_status(&plan, ctx->db);
    if (rc == 0)
        cli_print_plan(ctx, plan);
    strata_plan_free(plan);
    return rc;
}
