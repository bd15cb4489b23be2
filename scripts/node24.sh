#!/usr/bin/env bash
# node24.sh - a second Node runtime for the test suite, cached in .cache/ (gitignored).
# Prints the path of a Node 24 binary on stdout; everything else goes to stderr.
#
#   1. Node 24 from the npm registry (the official binaries, published as node-linux-<arch>;
#      the `node` wrapper package would need its install script allowed):
#      .cache/node24/node_modules/node-linux-<arch>/bin/node, headers in include/node/.
#   2. better-sqlite3 (native; npm built it for the Node that ran `npm ci`) compiled against
#      those headers into .cache/better-sqlite3-abi<ABI>/better_sqlite3.node, which
#      src/lib/sqlite.ts loads when process.versions.modules is <ABI>. The install in
#      node_modules is untouched, so the machine's Node keeps working.
# Idempotent: each step is skipped when its stamp matches (Node version; better-sqlite3
# version + Node version). One run at a time (flock on .cache/node24.lock).
#
# Environment: HYBRIDSYNC_NODE24_VERSION (default below; any 24.x has ABI 137).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=${HYBRIDSYNC_NODE24_VERSION:-24.22.3}
log() { echo "[node24] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$(uname -m)" in
  x86_64) ARCH=x64 ;; aarch64|arm64) ARCH=arm64 ;; ppc64le) ARCH=ppc64 ;; s390x) ARCH=s390x ;;
  *) die "no Node package for $(uname -m)" ;;
esac
PKG=node-linux-$ARCH
CACHE=$ROOT/.cache
PREFIX=$CACHE/node24
NODEDIR=$PREFIX/node_modules/$PKG
NODE=$NODEDIR/bin/node
mkdir -p "$CACHE"
exec 8>"$CACHE/node24.lock"
flock -w 900 8 || die "could not lock $CACHE/node24.lock"

# ---- 1. Node 24 ----
if [ "$(cat "$PREFIX/.installed" 2>/dev/null)" != "$PKG@$VERSION" ] || [ ! -x "$NODE" ]; then
  log "installing $PKG@$VERSION from the npm registry into $PREFIX"
  t0=$SECONDS
  rm -rf "$PREFIX"; mkdir -p "$PREFIX"
  echo '{"private":true}' > "$PREFIX/package.json"   # keeps npm from walking up to our package.json
  npm install --prefix "$PREFIX" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
    "$PKG@$VERSION" >&2 || die "npm install $PKG@$VERSION failed"
  "$NODE" -e 'process.exit(process.versions.node.startsWith("24.") ? 0 : 1)' || die "$NODE is not Node 24"
  [ -f "$NODEDIR/include/node/node_api.h" ] || die "$PKG has no headers in include/node"
  echo "$PKG@$VERSION" > "$PREFIX/.installed"
  log "Node $VERSION installed in $((SECONDS - t0))s"
fi
ABI=$("$NODE" -p process.versions.modules)

# ---- 2. better-sqlite3 for this ABI ----
SRC=$ROOT/node_modules/better-sqlite3
[ -f "$SRC/binding.gyp" ] || die "node_modules/better-sqlite3 missing (npm ci first)"
OUT=$CACHE/better-sqlite3-abi$ABI
want="better-sqlite3@$(node -p 'require("./node_modules/better-sqlite3/package.json").version') abi$ABI"
if [ "$(cat "$OUT/.built" 2>/dev/null)" != "$want" ] || [ ! -f "$OUT/better_sqlite3.node" ]; then
  # npm's own node-gyp (no download); headers from the Node 24 package (--nodedir), so
  # nothing is fetched from nodejs.org
  GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  [ -f "$GYP" ] || die "node-gyp not found next to npm ($GYP)"
  log "building $want for ABI $ABI (about 1.5 min on 2 cores)"
  t0=$SECONDS
  BUILD=$CACHE/better-sqlite3-build-abi$ABI
  rm -rf "$BUILD"; mkdir -p "$BUILD"
  (cd "$SRC" && tar --exclude=./build -cf - .) | tar -xf - -C "$BUILD"
  (cd "$BUILD" && npm_config_nodedir="$NODEDIR" "$NODE" "$GYP" rebuild --release --nodedir="$NODEDIR" -j 2) \
    > "$CACHE/better-sqlite3-abi$ABI.build.log" 2>&1 ||
    die "build failed: $(tail -20 "$CACHE/better-sqlite3-abi$ABI.build.log")"
  mkdir -p "$OUT"
  cp "$BUILD/build/Release/better_sqlite3.node" "$OUT/better_sqlite3.node.tmp"
  mv "$OUT/better_sqlite3.node.tmp" "$OUT/better_sqlite3.node"
  echo "$want" > "$OUT/.built"
  rm -rf "$BUILD"
  log "better-sqlite3 built in $((SECONDS - t0))s: $OUT/better_sqlite3.node"
fi
# the addon loads and works under Node 24 (through src/lib/sqlite.ts's lookup rule)
"$NODE" -e '
  const D = require("better-sqlite3");
  const db = new D(":memory:", { nativeBinding: process.argv[1] });
  db.prepare("select 1").get();
' "$OUT/better_sqlite3.node" || die "$OUT/better_sqlite3.node does not load in Node $VERSION"

# Other native addons in node_modules are N-API (rolldown, lightningcss: ABI-stable across
# Node versions) or executables (esbuild); better-sqlite3 is the only one tied to the ABI.
echo "$NODE"
