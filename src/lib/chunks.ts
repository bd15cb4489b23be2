/**
 * Splits a stream into buffers of exactly `size` bytes (the last may be shorter). A piece
 * that arrives whole (exactly `size`, or a short last one such as a BlockReader's) is passed
 * on as it is; the others are copied into buffers from `alloc` — a pool's, reused once the
 * chunk is stored, or new ones.
 */
export async function* chunksOf(stream: AsyncIterable<Buffer>, size: number, alloc: (size: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n)): AsyncGenerator<Buffer> {
  let buf: Buffer | undefined;
  let filled = 0;
  // a short piece not copied yet: if nothing follows it, it goes as it is
  let held: Buffer | undefined;
  for await (const raw of stream) {
    if (held) {
      buf = alloc(size);
      filled = held.copy(buf);
      held = undefined;
    }
    if (filled === 0 && raw.length === size) {
      yield raw;
      continue;
    }
    if (filled === 0 && raw.length < size) {
      held = raw;
      continue;
    }
    let off = 0;
    while (off < raw.length) {
      buf ??= alloc(size);
      const n = raw.copy(buf, filled, off);
      filled += n;
      off += n;
      if (filled === size) {
        yield buf;
        buf = undefined;
        filled = 0;
      }
    }
  }
  if (held) yield held;
  else if (buf && filled > 0) yield buf.subarray(0, filled);
}
