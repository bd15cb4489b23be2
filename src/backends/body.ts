/** What the backends share about request bodies. */
import { Readable } from 'node:stream';
import type { Body } from '../core/backend.js';
import { sizeMismatch } from '../core/errors.js';

/**
 * The whole body of a single-request upload, which must be exactly `size` bytes (more or
 * fewer: the source changed while read). A stream is read at most one chunk past `size`.
 */
export async function bodyBytes(body: Body, size: number, where: string): Promise<Buffer> {
  if (Buffer.isBuffer(body)) {
    if (body.length !== size) throw sizeMismatch(where, body.length, size);
    return body;
  }
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

/** The body as a stream, for writers that pipe. */
export function bodyStream(body: Body): Readable {
  return Buffer.isBuffer(body) ? Readable.from([body], { objectMode: false }) : body;
}

/** Releases a body the writer did not consume (a stream's source). */
export function discardBody(body: Body): void {
  if (!Buffer.isBuffer(body) && !body.destroyed) body.destroy();
}
