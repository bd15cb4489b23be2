/**
 * The small-object PUT (backends/s3/fast-put.ts) against an HTTP server that takes the
 * request and never answers: it fails with a retryable error after the configured idle
 * timeout, or at once when the run's signal aborts — it never hangs, and nothing waits for
 * the 5-minute default. (Its signatures are checked by real Ceph RGW in every integration
 * test that uploads a small file.) A real socket and server; no S3 fake.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocation } from '../../../src/backends/registry.js';
import { AbortedError, TransientError } from '../../../src/core/errors.js';
import { verifyRequest } from '../../../src/gateway/auth/sigv4.js';

let server: Server;
let endpoint: string;
const seen: IncomingMessage[] = [];

beforeAll(async () => {
  // reads every request to the end and never responds
  server = createServer((req) => {
    seen.push(req);
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const open = () =>
  openLocation('s3://datasets/shards', {
    s3: { endpoint, credentials: { accessKeyId: 'AKIDFASTPUTTEST00001', secretAccessKey: 'fast-put-test-secret' } },
    transfer: { retries: 1 },
    requestTimeoutMs: 400,
  });
const body = Buffer.from('{"acc": 0.5}\n');
const meta = { size: body.length, mtimeMs: Date.parse('2026-12-01T00:00:00Z') };

describe('small-object PUT against a server that never answers', () => {
  it('fails with a retryable connection error after the configured idle timeout, having sent one signed request', async () => {
    const b = open();
    try {
      const before = seen.length;
      const err = await b.write('run-7/metrics.json', body, meta).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TransientError);
      expect(String((err as Error).message)).toMatch(/connection problem talking to .* ETIMEDOUT/);
      const req = seen[before]!;
      expect(req.method).toBe('PUT');
      expect(req.url).toBe('/datasets/shards/run-7/metrics.json');
      // the gateway's SigV4 verifier accepts it, and every header that matters is signed
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const verified = verifyRequest({ method: 'PUT', rawPath: req.url!, query: [], headers }, new Map([['AKIDFASTPUTTEST00001', 'fast-put-test-secret']]), 'us-east-1');
      expect(verified.payload).toEqual({ kind: 'unsigned' });
      expect(/SignedHeaders=([^,]+)/.exec(headers.authorization!)![1]!.split(';')).toEqual(expect.arrayContaining(['host', 'content-md5', 'x-amz-date', 'x-amz-meta-mtime', 'x-amz-meta-md5chksum']));
      expect(req.headers['content-md5']).toBe('4mUj/txGhdnAbSaD3Cfy0w==');
      expect(req.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    } finally {
      await b.close?.();
    }
  }, 30_000);

  it('stops at once when the signal aborts, with AbortedError', async () => {
    const b = open();
    try {
      const ac = new AbortController();
      const pending = b.write('run-7/metrics.json', body, meta, { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expect(pending).rejects.toThrow(AbortedError);
    } finally {
      await b.close?.();
    }
  }, 30_000);
});
