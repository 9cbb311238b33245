/*
 * main.c - the strata command: global options, environment, dispatch.
 *
 *   strata [global options] COMMAND [command options]
 *
 * Global options are parsed here up to the first non-option (getopt_long with
 * "+"), then the command parses the rest with cli_parse(), which accepts the
 * global options again so `strata status --json` works. The URL and the
 * migrations directory are resolved from options, then the environment, in
 * cli_open(), just before the handle is opened. Every command returns a
 * strata_code; the error is reported once here and the code becomes the exit
 * status through exit_table, the only place that knows the numbers.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The one table from library codes to exit statuses (documented in --help). */
static const struct {
    int code;
    int status;
} exit_table[] = {
    {STRATA_OK, 0},       {STRATA_EFAILED, 1},  {STRATA_ENOMEM, 1},
    {STRATA_EUSAGE, 2},   {STRATA_EREFUSED, 3}, {STRATA_ELOCKED, 4},
    {STRATA_ECONNECT, 5},
};

int cli_exit_status(int code)
{
    for (size_t i = 0; i < sizeof exit_table / sizeof exit_table[0]; i++)
        if (exit_table[i].code == code)
            return exit_table[i].status;
    return 1; /* a code this build does not know: call it a failure */
}

const cli_command cli_commands[] = {
    {"up", cmd_up, "apply pending migrations", cmd_up_usage},
    {"down", cmd_down, "revert applied migrations (one by default)",
     cmd_down_usage},
    {"redo", cmd_redo, "revert the newest migration and apply it again",
     cmd_redo_usage},
    {"status", cmd_status, "show every migration and its state",
     cmd_status_usage},
    {"history", cmd_history, "show the log of every change", cmd_history_usage},
    {"validate", cmd_validate, "check that `up` would run, without running",
     cmd_validate_usage},
    {"current", cmd_current, "print the current version (0 when none)",
     cmd_current_usage},
    {"new", cmd_new, "create the next migration's files", cmd_new_usage},
    {"baseline", cmd_baseline, "record migrations as applied without running",
     cmd_baseline_usage},
    {"repair", cmd_repair, "clear dirty markers and re-record checksums",
     cmd_repair_usage},
    {"forget", cmd_forget, "remove a version's tracking row", cmd_forget_usage},
    {"embed", cmd_embed, "write migrations as C source to compile in",
     cmd_embed_usage},
    {"help", cmd_help, "show help for a command", cmd_help_usage},
    {NULL, NULL, NULL, NULL},
};

const cli_command *cli_find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Values of long-only global options; command options start at
 * CLI_OPT_BASE, above all of these. */
enum {
    OPT_MODULE = 0x100,
    OPT_TABLE,
    OPT_LOCK_TIMEOUT,
    OPT_SCHEMA,
    OPT_STATEMENT_TIMEOUT,
    OPT_LOCK_WAIT,
    OPT_CONNECT_WAIT,
    OPT_LOG_FORMAT,
    OPT_JSON,
    OPT_VERSION
};

const char cli_global_shortopts[] = "d:m:qvh";

