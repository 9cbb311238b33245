/*
 * cmd_help.c - `strata help [COMMAND]`: the usage text of a command, or of
 * strata itself, on stdout. The texts live next to their commands.
 */
#include "cli.h"

const char cmd_help_usage[] =
    "usage: strata help [COMMAND]\n"
    "\n"
    "Prints the usage of COMMAND, or of strata and every command.\n"
    "'strata COMMAND --help' does the same.\n";

int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, pos, 0, 1, &npos);
    if (rc != 0)
        return rc;
    if (npos == 0) {
        /* Same as --help: cli_global_option() knows both forms. */
        ctx->command = NULL;
        return cli_global_option(ctx, 'h', NULL);
    }
    const cli_command *c = cli_find_command(pos[0]);
    if (c == NULL)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "run 'strata --help' for the list of commands",
                        "unknown command '%s'", pos[0]);
    ctx->command = c;
    return cli_global_option(ctx, 'h', NULL);
}
