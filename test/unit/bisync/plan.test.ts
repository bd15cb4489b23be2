/** The three-way planner, conflict naming and resolution, merge drivers: pure rules on plain objects. */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/core/entry.js';
import { march3 } from '../../../src/bisync/march.js';
import { jsonlUnion, linesUnion } from '../../../src/bisync/merge.js';
import {
  compileMergeRules,
  conflictName,
  conflictStamp,
  decideBisync,
  isConflictCopy,
  resolveConflict,
  type BaseRow,
  type BaseSide,
} from '../../../src/bisync/plan.js';

const O = { modifyWindowMs: 1 };
const file = (key: string, size: number, mtimeMs: number, md5?: string): Entry => ({ key, size, mtimeMs, mtimeExact: true, ...(md5 ? { md5 } : {}) });
const obj = (key: string, size: number, etag: string): Entry => ({ key, size, mtimeMs: 5, mtimeExact: false, etag, md5: etag });
const side = (size: number, mtimeMs: number, md5: string | null = null, etag: string | null = null): BaseSide => ({ size, mtimeMs, etag, md5 });
const row = (key: string, s1: BaseSide, s2: BaseSide): BaseRow => ({ key, s1, s2 });

describe('the three-way planner', () => {
  it('on a first run (no base) copies one-sided files both ways and deletes nothing', () => {
    expect(decideBisync({ key: 'a', e1: file('a', 1, 10) }, O)).toEqual({ kind: 'copy', to: 2, reason: 'new' });
    expect(decideBisync({ key: 'a', e2: file('a', 1, 10) }, O)).toEqual({ kind: 'copy', to: 1, reason: 'new' });
  });

  it('never calls identical content a conflict, even with different mtimes', () => {
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10, 'm'), e2: file('a', 3, 99_999, 'm') }, O)).toEqual({ kind: 'record' });
    const base = row('a', side(1, 1), side(1, 1));
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10, 'm'), e2: file('a', 3, 20, 'm'), base }, O)).toEqual({ kind: 'record' });
  });

  it('asks for the hash it needs before telling same-size files apart', () => {
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10), e2: file('a', 3, 20, 'm') }, O)).toEqual({ kind: 'resolve', need: 'md5-1' });
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10, 'm'), e2: file('a', 3, 20) }, O)).toEqual({ kind: 'resolve', need: 'md5-2' });
  });

  it('reports differing files on both sides as a conflict, with or without a base', () => {
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10), e2: file('a', 4, 20) }, O)).toEqual({ kind: 'conflict', reason: 'both-new' });
    const base = row('a', side(1, 1), side(1, 1));
    expect(decideBisync({ key: 'a', e1: file('a', 3, 10, 'x'), e2: file('a', 3, 20, 'y'), base }, O)).toEqual({ kind: 'conflict', reason: 'both-changed' });
  });

  it('copies a change on one side over the unchanged other side', () => {
    const base = row('a', side(1, 10), side(1, 10, null, 'e1'));
    expect(decideBisync({ key: 'a', e1: file('a', 2, 11), e2: obj('a', 1, 'e1'), base }, O)).toEqual({ kind: 'copy', to: 2, reason: 'changed' });
    expect(decideBisync({ key: 'a', e1: file('a', 1, 10), e2: obj('a', 1, 'e2'), base }, O)).toEqual({ kind: 'copy', to: 1, reason: 'changed' });
    expect(decideBisync({ key: 'a', e1: file('a', 1, 10), e2: obj('a', 1, 'e1'), base }, O)).toEqual({ kind: 'unchanged' });
  });

  it('propagates a one-sided delete as a tombstone, but a change beats a delete', () => {
    const base = row('a', side(1, 10), side(1, 10));
    expect(decideBisync({ key: 'a', e2: file('a', 1, 10), base }, O)).toEqual({ kind: 'delete', on: 2 });
    expect(decideBisync({ key: 'a', e1: file('a', 1, 10), base }, O)).toEqual({ kind: 'delete', on: 1 });
    expect(decideBisync({ key: 'a', e2: file('a', 5, 12), base }, O)).toEqual({ kind: 'copy', to: 1, reason: 'restore' });
    expect(decideBisync({ key: 'a', base }, O)).toEqual({ kind: 'forget' });
  });
});

