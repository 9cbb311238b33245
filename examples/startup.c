/*
 * startup.c - the smallest real use of libstrata: migrate at startup,
 * refuse to start on failure.
 *
 *   cc startup.c $(pkg-config --cflags --libs strata) -o startup
 *   ./startup sqlite:app.db migrations/
 */
#include <stdio.h>
#include <strata.h>

static void on_event(const strata_event *ev, void *payload)
{
    (void)payload;
    if (ev->type == STRATA_EVENT_MIGRATION_DONE)
        fprintf(stderr, "migrated %s %s (%lld ms)\n", ev->version, ev->name,
                (long long)ev->duration_ms);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATABASE_URL MIGRATIONS_DIR\n", argv[0]);
        return 2;
    }
    strata_source *src = NULL;
    strata *db = NULL;
    strata_report *report = NULL;
    strata_options opts = STRATA_OPTIONS_INIT;
    opts.on_event = on_event;

    int rc = strata_source_from_dir(&src, argv[2]);
    if (rc == STRATA_OK)
        rc = strata_open(&db, argv[1], src, &opts);
    if (rc == STRATA_OK)
        rc = strata_up(&report, db, NULL);
    if (rc != STRATA_OK) {
        const strata_error *e = strata_last_error(db);
        fprintf(stderr, "cannot start: %s%s%s:%d: %s\n  hint: %s\n",
                strata_code_name(rc), *e->file ? " " : "", e->file, e->line,
                e->message, e->hint);
    } else {
        fprintf(stderr, "schema at version %s (%zu applied now)\n",
                report->to_version, report->count);
    }
    strata_report_free(report);
    strata_close(db);
    strata_source_free(src);
    if (rc != STRATA_OK)
        return 1;
    /* ... the database is current: start serving ... */
    return 0;
}
