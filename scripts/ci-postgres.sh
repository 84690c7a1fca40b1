#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite.
#
#   eval "$(scripts/ci-postgres.sh)"        # start (or reuse) it and export NIC_SIM_TEST_POSTGRES_URL
#   scripts/ci-postgres.sh stop             # stop it and delete its data
#
# Installs PostgreSQL from Debian's packages with apt-get if no initdb is found, creates a cluster
# under $NIC_SIM_PG_DIR (default /tmp/nic-sim-pg), starts it on 127.0.0.1:$NIC_SIM_PG_PORT (default
# 54329) with trust authentication (loopback only, throwaway data), creates the database nic_test
# and prints the export line on stdout (everything else goes to stderr). Running it again reuses a
# running server. As root, the server runs as the postgres user (PostgreSQL refuses to run as root).
set -euo pipefail

DIR="${NIC_SIM_PG_DIR:-/tmp/nic-sim-pg}"
PORT="${NIC_SIM_PG_PORT:-54329}"
DB=nic_test
USER_NAME=postgres

log() { echo "ci-postgres: $*" >&2; }

find_bin() {  # Debian keeps the server tools (initdb, pg_ctl, psql) together under /usr/lib/postgresql
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$found" ] || found="$(command -v initdb 2>/dev/null || true)"
    [ -n "$found" ] && [ -x "$(dirname "$found")/psql" ] && dirname "$found"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$USER_NAME" -- "$@"
    else
        "$@"
    fi
}

BIN="$(find_bin || true)"
if [ "${1:-start}" = stop ]; then
    if [ -n "$BIN" ] && [ -f "$DIR/data/PG_VERSION" ]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
    fi
    rm -rf "$DIR"
    log "stopped and removed $DIR"
    exit 0
fi

if [ -z "$BIN" ]; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
fi
[ "$(id -u)" = 0 ] || USER_NAME="$(id -un)"

if [ ! -f "$DIR/data/PG_VERSION" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown "$USER_NAME" "$DIR"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >&2
fi
if ! as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >&2
fi
PSQL=(as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qtA)
if [ "$("${PSQL[@]}" -c "select 1 from pg_database where datname = '$DB'")" != 1 ]; then
    "${PSQL[@]}" -c "create database $DB" >&2
fi
log "PostgreSQL on 127.0.0.1:$PORT, database $DB (data in $DIR)"
echo "export NIC_SIM_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"
