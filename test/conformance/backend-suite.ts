/**
 * One conformance suite for every backend (rclone's fstests idea): the Backend contract
 * as executable checks. Capabilities a backend lacks are skipped, never faked.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { hasBatchRemover, hasBlockReader, hasChunkWriter, hasTags, hasTierer, hasWholeReader, type Backend, type ChunkWriter, type CompletedChunk } from '../../src/core/backend.js';
import { writeObject } from '../../src/sync/chunked.js';
import type { Entry } from '../../src/core/entry.js';
import { md5OfStream } from '../../src/lib/accounting.js';
import { md5 } from '../helpers/fs.js';

export interface ConformanceTarget {
  backend: Backend;
  /** A second instance on the same root, to check what others observe. */
  reopen(): Backend;
  /** Tiering: a colder class than the default this server stores (its name as the backend spells it). */
  tiering?: { readonly coldClass: string };
  cleanup(): Promise<void>;
  /**
   * Makes the server refuse to remove the keys under `prefix` (relative to the root) until
   * the returned function is called — S3: a bucket policy denying s3:DeleteObject. For the
   * per-key errors of a batch removal; without it that part is skipped.
   */
  refuseRemoval?(prefix: string): Promise<() => Promise<void>>;
}

async function collect(it: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function body(data: Buffer | string): Readable {
  return Readable.from([Buffer.from(data)]);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** `n` full chunks of the backend's minimum chunk size plus a tail, distinct per chunk. */
function chunkedContent(b: ChunkWriter, n: number, tail: number): { data: Buffer; chunkSize: number; chunks: Buffer[] } {
  const chunkSize = b.chunkLimits.minChunkSize;
  const data = Buffer.alloc(n * chunkSize + tail);
  for (let i = 0; i < data.length; i += 512) data[i] = (i / 512) % 251;
  const chunks: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunkSize) chunks.push(data.subarray(off, Math.min(data.length, off + chunkSize)));
  return { data, chunkSize, chunks };
}

async function write(b: Backend, key: string, data: Buffer | string, mtimeMs = 1_700_000_000_123) {
  const buf = Buffer.from(data);
  return b.write(key, body(buf), { size: buf.length, mtimeMs });
}

export function describeBackendConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`backend conformance: ${name}`, () => {
    let t: ConformanceTarget;
    beforeAll(async () => {
      t = await setup();
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    it('lists recursively in S3 byte order, including names that sort differently per character', async () => {
      // 'big！' (U+FF01) sorts before 'big🙂' in byte order but after it in UTF-16 order
      const keys = ['a-b', 'a/b', 'a/c/d', 'a.b', 'a0', 'z', 'é/x', 'e/x', 'big🙂', 'bigé', 'big！', 'B'];
      for (const k of keys) await write(t.backend, `order/${k}`, k);
      const listed = (await collect(t.backend.list({ prefix: 'order/' }))).map((e) => e.key);
      // written out, not computed with the comparator under test: UTF-8 byte order
      const expected = ['B', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'bigé', 'big！', 'big🙂', 'e/x', 'z', 'é/x'];
      expect(listed).toEqual(expected.map((k) => `order/${k}`));
    });

    it('lists a key range (startAfter exclusive, endAt inclusive) in byte order, bounds inside subtrees or between keys', async () => {
      const keys = ['B', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'bigé', 'big！', 'big🙂', 'e/x', 'z', 'é/x'];
      for (const k of keys) await write(t.backend, `range/${k}`, k);
      const range = async (startAfter?: string, endAt?: string): Promise<string[]> =>
        (await collect(t.backend.list({ prefix: 'range/', ...(startAfter ? { startAfter: `range/${startAfter}` } : {}), ...(endAt ? { endAt: `range/${endAt}` } : {}) }))).map((e) =>
          e.key.slice('range/'.length),
        );
      expect(await range('a.b', 'big！')).toEqual(['a/b', 'a/c/d', 'a0', 'bigé', 'big！']);
      expect(await range('a/b', 'a/c/d')).toEqual(['a/c/d']);
      expect(await range('a/', 'a0')).toEqual(['a/b', 'a/c/d', 'a0']); // bounds that are no key
      expect(await range('e/x')).toEqual(['z', 'é/x']);
      expect(await range(undefined, 'a-b')).toEqual(['B', 'a-b']);
      expect(await range('big🙂', 'e')).toEqual([]);
      // consecutive ranges cover the listing exactly once
      const parts = [...(await range(undefined, 'a/b')), ...(await range('a/b', 'bigé')), ...(await range('bigé'))];
      expect(parts).toEqual(keys.toSorted((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    });

    it('writes, stats and reads back with the same bytes and preserved mtime', async () => {
      const data = Buffer.from('hello hybrid world\n'.repeat(100));
      const r = await write(t.backend, 'rw/file.bin', data, 1_700_000_000_500);
      expect(r.md5).toBe(md5(data));
      expect(r.bytesSent).toBe(data.length);
      const st = await t.reopen().stat('rw/file.bin');
      expect(st?.size).toBe(data.length);
      expect(st?.mtimeExact).toBe(true);
      expect(Math.abs(st!.mtimeMs - 1_700_000_000_500)).toBeLessThanOrEqual(1);
      const back = await md5OfStream((await t.backend.read('rw/file.bin')) as AsyncIterable<Buffer>);
      expect(back.md5).toBe(md5(data));
    });

    it('writes a body given as bytes (a Buffer) like a stream: same bytes, MD5 and mtime; a wrong length or MD5 stores nothing', async () => {
      const data = Buffer.from('{"step": 100, "loss": 0.0412}\n'.repeat(40));
      const r = await t.backend.write('buf/metrics.jsonl', data, { size: data.length, mtimeMs: 1_700_000_000_700 });
      expect(r.md5).toBe(md5(data));
      expect(r.bytesSent).toBe(data.length);
      const st = await t.reopen().stat('buf/metrics.jsonl');
      expect(st?.size).toBe(data.length);
      expect(Math.abs(st!.mtimeMs - 1_700_000_000_700)).toBeLessThanOrEqual(1);
      expect((await md5OfStream((await t.reopen().read('buf/metrics.jsonl')) as AsyncIterable<Buffer>)).md5).toBe(md5(data));
      await expect(t.backend.write('buf/short', data, { size: data.length + 1, mtimeMs: Date.now() })).rejects.toMatchObject({ kind: 'source-changed' });
      await expect(t.backend.write('buf/bad', data, { size: data.length, mtimeMs: Date.now(), md5: md5('other') })).rejects.toMatchObject({ kind: 'integrity' });
      expect((await collect(t.backend.list({ prefix: 'buf/' }))).map((e) => e.key)).toEqual(['buf/metrics.jsonl']);
    });

    it('whole reader: a small object in one buffer; with ifMatch, a change since listing is source-changed', async (ctx) => {
      const b = t.backend;
      if (!hasWholeReader(b)) return ctx.skip();
      await write(b, 'whole/f', 'version-1', 1_700_000_000_000);
      const listed = await b.stat('whole/f');
      expect((await b.readWhole('whole/f', { ifMatch: listed! })).toString()).toBe('version-1');
      await write(b, 'whole/f', 'version-two', 1_700_000_100_000);
      await expect(b.readWhole('whole/f', { ifMatch: listed! })).rejects.toMatchObject({ kind: 'source-changed' });
      await write(b, 'whole/f', 'version-3', 1_700_000_200_000); // same size as listed, other mtime
      await expect(b.readWhole('whole/f', { ifMatch: listed! })).rejects.toMatchObject({ kind: 'source-changed' });
      await expect(b.readWhole('whole/missing')).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('block reader: the object in blocks of exactly the size into the given buffers; with ifMatch, a change since listing is source-changed', async (ctx) => {
      const b = t.backend;
      if (!hasBlockReader(b)) return ctx.skip();
      const data = Buffer.from('0123456789abcdef'.repeat(700)); // 11,200 bytes: 2 whole blocks of 4096 and 3,008
      await write(b, 'blocks/f', data.toString(), 1_700_000_000_000);
      const listed = await b.stat('blocks/f');
      const given: Buffer[] = [];
      const alloc = (n: number): Buffer => given[given.push(Buffer.alloc(n)) - 1]!;
      const got: Buffer[] = [];
      for await (const blk of b.readBlocks('blocks/f', 4096, alloc, { ifMatch: listed! })) {
        expect(given.some((g) => g.buffer === blk.buffer && blk.byteOffset === 0)).toBe(true);
        got.push(Buffer.from(blk));
      }
      expect(got.map((x) => x.length)).toEqual([4096, 4096, 3008]);
      expect(Buffer.concat(got).equals(data)).toBe(true);
      await write(b, 'blocks/f', data.toString().toUpperCase(), 1_700_000_100_000); // same size, other mtime
      const drain = async (): Promise<void> => {
        for await (const blk of b.readBlocks('blocks/f', 4096, alloc, { ifMatch: listed! })) void blk;
      };
      await expect(drain()).rejects.toMatchObject({ kind: 'source-changed' });
      await expect(b.readBlocks('blocks/missing', 4096, alloc).next()).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('lists only keys after startAfter, in order, across the prefix', async () => {
      for (const k of ['s/a/1', 's/a/2', 's/b/1', 's/c']) await write(t.backend, `after/${k}`, k);
      const listed = (await collect(t.backend.list({ prefix: 'after/', startAfter: 'after/s/a/2' }))).map((e) => e.key);
      expect(listed).toEqual(['after/s/b/1', 'after/s/c']);
    });

    it('conditional create: stores a new key once; a second create of it fails with already-exists and keeps the first bytes', async (ctx) => {
      if (!t.backend.features.conditionalCreate) ctx.skip();
      const first = Buffer.from('first\n');
      const r = await t.backend.write('cond/k', body(first), { size: first.length, mtimeMs: 1_700_000_000_000 }, { ifAbsent: true });
      expect(r.md5).toBe(md5(first));
      const second = Buffer.from('second\n');
      await expect(t.backend.write('cond/k', body(second), { size: second.length, mtimeMs: 1_700_000_000_000 }, { ifAbsent: true })).rejects.toMatchObject({
        kind: 'already-exists',
      });
      const back = await md5OfStream((await t.reopen().read('cond/k')) as AsyncIterable<Buffer>);
      expect(back.md5).toBe(md5(first));
    });

    it('reads a byte range', async () => {
      await write(t.backend, 'range/r.txt', '0123456789abcdef');
      const chunks: Buffer[] = [];
      for await (const c of (await t.backend.read('range/r.txt', { start: 3, end: 9 })) as AsyncIterable<Buffer>) chunks.push(c);
      expect(Buffer.concat(chunks).toString()).toBe('345678');
    });

    it('stat of a missing key is undefined; reading it is NotFoundError', async () => {
      expect(await t.backend.stat('missing/nope')).toBeUndefined();
      await expect(t.backend.read('missing/nope')).rejects.toMatchObject({ kind: 'not-found' });
    });

    it('rejects content that does not match the expected MD5 and leaves nothing behind', async () => {
      const data = Buffer.from('the real content');
      await expect(
        t.backend.write('bad/md5.txt', body(data), { size: data.length, mtimeMs: Date.now(), md5: md5('other content') }),
      ).rejects.toMatchObject({ kind: 'integrity' });
      expect(await t.backend.stat('bad/md5.txt')).toBeUndefined();
      expect((await collect(t.backend.list({ prefix: 'bad/' }))).map((e) => e.key)).toEqual([]);
    });

    it('rejects a body shorter than announced (source changed) and leaves nothing behind', async () => {
      await expect(t.backend.write('bad/short.txt', body('abc'), { size: 10, mtimeMs: Date.now() })).rejects.toMatchObject({
        kind: 'source-changed',
      });
      expect(await t.backend.stat('bad/short.txt')).toBeUndefined();
    });

    it('an overwrite replaces the content whole, and a failed overwrite leaves the old content', async () => {
      await write(t.backend, 'atomic/x', 'old-content');
      await write(t.backend, 'atomic/x', 'new-content!!');
      const read = async () => (await md5OfStream((await t.backend.read('atomic/x')) as AsyncIterable<Buffer>)).md5;
      expect(await read()).toBe(md5('new-content!!'));
      const bad = Buffer.from('third version');
      await expect(t.backend.write('atomic/x', body(bad), { size: bad.length, mtimeMs: Date.now(), md5: md5('something else') })).rejects.toMatchObject({
        kind: 'integrity',
      });
      expect(await read()).toBe(md5('new-content!!'));
    });

    it('removes a key; removing a missing key is fine', async () => {
      await write(t.backend, 'rm/one', '1');
      await t.backend.remove('rm/one');
      expect(await t.backend.stat('rm/one')).toBeUndefined();
      await t.backend.remove('rm/one');
    });

    it('batch remove: one call removes many keys, missing ones included; a key the server refuses is reported by key with a typed error and stays', async (ctx) => {
      const b = t.backend;
      if (!hasBatchRemover(b)) return ctx.skip();
      expect(b.maxBatchRemove).toBeGreaterThan(1);
      const keys = Array.from({ length: 12 }, (_, i) => `batch/k-${String(i).padStart(2, '0')}`);
      for (const k of keys) await write(b, k, k);
      expect(await b.removeMany([...keys.slice(0, 10), 'batch/never-written'])).toEqual([]);
      const left = async (): Promise<string[]> => (await collect(t.reopen().list({ prefix: 'batch/' }))).map((e) => e.key);
      expect(await left()).toEqual(['batch/k-10', 'batch/k-11']);
      await expect(b.removeMany(Array.from({ length: b.maxBatchRemove + 1 }, (_, i) => `batch/x-${i}`))).rejects.toThrow(/at most/);
      if (!t.refuseRemoval) return;
      await write(b, 'batch/locked/kept', 'kept');
      const release = await t.refuseRemoval('batch/locked/');
      try {
        const refused = await b.removeMany(['batch/k-10', 'batch/locked/kept', 'batch/k-11']);
        expect(refused.map((r) => r.key)).toEqual(['batch/locked/kept']);
        expect(refused[0]!.error).toMatchObject({ kind: 'permission', retryable: false });
        expect(refused[0]!.error.message).toContain('batch/locked/kept');
      } finally {
        await release();
      }
      expect(await left()).toEqual(['batch/locked/kept']);
    });

    it('fails reads with ifMatch when the source changed since listing', async () => {
      await write(t.backend, 'ifmatch/f', 'version-1', 1_700_000_000_000);
      const listed = await t.backend.stat('ifmatch/f');
      await write(t.backend, 'ifmatch/f', 'version-two', 1_700_000_100_000);
      await expect(
        (async () => {
          const s = await t.backend.read('ifmatch/f', { ifMatch: listed! });
          for await (const _ of s as AsyncIterable<Buffer>) void _;
        })(),
      ).rejects.toMatchObject({ kind: 'source-changed' });
    });

    it('chunked upload: chunks become the object only when completed, with the whole MD5 and mtime', async (ctx) => {
      const b = t.backend;
      if (!hasChunkWriter(b)) return ctx.skip();
      const { data, chunks } = chunkedContent(b, 3, 12_345);
      const meta = { size: data.length, mtimeMs: 1_700_000_000_250, ...(b.features.tags ? { tags: { classification: 'confidential' } } : {}) };
      const up = await b.openChunkedUpload('chunked/whole.bin', meta);
      expect(up.present.size).toBe(0);
      const done: CompletedChunk[] = [];
      for (const [index, c] of chunks.entries()) done.push({ index, token: await up.writeChunk(index, c, sha256(c)), size: c.length, sha256: sha256(c) });
      expect(await b.stat('chunked/whole.bin')).toBeUndefined(); // staged chunks are invisible
      expect((await collect(b.list({ prefix: 'chunked/' }))).map((e) => e.key)).toEqual([]);
      const entry = await up.complete(done.reverse(), md5(data));
      expect(entry).toMatchObject({ key: 'chunked/whole.bin', size: data.length, md5: md5(data), mtimeMs: meta.mtimeMs });
      const back = await md5OfStream((await t.reopen().read('chunked/whole.bin')) as AsyncIterable<Buffer>);
      expect(back.md5).toBe(md5(data));
      const st = await t.reopen().stat('chunked/whole.bin');
      expect(st?.size).toBe(data.length);
      expect(st?.md5).toBe(md5(data));
      expect(Math.abs(st!.mtimeMs - meta.mtimeMs)).toBeLessThanOrEqual(1);
      expect(await b.resumeChunkedUpload('chunked/whole.bin', up.uploadToken, meta)).toBeUndefined(); // completed: nothing to resume
      // the classification travels as tags on large objects too (Ceph RGW 16 drops them from CreateMultipartUpload)
      if (hasTags(b)) expect(await b.getTags('chunked/whole.bin')).toEqual({ classification: 'confidential' });
    });

    it('chunked upload: after a crash, resume finds the stored chunks and finishes with the right bytes', async (ctx) => {
      const b = t.backend;
      if (!hasChunkWriter(b)) return ctx.skip();
      const { data, chunks } = chunkedContent(b, 3, 777);
      const meta = { size: data.length, mtimeMs: 1_700_000_000_000 };
      const first = await b.openChunkedUpload('chunked/resumed.bin', meta);
      const tokens = [await first.writeChunk(0, chunks[0]!, sha256(chunks[0]!)), await first.writeChunk(1, chunks[1]!, sha256(chunks[1]!))];
      // "crash": the first run's objects are gone; a new instance re-attaches by token
      const again = t.reopen();
      if (!hasChunkWriter(again)) throw new Error('reopened backend lost its ChunkWriter');
      const resumed = await again.resumeChunkedUpload('chunked/resumed.bin', first.uploadToken, meta);
      expect(resumed).toBeDefined();
      expect([...resumed!.present.entries()].sort((x, y) => x[0] - y[0])).toEqual([
        [0, tokens[0]],
        [1, tokens[1]],
      ]);
      const done: CompletedChunk[] = [0, 1].map((index) => ({ index, token: resumed!.present.get(index)!, size: chunks[index]!.length, sha256: sha256(chunks[index]!) }));
      for (const index of [2, 3]) {
        const c = chunks[index]!;
        done.push({ index, token: await resumed!.writeChunk(index, c, sha256(c)), size: c.length, sha256: sha256(c) });
      }
      await resumed!.complete(done, md5(data));
      expect((await md5OfStream((await again.read('chunked/resumed.bin')) as AsyncIterable<Buffer>)).md5).toBe(md5(data));
    });

    it('chunked upload: an aborted upload leaves nothing visible', async (ctx) => {
      const b = t.backend;
      if (!hasChunkWriter(b)) return ctx.skip();
      const { chunks } = chunkedContent(b, 2, 0);
      const meta = { size: 2 * chunks[0]!.length, mtimeMs: Date.now() };
      const killed = await b.openChunkedUpload('chunked/aborted.bin', meta);
      await killed.writeChunk(0, chunks[0]!, sha256(chunks[0]!));
      await b.abortChunkedUpload('chunked/aborted.bin', killed.uploadToken); // a later run cleans up
      const direct = await b.openChunkedUpload('chunked/aborted-2.bin', meta);
      await direct.writeChunk(0, chunks[0]!, sha256(chunks[0]!));
      await direct.abort();
      await b.abortChunkedUpload('chunked/never-started.bin', killed.uploadToken); // missing: not an error
      expect(await b.stat('chunked/aborted.bin')).toBeUndefined();
      expect(await b.stat('chunked/aborted-2.bin')).toBeUndefined();
      expect((await collect(t.reopen().list({ prefix: 'chunked/aborted' }))).map((e) => e.key)).toEqual([]);
    });

    it('tiering: moves an object to a colder class in place; bytes, mtime, MD5 and user metadata stay; stat and list report the class', async (ctx) => {
      const b = t.backend;
      if (!hasTierer(b) || !t.tiering) return ctx.skip();
      const data = Buffer.from('cold data\n'.repeat(300));
      await b.write('tier/cold.bin', body(data), { size: data.length, mtimeMs: 1_600_000_000_250, metadata: { origin: 'conformance' } });
      const listed = (await collect(b.list({ prefix: 'tier/' })))[0]!;
      const moved = await b.setStorageClass('tier/cold.bin', t.tiering.coldClass, { ifMatch: listed });
      expect(moved.storageClass).toBe(t.tiering.coldClass);
      const st = await t.reopen().stat('tier/cold.bin');
      expect(st).toMatchObject({ size: data.length, md5: md5(data), mtimeExact: true, storageClass: t.tiering.coldClass, metadata: expect.objectContaining({ origin: 'conformance' }) });
      expect(Math.abs(st!.mtimeMs - 1_600_000_000_250)).toBeLessThanOrEqual(1);
      expect((await collect(t.reopen().list({ prefix: 'tier/' }))).map((e) => [e.key, e.storageClass])).toEqual([['tier/cold.bin', t.tiering.coldClass]]);
      expect((await md5OfStream((await b.read('tier/cold.bin')) as AsyncIterable<Buffer>)).md5).toBe(md5(data));
    });

    it('tiering: a move planned on an object that changed since is refused (source-changed) and changes nothing', async (ctx) => {
      const b = t.backend;
      if (!hasTierer(b) || !t.tiering) return ctx.skip();
      await write(b, 'tier/changing.bin', 'version-1');
      const listed = await b.stat('tier/changing.bin');
      await write(b, 'tier/changing.bin', 'version-two');
      await expect(b.setStorageClass('tier/changing.bin', t.tiering.coldClass, { ifMatch: listed! })).rejects.toMatchObject({ kind: 'source-changed' });
      expect((await b.stat('tier/changing.bin'))?.storageClass).not.toBe(t.tiering.coldClass);
    });

    it('chunked upload through the engine driver: a large object in chunks, verified, with the whole MD5 stored', async (ctx) => {
      if (!hasChunkWriter(t.backend)) return ctx.skip();
      const data = Buffer.alloc(12 * 1024 * 1024 + 123, 7);
      for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
      const r = await writeObject(t.backend, 'mp/big.bin', body(data), { size: data.length, mtimeMs: 1_700_000_000_000 }, { chunking: { threshold: 8 * 1024 * 1024, chunkSize: 5 * 1024 * 1024, concurrency: 2 } });
      expect(r.md5).toBe(md5(data));
      const st = await t.reopen().stat('mp/big.bin');
      expect(st?.size).toBe(data.length);
      expect(st?.md5).toBe(md5(data)); // the real MD5 (never a multipart ETag)
    });
  });
}
