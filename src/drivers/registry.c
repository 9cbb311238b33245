/*
 * registry.c - picks the driver for a database URL by its scheme.
 *
 * The scheme is everything before the first ':'; it must be letters, digits,
 * '+', '-' or '.', as in RFC 3986, so a bare path ("app.db") has none.
 */
#include "driver.h"

#include <string.h>
#include <strings.h>

static const strata__driver *const drivers[] = {
    &strata__driver_sqlite,
    &strata__driver_postgres,
};

static int scheme_len(const char *url)
{
    size_t i = 0;
    while (url[i] != '\0' && url[i] != ':') {
        char c = url[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (i > 0 &&
                  ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            return -1;
        i++;
    }
    return (url[i] == ':' && i > 0) ? (int)i : -1;
}

const strata__driver *strata__driver_for(const char *url_text, strata__url *url)
{
    int n = scheme_len(url_text);
    if (n < 0)
        return NULL;
    for (size_t d = 0; d < sizeof drivers / sizeof drivers[0]; d++) {
        for (const char *const *s = drivers[d]->schemes; *s != NULL; s++) {
            if (strlen(*s) == (size_t)n &&
                strncasecmp(*s, url_text, (size_t)n) == 0) {
                url->text = url_text;
                url->scheme = *s;
                url->rest = url_text + n + 1;
                return drivers[d];
            }
        }
    }
    return NULL;
}
