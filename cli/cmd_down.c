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

enum { OPT_TO = CLI_OPT_BASE, OPT_STEPS, OPT_ALL, OPT_DRY_RUN };

static const struct option options[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"all", no_argument, NULL, OPT_ALL},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
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
    case OPT_ALL: run->all = 1; return 0;
    case OPT_DRY_RUN: run->dry_run = 1; return 0;
    }
    return STRATA_EUSAGE;
}

int cmd_down(cli_ctx *ctx, int argc, char **argv)
{
    strata_run_options run;
    strata_report *report = NULL;
    int npos;

    strata_run_options_init(&run);
    int rc =
        cli_parse(ctx, argc, argv, options, option, &run, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    if ((run.to != NULL) + (run.steps != 0) + (run.all != 0) > 1)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "give one of them",
                        "--to, --steps and --all exclude each other");
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_down(&report, ctx->db, &run);
    cli_print_report(ctx, report, rc, "nothing to revert");
    strata_report_free(report);
    return rc;
}
