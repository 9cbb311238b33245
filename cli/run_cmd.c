/*
 * run_cmd.c - what up, down and redo share: their options (each command
 * takes a subset), the check that --to, --steps and --all exclude each
 * other, and running the call and printing its report.
 */
#include "cli.h"

enum {
    OPT_TO = CLI_OPT_BASE,
    OPT_STEPS,
    OPT_ALL,
    OPT_DRY_RUN,
    OPT_OUT_OF_ORDER,
    OPT_SINGLE
};

/* In the order of the CLI_RUN_ bits. */
static const struct option all_options[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"all", no_argument, NULL, OPT_ALL},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"allow-out-of-order", no_argument, NULL, OPT_OUT_OF_ORDER},
    {"single-transaction", no_argument, NULL, OPT_SINGLE},
};
#define N_OPTIONS (sizeof all_options / sizeof all_options[0])

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
    case OPT_OUT_OF_ORDER: run->allow_out_of_order = 1; return 0;
    case OPT_SINGLE: run->single_transaction = 1; return 0;
    }
    return STRATA_EUSAGE;
}

int cli_run_migrations(cli_ctx *ctx, int argc, char **argv, unsigned allowed,
                       cli_run_call call, const char *nothing)
{
    struct option opts[N_OPTIONS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (allowed & (1u << i))
            opts[n++] = all_options[i];
    opts[n] = (struct option){NULL, 0, NULL, 0};

    strata_run_options run;
    strata_run_options_init(&run);
    int npos;
    int rc = cli_parse(ctx, argc, argv, opts, option, &run, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    if ((run.to != NULL) + (run.steps != 0) + (run.all != 0) > 1)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "give one of them",
                        (allowed & CLI_RUN_ALL)
                            ? "--to, --steps and --all exclude each other"
                            : "--to and --steps exclude each other");
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    strata_report *report = NULL;
    rc = call(&report, ctx->db, &run);
    cli_print_report(ctx, report, rc, nothing);
    strata_report_free(report);
    return rc;
}
