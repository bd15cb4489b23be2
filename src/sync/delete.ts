/**
 * Deleting many keys at a destination: sync's delete phase and the cluster's barrier both
 * come here. Where the backend removes many keys in one request (the batchRemove feature:
 * S3 DeleteObjects, 1000 keys) the keys go in batches; elsewhere one request per key.
 * Either way each key's outcome is reported on its own: a batch can remove some keys and
 * refuse others, and a refused key is retried (with the engine's backoff) only when its
 * own error says a retry may help. Deciding whether to delete at all (the --max-delete
 * guard, errors earlier in the run) is the caller's, before this is called.
 */
import { hasBatchRemover, type Backend, type BatchRemover, type RemoveRefusal } from '../core/backend.js';
import { TransientError } from '../core/errors.js';
import { forEachConcurrent } from '../lib/pool.js';
import { retryOperation } from './retrying.js';

export interface DeleteKeysOptions {
  readonly dst: Backend;
  /** The keys, streamed (a parked list can be long: it is read a batch at a time). */
  readonly keys: AsyncIterable<string> | Iterable<string>;
  /** Requests in flight: single deletions, or batches (at most 4 batches at once). */
  readonly concurrency: number;
  /** Attempts per request, and per refused key of a batch. */
  readonly retries: number;
  readonly signal?: AbortSignal;
  readonly onDeleted: (key: string) => void;
  /** A key that could not be removed; throwing here stops the deletions (a fatal error, an abort). */
  readonly onFailed: (key: string, err: unknown) => void;
  /** A retry of one key (`key` set) or of a whole batch request (undefined). */
  readonly onRetry?: (key: string | undefined, err: unknown, attempt: number) => void;
}

/** Batches in flight at most: each is up to 1000 deletions for the server. */
const MAX_BATCHES_IN_FLIGHT = 4;

export async function deleteKeys(o: DeleteKeysOptions): Promise<void> {
  const dst = o.dst;
  if (hasBatchRemover(dst)) {
    const inFlight = Math.max(1, Math.min(MAX_BATCHES_IN_FLIGHT, o.concurrency));
    await forEachConcurrent(batches(o.keys, dst.maxBatchRemove), inFlight, (batch) => removeBatch(o, dst, batch), o.signal);
    return;
  }
  await forEachConcurrent(
    o.keys,
    o.concurrency,
    async (key) => {
      try {
        await retryOperation(() => dst.remove(key, { ...(o.signal ? { signal: o.signal } : {}) }), {
          attempts: o.retries,
          ...(o.signal ? { signal: o.signal } : {}),
          onRetry: (err, attempt) => o.onRetry?.(key, err, attempt),
        });
      } catch (err) {
        return o.onFailed(key, err);
      }
      o.onDeleted(key);
    },
    o.signal,
  );
}

/** Consecutive groups of up to `size` keys. */
async function* batches(keys: AsyncIterable<string> | Iterable<string>, size: number): AsyncGenerator<string[]> {
  let batch: string[] = [];
  for await (const key of keys) {
    batch.push(key);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** One batch: removed keys reported at once; refused keys retried while their errors allow, then reported. */
async function removeBatch(o: DeleteKeysOptions, dst: Backend & BatchRemover, keys: readonly string[]): Promise<void> {
  let pending = keys;
  /** Refusals a retry may fix, from the latest answer; empty when the latest request failed as a whole. */
  let retrying: RemoveRefusal[] = [];
  const failed: Array<{ key: string; error: unknown }> = [];
  try {
    await retryOperation(
      async () => {
        retrying = [];
        const answer = await dst.removeMany(pending, { ...(o.signal ? { signal: o.signal } : {}) });
        const notRemoved = new Set(answer.map((r) => r.key));
        for (const key of pending) if (!notRemoved.has(key)) o.onDeleted(key);
        failed.push(...answer.filter((r) => !r.error.retryable));
        retrying = answer.filter((r) => r.error.retryable);
        pending = retrying.map((r) => r.key);
        // the keys a retry may fix go round again, on their own
        if (retrying.length > 0) throw new TransientError(`${retrying.length} key(s) of a batch deletion were refused for now: ${retrying[0]!.error.message}`);
      },
      {
        attempts: o.retries,
        ...(o.signal ? { signal: o.signal } : {}),
        onRetry: (err, attempt) => {
          if (retrying.length === 0) return o.onRetry?.(undefined, err, attempt);
          for (const r of retrying) o.onRetry?.(r.key, r.error, attempt);
        },
      },
    );
  } catch (err) {
    // out of attempts: refused keys with their own errors; after a failed request, every key it carried
    if (retrying.length > 0) failed.push(...retrying);
    else for (const key of pending) failed.push({ key, error: err });
  }
  for (const f of failed) o.onFailed(f.key, f.error);
}
