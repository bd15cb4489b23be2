#!/usr/bin/env bash
# The test command (npm test): installs and starts what the tests need, builds, runs
# every test (unit, integration against Ceph RGW, e2e of the built CLI), stops what it
# started, and prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
[ -d node_modules/.bin ] || npm ci --no-audit --no-fund || exit 1
npm run build --silent || exit 1

started=$(mktemp)
export HYBRIDSYNC_SERVICES_STARTED=$started
stop_services() {
  while read -r data; do
    case $data in
      azurite:*) bash scripts/services/stop-azurite.sh "${data#azurite:}" ;;
      ?*) bash scripts/services/stop-rgw.sh "$data" ;;
    esac
  done < "$started"
  rm -f "$started"
}
trap stop_services EXIT
env_lines=$(bash scripts/services/ensure-services.sh) || { echo "could not start test services"; echo "0 passed, 1 failed"; exit 1; }
eval "$(grep '^export ' <<<"$env_lines")"
unset AWS_CA_BUNDLE AWS_PROFILE
export HYBRIDSYNC_TEST_S3=1

mkdir -p test-artifacts
report=test-artifacts/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
code=$?
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$report"
else
  echo "0 passed, 1 failed"
fi
exit $code
