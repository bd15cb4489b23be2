import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/core/entry.js';
import { createFilter } from '../../../src/sync/filter.js';
import { decideTier, type PlannedRule, type TierPlanContext } from '../../../src/tier/plan.js';
import { commonPrefix, stateKeysOf } from '../../../src/tier/apply.js';
import { groupRules } from '../../../src/api/tier.js';
import { objectLocation } from '../../../src/core/location.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const e = (key: string, ageDays: number, extra: Partial<Entry> = {}): Entry => ({ key, size: 1_000_000, mtimeMs: NOW - ageDays * DAY, mtimeExact: true, ...extra });
const rule = (name: string, o: Partial<PlannedRule> & { storageClass: string }): PlannedRule => ({ name, prefix: '', filter: createFilter({}), ...o });
const s3 = (rules: PlannedRule[]): TierPlanContext => ({ type: 's3', rules, now: NOW });

describe('tier planner', () => {
  it('moves an object older than the rule to its class, keeps a younger one with the reason', () => {
    const c = s3([rule('old', { olderThanMs: 90 * DAY, storageClass: 'GLACIER' })]);
    expect(decideTier({ entry: e('a', 100) }, c)).toEqual({ kind: 'transition', from: 'STANDARD', to: 'GLACIER', rule: 'old' });
    expect(decideTier({ entry: e('a', 10) }, c)).toEqual({ kind: 'keep', reason: 'too-young', storageClass: 'STANDARD', rule: 'old' });
  });

  it('an object matched by several rules goes to the coldest class whose ages hold, whatever the order in the file', () => {
    const ia = rule('ia', { olderThanMs: 30 * DAY, storageClass: 'STANDARD_IA' });
    const deep = rule('deep', { olderThanMs: 365 * DAY, storageClass: 'DEEP_ARCHIVE' });
    const glacier = rule('glacier', { olderThanMs: 90 * DAY, storageClass: 'GLACIER' });
    for (const rules of [[ia, deep, glacier], [deep, glacier, ia]]) {
      expect(decideTier({ entry: e('a', 400) }, s3(rules))).toMatchObject({ kind: 'transition', to: 'DEEP_ARCHIVE', rule: 'deep' });
      expect(decideTier({ entry: e('a', 100) }, s3(rules))).toMatchObject({ kind: 'transition', to: 'GLACIER', rule: 'glacier' });
      expect(decideTier({ entry: e('a', 40) }, s3(rules))).toMatchObject({ kind: 'transition', to: 'STANDARD_IA', rule: 'ia' });
    }
  });

  it('never warms an object up, and leaves one in an archive class alone (S3 copies it only once restored)', () => {
    const c = s3([rule('ia', { olderThanMs: DAY, storageClass: 'STANDARD_IA' }), rule('deep', { olderThanMs: DAY, storageClass: 'DEEP_ARCHIVE' })]);
    expect(decideTier({ entry: e('a', 10, { storageClass: 'STANDARD_IA' }) }, c)).toMatchObject({ kind: 'transition', from: 'STANDARD_IA', to: 'DEEP_ARCHIVE' });
    expect(decideTier({ entry: e('a', 10, { storageClass: 'GLACIER' }) }, c)).toEqual({ kind: 'keep', reason: 'archived', storageClass: 'GLACIER' });
    expect(decideTier({ entry: e('a', 10, { storageClass: 'DEEP_ARCHIVE' }) }, c)).toMatchObject({ kind: 'keep', reason: 'already-colder' });
    const iaOnly = s3([rule('ia', { olderThanMs: DAY, storageClass: 'STANDARD_IA' })]);
    expect(decideTier({ entry: e('a', 10, { storageClass: 'GLACIER_IR' }) }, iaOnly)).toMatchObject({ kind: 'keep', reason: 'already-colder', rule: 'ia' });
  });

  it('a class hybridsync does not know (a server placement name) is left alone', () => {
    expect(decideTier({ entry: e('a', 500, { storageClass: 'COLD_HDD' }) }, s3([rule('g', { olderThanMs: DAY, storageClass: 'GLACIER' })]))).toEqual({
      kind: 'keep',
      reason: 'unknown-class',
      storageClass: 'COLD_HDD',
    });
  });

  it('rules cover their location prefix, globs (relative to it) and minimum size only; .hybridsync/ never moves', () => {
    const c = s3([
      rule('ckpt', { prefix: 'ckpt/', filter: createFilter({ include: ['*.pt'], exclude: ['keep/**'], minSize: 500_000 }), olderThanMs: DAY, storageClass: 'GLACIER' }),
      rule('all', { filter: createFilter({}), olderThanMs: DAY, storageClass: 'STANDARD_IA' }),
    ]);
    expect(decideTier({ entry: e('ckpt/m/a.pt', 5) }, c)).toMatchObject({ kind: 'transition', to: 'GLACIER', rule: 'ckpt' });
    expect(decideTier({ entry: e('ckpt/m/a.txt', 5) }, c)).toMatchObject({ kind: 'transition', to: 'STANDARD_IA', rule: 'all' });
    expect(decideTier({ entry: e('ckpt/keep/a.pt', 5) }, c)).toMatchObject({ to: 'STANDARD_IA' });
    expect(decideTier({ entry: e('ckpt/small.pt', 5, { size: 100 }) }, c)).toMatchObject({ to: 'STANDARD_IA' });
    expect(decideTier({ entry: e('other/a.pt', 5) }, c)).toMatchObject({ to: 'STANDARD_IA' });
    expect(decideTier({ entry: e('.hybridsync/manifests/x.json', 500) }, c)).toEqual({ kind: 'keep', reason: 'no-rule', storageClass: 'STANDARD' });
    expect(decideTier({ entry: e('ds/.hybridsync/manifests/x.json', 500) }, c)).toMatchObject({ kind: 'keep', reason: 'no-rule' });
  });

  it('with only the store Last-Modified: an old enough one moves at once, a recent one asks for the content mtime', () => {
    const c = s3([rule('old', { olderThanMs: 90 * DAY, storageClass: 'GLACIER' })]);
    // Last-Modified is at or after the content's mtime: old enough on it means old enough
    expect(decideTier({ entry: e('a', 100, { mtimeExact: false }) }, c)).toMatchObject({ kind: 'transition' });
    // uploaded (or copied) recently: the content may still be old
    expect(decideTier({ entry: e('a', 1, { mtimeExact: false }) }, c)).toEqual({ kind: 'resolve', need: 'mtime' });
    expect(decideTier({ entry: e('a', 200) }, c)).toMatchObject({ kind: 'transition' });
    // a colder rule that might hold is worth the question even when a warmer one already does
    const two = s3([rule('ia', { olderThanMs: DAY, storageClass: 'STANDARD_IA' }), rule('old', { olderThanMs: 90 * DAY, storageClass: 'GLACIER' })]);
    expect(decideTier({ entry: e('a', 5, { mtimeExact: false }) }, two)).toEqual({ kind: 'resolve', need: 'mtime' });
    expect(decideTier({ entry: e('a', 5) }, two)).toMatchObject({ kind: 'transition', to: 'STANDARD_IA' });
  });

  it('notAccessedFor uses the gateway access time where one was recorded, the last modification where none was', () => {
    const c = s3([rule('cold', { notAccessedForMs: 30 * DAY, storageClass: 'GLACIER' })]);
    expect(decideTier({ entry: e('a', 100), accessedMs: NOW - 2 * DAY }, c)).toEqual({ kind: 'keep', reason: 'recently-accessed', storageClass: 'STANDARD', rule: 'cold' });
    expect(decideTier({ entry: e('a', 100), accessedMs: NOW - 40 * DAY }, c)).toMatchObject({ kind: 'transition', to: 'GLACIER' });
    expect(decideTier({ entry: e('a', 100) }, c)).toMatchObject({ kind: 'transition' });
    // no access recorded: modified 10 days ago is the last sign of use
    expect(decideTier({ entry: e('a', 10) }, c)).toMatchObject({ kind: 'keep', reason: 'too-young' });
    // both ages must hold
    const both = s3([rule('both', { olderThanMs: 90 * DAY, notAccessedForMs: 30 * DAY, storageClass: 'GLACIER' })]);
    expect(decideTier({ entry: e('a', 100), accessedMs: NOW - 5 * DAY }, both)).toMatchObject({ kind: 'keep', reason: 'recently-accessed' });
    expect(decideTier({ entry: e('a', 50), accessedMs: NOW - 60 * DAY }, both)).toMatchObject({ kind: 'keep', reason: 'too-young' });
    expect(decideTier({ entry: e('a', 100), accessedMs: NOW - 60 * DAY }, both)).toMatchObject({ kind: 'transition' });
  });

  it('Azure: tiers by their names, case-insensitive in rules; Hot is the default of an entry without one', () => {
    const c: TierPlanContext = { type: 'azureblob', rules: [rule('arch', { olderThanMs: DAY, storageClass: 'Archive' }), rule('cool', { olderThanMs: DAY, storageClass: 'cool' })], now: NOW };
    expect(decideTier({ entry: e('a', 5) }, c)).toEqual({ kind: 'transition', from: 'Hot', to: 'Archive', rule: 'arch' });
    expect(decideTier({ entry: e('a', 5, { storageClass: 'Cool' }) }, c)).toMatchObject({ kind: 'transition', from: 'Cool', to: 'Archive' });
    expect(decideTier({ entry: e('a', 5, { storageClass: 'Archive' }) }, c)).toMatchObject({ kind: 'keep', reason: 'already-colder' });
  });
});

