/*
 * cli.h - what the files of the strata command share.
 *
 * The command is a thin layer over include/strata.h: main.c parses the global
 * options, picks a command from the dispatch table and maps the strata_code it
 * returns to an exit status; each cmd_<name>.c parses its own options, opens
 * the handle through cli_open() and prints what the library returns through
 * output.c. Commands never print errors themselves: they return the code, and
 * main.c reports the error record (the handle's, or the CLI's own for usage
 * errors) once, after the command's results.
 *
 * In --json mode every command adds its fields to one document (cli_doc())
 * that main.c prints at the end, so stdout always holds exactly one JSON
 * document, also on error.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "strata.h"

#define CLI_NAME "strata"

/* A command's option parser returns this after printing --help: stop, exit 0.
 */
#define CLI_HELP 1
/* `status --check` found the database not current: exit 3, a verdict
 * already printed, not an error. */
#define CLI_NOT_CURRENT 2

/* What cli_open() must prepare for a command. */
enum {
    CLI_NEED_DB = 1u,    /* a database URL is required */
    CLI_NEED_SOURCE = 2u /* the migrations directory is passed as source */
};

typedef struct cli_command cli_command;
typedef struct cli_ctx cli_ctx;

/* Runs a command: argv[0] is the command's name. Returns 0 or a negative
 * strata_code; the error is left in the handle or in ctx (cli_fail()). */
typedef int (*cli_run_fn)(cli_ctx *ctx, int argc, char **argv);

struct cli_command {
    const char *name;
    cli_run_fn run;
    const char *summary; /* one line for the command list */
    const char *usage;   /* the full help text of the command */
};

struct cli_ctx {
    /* global options, as given; NULL = take the environment or default */
    const char *url;
    const char *migrations;
    const char *module;
    const char *table;
    int lock_timeout_ms;
    const char *schema;
    int statement_timeout_ms; /* 0 = none */
    int lock_wait_ms;         /* 0 = none */
    int connect_wait_ms;      /* 0 = none */
    int json;
    int log_json; /* --log-format json: events as JSON lines on stderr */
    int quiet;
    int verbose; /* -v once: events; twice: debug log lines too */

    const cli_command *command; /* the command being run */
    strata *db;                 /* open handle, closed by main.c */
    json_t *doc;                /* the --json document, see cli_doc() */

    /* An error found by the CLI itself (bad flag, no URL). */
    int has_error;
    strata_error error;
    char error_message[512];
    char error_hint[256];
};

/* main.c ----------------------------------------------------------------- */

/* The exit status of a strata_code: the one table. */
int cli_exit_status(int code);

/* Sets the global option `opt` (a getopt value from cli_global_options)
 * from `arg`. Returns 0, CLI_HELP after printing help, or STRATA_EUSAGE. */
int cli_global_option(cli_ctx *ctx, int opt, const char *arg);

/* The global options, terminated by a zeroed entry, and their short form. */
extern const struct option cli_global_options[];
extern const char cli_global_shortopts[];

/* The dispatch table, NULL-name terminated, and a lookup by name. */
extern const cli_command cli_commands[];
const cli_command *cli_find_command(const char *name);

/* Prints the general usage (every command) to `f`. */
void cli_print_usage(FILE *f);

/* Argument parsing and opening, in main.c ------------------------------- */

/* Called for each command-specific option; `state` is the command's own. */
typedef int (*cli_option_fn)(cli_ctx *ctx, int opt, const char *arg,
                             void *state);

/*
 * Parses the options after COMMAND: the command's `opts` (long only, values
 * >= CLI_OPT_BASE) and every global option. Non-option arguments are
 * collected in order into pos[0..*npos), at most `max_pos` of them and at
 * least `min_pos`. Returns 0, CLI_HELP after printing the command's usage,
 * or STRATA_EUSAGE with the error left in ctx.
 */
#define CLI_OPT_BASE 0x200
int cli_parse(cli_ctx *ctx, int argc, char **argv, const struct option *opts,
              cli_option_fn fn, void *state, char **pos, int min_pos,
              int max_pos, int *npos);

/* Like cli_parse(), also accepting the command's own short options `own`
 * (getopt form, e.g. "o:"; each option's value is its character, and a long
 * option in `opts` may share that value). */
int cli_parse_short(cli_ctx *ctx, int argc, char **argv, const char *own,
                    const struct option *opts, cli_option_fn fn, void *state,
                    char **pos, int min_pos, int max_pos, int *npos);

/* Parses a positive integer option value; fails with STRATA_EUSAGE. */
int cli_parse_count(cli_ctx *ctx, const char *option, const char *arg,
                    unsigned long max, unsigned long *out);

/*
 * Resolves URL and migrations directory (options, then DATABASE_URL and
 * STRATA_MIGRATIONS, then ./migrations) and opens ctx->db. `need` is a mask
 * of CLI_NEED_*. Returns 0 or a negative code; on failure ctx->db may still
 * hold the handle whose error record explains it.
 */
int cli_open(cli_ctx *ctx, unsigned int need);

