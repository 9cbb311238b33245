# shellcheck shell=bash
# lib.sh - shared helpers for the CLI tests (sourced by every tests/cli/*.sh).
#
# Each test script runs the BUILT strata command ($STRATA) against real SQLite
# files in a fresh temporary directory that is removed on exit. Checks do not
# stop the script: every failed check prints "FAIL: <check>: <detail>" on
# stderr, and `finish` exits 1 if any check failed (0 otherwise), after a
# summary line "<script>: N checks, M failed".
#
# After `sx ARGS...` (run strata) or `assert_exit CODE CMD...`, the last
# command's stdout, stderr and exit status are in $OUT, $ERR and $RC.

set -u

T_NAME=$(basename "$0" .sh)
: "${STRATA:?STRATA must name the built strata binary}"
SQLITE3=${SQLITE3:-sqlite3}
PYTHON=${PYTHON:-python3}
export LC_ALL=C

CHECKS=0
FAILS=0
BG_PIDS=()
OUT=""
ERR=""
RC=0

TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-cli-$T_NAME.XXXXXX") || {
    echo "FAIL: setup: cannot create a temporary directory" >&2
    exit 1
}

cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    chmod -R u+rwx "$TMP" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { CHECKS=$((CHECKS + 1)); }

fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s: %s\n' "$1" "$2" >&2
}

# finish: print the summary and exit with the result.
finish() {
    echo "$T_NAME: $CHECKS checks, $FAILS failed"
    [ "$FAILS" -eq 0 ] && exit 0
    exit 1
}

# skip MESSAGE: the whole script does not apply here (meson: 77 = skipped).
skip() {
    echo "SKIP: $T_NAME: $1"
    exit 77
}

# Shows a (possibly multi-line) value in a failure message.
show() {
    if [ -z "$1" ]; then
        printf '<empty>'
    else
        printf '%s' "$1" | head -c 4000
    fi
}

# assert_eq CHECK EXPECTED ACTUAL
assert_eq() {
    if [ "$2" == "$3" ]; then
        pass
    elif [[ "$2$3" == *$'\n'* ]]; then
        # multi-line: show what differs (- expected, + actual)
        fail "$1" "values differ:
$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | head -c 4000)"
    else
        fail "$1" "expected [$(show "$2")], got [$(show "$3")]"
    fi
}

# assert_ne CHECK UNEXPECTED ACTUAL
assert_ne() {
    if [ "$2" != "$3" ]; then
        pass
    else
        fail "$1" "did not expect [$(show "$2")]"
    fi
}

# assert_contains CHECK HAYSTACK NEEDLE (fixed string)
assert_contains() {
    if [[ "$2" == *"$3"* ]]; then
        pass
    else
        fail "$1" "expected to find [$(show "$3")] in [$(show "$2")]"
    fi
}

# assert_not_contains CHECK HAYSTACK NEEDLE
assert_not_contains() {
    if [[ "$2" != *"$3"* ]]; then
        pass
    else
        fail "$1" "did not expect [$(show "$3")] in [$(show "$2")]"
    fi
}

# assert_match CHECK STRING EXTENDED-REGEX (matched against each line)
assert_match() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        pass
    else
        fail "$1" "no line matches /$3/ in [$(show "$2")]"
    fi
}

# assert_empty CHECK VALUE
assert_empty() {
    if [ -z "$2" ]; then
        pass
    else
        fail "$1" "expected nothing, got [$(show "$2")]"
    fi
}

# assert_true CHECK CMD... : the command succeeds.
assert_true() {
    local name=$1
    shift
    if "$@"; then
        pass
    else
        fail "$name" "command failed: $*"
    fi
}

# capture CMD... : runs CMD, sets OUT, ERR and RC.
capture() {
    "$@" >"$TMP/.out" 2>"$TMP/.err"
    RC=$?
    OUT=$(cat "$TMP/.out")
    ERR=$(cat "$TMP/.err")
}

# sx ARGS... : runs strata, sets OUT, ERR and RC.
sx() { capture "$STRATA" "$@"; }

# assert_exit CODE CMD... : runs CMD (capturing), checks its exit status.
# The check is named after the command; set CHECK= to name it yourself.
assert_exit() {
    local want=$1
    shift
    local name=${CHECK:-"exit of: ${*/#$STRATA/strata}"}
    CHECK=
    capture "$@"
    if [ "$RC" -eq "$want" ]; then
        pass
    else
        fail "$name" "expected exit $want, got $RC; stdout: [$(show "$OUT")] stderr: [$(show "$ERR")]"
    fi
}