describe('tier grouping and state keys', () => {
  const loc = (container: string, prefix: string, endpoint = 'http://h:1') =>
    objectLocation({ type: 's3', scheme: 's3', remote: '', container, prefix, endpoint, account: 'k', display: `s3://${container}/${prefix}` });
  const placed = (name: string, l: ReturnType<typeof loc>) => ({ rule: { name, location: l.display, storageClass: 'GLACIER', olderThan: '1d' }, location: l });

  it('a rule inside another rule location shares its listing; rules side by side or on other stores list on their own', () => {
    const groups = groupRules([placed('inner', loc('b', 'x/y/')), placed('outer', loc('b', 'x/')), placed('side', loc('b', 'z/')), placed('other', loc('b', 'x/', 'http://other:1'))]);
    expect(groups.map((g) => [g.root.display, g.rules.map((r) => r.rule.name)])).toEqual([
      ['s3://b/x/', ['outer', 'inner']],
      ['s3://b/z/', ['side']],
      ['s3://b/x/', ['other']],
    ]);
    expect(commonPrefix(['x/y/', 'x/z/'])).toBe('x/');
    expect(commonPrefix(['', 'x/'])).toBe('');
    expect(commonPrefix(['a/b/', 'a/b/c/'])).toBe('a/b/');
  });

  it('an object is looked up in the state database under every root a sync could have stored it from', () => {
    expect(stateKeysOf('http://h:1/b/', 'http://h:1/b/x/y/f.bin')).toEqual([
      { location: 'http://h:1/b/', key: 'x/y/f.bin' },
      { location: 'http://h:1/b/x/', key: 'y/f.bin' },
      { location: 'http://h:1/b/x/y/', key: 'f.bin' },
    ]);
  });
});
