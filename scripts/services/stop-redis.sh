#!/usr/bin/env bash
# stop-redis.sh DATA_DIR - stops the redis-server that start-redis.sh started for DATA_DIR,
# using only the pid in DATA_DIR/redis.pid, and only if that process is a redis-server
# (guards against pid reuse).
set -uo pipefail
DATA=${1:?usage: stop-redis.sh DATA_DIR}
[ -f "$DATA/redis.pid" ] || exit 0
pid=$(cat "$DATA/redis.pid")
ours() { [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'redis-server'; }
if ours; then
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do ours || break; sleep 0.05; done
  if ours; then kill -KILL "$pid" 2>/dev/null; fi
fi
rm -f "$DATA/redis.pid"
