import { sleep } from './abort.js';

export interface RetryOptions {
  /** Total attempts including the first. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly signal?: AbortSignal;
  /** Whether this error is worth another attempt. */
  readonly isRetryable: (err: unknown) => boolean;
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Injectable for tests. */
  readonly random?: () => number;
}

/** Errors a retry loop already gave up on: an enclosing loop must not retry them again. */
const exhausted = new WeakSet<object>();

/** True when `err` came out of a retry loop that had already retried it as often as allowed. */
export function retriesExhausted(err: unknown): boolean {
  return typeof err === 'object' && err !== null && exhausted.has(err);
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, or attempts run out.
 * Backoff is exponential with full jitter (AWS architecture blog's recommendation),
 * which spreads retries of many workers hitting one throttled endpoint. An error this loop
 * gave up on is marked, so a loop around it (a file transfer around a request) passes it
 * on instead of starting over: `attempts` bounds the tries of any one operation.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const random = o.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (retriesExhausted(err) || !o.isRetryable(err) || o.signal?.aborted) throw err;
      if (attempt >= o.attempts) {
        // nested loops (a request inside a file transfer) never multiply attempts
        if (typeof err === 'object' && err !== null) exhausted.add(err);
        throw err;
      }
      const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(cap / 2 + (random() * cap) / 2);
      o.onRetry?.(err, attempt, delay);
      await sleep(delay, o.signal);
    }
  }
}
