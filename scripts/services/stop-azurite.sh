#!/usr/bin/env bash
# stop-azurite.sh [DATA_DIR] - stops the Azurite started by start-azurite.sh for DATA_DIR
# (default ${TMPDIR:-/tmp}/azurite-data), using only the pid in DATA_DIR/azurite.pid, and
# only if /proc/PID/cmdline still names DATA_DIR (guards against pid reuse).
set -uo pipefail
DATA=${1:-${AZURITE_DATA:-${TMPDIR:-/tmp}/azurite-data}}
[ -d "$DATA" ] || { echo "[stop-azurite] no $DATA, nothing to stop" >&2; exit 0; }
DATA=$(cd "$DATA" && pwd)
PIDFILE=$DATA/azurite.pid
[ -f "$PIDFILE" ] || exit 0
pid=$(cat "$PIDFILE")
ours() { [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DATA/blob"; }
if ours; then
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do ours || break; sleep 0.1; done
  if ours; then kill -KILL "$pid" 2>/dev/null; sleep 0.2; fi
  echo "[stop-azurite] stopped azurite (pid $pid)" >&2
fi
rm -f "$PIDFILE"
