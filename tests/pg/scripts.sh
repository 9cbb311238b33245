#!/usr/bin/env bash
# scripts.sh - PostgreSQL script features: dollar quoting, DO blocks, E''
# strings, nested comments, COPY FROM stdin, statements that cannot run in a
# transaction, transaction control, session settings that must not leak,
# --statement-timeout, --lock-wait, and templates.
. "$(dirname "$0")/pglib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS PGTZ PGOPTIONS PGAPPNAME

tracked() { q "SELECT coalesce(string_agg(version || '|' || state, E'\n' ORDER BY length(version), version), '') FROM strata_migrations" 2>/dev/null; }
has_table() { q "SELECT count(*) FROM pg_tables WHERE tablename = '$1'"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# setup NAME: a fresh database and an empty migrations directory $TMP/NAME
# with 001_base applied. Sets D.
setup() {
    new_db
    D=$TMP/$1
    rm -rf "$D"
    put "$D/001_base.sql" 'CREATE TABLE base(x int);\n'
    "$STRATA" -q -d "$DBURL" -m "$D" up || fail "setup $1" "up failed"
}
# refuse NAME CODE NEEDLE [ARGS...]: strata ARGS (default: up) exits CODE,
# prints a well-formed error naming NEEDLE, and changes nothing.
refuse() {
    local name=$1 code=$2 needle=$3
    shift 3
    [ $# -eq 0 ] && set -- up
    local before
    before=$(pg_snapshot)
    CHECK="$name: exit $code" assert_exit "$code" "$STRATA" -d "$DBURL" -m "$D" "$@"
    assert_error "$name" "$needle"
    assert_eq "$name: database unchanged" "$before" "$(pg_snapshot)"
}

# ============================================== what the splitter must get right
setup split
# dollar-quoted function bodies with ';' inside, two tag styles
put "$D/002_functions.sql" 'CREATE FUNCTION add_one(i int) RETURNS int AS $$
BEGIN
  -- a comment; inside the body
  RETURN i + 1;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION greet(n text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  s text := $$hello; $$;
BEGIN
  RETURN s || n || $q$;$q$;
END;
$fn$;
'
# a DO block
put "$D/003_do.sql" 'CREATE TABLE did(n int);
DO $$
DECLARE i int;
BEGIN
  FOR i IN 1..3 LOOP
    INSERT INTO did VALUES (i);
  END LOOP;
END
$$;
DO LANGUAGE plpgsql $body$ BEGIN INSERT INTO did VALUES (10); END $body$;
'
# E'' strings with \' and ';', nested comments, a last statement without ';'
put "$D/004_strings.sql" "CREATE TABLE s(v text);
INSERT INTO s VALUES (E'it\\\\'s; a \\\\'quote\\\\''), ('plain;'), (E'tab\\\\there');
/* outer /* inner; still a comment */ and still; a comment */
INSERT INTO s VALUES ('after the comment');
-- INSERT INTO s VALUES ('commented out');
INSERT INTO s VALUES ('no final semicolon')"
# COPY ... FROM stdin with ';' and tabs in the data
printf 'CREATE TABLE c(a text, b text, n int);\nCOPY c (a, b, n) FROM stdin;\nsemi;colon\tx;y\t1\nwith\\ttab\t\\N\t2\nthird\tlast; row\t3\n\\.\nINSERT INTO c VALUES ($$after$$, $$copy$$, 4);\n' >"$D/005_copy.sql"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_eq "scripts: four applied" "4" "$(printf '%s\n' "$OUT" | grep -c '^applied')"
assert_empty "scripts: stderr" "$ERR"
assert_eq "dollar-quoted \$\$ body" "42" "$(q 'SELECT add_one(41)')"
assert_eq "dollar-quoted \$fn\$ body with nested quoting" "hello; bob;" "$(q "SELECT greet('bob')")"
assert_eq "DO blocks ran" "1,2,3,10" "$(q 'SELECT string_agg(n::text, $$,$$ ORDER BY n) FROM did')"
assert_eq "E'' strings, nested comments, last statement without ;" "it's; a 'quote'|plain;|tab	here|after the comment|no final semicolon" \
    "$(q "SELECT string_agg(v, '|' ORDER BY ctid) FROM s")"
assert_eq "COPY FROM stdin: rows loaded exactly" "semi;colon/x;y/1
with	tab/<null>/2
third/last; row/3
after/copy/4" "$(q "SELECT a || '/' || coalesce(b, '<null>') || '/' || n FROM c ORDER BY n")"
assert_eq "scripts: all tracked" "1|applied
2|applied
3|applied
4|applied
5|applied" "$(tracked)"

# a COPY whose data is bad: the error names the file
setup copybad
printf 'CREATE TABLE c(n int);\nCOPY c FROM stdin;\n1\nnot a number\n\\.\n' >"$D/002_copy.sql"
refuse "COPY with bad data" 1 "002_copy.sql"
assert_contains "COPY with bad data: SQLSTATE 22P02" "$ERR" "22P02"

# ============================== statements that cannot run in a transaction
setup conc
q "CREATE TABLE t(x int); INSERT INTO t SELECT generate_series(1, 100)"
put "$D/002_plain.sql" 'CREATE TABLE plain(x int);\n'
put "$D/003_idx.sql" 'CREATE TABLE u(y int);\n\n-- needs its own transaction\nCREATE INDEX CONCURRENTLY t_x ON t(x);\n'
refuse "CREATE INDEX CONCURRENTLY without no-transaction" 3 "$D/003_idx.sql:4:"
assert_contains "CONCURRENTLY: says to add the directive" "$ERR" "-- strata:no-transaction"
assert_eq "CONCURRENTLY refused: the migration before it in the run not applied" "0" "$(has_table plain)"
assert_eq "CONCURRENTLY refused: tracked" "1|applied" "$(tracked)"
assert_exit 3 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "CONCURRENTLY refused --json" "$OUT" '
e = d["error"]
assert e["code"] == "refused" and e["exit"] == 3, e
assert e["file"].endswith("003_idx.sql") and e["line"] == 4, e'
put "$D/003_idx.sql" '-- strata:no-transaction\nCREATE TABLE u(y int);\n\nCREATE INDEX CONCURRENTLY t_x ON t(x);\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_match "CONCURRENTLY with the directive: applied, no-transaction" "$OUT" '^applied 3 idx \([0-9]+ ms, no-transaction\)$'
assert_eq "CONCURRENTLY with the directive: the index exists and is valid" "t" \
    "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass")"
assert_eq "CONCURRENTLY with the directive: tracked" "1|applied
2|applied
3|applied" "$(tracked)"

setup vacuum
put "$D/002_plain.sql" 'CREATE TABLE plain(x int);\n'
put "$D/003_vac.sql" 'SELECT 1;\nVACUUM ANALYZE base;\n'
refuse "VACUUM without no-transaction" 3 "$D/003_vac.sql:2:"
assert_contains "VACUUM: says to add the directive" "$ERR" "-- strata:no-transaction"
assert_eq "VACUUM refused: the migration before it not applied" "0" "$(has_table plain)"
put "$D/003_vac.sql" '-- strata:no-transaction\nSELECT 1;\nVACUUM ANALYZE base;\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_eq "VACUUM with the directive: tracked" "1|applied
2|applied
3|applied" "$(tracked)"

# ============================================== transaction control in a script
setup begin
put "$D/002_plain.sql" 'CREATE TABLE plain(x int);\n'
put "$D/003_tx.sql" 'CREATE TABLE before_tx(x int);\nBEGIN;\nCREATE TABLE inner_tx(x int);\nCOMMIT;\n'
refuse "BEGIN in a transactional script" 3 "$D/003_tx.sql:2:"
assert_contains "BEGIN: names the statement" "$ERR" "BEGIN"
assert_eq "BEGIN refused: nothing of the run applied" "0" "$(has_table plain)"
put "$D/003_tx.sql" 'CREATE TABLE before_tx(x int);\nCOMMIT;\nCREATE TABLE after_tx(x int);\n'
refuse "COMMIT in a transactional script" 3 "$D/003_tx.sql:2:"
put "$D/003_tx.sql" 'CREATE TABLE before_tx(x int);\n\n\nROLLBACK;\n'
refuse "ROLLBACK in a transactional script" 3 "$D/003_tx.sql:4:"

setup ownbegin
put "$D/002_own.sql" '-- strata:no-transaction\nBEGIN;\nCREATE TABLE inner_tx(x int);\nINSERT INTO inner_tx VALUES (1), (2);\nCOMMIT;\nCREATE INDEX CONCURRENTLY inner_x ON inner_tx(x);\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_match "no-transaction script with its own BEGIN ... COMMIT" "$OUT" '^applied 2 own \([0-9]+ ms, no-transaction\)$'
assert_eq "own BEGIN ... COMMIT: rows" "2" "$(q 'SELECT count(*) FROM inner_tx')"
assert_eq "own BEGIN ... COMMIT: tracked" "1|applied
2|applied" "$(tracked)"

# ============================================== session settings do not leak
setup session
put "$D/002_set.sql" "SET timezone = 'America/New_York';\nSET search_path = nowhere, public;\nSET statement_timeout = 4321;\n"
put "$D/003_read.sql" "CREATE TABLE public.tz AS SELECT current_setting('TimeZone') AS tz, current_setting('search_path') AS sp, current_setting('statement_timeout') AS st;\n"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
default_tz=$(q 'SHOW timezone')
default_sp=$(q 'SHOW search_path')
assert_ne "session: the server default is not New York (test is meaningful)" "America/New_York" "$default_tz"
assert_eq "session: timezone did not leak into the next migration" "$default_tz" "$(q 'SELECT tz FROM public.tz')"
assert_eq "session: search_path did not leak" "$default_sp" "$(q 'SELECT sp FROM public.tz')"
assert_eq "session: statement_timeout did not leak" "0" "$(q 'SELECT st FROM public.tz')"
# a migration that points search_path away from the tracking table's
# schema: strata's own bookkeeping must still find its table
setup session2
put "$D/002_set.sql" "SET search_path = nowhere;\n"
put "$D/003_read.sql" "CREATE TABLE tz2 AS SELECT current_setting('search_path') AS sp;\n"
CHECK="session: SET search_path = nowhere (no --schema): exit 0" assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_not_contains "session: SET search_path = nowhere: bookkeeping finds its table" "$ERR" 'relation "strata_migrations" does not exist'
assert_eq "session: SET search_path = nowhere: all tracked" "1|applied
2|applied
3|applied" "$(tracked)"
assert_eq "session: the next migration's unqualified table lands in the default schema" "public|$default_sp" \
    "$(q "SELECT schemaname || '|' || (SELECT sp FROM public.tz2) FROM pg_tables WHERE tablename = 'tz2'" 2>/dev/null)"
setup session3
put "$D/002_set.sql" "SET search_path = nowhere;\n"
put "$D/003_read.sql" "CREATE TABLE tz3 AS SELECT current_setting('search_path') AS sp;\n"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" --schema public up
assert_eq "session, --schema public: SET search_path = nowhere does not leak" "public" \
    "$(q "SELECT schemaname FROM pg_tables WHERE tablename = 'tz3'")"

# =================================================== --statement-timeout
setup stimeout
put "$D/002_sleep.sql" 'CREATE TABLE slept(x int);\nSELECT pg_sleep(3);\n'
before=$(pg_snapshot)
t0=$(now_ms)
CHECK="--statement-timeout 1: exit 1" assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up --statement-timeout 1
t1=$(now_ms)
assert_match "--statement-timeout: names FILE:LINE" "$ERR" "^strata: error: $D/002_sleep.sql:2: "
assert_contains "--statement-timeout: SQLSTATE 57014" "$ERR" "57014"
assert_contains "--statement-timeout: hint" "$ERR" "--statement-timeout"
assert_eq "--statement-timeout: nothing recorded, nothing applied" "$before" "$(pg_snapshot)"
assert_eq "--statement-timeout: slept rolled back" "0" "$(has_table slept)"
assert_true "--statement-timeout: failed after about 1 s, not 3 (took $((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 2800
assert_exit 2 "$STRATA" -d "$DBURL" -m "$D" up --statement-timeout -1
assert_exit 2 "$STRATA" -d "$DBURL" -m "$D" up --statement-timeout abc
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up --statement-timeout 20
assert_eq "--statement-timeout 20: the sleep fits" "1|applied
2|applied" "$(tracked)"

# ======================================================== --lock-wait
setup lockwait
q "CREATE TABLE t(x int)"
put "$D/002_alter.sql" 'CREATE TABLE side(x int);\nALTER TABLE t ADD COLUMN y int;\n'
# (the snapshot first: pg_dump itself would wait behind the lock)
before=$(pg_snapshot)
PGAPPNAME=strata_test_locker bg "$PSQL" -X -q "$DBURL" -c 'BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;' >/dev/null 2>&1
locker=$!
held=0
for _ in $(seq 1 150); do
    if [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'strata_test_locker' AND l.mode = 'AccessExclusiveLock' AND l.relation = 't'::regclass AND l.granted")" = 1 ]; then
        held=1
        break
    fi
    sleep 0.1
done
assert_eq "--lock-wait: the other session holds the lock" "1" "$held"
t0=$(now_ms)
CHECK="--lock-wait 1: exit 1" assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up --lock-wait 1
t1=$(now_ms)
assert_match "--lock-wait: names FILE:LINE" "$ERR" "^strata: error: $D/002_alter.sql:2: "
assert_contains "--lock-wait: SQLSTATE 55P03" "$ERR" "55P03"
assert_contains "--lock-wait: hint" "$ERR" "--lock-wait"
assert_true "--lock-wait: gave up within ~1-3 s (took $((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 3500
assert_eq "--lock-wait: side rolled back" "0" "$(has_table side)"
assert_eq "--lock-wait: nothing recorded" "1|applied" "$(tracked)"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'strata_test_locker'" >/dev/null
wait "$locker" 2>/dev/null
assert_eq "--lock-wait: nothing recorded, nothing applied" "$before" "$(pg_snapshot)"
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up --lock-wait 5
assert_eq "--lock-wait: applies once the lock is free" "1" \
    "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'y'")"

# ============================================================== templates
setup templates
put "$D/002_tpl.sql" 'CREATE TABLE {{tables.MixedCase}}(x int);\nINSERT INTO {{ tables.MixedCase }} VALUES (1);\nCREATE TABLE {{schema}}.shown AS SELECT $q${{schema}}$q$ AS sch, $q${{tables.MixedCase}}$q$ AS tbl;\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" up
assert_eq "templates: {{tables.MixedCase}} is a quoted identifier (case kept)" "1" \
    "$(q 'SELECT count(*) FROM "MixedCase"')"
assert_eq "templates: {{schema}} expands to the quoted current schema" '"public"' "$(q 'SELECT sch FROM shown')"
assert_eq "templates: {{tables.NAME}} text" '"MixedCase"' "$(q 'SELECT tbl FROM shown')"
assert_eq "templates: checksum over the raw file" "$(sha256sum "$D/002_tpl.sql" | cut -d' ' -f1)" \
    "$(q "SELECT checksum FROM strata_migrations WHERE version = '2'")"
setup tplschema
put "$D/002_tpl.sql" 'CREATE TABLE {{tables.Items}}(x int);\nCREATE TABLE {{schema}}.shown AS SELECT $q${{schema}}$q$ AS sch, $q${{tables.Items}}$q$ AS tbl;\n'
assert_exit 0 "$STRATA" -d "$DBURL" -m "$D" --schema 'Odd "Schema"' up
assert_eq "templates with --schema: {{schema}} quoted, quotes doubled" '"Odd ""Schema"""' \
    "$(q 'SELECT sch FROM "Odd ""Schema""".shown')"
assert_match "templates with --schema: {{tables.Items}} names the table in that schema" \
    "$(q 'SELECT tbl FROM "Odd ""Schema""".shown')" '^("Odd ""Schema"""\.)?"Items"$'
assert_eq "templates with --schema: the table landed in the schema" "1" \
    "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'Odd \"Schema\"' AND tablename = 'Items'")"
setup tplbad
put "$D/002_tpl.sql" 'CREATE TABLE ok(x int);\n\nCREATE TABLE {{shcema}}.t(x int);\n'
refuse "unknown template" 3 "$D/002_tpl.sql:3:"
assert_contains "unknown template: named" "$ERR" "{{shcema}}"

# The server counts columns in the expanded text ("public" is 8 bytes,
# {{schema}} 10); the error names the file's column.
setup tplcol
put "$D/002_tpl.sql" 'CREATE TABLE {{schema}}.c (x int); SELECT nosuch FROM {{schema}}.c;\n'
assert_exit 1 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "template, then a server error: the file's column" "$OUT" '
e = d["error"]
assert e["line"] == 1 and e["column"] == 43, e'
put "$D/002_tpl.sql" 'CREATE TABLE {{schema}}.c (x int); SELEC 1;\n'
assert_exit 3 "$STRATA" -d "$DBURL" -m "$D" up --json
json_check "template, then a syntax error: the file's column" "$OUT" '
e = d["error"]
assert e["line"] == 1 and e["column"] == 36, e'

finish