const struct option cli_global_options[] = {
    {"database", required_argument, NULL, 'd'},
    {"migrations", required_argument, NULL, 'm'},
    {"module", required_argument, NULL, OPT_MODULE},
    {"table", required_argument, NULL, OPT_TABLE},
    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
    {"schema", required_argument, NULL, OPT_SCHEMA},
    {"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
    {"lock-wait", required_argument, NULL, OPT_LOCK_WAIT},
    {"connect-wait", required_argument, NULL, OPT_CONNECT_WAIT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

#define GLOBAL_COUNT                                                           \
    (sizeof cli_global_options / sizeof cli_global_options[0] - 1)

static const char usage_text[] =
    "usage: strata [global options] COMMAND [command options]\n"
    "\n"
    "Brings a database to the schema its migrations describe.\n"
    "\n"
    "Commands:\n";

static const char global_text[] =
    "\n"
    "Global options (also accepted after COMMAND):\n"
    "  -d, --database URL      database URL (default: $DATABASE_URL), e.g.\n"
    "                          sqlite:app.db, sqlite:///var/lib/app.db,\n"
    "                          postgres://user@host/db?sslmode=require\n"
    "  -m, --migrations DIR    migrations directory (default: "
    "$STRATA_MIGRATIONS,\n"
    "                          else ./migrations)\n"
    "      --module NAME       migration set to work on (default: default)\n"
    "      --table NAME        tracking table (default: strata_migrations)\n"
    "      --lock-timeout SECONDS\n"
    "                          wait this long for the migration lock, and on\n"
    "                          SQLite for the database's write lock "
    "(default: 60)\n"
    "      --schema NAME       PostgreSQL: schema of the tracking table and\n"
    "                          of {{schema}}, created if missing\n"
    "      --statement-timeout SECONDS\n"
    "                          PostgreSQL: statement_timeout for migrations\n"
    "      --lock-wait SECONDS PostgreSQL: lock_timeout for migrations\n"
    "      --connect-wait SECONDS\n"
    "                          PostgreSQL: wait this long for a server that\n"
    "                          does not accept connections yet (default: 0)\n"
    "      --json              print one JSON document on stdout\n"
    "      --log-format FORMAT text (default: progress with -v) or json: "
    "every\n"
    "                          event as one JSON object per line on stderr\n"
    "  -q, --quiet             print nothing but errors\n"
    "  -v, --verbose           print progress and log lines on stderr "
    "(twice: debug)\n"
    "  -h, --help              print help and exit\n"
    "      --version           print the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0 success (also when already up to date)\n"
    "  1 a migration failed (or out of memory)\n"
    "  2 usage or configuration error (bad option, no or bad database URL)\n"
    "  3 plan refused, nothing was run (modified, missing, dirty, out of "
    "order)\n"
    "  4 the migration lock was not acquired within --lock-timeout\n"
    "  5 the database cannot be opened or reached\n"
    "\n"
    "Run 'strata help COMMAND' for a command's options.\n";

void cli_print_usage(FILE *f)
{
    fputs(usage_text, f);
    for (const cli_command *c = cli_commands; c->name != NULL; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fputs(global_text, f);
}

int cli_fail(cli_ctx *ctx, int code, strata_reason reason, const char *hint,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error_message, sizeof ctx->error_message, fmt, ap);
    va_end(ap);
    snprintf(ctx->error_hint, sizeof ctx->error_hint, "%s",
             hint != NULL ? hint : "");
    memset(&ctx->error, 0, sizeof ctx->error);
    ctx->error.code = code;
    ctx->error.reason = reason;
    ctx->error.message = ctx->error_message;
    ctx->error.hint = ctx->error_hint;
    ctx->error.file = ctx->error.version = "";
    ctx->error.db_message = ctx->error.db_detail = ctx->error.sqlstate = "";
    ctx->has_error = 1;
    return code;
}

static int usage_error(cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(cli_ctx *ctx, const char *fmt, ...)
{
    char hint[128];
    char message[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (ctx->command != NULL && ctx->command->run != cmd_help)
        snprintf(hint, sizeof hint, "run 'strata help %s'", ctx->command->name);
    else
        snprintf(hint, sizeof hint, "run 'strata --help'");
    return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION, hint, "%s",
                    message);
}

/* A duration option given in seconds (fractions allowed) into *ms. */
static int seconds(cli_ctx *ctx, const char *flag, const char *arg, int *ms)
{
    char *end = NULL;
    errno = 0;
    double s = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !(s >= 0) ||
        s > (double)INT_MAX / 1000.0)
        return usage_error(ctx, "%s needs a number of seconds, not '%s'", flag,
                           arg);
    *ms = (int)(s * 1000.0 + 0.5);
    return 0;
}

static int print_version(cli_ctx *ctx)
{
    if (ctx->json) {
        cli_jset(cli_doc(ctx), "version", cli_jstr(strata_version()));
        return CLI_HELP;
    }
    printf("strata %s\n", strata_version());
    return CLI_HELP;
}

int cli_global_option(cli_ctx *ctx, int opt, const char *arg)
{
    switch (opt) {
    case 'd': ctx->url = arg; return 0;
    case 'm': ctx->migrations = arg; return 0;
    case OPT_MODULE:
        if (*arg == '\0')
            return usage_error(ctx, "--module needs a non-empty name");
        ctx->module = arg;
        return 0;
    case OPT_TABLE:
        if (*arg == '\0')
            return usage_error(ctx, "--table needs a non-empty name");
        ctx->table = arg;
        return 0;
    case OPT_LOCK_TIMEOUT:
        return seconds(ctx, "--lock-timeout", arg, &ctx->lock_timeout_ms);
    case OPT_STATEMENT_TIMEOUT:
        return seconds(ctx, "--statement-timeout", arg,
                       &ctx->statement_timeout_ms);
    case OPT_LOCK_WAIT:
        return seconds(ctx, "--lock-wait", arg, &ctx->lock_wait_ms);
    case OPT_CONNECT_WAIT:
        return seconds(ctx, "--connect-wait", arg, &ctx->connect_wait_ms);
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "json") != 0 && strcmp(arg, "text") != 0)
            return usage_error(ctx, "--log-format is text or json, not '%s'",
                               arg);
        ctx->log_json = strcmp(arg, "json") == 0;
        return 0;
    case OPT_SCHEMA:
        if (*arg == '\0')
            return usage_error(ctx, "--schema needs a non-empty name");
        ctx->schema = arg;
        return 0;
    case OPT_JSON: ctx->json = 1; return 0;
    case 'q': ctx->quiet = 1; return 0;
    case 'v': ctx->verbose++; return 0;
    case 'h':
        if (ctx->command != NULL) {
            if (ctx->json)
                cli_jset(cli_doc(ctx), "usage", cli_jstr(ctx->command->usage));
            else
                fputs(ctx->command->usage, stdout);
        } else if (ctx->json) {
            cli_jset(cli_doc(ctx), "usage", cli_jstr(usage_text));
        } else {
            cli_print_usage(stdout);
        }
        return CLI_HELP;
    case OPT_VERSION: return print_version(ctx);
    default: return usage_error(ctx, "unexpected option");
    }
}

/* Describes the option getopt_long() just rejected. `lookup` holds every
 * option it knew about. */
static int bad_option(cli_ctx *ctx, int ret, char **argv,
                      const struct option *lookup)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char name[64];
    /* Name the option as typed: "--name" (without "=value"), or "-c". */
    if (strncmp(arg, "--", 2) == 0)
        snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(name, sizeof name, "-%c",
                 optopt > 0 && optopt < 0x100 ? optopt : '?');
    if (ret == ':')
        return usage_error(ctx, "option '%s' needs a value", name);
    for (const struct option *o = lookup; o->name != NULL; o++)
        if (optopt != 0 && o->val == optopt && strncmp(arg, "--", 2) == 0)
            return usage_error(ctx, "option '%s' takes no value", name);
    if (optopt == 0 && strncmp(arg, "--", 2) == 0) {
        size_t len = strlen(name) - 2, matches = 0;
        for (const struct option *o = lookup; o->name != NULL; o++)
            matches += strncmp(o->name, name + 2, len) == 0;
        if (matches > 1)
            return usage_error(ctx, "ambiguous option '%s'", name);
    }
    return usage_error(ctx, "unknown option '%s'", name);
}

