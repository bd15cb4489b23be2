/**
 * Chunk-sized buffers reused by the chunks of a run. A fresh multi-MiB buffer costs more
 * than its bytes: the allocator maps new pages for it and the kernel faults in and zeroes
 * every one on first write, then unmaps them when it is freed. Measured on this project's
 * bench machine: 256 MiB read into fresh 16 MiB buffers took 0.29–0.57 s of system time,
 * into reused ones 17–65 ms.
 *
 * A buffer comes back with `give` only when nothing can still read it (its request has
 * finished); one that is not given back is simply garbage collected.
 */
export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  /** The memory this pool handed out: nothing else is taken back. */
  private readonly own = new WeakSet<ArrayBufferLike>();

  /** `maxIdleBytes`: what the pool keeps between uses (the run's buffer memory). */
  constructor(private readonly maxIdleBytes: number) {}

  /** A buffer of exactly `size` bytes, with any content. */
  take(size: number): Buffer {
    const b = this.idle.get(size)?.pop();
    if (b) {
      this.idleBytes -= size;
      return b;
    }
    const fresh = Buffer.allocUnsafeSlow(size);
    this.own.add(fresh.buffer);
    return fresh;
  }

  /** Returns a buffer from `take`, or a view of one that starts at its first byte (others are ignored). */
  give(buf: Buffer): void {
    const size = buf.buffer.byteLength;
    if (!this.own.has(buf.buffer) || buf.byteOffset !== 0 || this.idleBytes + size > this.maxIdleBytes) return;
    const whole = buf.length === size ? buf : Buffer.from(buf.buffer, 0, size);
    let list = this.idle.get(size);
    if (!list) this.idle.set(size, (list = []));
    list.push(whole);
    this.idleBytes += size;
  }
}
