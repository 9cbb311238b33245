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
static void digest_hex(struct sha256_ctx *ctx, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof md, md);
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
}

void strata__checksum(char out[65], const char *data, size_t len)
{
    struct sha256_ctx ctx;

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
    digest_hex(&ctx, out);
}

void strata__state_hash_init(strata__state_hash *h)
{
    sha256_init(&h->ctx);
}

void strata__state_hash_add(strata__state_hash *h, const char *version,
                            const char *checksum, const char *state)
{
    const char *parts[] = {version, " ", checksum, " ", state, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sha256_update(&h->ctx, strlen(parts[i]), (const uint8_t *)parts[i]);
}

void strata__state_hash_end(strata__state_hash *h, char out[65])
{
    digest_hex(&h->ctx, out);
}
