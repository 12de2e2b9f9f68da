#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft mode, broker+controller) on loopback for
# development and tests. The broker's jars come from Maven Central via tools/kafka/pom.xml.
#
#   kafka.sh install   resolve the broker jars into .cache/kafka/libs (needs mvn + java)
#   kafka.sh start     install if needed, format storage once, start, wait for metadata
#   kafka.sh stop      SIGTERM, wait for a clean exit (SIGKILL after 30 s)
#   kafka.sh status    exit 0 if the broker answers metadata requests
#
# KAFKA_PORT (default 9092) is the client port; the controller uses KAFKA_CONTROLLER_PORT
# (default KAFKA_PORT+1). State lives in .cache/kafka/<port>/ so brokers on different ports
# never share it. KAFKA_HEAP (default 512m) bounds the JVM.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
HEAP="${KAFKA_HEAP:-512m}"
STATE="$CACHE/$PORT"
PIDFILE="$STATE/broker.pid"

die() { echo "kafka: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65535 )) || die "KAFKA_PORT=$PORT: expected a TCP port 1-65534"
[[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_CONTROLLER_PORT=$CONTROLLER_PORT: expected a TCP port"

install() {
  if compgen -G "$LIBS/kafka_2.13-*.jar" > /dev/null; then return 0; fi
  command -v mvn > /dev/null || die "mvn not found: install Maven (apt-get install maven) to fetch the broker"
  command -v java > /dev/null || die "java not found: install a JDK 17 (apt-get install openjdk-17-jdk-headless)"
  mkdir -p "$CACHE"
  echo "kafka: resolving the broker from Maven Central into $LIBS"
  mvn -q -B -f "$ROOT/tools/kafka/pom.xml" package > "$CACHE.mvn.log" 2>&1 || { cat "$CACHE.mvn.log" >&2; die "maven could not resolve the broker"; }
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2> /dev/null && echo "$pid"
}

ready() { node "$ROOT/tools/kafka/wait-ready.js" "127.0.0.1:$PORT" "${1:-2000}"; }

start() {
  install
  if pid="$(running_pid)"; then
    ready 20000 > /dev/null && { echo "kafka: already running (pid $pid) on 127.0.0.1:$PORT"; return 0; }
    die "a broker process (pid $pid) exists but does not answer on 127.0.0.1:$PORT"
  fi
  if ready 1000 > /dev/null 2>&1; then die "something already answers Kafka requests on 127.0.0.1:$PORT"; fi
  mkdir -p "$STATE/data" "$STATE/logs"
  cat > "$STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  local java_opts=(-Xms128m "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$ROOT/tools/kafka/log4j.properties" "-Dkafka.logs.dir=$STATE/logs")
  if [[ ! -f "$STATE/data/meta.properties" ]]; then
    local cluster_id; cluster_id="$(java -cp "$LIBS/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)"
    java -cp "$LIBS/*" "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE/server.properties" > "$STATE/logs/format.log" 2>&1 \
      || { cat "$STATE/logs/format.log" >&2; die "could not format $STATE/data"; }
  fi
  nohup java -cp "$LIBS/*" "${java_opts[@]}" kafka.Kafka "$STATE/server.properties" > "$STATE/logs/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  if ! ready 60000 > /dev/null; then
    tail -n 30 "$STATE/logs/stdout.log" "$STATE/logs/server.log" >&2 2> /dev/null || true
    stop > /dev/null 2>&1 || true
    die "broker did not answer metadata requests on 127.0.0.1:$PORT within 60 s (logs: $STATE/logs)"
  fi
  echo "kafka: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then echo "kafka: not running on port $PORT"; rm -f "$PIDFILE"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2> /dev/null; then echo "kafka: still running after 30 s, killing" >&2; kill -KILL "$pid"; fi
  rm -f "$PIDFILE"
  echo "kafka: stopped"
}

status() {
  if ready 3000; then return 0; fi
  echo "kafka: not answering on 127.0.0.1:$PORT"; return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: kafka.sh install|start|stop|status" ;;
esac
