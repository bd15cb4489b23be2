/**
 * The small-object PUT path (small-objects.ts) against Ceph: same bytes, metadata and errors as
 * the SDK path it replaces, for keys that need encoding.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HeadObjectCommand, GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Backend } from '../../src/backends/s3/index.js';
import { SmallObjects } from '../../src/backends/s3/small-objects.js';
import { openLocation } from '../../src/backends/registry.js';
import { createTestBucket, deleteBucket, getObjectMd5, testClient } from '../helpers/s3.js';
import { md5 } from '../helpers/fs.js';

let client: S3Client;
let bucket: string;
beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'fastput');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

/** Which path each PUT took: the fast path's requests, and PutObjectCommands sent through any SDK client. */
function watchPuts(): { fast: () => string[]; sdk: () => number } {
  const fast = vi.spyOn(SmallObjects.prototype, 'put');
  const send = vi.spyOn(S3Client.prototype, 'send');
  return {
    fast: () => fast.mock.calls.map(([r]) => r.key),
    sdk: () => send.mock.calls.filter(([c]) => c instanceof PutObjectCommand).length,
  };
}
afterEach(() => {
  vi.restoreAllMocks();
});

const put = (b: S3Backend, key: string, data: string, extra: object = {}) =>
  b.write(key, Readable.from([Buffer.from(data)]), { size: Buffer.byteLength(data), mtimeMs: 1_700_000_000_250, ...extra });

describe('small-object PUT path', () => {
  it('stores bytes, mtime/MD5 metadata and tags under keys that need encoding', async () => {
    const b = openLocation(`s3://${bucket}/p re/`) as S3Backend;
    const keys = ["a b/c+d=e&f?.txt", "ünï/cødé 🙂.bin", "q'(x)!*~.txt"];
    const puts = watchPuts();
    for (const k of keys) await put(b, k, `content of ${k}`, { tags: { classification: 'internal' }, metadata: { note: 'héllo' } });
    // every object went up through the fast path, none through the SDK's PutObject
    expect(puts.fast()).toEqual(keys.map((k) => `p re/${k}`));
    expect(puts.sdk()).toBe(0);
    for (const k of keys) {
      expect(await getObjectMd5(client, bucket, `p re/${k}`)).toBe(md5(`content of ${k}`));
      const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `p re/${k}` }));
      expect(h.Metadata?.mtime).toBe('1700000000.250');
      expect(Buffer.from(h.Metadata!.md5chksum!, 'base64').toString('hex')).toBe(md5(`content of ${k}`));
      const st = await b.stat(k);
      expect(st?.metadata?.note).toBe('héllo');
      const tags = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: `p re/${k}` }));
      expect(tags.TagSet).toEqual([{ Key: 'classification', Value: 'internal' }]);
    }
    await b.close();
  });

  it('maps server errors like the SDK path: missing bucket, bad credentials', async () => {
    const puts = watchPuts();
    const missing = openLocation('s3://no-such-bucket-fastput/x', { transfer: { retries: 1 } }) as S3Backend;
    await expect(put(missing, 'k', 'v')).rejects.toMatchObject({ kind: 'not-found', fatal: true });
    await missing.close();
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret-000000000000000000000000000';
    try {
      const wrong = openLocation(`s3://${bucket}/x`, { transfer: { retries: 1 } }) as S3Backend;
      await expect(put(wrong, 'k', 'v')).rejects.toMatchObject({ kind: 'auth' });
      await wrong.close();
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved;
    }
    // the errors mapped were the fast path's
    expect(puts.fast()).toEqual(['x/k', 'x/k']);
    expect(puts.sdk()).toBe(0);
  });
});

describe('small-object HEAD path (stat)', () => {
  it('gives the same entry as the SDK HeadObject: size, ETag, mtime/MD5 metadata, encoded metadata, storage class; a missing key is undefined', async () => {
    const b = openLocation(`s3://${bucket}/head/`) as S3Backend;
    const keys = ['plain.txt', 'ünï/cødé 🙂.bin'];
    for (const k of keys) await put(b, k, `content of ${k}`, { metadata: { note: 'héllo wörld' } });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'head/ia.bin', Body: 'cold', StorageClass: 'STANDARD_IA' }));
    const fastHead = vi.spyOn(SmallObjects.prototype, 'head');
    const sdk = vi.spyOn(S3Client.prototype, 'send');
    const lean = await Promise.all([...keys, 'ia.bin', 'missing.bin'].map((k) => b.stat(k)));
    expect(fastHead).toHaveBeenCalledTimes(4);
    expect(sdk.mock.calls.filter(([c]) => c instanceof HeadObjectCommand)).toHaveLength(0);
    vi.restoreAllMocks();
    process.env.HYBRIDSYNC_NO_FAST_PUT = '1';
    try {
      const viaSdk = openLocation(`s3://${bucket}/head/`) as S3Backend;
      const expected = await Promise.all([...keys, 'ia.bin', 'missing.bin'].map((k) => viaSdk.stat(k)));
      await viaSdk.close();
      expect(lean).toEqual(expected);
    } finally {
      delete process.env.HYBRIDSYNC_NO_FAST_PUT;
    }
    expect(lean[0]).toMatchObject({ size: Buffer.byteLength('content of plain.txt'), mtimeMs: 1_700_000_000_250, mtimeExact: true, md5: md5('content of plain.txt') });
    expect(lean[1]?.metadata?.note).toBe('héllo wörld');
    expect(lean[2]?.storageClass).toBe('STANDARD_IA');
    expect(lean[3]).toBeUndefined();
    await b.close();
  });
});

describe('multipart parts', () => {
  it('are signed with the SHA-256 the engine computed (the SDK does not hash them again) and the server verifies it', async () => {
    const b = openLocation(`s3://${bucket}/parts/`, { transfer: { retries: 1 } }) as S3Backend;
    const data = Buffer.alloc(5 * 1024 * 1024, 3);
    const right = createHash('sha256').update(data).digest('hex');
    const up = await b.openChunkedUpload('p.bin', { size: data.length, mtimeMs: 1_700_000_000_000 });
    try {
      // a wrong hash, signed as given, must be refused by the server: so the given one is what is signed
      await expect(up.writeChunk(0, Buffer.from(data), right.replace(/^./, (c) => (c === '0' ? '1' : '0')))).rejects.toThrow();
      const token = await up.writeChunk(0, data, right);
      const entry = await up.complete([{ index: 0, token, size: data.length, sha256: right }], md5(data));
      expect(entry.md5).toBe(md5(data));
      expect(await getObjectMd5(client, bucket, 'parts/p.bin')).toBe(md5(data));
    } finally {
      await up.abort().catch(() => undefined);
      await b.close();
    }
  });
});
