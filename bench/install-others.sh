#!/bin/sh
# bench/install-others.sh - installs the other migration tools that
# bench/run.sh measures beside strata when it finds them: sql-migrate,
# sqitch and alembic from Debian, dbmate from npm (its package carries the
# released Go binary). The benchmark does not need them.
set -eu
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    sql-migrate \
    sqitch libdbd-sqlite3-perl libdbd-pg-perl \
    alembic python3-psycopg2 \
    npm
$sudo npm install -g --no-audit --no-fund dbmate
