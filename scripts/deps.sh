#!/bin/sh
# Installs the Debian packages strata needs to build and test, when missing.
# Safe to run again: it does nothing when everything is present.
set -eu

pkgs="gcc g++ make meson ninja-build pkg-config libsqlite3-dev sqlite3 nettle-dev libssl-dev
libjansson-dev libunistring-dev libcriterion-dev clang-format
libpq-dev libpg-query-dev postgresql libmicrohttpd-dev curl clang
libclang-rt-14-dev valgrind strace time gnuplot-nox"
if [ "${1:-}" = "--dev" ]; then
    pkgs="$pkgs gdb"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "strata: installing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $missing
fi
