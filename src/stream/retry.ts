/** One retry policy for a segment's upload or download, and the digests segments are known by. */
import { createHash } from 'node:crypto';
import { describeError, isHybridsyncError } from '../core/errors.js';
import { retry } from '../lib/retry.js';
import type { SyncEvent } from '../sync/events.js';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** Runs `fn` with jittered exponential backoff for retryable errors, reporting each retry. */
export function retrySegment<T>(key: string, o: { retries: number; signal: AbortSignal; emit: (e: SyncEvent) => void }, fn: () => Promise<T>): Promise<T> {
  return retry(fn, {
    attempts: o.retries,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    signal: o.signal,
    isRetryable: (e) => isHybridsyncError(e) && e.retryable,
    onRetry: (e, attempt) => o.emit({ type: 'retry', key, what: `segment ${key}`, attempt, message: describeError(e) }),
  });
}
