#!/usr/bin/env bash
# corpus_sqlite.sh - strata on real-world SQLite migration sets, compared with
# the corpus's expected schemas and with the plain sqlite3 client.
#
#   atuin (sqlx naming, used AS IS): 7 SQLite sets, up; kv and scripts down.
#   kratos sqlite3 (popx naming): mapped to strata names byte-identically.
#
# The corpora live outside the repository: $STRATA_CORPORA, else
# <repo>/../shared/corpora. Without them the script is skipped (exit 77).
# Schemas are compared byte for byte after removing strata's own tables; no
# whitespace normalisation is applied.
. "$(dirname "$0")/lib.sh"

CORPORA=${STRATA_CORPORA:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/corpora}
[ -d "$CORPORA/atuin" ] && [ -d "$CORPORA/kratos" ] ||
    skip "no corpora at $CORPORA (set STRATA_CORPORA)"
cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

# reference_db DB FILE...: applies FILEs with the sqlite3 client, each as
# `BEGIN; .read FILE; COMMIT;` (how the corpus references were made).
reference_db() {
    local db=$1 f
    shift
    {
        echo ".bail on"
        for f in "$@"; do
            echo "BEGIN;"
            echo ".read '$f'"
            echo "COMMIT;"
        done
    } >"$TMP/ref.sqlite3"
    "$SQLITE3" -batch "$db" <"$TMP/ref.sqlite3" >/dev/null
}

# up files of a sqlx directory in version (numeric) order
sqlx_ups() {
    find "$1" -maxdepth 1 -name '*.sql' ! -name '*.down.sql' -printf '%f\n' |
        sort -t_ -k1,1n | sed "s|^|$1/|"
}

