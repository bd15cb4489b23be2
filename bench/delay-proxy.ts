/**
 * bench/delay-proxy.ts — a TCP proxy on loopback that makes a link of a storage server: every
 * byte is held `delayMs` in each direction (a round trip of 2 × delayMs, like a VPN or Direct
 * Connect path between sites) and each direction is capped at `mbps` (a token bucket), the
 * shared link's capacity. Clients keep their connections: what the delay costs depends on
 * how many requests a tool keeps in flight and whether it reuses connections, which is what
 * the long-latency bench measures.
 *
 *   node --import tsx bench/delay-proxy.ts --listen 7600 --target 127.0.0.1:7480 --delay-ms 10 --mbps 1000
 *
 * Prints `listening <port>` when ready. Loopback only.
 */
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export interface LinkOptions {
  readonly delayMs: number;
  /** Capacity of each direction in Mbit/s. */
  readonly mbps: number;
}

/** One direction of the link: chunks leave no earlier than delayMs after arrival, paced to the capacity. */
class Direction {
  /** When the link is free again (ms, monotonic): capacity is shared by every connection. */
  private freeAt = 0;
  constructor(private readonly o: LinkOptions) {}

  /** When a chunk of `bytes` that arrived now leaves the far end. */
  departure(bytes: number, now: number): number {
    const serialisation = (bytes * 8) / (this.o.mbps * 1000); // ms on the wire
    this.freeAt = Math.max(this.freeAt, now) + serialisation;
    return this.freeAt + this.o.delayMs;
  }
}

function pipeDelayed(from: Socket, to: Socket, dir: Direction): void {
  // chunks are released in arrival order; the reader pauses while too much is queued
  const queue: Array<{ at: number; data: Buffer }> = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const pump = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now) {
      const c = queue.shift()!;
      queued -= c.data.length;
      to.write(c.data);
    }
    if (queued < 4 << 20 && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0]!.at - performance.now()));
    else if (ended) to.end();
  };
  from.on('data', (data: Buffer) => {
    queue.push({ at: dir.departure(data.length, performance.now()), data });
    queued += data.length;
    if (queued >= 4 << 20) from.pause();
    timer ??= setTimeout(pump, Math.max(0, queue[0]!.at - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && !timer) to.end();
  });
}

/** Starts the proxy; resolves with its port and a close function. */
export async function startDelayProxy(listenPort: number, target: { host: string; port: number }, o: LinkOptions): Promise<{ port: number; close(): Promise<void> }> {
  const up = new Direction(o);
  const down = new Direction(o);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    client.setNoDelay(true);
    const server = connect(target.port, target.host);
    server.setNoDelay(true);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    pipeDelayed(client, server, up);
    pipeDelayed(server, client, down);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { listen: { type: 'string', default: '0' }, target: { type: 'string' }, 'delay-ms': { type: 'string', default: '10' }, mbps: { type: 'string', default: '1000' } } });
  const [host, port] = (values.target ?? '127.0.0.1:7480').split(':');
  const p = await startDelayProxy(Number(values.listen), { host: host!, port: Number(port) }, { delayMs: Number(values['delay-ms']), mbps: Number(values.mbps) });
  console.log(`listening ${p.port}`);
}
