#!/usr/bin/env bash
# embed.sh - `strata embed`: the generated C compiles cleanly, holds every
# migration file byte for byte, and migrates a database that the directory
# then sees as fully applied with the same checksums (and the other way
# round); regenerating changes nothing, not even the file's mtime.
#
# The C driver below is compiled against the built shared library:
# STRATA_CC, STRATA_CFLAGS (include path, sanitizer flags) and
# STRATA_LIBDIR come from tests/cli/meson.build.
. "$(dirname "$0")/lib.sh"

use_cc

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

# The driver: `drv up URL` applies from the embedded set, `drv status URL`
# prints version|state|checksum from it, `drv check DIR` compares every
# embedded file with DIR/path on disk.
cat >drv.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strata.h>

extern const strata_embedded SET;

static int fail(const char *what, int rc, strata *db)
{
    const strata_error *e = strata_last_error(db);
    fprintf(stderr, "%s: %s: %s: %s\n", what, strata_code_name(rc), e->file,
            e->message);
    return 1;
}

static int check(const char *dir)
{
    int bad = 0;
    strata_embedded_file prev = {0};
    for (size_t i = 0; i < SET.count; i++) {
        strata_embedded_file file;
        if (strata_embedded_file_at(&SET, i, &file) != 0) {
            printf("no file %zu\n", i);
            return 1;
        }
        const strata_embedded_file *f = &file;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, f->path);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            printf("missing %s\n", path);
            bad = 1;
            continue;
        }
        char *buf = malloc(f->size + 1);
        size_t n = fread(buf, 1, f->size + 1, fp);
        fclose(fp);
        if (n != f->size || memcmp(buf, f->data, n) != 0 ||
            f->data[f->size] != '\0') {
            printf("differs %s\n", f->path);
            bad = 1;
        }
        free(buf);
        if (i > 0 && strcmp(prev.path, f->path) >= 0) {
            printf("unsorted %s\n", f->path);
            bad = 1;
        }
        if (f->checksum == NULL || strlen(f->checksum) != 64) {
            printf("no checksum %s\n", f->path);
            bad = 1;
        }
        prev = file;
    }
    printf("%zu files\n", SET.count);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    if (strcmp(argv[1], "check") == 0)
        return check(argv[2]);
    strata_source *src = NULL;
    strata *db = NULL;
    int rc = strata_source_from_embedded(&src, &SET);
    if (rc != 0)
        return fail("source", rc, NULL);
    rc = strata_open(&db, argv[2], src, NULL);
    strata_source_free(src);
    if (rc != 0) {
        fail("open", rc, db);
        strata_close(db);
        return 1;
    }
    if (strcmp(argv[1], "up") == 0) {
        strata_report *r = NULL;
        rc = strata_up(&r, db, NULL);
        if (rc == 0)
            printf("applied %zu, at %s\n", r->count, r->to_version);
        strata_report_free(r);
    } else {
        strata_plan *p = NULL;
        rc = strata_status(&p, db);
        for (size_t i = 0; rc == 0 && i < p->count; i++)
            printf("%s|%s|%s\n", p->migrations[i]->version,
                   strata_state_name(p->migrations[i]->state),
                   p->migrations[i]->checksum);
        strata_plan_free(p);
    }
    if (rc != 0)
        fail(argv[1], rc, db);
    strata_close(db);
    return rc == 0 ? 0 : 1;
}
EOF

# compile NAME FILE.c SYMBOL : builds ./NAME from drv.c and the generated file.
compile() {
    capture cc_strict -DSET="$3" -o "$1" drv.c "$2" -L"$LIBDIR" -lstrata
    if [ "$RC" -eq 0 ]; then
        pass
    else
        fail "compile $2 (-Wall -Wextra -Werror)" "$(show "$ERR")"
    fi
}

# dir_status DB DIR : version|state|checksum of every migration, from DIR.
dir_status() {
    "$STRATA" -d "sqlite:$1" -m "$2" status --json | "$PYTHON" -c '
import json, sys
for m in json.load(sys.stdin)["migrations"]:
    print("%s|%s|%s" % (m["version"], m["state"], m["checksum"]))'
}

mtime() { stat -c %Y "$1"; }

# ------------------------------------------------------ the example migrations
EX=$SRC/examples/migrations
CHECK="embed examples/migrations" assert_exit 0 "$STRATA" embed "$EX" -o m.c
assert_match "embed: says what it wrote" "$OUT" '^wrote m\.c: 6 migrations in 11 files$'
assert_empty "embed: nothing on stderr" "$ERR"
assert_contains "embed: defines the default symbol" "$(cat m.c)" \
    "const strata_embedded strata_migrations = {"
