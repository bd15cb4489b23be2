#!/usr/bin/env bash
# The test command (npm test): installs and starts what the tests need, builds, runs
# every test (unit, integration against Ceph RGW, e2e of the built CLI) on the machine's
# Node and again on Node 24 (scripts/node24.sh, cached in .cache/), stops what it started,
# and prints a line per runtime, then the sum: "N passed, N failed".
# HYBRIDSYNC_TEST_NODE24=0 skips the second runtime.
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

# the runtimes: the machine's Node, then Node 24 (installed, native addon built, if missing)
nodes=("$(command -v node)")
if [ "${HYBRIDSYNC_TEST_NODE24:-1}" != 0 ]; then
  node24=$(bash scripts/node24.sh) || { echo "could not prepare Node 24"; echo "0 passed, 1 failed"; exit 1; }
  [ "$("$node24" --version)" = "$(node --version)" ] || nodes+=("$node24")
fi
HYBRIDSYNC_TEST_NODES=$(IFS=:; echo "${nodes[*]}")   # e2e tests run the CLI on each
export HYBRIDSYNC_TEST_NODES

mkdir -p test-artifacts
code=0 passed=0 failed=0 skipped=0 lines=()
for bin in "${nodes[@]}"; do
  ver=$("$bin" --version)
  major=${ver%%.*}
  report=test-artifacts/vitest-node${major#v}.json
  rm -f "$report"
  echo "=== vitest on Node $ver ($bin)"
  "$bin" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$report" "$@" || code=1
  p=0 f=1 s=0
  if [ -f "$report" ]; then
    read -r p f s < <(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(r.numPassedTests, r.numFailedTests, (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0));
    ' "$report")
  else
    code=1
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  lines+=("Node $ver: $p passed, $f failed$([ "$s" -gt 0 ] && echo ", $s skipped")")
done
printf '%s\n' "${lines[@]}"
echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
exit $code
