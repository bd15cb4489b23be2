/** What the backends share about request bodies. */
import type { Readable } from 'node:stream';
import { sizeMismatch } from '../core/errors.js';

/**
 * The whole body of a single-request upload, which must be exactly `size` bytes (more or
 * fewer: the source changed while read). Reads at most one chunk past `size`.
 */
export async function readWhole(body: Readable, size: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    chunks.push(c);
    len += c.length;
    if (len > size) break;
  }
  if (len !== size) throw sizeMismatch(where, len, size);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, len);
}