describe('the three-way march', () => {
  it('yields every key once, in order, with what each input holds', async () => {
    async function* l(...ks: string[]) {
      for (const k of ks) yield file(k, 1, 1);
    }
    const base = [row('b', side(1, 1), side(1, 1)), row('d', side(1, 1), side(1, 1))];
    const out = [];
    for await (const t of march3(l('a', 'b', 'e'), l('b', 'c', 'd'), base)) out.push([t.key, !!t.e1, !!t.e2, !!t.base]);
    expect(out).toEqual([
      ['a', true, false, false],
      ['b', true, true, true],
      ['c', false, true, false],
      ['d', false, true, true],
      ['e', true, false, false],
    ]);
  });

  it('stops on an unsorted listing instead of calling files missing', async () => {
    async function* bad() {
      yield file('b', 1, 1);
      yield file('a', 1, 1);
    }
    const run = async () => {
      for await (const _ of march3(bad(), bad(), [])) void _;
    };
    await expect(run()).rejects.toThrow(/path1 listing is not sorted/);
  });
});

describe('conflicts', () => {
  it('names the loser NAME.conflict-<UTC time>-<side>.EXT next to it', () => {
    const stamp = conflictStamp(Date.UTC(2026, 11, 2, 1, 16, 0, 123));
    expect(stamp).toBe('20261202T011600Z');
    expect(conflictName('runs/7/metrics.json', stamp, 2)).toBe('runs/7/metrics.conflict-20261202T011600Z-path2.json');
    expect(conflictName('README', stamp, 1)).toBe('README.conflict-20261202T011600Z-path1');
    expect(conflictName('.env', stamp, 1)).toBe('.env.conflict-20261202T011600Z-path1');
    expect(isConflictCopy('runs/7/metrics.conflict-20261202T011600Z-path2.json')).toBe(true);
    expect(isConflictCopy('runs/7/metrics.json')).toBe(false);
  });

  it('picks the winner by the policy; keep-both keeps the loser', () => {
    const e1 = file('a', 10, 100);
    const e2 = file('a', 20, 50);
    expect(resolveConflict(e1, e2, { policy: 'keep-both' })).toEqual({ winner: 1, keepLoser: true });
    expect(resolveConflict(e1, e2, { policy: 'newer' })).toEqual({ winner: 1, keepLoser: false });
    expect(resolveConflict(e1, e2, { policy: 'older' })).toEqual({ winner: 2, keepLoser: false });
    expect(resolveConflict(e1, e2, { policy: 'larger' })).toEqual({ winner: 2, keepLoser: false });
    expect(resolveConflict(e1, e2, { policy: 'path2' })).toEqual({ winner: 2, keepLoser: false });
    expect(resolveConflict(e1, e2, { policy: 'ssot', ssot: 'cloud', kinds: { 1: 'onprem', 2: 'cloud' } })).toEqual({ winner: 2, keepLoser: false });
    expect(resolveConflict(e1, e2, { policy: 'ssot', ssot: 'onprem', kinds: { 1: 'onprem', 2: 'cloud' } })).toEqual({ winner: 1, keepLoser: false });
  });
});

describe('merge drivers', () => {
  it('jsonl-union: metric lines appended on both sides merge into one ordered log, duplicates dropped', () => {
    const shared = '{"step":1,"loss":0.9}\n{"step":2,"loss":0.7}\n';
    const a = `${shared}{"step":4,"loss":0.4}\n`;
    const b = `${shared}{"step":3,"loss":0.5}\n{"step":4,"loss":0.4}\n`;
    expect(jsonlUnion(a, b, 'step')).toBe('{"step":1,"loss":0.9}\n{"step":2,"loss":0.7}\n{"step":3,"loss":0.5}\n{"step":4,"loss":0.4}\n');
    expect(jsonlUnion(a, b)).toBe(`${a}{"step":3,"loss":0.5}\n`);
    expect(jsonlUnion(b, a, 'step')).toBe(jsonlUnion(a, b, 'step'));
  });

  it('lines-union keeps a side\'s own repeated lines and drops the ones both sides share', () => {
    expect(linesUnion('x\nx\ny\n', 'x\nz\n')).toBe('x\nx\ny\nz\n');
    expect(linesUnion('', 'a\n')).toBe('a\n');
  });

  it('are chosen by glob, first match wins, default conflict', () => {
    const m = compileMergeRules([{ glob: '**/*.jsonl', driver: 'jsonl-union', key: 'step' }, { glob: '*.log', driver: 'lines-union' }]);
    expect(m('runs/7/metrics.jsonl')).toEqual({ driver: 'jsonl-union', key: 'step' });
    expect(m('a/b/train.log')).toEqual({ driver: 'lines-union' });
    expect(m('model.bin')).toEqual({ driver: 'conflict' });
  });
});
