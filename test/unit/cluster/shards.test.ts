import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { Backend } from '../../../src/core/backend.js';
import { inKeyRange } from '../../../src/core/key-range.js';
import { splitKeySpace } from '../../../src/cluster/ranges.js';
import { listInShards } from '../../../src/cluster/listing.js';
import { emitShards, type Shard, type ListingTally } from '../../../src/cluster/shards.js';
import { march } from '../../../src/sync/march.js';
import { candidatePartSizes, MultipartEtag } from '../../../src/sync/adopt.js';

async function shardsOf(src: MemoryBackend, dst: MemoryBackend, maxFiles: number, maxBytes = Infinity) {
  const tally: ListingTally = { srcFiles: 0, srcBytes: 0, dstFiles: 0 };
  const shards: Shard[] = [];
  const deletes: string[] = [];
  for await (const ev of emitShards(march(src.list(), dst.list()), { limits: { maxFiles, maxBytes }, tally, isDelete: (p) => !p.src, inScope: () => true })) {
    if (ev.kind === 'shard') shards.push(ev.shard);
    else deletes.push(ev.key);
  }
  return { shards, deletes, tally };
}

describe('shard emitter', () => {
  it('cuts consecutive key ranges that hold every source key exactly once, the last one open-ended', async () => {
    const src = new MemoryBackend('mem://s');
    const dst = new MemoryBackend('mem://d');
    for (let i = 0; i < 1003; i++) src.put(`d${i % 7}/f${String(i).padStart(4, '0')}`, 'x');
    dst.put('d0/zz-extra', 'old');
    const { shards, deletes, tally } = await shardsOf(src, dst, 100);
    expect(shards).toHaveLength(11);
    expect(shards.at(-1)!.endAt).toBeUndefined();
    expect(shards[0]!.startAfter).toBeUndefined();
    for (const k of src.objects.keys()) expect(shards.filter((s) => inKeyRange(k, s)), k).toHaveLength(1);
    expect(shards.reduce((a, s) => a + s.files, 0)).toBe(1003);
    expect(deletes).toEqual(['d0/zz-extra']);
    expect(tally).toEqual({ srcFiles: 1003, srcBytes: 1003, dstFiles: 1 });
  });

  it('cuts at the byte budget before the file count', async () => {
    const src = new MemoryBackend('mem://s');
    for (let i = 0; i < 10; i++) src.put(`f${i}`, Buffer.alloc(1000));
    const { shards } = await shardsOf(src, new MemoryBackend('mem://d'), 1000, 2500);
    expect(shards.map((s) => s.files)).toEqual([3, 3, 3, 1]);
  });

  it('an empty source is one open shard (so the barrier still runs and deletions meet the empty-source guard)', async () => {
    const dst = new MemoryBackend('mem://d');
    dst.put('a', 'x');
    const { shards, deletes } = await shardsOf(new MemoryBackend('mem://s'), dst, 10);
    expect(shards).toEqual([{ index: 0, files: 0, bytes: 0 }]);
    expect(deletes).toEqual(['a']);
  });
});

