import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
    // in-process S3 clients (helpers, library-level tests) on Node < 22: the SDK's
    // NodeVersionSupportWarning, silenced as bin/hybridsync.js does for users
    // (test/e2e/runtime.test.ts checks the CLI without this)
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