assert_contains "embed: dir is the last component" "$(cat m.c)" \
    '.dir = "migrations",'
assert_contains "embed: a set of the current version" "$(cat m.c)" \
    ".version = $(sed -n 's/^#define STRATA_EMBED_VERSION //p' "$SRC/include/strata.h"),"
assert_contains "embed: the head version" "$(cat m.c)" '.head_version = "6",'
assert_not_contains "embed: no absolute path" "$(cat m.c)" "$SRC"

# Nothing per file to relocate: the set's five pointers (dir, digest, head
# version, entries, bytes) are the object's only relocations, for 11 files
# as for 10,000. Without the sanitizers, which add their own for globals.
capture "${CC_ARGS[@]}" -std=c11 -Wall -Wextra -Werror -I"$SRC/include" \
    -c -o m.o m.c
if [ "$RC" -eq 0 ]; then
    assert_eq "embed: five relocations, none per file" "5" \
        "$(readelf -rW m.o | grep -c ' R_')"
else
    fail "compile m.c to an object" "$(show "$ERR")"
fi

compile drv m.c strata_migrations
if [ -x drv ]; then
    CHECK="drv check" assert_exit 0 ./drv check "$EX"
    assert_eq "embedded files are the directory's bytes" "11 files" "$OUT"

    CHECK="up from the embedded set" assert_exit 0 ./drv up sqlite:e.db
    assert_eq "up from the embedded set: all applied" "applied 6, at 6" "$OUT"
    want=$(dir_status e.db "$EX")
    assert_eq "the directory sees every migration applied" \
        "6" "$(printf '%s\n' "$want" | grep -c '|applied|')"
    CHECK="status from the embedded set" assert_exit 0 ./drv status sqlite:e.db
    assert_eq "embedded and directory agree on states and checksums" "$want" "$OUT"
    CHECK="up from the directory" assert_exit 0 "$STRATA" -d sqlite:e.db -m "$EX" up
    assert_eq "up from the directory: nothing to do" "already up to date" "$OUT"
    # The state digest is the SHA-256 of the up-to-date tracking rows, as
    # sha256sum computes it from the table.
    rows=$(sqlite3 e.db "SELECT version || ' ' || checksum || ' ' || state
        FROM strata_migrations ORDER BY version" | sha256sum | cut -c1-64)
    assert_contains "embed: the state digest is that of the applied rows" \
        "$(cat m.c)" ".state_digest = \"$rows\","

    # The other way round: half from the directory, the rest embedded.
    assert_exit 0 "$STRATA" -d sqlite:d.db -m "$EX" up --to 3
    CHECK="up the rest from the embedded set" assert_exit 0 ./drv up sqlite:d.db
    assert_eq "up the rest from the embedded set" "applied 3, at 6" "$OUT"
    assert_eq "mixed: same checksums as the directory" "$want" "$(dir_status d.db "$EX")"
    assert_eq "mixed: same schema as all-embedded" \
        "$(schema_without_strata e.db)" "$(schema_without_strata d.db)"
fi

# ------------------------------------------------------ regenerating
touch -d '2001-02-03 04:05:06' m.c
before=$(mtime m.c)
cp m.c m.c.orig
assert_exit 0 "$STRATA" embed "$EX" -o m.c --json
json_check "regenerate --json" "$OUT" '
assert d["file"] == "m.c", d
assert d["symbol"] == "strata_migrations", d
assert d["migrations"] == 6 and d["files"] == 11, d
assert d["changed"] is False, d'
assert_eq "regenerate: identical bytes" "" "$(cmp m.c m.c.orig 2>&1)"
assert_eq "regenerate: mtime left alone" "$before" "$(mtime m.c)"
assert_exit 0 "$STRATA" -m "$EX" embed -o m.c
assert_match "regenerate via --migrations: unchanged" "$OUT" '^unchanged m\.c: '
assert_exit 0 "$STRATA" embed "$EX/" -o - --symbol strata_migrations
assert_eq "-o - and a trailing slash: the same text on stdout" \
    "$(cat m.c)" "$OUT"
assert_eq "no temporary file left behind" "" "$(find . -maxdepth 1 -name '*.tmp*')"

# A change is written, through a new file, keeping the permissions.
cp -r "$EX" ex
chmod 640 m.c
printf 'CREATE TABLE t7 (x);\n' >ex/0007_t7.sql
assert_exit 0 "$STRATA" embed ex -o m.c --json
json_check "changed --json" "$OUT" '
assert d["changed"] is True and d["migrations"] == 7 and d["files"] == 12, d'
assert_eq "changed: permissions kept" "640" "$(stat -c %a m.c)"
assert_ne "changed: new mtime" "$before" "$(mtime m.c)"
assert_contains "changed: holds the new file" "$(cat m.c)" '"0007_t7.sql"'

# ------------------------------------------------------ awkward bytes
mkdir tricky
printf "SELECT '?', '??=', '??/', '\"q\"', 'back\\\\\\\\slash\\\\';\r\nSELECT '\\\\0121', 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80', '\x01\x1f\x7f\t';\r\n" \
    >tricky/0001_crlf.sql
printf -- '-- strata:up\nCREATE TABLE t (x);\n-- strata:down\nDROP TABLE t;' \
    >tricky/0002_markers.sql
printf 'SELECT 3;\n' >tricky/0003_x.up.sql
: >tricky/0003_x.down.sql
printf 'not a migration\n' >tricky/README
assert_exit 0 "$STRATA" embed tricky -o t.c --symbol tricky_set
compile drvt t.c tricky_set
if [ -x drvt ]; then
    CHECK="tricky: drv check" assert_exit 0 ./drvt check tricky
    assert_eq "tricky: every byte survives, marker file once" "4 files" "$OUT"
fi

# ------------------------------------------------------ Diesel folders
put diesel/2017-08-31-120000_users/up.sql 'CREATE TABLE users (id INTEGER);\n'
put diesel/2017-08-31-120000_users/down.sql 'DROP TABLE users;\n'
put diesel/2017-09-01-000000_idx/up.sql 'CREATE INDEX users_id ON users (id);\n'
put diesel/2017-09-01-000000_idx/down.sql 'DROP INDEX users_id;\n'
put diesel/2017-09-01-000000_idx/metadata.toml 'run_in_transaction = false\n'
put diesel/2017-09-01-000000_idx/notes.txt 'not embedded\n'
assert_exit 0 "$STRATA" embed diesel -o d.c --symbol diesel_set
assert_match "diesel: counts" "$OUT" '^wrote d\.c: 2 migrations in 5 files$'
assert_contains "diesel: metadata.toml embedded" "$(cat d.c)" \
    '"2017-09-01-000000_idx/metadata.toml"'
assert_not_contains "diesel: stray file left out" "$(cat d.c)" "notes.txt"
compile drvd d.c diesel_set
if [ -x drvd ]; then
    CHECK="diesel: drv check" assert_exit 0 ./drvd check diesel
    assert_eq "diesel: files" "5 files" "$OUT"
    CHECK="diesel: up embedded" assert_exit 0 ./drvd up sqlite:f.db
    assert_eq "diesel: up embedded" "applied 2, at 20170901000000" "$OUT"
    CHECK="diesel: status embedded" assert_exit 0 ./drvd status sqlite:f.db
    assert_eq "diesel: embedded and directory agree" \
        "$(dir_status f.db diesel)" "$OUT"
    assert_eq "diesel: all applied" "2" "$(printf '%s\n' "$OUT" | grep -c '|applied|')"
fi

# ------------------------------------------------------ refusals
assert_exit 2 "$STRATA" embed "$EX" -o x.c --symbol 9lives
assert_error "bad symbol" "9lives"
assert_exit 2 "$STRATA" embed "$EX"
assert_error "no -o" "-o"
assert_exit 2 "$STRATA" embed "$EX" -o - --json
json_check "--json with -o -: one JSON error document" "$OUT" '
assert d["error"]["code"] == "usage" or d["error"]["exit"] == 2, d'
assert_exit 2 "$STRATA" -m other embed "$EX" -o x.c
assert_error "DIR and --migrations differ" "--migrations"
assert_exit 2 "$STRATA" embed nowhere -o x.c
assert_error "missing directory" "nowhere"
mkdir bad
printf 'SELECT 1;\n' >bad/abc.sql
assert_exit 3 "$STRATA" embed bad -o x.c
assert_error "bad file name refused like status refuses it" "abc.sql"
assert_exit 2 "$STRATA" embed "$EX" -o no/such/dir/x.c
assert_error "unwritable output" "no/such/dir"
assert_eq "nothing written on refusal" "" "$(ls x.c 2>/dev/null)"

assert_exit 0 "$STRATA" help embed
assert_contains "help embed" "$OUT" "usage: strata embed"
assert_exit 0 "$STRATA" --help
assert_match "embed in the command list" "$OUT" '^  embed '

finish
