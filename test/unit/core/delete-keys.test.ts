/**
 * The one deletion mechanism of sync's delete phase and the cluster barrier, over an
 * in-memory backend (the batch removal against a real server is in the conformance suite).
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { BatchRemover, Features, OpOptions, RemoveRefusal } from '../../../src/core/backend.js';
import { PermissionError, ThrottledError, TransientError } from '../../../src/core/errors.js';
import { deleteKeys } from '../../../src/sync/delete.js';

/** A memory backend with batch removal whose answers a test can script. */
class BatchingMemory extends MemoryBackend implements BatchRemover {
  override readonly features: Features = { ...new MemoryBackend().features, batchRemove: true };
  readonly maxBatchRemove = 1000;
  readonly calls: string[][] = [];
  singleRemoves = 0;
  /** Keys refused with this error, as many times as the count says. */
  readonly refuse = new Map<string, { error: () => RemoveRefusal['error']; times: number }>();
  /** Whole requests that fail before touching anything. */
  failRequests = 0;

  async removeMany(keys: readonly string[], _opts?: OpOptions): Promise<RemoveRefusal[]> {
    this.calls.push([...keys]);
    if (this.failRequests > 0) {
      this.failRequests--;
      throw new TransientError('connection reset');
    }
    const refused: RemoveRefusal[] = [];
    for (const key of keys) {
      const r = this.refuse.get(key);
      if (r && r.times > 0) {
        r.times--;
        refused.push({ key, error: r.error() });
      } else this.objects.delete(key);
    }
    return refused;
  }

  override async remove(key: string): Promise<void> {
    this.singleRemoves++;
    return super.remove(key);
  }
}

function run(dst: MemoryBackend, keys: string[]) {
  const deleted: string[] = [];
  const failed: Array<{ key: string; err: unknown }> = [];
  const retried: Array<string | undefined> = [];
  const done = deleteKeys({
    dst,
    keys: (function* () {
      yield* keys;
    })(),
    concurrency: 16,
    retries: 3,
    onDeleted: (k) => deleted.push(k),
    onFailed: (key, err) => failed.push({ key, err }),
    onRetry: (k) => retried.push(k),
  });
  return { done, deleted, failed, retried };
}

const keysOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `k/${String(i).padStart(5, '0')}`);

describe('deleteKeys', () => {
  it('removes 2500 keys in batches of the backend’s maximum (1000, 1000, 500), never one by one', async () => {
    const b = new BatchingMemory();
    const keys = keysOf(2500);
    for (const k of keys) b.put(k, 'x');
    const r = run(b, keys);
    await r.done;
    expect(b.calls.map((c) => c.length).sort()).toEqual([1000, 1000, 500]);
    expect(b.singleRemoves).toBe(0);
    expect(r.deleted.sort()).toEqual(keys);
    expect(b.objects.size).toBe(0);
  });

  it('reports each key of a batch on its own: a throttled key is retried alone and removed, a denied key fails once and stays', async () => {
    const b = new BatchingMemory();
    const keys = keysOf(5);
    for (const k of keys) b.put(k, 'x');
    b.refuse.set('k/00001', { error: () => new ThrottledError('SlowDown'), times: 1 });
    b.refuse.set('k/00003', { error: () => new PermissionError('access denied: k/00003'), times: 99 });
    const r = run(b, keys);
    await r.done;
    expect(b.calls).toEqual([keys, ['k/00001']]);
    expect(r.deleted.sort()).toEqual(['k/00000', 'k/00001', 'k/00002', 'k/00004']);
    expect(r.failed.map((f) => f.key)).toEqual(['k/00003']);
    expect(r.failed[0]!.err).toBeInstanceOf(PermissionError);
    expect(r.retried).toEqual(['k/00001']);
    expect([...b.objects.keys()]).toEqual(['k/00003']);
  });

  it('a key refused on every attempt is reported with its own error after the attempts run out', async () => {
    const b = new BatchingMemory();
    for (const k of keysOf(3)) b.put(k, 'x');
    b.refuse.set('k/00002', { error: () => new ThrottledError('SlowDown for k/00002'), times: 99 });
    const r = run(b, keysOf(3));
    await r.done;
    expect(b.calls.length).toBe(3); // the batch, then the key alone twice
    expect(r.failed.map((f) => [f.key, (f.err as Error).message])).toEqual([['k/00002', 'SlowDown for k/00002']]);
  });

  it('a batch request that fails as a whole is retried whole; when it keeps failing every key it carried is reported failed', async () => {
    const b = new BatchingMemory();
    for (const k of keysOf(4)) b.put(k, 'x');
    b.failRequests = 1;
    const ok = run(b, keysOf(4));
    await ok.done;
    expect(ok.deleted.length).toBe(4);
    expect(ok.retried).toEqual([undefined]);

    const c = new BatchingMemory();
    for (const k of keysOf(4)) c.put(k, 'x');
    c.failRequests = 99;
    const bad = run(c, keysOf(4));
    await bad.done;
    expect(bad.deleted).toEqual([]);
    expect(bad.failed.map((f) => f.key)).toEqual(keysOf(4));
    expect(c.objects.size).toBe(4);
  });

  it('a backend without batch removal gets one request per key', async () => {
    const b = new MemoryBackend();
    for (const k of keysOf(30)) b.put(k, 'x');
    const r = run(b, keysOf(30));
    await r.done;
    expect(r.deleted.length).toBe(30);
    expect(b.objects.size).toBe(0);
  });
});
