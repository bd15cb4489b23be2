/** How a run ends: the deletion limits, a stop on purpose, a fatal error, a missing hash. */
import { describe, expect, it } from 'vitest';
import { runSync } from '../../../src/sync/execute.js';
import type { RunSummary } from '../../../src/sync/events.js';
import { AuthError, TransientError } from '../../../src/core/errors.js';
import { memoryRun as setup } from '../../helpers/run.js';

describe('a run', () => {
  it('deletes none of the extraneous files when more than --max-delete are due, and all when not', async () => {
    const t = setup();
    for (const k of ['x', 'y', 'z']) t.dst.put(k, k);
    t.src.put('keep', 'k');
    const over = await runSync({ mode: 'sync', ...t, maxDelete: { count: 2 } });
    expect(over).toMatchObject({ deleted: 0, deletesHeldBack: 3, failed: 1, status: 'failed' });
    expect([...t.dst.objects.keys()].sort()).toEqual(['keep', 'x', 'y', 'z']);
    expect(t.events.find((e) => e.type === 'error')).toMatchObject({ kind: 'usage', message: expect.stringMatching(/3 files would be deleted.*--max-delete 2; nothing was deleted/) });
    const within = await runSync({ mode: 'sync', ...t, maxDelete: { count: 3 } });
    expect(within).toMatchObject({ deleted: 3, deletesHeldBack: 0, status: 'ok' });
    expect([...t.dst.objects.keys()]).toEqual(['keep']);
  });

  it('by default deletes nothing when more than half the destination would go, and says why', async () => {
    const t = setup();
    for (const k of ['a', 'b', 'c', 'd']) t.src.put(k, k);
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']) t.dst.put(k, k);
    const s = await runSync({ mode: 'sync', ...t });
    expect(s).toMatchObject({ deleted: 0, deletesHeldBack: 6, failed: 1, status: 'failed' });
    expect(t.dst.objects.size).toBe(10);
    expect(t.events.find((e) => e.type === 'error')).toMatchObject({
      kind: 'usage',
      message: expect.stringMatching(/6 of the 10 files at mem:\/\/dst \(60%\) would be deleted, more than --max-delete 50%; nothing was deleted/),
      hint: expect.stringMatching(/--max-delete 100%/),
    });
  });

  it('a dry run reports the same refusal and plans no deletion', async () => {
    const t = setup();
    t.src.put('a', 'a');
    for (const k of ['a', 'b', 'c']) t.dst.put(k, k);
    const s = await runSync({ mode: 'sync', ...t, dryRun: true });
    expect(s).toMatchObject({ deleted: 0, deletesHeldBack: 2, failed: 1, status: 'failed' });
    expect(t.events.filter((e) => e.type === 'plan' && e.action === 'delete')).toEqual([]);
    expect(t.events.find((e) => e.type === 'error')).toMatchObject({ message: expect.stringMatching(/2 of the 3 files .* \(67%\) would be deleted.*nothing was deleted/) });
    const allowed = await runSync({ mode: 'sync', ...t, dryRun: true, maxDelete: { percent: 100 } });
    expect(allowed).toMatchObject({ deleted: 2, status: 'ok' });
    expect(t.dst.objects.size).toBe(3);
  });

  it('--max-delete 100% lets a sync delete most of the destination; a percentage at the limit passes', async () => {
    const t = setup();
    t.src.put('a', 'a');
    for (const k of ['a', 'b', 'c', 'd', 'e']) t.dst.put(k, k);
    expect(await runSync({ mode: 'sync', ...t, maxDelete: { percent: 100 } })).toMatchObject({ deleted: 4, status: 'ok' });
    expect([...t.dst.objects.keys()]).toEqual(['a']);
    t.src.put('b', 'b');
    for (const k of ['b', 'x']) t.dst.put(k, k);
    expect(await runSync({ mode: 'sync', ...t })).toMatchObject({ deleted: 1, status: 'ok' }); // 1 of 3: within 50%
    expect([...t.dst.objects.keys()].sort()).toEqual(['a', 'b']);
  });

  it('an empty source never empties the destination, even with --max-delete 100%, unless allowEmptySource', async () => {
    const t = setup();
    for (const k of ['x', 'y']) t.dst.put(k, k);
    for (const maxDelete of [undefined, { percent: 100 }, { count: 1000 }]) {
      const s = await runSync({ mode: 'sync', ...t, ...(maxDelete ? { maxDelete } : {}) });
      expect(s).toMatchObject({ deleted: 0, deletesHeldBack: 2, failed: 1, status: 'failed' });
    }
    expect(t.dst.objects.size).toBe(2);
    expect(t.events.find((e) => e.type === 'error')).toMatchObject({
      kind: 'usage',
      message: expect.stringMatching(/the source mem:\/\/src lists no files, so syncing would delete 2 of the 2 files at mem:\/\/dst; nothing was deleted/),
      hint: expect.stringMatching(/--allow-empty-source/),
    });
    const allowed = await runSync({ mode: 'sync', ...t, allowEmptySource: true, maxDelete: { percent: 100 } });
    expect(allowed).toMatchObject({ deleted: 2, status: 'ok' });
    expect(t.dst.objects.size).toBe(0);
  });

  it('stopped by its signal: resolves as aborted, deletes nothing, and the next run finishes the job', async () => {
    const t = setup();
    t.src.put('a', 'A');
    t.dst.put('old', 'O');
    const stop = new AbortController();
    const realWrite = t.dst.write.bind(t.dst);
    t.dst.write = async () => {
      stop.abort();
      throw new TransientError('connection reset');
    };
    const s = await runSync({ mode: 'sync', ...t, signal: stop.signal, maxDelete: { percent: 100 } });
    expect(s).toMatchObject({ status: 'aborted', transferred: 0, deleted: 0 });
    expect(t.events.at(-1)).toMatchObject({ type: 'summary', summary: { status: 'aborted' } });
    expect([...t.dst.objects.keys()]).toEqual(['old']);
    t.dst.write = realWrite;
    expect(await runSync({ mode: 'sync', ...t, maxDelete: { percent: 100 } })).toMatchObject({ status: 'ok', transferred: 1, deleted: 1 });
  });

  it('a fatal error rejects with the summary attached, after the summary event', async () => {
    const t = setup();
    t.src.put('a', 'A');
    t.src.list = async function* () {
      yield* [];
      throw new AuthError('credentials expired');
    };
    const err: unknown = await runSync({ mode: 'copy', ...t }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as { summary: RunSummary }).summary).toMatchObject({ status: 'failed', transferred: 0 });
    expect(t.events.at(-1)).toMatchObject({ type: 'summary', summary: { status: 'failed' } });
  });

  it('check without a destination hash compares size and mtime and says so; --download reads the content', async () => {
    const t = setup();
    t.src.put('f', 'v1');
    t.dst.put('f', 'v2');
    Object.assign(t.dst, { features: { ...t.dst.features, cheapReads: false } });
    const realList = t.dst.list.bind(t.dst);
    t.dst.list = async function* (o) {
      for await (const e of realList(o)) yield { ...e, md5: undefined };
    };
    const s = await runSync({ mode: 'check', ...t });
    expect(s).toMatchObject({ differences: 0, status: 'ok' });
    expect(t.events.find((e) => e.type === 'unverified')).toMatchObject({ key: 'f', reason: expect.stringMatching(/use --download/) });
    const read = await runSync({ mode: 'check', ...t, download: true });
    expect(read).toMatchObject({ differences: 1, status: 'differences' });
  });
});

describe('a dry run', () => {
  it('totals what the real run would move (files and bytes), and moves nothing', async () => {
    const t = setup();
    t.src.put('a', 'x'.repeat(1000));
    t.src.put('b', 'y'.repeat(234));
    const s = await runSync({ mode: 'copy', ...t, dryRun: true });
    expect(s).toMatchObject({ dryRun: true, transferred: 2, bytes: 1234, rate: 0 });
    expect(t.dst.objects.size).toBe(0);
  });
});
