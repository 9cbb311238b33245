#!/bin/sh
# The library never prints, exits, aborts or reads the environment: refuse
# those calls in src/. Comments are stripped first so prose may name them.
set -eu
cd "$(dirname "$0")/.."
bad=$(for f in $(find src -name '*.c' -o -name '*.h'); do
    sed -e 's://.*$::' "$f" | awk -v f="$f" '
        { line = $0
          while (match(line, /\/\*/)) {
              rest = substr(line, RSTART + 2)
              if (match(rest, /\*\//)) { line = substr(line, 1, index(line, "/*") - 1) substr(rest, RSTART + 2) }
              else { line = substr(line, 1, index(line, "/*") - 1); incomment = 1; break }
          }
          if (incomment && !index($0, "/*")) { if (index($0, "*/")) { incomment = 0 } ; next }
          if (line ~ /(^|[^_a-zA-Z0-9])(printf|fprintf|puts|fputs|perror|exit|_exit|abort|getenv|secure_getenv)[ \t]*\(/) print f ":" NR ": " $0 }'
done)
if [ -n "$bad" ]; then
    echo "lint: the library must not print, exit, abort or read the environment:" >&2
    echo "$bad" >&2
    exit 1
fi

# Formatting: clang-format (LLVM base, 4 spaces, 80 columns; .clang-format).
if command -v clang-format >/dev/null 2>&1; then
    unformatted=$(for f in $(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null); do
        clang-format "$f" | cmp -s "$f" - || echo "$f"
    done)
    if [ -n "$unformatted" ]; then
        echo "lint: not clang-formatted (run: clang-format -i FILE):" >&2
        echo "$unformatted" >&2
        exit 1
    fi
fi
