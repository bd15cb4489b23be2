/**
 * What a multipart upload does after its last part, against a real Ceph RGW through a
 * recording proxy: the whole file's MD5 goes into the object's metadata by a self-copy
 * guarded by the ETag the parts make, so the upload ends in two requests (complete, copy)
 * instead of four (complete, HEAD, copy, HEAD). A long link pays each of them as a round
 * trip. Where the server's ETags are not MD5s of the parts, or the guard refuses, the upload
 * reads the stored object back as before and still ends with the MD5 in its metadata.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { createTestBucket, deleteBucket, getObjectMd5, listAll, openUploads, s3Env, testClient } from '../helpers/s3.js';
import { md5, randomFile, tempDir } from '../helpers/fs.js';
import { LocalBackend } from '../../src/backends/local/index.js';
import { S3Backend } from '../../src/backends/s3/index.js';
import { openLocation } from '../../src/backends/registry.js';
import { runSync } from '../../src/sync/execute.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { StateDb } from '../../src/sync/state.js';

const MiB = 1024 * 1024;
let client: S3Client;
let bucket: string;

beforeAll(async () => {
  client = testClient();
  bucket = await createTestBucket(client, 'mpfin');
});
afterAll(async () => {
  await deleteBucket(client, bucket);
  client.destroy();
});

interface Seen {
  readonly method: string;
  readonly path: string;
  /** The copy's x-amz-copy-source-if-match, if any. */
  readonly ifMatch?: string;
}

/**
 * A proxy in front of the Ceph RGW that records each request and can play another server:
 * `completeEtag` is put into CompleteMultipartUpload's answer (as AWS does with SSE-KMS,
 * where an object's ETag is no MD5), `copyEtag` into CopyObject's, `headEtag` into HEAD's
 * (an object as such a server would show it), and the copies with an
 * If-Match guard go as `guardedCopies` says: forwarded, forwarded with the answer lost
 * (the connection breaks), or refused with 412 (as a server that honours the guard).
 */
