/*
 * test_checksum.c - SHA-256 of scripts, with CRLF counted as LF.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <string.h>

static void sum(char out[65], const char *s)
{
    strata__checksum(out, s, strlen(s));
    cr_assert_eq(strlen(out), 64);
}

Test(checksum, known_vectors)
{
    char h[65];
    sum(h, "abc");
    cr_assert_str_eq(
        h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sum(h, "");
    cr_assert_str_eq(
        h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(checksum, crlf_equals_lf)
{
    char lf[65], crlf[65];
    sum(lf, "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n");
    sum(crlf, "CREATE TABLE t (id int);\r\nINSERT INTO t VALUES (1);\r\n");
    cr_assert_str_eq(lf, crlf);
    sum(lf, "\n\n\n");
    sum(crlf, "\r\n\r\n\r\n");
    cr_assert_str_eq(lf, crlf);
}

Test(checksum, lone_cr_is_content)
{
    char a[65], b[65];
    sum(a, "a\rb");
    sum(b, "ab");
    cr_assert_str_neq(a, b, "a CR without LF must stay in the hash");
    sum(a, "end\r");
    sum(b, "end");
    cr_assert_str_neq(a, b, "a trailing CR must stay in the hash");
    /* "\r\r\n" keeps the first CR and drops the second. */
    sum(a, "x\r\r\ny");
    sum(b, "x\r\ny");
    cr_assert_str_neq(a, b);
    char c[65];
    sum(c, "x\r\ny");
    sum(b, "x\ny");
    cr_assert_str_eq(c, b);
}

Test(checksum, crlf_matches_digest_of_lf_text)
{
    char h[65];
    /* sha256("abc\n") */
    sum(h, "abc\r\n");
    cr_assert_str_eq(
        h, "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb");
}

Test(checksum, length_not_nul)
{
    char a[65], b[65];
    strata__checksum(a, "abcdef", 3);
    sum(b, "abc");
    cr_assert_str_eq(a, b);
    /* Bytes after a NUL count: the hash is over len bytes. */
    strata__checksum(a, "ab\0c", 4);
    cr_assert_str_neq(a, b);
}