/* Records a CLI-side error in ctx and returns `code`. */
int cli_fail(cli_ctx *ctx, int code, strata_reason reason, const char *hint,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* output.c --------------------------------------------------------------- */

/* The --json document, created on first use. NULL only when out of memory. */
json_t *cli_doc(cli_ctx *ctx);

/* True when human results should go to stdout (not --json, not -q). */
int cli_human(const cli_ctx *ctx);

/* JSON values: a string (invalid UTF-8 replaced), or null for NULL or "". */
json_t *cli_jstr(const char *s);
json_t *cli_jopt(const char *s);

/* Sets obj[key] = value, ignoring allocation failure (the document is then
 * merely incomplete; the exit status still tells the truth). */
void cli_jset(json_t *obj, const char *key, json_t *value);

/* Reports `err` (code `code`): the human form on stderr, and in --json mode
 * an "error" object in the document. Secrets of the URL are masked. */
void cli_report_error(cli_ctx *ctx, int code, const strata_error *err);

/* Prints a report of steps: a line per step (human) or "module", "from",
 * "to", "dry_run", "steps" in the document. `none` is the line printed when
 * there are no steps and the command succeeded (rc 0), e.g. "already up to
 * date". Accepts a NULL report. */
void cli_print_report(cli_ctx *ctx, const strata_report *report, int rc,
                      const char *none);

/* Commands that run migrations, in run_cmd.c --------------------------- */

/* The options up, down and redo take, as bits of `allowed`. */
enum {
    CLI_RUN_TO = 1u << 0,           /* --to VERSION */
    CLI_RUN_STEPS = 1u << 1,        /* --steps N */
    CLI_RUN_ALL = 1u << 2,          /* --all */
    CLI_RUN_DRY_RUN = 1u << 3,      /* --dry-run */
    CLI_RUN_OUT_OF_ORDER = 1u << 4, /* --allow-out-of-order */
    CLI_RUN_SINGLE = 1u << 5        /* --single-transaction */
};

typedef int (*cli_run_call)(strata_report **out, strata *db,
                            const strata_run_options *opts);

/* Parses the options in `allowed` (--to, --steps and --all exclude each
 * other: STRATA_EUSAGE), opens the handle, runs `call` and prints its
 * report, or `nothing` when it did nothing. Returns call's code. */
int cli_run_migrations(cli_ctx *ctx, int argc, char **argv, unsigned allowed,
                       cli_run_call call, const char *nothing);

/* Adds "module", "current" and "migrations" of a plan to the document, or
 * prints it as a table followed by "current: X". */
void cli_print_plan(cli_ctx *ctx, const strata_plan *plan);

/* The event callback: progress and log lines on stderr per -v / -q. */
void cli_on_event(const strata_event *ev, void *payload);

/* Copies `url` into buf with a password masked: "user:***@". */
void cli_mask_url(char *buf, size_t cap, const char *url);

/* Bytes of scratch a table row may write its cells' text into. */
#define CLI_TABLE_SCRATCH 64

/* Writes the text of row r (row 0 the header) into cells[0..cols); a cell
 * may point into scratch (CLI_TABLE_SCRATCH bytes), which is the row's
 * until the next call. */
typedef void (*cli_table_row)(const void *payload, size_t r, const char **cells,
                              char *scratch);

/* A table on stdout: columns padded to their widest cell (by UTF-8 code
 * points), the last column unpadded; at most 16 columns. rows counts the
 * header. Each row is asked for twice, to measure it and to print it, so
 * that a table of 10,000 rows holds none of them. */
void cli_print_table(size_t rows, size_t cols, cli_table_row row,
                     const void *payload);

/* Formats milliseconds as "12 ms" / "1.5 s", or "-" when negative. */
void cli_format_ms(char *buf, size_t cap, long long ms);

/* Commands: one cmd_<name>.c each ---------------------------------------- */

int cmd_up(cli_ctx *ctx, int argc, char **argv);
int cmd_down(cli_ctx *ctx, int argc, char **argv);
int cmd_redo(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_history(cli_ctx *ctx, int argc, char **argv);
int cmd_validate(cli_ctx *ctx, int argc, char **argv);
int cmd_current(cli_ctx *ctx, int argc, char **argv);
int cmd_new(cli_ctx *ctx, int argc, char **argv);
int cmd_baseline(cli_ctx *ctx, int argc, char **argv);
int cmd_repair(cli_ctx *ctx, int argc, char **argv);
int cmd_forget(cli_ctx *ctx, int argc, char **argv);
int cmd_embed(cli_ctx *ctx, int argc, char **argv);
int cmd_help(cli_ctx *ctx, int argc, char **argv);

extern const char cmd_up_usage[], cmd_down_usage[], cmd_redo_usage[],
    cmd_status_usage[], cmd_history_usage[], cmd_validate_usage[],
    cmd_current_usage[], cmd_new_usage[], cmd_baseline_usage[],
    cmd_repair_usage[], cmd_forget_usage[], cmd_embed_usage[], cmd_help_usage[];

#endif /* STRATA_CLI_H */
