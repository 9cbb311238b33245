#!/usr/bin/env bash
# schema.sh - --schema (one set of migrations applied once per tenant schema,
# each with its own tracking tables there), --table (custom, quoted,
# mixed-case tracking table names) and --module on PostgreSQL.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

M=$TMP/m
put "$M/001_accounts.up.sql" 'CREATE TABLE accounts(id int PRIMARY KEY);\nCREATE TABLE {{schema}}.notes(body text);\nINSERT INTO {{schema}}.notes VALUES (current_schema());\n'
put "$M/001_accounts.down.sql" 'DROP TABLE notes;\nDROP TABLE accounts;\n'
put "$M/002_orders.up.sql" 'CREATE TABLE orders(id int REFERENCES accounts);\nINSERT INTO accounts VALUES (1);\n'
put "$M/002_orders.down.sql" 'DROP TABLE orders;\nDELETE FROM accounts;\n'
put "$M/003_tags.up.sql" 'CREATE TABLE tags(name text);\nCREATE INDEX tags_name ON tags(name);\n'
put "$M/003_tags.down.sql" 'DROP TABLE tags;\n'
st() { "$STRATA" -d "$DBURL" -m "$M" "$@"; }
strip_ms() { printf '%s\n' "$OUT" | sed 's/ (.*//'; }
# tables_in SCHEMA: the base tables of SCHEMA (information_schema), by name
tables_in() {
    q "SELECT coalesce(string_agg(table_name, ' ' ORDER BY table_name), '') FROM information_schema.tables WHERE table_schema = '$1' AND table_type = 'BASE TABLE'"
}
schema_exists() { q "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '$1'"; }
# snap SCHEMA [TABLE]: a fingerprint of one schema: its DDL and the rows of
# its tracking tables.
snap() {
    local s=$1 t=${2:-strata_migrations}
    "$PG_DUMP" --schema-only --no-owner --restrict-key=strata -n "\"$s\"" "$DBURL" 2>&1 | grep -v '^--'
    q "SELECT string_agg(format('%s|%s|%s|%s', module, version, state, checksum), E'\n' ORDER BY module, version) FROM \"$s\".\"$t\"" 2>/dev/null
    q "SELECT count(*) FROM \"$s\".\"${t}_history\"" 2>/dev/null
}
rows_of() { q "SELECT coalesce(string_agg(version || '|' || state, ' ' ORDER BY version), '') FROM $1" 2>/dev/null; }

# ============================================================ --schema
new_db
assert_eq "schema: tenant_a does not exist yet" "0" "$(schema_exists tenant_a)"
assert_exit 0 st --schema tenant_a up
assert_eq "tenant_a: all applied" "applied 1 accounts
applied 2 orders
applied 3 tags" "$(strip_ms)"
assert_eq "tenant_a: the schema was created" "1" "$(schema_exists tenant_a)"
assert_eq "tenant_a: tables (and tracking tables) in the schema" \
    "accounts notes orders strata_migrations strata_migrations_digest strata_migrations_history tags" "$(tables_in tenant_a)"
assert_eq "tenant_a: nothing in public" "" "$(tables_in public)"
assert_eq "tenant_a: the index is in the schema" "tenant_a" "$(q "SELECT schemaname FROM pg_indexes WHERE indexname = 'tags_name'")"
assert_eq "tenant_a: {{schema}} and search_path point at the tenant" "tenant_a" "$(q 'SELECT body FROM tenant_a.notes')"
assert_eq "tenant_a: tracking rows" "1|applied 2|applied 3|applied" "$(rows_of tenant_a.strata_migrations)"

assert_exit 0 st --schema tenant_b up --to 2
assert_eq "tenant_b: the same migrations once more" "applied 1 accounts
applied 2 orders" "$(strip_ms)"
assert_eq "tenant_b: tables in its schema" \
    "accounts notes orders strata_migrations strata_migrations_digest strata_migrations_history" "$(tables_in tenant_b)"
assert_eq "tenant_b: {{schema}}" "tenant_b" "$(q 'SELECT body FROM tenant_b.notes')"
assert_eq "tenant_b: its own tracking rows" "1|applied 2|applied" "$(rows_of tenant_b.strata_migrations)"
assert_eq "tenant_b: each tenant has its own data" "1|1" \
    "$(q 'SELECT (SELECT count(*) FROM tenant_a.accounts) || $$|$$ || (SELECT count(*) FROM tenant_b.accounts)')"
assert_eq "tracking tables: one set per tenant schema, none in public" \
    "tenant_a.strata_migrations
