/*
 * cmd_new.c - `strata new NAME`: create the next migration's files.
 *
 * Needs no database: the handle is opened with a NULL URL and works on the
 * migrations directory only. The library picks the number and never
 * overwrites.
 */
#include "cli.h"

const char cmd_new_usage[] =
    "usage: strata new NAME [--timestamp] [--single-file]\n"
    "\n"
    "Creates the next migration in the migrations directory:\n"
    "NNNN_NAME.up.sql and NNNN_NAME.down.sql, numbered one past the highest\n"
    "version with the directory's zero padding (4 digits when empty). Never\n"
    "overwrites a file (exit 3). No database is needed.\n"
    "\n"
    "Options:\n"
    "  --timestamp    number it with a UTC timestamp (YYYYMMDDHHMMSS)\n"
    "  --single-file  one file with '-- strata:up' and '-- strata:down'\n"
    "                 markers instead of two files\n"
    "\n"
    "Output: 'created FILE' per file. With --json: {module, from, to,\n"
    "dry_run, steps[]} with action \"create\".\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_TIMESTAMP = CLI_OPT_BASE, OPT_SINGLE };

static const struct option options[] = {
    {"timestamp", no_argument, NULL, OPT_TIMESTAMP},
    {"single-file", no_argument, NULL, OPT_SINGLE},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    unsigned int *flags = state;
    (void)ctx;
    (void)arg;
    switch (opt) {
    case OPT_TIMESTAMP: *flags |= STRATA_NEW_TIMESTAMP; return 0;
    case OPT_SINGLE: *flags |= STRATA_NEW_SINGLE; return 0;
    }
    return STRATA_EUSAGE;
}

int cmd_new(cli_ctx *ctx, int argc, char **argv)
{
    strata_report *report = NULL;
    unsigned int flags = 0;
    char *pos[1];
    int npos;

    int rc =
        cli_parse(ctx, argc, argv, options, option, &flags, pos, 1, 1, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_new(&report, ctx->db, pos[0], flags);
    cli_print_report(ctx, report, rc, NULL);
    strata_report_free(report);
    return rc;
}
