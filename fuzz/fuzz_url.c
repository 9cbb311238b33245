/*
 * fuzz_url.c - database URLs: strata__mask_url and strata__driver_for (and
 * the chosen driver's display_url, which is what messages show).
 *
 * Password invariants, kept sound: a password is only looked for where it
 * is unambiguous and cannot be rebuilt from what masking leaves, namely an
 * alphanumeric run of >= 4 bytes as
 *   - the "PASS" of "://user:PASS@" (authority up to the first of "/?#",
 *     its last '@', the first ':' before it), or
 *   - the value of a "password=" parameter at the start or after '?', '&'
 *     or ' ' (the value runs to the first of "& #").
 * Masking only deletes text and puts "***" in its place, so it can never
 * create an alphanumeric run; each such password must therefore occur fewer
 * times in the output than in the input (it may legitimately remain as a
 * host or user name that happens to be spelt the same).
 *
 * driver_for: a driver comes back only for "scheme:" with a registered
 * scheme (case-insensitive), and url->rest points just past the ':'.
 */
#include "fuzz.h"

#include "drivers/driver.h"

#include <ctype.h>
#include <strings.h>

/* Occurrences of needle in hay, overlapping ones included. */
static size_t count(const char *hay, const char *needle)
{
    size_t c = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        c++;
    return c;
}

static int alnum_run(const char *p, size_t n)
{
    if (n < 4)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]))
            return 0;
    return 1;
}

static void check_hidden(const char *url, const char *shown, const char *p,
                         size_t n)
{
    if (!alnum_run(p, n))
        return;
    char *secret = fuzz_cstr((const uint8_t *)p, n);
    FUZZ_CHECK(count(shown, secret) < count(url, secret));
    free(secret);
}

static void check_masked(const char *url, const char *shown)
{
    FUZZ_CHECK(shown != NULL);
    FUZZ_CHECK(strlen(shown) <= 2 * strlen(url) + 8);
    const char *auth = strstr(url, "://");
    if (auth != NULL) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *c = auth; c < auth + alen; c++)
            if (*c == '@')
                at = c;
        const char *colon =
            at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL)
            check_hidden(url, shown, colon + 1, (size_t)(at - colon - 1));
    }
    for (const char *p = url; (p = strstr(p, "password=")) != NULL; p++) {
        if (p != url && p[-1] != '?' && p[-1] != '&' && p[-1] != ' ')
            continue;
        const char *v = p + 9;
        check_hidden(url, shown, v, strcspn(v, "& #"));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_cstr(data, size);

    char *shown = strata__mask_url(url);
    check_masked(url, shown);
    free(shown);

    strata__url parsed;
    memset(&parsed, 0, sizeof parsed);
    const strata__driver *drv = strata__driver_for(url, &parsed);
    if (drv != NULL) {
        size_t n = strlen(parsed.scheme);
        FUZZ_CHECK(parsed.text == url);
        FUZZ_CHECK(strncasecmp(url, parsed.scheme, n) == 0 && url[n] == ':');
        FUZZ_CHECK(parsed.rest == url + n + 1);
        int listed = 0;
        for (const char *const *s = drv->schemes; *s != NULL; s++)
            listed |= *s == parsed.scheme;
        FUZZ_CHECK(listed);
        char *display = drv->display_url(url);
        FUZZ_CHECK(display != NULL);
        if (drv->caps & STRATA__CAP_SCHEMAS) /* PostgreSQL: has passwords */
            check_masked(url, display);
        free(display);
    } else {
        static const strata__driver *const all[] = {&strata__driver_sqlite,
                                                    &strata__driver_postgres};
        for (size_t d = 0; d < 2; d++)
            for (const char *const *s = all[d]->schemes; *s != NULL; s++)
                FUZZ_CHECK(strncasecmp(url, *s, strlen(*s)) != 0 ||
                           url[strlen(*s)] != ':');
    }
    free(url);
    return 0;
}
