/** The bisync executor on in-memory trees: the outcomes of each rule, the guards, resume by rerunning. */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { runBisync, type BisyncEvent, type BisyncRunOptions } from '../../../src/bisync/run.js';
import { compileMergeRules } from '../../../src/bisync/plan.js';
import { StateDb } from '../../../src/sync/state.js';

function pair(extra: Partial<BisyncRunOptions> = {}) {
  const a = new MemoryBackend('mem://a');
  const b = new MemoryBackend('mem://b');
  const state = new StateDb(':memory:');
  const events: BisyncEvent[] = [];
  const onEvent = (e: BisyncEvent) => void events.push(e);
  const run = (more: Partial<BisyncRunOptions> = {}) =>
    runBisync({
      to2: { mode: 'copy', src: a, dst: b, state, onEvent },
      to1: { mode: 'copy', src: b, dst: a, state, onEvent },
      conflict: { policy: 'keep-both' },
      onEvent,
      now: () => Date.UTC(2026, 11, 2, 1, 0, 0),
      ...extra,
      ...more,
    });
  const text = (m: MemoryBackend) => Object.fromEntries([...m.objects].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, o]) => [k, o.data.toString()]));
  return { a, b, state, events, run, text };
}

describe('bisync', () => {
  it('first run: copies what is missing both ways, keeps both versions of a differing file, deletes nothing', async () => {
    const t = pair();
    t.a.put('only-a', 'A');
    t.b.put('only-b', 'B');
    t.a.put('same', 'S', 1);
    t.b.put('same', 'S', 2);
    t.a.put('c.txt', 'mine', 10);
    t.b.put('c.txt', 'theirs', 20);
    const s = await t.run();
    expect(s).toMatchObject({ status: 'ok', copiedTo1: 2, copiedTo2: 2, conflicts: 1, deletedOn1: 0, deletedOn2: 0, unchanged: 1 });
    const want = { 'c.conflict-20261202T010000Z-path1.txt': 'mine', 'c.txt': 'theirs', 'only-a': 'A', 'only-b': 'B', same: 'S' };
    expect(t.text(t.a)).toEqual(want);
    expect(t.text(t.b)).toEqual(want);
    expect(t.events.find((e) => e.type === 'conflict')).toMatchObject({ key: 'c.txt', winner: 'path2', keptAs: 'c.conflict-20261202T010000Z-path1.txt' });
    const again = await t.run();
    expect(again).toMatchObject({ copiedTo1: 0, copiedTo2: 0, conflicts: 0, unchanged: 5 });
  });

  it('a one-sided delete propagates and does not come back', async () => {
    const t = pair();
    for (const k of ['x', 'y', 'z']) t.a.put(k, k);
    await t.run();
    t.b.objects.delete('y');
    expect(await t.run()).toMatchObject({ deletedOn1: 1, status: 'ok' });
    for (let i = 0; i < 3; i++) {
      expect(await t.run()).toMatchObject({ copiedTo1: 0, copiedTo2: 0, deletedOn1: 0, deletedOn2: 0 });
      expect(Object.keys(t.text(t.a))).toEqual(['x', 'z']);
      expect(Object.keys(t.text(t.b))).toEqual(['x', 'z']);
    }
  });

  it('a rename moves the file on the other side and is not counted as a delete', async () => {
    const t = pair({ maxDelete: { count: 0 } });
    t.a.put('dir/a.bin', 'payload-a');
    t.a.put('dir/b.bin', 'payload-b');
    await t.run();
    for (const k of ['a', 'b']) {
      t.a.put(`moved/${k}.bin`, `payload-${k}`);
      t.a.objects.delete(`dir/${k}.bin`);
    }
    const s = await t.run();
    expect(s).toMatchObject({ renamed: 2, copiedTo2: 0, deletedOn2: 0, bytes: 0, status: 'ok' });
    expect(t.text(t.b)).toEqual({ 'moved/a.bin': 'payload-a', 'moved/b.bin': 'payload-b' });
  });

  it('refuses before anything moves when a side lists empty but the base says it had files', async () => {
    const t = pair({ maxDelete: { percent: 100 } });
    for (const k of ['x', 'y']) t.a.put(k, k);
    await t.run();
    t.b.objects.clear();
    t.a.put('new', 'n');
    const s = await t.run();
    expect(s).toMatchObject({ status: 'refused', failed: 1, copiedTo2: 0, deletedOn1: 0 });
    expect(s.refusal).toMatch(/mem:\/\/b lists no files, but the last bisync left 2 there.*nothing was changed/);
    expect(Object.keys(t.text(t.a))).toEqual(['new', 'x', 'y']);
  });

  it('refuses over --max-delete and over --max-conflicts, and --check-access without the sentinel', async () => {
    const t = pair();
    for (const k of ['a', 'b', 'c', 'd']) t.a.put(k, k);
    await t.run();
    for (const k of ['a', 'b', 'c']) t.a.objects.delete(k);
    expect(await t.run()).toMatchObject({ status: 'refused', refusal: expect.stringMatching(/3 of the 4 files at mem:\/\/b would be deleted, more than --max-delete 50%/) });
    expect(t.b.objects.size).toBe(4);
    t.a.put('a', 'a');
    t.a.put('b', 'b');
    t.a.put('c', 'c');
    t.a.put('d', 'changed-a', 5);
    t.b.put('d', 'changed-b', 6);
    expect(await t.run({ maxConflicts: 0 })).toMatchObject({ status: 'refused', refusal: expect.stringMatching(/1 files changed on both sides, more than --max-conflicts 0/) });
    expect(await t.run({ checkAccess: true })).toMatchObject({ status: 'refused', refusal: expect.stringMatching(/mem:\/\/a has no \.hybridsync-check/) });
  });

  it('jsonl-union merges metric lines appended on both sides into the same bytes on both', async () => {
    const t = pair({ mergeFor: compileMergeRules([{ glob: '**/*.jsonl', driver: 'jsonl-union', key: 'step' }]) });
    t.a.put('run/m.jsonl', '{"step":1}\n');
    await t.run();
    t.a.put('run/m.jsonl', '{"step":1}\n{"step":3}\n', 2);
    t.b.put('run/m.jsonl', '{"step":1}\n{"step":2}\n', 3);
    const s = await t.run();
    expect(s).toMatchObject({ conflicts: 1, merged: 1, status: 'ok' });
    expect(t.text(t.a)['run/m.jsonl']).toBe('{"step":1}\n{"step":2}\n{"step":3}\n');
    expect(t.text(t.b)['run/m.jsonl']).toBe('{"step":1}\n{"step":2}\n{"step":3}\n');
    expect(Object.keys(t.text(t.a))).toEqual(['run/m.jsonl']);
  });

  it('a dry run prints the three-way decisions and changes nothing', async () => {
    const t = pair();
    t.a.put('x', 'x');
    const s = await t.run({ dryRun: true });
    expect(s).toMatchObject({ dryRun: true, copiedTo2: 1 });
    expect(t.events.find((e) => e.type === 'bisync-plan')).toMatchObject({ action: 'copy', key: 'x', to: 'path2', reason: 'new' });
    expect(t.b.objects.size).toBe(0);
  });

  it('a targeted run (watch mode) syncs only the keys it is given', async () => {
    const t = pair();
    t.a.put('x', 'x');
    t.a.put('y', 'y');
    expect(await t.run({ keys: ['y'] })).toMatchObject({ copiedTo2: 1 });
    expect(Object.keys(t.text(t.b))).toEqual(['y']);
  });
});