/* Names the first positional argument of the command's synopsis
 * ("usage: strata new NAME ...") in the error. */
static int missing_argument(cli_ctx *ctx)
{
    const char *u = ctx->command != NULL ? ctx->command->usage : "";
    const char *p = strchr(u, ' ');            /* after "usage:" */
    p = p != NULL ? strchr(p + 1, ' ') : NULL; /* after "strata" */
    p = p != NULL ? strchr(p + 1, ' ') : NULL; /* after the command */
    if (p != NULL && p[1] >= 'A' && p[1] <= 'Z')
        return usage_error(ctx, "missing %.*s", (int)strcspn(p + 1, " \n["),
                           p + 1);
    return usage_error(ctx, "missing argument");
}

/* Builds the option list of a command: its own, then the global ones. */
static struct option *merge_options(const struct option *opts)
{
    size_t n = 0;
    while (opts != NULL && opts[n].name != NULL)
        n++;
    struct option *all = calloc(n + GLOBAL_COUNT + 1, sizeof *all);
    if (all == NULL)
        return NULL;
    if (n > 0)
        memcpy(all, opts, n * sizeof *all);
    memcpy(all + n, cli_global_options, (GLOBAL_COUNT + 1) * sizeof *all);
    return all;
}

int cli_parse(cli_ctx *ctx, int argc, char **argv, const struct option *opts,
              cli_option_fn fn, void *state, char **pos, int min_pos,
              int max_pos, int *npos)
{
    return cli_parse_short(ctx, argc, argv, NULL, opts, fn, state, pos, min_pos,
                           max_pos, npos);
}

