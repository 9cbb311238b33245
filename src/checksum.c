/*
 * checksum.c - the SHA-256 that the tracking table records for a script.
 *
 * A checkout on Windows turns LF into CRLF; that must not make every applied
 * migration "modified", so each CRLF is hashed as a LF. The text is streamed
 * into the digest between the CRs that are dropped, never copied.
 */
#include "strata_int.h"

#include <string.h>

#include <nettle/sha2.h>

/* Nettle, not OpenSSL: the same digest, without loading a 4 MB library and
 * its configuration at every start. */
void strata__checksum(char out[65], const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    struct sha256_ctx ctx;
    uint8_t md[SHA256_DIGEST_SIZE];

    sha256_init(&ctx);
    size_t start = 0;
    while (start < len) {
        const char *cr = memchr(data + start, '\r', len - start);
        size_t stop = cr != NULL ? (size_t)(cr - data) : len;
        /* A CR not followed by LF is content and stays in the hash. */
        size_t next = stop;
        if (cr != NULL && !(stop + 1 < len && data[stop + 1] == '\n'))
            stop = next = stop + 1;
        else if (cr != NULL)
            next = stop + 1; /* skip the CR, keep the LF for the next run */
        if (stop > start)
            sha256_update(&ctx, stop - start, (const uint8_t *)data + start);
        start = next;
    }
    sha256_digest(&ctx, sizeof md, md);
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
}
