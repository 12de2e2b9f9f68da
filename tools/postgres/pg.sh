#!/usr/bin/env bash
# Runs a throwaway PostgreSQL 15 cluster on loopback: the reference Weft's SQL is compared
# against (differential tests, client tests, the pgbench benchmark).
#
#   pg.sh start    initdb once (trust auth, superuser `postgres`), start, wait until it accepts connections
#   pg.sh stop     fast shutdown, wait for it
#   pg.sh status   exit 0 if the server accepts connections
#   pg.sh destroy  stop and delete the cluster's data directory
#
# PG_PORT (default 55432) is the TCP port on 127.0.0.1; no Unix socket is created. PG_FRESH=1
# makes `start` fail instead of reusing a server or data directory already on that port (tests
# use it so two test files can never share a cluster by picking the same port). Data lives in
# .cache/postgres/<port>/ so clusters on different ports never share it. PG_BIN overrides the
# binary directory (default /usr/lib/postgresql/15/bin, the Debian postgresql-15 package).
# PG_OPTS adds server options to `start` (e.g. "-c wal_level=logical" for bench/cdc.ts's peer).
# initdb refuses to run as root, so as root the server runs as the `postgres` OS user (created
# by the Debian package) through runuser; as any other user it runs as that user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${PG_PORT:-55432}"
BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
STATE="$ROOT/.cache/postgres/$PORT"
DATA="$STATE/data"
LOG="$STATE/server.log"

die() { echo "postgres: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65536 )) || die "PG_PORT=$PORT: expected a TCP port 1-65535"
[[ -x "$BIN/postgres" ]] || die "$BIN/postgres not found: install PostgreSQL 15 (apt-get install postgresql-15 postgresql-client-15) or set PG_BIN"

# Runs a command as the server's OS user, from a directory that user can read.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    getent passwd postgres > /dev/null || die "running as root needs the 'postgres' OS user (created by the postgresql-15 package)"
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

accepting() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t "${1:-2}"; }

init() {
  [[ -f "$DATA/PG_VERSION" ]] && return 0
  mkdir -p "$STATE"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$STATE"; fi
  as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 > "$STATE/initdb.log" 2>&1 \
    || { cat "$STATE/initdb.log" >&2; die "initdb failed (log: $STATE/initdb.log)"; }
}

start() {
  if [[ "${PG_FRESH:-0}" == 1 ]]; then
    # mkdir is atomic: of two callers that picked the same port, exactly one gets the directory.
    mkdir -p "$(dirname "$STATE")"
    mkdir "$STATE" 2> /dev/null || die "PG_FRESH=1 but $STATE already exists (port $PORT is taken by another cluster)"
  fi
  if accepting 1; then
    [[ -f "$DATA/postmaster.pid" ]] && { echo "postgres: already running on 127.0.0.1:$PORT"; return 0; }
    die "something else already accepts PostgreSQL connections on 127.0.0.1:$PORT"
  fi
  init
  # max_connections covers pgbench's clients plus the tests' pools; no Unix socket so the
  # server needs no writable /var/run/postgresql.
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 ${PG_OPTS:-}" start \
    || { tail -n 30 "$LOG" >&2 2> /dev/null || true; die "server did not start on 127.0.0.1:$PORT (log: $LOG)"; }
  accepting 30 || die "server started but does not accept connections on 127.0.0.1:$PORT (log: $LOG)"
  echo "postgres: running on 127.0.0.1:$PORT (data: $DATA)"
}

stop() {
  if [[ ! -f "$DATA/postmaster.pid" ]]; then echo "postgres: not running on port $PORT"; return 0; fi
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop || die "server on port $PORT did not stop (log: $LOG)"
  echo "postgres: stopped"
}

status() {
  if accepting 3; then echo "postgres: accepting connections on 127.0.0.1:$PORT"; return 0; fi
  echo "postgres: not accepting connections on 127.0.0.1:$PORT"; return 1
}

destroy() {
  stop
  rm -rf "$STATE"
  echo "postgres: removed $STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  destroy) destroy ;;
  *) die "usage: pg.sh start|stop|status|destroy" ;;
esac
