/**
 * Every multipart upload a run starts ends completed or aborted, even when the reply to
 * CreateMultipartUpload never reached the journal: the intent is journaled before the
 * request, and the next run to reach its end aborts what the server holds for it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir } from '../helpers/fs.js';
import { openLocation } from '../../src/api/transfer.js';
import { AbortedError, TransientError } from '../../src/core/errors.js';
import type { Backend, ChunkWriter } from '../../src/core/backend.js';
import { writeObject } from '../../src/sync/chunked.js';
import { runSync } from '../../src/sync/execute.js';
import { StateDb } from '../../src/sync/state.js';

let client: S3Client;
let bucket: string;

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'stray');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

const chunking = { threshold: 5 * 1024 * 1024, chunkSize: 5 * 1024 * 1024, concurrency: 2 };

/** The real S3 backend with openChunkedUpload replaced. */
function withOpen(real: Backend, open: ChunkWriter['openChunkedUpload']): Backend {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'openChunkedUpload') return open;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('multipart uploads whose create reply was never journaled', () => {
  it('an abort while CreateMultipartUpload is in flight leaves no open upload after the next run', async () => {
    const src = tempDir('stray-src');
    const file = randomFile(src, 'big.bin', 6 * 1024 * 1024 + 3);
    const state = new StateDb(join(tempDir('stray-state'), 'state.db'));
    const real = openLocation(`s3://${bucket}/abort/`);
    const real1 = real as Backend & ChunkWriter;
    const stop = new AbortController();
    // the run is stopped while the create is on the wire, and ends before its reply is journaled
    // (as when the process exits at the window's end or on a second SIGINT)
    const dst = withOpen(real, async (key, meta) => {
      stop.abort(new AbortedError('stopped'));
      await real1.openChunkedUpload(key, meta);
      throw new AbortedError('the run ended before the upload id was journaled');
    });
    const first = await runSync({ mode: 'copy', src: openLocation(src), dst, state, chunking, signal: stop.signal });
    expect(first.status).toBe('aborted');
    expect(await openUploads(client, bucket)).toHaveLength(1); // the stray the fix must clean up

    const second = await runSync({ mode: 'copy', src: openLocation(src), dst: openLocation(`s3://${bucket}/abort/`), state, chunking });
    expect(second.status).toBe('ok');
    expect(await getObjectMd5(client, bucket, 'abort/big.bin')).toBe(md5(readFileSync(file)));
    expect(await openUploads(client, bucket)).toEqual([]);
    state.close();
  });

  it('a create whose reply was lost is aborted by the same run once its retry succeeded', async () => {
    const src = tempDir('stray-src');
    const file = randomFile(src, 'big.bin', 6 * 1024 * 1024 + 5);
    const state = new StateDb(join(tempDir('stray-state'), 'state.db'));
    const real = openLocation(`s3://${bucket}/lost/`) as Backend & ChunkWriter;
    let lost = 0;
    const dst = withOpen(real, async (key, meta) => {
      const upload = await real.openChunkedUpload(key, meta);
      if (lost++ === 0) throw new TransientError('connection reset before the reply arrived');
      return upload;
    });
    const summary = await runSync({ mode: 'copy', src: openLocation(src), dst, state, chunking, retries: 3 });
    expect(summary.status).toBe('ok');
    expect(lost).toBe(2);
    expect((await listAll(client, bucket, 'lost/')).map((o) => o.key)).toEqual(['lost/big.bin']);
    expect(await getObjectMd5(client, bucket, 'lost/big.bin')).toBe(md5(readFileSync(file)));
    expect(await openUploads(client, bucket)).toEqual([]);
    state.close();
  });

  it('an interrupted upload that was not journaled (nothing could resume it) is aborted, not left open', async () => {
    const dst = openLocation(`s3://${bucket}/unjournaled/`);
    const stop = new AbortController();
    const first = randomBytes(5 * 1024 * 1024);
    async function* body(): AsyncGenerator<Buffer> {
      yield first;
      stop.abort(new AbortedError('stopped'));
      yield randomBytes(1024);
    }
    const write = writeObject(dst, 'spooled.bin', Readable.from(body()), { size: first.length + 1024, mtimeMs: 1_700_000_000_000 }, { chunking, signal: stop.signal });
    await expect(write).rejects.toThrow();
    expect(await openUploads(client, bucket)).toEqual([]);
  });
});
