/**
 * The lean HTTP/1.1 client of the small-object PUT (backends/s3/http1.ts) against real
 * sockets whose server side each test scripts byte for byte: the framings a server may
 * answer with, interim responses, a kept-alive connection the server closed, Connection:
 * close, and the limits. (Against Ceph RGW it carries every small upload of the integration
 * tests, over http and TLS 1.3.)
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Pool } from '../../../src/backends/s3/http1.js';

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A server that answers each complete request (head + content-length body) with `reply(n, socket)`. */
async function scripted(reply: (n: number, s: Socket, request: string) => void): Promise<URL> {
  let n = 0;
  server = createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const request = buf.toString('latin1', 0, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
        reply(++n, s, request);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server!.address() as { port: number }).port}`);
}

const pool = (origin: URL, o: Partial<ConstructorParameters<typeof Http1Pool>[0]> = {}) => new Http1Pool({ origin, maxSockets: 2, idleTimeoutMs: 2_000, connectTimeoutMs: 2_000, ...o });
const put = (host: string, body = 'abc') => [`PUT /b/k HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${body.length}\r\n\r\n`, Buffer.from(body)] as const;

describe('HTTP/1.1 pool', () => {
  it('reads responses framed by content-length, by chunks (with trailers) and by the end of the connection, after skipping a 100 Continue', async () => {
    const origin = await scripted((n, s) => {
      if (n === 1) s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nETag: "e1"\r\nContent-Length: 2\r\n\r\nok');
      if (n === 2) s.write('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n<Code>\r\nA\r\nNoSuchKey<\r\n8\r\n/Code>\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n');
      if (n === 3) s.end('HTTP/1.1 500 Internal\r\nConnection: close\r\n\r\nbye');
    });
    const p = pool(origin, { maxSockets: 1 });
    try {
      const a = await p.request(...put(origin.host));
      expect([a.status, a.headers.get('etag'), a.body.toString()]).toEqual([200, '"e1"', 'ok']);
      const b = await p.request(...put(origin.host)); // same connection: the chunked body ended exactly
      expect([b.status, b.body.toString()]).toEqual([404, '<Code>NoSuchKey</Code>\r\n']);
      const c = await p.request(...put(origin.host));
      expect([c.status, c.body.toString()]).toEqual([500, 'bye']);
      expect(sockets.size).toBe(1);
    } finally {
      p.close();
    }
  });

  it('a kept-alive connection the server closed is retried once on a new connection; Connection: close is honoured', async () => {
    const origin = await scripted((n, s) => {
      if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      if (n === 2) s.destroy(); // closed while the request was on its way: no answer at all
      if (n === 3) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      if (n === 4) s.write('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
    });
    const p = pool(origin, { maxSockets: 1 });
    try {
      expect((await p.request(...put(origin.host))).status).toBe(200);
      expect((await p.request(...put(origin.host))).status).toBe(200); // request 2 failed silently, 3 answered
      expect((await p.request(...put(origin.host))).status).toBe(201); // a fresh connection after close
      expect(sockets.size).toBe(3);
    } finally {
      p.close();
    }
  });

  it('a connection reset on a fresh connection is not retried; a refused connection fails with ECONNREFUSED', async () => {
    const origin = await scripted((_n, s) => s.destroy());
    const p = pool(origin);
    try {
      await expect(p.request(...put(origin.host))).rejects.toMatchObject({ code: 'ECONNRESET' });
    } finally {
      p.close();
    }
    const port = Number(origin.port);
    await new Promise((r) => server!.close(r));
    server = undefined;
    const q = pool(new URL(`http://127.0.0.1:${port}`));
    try {
      await expect(q.request(...put(`127.0.0.1:${port}`))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      q.close();
    }
  });

  it('requests beyond maxSockets wait for a free connection; the answers stay with their requests', async () => {
    const origin = await scripted((_n, s, request) => {
      const body = request.slice(request.indexOf('\r\n\r\n') + 4);
      setTimeout(() => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`), 5);
    });
    const p = pool(origin, { maxSockets: 2 });
    try {
      const bodies = Array.from({ length: 12 }, (_, i) => `request-${i}`);
      const answers = await Promise.all(bodies.map((b) => p.request(...put(origin.host, b))));
      expect(answers.map((a) => a.body.toString())).toEqual(bodies);
      expect(sockets.size).toBe(2);
    } finally {
      p.close();
    }
  });

  it('refuses a header value with a line break (no header injection), and a response past its limits', async () => {
    expect(() => Http1Pool.headerValue('x-amz-meta-a', 'ok\r\nx-evil: 1')).toThrow(/invalid character in header x-amz-meta-a/);
    expect(Http1Pool.headerValue('x-amz-meta-a', 'plain value')).toBe('plain value');
    const origin = await scripted((_n, s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${2 << 20}\r\n\r\n${'x'.repeat(2 << 20)}`));
    const p = pool(origin);
    try {
      await expect(p.request(...put(origin.host))).rejects.toMatchObject({ code: 'HPE_BODY_OVERFLOW' });
    } finally {
      p.close();
    }
  });
});
