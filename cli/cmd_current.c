/*
 * cmd_current.c - `strata current`: the highest applied version, "0" when
 * none; made to be read by scripts.
 */
#include "cli.h"

const char cmd_current_usage[] =
    "usage: strata current\n"
    "\n"
    "Prints the highest applied version of the module, or 0 when none.\n"
    "\n"
    "Output: the version alone on one line. With --json: {module, current}.\n"
    "Global options: see 'strata --help'.\n";

int cmd_current(cli_ctx *ctx, int argc, char **argv)
{
    char *version = NULL;
    int npos;

    int rc = cli_parse(ctx, argc, argv, NULL, NULL, NULL, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_current(&version, ctx->db);
    if (rc == 0) {
        if (ctx->json) {
            json_t *doc = cli_doc(ctx);
            cli_jset(doc, "module",
                     cli_jstr(ctx->module != NULL ? ctx->module : "default"));
            cli_jset(doc, "current", cli_jstr(version));
        } else if (!ctx->quiet) {
            printf("%s\n", version);
        }
    }
    strata_string_free(version);
    return rc;
}
