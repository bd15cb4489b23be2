/**
 * Restore before read in the sync engine, over a backend wrapper that reports archive
 * states (test/helpers/archive.ts): the "restore pending" state no test server produces on
 * demand. The restore requests themselves are tested against Ceph RGW and Azurite in
 * test/int/tier.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { ArchiveState } from '../../../src/core/backend.js';
import { exitCodeForSummary } from '../../../src/cli/exit.js';
import { runSync } from '../../../src/sync/execute.js';
import type { SyncEvent } from '../../../src/sync/events.js';
import { StateDb } from '../../../src/sync/state.js';
import { decideRestore, type RestoreSettings } from '../../../src/tier/restore.js';
import { ArchivingBackend } from '../../helpers/archive.js';
import { parseRestoreHeader } from '../../../src/backends/s3/index.js';

function setup() {
  const src = new ArchivingBackend();
  const dst = new MemoryBackend('mem://dst');
  const events: SyncEvent[] = [];
  for (const k of ['a.bin', 'b.bin', 'c.bin']) src.inner.put(k, `content of ${k}`);
  src.archive('b.bin');
  const base = { src, dst, state: new StateDb(':memory:'), onEvent: (e: SyncEvent) => void events.push(e) };
  return { src, dst, events, base };
}
const ofType = <T extends SyncEvent['type']>(events: SyncEvent[], t: T) => events.filter((e): e is Extract<SyncEvent, { type: T }> => e.type === t);

describe('restore decision', () => {
  it('reads what is readable, requests what is archived (unless --restore never), waits for what is being restored', () => {
    const st = (state: ArchiveState['state']): ArchiveState => ({ state, storageClass: 'GLACIER' }) as ArchiveState;
    expect(decideRestore(st('online'), 'request')).toEqual({ step: 'read' });
    expect(decideRestore(st('restored'), 'request')).toEqual({ step: 'read' });
    expect(decideRestore(st('archived'), 'request')).toEqual({ step: 'request', storageClass: 'GLACIER' });
    expect(decideRestore(st('archived'), 'wait')).toEqual({ step: 'request', storageClass: 'GLACIER' });
    expect(decideRestore(st('archived'), 'never')).toEqual({ step: 'refuse', storageClass: 'GLACIER' });
    expect(decideRestore(st('restoring'), 'request')).toEqual({ step: 'pending', storageClass: 'GLACIER' });
    expect(decideRestore(undefined, 'request')).toEqual({ step: 'gone' });
  });
});

describe('restore before read in a sync run', () => {
  it('an archived source file does not fail the run: its restore is requested once, it is reported pending (exit 5), every other file is copied', async () => {
    const t = setup();
    const s = await runSync({ mode: 'copy', ...t.base, restore: { mode: 'request', days: 3, priority: 'bulk', timeoutMs: 1000 } });
    expect(s).toMatchObject({ transferred: 2, failed: 0, restorePending: 1, restoresRequested: 1, status: 'restore-pending' });
    expect(exitCodeForSummary(s)).toBe(5);
    expect([...t.dst.objects.keys()].sort()).toEqual(['a.bin', 'c.bin']);
    expect(t.src.restoreRequests).toEqual([{ key: 'b.bin', req: { days: 3, priority: 'bulk', storageClass: 'GLACIER' } }]);
    expect(ofType(t.events, 'restore')).toEqual([{ type: 'restore', key: 'b.bin', storageClass: 'GLACIER', status: 'requested', days: 3, priority: 'bulk' }]);
    expect(ofType(t.events, 'restore-pending')).toEqual([expect.objectContaining({ key: 'b.bin', storageClass: 'GLACIER', requested: true, message: expect.stringMatching(/restore requested, retry later/) })]);
    expect(ofType(t.events, 'error')).toEqual([]);

    // a rerun while the restore runs: nothing is requested again, the file is still pending
    t.events.length = 0;
    const again = await runSync({ mode: 'copy', ...t.base });
    expect(again).toMatchObject({ transferred: 0, restorePending: 1, restoresRequested: 0, status: 'restore-pending' });
    expect(t.src.restoreRequests).toHaveLength(1);
    expect(ofType(t.events, 'restore')).toEqual([expect.objectContaining({ key: 'b.bin', status: 'in-progress' })]);

    // the restore completed: the rerun copies it, and only it
    t.src.complete('b.bin');
    const done = await runSync({ mode: 'copy', ...t.base });
    expect(done).toMatchObject({ transferred: 1, skipped: 2, status: 'ok' });
    expect(exitCodeForSummary(done)).toBe(0);
    expect(t.dst.objects.get('b.bin')?.data.toString()).toBe('content of b.bin');
  });

  it('sync deletes nothing while a file awaits its restore (the destination is not complete yet)', async () => {
    const t = setup();
    t.dst.put('stale.bin', 'old');
    const s = await runSync({ mode: 'sync', ...t.base, maxDelete: { percent: 100 } });
    expect(s).toMatchObject({ deleted: 0, deletesHeldBack: 1, status: 'restore-pending' });
    expect(t.dst.objects.has('stale.bin')).toBe(true);
    expect(ofType(t.events, 'notice').map((e) => e.message)).toContainEqual(expect.stringMatching(/not deleting 1 extraneous file.*1 file\(s\) await a restore/));
    t.src.complete('b.bin');
    expect(await runSync({ mode: 'sync', ...t.base, maxDelete: { percent: 100 } })).toMatchObject({ deleted: 1, transferred: 1, status: 'ok' });
  });

  it('--restore wait: the run requests the restore, copies the rest, waits until the object is readable and then copies it', async () => {
    const t = setup();
    // the restore completes on the third look at it
    t.src.onLook = (key, n) => {
      if (key === 'b.bin' && n === 3) t.src.complete('b.bin');
    };
    const restore: RestoreSettings = { mode: 'wait', days: 1, priority: 'standard', timeoutMs: 60_000, pollMs: 5 };
    const s = await runSync({ mode: 'copy', ...t.base, restore });
    expect(s).toMatchObject({ transferred: 3, restorePending: 0, restoresRequested: 1, status: 'ok' });
    expect(t.dst.objects.get('b.bin')?.data.toString()).toBe('content of b.bin');
    expect(ofType(t.events, 'restore').map((e) => e.status)).toEqual(['requested', 'ready']);
    expect(t.src.restoreRequests).toHaveLength(1);
  });

  it('--restore wait gives up at --restore-timeout: the file is reported pending, the run ends', async () => {
    const t = setup();
    const restore: RestoreSettings = { mode: 'wait', days: 1, priority: 'standard', timeoutMs: 30, pollMs: 5 };
    const s = await runSync({ mode: 'copy', ...t.base, restore });
    expect(s).toMatchObject({ transferred: 2, restorePending: 1, status: 'restore-pending' });
    expect(ofType(t.events, 'restore-pending')).toEqual([expect.objectContaining({ key: 'b.bin', message: expect.stringMatching(/did not complete within --restore-timeout/) })]);
    expect(t.src.looks.get('b.bin')).toBeGreaterThan(1);
  });

  it('--restore never: nothing is requested, the archived file fails with kind archived, the rest is copied', async () => {
    const t = setup();
    const s = await runSync({ mode: 'copy', ...t.base, restore: { mode: 'never', days: 1, priority: 'standard', timeoutMs: 1 } });
    expect(s).toMatchObject({ transferred: 2, failed: 1, status: 'failed' });
    expect(t.src.restoreRequests).toEqual([]);
    expect(ofType(t.events, 'error')).toEqual([expect.objectContaining({ key: 'b.bin', kind: 'archived' })]);
  });

  it('check --download of an archived source: restore requested, reported pending, not counted a difference', async () => {
    const t = setup();
    for (const k of ['a.bin', 'b.bin', 'c.bin']) t.dst.put(k, `content of ${k}`);
    // no MD5 known at the source: a check with --download reads it
    const list = t.src.inner.list.bind(t.src.inner);
    t.src.inner.list = async function* (o) {
      for await (const e of list(o)) yield { key: e.key, size: e.size, mtimeMs: e.mtimeMs, mtimeExact: true };
    };
    const s = await runSync({ ...t.base, mode: 'check', download: true });
    expect(s).toMatchObject({ differences: 0, failed: 0, restorePending: 1, status: 'restore-pending' });
    expect(t.src.restoreRequests.map((r) => r.key)).toEqual(['b.bin']);
  });
});

describe("S3's x-amz-restore header", () => {
  it('reads an ongoing restore and a completed one with its expiry, as AWS documents them', () => {
    expect(parseRestoreHeader('ongoing-request="true"')).toEqual({ ongoing: true });
    expect(parseRestoreHeader('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')).toEqual({ ongoing: false, until: Date.UTC(2012, 11, 21) });
    expect(parseRestoreHeader(undefined)).toBeUndefined();
    expect(parseRestoreHeader('')).toBeUndefined();
  });
});
