#!/usr/bin/env bash
# start-azurite.sh - Azurite (the Azure Blob Storage emulator, devDependency in
# node_modules) serving Blob on loopback, for integration tests.
#
# Usage:  start-azurite.sh [DATA_DIR]        (default $TMPDIR/azurite-data, TMPDIR defaulting to /tmp)
#         eval "$(start-azurite.sh | grep '^export ')"
#
# Idempotent: if our Azurite for DATA_DIR is alive, just prints the export lines. Otherwise
# starts azurite-blob with setsid, writes its pid to DATA_DIR/azurite.pid, waits until the
# Blob endpoint answers, writes DATA_DIR/azure.env and prints it:
#   export AZURE_STORAGE_CONNECTION_STRING=...   (the well-known devstoreaccount1 key)
#   export HYBRIDSYNC_TEST_AZURE=1
# Stop it with stop-azurite.sh DATA_DIR (by pid only).
#
# Environment (optional): AZURITE_PORT (default 10000: rclone's use_emulator assumes it),
# START_TIMEOUT seconds (default 60).
set -euo pipefail
DATA=${1:-${AZURITE_DATA:-${TMPDIR:-/tmp}/azurite-data}}
PORT=${AZURITE_PORT:-10000}
START_TIMEOUT=${START_TIMEOUT:-60}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/node_modules/.bin/azurite-blob
# Azurite's published development account (not a secret: it is in Microsoft's docs).
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { echo "[start-azurite $(date +%T.%3N)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -x "$BIN" ] || die "missing $BIN (npm ci installs the azurite devDependency)"
command -v curl >/dev/null || die "missing curl (apt-get install curl)"
mkdir -p "$DATA/blob"
DATA=$(cd "$DATA" && pwd)
PIDFILE=$DATA/azurite.pid

running() {   # our azurite for this data dir is alive (pid file + cmdline, guards pid reuse)
  local pid
  [ -f "$PIDFILE" ] && pid=$(cat "$PIDFILE") && [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DATA/blob"
}
answers() {   # any HTTP status from the Blob endpoint (an unsigned request gets 403)
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/$ACCOUNT?comp=list")" != 000 ]
}

if running; then
  log "Azurite already running (pid $(cat "$PIDFILE"), data $DATA)"
else
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "port $PORT is in use by another process (set AZURITE_PORT)"
  # --skipApiVersionCheck: the SDK may speak a newer API version than this Azurite knows.
  # --loose: ignore headers Azurite does not implement instead of failing the request.
  setsid "$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --location "$DATA/blob" \
    --silent --skipApiVersionCheck --loose --disableTelemetry \
    </dev/null >>"$DATA/azurite.log" 2>&1 &
  echo $! > "$PIDFILE"
  log "started azurite-blob (pid $!) on 127.0.0.1:$PORT"
  deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    running || die "azurite died while starting; see $DATA/azurite.log"
    [ $SECONDS -lt $deadline ] || die "timeout waiting for Azurite on port $PORT; see $DATA/azurite.log"
    sleep 0.2
  done
fi

cat > "$DATA/azure.env" <<EOF
export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/$ACCOUNT;'
export HYBRIDSYNC_TEST_AZURE=1
EOF
cat "$DATA/azure.env"
