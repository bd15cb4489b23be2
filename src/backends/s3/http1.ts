/**
 * A lean HTTP/1.1 client for one origin, for the requests that are most of a small-file run
 * (fast-put.ts): keep-alive connections, one request in flight on each, the request head and
 * body handed to the socket in one writev, the response parsed from the bytes as they come.
 * node:http costs ~0.3 ms of CPU per request in its general machinery (ClientRequest,
 * IncomingMessage, agent queues, per-request timers and listeners) — as much again as the
 * rest of a 64 KiB upload; this costs a fraction of that.
 *
 * What it does: TLS with the client's own settings (minimum version, extra CAs, a handshake
 * timeout); responses framed by Content-Length, chunked encoding or the connection's end;
 * interim 1xx responses skipped; `Connection: close` honoured; a reused connection the
 * server had closed (nothing came back) retried once on a fresh one — only for idempotent
 * requests, which is all this client sends; one watchdog timer per pool for the idle
 * timeout; an AbortSignal destroys the request's connection. What it does not: pipelining,
 * redirects, proxies, compression — the fast path is only used where none is needed.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { TLS_HANDSHAKE_TIMEOUT } from './errors.js';

export interface Http1PoolOptions {
  readonly origin: URL;
  readonly maxSockets: number;
  /** A request (or connect) without progress this long fails with ETIMEDOUT. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** For https origins. */
  readonly tls?: { readonly minVersion: 'TLSv1.2' | 'TLSv1.3'; readonly ca?: string };
}

export interface Http1Response {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** Error bodies are small XML documents; anything larger is not what this client expects. */
const MAX_BODY_BYTES = 1 << 20;
const HEADER_VALUE_OK = /^[\t\x20-\x7e]*$/;

const codeError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/** Incremental parser of one response on a connection. */
class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Map<string, string>; close: boolean } | undefined;
  private body: Buffer[] = [];
  private bodyLen = 0;
  /** content-length: bytes left; chunked: -1; until close: -2. */
  private remaining = 0;
  private chunkLeft = 0;

  constructor(private readonly noBody: boolean) {}

  /** Feeds bytes; returns the response when complete. Throws on a malformed response. */
  push(data: Buffer): (Http1Response & { close: boolean }) | undefined {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > 64 * 1024) throw codeError('response headers too large', 'HPE_HEADER_OVERFLOW');
          return undefined;
        }
        const lines = this.buf.toString('latin1', 0, end).split('\r\n');
        this.buf = this.buf.subarray(end + 4);
        const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
        if (!m) throw codeError(`malformed status line: ${lines[0]!.slice(0, 80)}`, 'HPE_INVALID_CONSTANT');
        const status = Number(m[2]);
        if (status >= 100 && status < 200) continue; // interim response: the real one follows
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          const had = headers.get(name);
          headers.set(name, had === undefined ? value : `${had}, ${value}`);
        }
        const close = m[1] === '0' || /\bclose\b/i.test(headers.get('connection') ?? '');
        this.head = { status, headers, close };
        if (this.noBody || status === 204 || status === 304) this.remaining = 0;
        else if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) this.remaining = -1;
        else if (headers.has('content-length')) this.remaining = Number(headers.get('content-length'));
        else this.remaining = -2;
        if (!Number.isSafeInteger(this.remaining) || this.remaining < -2) throw codeError('bad content-length', 'HPE_INVALID_CONTENT_LENGTH');
      }
      return this.readBody();
    }
  }

  /** The connection ended: a body framed by the end is complete now. */
  end(): (Http1Response & { close: boolean }) | undefined {
    if (this.head && this.remaining === -2) return this.done(true);
    return undefined;
  }

  /** Whether any byte of a response arrived (a reused connection that got none was stale). */
  get started(): boolean {
    return this.head !== undefined || this.buf.length > 0;
  }

  private keep(b: Buffer): void {
    this.bodyLen += b.length;
    if (this.bodyLen > MAX_BODY_BYTES) throw codeError('response body too large', 'HPE_BODY_OVERFLOW');
    this.body.push(b);
  }

  private readBody(): (Http1Response & { close: boolean }) | undefined {
    if (this.remaining >= 0) {
      const take = Math.min(this.remaining, this.buf.length);
      if (take > 0) this.keep(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      this.remaining -= take;
      return this.remaining === 0 ? this.done(false) : undefined;
    }
    if (this.remaining === -2) {
      if (this.buf.length) this.keep(this.buf);
      this.buf = Buffer.alloc(0);
      return undefined;
    }
    // chunked: size line, data, CRLF … a zero-size chunk, trailers, CRLF
    for (;;) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, this.buf.length);
        this.keep(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.chunkLeft -= take;
        if (this.chunkLeft > 0) return undefined;
        this.chunkLeft = -1; // its CRLF is next
      }
      if (this.chunkLeft === -1) {
        if (this.buf.length < 2) return undefined;
        this.buf = this.buf.subarray(2);
        this.chunkLeft = 0;
      }
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return undefined;
      const size = parseInt(this.buf.toString('latin1', 0, eol), 16);
      if (!Number.isFinite(size) || size < 0) throw codeError('bad chunk size', 'HPE_INVALID_CHUNK_SIZE');
      if (size === 0) {
        // the last chunk: (trailers, ignored) up to an empty line
        const end = this.buf.indexOf('\r\n\r\n', eol);
        if (end < 0) return undefined;
        this.buf = this.buf.subarray(end + 4);
        return this.done(false);
      }
      this.buf = this.buf.subarray(eol + 2);
      this.chunkLeft = size;
    }
  }

  private done(endedByClose: boolean): Http1Response & { close: boolean } {
    const h = this.head!;
    return { status: h.status, headers: h.headers, body: this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body), close: h.close || endedByClose };
  }
}

