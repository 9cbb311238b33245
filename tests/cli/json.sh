#!/usr/bin/env bash
# json.sh - the --json documents: exactly one JSON object on stdout, with the
# documented keys and values, for results and for errors.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
unset DATABASE_URL STRATA_MIGRATIONS
DB=sqlite:j.db
M=$TMP/m

# Python helpers shared by the checks below (prepended to each snippet).
PY_COMMON='
import re
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HEX = re.compile(r"^[0-9a-f]{64}$")
MIG_KEYS = {"version", "name", "state", "applied_at", "execution_ms",
            "applied_by", "checksum", "recorded_checksum", "up_file",
            "down_file", "reversible", "no_transaction"}
STATES = {"applied", "pending", "modified", "missing", "out_of_order", "dirty"}
REPORT_KEYS = {"module", "from", "to", "dry_run", "steps"}
STEP_KEYS = {"action", "version", "name", "file", "duration_ms",
             "old_checksum", "new_checksum", "detail"}
ERROR_KEYS = {"code", "exit", "reason", "message", "hint", "file", "line",
              "statement_line", "column", "version", "db_message",
              "db_detail", "db_code", "sqlstate"}
def mig_ok(m):
    assert set(m) == MIG_KEYS, ("migration keys", sorted(m))
    assert isinstance(m["version"], str) and m["version"], m
    assert isinstance(m["name"], str), m
    assert m["state"] in STATES, m
    assert isinstance(m["reversible"], bool) and isinstance(m["no_transaction"], bool), m
    if m["state"] in ("pending", "out_of_order"):
        assert m["applied_at"] is None, ("applied_at must be null", m)
        assert m["execution_ms"] is None, ("execution_ms must be null", m)
        assert m["recorded_checksum"] is None, m
    else:
        assert isinstance(m["applied_at"], str) and ISO.match(m["applied_at"]), m
        assert type(m["execution_ms"]) is int and m["execution_ms"] >= 0, m
    if m["state"] != "missing":
        assert HEX.match(m["checksum"]), m
def status_ok(d):
    assert set(d) == {"module", "current", "migrations"}, ("status keys", sorted(d))
    assert isinstance(d["current"], str), d
    for m in d["migrations"]:
        mig_ok(m)
def report_ok(d, action):
    assert set(d) == REPORT_KEYS, ("report keys", sorted(d))
    assert isinstance(d["dry_run"], bool), d
    for s in d["steps"]:
        assert set(s) == STEP_KEYS, ("step keys", sorted(s))
        assert s["action"] == action, s
        assert type(s["duration_ms"]) is int and s["duration_ms"] >= 0, s
def error_ok(d, code, exitst):
    assert "error" in d, ("no error object", d)
    e = d["error"]
    assert set(e) == ERROR_KEYS, ("error keys", sorted(e))
    assert e["code"] == code and e["exit"] == exitst, e
    assert isinstance(e["message"], str) and e["message"], e
