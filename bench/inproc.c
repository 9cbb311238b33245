/*
 * inproc.c - the cost of the library's no-op startup call on a handle that
 * is already open: opens DATABASE_URL once with the embedded migrations,
 * then calls strata_up() K times (each finds nothing to do) and prints, on
 * one line:
 *
 *   calls=K median_us=... mean_us=... min_us=... max_us=...
 *
 *   inproc DATABASE_URL K [WARMUP]   (WARMUP calls first, untimed; default 3)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <strata.h>
#include <time.h>

extern const strata_embedded strata_migrations;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int one_up(strata *db)
{
    strata_report *rep = NULL;
    int rc = strata_up(&rep, db, NULL);
    strata_report_free(rep);
    if (rc != STRATA_OK)
        fprintf(stderr, "up: %s: %s\n", strata_code_name(rc),
                strata_last_error(db)->message);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATABASE_URL K [WARMUP]\n", argv[0]);
        return 2;
    }
    long k = strtol(argv[2], NULL, 10);
    long warm = argc > 3 ? strtol(argv[3], NULL, 10) : 3;
    if (k < 1 || warm < 0)
        return 2;
    strata_source *src = NULL;
    strata *db = NULL;
    if (strata_source_from_embedded(&src, &strata_migrations) != STRATA_OK)
        return 1;
    if (strata_open(&db, argv[1], src, NULL) != STRATA_OK) {
        fprintf(stderr, "open: %s\n", strata_last_error(db)->message);
        strata_close(db);
        return 1;
    }
    for (long i = 0; i < warm; i++)
        if (one_up(db) != STRATA_OK)
            return 1;
    double *t = malloc((size_t)k * sizeof *t);
    if (t == NULL)
        return 1;
    double sum = 0;
    for (long i = 0; i < k; i++) {
        double t0 = now_us();
        if (one_up(db) != STRATA_OK)
            return 1;
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)k, sizeof *t, cmp);
    double med = k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
    printf("calls=%ld median_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n", k,
           med, sum / (double)k, t[0], t[k - 1]);
    free(t);
    strata_close(db);
    strata_source_free(src);
    return 0;
}