async function recordingProxy(
  o: {
    completeEtag?: string;
    copyEtag?: () => string;
    headEtag?: () => string;
    guardedCopies?: Array<'forward' | 'lose' | 'refuse'>;
    beforeCompleteAnswer?: () => Promise<void>;
    beforeCopyAnswer?: () => Promise<void>;
  } = {},
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const target = new URL(s3Env().endpoint);
  const seen: Seen[] = [];
  const plan = [...(o.guardedCopies ?? [])];
  const server: Server = createServer((req, res) => {
    const ifMatch = req.headers['x-amz-copy-source-if-match'] as string | undefined;
    seen.push({ method: req.method ?? '', path: req.url ?? '', ...(ifMatch ? { ifMatch: ifMatch.replace(/"/g, '') } : {}) });
    const step = ifMatch ? plan.shift() : undefined;
    if (step === 'refuse') {
      req.resume();
      res.writeHead(412, { 'content-type': 'application/xml' }).end('<Error><Code>PreconditionFailed</Code><Message>test: not that version</Message></Error>');
      return;
    }
    const completing = req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '');
    const copying = /x-id=CopyObject/.test(req.url ?? '');
    const newEtag = completing ? o.completeEtag : copying ? o.copyEtag?.() : undefined;
    const hook = completing ? o.beforeCompleteAnswer : copying ? o.beforeCopyAnswer : undefined;
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      if (step === 'lose') {
        // the server did the copy; its answer is lost on the way (the connection breaks)
        r.resume();
        r.on('end', () => res.socket?.destroy());
        return;
      }
      if (!newEtag && !hook) {
        const etag = req.method === 'HEAD' ? o.headEtag?.() : undefined;
        res.writeHead(r.statusCode ?? 502, etag ? { ...r.headers, etag: `"${etag}"` } : r.headers);
        r.pipe(res);
        return;
      }
      const body: Buffer[] = [];
      r.on('data', (c: Buffer) => body.push(c));
      r.on('end', () => {
        let xml = Buffer.concat(body).toString('utf8');
        if (newEtag) {
          const etag = `<ETag>&quot;${newEtag}&quot;</ETag>`;
          xml = /<ETag>[^<]*<\/ETag>/.test(xml) ? xml.replace(/<ETag>[^<]*<\/ETag>/, etag) : xml.replace('</Key>', `</Key>${etag}`);
        }
        const headers = { ...r.headers, 'content-length': String(Buffer.byteLength(xml)) };
        delete headers['transfer-encoding'];
        void (hook ?? (() => Promise.resolve()))().then(() => res.writeHead(r.statusCode ?? 502, headers).end(xml));
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** S3 at `prefix` of the test bucket, reached through `endpoint`. */
function s3At(endpoint: string, prefix: string): S3Backend {
  const s = openLocation(`s3://${bucket}/${prefix}`) as S3Backend;
  return new S3Backend(s.location, { endpoint, region: 'us-east-1', forcePathStyle: true }, { retries: 3 });
}

/** Uploads one 11 MiB file in three 5 MiB parts through `proxy`; what was sent, the MD5 and the state database's record of the object. */
async function upload(proxy: { url: string }, prefix: string, made?: (md5: string) => void): Promise<{ want: string; summary: Awaited<ReturnType<typeof runSync>>; recorded: string | undefined; events: SyncEvent[] }> {
  const local = tempDir(`mpfin-${prefix}`);
  randomFile(local, 'ckpt.pt', 11 * MiB + 7);
  const want = md5(readFileSync(join(local, 'ckpt.pt')));
  made?.(want);
  const state = new StateDb(join(tempDir(`mpfin-${prefix}-state`), 'state.db'));
  const dst = s3At(proxy.url, prefix);
  const events: SyncEvent[] = [];
  const summary = await runSync({
    mode: 'copy',
    src: new LocalBackend(local, local),
    dst,
    state,
    chunking: { threshold: 5 * MiB, chunkSize: 5 * MiB, concurrency: 2 },
    onEvent: (e) => void events.push(e),
  });
  // what the next run will compare the bucket's listing with
  const recorded = state.getObject(dst.location.id, 'ckpt.pt')?.etag;
  state.close();
  return { want, summary, recorded, events };
}

/** What another writer does: `body` stored at `key` by a multipart upload of `partSize` parts. */
async function putInParts(key: string, body: Buffer, partSize: number): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  for (let off = 0, n = 1; off < body.length; off += partSize, n++) {
    const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body.subarray(off, off + partSize) }));
    parts.push({ PartNumber: n, ETag: r.ETag! });
  }
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** The requests sent after the last part was stored. */
function afterLastPart(seen: readonly Seen[]): string[] {
  const last = seen.findLastIndex((s) => s.method === 'PUT' && /[?&]partNumber=/.test(s.path));
  return seen.slice(last + 1).map((s) => `${s.method} ${/[?&]uploadId=/.test(s.path) ? 'complete' : /x-id=CopyObject/.test(s.path) ? 'copy' : 'object'}`);
}

async function expectMd5InMetadata(prefix: string, want: string, recorded: string | undefined): Promise<void> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/ckpt.pt` }));
  expect(head.ETag).toMatch(/-3"$/);
  expect(Buffer.from(head.Metadata!.md5chksum!, 'base64').toString('hex')).toBe(want);
  expect(await getObjectMd5(client, bucket, `${prefix}/ckpt.pt`)).toBe(want);
  // the state database holds the ETag the bucket lists, so the next run asks nothing
  const listed = (await listAll(client, bucket, `${prefix}/`))[0]!;
  expect(recorded).toBe(listed.etag);
  expect(await openUploads(client, bucket)).toEqual([]);
}

describe('the end of a multipart upload', () => {
  it('is two requests, complete and a copy guarded by the ETag the parts make; the object carries its MD5 and the state database its ETag', async () => {
    const proxy = await recordingProxy();
    try {
      const { want, summary, recorded } = await upload(proxy, 'short');
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'PUT copy']);
      const copy = proxy.seen.find((s) => /x-id=CopyObject/.test(s.path))!;
      const listed = (await listAll(client, bucket, 'short/'))[0]!;
      expect(copy.ifMatch).toMatch(/^[0-9a-f]{32}-3$/);
      expect(copy.ifMatch).toBe(listed.etag); // Ceph kept the multipart ETag through the metadata copy
      await expectMd5InMetadata('short', want, recorded);

      // verified from the bucket alone: a check with an empty state database finds no difference
      const local = tempDir('mpfin-verify');
      const auditor = new StateDb(join(tempDir('mpfin-auditor'), 'state.db'));
      const seen: SyncEvent[] = [];
      const dl = await runSync({ mode: 'copy', src: s3At(s3Env().endpoint, 'short'), dst: new LocalBackend(local, local), state: auditor, onEvent: (e) => void seen.push(e) });
      auditor.close();
      expect(dl).toMatchObject({ transferred: 1, failed: 0 });
      expect(md5(readFileSync(join(local, 'ckpt.pt')))).toBe(want);
    } finally {
      await proxy.close();
    }
  });

  it('a server that completes under an ETag of its own (not the MD5 of the parts): the object is read back, then copied under the ETag it has', async () => {
    const proxy = await recordingProxy({ completeEtag: '0123456789abcdef0123456789abcdef-3' });
    try {
      const { want, summary, recorded } = await upload(proxy, 'foreign');
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'HEAD object', 'PUT copy', 'HEAD object']);
      await expectMd5InMetadata('foreign', want, recorded);
    } finally {
      await proxy.close();
    }
  });

  it('a server that gives a copy the MD5 of its bytes as its ETag (a single-part ETag, as AWS gives copies): two requests as well', async () => {
    let content = '';
    const proxy = await recordingProxy({ copyEtag: () => content });
    try {
      const { want, summary, recorded } = await upload(proxy, 'awslike', (m) => (content = m));
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'PUT copy']);
      expect(recorded).toBe(want); // what the copy answered: the next listing is compared with it
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'awslike/ckpt.pt' }));
      expect(Buffer.from(head.Metadata!.md5chksum!, 'base64').toString('hex')).toBe(want);
      expect(await getObjectMd5(client, bucket, 'awslike/ckpt.pt')).toBe(want);
    } finally {
      await proxy.close();
    }
  });

  it('a server that gives a copy an ETag that is neither: the object is read back once, after the copy', async () => {
    const proxy = await recordingProxy({ copyEtag: () => 'fedcba9876543210fedcba9876543210' });
    try {
      const { want, summary, recorded } = await upload(proxy, 'otheretag');
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'PUT copy', 'HEAD object']);
      await expectMd5InMetadata('otheretag', want, recorded);
    } finally {
      await proxy.close();
    }
  });

  it('an object deleted between the copy and its read-back: the file fails by name instead of counting as sent', async () => {
    const proxy = await recordingProxy({
      copyEtag: () => 'not-a-known-etag',
      beforeCopyAnswer: async () => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'gone/ckpt.pt' }));
      },
    });
    try {
      const { summary, events, recorded } = await upload(proxy, 'gone');
      expect(summary.failed).toBe(1);
      expect(summary.transferred).toBe(0);
      expect(events.find((e) => e.type === 'error' && e.key === 'ckpt.pt')).toMatchObject({ kind: 'integrity' });
      expect(recorded).toBeUndefined();
      expect(await listAll(client, bucket, 'gone/')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  // Ceph ignores the copy's If-Match: the copy lands on the other writer's object, and what
  // gives it away is its size (a single PUT of other bytes) or its multipart ETag (the same
  // size in three parts as well)
  it.each([
    { what: 'a smaller object (single PUT)', tell: 'its size', prefix: 'raced', other: Buffer.from('another writer was here'), parts: false },
    { what: 'a multipart object of the same size', tell: 'the copy\'s ETag', prefix: 'samesize', other: randomBytes(11 * MiB + 7), parts: true },
  ])('another writer puts $what between complete and copy, and $tell gives it away: the file fails by name, their bytes stay, and their object claims no MD5 or mtime of ours', async ({ prefix, other, parts }) => {
    const key = `${prefix}/ckpt.pt`;
    const proxy = await recordingProxy({
      beforeCompleteAnswer: async () => {
        if (parts) await putInParts(key, other, 5 * MiB);
        else await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: other }));
      },
    });
    try {
      const { summary, events } = await upload(proxy, prefix);
      expect(summary.failed).toBe(1);
      const failure = events.find((e) => e.type === 'error' && e.key === 'ckpt.pt');
      expect(failure).toMatchObject({ kind: 'integrity' });
      expect((failure as { message: string }).message).toMatch(/replaced while its MD5 metadata was stored \(another writer\?\)/);
      expect(await getObjectMd5(client, bucket, key)).toBe(md5(other));
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.Metadata?.md5chksum).toBeUndefined();
      expect(head.Metadata?.mtime).toBeUndefined();
      expect(await openUploads(client, bucket)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a copy whose answer is lost and whose retry is refused (it went through: the object now has the single-part ETag of a copy): read back, found ours, nothing removed', async () => {
    let content = '';
    // a server that honours If-Match and gives a copy the MD5 of its bytes as ETag (AWS)
    const proxy = await recordingProxy({ guardedCopies: ['lose', 'refuse'], headEtag: () => content });
    try {
      const { want, summary, recorded } = await upload(proxy, 'lost', (m) => (content = m));
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'PUT copy', 'PUT copy', 'HEAD object']);
      expect(recorded).toBe(want);
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'lost/ckpt.pt' }));
      expect(Buffer.from(head.Metadata!.md5chksum!, 'base64').toString('hex')).toBe(want);
      expect(await getObjectMd5(client, bucket, 'lost/ckpt.pt')).toBe(want);
    } finally {
      await proxy.close();
    }
  });

  it('a guarded copy that is refused (412) is not retried: the object is read back, then copied under the ETag it has', async () => {
    const proxy = await recordingProxy({ guardedCopies: ['refuse'] });
    try {
      const { want, summary, recorded } = await upload(proxy, 'refused');
      expect(summary).toMatchObject({ transferred: 1, failed: 0, status: 'ok' });
      expect(afterLastPart(proxy.seen)).toEqual(['POST complete', 'PUT copy', 'HEAD object', 'PUT copy', 'HEAD object']);
      await expectMd5InMetadata('refused', want, recorded);
    } finally {
      await proxy.close();
    }
  });
});
