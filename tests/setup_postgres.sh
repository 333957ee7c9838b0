#!/bin/sh
# A real PostgreSQL for the tracking-server tests (tests/study/tracking/test_team_server.py): Debian's
# `postgresql` (initdb, pg_ctl); each test starts a cluster of its own in a temporary folder and stops it.
# Idempotent: does nothing when initdb is found (on PATH or in /usr/lib/postgresql/*/bin). Installs it
# with apt-get when we are root; otherwise says what to run. `make test` calls this before pytest.
set -eu

have_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    for bin in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$bin" ] && return 0
    done
    return 1
}

if have_initdb; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "tests/setup_postgres.sh: PostgreSQL is not installed and this is not root;" >&2
    echo "  install it with:  sudo apt-get update && sudo apt-get install -y postgresql" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/setup_postgres.sh: PostgreSQL is not installed and there is no apt-get here;" >&2
    echo "  install PostgreSQL's server (initdb, pg_ctl) so that it is on PATH" >&2
    exit 1
fi
echo "tests/setup_postgres.sh: installing Debian's postgresql (a real database for the tracking-server tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# Debian's package starts a cluster of its own on port 5432: the tests use their own, so leave it stopped.
if command -v pg_ctlcluster >/dev/null 2>&1; then
    for conf in /etc/postgresql/*/main; do
        [ -d "$conf" ] || continue
        version=$(basename "$(dirname "$conf")")
        pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
    done
fi
have_initdb || { echo "tests/setup_postgres.sh: apt-get ran, but initdb is still not found" >&2; exit 1; }
