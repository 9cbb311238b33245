#!/usr/bin/env bash
# readme.sh - the C in README.md is code that builds and works: every
# ```c block compiles with -Wall -Wextra -Werror against the built library;
# the startup program migrates the example schema, and the embedded
# startup function does the same from a set made by `strata embed`.
. "$(dirname "$0")/lib.sh"

use_cc
cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

awk -v dir="$TMP" '
    /^```c$/ { n++; out = sprintf("%s/block%d.c", dir, n); inblock = 1; next }
    /^```/ { inblock = 0; next }
    inblock { print > out }
' "$SRC/README.md"
blocks=$(ls block*.c 2>/dev/null | wc -l)
assert_true "README.md has C examples ($blocks)" test "$blocks" -ge 2

for b in block*.c; do
    CHECK="$b compiles" assert_exit 0 cc_strict -c -o "${b%.c}.o" "$b"
done

cp -r "$SRC/examples/migrations" migrations
# The program that has a main() runs as the README shows it: migrations/
# and sqlite:app.db in the current directory.
for b in block*.c; do
    grep -q '^int main' "$b" || continue
    CHECK="$b links" assert_exit 0 cc_strict -o "${b%.c}" "$b" -L"$LIBDIR" -lstrata
    CHECK="$b migrates" assert_exit 0 "./${b%.c}"
    assert_eq "$b: the example schema is applied" "6" \
        "$(sql app.db "SELECT count(*) FROM strata_migrations WHERE state = 'applied'")"
done
# The function that migrates from embedded migrations, with the set
# `strata embed` makes and a main() that calls it.
for b in block*.c; do
    grep -q 'strata_migrations;' "$b" || continue
    fn=$(sed -n 's/^int \([a-z_]*\)(const char \*url)$/\1/p' "$b")
    assert_ne "$b: names its function" "" "$fn"
    CHECK="strata embed" assert_exit 0 "$STRATA" embed migrations -o emb.c --symbol strata_migrations
    printf 'int %s(const char *url);\nint main(void) { return %s("sqlite:emb.db") != 0; }\n' \
        "$fn" "$fn" >call.c
    CHECK="$b links" assert_exit 0 cc_strict -o "${b%.c}" "$b" emb.c call.c -L"$LIBDIR" -lstrata
    CHECK="$b migrates" assert_exit 0 "./${b%.c}"
    assert_eq "$b: the example schema is applied" "6" \
        "$(sql emb.db "SELECT count(*) FROM strata_migrations WHERE state = 'applied'")"
done
finish
