/**
 * GatewayCore over an in-memory upstream: the merged listing (delimiters, pages,
 * start-after), local writes and deletes winning over the upstream until uploaded, keys no
 * directory tree can hold, and multipart rules. The S3 protocol and real clients are
 * tested in test/int/gateway.test.ts.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import { snapshotItems } from '../../../src/api/gateway.js';
import { GatewayCore, MIN_PART_SIZE } from '../../../src/gateway/gateway.js';
import { tempDir } from '../../helpers/fs.js';

const opened: GatewayCore[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

async function core(keys: string[], o: { maxDirty?: number } = {}): Promise<{ core: GatewayCore; upstream: MemoryBackend }> {
  const upstream = new MemoryBackend('mem://up');
  for (const k of keys) upstream.put(k, `content of ${k}`);
  const c = await GatewayCore.open({ upstream, cacheDir: tempDir('gw-core'), maxSize: 1e9, ...o });
  opened.push(c);
  return { core: c, upstream };
}

const bytes = (s: string | Buffer): AsyncIterable<Buffer> => Readable.from([Buffer.from(s)]);
async function text(c: GatewayCore, key: string): Promise<string> {
  const e = await c.lookup(key);
  let out = '';
  for await (const b of c.read(e!, 0, e!.size)) out += b.toString();
  return out;
}

async function listAll(c: GatewayCore, prefix: string, delimiter: string | undefined, maxKeys: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const p = await c.list({ prefix, ...(delimiter ? { delimiter } : {}), ...(after !== undefined ? { after } : {}), maxKeys });
    pages.push([...p.commonPrefixes, ...p.contents.map((e) => e.key)]);
    if (!p.isTruncated) return pages;
    after = p.last;
  }
}

describe('the merged listing', () => {
  it('groups by delimiter and pages without repeating or skipping, prefixes included', async () => {
    const { core: c } = await core(['a/1', 'a/2', 'a/sub/x', 'a/sub/y', 'b', 'c/z']);
    expect(await listAll(c, '', '/', 2)).toEqual([['a/', 'b'], ['c/']]);
    expect(await listAll(c, 'a/', '/', 1)).toEqual([['a/1'], ['a/2'], ['a/sub/']]);
    expect((await listAll(c, '', undefined, 4)).flat()).toEqual(['a/1', 'a/2', 'a/sub/x', 'a/sub/y', 'b', 'c/z']);
    const after = await c.list({ prefix: 'a/', after: 'a/2', maxKeys: 10 });
    expect(after.contents.map((e) => e.key)).toEqual(['a/sub/x', 'a/sub/y']);
  });

  it('a local write and a local delete win over the upstream until uploaded, also after a forced relist', async () => {
    const { core: c } = await core(['k1', 'k2']);
    await c.put('k3', bytes('local'), { size: 5 });
    await c.delete('k1');
    await c.ensureListed('', true);
    expect((await c.list({ prefix: '', maxKeys: 10 })).contents.map((e) => e.key)).toEqual(['k2', 'k3']);
    expect(await c.lookup('k1')).toBeUndefined();
    expect(await text(c, 'k3')).toBe('local');
    expect(c.journal().map((j) => [j.key, j.op])).toEqual([
      ['k3', 'put'],
      ['k1', 'delete'],
    ]);
  });

  it('objects changed or gone at the upstream drop their cached bytes at the next listing', async () => {
    const { core: c, upstream } = await core(['m']);
    expect(await text(c, 'm')).toBe('content of m');
    upstream.put('m', 'changed upstream', 1_800_000_000_000);
    await c.ensureListed('', true);
    expect(await text(c, 'm')).toBe('changed upstream');
    await upstream.remove('m');
    await c.ensureListed('', true);
    expect(await c.lookup('m')).toBeUndefined();
  });
});

describe('writes', () => {
  it('refuses keys a directory tree cannot hold, and a file/directory clash, with InvalidArgument', async () => {
    const { core: c } = await core([]);
    for (const k of ['dir/', 'a//b', '../x', 'a/./b']) await expect(c.put(k, bytes('x'), { size: 1 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await c.put('a', bytes('x'), { size: 1 });
    await expect(c.put('a/b', bytes('x'), { size: 1 })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/clashes with key "a"/) });
    expect(c.journal().map((j) => j.key)).toEqual(['a']);
  });

  it('refuses a write past the dirty limit with SlowDown and keeps what was accepted', async () => {
    const { core: c } = await core([], { maxDirty: 10 });
    await c.put('one', bytes('123456'), { size: 6 });
    await expect(c.put('two', bytes('123456'), { size: 6 })).rejects.toMatchObject({ code: 'SlowDown', status: 503 });
    // a body of unannounced length is cut off at the limit too
    await expect(c.put('three', bytes('123456'), {})).rejects.toMatchObject({ code: 'SlowDown' });
    expect(c.journal().map((j) => j.key)).toEqual(['one']);
    expect(await text(c, 'one')).toBe('123456');
  });

  it('multipart: parts under 5 MiB but the last are EntityTooSmall, a wrong ETag is InvalidPart, the result has an S3 multipart ETag', async () => {
    const { core: c } = await core([]);
    const id = c.createUpload('big', {});
    const e1 = await c.uploadPart(id, 'big', 1, bytes(Buffer.alloc(MIN_PART_SIZE, 1)), MIN_PART_SIZE);
    const e2 = await c.uploadPart(id, 'big', 2, bytes('tail'), 4);
    await expect(c.completeUpload(id, 'big', [{ part: 1, etag: e1 }, { part: 2, etag: 'f'.repeat(32) }])).rejects.toMatchObject({ code: 'InvalidPart' });
    await expect(c.completeUpload(id, 'big', [{ part: 2, etag: e2 }, { part: 1, etag: e1 }])).rejects.toMatchObject({ code: 'InvalidPartOrder' });
    const small = c.createUpload('small', {});
    const s1 = await c.uploadPart(small, 'small', 1, bytes('tiny'), 4);
    const s2 = await c.uploadPart(small, 'small', 2, bytes('tiny'), 4);
    await expect(c.completeUpload(small, 'small', [{ part: 1, etag: s1 }, { part: 2, etag: s2 }])).rejects.toMatchObject({ code: 'EntityTooSmall' });
    const row = await c.completeUpload(id, 'big', [{ part: 1, etag: `"${e1}"` }, { part: 2, etag: e2 }]);
    expect(row.etag).toMatch(/^[0-9a-f]{32}-2$/);
    expect(row.size).toBe(MIN_PART_SIZE + 4);
    await expect(c.uploadPart(id, 'big', 3, bytes('x'), 1)).rejects.toMatchObject({ code: 'NoSuchUpload' });
  });
});

describe('preload of items with the MD5 they must have', () => {
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  it('verifies fetched and already cached objects; a mismatch is named and its clean bytes dropped, a dirty one kept; missing keys named', async () => {
    const { core: c } = await core(['d/a', 'd/b', 'd/c', 'd/s']);
    expect(await text(c, 'd/a')).toBe('content of d/a'); // cached before the preload
    await c.put('d/local', bytes('written here'), { size: 12 });
    const r = await c.preload({
      items: [
        { key: 'd/a', md5: md5('content of d/a'), size: 14 },
        { key: 'd/b', md5: md5('content of d/b') },
        { key: 'd/c', md5: md5('something else') },
        { key: 'd/local', md5: md5('what the snapshot had') },
        { key: 'd/s', size: 3 },
        { key: 'd/gone', md5: md5('x') },
      ],
      listFirst: 'd/',
    });
    expect(r).toMatchObject({ total: 6, done: 6, verified: 2, });
    expect(r.missing).toEqual(['d/gone']);
    expect(r.mismatched.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'd/c', reason: expect.stringMatching(/^MD5 /) },
      { key: 'd/local', reason: expect.stringMatching(/^MD5 /) },
      { key: 'd/s', reason: '14 bytes, expected 3' },
    ]);
    const e = (k: string) => c.index.cached(k);
    expect(e('d/b')?.complete).toBe(true);
    expect(e('d/c'), 'a clean object that is not what the item says is dropped').toBeUndefined();
    expect(e('d/local')?.complete, 'dirty data is never dropped').toBe(true);
    expect(await text(c, 'd/local')).toBe('written here');
  });
});

describe('snapshotItems', () => {
  const files = [{ path: 'x/1.bin', md5: 'a'.repeat(32), size: 1 }];
  it('maps a snapshot at or below the upstream to keys under the rest of its URI', () => {
    expect(snapshotItems('http://h/b/up/ds/', 'http://h/b/up/', files)).toEqual({ prefix: 'ds/', items: [{ key: 'ds/x/1.bin', md5: 'a'.repeat(32), size: 1 }] });
    expect(snapshotItems('http://h/b/up/', 'http://h/b/up/', files).prefix).toBe('');
    expect(snapshotItems('http://other/b/', 'http://h/b/up/', files, 'k').items[0]!.key).toBe('k/x/1.bin');
  });
  it('refuses a snapshot elsewhere (a sibling prefix with the same start too) and names the fix', () => {
    expect(() => snapshotItems('http://h/b/upx/', 'http://h/b/up/', files)).toThrow(/not under the gateway's upstream/);
    expect(() => snapshotItems('http://h/b/', 'http://h/b/up/', files)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/--snapshot-prefix/) }));
  });
});
