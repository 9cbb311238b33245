/*
 * cmd_embed.c - `strata embed DIR -o FILE.c`: a migration directory as C
 * source, for strata_source_from_embedded().
 *
 * The library generates the text (strata_embed()); this file only decides
 * where it goes. A build system runs the command on every build, so the file
 * is written only when its bytes change (an unchanged file keeps its mtime
 * and nothing downstream rebuilds), and always through a temporary file in
 * the same directory renamed over it, so a reader never sees half a file.
 * The temporary file is created with O_EXCL|O_NOFOLLOW: a name planted in
 * its place is never followed or overwritten.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_embed_usage[] =
    "usage: strata embed [DIR] -o FILE [--symbol NAME]\n"
    "\n"
    "Writes the migrations of DIR (default: the migrations directory, see\n"
    "--migrations) as C source that defines\n"
    "  const strata_embedded NAME;\n"
    "holding every up and down script and metadata.toml byte for byte with\n"
    "its checksum. Compile FILE into the program, declare\n"
    "  extern const strata_embedded NAME;\n"
    "and open the handle with strata_source_from_embedded(&src, &NAME): the\n"
    "same database migrates from the program or from DIR. The directory\n"
    "must plan cleanly (exit 3 otherwise). No database is needed.\n"
    "\n"
    "FILE is replaced atomically and only when its content changes, so a\n"
    "build that runs this every time rebuilds nothing when no migration\n"
    "changed. Regenerating from the same files gives identical bytes.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE  the C file to write; '-' for stdout\n"
    "  --symbol NAME      the name of the strata_embedded object\n"
    "                     (default: strata_migrations)\n"
    "\n"
    "Output: 'wrote FILE: N migrations in M files', or 'unchanged FILE: ...'\n"
    "when it already held that text. With --json: {file, symbol, migrations,\n"
    "files, changed}.\n"
    "Global options: see 'strata --help'.\n";

enum { OPT_SYMBOL = CLI_OPT_BASE };

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"symbol", required_argument, NULL, OPT_SYMBOL},
    {NULL, 0, NULL, 0},
};

typedef struct embed_args {
    const char *output;
    const char *symbol;
} embed_args;

static int option(cli_ctx *ctx, int opt, const char *arg, void *state)
{
    embed_args *a = state;
    (void)ctx;
    switch (opt) {
    case 'o': a->output = arg; return 0;
    case OPT_SYMBOL: a->symbol = arg; return 0;
    }
    return STRATA_EUSAGE;
}

/* Counts from the generated header comment ("...": N migrations in M
 * files.), which the library writes in that form. */
static void counts(const char *c, size_t *migrations, size_t *files)
{
    *migrations = *files = 0;
    const char *p = strstr(c, "\": ");
    if (p != NULL &&
        sscanf(p, "\": %zu migration%*[s] in %zu file", migrations, files) < 2)
        sscanf(p, "\": %zu migration in %zu file", migrations, files);
}

/* 1 when `path` holds exactly `len` bytes of `c`. */
static int same_content(const char *path, const char *c, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    int same = 1;
    char buf[65536];
    size_t off = 0, n;
    while (same && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n > len - off || memcmp(buf, c + off, n) != 0)
            same = 0;
        off += n;
    }
    if (ferror(f) || off != len)
        same = 0;
    fclose(f);
    return same;
}

static int write_all(int fd, const char *c, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

static int io_error(cli_ctx *ctx, const char *what, const char *path, int e)
{
    return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_IO,
                    "check that the output directory exists and is writable",
                    "cannot %s %s: %s", what, path, strerror(e));
}

/* Writes `c` to `path` through a new temporary file beside it. */
static int replace_file(cli_ctx *ctx, const char *path, const char *c,
                        size_t len)
{
    char tmp[4096];
    int fd = -1;
    for (unsigned i = 0; fd < 0 && i < 100; i++) {
        int n =
            snprintf(tmp, sizeof tmp, "%s.tmp%ld.%u", path, (long)getpid(), i);
        if (n < 0 || (size_t)n >= sizeof tmp)
            return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                            "give a shorter output path", "%s: path too long",
                            path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0666);
        if (fd < 0 && errno != EEXIST)
            return io_error(ctx, "create", tmp, errno);
    }
    if (fd < 0)
        return io_error(ctx, "create", tmp, EEXIST);

    /* Keep the permissions of the file being replaced. */
    struct stat st;
    int e = 0;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        fchmod(fd, st.st_mode & 07777) != 0)
        e = errno;
    if (e == 0 && write_all(fd, c, len) != 0)
        e = errno != 0 ? errno : EIO;
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        return io_error(ctx, "write", path, e);
    }
    return 0;
}

int cmd_embed(cli_ctx *ctx, int argc, char **argv)
{
    embed_args a = {NULL, "strata_migrations"};
    char *code = NULL;
    char *pos[1];
    int npos;

    int rc = cli_parse_short(ctx, argc, argv, "o:", options, option, &a, pos, 0,
                             1, &npos);
    if (rc != 0)
        return rc;
    if (a.output == NULL || *a.output == '\0')
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "run 'strata help embed'", "missing -o FILE");
    if (ctx->json && strcmp(a.output, "-") == 0)
        return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                        "write to a file with -o FILE",
                        "--json and -o - would both use stdout");
    if (npos == 1) {
        if (ctx->migrations != NULL && strcmp(ctx->migrations, pos[0]) != 0)
            return cli_fail(ctx, STRATA_EUSAGE, STRATA_REASON_BAD_OPTION,
                            "give the directory once",
                            "both DIR (%s) and --migrations (%s) given", pos[0],
                            ctx->migrations);
        ctx->migrations = pos[0];
    }
    rc = cli_open(ctx, CLI_NEED_SOURCE);
    if (rc != 0)
        return rc;
    rc = strata_embed(&code, ctx->db, a.symbol);
    if (rc != 0)
        return rc;

    size_t len = strlen(code), migrations, files;
    counts(code, &migrations, &files);
    int to_stdout = strcmp(a.output, "-") == 0;
    int changed = 1;
    if (to_stdout) {
        if (fwrite(code, 1, len, stdout) != len)
            rc = cli_fail(ctx, STRATA_EFAILED, STRATA_REASON_IO, NULL,
                          "cannot write to stdout");
    } else if (same_content(a.output, code, len)) {
        changed = 0;
    } else {
        rc = replace_file(ctx, a.output, code, len);
    }
    if (rc == 0 && ctx->json) {
        json_t *doc = cli_doc(ctx);
        cli_jset(doc, "file", cli_jstr(a.output));
        cli_jset(doc, "symbol", cli_jstr(a.symbol));
        cli_jset(doc, "migrations", json_integer((json_int_t)migrations));
        cli_jset(doc, "files", json_integer((json_int_t)files));
        cli_jset(doc, "changed", json_boolean(changed));
    } else if (rc == 0 && !to_stdout && !ctx->quiet) {
        printf("%s %s: %zu migration%s in %zu file%s\n",
               changed ? "wrote" : "unchanged", a.output, migrations,
               migrations == 1 ? "" : "s", files, files == 1 ? "" : "s");
    }
    strata_string_free(code);
    return rc;
}