interface Exchange {
  readonly parser: ResponseParser;
  readonly resolve: (r: Http1Response) => void;
  readonly reject: (e: Error) => void;
  /** The connection served a request before this one (a failure with no answer may be a stale socket). */
  readonly reused: boolean;
  /** Last progress, for the watchdog. */
  at: number;
}

/** One keep-alive connection. */
class Connection {
  exchange: Exchange | undefined;
  served = 0;
  dead = false;

  constructor(
    readonly socket: Socket | TLSSocket,
    private readonly onIdle: (c: Connection) => void,
    private readonly onDead: (c: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('end', () => this.ended());
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(codeError('socket hang up', 'ECONNRESET')));
  }

  send(head: string, body: Buffer | undefined, ex: Exchange): void {
    this.exchange = ex;
    this.socket.ref();
    this.socket.cork();
    this.socket.write(head, 'latin1');
    if (body && body.length) this.socket.write(body);
    this.socket.uncork();
  }

  private data(d: Buffer): void {
    const ex = this.exchange;
    if (!ex) {
      this.kill(); // bytes nobody asked for: the connection is out of step
      return;
    }
    ex.at = Date.now();
    let r;
    try {
      r = ex.parser.push(d);
    } catch (e) {
      this.kill();
      this.finish(ex, undefined, e as Error);
      return;
    }
    if (r) {
      this.served++;
      if (r.close) this.kill();
      this.finish(ex, r);
    }
  }

  private ended(): void {
    const ex = this.exchange;
    const r = ex?.parser.end();
    this.kill();
    if (ex && r) this.finish(ex, r);
    else if (ex) this.finish(ex, undefined, codeError('socket hang up', 'ECONNRESET'));
  }

  private fail(e: Error): void {
    const ex = this.exchange;
    this.kill();
    if (ex) this.finish(ex, undefined, e);
  }

  private finish(ex: Exchange, r?: Http1Response, e?: Error): void {
    if (this.exchange !== ex) return;
    this.exchange = undefined;
    if (r) {
      ex.resolve(r);
      if (!this.dead) this.onIdle(this);
    } else {
      // a kept-alive connection the server closed before this request reached it: reset, no answer
      const reset = ['ECONNRESET', 'EPIPE'].includes((e as NodeJS.ErrnoException).code ?? '');
      ex.reject(Object.assign(e!, { stale: reset && ex.reused && !ex.parser.started }));
    }
  }