# assert_error CHECK NEEDLE : the last command printed a well-formed error
# ("strata: error: ..." then a "  hint: ..." line) mentioning NEEDLE on
# stderr, and nothing on stdout.
assert_error() {
    assert_match "$1: stderr starts with 'strata: error: '" \
        "$(printf '%s\n' "$ERR" | grep -m1 -v '^strata: warning')" '^strata: error: '
    assert_match "$1: stderr has a hint line" "$ERR" '^  hint: .+'
    [ -n "$2" ] && assert_contains "$1: error names [$2]" "$ERR" "$2"
    assert_empty "$1: stdout empty on error" "$OUT"
}

# sql DB SQL... : runs sqlite3 on DB, prints the result.
sql() {
    local db=$1
    shift
    "$SQLITE3" -batch "$db" "$@"
}

# snapshot DB : a fingerprint of DB: its schema, the tracking rows and the
# history rows (empty when the tables do not exist yet).
snapshot() {
    local db=$1 table=${2:-strata_migrations}
    echo "== schema"
    "$SQLITE3" -batch "$db" .schema 2>&1
    echo "== $table"
    "$SQLITE3" -batch "$db" "SELECT * FROM \"$table\" ORDER BY module, version" 2>/dev/null
    echo "== ${table}_history"
    "$SQLITE3" -batch "$db" "SELECT * FROM \"${table}_history\" ORDER BY id" 2>/dev/null
}

# schema_without_strata DB [TABLE...]: `.schema` without strata's own
# tracking tables: strata_migrations, strata_migrations_history, and each
# TABLE and TABLE_history given (one line each in .schema).
schema_without_strata() {
    local db=$1 re="strata_migrations"
    shift
    local t
    for t in "$@"; do re="$re|$t"; done
    "$SQLITE3" -batch "$db" .schema |
        grep -v -E "^CREATE TABLE (IF NOT EXISTS )?\"?($re)(_history)?\"? \("
}

# tracked DB : "version|state" of every tracking row, in version order.
tracked() {
    "$SQLITE3" -batch "$1" \
        "SELECT version || '|' || state FROM ${2:-strata_migrations} ORDER BY length(version), version" 2>/dev/null
}

# put FILE CONTENT : writes CONTENT (printf %b) to FILE, creating directories.
put() {
    mkdir -p "$(dirname "$1")"
    printf '%b' "$2" >"$1"
}

# json_check CHECK JSON PYTHON : JSON must be one valid JSON document; PYTHON
# runs with it as `d` and signals a failed expectation with `assert COND, MSG`
# (the message is shown).
json_check() {
    local name=$1 doc=$2 code=$3 msg
    msg=$(printf '%s' "$doc" | "$PYTHON" -c '
import json, sys
src = sys.stdin.read()
try:
    d = json.loads(src)
except Exception as e:
    print("not one JSON document: %s" % e)
    sys.exit(1)
try:
    exec(compile(sys.argv[1], "check", "exec"), {"d": d, "json": json})
except AssertionError as e:
    print("assertion failed: %s" % (e,))
    sys.exit(1)
except Exception as e:
    print("%s: %s" % (type(e).__name__, e))
    sys.exit(1)
' "$code" 2>&1)
    if [ $? -eq 0 ]; then
        pass
    else
        fail "$name" "$msg; document: [$(show "$doc")]"
    fi
}

# bg CMD... : starts CMD in the background, remembers its pid (killed on exit).
bg() {
    "$@" &
    BG_PIDS+=($!)
}

# use_cc: for tests that build C programs on the library. Sets SRC (the
# source tree), CC_ARGS, CF_ARGS (include path and the build's sanitizer
# flags) and LIBDIR from STRATA_CC, STRATA_CFLAGS and STRATA_LIBDIR, which
# meson passes; lets built programs find libstrata.so; skips the test
# without a compiler.
use_cc() {
    SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    read -r -a CC_ARGS <<<"${STRATA_CC:-${CC:-cc}}"
    read -r -a CF_ARGS <<<"${STRATA_CFLAGS:-"-I$SRC/include"}"
    LIBDIR=${STRATA_LIBDIR:-$(dirname "$STRATA")/src}
    command -v "${CC_ARGS[0]}" >/dev/null 2>&1 ||
        skip "no C compiler (${CC_ARGS[0]})"
    export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# cc_strict ARGS... : the compiler of use_cc, C11 with warnings as errors.
cc_strict() {
    "${CC_ARGS[@]}" "${CF_ARGS[@]}" -std=c11 -Wall -Wextra -Werror "$@"
}
