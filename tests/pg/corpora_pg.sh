#!/usr/bin/env bash
# corpora_pg.sh - strata on real-world PostgreSQL migration sets (see
# shared/corpora/README.md): harbor (golang-migrate), crates-io (Diesel
# folders, used as they are) and kratos (popx, mapped into Diesel folders
# with byte-identical files). The schema strata leaves is compared with the
# plain clients' expected schema.
#
# Normalisation of pg_dump output: the dumps use the same --restrict-key as
# the expected schemas (`corpus`), so the \restrict lines match as they are;
# only the two "-- Dumped from/by ... version" comment lines are dropped,
# because the reference server (15.20) may differ from ours in its minor
# version. strata's own objects (its tables, the history sequence, the
# digest cache) are removed by dropping them before the dump.
. "$(dirname "$0")/pglib.sh"

CORPORA=${STRATA_CORPORA:-}
if [ -z "$CORPORA" ] || [ ! -d "$CORPORA/harbor" ]; then
    skip "no corpora (set STRATA_CORPORA)"
fi

# dump_schema: the current database's schema without strata's tables.
dump_schema() {
    q "SET client_min_messages = warning;
       DROP TABLE IF EXISTS strata_migrations, strata_migrations_history,
       strata_migrations_digest, kratos_chain, kratos_chain_history,
       kratos_chain_digest, kratos_up2, kratos_up2_history, kratos_up2_digest" \
        >/dev/null
    "$PG_DUMP" --schema-only --no-owner --restrict-key=corpus "$DBURL" |
        grep -v '^-- Dumped \(from database\|by pg_dump\) version'
}
expected() { grep -v '^-- Dumped \(from database\|by pg_dump\) version' "$1"; }

# compare_schema CHECK EXPECTED-FILE
compare_schema() {
    local got=$TMP/got.sql want=$TMP/want.sql
    dump_schema >"$got"
    expected "$2" >"$want"
    if cmp -s "$want" "$got"; then
        pass
    else
        fail "$1" "schema differs from $(basename "$2"):
$(diff -u "$want" "$got" | head -n 60)"
    fi
}

# --- harbor -------------------------------------------------------------
H=$CORPORA/harbor
HDIR=$H/make/migrations/postgresql
if [ -d "$HDIR" ]; then
    # (a) on an empty database: the run stops at 0030, as the plain client
    # does; everything before it in reference-run.tsv is applied.
    before=$(awk -F'\t' '$1 == "plain-empty-db" && $2 == "up1" &&
                         $4 + 0 < 30 { printf "%s%d", sep, $4; sep = "," }' \
        "$H/reference-run.tsv")
    nbefore=$(printf '%s' "$before" | tr ',' '\n' | grep -c .)
    new_db
    CHECK="harbor: up on an empty database fails (exit 1)" \
        assert_exit 1 "$STRATA" -d "$DBURL" -m "$HDIR" up
    # (stdout lists the migrations applied before the failure)
    assert_match "harbor: a strata error line" "$ERR" '^strata: error: '
    assert_contains "harbor: the server's message, as psql reports it" \
        "$ERR" 'relation "schema_migrations" does not exist'
    assert_contains "harbor: the error names 0030's file" "$ERR" \
        "0030_2.0.0_schema.up.sql"
    assert_contains "harbor: the error names line 22 (as psql does)" "$ERR" \
        "0030_2.0.0_schema.up.sql:22:"
    assert_eq "harbor: the $nbefore versions before 0030 are applied" \
        "$before" \
        "$(q "SELECT string_agg(version::int::text, ',' ORDER BY version::int)
              FROM strata_migrations WHERE state = 'applied'")"
    assert_eq "harbor: applied lines printed before the failure" "$nbefore" \
        "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
    assert_eq "harbor: 0030 left no trace in the tracking table" "0" \
        "$(q "SELECT count(*) FROM strata_migrations WHERE version::int >= 30")"

    # (b) with golang-migrate's table created first: all 39 apply.
    new_db
    q "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY,
                                       dirty boolean NOT NULL)"
    CHECK="harbor: up with schema_migrations present" \
        assert_exit 0 "$STRATA" -d "$DBURL" -m "$HDIR" up
    assert_eq "harbor: 39 applied" "39" \
        "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
    assert_eq "harbor: 39 tracked" "39" \
        "$(q "SELECT count(*) FROM strata_migrations WHERE state = 'applied'")"
    compare_schema "harbor: schema equals expected-schema.sql" \
        "$H/expected-schema.sql"