tenant_a.strata_migrations_digest
tenant_a.strata_migrations_history
tenant_b.strata_migrations
tenant_b.strata_migrations_digest
tenant_b.strata_migrations_history" \
    "$(q "SELECT string_agg(table_schema || '.' || table_name, E'\n' ORDER BY table_schema, table_name) FROM information_schema.tables WHERE table_name LIKE 'strata%'")"

assert_exit 0 st --schema tenant_a status
assert_match "status tenant_a: 3 applied" "$OUT" '^3 +tags +applied '
assert_match "status tenant_a: current" "$OUT" '^current: 3$'
assert_exit 0 st --schema tenant_b status
assert_match "status tenant_b: 3 pending" "$OUT" '^3 +tags +pending +- +-$'
assert_match "status tenant_b: current" "$OUT" '^current: 2$'
assert_exit 0 st --schema tenant_b status --json
json_check "status --json tenant_b" "$OUT" '
assert d["current"] == "2", d
assert [m["state"] for m in d["migrations"]] == ["applied", "applied", "pending"], d'
assert_exit 0 st --schema tenant_a current
assert_eq "current tenant_a" "3" "$OUT"
assert_exit 0 st --schema tenant_b current
assert_eq "current tenant_b" "2" "$OUT"
assert_exit 0 st status
assert_match "status without --schema (public): nothing applied" "$OUT" '^current: 0$'
assert_eq "status created nothing in public" "" "$(tables_in public)"

before=$(snap tenant_a)
before_b=$(snap tenant_b)
assert_exit 0 st --schema tenant_a up
assert_eq "third run on tenant_a: no-op" "already up to date" "$OUT"
assert_eq "third run on tenant_a: unchanged" "$before" "$(snap tenant_a)"
assert_eq "third run on tenant_a: tenant_b unchanged" "$before_b" "$(snap tenant_b)"

assert_exit 0 st --schema tenant_b up
assert_eq "tenant_b catches up alone" "applied 3 tags" "$(strip_ms)"
assert_eq "tenant_b: tracking rows" "1|applied 2|applied 3|applied" "$(rows_of tenant_b.strata_migrations)"
assert_exit 0 st --schema tenant_b down --all
assert_eq "tenant_b down --all: only tracking tables left" "strata_migrations strata_migrations_digest strata_migrations_history" "$(tables_in tenant_b)"
assert_eq "tenant_b down --all: tenant_a untouched" "$before" "$(snap tenant_a)"
assert_exit 0 st --schema tenant_b history
assert_eq "history per schema: tenant_b has 3 ups and 3 downs" "6" "$(($(printf '%s\n' "$OUT" | wc -l) - 1))"
assert_exit 0 st --schema tenant_a history
assert_eq "history per schema: tenant_a has 3 ups" "3" "$(($(printf '%s\n' "$OUT" | wc -l) - 1))"

# a refusal in one schema leaves both as they were
printf -- '-- edited\n' >>"$M/003_tags.up.sql"
before_b=$(snap tenant_b)
assert_exit 3 st --schema tenant_a up
assert_error "modified in tenant_a" "003_tags.up.sql"
assert_eq "modified in tenant_a: unchanged" "$before" "$(snap tenant_a)"
assert_exit 0 st --schema tenant_b up --to 2
assert_eq "tenant_b is not affected by tenant_a's refusal" "1|applied 2|applied" "$(rows_of tenant_b.strata_migrations)"
sed -i '$d' "$M/003_tags.up.sql"

# a mixed-case schema name that needs quoting, and an existing schema
assert_exit 0 st --schema 'Tenant C' up --to 1
assert_eq "quoted schema 'Tenant C': created with its exact name" "accounts notes strata_migrations strata_migrations_digest strata_migrations_history" "$(tables_in 'Tenant C')"
assert_eq "quoted schema: {{schema}}" "Tenant C" "$(q 'SELECT body FROM "Tenant C".notes')"
q "CREATE SCHEMA existing; CREATE TABLE existing.keep(x int)"
assert_exit 0 st --schema existing up --to 1
assert_eq "existing schema: used as is, its tables kept" "accounts keep notes strata_migrations strata_migrations_digest strata_migrations_history" "$(tables_in existing)"