describe('key ranges listed in parallel', () => {
  /** The coordinator's listing (listInShards) over `parallel` listers: the shards and deletions it hands on. */
  async function listed(src: MemoryBackend, dst: MemoryBackend, parallel: number, maxFiles: number) {
    const tally: ListingTally = { srcFiles: 0, srcBytes: 0, dstFiles: 0 };
    const shards: Shard[] = [];
    const deletes: string[] = [];
    let ranges = 0;
    await listInShards({ src, dst, mode: 'sync', limits: { maxFiles, maxBytes: Infinity }, parallel, allowMissingDst: true, tally, onRanges: (n) => void (ranges = n) }, async (ev) => {
      if (ev.kind === 'shard') shards.push(ev.shard);
      else deletes.push(ev.key);
    });
    return { shards, deletes, tally, ranges };
  }

  it('splits at directories of either side; the ranges’ shards hold every source key exactly once and find every extra key once', async () => {
    const src = new MemoryBackend('mem://s');
    const dst = new MemoryBackend('mem://d');
    for (let i = 0; i < 2000; i++) src.put(`d${String(i % 13).padStart(2, '0')}/f${String(i).padStart(4, '0')}`, 'x');
    src.put('top-level-file', 'x');
    src.put('d05', 'a file named like a directory');
    for (let i = 0; i < 2000; i += 3) dst.put(`d${String(i % 13).padStart(2, '0')}/f${String(i).padStart(4, '0')}`, 'x');
    for (const k of ['d03/zz-extra', 'e-only-on-dst/x', 'd05/', 'a-first']) dst.put(k, 'old');
    const split = await splitKeySpace([src, dst], 8);
    expect(split.length).toBe(8);
    expect(split[0]!.startAfter).toBeUndefined();
    expect(split.at(-1)!.endAt).toBeUndefined();
    for (let i = 1; i < split.length; i++) expect(split[i]!.startAfter).toBe(split[i - 1]!.endAt);
    const { shards, deletes, tally, ranges } = await listed(src, dst, 2, 100);
    expect(ranges).toBe(8);
    for (const k of src.objects.keys()) expect(shards.filter((s) => inKeyRange(k, s)), k).toHaveLength(1);
    expect(deletes.sort()).toEqual(['a-first', 'd03/zz-extra', 'd05/', 'e-only-on-dst/x']);
    expect(shards.map((s) => s.index).sort((a, b) => a - b)).toEqual(shards.map((_, i) => i));
    expect(shards.reduce((a, s) => a + s.files, 0)).toBe(2002);
    expect(tally.srcFiles).toBe(2002);
  });

  it('descends a level when the top has too few directories', async () => {
    const src = new MemoryBackend('mem://s');
    for (let i = 0; i < 600; i++) src.put(`datasets/v3/part-${i % 6}/f${i}`, 'x');
    expect(await splitKeySpace([src], 4)).toHaveLength(4);
    const { shards, ranges } = await listed(src, new MemoryBackend('mem://d'), 1, 50);
    expect(ranges).toBe(1);
    for (const k of src.objects.keys()) expect(shards.filter((s) => inKeyRange(k, s)), k).toHaveLength(1);
    const parallel = await listed(src, new MemoryBackend('mem://d'), 2, 50);
    expect(parallel.ranges).toBe(8);
    expect(parallel.shards.reduce((a, s) => a + s.files, 0)).toBe(600);
    for (const k of src.objects.keys()) expect(parallel.shards.filter((s) => inKeyRange(k, s)), k).toHaveLength(1);
  });

  it('one range when no side can list directories, or one is asked for', async () => {
    const src = new MemoryBackend('mem://s');
    src.put('a/b', 'x');
    expect(await splitKeySpace([src], 1)).toEqual([{}]);
    const plain = { ...src, list: src.list.bind(src) } as unknown as Backend; // no listPrefixes
    expect(await splitKeySpace([plain], 8)).toEqual([{}]);
  });
});

describe('multipart ETags for adoption', () => {
  it('recomputes the S3 multipart ETag: MD5 of the parts’ MD5s, -N', () => {
    const data = randomBytes(5 * 1024 * 1024 * 2 + 123);
    const p = 5 * 1024 * 1024;
    const parts = [data.subarray(0, p), data.subarray(p, 2 * p), data.subarray(2 * p)];
    const want = `${createHash('md5').update(Buffer.concat(parts.map((x) => createHash('md5').update(x).digest()))).digest('hex')}-3`;
    const m = new MultipartEtag(p);
    for (let off = 0; off < data.length; off += 65_536) m.update(data.subarray(off, off + 65_536)); // chunks across part boundaries
    expect(m.digest()).toBe(want);
  });

  it('tries the common part sizes that give the ETag’s part count, and the smallest whole MiB that does', () => {
    const MiB = 1024 * 1024;
    expect(candidatePartSizes(20 * MiB + 5, 3)).toEqual(expect.arrayContaining([8 * MiB, 10 * MiB]));
    expect(candidatePartSizes(20 * MiB + 5, 3)).not.toContain(5 * MiB);
    expect(candidatePartSizes(100 * 1000 * MiB, 10_000)).toContain(10 * MiB + 0); // a tool that grew its part size
  });
});