else
    fail "harbor: corpus present" "no $HDIR"
fi

# --- crates-io ----------------------------------------------------------
CI=$CORPORA/crates-io
CDIR=$CI/migrations
new_db
CHECK="crates-io: up applies all (Diesel folders as they are)" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$CDIR" up
assert_eq "crates-io: 285 applied" "285" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
assert_eq "crates-io: 7 of them outside a transaction" "7" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied .*no-transaction)$')"
# exactly the 7 with metadata.toml
flagged=$(cd "$CDIR" && grep -l 'run_in_transaction *= *false' -- */metadata.toml |
    sed 's/_.*//; s/-//g' | sort | paste -sd, -)
notx=$(printf '%s\n' "$OUT" | grep 'no-transaction)$' | awk '{print $2}' |
    sort | paste -sd, -)
assert_eq "crates-io: the no-transaction ones are the metadata.toml ones" \
    "$flagged" "$notx"
assert_eq "crates-io: the loose data_oauth_github.sql is not a migration" \
    "285|0" "$(q "SELECT count(*) || '|' || count(*) FILTER (WHERE
                    name LIKE 'data_oauth%' OR version = '')
                  FROM strata_migrations")"
# Diesel's order: versions compared as strings (dashes removed)
assert_eq "crates-io: applied in Diesel's string order" \
    "$(cd "$CDIR" && for d in */; do
        [ -f "$d/up.sql" ] && echo "${d%%_*}" | tr -d -; done | LC_ALL=C sort |
        paste -sd, -)" \
    "$(printf '%s\n' "$OUT" | awk '/^applied /{print $2}' | paste -sd, -)"
BEFORE_DOWN=$TMP/crates-before-down.sql
"$PG_DUMP" --schema-only --no-owner --restrict-key=corpus "$DBURL" \
    >"$BEFORE_DOWN"
TRACK_BEFORE=$(q "SELECT count(*) || '|' || max(version) FROM strata_migrations")

# down --all: the reference's first problem in reverse order is the
# unflagged 2024-04-12-144536_remove-downloads-column/down.sql (CREATE
# INDEX CONCURRENTLY, no metadata.toml: Diesel runs it in a transaction and
# fails). strata's splitter classifies every script of the plan before
# running anything, so it refuses the whole down at plan time (exit 3)
# instead of reverting the 60-odd newer migrations and failing there.
CHECK="crates-io: down --all is refused at plan time (exit 3)" \
    assert_exit 3 "$STRATA" -d "$DBURL" -m "$CDIR" down --all
assert_error "crates-io: down --all" \
    "2024-04-12-144536_remove-downloads-column/down.sql"
assert_contains "crates-io: down --all: says why" "$ERR" \
    "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
assert_contains "crates-io: down --all: names the line" "$ERR" \
    "2024-04-12-144536_remove-downloads-column/down.sql:4:"
assert_contains "crates-io: down --all: gives the fix" "$ERR" \
    "strata:no-transaction"
"$PG_DUMP" --schema-only --no-owner --restrict-key=corpus "$DBURL" \
    >"$TMP/crates-after-refusal.sql"
assert_true "crates-io: the refused down changed no schema" \
    cmp -s "$BEFORE_DOWN" "$TMP/crates-after-refusal.sql"
assert_eq "crates-io: the refused down changed no tracking row" \
    "$TRACK_BEFORE" \
    "$(q "SELECT count(*) || '|' || max(version) FROM strata_migrations")"