'
jc() { json_check "$1" "$2" "$PY_COMMON
$3"; }

put "$M/001_users.up.sql" 'CREATE TABLE users(id INTEGER PRIMARY KEY);\n'
put "$M/001_users.down.sql" 'DROP TABLE users;\n'
put "$M/002_posts.up.sql" 'CREATE TABLE posts(id INTEGER PRIMARY KEY);\n'
put "$M/002_posts.down.sql" 'DROP TABLE posts;\n'
put "$M/003_tags.up.sql" 'CREATE TABLE tags(id INTEGER PRIMARY KEY);\n'
put "$M/003_tags.down.sql" 'DROP TABLE tags;\n'

# ------------------------------------------------------------------- status
assert_exit 0 "$STRATA" -d $DB -m "$M" status --json
assert_empty "status --json: stderr" "$ERR"
jc "status --json on a fresh db" "$OUT" '
status_ok(d)
assert d["module"] == "default" and d["current"] == "0", d
assert [m["version"] for m in d["migrations"]] == ["1", "2", "3"], d
assert [m["name"] for m in d["migrations"]] == ["users", "posts", "tags"], d
assert all(m["state"] == "pending" for m in d["migrations"]), d
assert d["migrations"][0]["up_file"].endswith("001_users.up.sql"), d
assert d["migrations"][0]["down_file"].endswith("001_users.down.sql"), d
assert d["migrations"][0]["reversible"] is True, d
assert d["migrations"][2]["reversible"] is True, d'

# ----------------------------------------------------------------------- up
assert_exit 0 "$STRATA" -d $DB -m "$M" up --json --dry-run
jc "up --json --dry-run" "$OUT" '
report_ok(d, "up")
assert d["dry_run"] is True and d["from"] == "0" and [s["version"] for s in d["steps"]] == ["1", "2", "3"], d'
assert_eq "up --dry-run --json changed nothing" "" "$(tracked j.db)"
assert_exit 0 "$STRATA" --json -d $DB -m "$M" up --to 2
jc "up --json --to 2" "$OUT" '
report_ok(d, "up")
assert d["module"] == "default" and d["from"] == "0" and d["to"] == "2", d
assert d["dry_run"] is False, d
assert [(s["version"], s["name"]) for s in d["steps"]] == [("1", "users"), ("2", "posts")], d
assert d["steps"][0]["file"].endswith("001_users.up.sql"), d
assert all(HEX.match(s["new_checksum"]) for s in d["steps"]), d
assert all(s["old_checksum"] is None for s in d["steps"]), d'
assert_exit 0 "$STRATA" -d $DB -m "$M" up --json
jc "up --json: the rest" "$OUT" 'report_ok(d, "up"); assert [s["version"] for s in d["steps"]] == ["3"] and d["from"] == "2" and d["to"] == "3", d'
assert_exit 0 "$STRATA" -d $DB -m "$M" up --json
jc "up --json when up to date" "$OUT" 'report_ok(d, "up"); assert d["steps"] == [] and d["from"] == d["to"] == "3", d'

assert_exit 0 "$STRATA" -d $DB -m "$M" status --json
jc "status --json after up" "$OUT" '
status_ok(d)
assert d["current"] == "3", d
assert [m["state"] for m in d["migrations"]] == ["applied"] * 3, d
assert all(m["checksum"] == m["recorded_checksum"] for m in d["migrations"]), d
assert all(m["applied_by"] for m in d["migrations"]), d'
# the checksum is the SHA-256 of the raw file
sum1=$(sha256sum "$M/001_users.up.sql" | cut -d' ' -f1)
jc "status --json: checksum = sha256 of the up file" "$OUT" "assert d['migrations'][0]['checksum'] == '$sum1', d['migrations'][0]"

# ------------------------------------------------------------------ current
assert_exit 0 "$STRATA" -d sqlite:empty.db -m "$M" current
assert_eq "current on a fresh db prints 0" "0" "$OUT"
assert_exit 0 "$STRATA" -d $DB -m "$M" current
assert_eq "current prints the version" "3" "$OUT"
assert_exit 0 "$STRATA" -d $DB current --json
jc "current --json" "$OUT" 'assert d == {"module": "default", "current": "3"}, d'

# ---------------------------------------------------------- down, redo, history
assert_exit 0 "$STRATA" -d $DB -m "$M" down --json --to 1
jc "down --json --to 1" "$OUT" '
report_ok(d, "down")
assert d["from"] == "3" and d["to"] == "1", d
assert [s["version"] for s in d["steps"]] == ["3", "2"], ("newest first", d)'
assert_exit 0 "$STRATA" -d $DB -m "$M" redo --json
jc "redo --json" "$OUT" '
assert set(d) == REPORT_KEYS, d
assert [(s["action"], s["version"]) for s in d["steps"]] == [("down", "1"), ("up", "1")], d
assert d["from"] == "1" and d["to"] == "1", d'
assert_exit 0 "$STRATA" -d $DB history --json
jc "history --json" "$OUT" '
assert set(d) == {"module", "entries"}, sorted(d)
E = d["entries"]
keys = {"id", "action", "version", "name", "at", "execution_ms", "applied_by", "checksum", "old_checksum", "detail"}
for e in E:
    assert set(e) == keys, ("entry keys", sorted(e))
    assert type(e["id"]) is int and ISO.match(e["at"]), e
    assert e["action"] in {"up", "down", "baseline", "repair", "forget"}, e
ids = [e["id"] for e in E]
assert ids == sorted(ids), ("oldest first", ids)
assert [(e["action"], e["version"]) for e in E] == [("up","1"),("up","2"),("up","3"),("down","3"),("down","2"),("down","1"),("up","1")], [(e["action"], e["version"]) for e in E]'
assert_exit 0 "$STRATA" -d $DB history --json --limit 2
jc "history --json --limit 2: the newest two, oldest first" "$OUT" '
assert [(e["action"], e["version"]) for e in d["entries"]] == [("down","1"),("up","1")], d'

"$STRATA" -q -d $DB -m "$M" up || fail "up again" "up failed"

# ------------------------------------------------- every state in one document
S=$TMP/states
put "$S/001_a.sql" 'CREATE TABLE a(x);\n'
put "$S/002_b.sql" 'CREATE TABLE b(x);\n'
put "$S/003_c.sql" 'CREATE TABLE c(x);\n'
put "$S/005_e.sql" 'CREATE TABLE e(x);\n'
"$STRATA" -q -d sqlite:s.db -m "$S" up || fail "states setup" "up failed"
put "$S/006_f.sql" '-- strata:no-transaction\nCREATE TABLE f(x);\nCREATE TABLE f(x);\n'
"$STRATA" -q -d sqlite:s.db -m "$S" up 2>/dev/null
put "$S/002_b.sql" 'CREATE TABLE b(x, y);\n'
rm "$S/003_c.sql"
put "$S/004_d.sql" 'CREATE TABLE d(x);\n'
put "$S/007_g.sql" 'CREATE TABLE g(x);\n'
assert_exit 0 "$STRATA" -d sqlite:s.db -m "$S" status --json
jc "status --json with every state" "$OUT" '
status_ok(d)
st = [(m["version"], m["state"]) for m in d["migrations"]]
assert st == [("1","applied"),("2","modified"),("3","missing"),("4","out_of_order"),("5","applied"),("6","dirty"),("7","pending")], st
m = {m["version"]: m for m in d["migrations"]}
assert m["2"]["checksum"] != m["2"]["recorded_checksum"] and HEX.match(m["2"]["recorded_checksum"]), m["2"]
assert m["3"]["up_file"] is None and m["3"]["checksum"] is None, m["3"]
assert m["6"]["no_transaction"] is True, m["6"]
assert m["1"]["down_file"] is None and m["1"]["reversible"] is False, m["1"]
assert d["current"] == "5", d["current"]'
assert_exit 0 "$STRATA" -d sqlite:s.db -m "$S" status
for st in "1 +a +applied" "2 +b +modified" "3 +c +missing" "4 +d +out_of_order" "6 +f +dirty" "7 +g +pending"; do
    assert_match "status table row: $st" "$OUT" "^$st"
done
assert_exit 3 "$STRATA" -d sqlite:s.db -m "$S" validate --json
jc "validate --json with problems" "$OUT" '
error_ok(d, "refused", 3)
assert d["valid"] is False, d
assert {"module", "current", "migrations", "valid", "error"} == set(d), sorted(d)'
assert_exit 0 "$STRATA" -d $DB -m "$M" validate --json
jc "validate --json when fine" "$OUT" 'assert d["valid"] is True and "error" not in d and d["current"] == "3", d'

# ------------------------------------------------- baseline, repair, forget, new
put "$TMP/bl/001_a.sql" 'CREATE TABLE a(x);\n'
put "$TMP/bl/002_b.sql" 'CREATE TABLE b(x);\n'
assert_exit 0 "$STRATA" -d sqlite:bl.db -m "$TMP/bl" baseline 1 --json
jc "baseline --json" "$OUT" '
report_ok(d, "baseline")
assert [s["version"] for s in d["steps"]] == ["1"] and d["to"] == "1", d'
printf -- '-- edited\n' >>"$TMP/bl/001_a.sql"
new1=$(sha256sum "$TMP/bl/001_a.sql" | cut -d' ' -f1)
assert_exit 0 "$STRATA" -d sqlite:bl.db -m "$TMP/bl" repair --json
jc "repair --json: old and new checksum" "$OUT" "
report_ok(d, 'repair')
assert len(d['steps']) == 1, d
s = d['steps'][0]
assert s['version'] == '1' and HEX.match(s['old_checksum']) and s['new_checksum'] == '$new1', s
assert s['old_checksum'] != s['new_checksum'], s"
assert_exit 0 "$STRATA" -d sqlite:bl.db forget 1 --json
jc "forget --json" "$OUT" 'report_ok(d, "forget"); assert [s["version"] for s in d["steps"]] == ["1"] and d["to"] == "0", d'
assert_exit 0 "$STRATA" -m "$TMP/bl" new add_things --json
jc "new --json" "$OUT" '
report_ok(d, "create")
files = sorted(s["file"] for s in d["steps"])
assert len(files) == 2 and files[0].endswith("003_add_things.down.sql") and files[1].endswith("003_add_things.up.sql"), files'

# ------------------------------------------------------------------- errors
printf -- '-- edited\n' >>"$M/002_posts.up.sql"
for cmd in up status validate down redo current; do
    [ $cmd = status ] || [ $cmd = current ] && continue
    assert_exit 3 "$STRATA" -d $DB -m "$M" $cmd --json
    assert_match "$cmd --json error: stderr still has the error" "$ERR" '^strata: error: '
    jc "$cmd --json refused (modified)" "$OUT" '
error_ok(d, "refused", 3)
assert d["error"]["reason"] == "modified", d["error"]
assert d["error"]["file"].endswith("002_posts.up.sql") and d["error"]["version"] == "2", d["error"]'
done
put "$TMP/bad/001_bad.sql" 'CREATE TABLE ok(x);\nCREATE TABLE oops(x,);\n'
assert_exit 1 "$STRATA" -d sqlite:bad.db -m "$TMP/bad" up --json
jc "up --json failure" "$OUT" '
error_ok(d, "failed", 1)
e = d["error"]
assert e["file"].endswith("001_bad.sql") and e["line"] == 2 and e["version"] == "1", e
assert "syntax error" in e["db_message"] and type(e["db_code"]) is int, e
assert d["steps"] == [], d'
assert_exit 2 "$STRATA" --json status
jc "--json: missing URL" "$OUT" 'error_ok(d, "usage", 2); assert d["error"]["reason"] == "bad_url", d'
assert_exit 2 "$STRATA" --json -d sqlite:x.db -m "$M" up --steps=-1
jc "--json: bad option value" "$OUT" 'error_ok(d, "usage", 2)'
assert_exit 2 "$STRATA" --json -d sqlite:x.db -m "$M" nosuchcmd
jc "--json: unknown command" "$OUT" 'error_ok(d, "usage", 2)'
assert_exit 2 "$STRATA" --json
jc "--json: no command" "$OUT" 'error_ok(d, "usage", 2)'
assert_exit 5 "$STRATA" -d "sqlite:$TMP/nodir/x.db" -m "$M" status --json
jc "--json: cannot open" "$OUT" 'error_ok(d, "connect", 5)'
put "$TMP/notdb" 'plain text\n'
assert_exit 5 "$STRATA" -d "sqlite:$TMP/notdb" -m "$M" status --json
jc "--json: not a database" "$OUT" 'error_ok(d, "connect", 5); assert d["error"]["reason"] == "not_a_database", d'
assert_exit 0 "$STRATA" --json -q -d $DB current
jc "--json wins over -q" "$OUT" 'assert d["current"] == "3", d'
assert_exit 0 "$STRATA" --json help up
jc "help --json" "$OUT" 'assert "usage: strata up" in d["usage"], d'

# ------------------------------------------ non-UTF-8 names stay valid JSON
put "$TMP/latin/001_caf"$'\xe9'".sql" 'CREATE TABLE cafe(x);\n'
assert_exit 0 "$STRATA" -d sqlite:latin.db -m "$TMP/latin" up --json
jc "up --json with a Latin-1 file name" "$OUT" 'report_ok(d, "up"); assert len(d["steps"]) == 1 and "\ufffd" in d["steps"][0]["file"], d'
assert_exit 0 "$STRATA" -d sqlite:latin.db -m "$TMP/latin" status --json
jc "status --json with a Latin-1 file name" "$OUT" 'status_ok(d); assert d["migrations"][0]["state"] == "applied", d'

finish