int cli_parse_short(cli_ctx *ctx, int argc, char **argv, const char *own,
                    const struct option *opts, cli_option_fn fn, void *state,
                    char **pos, int min_pos, int max_pos, int *npos)
{
    int rc = 0;
    struct option *all = merge_options(opts);
    if (all == NULL)
        return cli_fail(ctx, STRATA_ENOMEM, STRATA_REASON_NONE, NULL,
                        "out of memory");

    if (own == NULL)
        own = "";
    char shortopts[sizeof cli_global_shortopts + 16];
    snprintf(shortopts, sizeof shortopts, ":%s%s", cli_global_shortopts, own);

    *npos = 0;
    optind = 0; /* glibc: reinitialise fully for a second scan */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, all, NULL);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            rc = bad_option(ctx, c, argv, all);
            goto out;
        }
        int mine =
            c >= CLI_OPT_BASE || (c > 0 && c < 0x80 && strchr(own, c) != NULL);
        if (mine && fn != NULL)
            rc = fn(ctx, c, optarg, state);
        else
            rc = cli_global_option(ctx, c, optarg);
        if (rc != 0)
            goto out;
    }
    /* getopt permutes, so every non-option is now at the end. */
    for (int i = optind; i < argc; i++) {
        if (*npos >= max_pos) {
            rc = usage_error(ctx, "unexpected argument '%s'", argv[i]);
            goto out;
        }
        pos[(*npos)++] = argv[i];
    }
    if (*npos < min_pos)
        rc = missing_argument(ctx);
out:
    free(all);
    return rc;
}

int cli_parse_count(cli_ctx *ctx, const char *option, const char *arg,
                    unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || errno != 0 || *end != '\0' || v == 0 ||
        v > max) {
        char hint[64];
        snprintf(hint, sizeof hint, "give a whole number from 1 to %lu", max);
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION, hint,
                        "%s needs a positive count, not '%s'", option, arg);
    }
    *out = v;
    return 0;
}

