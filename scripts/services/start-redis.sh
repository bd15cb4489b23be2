#!/usr/bin/env bash
# start-redis.sh - a private redis-server (Debian's redis-server package) on loopback, for
# tests of `hybridsync cluster` (BullMQ). Each caller gets its own server and data dir.
#
# Usage:  start-redis.sh DATA_DIR [PORT]      (PORT default: a free one from 20000-39999)
#
# Starts redis-server daemonized (no persistence: tests need none), writes its pid to
# DATA_DIR/redis.pid, waits until it answers PING, writes DATA_DIR/redis.env and prints it:
#   export HYBRIDSYNC_TEST_REDIS_URL=redis://127.0.0.1:PORT
# Stop it with stop-redis.sh DATA_DIR (by pid only). Install the package with
# ensure-services.sh (as root) or apt-get install redis-server.
set -euo pipefail
DATA=${1:?usage: start-redis.sh DATA_DIR [PORT]}
PORT=${2:-}
START_TIMEOUT=${START_TIMEOUT:-30}
log() { echo "[start-redis $(date +%T.%3N)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

BIN=$(command -v redis-server || true)
[ -n "$BIN" ] || die "redis-server not found: apt-get install redis-server (scripts/services/ensure-services.sh does, as root)"
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "$PORT" ]; then
  for _ in $(seq 50); do
    PORT=$((20000 + RANDOM % 20000))
    in_use "$PORT" || break
  done
fi
in_use "$PORT" && die "port $PORT is in use"

"$BIN" --bind 127.0.0.1 --port "$PORT" --dir "$DATA" --daemonize yes --pidfile "$DATA/redis.pid" \
  --logfile "$DATA/redis.log" --save '' --appendonly no --protected-mode yes >/dev/null
deadline=$((SECONDS + START_TIMEOUT))
until [ -s "$DATA/redis.pid" ] && { exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [ "${reply%$'\r'}" = +PONG ]; } 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || die "redis-server did not answer on port $PORT; see $DATA/redis.log"
  sleep 0.1
done
exec 3>&- 2>/dev/null || true
log "started redis-server (pid $(cat "$DATA/redis.pid")) on 127.0.0.1:$PORT"
echo "export HYBRIDSYNC_TEST_REDIS_URL=redis://127.0.0.1:$PORT" > "$DATA/redis.env"
cat "$DATA/redis.env"