# ================================================================== atuin
A=$CORPORA/atuin
declare -A ATUIN=(
    [server-sqlite]=crates/atuin-server-sqlite/migrations
    [client]=crates/atuin-client/migrations
    [client-records]=crates/atuin-client/record-migrations
    [client-meta]=crates/atuin-client/meta-migrations
    [kv]=crates/atuin-kv/migrations
    [scripts]=crates/atuin-scripts/migrations
    [ai]=crates/atuin-ai/migrations
)
total_atuin=0
for set in server-sqlite client client-records client-meta kv scripts ai; do
    dir=$A/${ATUIN[$set]}
    db=$TMP/atuin-$set.db
    mapfile -t ups < <(sqlx_ups "$dir")
    n=${#ups[@]}
    total_atuin=$((total_atuin + n))

    CHECK="atuin $set: up exits 0" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$dir" up
    assert_eq "atuin $set: $n migrations applied" "$n" "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
    got=$(schema_without_strata "$db")
    assert_eq "atuin $set: schema = expected-schema.$set.sql" "$(cat "$A/expected-schema.$set.sql")" "$got"
    reference_db "$TMP/ref-$set.db" "${ups[@]}"
    assert_eq "atuin $set: schema = sqlite3 client applying the same files" "$("$SQLITE3" "$TMP/ref-$set.db" .schema)" "$got"
    CHECK="atuin $set: validate" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$dir" validate
    CHECK="atuin $set: up again" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$dir" up
    assert_eq "atuin $set: up again is a no-op" "already up to date" "$OUT"
    "$STRATA" -d "sqlite:$db" -m "$dir" status --json >"$TMP/st.json"
    sums=$(for f in "${ups[@]}"; do sha256sum "$f" | cut -d' ' -f1; done | paste -sd' ')
    json_check "atuin $set: status: all applied, checksums = sha256 of the files" "$(cat "$TMP/st.json")" "
ms = d['migrations']
assert [m['state'] for m in ms] == ['applied'] * $n, [m['state'] for m in ms]
assert ' '.join(m['checksum'] for m in ms) == '$sums', 'checksums differ'
assert d['current'] == ms[-1]['version'], d['current']"
done

# kv: the full down pass empties the schema (as the reference), then up again
db=$TMP/atuin-kv.db
dir=$A/${ATUIN[kv]}
CHECK="atuin kv: down --all" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$dir" down --all
assert_eq "atuin kv: down --all reverted 1" "1" "$(printf '%s\n' "$OUT" | grep -c '^reverted ')"
assert_eq "atuin kv: schema empty after the down pass" "" "$(schema_without_strata "$db")"
assert_eq "atuin kv: nothing tracked" "" "$(tracked "$db")"
CHECK="atuin kv: up2" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$dir" up
assert_eq "atuin kv: up2 schema = expected" "$(cat "$A/expected-schema.kv.sql")" "$(schema_without_strata "$db")"

# scripts: the newest down is MySQL syntax and fails in SQLite upstream too.
# strata stops there: exit 1, names FILE:LINE, the migration stays applied.
db=$TMP/atuin-scripts.db
dir=$A/${ATUIN[scripts]}
before=$(snapshot "$db")
CHECK="atuin scripts: down --all fails" assert_exit 1 "$STRATA" -d "sqlite:$db" -m "$dir" down --all
assert_contains "atuin scripts: error names the down file and line 2" "$ERR" \
    "$dir/20250402170430_unique_names.down.sql:2:"
assert_contains "atuin scripts: SQLite's message" "$ERR" 'near "index": syntax error'
assert_empty "atuin scripts: nothing reverted" "$OUT"
assert_eq "atuin scripts: both migrations stay applied" "20250326160051|applied
20250402170430|applied" "$(tracked "$db")"
assert_eq "atuin scripts: database unchanged" "$before" "$(snapshot "$db")"
CHECK="atuin scripts: redo fails the same way" assert_exit 1 "$STRATA" -d "sqlite:$db" -m "$dir" redo
assert_contains "atuin scripts: redo names the down file" "$ERR" "20250402170430_unique_names.down.sql:2:"
assert_eq "atuin scripts: redo left it applied" "$before" "$(snapshot "$db")"

# ================================================================== kratos
# popx → strata: for each version, the selected file per direction is the
# `.sqlite3.` (or its alias `.sqlite.`) file, else the generic one; mysql,
# cockroach and postgres files are ignored. The selected files are copied
# byte-identical as <version>_<name>.up.sql / .down.sql. Versions whose
# selected up file is empty or comment-only are skipped: popx skips them (they
# change nothing) and strata refuses empty up scripts by design.
# `.autocommit` cannot be expressed in a flat strata file without changing
# its bytes; all sqlite3 autocommit migrations pass inside a transaction too
# (PROVENANCE.md), so they are applied normally.
K=$CORPORA/kratos
KS=$K/persistence/sql/migrations/sql
mkdir -p "$TMP/kratos-up" "$TMP/kratos-chain"
"$PYTHON" - "$KS" "$TMP/kratos-up" "$TMP/kratos-chain" >"$TMP/kratos.map" <<'EOF'
import os, re, shutil, sys
src, up_dir, chain_dir = sys.argv[1:4]
rx = re.compile(r'^(\d+)_([^.]+)((?:\.[a-z0-9]+)?)((?:\.autocommit)?)\.(up|down)\.sql$')
sel = {}
for f in sorted(os.listdir(src)):
    m = rx.match(f)
    if not m:
        continue
    version, name, dialect, autocommit, direction = m.groups()
    dialect = dialect[1:]
    if dialect == "autocommit" and not autocommit:   # X.autocommit.up.sql
        dialect = ""
    if dialect == "sqlite":
        dialect = "sqlite3"
    if dialect not in ("", "sqlite3"):
        continue
    prio = 1 if dialect == "sqlite3" else 0
    key = (version, direction)
    if key in sel and sel[key][0] == prio:
        sys.exit("two candidates for %s: %s, %s" % (key, sel[key][1], f))
    if key not in sel or sel[key][0] < prio:
        sel[key] = (prio, f, name)

def blank(path):
    s = open(path, encoding="utf-8").read()
    s = re.sub(r"/\*.*?\*/", " ", s, flags=re.S)
    s = re.sub(r"--[^\n]*", " ", s)
    return not s.replace(";", " ").strip()

def copy(f, dst):
    shutil.copyfile(os.path.join(src, f), dst)
    print("COPY\t%s\t%s" % (dst, os.path.join(src, f)))

versions = sorted({v for v, _ in sel})
mapped = skipped = downs = chain = 0
for v in versions:
    up, down = sel.get((v, "up")), sel.get((v, "down"))
    up_blank = up is None or blank(os.path.join(src, up[1]))
    down_blank = down is None or blank(os.path.join(src, down[1]))
    name = (up or down)[2]
    # the reference order of every selected up file, blank ones included
    if up:
        print("UP\t%s" % os.path.join(src, up[1]))
    if not up_blank:
        mapped += 1
        copy(up[1], os.path.join(up_dir, "%s_%s.up.sql" % (v, name)))
        if down is not None:
            copy(down[1], os.path.join(up_dir, "%s_%s.down.sql" % (v, name)))
            downs += 1
    else:
        skipped += 1
    # the down chain: every non-blank selected down, with a placeholder up
    # that is never run (the chain is baselined, see below)
    if not down_blank:
        chain += 1
        with open(os.path.join(chain_dir, "%s_%s.up.sql" % (v, name)), "w") as f:
            f.write("-- placeholder: recorded by baseline, never run\nSELECT 1;\n")
        copy(down[1], os.path.join(chain_dir, "%s_%s.down.sql" % (v, name)))
print("VERSIONS\t%d" % len(versions))
print("MAPPED\t%d" % mapped)
print("SKIPPED\t%d" % skipped)
print("CHAIN\t%d" % chain)
print("LAST\t%s" % versions[-1])
EOF
assert_eq "kratos: mapping script ran" "0" "$?"
kv() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$TMP/kratos.map"; }
assert_eq "kratos: 694 sqlite3 versions selected (PROVENANCE.md)" "694" "$(kv VERSIONS)"
KN=$(kv MAPPED)
KCHAIN=$(kv CHAIN)
echo "kratos: $(kv VERSIONS) versions, $KN with SQL in the up file, $(kv SKIPPED) skipped (blank up), $KCHAIN non-blank downs"
assert_true "kratos: about 538 versions with SQL ($KN)" test "$KN" -ge 500 -a "$KN" -le 600
# every mapped file is byte-identical to its source (checked here, not
# trusted from the mapping script)
mism=0
ncopies=0
while IFS=$'\t' read -r _ dst src; do
    ncopies=$((ncopies + 1))
    cmp -s "$dst" "$src" || mism=$((mism + 1))
done < <(grep '^COPY' "$TMP/kratos.map")
assert_eq "kratos: all $ncopies mapped files byte-identical to the corpus" "0" "$mism"

db=$TMP/kratos.db
t0=$(date +%s)
CHECK="kratos: strata up" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" up
t1=$(date +%s)
echo "kratos: up of $KN migrations took $((t1 - t0)) s"
assert_eq "kratos: $KN migrations applied" "$KN" "$(printf '%s\n' "$OUT" | grep -c '^applied ')"
assert_eq "kratos: $KN applied rows" "$KN" "$(sql "$db" "SELECT count(*) FROM strata_migrations WHERE state = 'applied'")"
KSCHEMA=$(schema_without_strata "$db")
assert_eq "kratos: schema = expected-schema.sqlite3.sql" "$(cat "$K/expected-schema.sqlite3.sql")" "$KSCHEMA"
mapfile -t kups < <(awk -F'\t' '$1 == "UP" { print $2 }' "$TMP/kratos.map")
reference_db "$TMP/kratos-ref.db" "${kups[@]}"
assert_eq "kratos: schema = sqlite3 client applying all ${#kups[@]} selected up files" \
    "$("$SQLITE3" "$TMP/kratos-ref.db" .schema)" "$KSCHEMA"
CHECK="kratos: current" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" current
assert_eq "kratos: current is the newest 20-digit version" "$(ls "$TMP/kratos-up" | sed 's/_.*//' | sort | tail -1)" "$OUT"
CHECK="kratos: validate" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" validate
"$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" status --json >"$TMP/st.json"
json_check "kratos: status lists $KN applied migrations in string order of their 20-digit versions" "$(cat "$TMP/st.json")" "
vs = [m['version'] for m in d['migrations']]
assert len(vs) == $KN, len(vs)
assert all(len(v) == 20 for v in vs), [v for v in vs if len(v) != 20][:3]
assert vs == sorted(vs), 'not in order'
assert all(m['state'] == 'applied' for m in d['migrations'])"

# Full down pass. With the mapping above strata refuses it before running
# anything: many selected kratos downs are empty (irreversible in strata)
# while the up is not, by design.
before=$(snapshot "$db")
CHECK="kratos: down --all refuses (blank down scripts)" assert_exit 3 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" down --all
assert_contains "kratos: down --all names a down script" "$ERR" ".down.sql"
assert_eq "kratos: refused down --all changed nothing" "$before" "$(snapshot "$db")"

# The reference down pass runs every non-blank selected down file in reverse
# version order (popx skips blank ones; kratos downs are paired off by one,
# so only the complete chain works). Run exactly that with strata on the
# same database, in a second tracking table: the chain directory holds each
# non-blank down byte-identical under a placeholder up; baseline records
# them all without running anything, then down --all runs the real downs.
CHECK="kratos chain: baseline" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-chain" --table kratos_chain baseline "$(kv LAST)"
assert_eq "kratos chain: $KCHAIN baselined" "$KCHAIN" "$(printf '%s\n' "$OUT" | grep -c '^baselined ')"
assert_eq "kratos chain: baseline changed no schema" "$KSCHEMA" "$(schema_without_strata "$db" kratos_chain)"
t0=$(date +%s)
CHECK="kratos chain: down --all" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-chain" --table kratos_chain down --all
t1=$(date +%s)
echo "kratos: down pass of $KCHAIN migrations took $((t1 - t0)) s"
assert_eq "kratos chain: $KCHAIN reverted" "$KCHAIN" "$(printf '%s\n' "$OUT" | grep -c '^reverted ')"
assert_eq "kratos chain: schema empty after the down pass (as the reference)" "" "$(schema_without_strata "$db" kratos_chain)"
assert_eq "kratos chain: nothing left in kratos_chain" "0" "$(sql "$db" 'SELECT count(*) FROM kratos_chain')"
# up2: the same ups, tracked afresh, rebuild the identical schema
CHECK="kratos up2" assert_exit 0 "$STRATA" -d "sqlite:$db" -m "$TMP/kratos-up" --table kratos_up2 up
assert_eq "kratos up2: schema identical to up1" "$KSCHEMA" "$(schema_without_strata "$db" kratos_chain kratos_up2)"

echo "corpora: atuin $total_atuin up files in 7 sets; kratos $KN up / $KCHAIN down migrations"
finish
