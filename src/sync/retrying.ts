/** How the engines retry one operation and report one file's failure: the same for sync and bisync. */
import { describeError, isHybridsyncError } from '../core/errors.js';
import { retry } from '../lib/retry.js';
import type { SyncEvent } from './events.js';

/** Retries what a typed error says a retry may fix, with the engine's backoff (250 ms doubling to 15 s). */
export function retryOperation<T>(fn: (attempt: number) => Promise<T>, o: { attempts: number; signal?: AbortSignal; onRetry: (err: unknown, attempt: number) => void }): Promise<T> {
  return retry(fn, {
    attempts: o.attempts,
    baseDelayMs: 250,
    maxDelayMs: 15_000,
    ...(o.signal ? { signal: o.signal } : {}),
    isRetryable: (e) => isHybridsyncError(e) && e.retryable,
    onRetry: o.onRetry,
  });
}

/** The error event of one file (or of the run, without a key). */
export function errorEvent(key: string | undefined, err: unknown): Extract<SyncEvent, { type: 'error' }> {
  return {
    type: 'error',
    ...(key !== undefined ? { key } : {}),
    kind: isHybridsyncError(err) ? err.kind : 'unknown',
    message: describeError(err),
    ...(isHybridsyncError(err) && err.hint ? { hint: err.hint } : {}),
  };
}