# ============================================================ --table
new_db
assert_exit 0 st --table 'MigLog' up --to 2
assert_eq "--table MigLog: mixed case kept (quoted)" "MigLog MigLog_digest MigLog_history accounts notes orders" "$(tables_in public)"
assert_eq "--table MigLog: rows" "1|applied 2|applied" "$(rows_of '"MigLog"')"
assert_exit 0 st status
assert_match "default table: nothing applied there" "$OUT" '^current: 0$'
assert_exit 0 st --table MigLog status
assert_match "--table MigLog: status" "$OUT" '^current: 2$'
assert_exit 0 st --table 'Odd "name"' --schema other up --to 1
assert_eq "--table with a quote and a space, in a schema" 'Odd "name"|Odd "name"_digest|Odd "name"_history' \
    "$(q "SELECT string_agg(table_name, '|' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'other' AND table_name LIKE 'Odd%'")"
assert_eq "--table with a quote: rows" "1|applied" "$(rows_of 'other."Odd ""name"""')"
assert_exit 0 st --table MigLog up --to 2
assert_eq "--table MigLog again: no-op" "already up to date" "$OUT"
assert_exit 0 st --table MigLog down
assert_eq "--table MigLog down" "reverted 2 orders" "$(strip_ms)"
assert_eq "--table MigLog down: rows" "1|applied" "$(rows_of '"MigLog"')"
assert_exit 0 st --table MigLog history
assert_match "--table MigLog: history from MigLog_history" "$OUT" ' down +2 +orders '

# ============================================================ --module
new_db
MA=$TMP/ma
MB=$TMP/mb
put "$MA/001_a1.sql" 'CREATE TABLE a1(x int);\n'
put "$MA/002_a2.up.sql" 'CREATE TABLE a2(x int);\n'
put "$MA/002_a2.down.sql" 'DROP TABLE a2;\n'
put "$MB/001_b1.sql" 'CREATE TABLE b1(x int);\n'
put "$MB/005_b5.up.sql" 'CREATE TABLE b5(x int);\n'
put "$MB/005_b5.down.sql" 'DROP TABLE b5;\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MA" --module alpha up
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MB" --module beta up
assert_eq "modules: one tracking table, rows per module" "alpha|1|applied
alpha|2|applied
beta|1|applied
beta|5|applied" "$(q "SELECT string_agg(module || '|' || version || '|' || state, E'\n' ORDER BY module, version) FROM strata_migrations")"
assert_eq "modules: every table" "a1 a2 b1 b5 strata_migrations strata_migrations_digest strata_migrations_history" "$(tables_in public)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MA" --module alpha current
assert_eq "module alpha: current" "2" "$OUT"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MB" --module beta current
assert_eq "module beta: current" "5" "$OUT"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MA" --module alpha status --json
json_check "module alpha: status --json" "$OUT" '
assert d["module"] == "alpha" and d["current"] == "2", d
assert [m["version"] for m in d["migrations"]] == ["1", "2"], d'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MB" --module beta down
assert_eq "module beta: down reverts beta's newest" "reverted 5 b5" "$(strip_ms)"
assert_eq "module beta down: alpha untouched" "alpha|2" \
    "$(q "SELECT module || '|' || max(version) FROM strata_migrations WHERE module = 'alpha' GROUP BY module")"
# alpha's directory seen as module beta: beta's applied 1 has another
# checksum, so the plan is refused and nothing changes
before=$(pg_snapshot)
assert_exit 3 "$STRATA" -d "$DBURL" -m "$MA" --module beta up
assert_error "another module's files under beta" "001_a1.sql"
assert_eq "module refusal: database unchanged" "$before" "$(pg_snapshot)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MA" --module gamma up --dry-run
assert_eq "module gamma: everything pending" "would apply 1 a1
would apply 2 a2" "$OUT"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$MA" --module alpha --schema tenant_m up
assert_eq "module + schema: a separate tracking table in that schema" "alpha|1 alpha|2" \
    "$(q "SELECT string_agg(module || '|' || version, ' ' ORDER BY version) FROM tenant_m.strata_migrations")"

# The tracking table is the one in current_schema(), also for the look
# without the lock that answers a no-op: with search_path "tenant_c,
# tenant_m", tenant_m's up-to-date tables are visible unqualified, but they
# are not this run's, which starts from nothing in tenant_c.
q "CREATE SCHEMA tenant_c" >/dev/null
PATHURL="$DBURL&options=-csearch_path%3Dtenant_c,tenant_m"
assert_exit 3 "$STRATA" -d "$PATHURL" -m "$MA" --module alpha status --check
assert_exit 0 "$STRATA" -d "$PATHURL" -m "$MA" --module alpha up
assert_eq "search_path: applied in current_schema()" "applied 1 a1
applied 2 a2" "$(strip_ms)"
assert_eq "search_path: tracking rows in tenant_c" "alpha|1 alpha|2" \
    "$(q "SELECT string_agg(module || '|' || version, ' ' ORDER BY version) FROM tenant_c.strata_migrations")"
assert_exit 0 "$STRATA" -d "$PATHURL" -m "$MA" --module alpha status --check

finish
