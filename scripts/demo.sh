#!/bin/sh
# make demo: apply examples/migrations to a fresh SQLite file and show the
# status table, then the history.
set -eu
strata=${1:-build/strata}
cd "$(dirname "$0")/.."
mkdir -p demo
rm -f demo/app.db demo/app.db-strata-lock
db=sqlite:demo/app.db
set -x
"$strata" -d "$db" -m examples/migrations up
"$strata" -d "$db" -m examples/migrations status
