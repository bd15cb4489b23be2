/**
 * The gateway's read-path hook over a backend wrapper that keeps an object "being restored"
 * (test/helpers/archive.ts): the state no test server holds on demand. Against Azurite the
 * hook is tested end to end in test/int/tier-azure.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RestoreInProgress, UpstreamRestores } from '../../../src/gateway/restore.js';
import { S3Error } from '../../../src/gateway/errors.js';
import { ObjectArchivedError } from '../../../src/core/errors.js';
import { ArchivingBackend } from '../../helpers/archive.js';

describe('gateway read of an archived upstream object', () => {
  it('requests the restore once, answers 503 ServiceUnavailable with Retry-After, and does not ask the upstream again until the recheck', async () => {
    const up = new ArchivingBackend();
    up.inner.put('cold.bin', 'frozen bytes');
    up.archive('cold.bin', 'DEEP_ARCHIVE');
    const requested: string[] = [];
    const r = new UpstreamRestores(up, { settings: { mode: 'request', days: 2, priority: 'bulk', timeoutMs: 0 }, recheckMs: 60_000, onRequested: (x) => requested.push(x.key) });
    let reads = 0;
    const read = () => r.read('cold.bin', () => (reads++, up.read('cold.bin')));
    for (let i = 0; i < 5; i++) {
      const e = await read().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(RestoreInProgress);
      expect(e).toMatchObject({ code: 'ServiceUnavailable', status: 503, retryAfterSeconds: 60 });
    }
    expect(requested).toEqual(['cold.bin']);
    expect(up.restoreRequests).toEqual([{ key: 'cold.bin', req: { days: 2, priority: 'bulk', storageClass: 'DEEP_ARCHIVE' } }]);
    expect(reads).toBe(1); // the other four were answered without the upstream
  });

  it('after the recheck interval it reads again: still restoring → 503 without a second request; restored → the bytes', async () => {
    const up = new ArchivingBackend();
    up.inner.put('cold.bin', 'frozen bytes');
    up.archive('cold.bin');
    const r = new UpstreamRestores(up, { settings: { mode: 'request', days: 1, priority: 'standard', timeoutMs: 0 }, recheckMs: 0 });
    await expect(r.read('cold.bin', () => up.read('cold.bin'))).rejects.toMatchObject({ message: expect.stringMatching(/the gateway requested its restore/) });
    await expect(r.read('cold.bin', () => up.read('cold.bin'))).rejects.toMatchObject({ message: expect.stringMatching(/its restore is under way/) });
    expect(up.restoreRequests).toHaveLength(1);
    up.complete('cold.bin');
    const body = await r.read('cold.bin', () => up.read('cold.bin'));
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe('frozen bytes');
  });

  it('other upstream errors pass through untouched; an object gone meanwhile is NoSuchKey', async () => {
    const up = new ArchivingBackend();
    const r = new UpstreamRestores(up, { settings: { mode: 'request', days: 1, priority: 'standard', timeoutMs: 0 } });
    await expect(r.read('missing', () => up.read('missing'))).rejects.toMatchObject({ kind: 'not-found' });
    // refused as archived, and gone by the time the gateway looks: NoSuchKey, no restore
    up.inner.put('x', 'y');
    await expect(
      r.read('x', async () => {
        await up.inner.remove('x');
        throw new ObjectArchivedError('x is archived', 'GLACIER');
      }),
    ).rejects.toSatisfy((e: unknown) => e instanceof S3Error && e.code === 'NoSuchKey');
    expect(up.restoreRequests).toEqual([]);
  });
});
