#!/usr/bin/env bash
# bench/run.sh — starts Ceph RGW (installing it and the peers when root), builds, and runs
# every benchmark. BENCH_SCALE=0.1 for a quick look; BENCH_ONLY=ab to pick scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/.bin ] || npm ci --no-audit --no-fund
npm run build --silent
# a cluster of its own, big enough for the GiB scenarios (sparse file), apart from the tests'
export CEPH_RGW_DATA=${BENCH_CEPH_DATA:-${TMPDIR:-/tmp}/ceph-rgw-bench} CEPH_STORE_GB=${CEPH_STORE_GB:-64}
export RGW_PORT=${BENCH_RGW_PORT:-7490} CEPH_MON_PORT=${BENCH_MON_PORT:-13390}
export BENCH_CEPH_CONF=$CEPH_RGW_DATA/ceph.conf
eval "$(bash scripts/services/ensure-services.sh | grep '^export ')"
unset AWS_CA_BUNDLE AWS_PROFILE
echo "== memory of the diff vs number of files"
node --expose-gc --import tsx bench/march-memory.ts
echo "== sync throughput vs rclone / aws-cli / raw SDK"
node --import tsx bench/sync-bench.ts
for b in bench/pii.ts bench/audit.ts; do [ -f "$b" ] && { echo "== $b"; node --import tsx "$b"; }; done
exit 0
