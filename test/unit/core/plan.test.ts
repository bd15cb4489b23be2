import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/core/entry.js';
import { decide, type PlanOptions } from '../../../src/sync/plan.js';
import { createFilter } from '../../../src/sync/filter.js';
import { derivationMetadata, derivedFromMetadata } from '../../../src/sync/derived.js';

const e = (key: string, size: number, mtimeMs: number, extra: Partial<Entry> = {}): Entry => ({ key, size, mtimeMs, mtimeExact: true, ...extra });
const sync: PlanOptions = { mode: 'sync', compare: 'size-mtime', modifyWindowMs: 1 };

describe('planner', () => {
  it('a destination whose metadata records the source version it was made from is compared with that version (issue 9.4)', () => {
    const origin = derivationMetadata({ size: 20, mtimeMs: 1000, md5: 'a'.repeat(32) }, ['pii-scrub']);
    const scrubbed = e('a', 14, 1000, { md5: 'b'.repeat(32), metadata: origin });
    const check: PlanOptions = { mode: 'check', compare: 'checksum', modifyWindowMs: 1, derivations: true };
    expect(decide({ key: 'a', src: e('a', 20, 1000, { md5: 'a'.repeat(32) }), dst: scrubbed }, check)).toEqual({ kind: 'skip', reason: 'derived' });
    expect(decide({ key: 'a', src: e('a', 20, 1000, { md5: 'c'.repeat(32) }), dst: scrubbed }, check)).toEqual({ kind: 'transfer', reason: 'checksum' });
    expect(decide({ key: 'a', src: e('a', 21, 1000), dst: scrubbed }, check)).toEqual({ kind: 'transfer', reason: 'size' });
    expect(decide({ key: 'a', src: e('a', 20, 1000), dst: scrubbed }, sync)).toEqual({ kind: 'skip', reason: 'derived' });
    expect(decide({ key: 'a', src: e('a', 20, 5000), dst: scrubbed }, sync)).toEqual({ kind: 'transfer', reason: 'mtime' });
    // a listing without metadata: ask for it before calling the file different — only where transforms may exist
    const listed = e('a', 14, 1000, { md5: 'b'.repeat(32) });
    expect(decide({ key: 'a', src: e('a', 20, 1000), dst: listed }, check)).toEqual({ kind: 'resolve', need: 'dst-meta' });
    expect(decide({ key: 'a', src: e('a', 20, 1000), dst: listed }, sync)).toEqual({ kind: 'transfer', reason: 'size' });
    expect(decide({ key: 'a', src: e('a', 20, 1000), dst: { ...listed, metadata: {} } }, check)).toEqual({ kind: 'transfer', reason: 'size' });
    // identical files need no metadata
    expect(decide({ key: 'a', src: e('a', 14, 1000, { md5: 'b'.repeat(32) }), dst: listed }, check)).toEqual({ kind: 'skip', reason: 'identical' });
    // Azure gives names back with '_'; malformed records are ignored
    const azure = Object.fromEntries(Object.entries(origin).map(([k, v]) => [k.replaceAll('-', '_'), v]));
    expect(derivedFromMetadata(azure)).toMatchObject({ size: 20, mtimeMs: 1000, md5: 'a'.repeat(32), transforms: ['pii-scrub'] });
    expect(derivedFromMetadata({ ...origin, 'hybridsync-source-md5': 'nope' })).toBeUndefined();
  });

  it('transfers missing files, deletes extraneous ones only in sync mode', () => {
    expect(decide({ key: 'a', src: e('a', 1, 1) }, sync)).toEqual({ kind: 'transfer', reason: 'missing' });
    expect(decide({ key: 'a', dst: e('a', 1, 1) }, sync)).toEqual({ kind: 'delete' });
    expect(decide({ key: 'a', dst: e('a', 1, 1) }, { ...sync, mode: 'copy' })).toEqual({ kind: 'extra' });
  });

  it('size, then mtime within the modify window', () => {
    expect(decide({ key: 'a', src: e('a', 2, 1000), dst: e('a', 3, 1000) }, sync)).toEqual({ kind: 'transfer', reason: 'size' });
    expect(decide({ key: 'a', src: e('a', 2, 1000), dst: e('a', 2, 1000.9) }, sync)).toEqual({ kind: 'skip', reason: 'identical' });
    expect(decide({ key: 'a', src: e('a', 2, 1000), dst: e('a', 2, 5000) }, sync)).toEqual({ kind: 'transfer', reason: 'mtime' });
  });

  it('same size, different mtime: known hashes decide (a touch is not a change, a same-size edit is)', () => {
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'x' }), dst: e('a', 2, 9, { md5: 'x' }) }, sync)).toEqual({ kind: 'skip', reason: 'same-content' });
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'x' }), dst: e('a', 2, 9, { md5: 'y' }) }, sync)).toEqual({ kind: 'transfer', reason: 'checksum' });
  });

  it('asks for facts it lacks instead of guessing: S3 listing mtimes are upload times', () => {
    expect(decide({ key: 'a', src: e('a', 2, 1), dst: e('a', 2, 1, { mtimeExact: false }) }, sync)).toEqual({ kind: 'resolve', need: 'dst-stat' });
    expect(decide({ key: 'a', src: e('a', 2, 1, { mtimeExact: false }), dst: e('a', 2, 1) }, sync)).toEqual({ kind: 'resolve', need: 'src-stat' });
  });

  it('--checksum compares MD5s only, resolving missing ones; never an etag', () => {
    const o: PlanOptions = { ...sync, compare: 'checksum' };
    expect(decide({ key: 'a', src: e('a', 2, 1), dst: e('a', 2, 1, { md5: 'm' }) }, o)).toEqual({ kind: 'resolve', need: 'src-md5' });
    // a multipart object: etag present, md5 absent -> stat for metadata, never etag-vs-md5
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'm' }), dst: e('a', 2, 1, { etag: 'abc-3', mtimeExact: false }) }, o)).toEqual({ kind: 'resolve', need: 'dst-stat' });
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'm' }), dst: e('a', 2, 1, { etag: 'abc-3' }) }, o)).toEqual({ kind: 'resolve', need: 'dst-md5' });
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'm' }), dst: e('a', 2, 99, { md5: 'm' }) }, o)).toEqual({ kind: 'skip', reason: 'identical' });
    expect(decide({ key: 'a', src: e('a', 2, 1, { md5: 'm' }), dst: e('a', 2, 1, { md5: 'n' }) }, o)).toEqual({ kind: 'transfer', reason: 'checksum' });
  });

  it('rejects names over the destination key limit, counting the destination prefix', () => {
    const key = 'k'.repeat(1000);
    const d = decide({ key, src: e(key, 1, 1) }, { ...sync, dstMaxKeyBytes: 1024, dstPrefixBytes: 30 });
    expect(d.kind).toBe('invalid');
    expect(decide({ key, src: e(key, 1, 1) }, { ...sync, dstMaxKeyBytes: 1024, dstPrefixBytes: 10 }).kind).toBe('transfer');
  });

  it('excluded files are neither copied nor deleted', () => {
    const filter = createFilter({ exclude: ['*.tmp'] });
    expect(decide({ key: 'x.tmp', dst: e('x.tmp', 1, 1) }, { ...sync, filter })).toEqual({ kind: 'excluded' });
    expect(decide({ key: 'x.tmp', src: e('x.tmp', 1, 1) }, { ...sync, filter })).toEqual({ kind: 'excluded' });
  });
});