/* An unset or empty variable counts as unset. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int cli_open(cli_ctx *ctx, unsigned int need)
{
    int rc;
    strata_source *source = NULL;
    const char *url = NULL;

    if (need & CLI_NEED_DB) {
        url = ctx->url != NULL ? ctx->url : env("DATABASE_URL");
        if (url == NULL || *url == '\0')
            return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_URL,
                            "pass --database URL or set DATABASE_URL, e.g. "
                            "sqlite:app.db",
                            "no database URL");
    }
    const char *dir = ctx->migrations != NULL ? ctx->migrations
                      : env("STRATA_MIGRATIONS") != NULL
                          ? env("STRATA_MIGRATIONS")
                          : "migrations";
    if (need & CLI_NEED_SOURCE) {
        if (*dir == '\0')
            return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                            "pass --migrations DIR",
                            "empty migrations directory");
        rc = strata_source_from_dir(&source, dir);
        if (rc != 0)
            return cli_fail(ctx, rc, STRATA_REASON_IO, NULL,
                            "%s: cannot use as migrations directory", dir);
    }

    if (ctx->verbose > 0) {
        char masked[1024];
        if (url != NULL) {
            cli_mask_url(masked, sizeof masked, url);
            fprintf(stderr, "strata: database: %s\n", masked);
        }
        if (need & CLI_NEED_SOURCE)
            fprintf(stderr, "strata: migrations: %s\n", dir);
        fprintf(stderr, "strata: module: %s, table: %s\n",
                ctx->module != NULL ? ctx->module : "default",
                ctx->table != NULL ? ctx->table : "strata_migrations");
    }

    strata_options opts;
    strata_options_init(&opts);
    opts.module = ctx->module;
    opts.table = ctx->table;
    opts.lock_timeout_ms = ctx->lock_timeout_ms;
    opts.schema = ctx->schema;
    opts.statement_timeout_ms = ctx->statement_timeout_ms;
    opts.lock_wait_ms = ctx->lock_wait_ms;
    opts.connect_wait_ms = ctx->connect_wait_ms;
    opts.on_event = cli_on_event;
    opts.event_payload = ctx;
    opts.applied_by = NULL; /* the library records user@host itself */

    rc = strata_open(&ctx->db, url, source, &opts);
    strata_source_free(source);
    return rc;
}

/* Before real parsing: does the command line ask for JSON? Lets an error in
 * the first options still come out as a JSON document. */
static int wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            return 1;
    }
    return 0;
}

static int run(cli_ctx *ctx, int argc, char **argv)
{
    opterr = 0;
    char shortopts[sizeof cli_global_shortopts + 2];
    snprintf(shortopts, sizeof shortopts, "+:%s", cli_global_shortopts);
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, cli_global_options, NULL);
        if (c == -1)
            break;
        int rc = (c == '?' || c == ':')
                     ? bad_option(ctx, c, argv, cli_global_options)
                     : cli_global_option(ctx, c, optarg);
        if (rc == CLI_HELP)
            return 0;
        if (rc != 0)
            return rc;
    }
    if (optind >= argc) {
        if (!ctx->json)
            cli_print_usage(stderr);
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "run 'strata --help'", "no command given");
    }
    const char *name = argv[optind];
    ctx->command = cli_find_command(name);
    if (ctx->command == NULL)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "run 'strata --help' for the list of commands",
                        "unknown command '%s'", name);
    return ctx->command->run(ctx, argc - optind, argv + optind);
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.lock_timeout_ms = -1;
    ctx.json = wants_json(argc, argv);

    int rc = run(&ctx, argc, argv);
    if (rc == CLI_HELP)
        rc = 0;
    int verdict = rc == CLI_NOT_CURRENT;
    if (verdict)
        rc = 0;
    if (rc != 0) {
        /* Read the handle's record before closing it. */
        const strata_error *err =
            ctx.has_error ? &ctx.error : strata_last_error(ctx.db);
        cli_report_error(&ctx, rc, err);
    }
    if (ctx.json) {
        json_t *doc = cli_doc(&ctx);
        if (doc != NULL) {
            json_dumpf(doc, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
        }
    }
    json_decref(ctx.doc);
    strata_close(ctx.db);

    int status =
        verdict ? cli_exit_status(STRATA_EREFUSED) : cli_exit_status(rc);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "strata: error: cannot write output\n");
        status = 1;
    }
    return status;
}