  kill(e?: Error): void {
    if (!this.dead) {
      this.dead = true;
      this.onDead(this);
    }
    this.socket.destroy(e);
  }
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly busy = new Set<Connection>();
  private opening = 0;
  private readonly waiters: Array<{ resolve: (c: Connection) => void; reject: (e: Error) => void }> = [];
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: Http1PoolOptions) {}

  /**
   * Sends one idempotent request (`head`: request line and headers, ending in CRLF CRLF) and
   * resolves with the whole response. Rejects with a node-style error (`code`) on connection
   * problems, ETIMEDOUT after the idle timeout, or the signal's reason when aborted.
   */
  async request(head: string, body: Buffer | undefined, o: { signal?: AbortSignal; noBody?: boolean } = {}): Promise<Http1Response> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(head, body, o);
      } catch (e) {
        // a kept-alive connection the server had already closed: once more, on a new one
        if ((e as { stale?: boolean }).stale && attempt === 0 && !o.signal?.aborted) continue;
        throw e;
      }
    }
  }

  /** Validates a header value for the request head (no CR/LF or non-ASCII: header injection). */
  static headerValue(name: string, value: string): string {
    if (!HEADER_VALUE_OK.test(value)) throw codeError(`invalid character in header ${name}`, 'ERR_INVALID_CHAR');
    return value;
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.idle, ...this.busy]) c.kill();
    for (const w of this.waiters.splice(0)) w.reject(codeError('client closed', 'ECONNABORTED'));
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private async once(head: string, body: Buffer | undefined, o: { signal?: AbortSignal; noBody?: boolean }): Promise<Http1Response> {
    o.signal?.throwIfAborted();
    const conn = await this.acquire(o.signal);
    return new Promise<Http1Response>((resolve, reject) => {
      const signal = o.signal;
      const onAbort = (): void => conn.kill(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T): void => {
          signal?.removeEventListener('abort', onAbort);
          f(v);
        };
      conn.send(head, body, { parser: new ResponseParser(o.noBody ?? false), resolve: settle(resolve), reject: settle(reject), reused: conn.served > 0, at: Date.now() });
      this.watch();
    });
  }

  private acquire(signal?: AbortSignal): Promise<Connection> {
    if (this.closed) return Promise.reject(codeError('client closed', 'ECONNABORTED'));
    const c = this.idle.pop();
    if (c) {
      this.busy.add(c);
      return Promise.resolve(c);
    }
    if (this.busy.size + this.opening < this.o.maxSockets) return this.open();
    return new Promise<Connection>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason as Error);
      };
      const w = {
        resolve: (c: Connection): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(c);
        },
        reject: (e: Error): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.waiters.push(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private open(): Promise<Connection> {
    this.opening++;
    const { origin, tls, connectTimeoutMs } = this.o;
    const https = origin.protocol === 'https:';
    const port = Number(origin.port) || (https ? 443 : 80);
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    return new Promise<Connection>((resolve, reject) => {
      const socket = https
        ? tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, minVersion: tls?.minVersion ?? 'TLSv1.3', ...(tls?.ca ? { ca: tls.ca } : {}), ALPNProtocols: ['http/1.1'] })
        : netConnect({ host, port });
      const timer = setTimeout(
        () => socket.destroy(https ? codeError(`no TLS handshake within ${connectTimeoutMs / 1000} s`, TLS_HANDSHAKE_TIMEOUT) : codeError(`no connection within ${connectTimeoutMs / 1000} s`, 'ETIMEDOUT')),
        connectTimeoutMs,
      );
      const failed = (e: Error): void => {
        clearTimeout(timer);
        this.opening--;
        reject(e);
        this.wakeWaiter();
      };
      socket.once('error', failed);
      socket.once(https ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', failed);
        this.opening--;
        const c = new Connection(
          socket,
          (idle) => this.release(idle),
          (dead) => this.forget(dead),
        );
        this.busy.add(c);
        resolve(c);
      });
    });
  }

  /** A connection finished its exchange: to the next waiter, else idle (not keeping the process alive). */
  private release(c: Connection): void {
    this.busy.delete(c);
    const w = this.waiters.shift();
    if (w) {
      this.busy.add(c);
      w.resolve(c);
      return;
    }
    c.socket.unref();
    this.idle.push(c);
  }

  private forget(c: Connection): void {
    this.busy.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.wakeWaiter();
  }

  /** A slot freed up: a waiter gets a new connection. */
  private wakeWaiter(): void {
    if (this.waiters.length === 0 || this.closed || this.busy.size + this.opening >= this.o.maxSockets) return;
    const w = this.waiters.shift()!;
    this.open().then(w.resolve, w.reject);
  }

  /** One timer for every request in flight: no progress for the idle timeout fails it with ETIMEDOUT. */
  private watch(): void {
    this.watchdog ??= setInterval(
      () => {
        const stale = Date.now() - this.o.idleTimeoutMs;
        for (const c of this.busy) if (c.exchange && c.exchange.at < stale) c.kill(codeError('request timed out', 'ETIMEDOUT'));
        if (this.busy.size === 0) {
          clearInterval(this.watchdog);
          this.watchdog = undefined;
        }
      },
      Math.max(50, Math.min(5_000, this.o.idleTimeoutMs / 10)),
    ).unref();
  }
}
