// Bundles the compiled CLI (dist/) into a few files in dist/bundle/, which bin/hybridsync.js
// runs when present. Node 20 has no compile cache, and resolving and compiling ~1,500 modules
// (the AWS SDK is most of them) was most of every command's start: ~0.8 CPU s before, ~0.5
// after. Commands stay lazily loaded (split chunks). Packages with native addons or
// optional native parts stay outside and load from node_modules as before.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

// chunk names carry a content hash: without a clean directory every build would leave the
// previous build's chunks behind
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: {
    main: 'dist/cli/main.js',
    'gateway-upload-worker': 'dist/api/gateway-upload-worker.js',
    'scrub-worker': 'dist/governance/pii/scrub-worker.js',
  },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // chunks sit next to the entries: a module's `new URL('./gateway-upload-worker.js', import.meta.url)` finds its worker
  chunkNames: '[name]-[hash]',
  external: ['better-sqlite3', 'bullmq', 'ioredis', 'msgpackr', 'msgpackr-extract', 'fsevents', 'playwright-core', 'tsx'],
  // bundled CommonJS packages call require(): give the ES modules one
  banner: { js: "import { createRequire as __hsCreateRequire } from 'node:module'; const require = __hsCreateRequire(import.meta.url);" },
  // the ES builds of packages that have one (the AWS SDK's dist-es): what is not used is
  // left out, and a start compiles less (copy --help: 0.48 s against 0.57 s)
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  legalComments: 'none',
});
