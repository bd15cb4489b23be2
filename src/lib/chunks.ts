/**
 * Splits a stream into buffers of exactly `size` bytes (the last may be shorter). A piece
 * that arrives whole (exactly `size`, or the short last one of a BlockReader) is passed on
 * as it is. With `alloc`, the others are copied into buffers it provides (a pool's, reused
 * once the chunk is stored); without it, they are concatenated into new buffers.
 */
export async function* chunksOf(stream: AsyncIterable<Buffer>, size: number, alloc?: (size: number) => Buffer): AsyncGenerator<Buffer> {
  if (alloc) {
    yield* chunksInto(stream, size, alloc);
    return;
  }
  let pending: Buffer[] = [];
  let pendingLen = 0;
  for await (const raw of stream) {
    let chunk = raw;
    while (pendingLen + chunk.length >= size) {
      const take = size - pendingLen;
      pending.push(chunk.subarray(0, take));
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, size);
      pending = [];
      pendingLen = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length) {
      pending.push(chunk);
      pendingLen += chunk.length;
    }
  }
  if (pendingLen > 0 || pending.length > 0) yield Buffer.concat(pending, pendingLen);
}

async function* chunksInto(stream: AsyncIterable<Buffer>, size: number, alloc: (size: number) => Buffer): AsyncGenerator<Buffer> {
  let buf: Buffer | undefined;
  let filled = 0;
  // a short piece not copied yet: if nothing follows it (a BlockReader's last block), it goes as it is
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
