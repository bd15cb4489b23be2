/**
 * A private redis-server per test file (scripts/services/start-redis.sh: loopback, a temp
 * dir, stopped by pid). Without the Debian package the cluster tests are skipped with the
 * reason — except under CI=true, where they must run (startRedis then fails loudly).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { tempDir } from './fs.js';

const installed = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;

/** Why the Redis tests cannot run here, or undefined when they can (or must: CI). */
export const redisSkipReason: string | undefined =
  installed || process.env.CI === 'true'
    ? undefined
    : 'redis-server is not installed: apt-get install redis-server (npm test does it when run as root, via scripts/services/ensure-services.sh)';

if (redisSkipReason) process.stderr.write(`[redis tests skipped] ${redisSkipReason}\n`);

export interface TestRedis {
  readonly url: string;
  stop(): void;
}

export function startRedis(): TestRedis {
  const dir = tempDir('redis');
  const out = execFileSync('bash', [join(ROOT, 'scripts/services/start-redis.sh'), dir], { encoding: 'utf8' });
  const url = /HYBRIDSYNC_TEST_REDIS_URL=(\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`start-redis.sh printed no URL: ${out}`);
  return { url, stop: () => void execFileSync('bash', [join(ROOT, 'scripts/services/stop-redis.sh'), dir]) };
}
