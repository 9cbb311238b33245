/*
 * test_mask.c - passwords never survive strata__mask_url, whatever the URL
 * form and however short the password.
 */
#include "strata_int.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static void expect(const char *url, const char *want)
{
    char *got = strata__mask_url(url);
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want, "masking %s", url);
    free(got);
}

Test(mask, uri_userinfo)
{
    expect("postgres://u:secret@db.example:5432/app",
           "postgres://u:***@db.example:5432/app");
    expect("postgresql://u:x@/app?host=/tmp",
           "postgresql://u:***@/app?host=/tmp");
    expect("postgresql://u:@h/app", "postgresql://u:***@h/app");
    expect("postgres://u@h/app", "postgres://u@h/app");
    expect("postgres://h/app", "postgres://h/app");
}

Test(mask, password_parameters)
{
    expect("postgres://u@h/app?password=p&sslmode=require",
           "postgres://u@h/app?password=***&sslmode=require");
    expect("postgres://u@h/app?sslmode=require&password=a",
           "postgres://u@h/app?sslmode=require&password=***");
    expect("host=h password=pw dbname=app", "host=h password=*** dbname=app");
    expect("password=1", "password=***");
    /* Not a parameter of its own: left alone. */
    expect("postgres://h/app?old_password=x",
           "postgres://h/app?old_password=x");
}

Test(mask, both_and_an_at_sign_in_the_path)
{
    expect("postgres://u:a@h/d@b?password=b",
           "postgres://u:***@h/d@b?password=***");
    expect("sqlite:/tmp/a:b@c.db", "sqlite:/tmp/a:b@c.db");
    cr_assert_null(strata__mask_url(NULL));
}