# The genuine upstream down bugs, one at a time:
# 2024-10-25-112826: revert everything newer (those downs are fine in the
# reference), then its own down fails at run time: DROP CONSTRAINT on what
# is an index.
CHECK="crates-io: down --to 20241025112826 (newer downs are fine)" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$CDIR" down --to 20241025112826
CHECK="crates-io: down of 2024-10-25-112826 fails (exit 1)" \
    assert_exit 1 "$STRATA" -d "$DBURL" -m "$CDIR" down
assert_error "crates-io: make-unique-version-unique down" \
    "2024-10-25-112826_make-unique-version-unique/down.sql"
assert_contains "crates-io: as in the reference" "$ERR" "does not exist"
echo "crates-io: 2024-10-25-112826 down: $(printf '%s\n' "$ERR" | head -n 1)"

# 20170318181441_downloads_need_no_id/down.sql: a missing ';' joins two
# ALTERs; PostgreSQL's parser rejects the script when strata splits it, at
# plan time, so nothing runs (the reference gets the same syntax error from
# the server at run time).
new_db
CHECK="crates-io: up --to 20170318181441" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$CDIR" up --to 20170318181441
snap=$(pg_snapshot)
CHECK="crates-io: down of 20170318181441 is refused (exit 3)" \
    assert_exit 3 "$STRATA" -d "$DBURL" -m "$CDIR" down
assert_error "crates-io: downloads_need_no_id down" \
    "20170318181441_downloads_need_no_id/down.sql"
assert_contains "crates-io: a syntax error, as in the reference" "$ERR" \
    'syntax error at or near "ALTER"'
assert_eq "crates-io: the refusal changed nothing" "$snap" "$(pg_snapshot)"
echo "crates-io: 20170318181441 down: $(printf '%s\n' "$ERR" | head -n 1)"

# schema after the full up, on a fresh database
new_db
CHECK="crates-io: up on a fresh database" \
    assert_exit 0 "$STRATA" -d "$DBURL" -m "$CDIR" -q up
compare_schema "crates-io: schema equals expected-schema.sql" \
    "$CI/expected-schema.sql"

# --- kratos (postgres), mapped into Diesel folders -----------------------
K=$CORPORA/kratos
KSRC=$K/persistence/sql/migrations/sql
KDIR=$TMP/kratos
KCHAIN=$TMP/kratos-chain
mkdir -p "$KDIR" "$KCHAIN"
counts=$("$PYTHON" - "$KSRC" "$KDIR" "$KCHAIN" <<'PY'
import os, re, shutil, sys
src, dst, chain = sys.argv[1], sys.argv[2], sys.argv[3]
pat = re.compile(r'^(\d+)_([^.]+)(\.[a-z0-9]+)?(\.autocommit)?\.(up|down)\.sql$')
sel = {}  # (version, dir) -> (specific?, name, file, autocommit)
for f in sorted(os.listdir(src)):
    m = pat.match(f)
    if not m:
        continue
    version, name, dialect, auto, d = m.groups()
    if dialect == '.autocommit':      # X.autocommit.up.sql: generic
        dialect, auto = None, '.autocommit'
    if dialect not in (None, '.postgres'):
        continue                      # mysql, cockroach, sqlite(3)
    specific = dialect == '.postgres'
    key = (version, d)
    if key in sel and sel[key][0] and not specific:
        continue
    sel[key] = (specific, name, f, auto is not None)

def empty(path):
    text = open(path, 'rb').read().decode('utf-8')
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    lines = [l for l in text.splitlines()
             if l.strip() and not l.strip().startswith('--')]
    return not lines

made = skipped = notx = 0
for (version, d), (_, name, f, auto) in sorted(sel.items()):
    if d != 'up':
        continue
    if empty(os.path.join(src, f)):
        skipped += 1
        continue
    folder = os.path.join(dst, f'{version}_{name}')
    os.mkdir(folder)
    shutil.copyfile(os.path.join(src, f), os.path.join(folder, 'up.sql'))
    down = sel.get((version, 'down'))
    if down:
        shutil.copyfile(os.path.join(src, down[2]),
                        os.path.join(folder, 'down.sql'))
    if auto or (down and down[3]):
        with open(os.path.join(folder, 'metadata.toml'), 'w') as fh:
            fh.write('run_in_transaction = false\n')
        notx += 1
    made += 1

# The down pass: popx runs every non-blank down in reverse version order,
# blank ups or not (kratos downs are paired off by one, so only the whole
# chain works). Each such down, byte-identical, under a placeholder up that
# is only ever recorded by baseline, never run.
downs = last = 0
for (version, d), (_, name, f, auto) in sorted(sel.items()):
    if d != 'down' or empty(os.path.join(src, f)):
        continue
    folder = os.path.join(chain, f'{version}_{name}')
    os.mkdir(folder)
    with open(os.path.join(folder, 'up.sql'), 'w') as fh:
        fh.write('SELECT 1; -- placeholder: recorded by baseline only\n')
    shutil.copyfile(os.path.join(src, f), os.path.join(folder, 'down.sql'))
    if auto:
        with open(os.path.join(folder, 'metadata.toml'), 'w') as fh:
            fh.write('run_in_transaction = false\n')
    downs += 1
    last = version
print(made, skipped, notx, downs, last)
PY
)
read -r kmade kskipped knotx kdowns klast <<<"$counts"
echo "kratos: $kmade migrations mapped, $kskipped empty/comment-only ups" \
    "skipped, $knotx marked run_in_transaction = false"
