#!/usr/bin/env bash
# observe.sh - what probes and log collectors see: `status --check` as a
# verdict (exit 0 current, 3 not) and `--log-format json` events, one JSON
# object per line on stderr, with a failure among them.
. "$(dirname "$0")/lib.sh"
cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS

mkdir m
printf 'CREATE TABLE a (x);\n' >m/1_a.sql
printf 'CREATE TABLE b (x);\n' >m/2_b.sql

CHECK="check on a new database" assert_exit 3 "$STRATA" -d sqlite:c.db -m m status --check
assert_contains "check says why" "$OUT" "2 migrations are pending"
assert_eq "check created no database" "no" "$([ -e c.db ] && echo yes || echo no)"
CHECK="check --json" assert_exit 3 "$STRATA" -d sqlite:c.db -m m status --check --json
assert_eq "check --json: current false, reason pending" "False pending" \
    "$(printf '%s' "$OUT" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["current"], d["reason"])')"
CHECK="up" assert_exit 0 "$STRATA" -d sqlite:c.db -m m up
CHECK="check when current" assert_exit 0 "$STRATA" -d sqlite:c.db -m m status --check
assert_eq "check prints the verdict" "current" "$OUT"
printf 'CREATE TABLE b (y);\n' >m/2_b.sql
CHECK="check after an edit" assert_exit 3 "$STRATA" -d sqlite:c.db -m m status --check --json
assert_eq "check names the problem" "modified" \
    "$(printf '%s' "$OUT" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["reason"])')"
printf 'CREATE TABLE b (x);\n' >m/2_b.sql

printf 'CREATE TABLE c (x);\nSELEC 1;\n' >m/3_c.sql
CHECK="json log of a failing run" assert_exit 1 "$STRATA" -d sqlite:c.db -m m --log-format json up
events=$(printf '%s\n' "$ERR" | grep '^{' | "$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["event"] for l in sys.stdin))')
assert_eq "events in order" "lock_acquired run_start migration_start migration_fail run_done" "$events"
fail_line=$(printf '%s\n' "$ERR" | grep '"migration_fail"' | "$PYTHON" -c '
import json, sys
e = json.loads(sys.stdin.read())
print(e["version"], e["index"], e["total"], e["error"]["line"], e["error"]["file"])')
assert_eq "the failure event names version, place and line" "3 1 1 2 m/3_c.sql" "$fail_line"
CHECK="bad log format" assert_exit 2 "$STRATA" -d sqlite:c.db -m m --log-format yaml up
finish
