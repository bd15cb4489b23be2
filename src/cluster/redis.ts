/** One way to connect to Redis for the cluster: checked up front, with a message naming the URL. */
import { Redis } from 'ioredis';
import { UnreachableError, UsageError } from '../core/errors.js';

/** The URL without a password, for messages. */
export function redisDisplay(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_m, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`);
}

/** An ioredis client (BullMQ's settings: no per-request retry limit) that answered PING. */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--redis ${redisDisplay(url)}: not a Redis URL`, { hint: 'use redis://host:6379 (or rediss:// for TLS)' });
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: (n) => Math.min(n * 200, 2000) });
  redis.on('error', () => undefined); // reported by the calls that fail
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_r, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (err) {
    redis.disconnect();
    throw new UnreachableError(`cannot reach Redis at ${redisDisplay(url)}: ${(err as Error).message}`, { cause: err, hint: 'check the URL and that redis-server is running and reachable' });
  }
  return redis;
}
