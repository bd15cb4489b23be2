/**
 * An S3 endpoint that accepts TCP connections and never answers (a hung proxy, a firewall
 * that swallows the TLS handshake): a request fails with UnreachableError naming the
 * handshake, instead of waiting for the 5-minute idle timeout. A real socket, no server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocation } from '../../../src/backends/registry.js';
import { UnreachableError } from '../../../src/core/errors.js';

let silent: Server;
const sockets = new Set<Socket>();
let endpoint: string;

beforeAll(async () => {
  silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  endpoint = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(() => {
  for (const s of sockets) s.destroy();
  silent.close();
});

describe('s3 client against a silent endpoint', () => {
  it('fails a listing with UnreachableError when the TLS handshake never completes', async () => {
    const b = openLocation('s3://datasets/shards', {
      s3: { endpoint, credentials: { accessKeyId: 'AKIDSILENTENDPOINT01', secretAccessKey: 'silent-endpoint-secret' } },
      transfer: { retries: 1 },
    });
    try {
      const listing = (async () => {
        for await (const e of b.list()) return e;
        return undefined;
      })();
      await expect(listing).rejects.toThrow(UnreachableError);
      await expect(listing).rejects.toThrow(/cannot reach S3 endpoint https:\/\/127\.0\.0\.1:\d+ \(no TLS handshake within 10 s\)/);
      expect(sockets.size).toBeGreaterThan(0); // it did connect: the handshake is what never finished
    } finally {
      await b.close?.();
    }
  }, 60_000);
});
