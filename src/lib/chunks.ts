/** Splits a stream into buffers of exactly `size` bytes (the last may be shorter). */
export async function* chunksOf(stream: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
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
