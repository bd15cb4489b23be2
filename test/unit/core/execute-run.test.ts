/** How a run ends: the deletion limit, a stop on purpose, a fatal error, a missing hash. */
import { describe, expect, it } from 'vitest';
import { runSync } from '../../../src/sync/execute.js';
import type { RunSummary } from '../../../src/sync/events.js';
import { AuthError, TransientError } from '../../../src/core/errors.js';
import { memoryRun as setup } from '../../helpers/run.js';

describe('a run', () => {
  it('deletes none of the extraneous files when more than --max-delete are due, and all when not', async () => {
    const t = setup();
    for (const k of ['x', 'y', 'z']) t.dst.put(k, k);
    const over = await runSync({ mode: 'sync', ...t, maxDelete: 2 });
    expect(over).toMatchObject({ deleted: 0, deletesHeldBack: 3, failed: 1, status: 'failed' });
    expect(t.dst.objects.size).toBe(3);
    expect(t.events.find((e) => e.type === 'error')).toMatchObject({ kind: 'usage', message: expect.stringMatching(/3 files would be deleted.*--max-delete 2/) });
    const within = await runSync({ mode: 'sync', ...t, maxDelete: 3 });
    expect(within).toMatchObject({ deleted: 3, deletesHeldBack: 0, status: 'ok' });
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
    const s = await runSync({ mode: 'sync', ...t, signal: stop.signal });
    expect(s).toMatchObject({ status: 'aborted', transferred: 0, deleted: 0 });
    expect(t.events.at(-1)).toMatchObject({ type: 'summary', summary: { status: 'aborted' } });
    expect([...t.dst.objects.keys()]).toEqual(['old']);
    t.dst.write = realWrite;
    expect(await runSync({ mode: 'sync', ...t })).toMatchObject({ status: 'ok', transferred: 1, deleted: 1 });
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
