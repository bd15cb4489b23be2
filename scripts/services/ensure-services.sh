#!/usr/bin/env bash
# ensure-services.sh - make sure everything the tests need is installed and running:
# Ceph RADOS Gateway (S3) on loopback, Azurite (Azure Blob, from node_modules) on
# loopback, rclone and awscli (independent checkers/peers), Debian's chromium (dashboard
# e2e), Debian's redis-server (cluster tests start their own: start-redis.sh). Installs
# with apt when root and missing.
# Prints "export ..." lines for the S3 endpoints (http, TLS 1.3) and both users and the
# Azure connection string; writes what it started to $HYBRIDSYNC_SERVICES_STARTED (a Ceph
# data dir, or azurite:DATA_DIR) so the caller can stop exactly those.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${CEPH_RGW_DATA:-${TMPDIR:-/tmp}/ceph-rgw-data}
log() { echo "[ensure-services] $*" >&2; }

need=()
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen curl openssl; do command -v "$b" >/dev/null || need+=(x); done
[ ${#need[@]} -eq 0 ] || pkgs="ceph-mon ceph-osd radosgw ceph-common curl uuid-runtime openssl"
command -v rclone >/dev/null || pkgs="${pkgs:-} rclone"
[ -x /usr/bin/aws ] || pkgs="${pkgs:-} awscli"
command -v chromium >/dev/null || pkgs="${pkgs:-} chromium"
command -v redis-server >/dev/null || pkgs="${pkgs:-} redis-server"
/usr/bin/python3 -c 'import boto3' 2>/dev/null || pkgs="${pkgs:-} python3-boto3"
if [ -n "${pkgs:-}" ]; then
  if [ "$(id -u)" != 0 ]; then log "missing packages:$pkgs — install them (as root: apt-get install$pkgs)"; exit 1; fi
  log "installing:$pkgs"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >&2
fi

running() {   # our radosgw for this data dir is alive (pid file + cmdline, guards pid reuse)
  local pf="$DATA/run/client.rgw.a.pid" pid
  [ -f "$pf" ] && pid=$(cat "$pf") && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DATA/ceph.conf"
}
tls_ready() {  # the running rgw serves what this version of start-rgw.sh sets up (TLS 1.3, user2)
  grep -q '^export HYBRIDSYNC_TEST_S3_USER2_ACCESS_KEY_ID=' "$DATA/s3.env" 2>/dev/null &&
    [ "$(curl -s -o /dev/null -m 5 --tlsv1.3 --cacert "$DATA/tls/ca.pem" -w '%{http_code}' \
          "$(sed -n 's/^export HYBRIDSYNC_TEST_S3_TLS_ENDPOINT=//p' "$DATA/s3.env")/")" = 200 ]
}
if running && tls_ready; then
  log "Ceph RGW already running (data $DATA)"
elif running; then   # started by an older start-rgw.sh: add TLS + user2, restarting rgw only
  log "Ceph RGW running without the TLS endpoint or second user (data $DATA): upgrading it"
  CEPH_OSD_STORE=${CEPH_OSD_STORE:-bluestore} "$HERE/start-rgw.sh" "$DATA" >/dev/null
else
  CEPH_OSD_STORE=${CEPH_OSD_STORE:-bluestore} "$HERE/start-rgw.sh" "$DATA" >/dev/null
  [ -n "${HYBRIDSYNC_SERVICES_STARTED:-}" ] && echo "$DATA" >> "$HYBRIDSYNC_SERVICES_STARTED"
fi
cat "$DATA/s3.env"

AZ_DATA=${AZURITE_DATA:-${TMPDIR:-/tmp}/azurite-data}
azurite_running() {   # our azurite for this data dir is alive (pid file + cmdline, guards pid reuse)
  local pf="$AZ_DATA/azurite.pid" pid
  [ -f "$pf" ] && pid=$(cat "$pf") && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$AZ_DATA/blob"
}
if azurite_running; then
  log "Azurite already running (data $AZ_DATA)"
  cat "$AZ_DATA/azure.env"
else
  "$HERE/start-azurite.sh" "$AZ_DATA"
  [ -n "${HYBRIDSYNC_SERVICES_STARTED:-}" ] && echo "azurite:$AZ_DATA" >> "$HYBRIDSYNC_SERVICES_STARTED"
fi
