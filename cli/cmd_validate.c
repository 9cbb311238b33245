/*
 * cmd_validate.c - `strata validate`: would `up` run? Checks without running.
 *
 * The library reads and checks every script and returns the plan even when
 * it refuses, so every problem is listed at once, not only the first.
 */
#include "cli.h"

const char cmd_validate_usage[] =
    "usage: strata validate [--allow-out-of-order]\n"
    "\n"
    "Reads and checks every migration (file names, encoding, directives,\n"
    "templates, empty scripts) and compares them with the tracking table,\n"
    "without taking the lock or changing anything. Fails with exit 3 when\n"
    "'strata up' would refuse.\n"
    "\n"
    "Options:\n"
    "  --allow-out-of-order  do not count out-of-order migrations as errors\n"
    "\n"
    "Output: one line per problem (STATE VERSION NAME FILE), then 'valid:\n"
    "...' on success. With --json: {module, current, valid, migrations[]}.\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_OUT_OF_ORDER = CLI_OPT_BASE };

static const struct option options[] = {
    {"allow-out-of-order", no_argument, NULL, OPT_OUT_OF_ORDER},
    {NULL, 0, NULL, 0},
};

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    (void)ctx;
    (void)arg;
    if (opt != OPT_OUT_OF_ORDER)
        return STRATA_EUSAGE;
    *(int *)state = 1;
    return 0;
}

static void print_problems(const strata_plan *plan, int allow_out_of_order)
{
    for (size_t i = 0; i < plan->count; i++) {
        const strata_migration *m = plan->migrations[i];
        if (m->state == STRATA_STATE_APPLIED ||
            m->state == STRATA_STATE_PENDING ||
            (m->state == STRATA_STATE_OUT_OF_ORDER && allow_out_of_order))
            continue;
        printf("%-12s %s %s%s%s\n", strata_state_name(m->state), m->version,
               m->name, *m->up_file ? " " : "", m->up_file);
    }
}

static void print_valid(const strata_plan *plan)
{
    size_t applied = 0, pending = 0, ooo = 0;
    for (size_t i = 0; i < plan->count; i++) {
        strata_state s = plan->migrations[i]->state;
        applied += s == STRATA_STATE_APPLIED;
        pending += s == STRATA_STATE_PENDING;
        ooo += s == STRATA_STATE_OUT_OF_ORDER;
    }
    printf("valid: %zu migration%s, %zu applied, %zu pending", plan->count,
           plan->count == 1 ? "" : "s", applied, pending);
    if (ooo > 0)
        printf(", %zu out of order (allowed)", ooo);
    fputc('\n', stdout);
}

int cmd_validate(cli_ctx *ctx, int argc, char **argv)
{
    strata_plan *plan = NULL;
    int allow = 0;
    int npos;

    int rc =
        cli_parse(ctx, argc, argv, options, option, &allow, NULL, 0, 0, &npos);
    if (rc != 0)
        return rc;
    rc = cli_open(ctx, CLI_NEED_DB | CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_validate(&plan, ctx->db, allow);
    if (plan != NULL) {
        if (ctx->json) {
            cli_print_plan(ctx, plan);
            cli_jset(cli_doc(ctx), "valid", json_boolean(rc == 0));
        } else if (!ctx->quiet) {
            if (rc == 0)
                print_valid(plan);
            else
                print_problems(plan, allow);
        }
    } else if (ctx->json) {
        cli_jset(cli_doc(ctx), "valid", json_false());
    }
    strata_plan_free(plan);
    return rc;
}
