/*
 * cmd_baseline.c - `strata baseline VERSION`: adopt a database whose schema
 * already exists by recording migrations as applied without running them.
 */
#include "cli.h"

const char cmd_baseline_usage[] =
    "usage: strata baseline VERSION\n"
    "\n"
    "Records every migration up to and including VERSION as applied,\n"
    "without running it, for a database whose schema already exists.\n"
    "Migrations already recorded are left alone; each record is kept in the\n"
    "history.\n"
    "\n"
    "Output: 'baselined VERSION NAME' per migration recorded, or 'nothing\n"
    "to baseline'. With --json: {module, from, to, dry_run, steps[]}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_baseline(cli_ctx *ctx, int argc, char **argv)
{
    strata_report *report = NULL;
    char *pos[1];
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, pos, 1, 1, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_baseline(&report, ctx->db, pos[0]);
    cli_print_report(ctx, report, rc, "nothing to baseline");
    strata_report_free(report);
    return rc;
}
