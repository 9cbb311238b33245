/*
 * cmd_status.c - `strata status`: every migration and its state.
 *
 * Read-only: takes no lock and writes nothing. A plan with problems is still
 * a successful status (exit 0); `strata validate` is the check that fails.
 */
#include "cli.h"

const char cmd_status_usage[] =
    "usage: strata status [--check]\n"
    "\n"
    "Shows every migration of the module with its state: applied, pending,\n"
    "modified, missing, out_of_order or dirty. Takes no lock, writes\n"
    "nothing.\n"
    "\n"
    "  --check   print nothing but a verdict and exit 0 when the database\n"
    "            is at the migrations' version, 3 when it is not (pending,\n"
    "            modified, missing, dirty): for readiness probes and deploy\n"
    "            gates. Cheap: no lock, no write, no hashing when embedded.\n"
    "\n"
    "Output: a table (VERSION, NAME, STATE, APPLIED AT, TIME), then\n"
    "'current: VERSION'. With --json: {module, current, migrations[]};\n"
    "with --check --json: {module, current: true|false, reason}.\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_CHECK = CLI_OPT_BASE };

static const struct option options[] = {
    {"check", no_argument, NULL, OPT_CHECK},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    (void)ctx;
    (void)arg;
    if (opt != OPT_CHECK)
        return STRATA_EUSAGE;
    *(int *)state = 1;
    return 0;
}

/* `status --check`: strata_check() and a one-line verdict. */
static int check(cli_ctx *ctx)
{
    int rc = strata_check(ctx->db);
    const strata_error *e = strata_last_error(ctx->db);
    if (rc != 0 && rc != STRATA_EREFUSED)
        return rc;
    if (ctx->json) {
        json_t *doc = cli_doc(ctx);
        cli_jset(doc, "module",
                 cli_jstr(ctx->module != NULL ? ctx->module : "default"));
        cli_jset(doc, "current", json_boolean(rc == 0));
        cli_jset(doc, "reason",
                 rc == 0 ? json_null()
                         : cli_jstr(strata_reason_name(e->reason)));
        cli_jset(doc, "message", rc == 0 ? json_null() : cli_jstr(e->message));
    } else if (!ctx->quiet) {
        if (rc == 0)
            printf("current\n");
        else
            printf("not current: %s\n", e->message);
    }
    return rc == 0 ? 0 : CLI_NOT_CURRENT;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    strata_plan *plan = NULL;
    int npos, want_check = 0;

    int rc = cli_parse(ctx, argc, argv, options, option, &want_check, NULL, 0,
                       0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    if (want_check)
        return check(ctx);
    rc = strata_status(&plan, ctx->db);
    if (rc == 0)
        cli_print_plan(ctx, plan);
    strata_plan_free(plan);
    return rc;
}
