/*
 * checksum.c - the SHA-256 that the tracking table records for a script.
 *
 * A checkout on Windows turns LF into CRLF; that must not make every applied
 * migration "modified", so each CRLF is hashed as a LF. The text is streamed
 * into the digest between the CRs that are dropped, never copied.
 */
#include "strata_int.h"

#include <string.h>

#include <openssl/evp.h>

int strata__checksum(char out[65], const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *ctx = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int rc = STRATA_OK;

    out[0] = '\0';
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = STRATA_ENOMEM;
        goto out;
    }
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
        if (stop > start &&
            EVP_DigestUpdate(ctx, data + start, stop - start) != 1) {
            rc = STRATA_ENOMEM;
            goto out;
        }
        start = next;
    }
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32) {
        rc = STRATA_ENOMEM;
        goto out;
    }
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}
