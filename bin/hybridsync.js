#!/usr/bin/env node
// Runs the bundled CLI when built (dist/bundle: fewest modules to load), else the compiled
// one, else the TypeScript source through tsx.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// The AWS SDK warns once per process, on Node < 22, that its releases after January 2027
// will need Node 22 (NodeVersionSupportWarning). hybridsync pins an SDK that supports the
// Node it runs on (package.json engines), so for a user it is noise. The SDK's own switch
// (read when the first S3 client is created) silences only that warning; a user's explicit
// setting wins, and no other warning is touched.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Node 22.1+ keeps the compiled code of the modules on disk (in the OS temp dir): every
// later start skips most of their compilation. Older Node has no such cache.
module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = [join(root, 'dist', 'bundle', 'main.js'), join(root, 'dist', 'cli', 'main.js')].find((f) => existsSync(f));
if (built && !process.env.HYBRIDSYNC_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
