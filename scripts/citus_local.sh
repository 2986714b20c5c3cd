#!/usr/bin/env bash
# A local Citus cluster for tests/citus: a coordinator and two workers, each its own PostgreSQL 15
# cluster on loopback, trust auth. Needs Citus 12.1 already installed for PostgreSQL 15 (citus.so in
# `pg_config --pkglibdir`; see deploy/SCALING.md). Not part of `make test`: run it by hand.
#
#   scripts/citus_local.sh start   # initdb (first time), start, create DB + extension, add workers
#   scripts/citus_local.sh stop
#   CITUS_DATABASE_URL=postgres://postgres@127.0.0.1:5440/franchise \
#     DJANGO_SETTINGS_MODULE=franchise_platform.settings.test .venv/bin/pytest tests/citus -m citus
#
# CITUS_RUN (default /work/citus-run), CITUS_PORTS (default "5440 5441 5442", coordinator first),
# CITUS_DB (default franchise), PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

RUN="${CITUS_RUN:-/work/citus-run}"
read -r -a PORTS <<<"${CITUS_PORTS:-5440 5441 5442}"
DB="${CITUS_DB:-franchise}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
HOST=127.0.0.1

as_pg() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_at() {
  local port=$1 db=$2
  shift 2
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" -U postgres -d "$db" "$@"
}

init_node() {
  local port=$1 dir="$RUN/$1"
  [ -f "$dir/PG_VERSION" ] && return 0
  mkdir -p "$dir" && chown postgres: "$RUN" "$dir" 2>/dev/null || true
  as_pg "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '$HOST'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
# citus_schema_move copies with logical replication, so writes go on during a move.
wal_level = logical
max_connections = 200
citus.enable_schema_based_sharding = on
# No anonymous statistics: this cluster talks only to itself.
citus.enable_statistics_collection = off
EOF
  echo "host all all 127.0.0.1/32 trust" >>"$dir/pg_hba.conf"
}

start() {
  [ -f "$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)/citus.so" ] \
    || { echo "citus.so is not installed for this PostgreSQL (see deploy/SCALING.md)" >&2; exit 1; }
  mkdir -p "$RUN"
  chown postgres: "$RUN" 2>/dev/null || true
  for port in "${PORTS[@]}"; do
    init_node "$port"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$RUN/$port" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$RUN/$port" -l "$RUN/$port.log" -w start >/dev/null
    fi
    psql_at "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
      || psql_at "$port" postgres -c "CREATE DATABASE \"$DB\""
    psql_at "$port" "$DB" -c "CREATE EXTENSION IF NOT EXISTS citus"
  done
  local coordinator=${PORTS[0]}
  psql_at "$coordinator" "$DB" -c "SELECT citus_set_coordinator_host('$HOST', $coordinator)" >/dev/null
  for port in "${PORTS[@]:1}"; do
    psql_at "$coordinator" "$DB" -tAc \
      "SELECT 1 FROM pg_dist_node WHERE nodename = '$HOST' AND nodeport = $port" | grep -q 1 \
      || psql_at "$coordinator" "$DB" -c "SELECT citus_add_node('$HOST', $port)" >/dev/null
  done
  psql_at "$coordinator" "$DB" -c "SELECT node_name, node_port FROM citus_get_active_worker_nodes()"
  echo "CITUS_DATABASE_URL=postgres://postgres@$HOST:$coordinator/$DB"
}

stop() {
  for port in "${PORTS[@]}"; do
    [ -f "$RUN/$port/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$RUN/$port" -m fast stop || true
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