assert_eq "kratos: 346 postgres versions = mapped + skipped" "346" \
    "$((kmade + kskipped))"
# byte-identical copies
ident=yes
for d in "$KDIR"/*/; do
    v=$(basename "$d")
    v=${v%%_*}
    for f in up down; do
        [ -f "$d/$f.sql" ] || continue
        same=""
        for s in "$KSRC/${v}"_*."$f".sql; do
            cmp -s "$s" "$d/$f.sql" && { same=1; break; }
        done
        [ -n "$same" ] || { ident="no: $d$f.sql"; break 2; }
    done
done
assert_eq "kratos: mapped files are byte-identical copies" "yes" "$ident"
new_db
CHECK="kratos: up" assert_exit 0 "$STRATA" -d "$DBURL" -m "$KDIR" up
assert_eq "kratos: all mapped migrations applied" "$kmade" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
assert_eq "kratos: no-transaction ones as marked" "$knotx" \
    "$(printf '%s\n' "$OUT" | grep -c '^applied .*no-transaction)$')"
compare_schema "kratos: schema equals expected-schema.postgres.sql" \
    "$K/expected-schema.postgres.sql"

# down (all, reverse) and up again, as the reference run does.
CHECK="kratos chain: baseline" assert_exit 0 "$STRATA" -d "$DBURL" \
    -m "$KCHAIN" --table kratos_chain baseline "$klast"
assert_eq "kratos chain: $kdowns downs baselined" "$kdowns" \
    "$(printf '%s\n' "$OUT" | grep -c '^baselined ')"
CHECK="kratos: down --all" assert_exit 0 "$STRATA" -d "$DBURL" \
    -m "$KCHAIN" --table kratos_chain down --all
assert_eq "kratos: $kdowns downs reverted" "$kdowns" \
    "$(printf '%s\n' "$OUT" | grep -c '^reverted ')"
assert_eq "kratos: after the down pass only strata's tables are left" \
    "kratos_chain,kratos_chain_digest,kratos_chain_history" \
    "$(q "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables
          WHERE schemaname = 'public'")"
assert_eq "kratos: and the extensions the downs leave (as the reference)" \
    "btree_gin,pg_trgm" \
    "$(q "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension
          WHERE extname <> 'plpgsql'")"
CHECK="kratos: up again" assert_exit 0 "$STRATA" -d "$DBURL" -m "$KDIR" \
    --table kratos_up2 up
compare_schema "kratos: up again gives expected-schema.postgres.sql" \
    "$K/expected-schema.postgres.sql"

finish
