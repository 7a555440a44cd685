#!/usr/bin/env bash
# Starts (creating on first use) the app's private Postgres cluster and makes sure a database
# exists. Prints the DATABASE_URL on stdout; progress goes to stderr.
#
#   scripts/pg.sh [database-name]      default database: portone_refund
#
# The cluster has its own data dir, port and socket dir and never touches a system cluster.
# As root, initdb/postgres refuse to run, so they run as the `postgres` OS user, whose data
# must live where that user can enter: /var/lib/postgresql/portone-refund. A normal user's
# cluster lives in ${XDG_STATE_HOME:-~/.local/state}/portone-refund. Override with PG_DIR.
# Loopback-only with trust authentication: a development cluster, never a production one.
# It skips fsync (tests need no durability); PG_DURABLE=1 makes a cluster that commits
# durably as production does (benchmarks that publish commit costs), e.g.
#   PG_DIR=/tmp/durable PG_PORT=55433 PG_DURABLE=1 scripts/pg.sh bench
set -euo pipefail

db="${1:-portone_refund}"
port="${PG_PORT:-55432}"
if [ "$(id -u)" = 0 ]; then
  dir="${PG_DIR:-/var/lib/postgresql/portone-refund}"
  as_pg() { runuser -u postgres -- "$@"; }
else
  dir="${PG_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/portone-refund}"
  as_pg() { "$@"; }
fi
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (install the postgresql package)" >&2; exit 1; }
data="$dir/data"
sock="$dir/run"

if [ ! -f "$data/PG_VERSION" ]; then
  echo "==> creating Postgres cluster in $data" >&2
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$dir" && chown postgres:postgres "$dir" && chmod 0700 "$dir"
  else
    mkdir -p "$dir" && chmod 0700 "$dir"
  fi
  as_pg mkdir -p "$sock"
  as_pg "$bin/initdb" -D "$data" -U portone -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat <<CONF | as_pg tee -a "$data/postgresql.conf" >/dev/null
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
CONF
  if [ "${PG_DURABLE:-0}" = 1 ]; then
    printf 'fsync = on\nsynchronous_commit = on\nshared_buffers = 256MB\n' | as_pg tee -a "$data/postgresql.conf" >/dev/null
  else
    printf 'fsync = off\nsynchronous_commit = off\n' | as_pg tee -a "$data/postgresql.conf" >/dev/null
  fi
fi

if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "==> starting Postgres on 127.0.0.1:$port" >&2
  as_pg "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -o "-p $port" start >/dev/null
fi

psql_admin() { psql -h 127.0.0.1 -p "$port" -U portone -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_admin -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
  psql_admin -c "create database \"$db\"" >/dev/null
fi
echo "postgres://portone@127.0.0.1:$port/$db"
