#!/usr/bin/env bash
# ensure-services.sh - make sure everything the tests need is installed and running:
# Ceph RADOS Gateway (S3) on loopback, Azurite (Azure Blob, from node_modules) on
# loopback, rclone and awscli (independent checkers/peers), Debian's chromium (dashboard
# e2e). Installs with apt when root and missing.
# Prints "export ..." lines for the S3 endpoint and the Azure connection string; writes
# what it started to $HYBRIDSYNC_SERVICES_STARTED (a Ceph data dir, or azurite:DATA_DIR)
# so the caller can stop exactly those.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${CEPH_RGW_DATA:-${TMPDIR:-/tmp}/ceph-rgw-data}
log() { echo "[ensure-services] $*" >&2; }

need=()
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen curl; do command -v "$b" >/dev/null || need+=(x); done
[ ${#need[@]} -eq 0 ] || pkgs="ceph-mon ceph-osd radosgw ceph-common curl uuid-runtime"
command -v rclone >/dev/null || pkgs="${pkgs:-} rclone"
[ -x /usr/bin/aws ] || pkgs="${pkgs:-} awscli"
command -v chromium >/dev/null || pkgs="${pkgs:-} chromium"
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
if running; then
  log "Ceph RGW already running (data $DATA)"
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
