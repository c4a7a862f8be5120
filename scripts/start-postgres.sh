#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (Debian's postgresql package, 15 or later) for tests:
# its own data directory, listening on 127.0.0.1 only, trust authentication (loopback, a test
# cluster), run as the postgres user when started by root (PostgreSQL refuses to run as root).
# Prints the connection URL on stdout. Stop it with `scripts/start-postgres.sh --stop DIR`, and
# start a stopped one again, data kept, with `scripts/start-postgres.sh --start-again DIR PORT`
# (the outage test in tests/api/postgres.rs does both). `--stop DIR immediate` stops it the way a
# crash would: no shutdown checkpoint, so the next start replays the write-ahead log
# (`cargo xtask crash --backend postgres` uses both modes).
#
# usage: scripts/start-postgres.sh [DIR [PORT]]   (defaults: /tmp/snake-arena-postgres, 55432)
#        scripts/start-postgres.sh --stop [DIR [fast|immediate]]   (default mode: fast)
#        scripts/start-postgres.sh --start-again DIR PORT
set -euo pipefail

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ]; then
    echo "start-postgres: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
    exit 1
fi

as_cluster_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts the cluster in $1/data on port $2 and waits until it accepts connections.
start_cluster() {
    as_cluster_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$2 -c unix_socket_directories=$1 -c max_connections=300" \
        start >/dev/null
}

if [ "${1:-}" = "--start-again" ]; then
    start_cluster "${2:?usage: --start-again DIR PORT}" "${3:?usage: --start-again DIR PORT}"
    exit 0
fi

if [ "${1:-}" = "--stop" ]; then
    dir="${2:-/tmp/snake-arena-postgres}"
    mode="${3:-fast}"
    case "$mode" in
    fast | immediate) ;;
    *)
        echo "start-postgres: --stop takes the mode fast or immediate, not $mode" >&2
        exit 1
        ;;
    esac
    as_cluster_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null
    exit 0
fi

dir="${1:-/tmp/snake-arena-postgres}"
port="${2:-55432}"
if [ -f "$dir/data/postmaster.pid" ]; then
    as_cluster_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
as_cluster_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log"
start_cluster "$dir" "$port"
echo "postgres://postgres@127.0.0.1:$port/postgres"
