/**
 * Writing one object, whole or in chunks. Backends that announce `chunkedUpload` (S3
 * multipart, Azure staged blocks) get files at or above the threshold through this
 * driver, which is the same for all of them: it splits the stream, hashes every chunk
 * (SHA-256, which the backend has the server verify) and the whole (MD5, stored with the
 * object), keeps `concurrency` chunks in flight, journals each stored chunk's opaque token
 * and, after a crash, reuses the chunks the server still holds for the same bytes.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { bodyStream } from '../backends/body.js';
import { hasChunkWriter, type Backend, type Body, type ChunkJournal, type ChunkWriter, type ChunkedUpload, type CompletedChunk } from '../core/backend.js';
import type { WriteMeta, WriteResult } from '../core/entry.js';
import { IntegrityError, isHybridsyncError, sizeMismatch } from '../core/errors.js';
import type { BufferPool } from '../lib/buffer-pool.js';
import type { ByteBudget } from '../lib/byte-budget.js';
import { chunksOf } from '../lib/chunks.js';
import { retry } from '../lib/retry.js';

export interface ChunkingOptions {
  /** Files at or above this size go up in chunks (when the backend can). */
  readonly threshold: number;
  /** Preferred chunk size; raised to the backend's minimum, doubled to stay within its maximum count. */
  readonly chunkSize: number;
  /** Chunks of one file in flight. */
  readonly concurrency: number;
}

export interface ObjectWriteOptions {
  readonly chunking: ChunkingOptions;
  readonly journal?: ChunkJournal;
  /** Identity of the source content: an upload resumes only for the same one. */
  readonly fingerprint?: string;
  /** Attempts per chunk for retryable errors. */
  readonly retries?: number;
  readonly onRetry?: (what: string, err: unknown, attempt: number) => void;
  readonly onProgress?: (bytes: number) => void;
  /** The run's memory for bytes in flight: each chunk takes its size from read to stored. */
  readonly budget?: ByteBudget;
  /** Where chunk buffers come from and go back to once stored (else each chunk is a new one). */
  readonly pool?: BufferPool;
  readonly signal?: AbortSignal;
}

/** Stores `body` at `key` of `dst`: in chunks when the backend can and the file is large, else in one write. */
export function writeObject(dst: Backend, key: string, body: Body, meta: WriteMeta, o: ObjectWriteOptions): Promise<WriteResult> {
  if (hasChunkWriter(dst) && meta.size >= o.chunking.threshold) return writeChunked(dst, key, bodyStream(body), meta, o);
  return dst.write(key, body, meta, { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
}

/** The chunk size for `size` bytes within the backend's limits. */
export function chunkSizeFor(size: number, preferred: number, limits: ChunkWriter['chunkLimits']): number {
  let chunk = Math.min(Math.max(preferred, limits.minChunkSize), limits.maxChunkSize);
  while (Math.ceil(size / chunk) > limits.maxChunks && chunk * 2 <= limits.maxChunkSize) chunk *= 2;
  return chunk;
}

async function attach(
  dst: Backend & ChunkWriter,
  key: string,
  meta: WriteMeta,
  journal: ChunkJournal | undefined,
  fingerprint: string | undefined,
  chunkSize: number,
  signal: AbortSignal | undefined,
): Promise<{ upload: ChunkedUpload; reuse: Map<number, CompletedChunk> }> {
  const reuse = new Map<number, CompletedChunk>();
  const journaled = fingerprint ? journal?.find(key, fingerprint) : undefined;
  if (journaled) {
    const upload = await dst.resumeChunkedUpload(key, journaled.uploadToken, meta, signal ? { signal } : {});
    if (upload) {
      for (const c of journaled.chunks) if (upload.present.get(c.index) === c.token) reuse.set(c.index, c);
      return { upload, reuse };
    }
    journal!.finished(journaled.uploadToken); // gone at the server: start over
  }
  // The intent goes into the journal before the create request: a run that stops (or a
  // reply that is lost) before the token comes back leaves an upload only the intent names.
  const opening = fingerprint ? journal?.opening(key) : undefined;
  const upload = await dst.openChunkedUpload(key, meta);
  if (fingerprint) journal?.started({ key, uploadToken: upload.uploadToken, fingerprint, chunkSize, chunks: [] }, opening);
  return { upload, reuse };
}

/**
 * Stores `body` in chunks. A stream is split (and copied into `o.pool`'s buffers); blocks
 * from a BlockReader that are already `chunkSizeFor` long are sent as they are.
 */
export async function writeChunked(dst: Backend & ChunkWriter, key: string, body: Readable | AsyncIterable<Buffer>, meta: WriteMeta, o: ObjectWriteOptions): Promise<WriteResult> {
  const signal = o.signal;
  const chunkSize = chunkSizeFor(meta.size, o.chunking.chunkSize, dst.chunkLimits);
  const fingerprint = o.fingerprint ? `${o.fingerprint}|${chunkSize}` : undefined;
  const journal = o.journal;
  let chunks: AsyncGenerator<Buffer> | undefined;
  try {
    const { upload, reuse } = await attach(dst, key, meta, journal, fingerprint, chunkSize, signal);
    signal?.throwIfAborted();
    const done: CompletedChunk[] = [];
    const whole = createHash('md5');
    const inflight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    let total = 0;
    let sent = 0;
    let index = -1;

    const store = async (i: number, data: Buffer, sha256: string): Promise<void> => {
      let retried = false;
      const token = await retry(() => upload.writeChunk(i, data, sha256, signal ? { signal } : {}), {
        attempts: o.retries ?? 3,
        baseDelayMs: 200,
        maxDelayMs: 10_000,
        ...(signal ? { signal } : {}),
        isRetryable: (e) => isHybridsyncError(e) && e.retryable,
        onRetry: (e, attempt) => {
          retried = true;
          o.onRetry?.(`chunk ${i + 1} of ${dst.uri}${key}`, e, attempt);
        },
      });
      // A failed attempt's request may still be reading the buffer: only a clean one frees it.
      if (!retried) o.pool?.give(data);
      const chunk: CompletedChunk = { index: i, token, size: data.length, sha256 };
      done.push(chunk);
      sent += data.length;
      journal?.chunkDone(upload.uploadToken, chunk);
      o.onProgress?.(data.length);
    };

    try {
      const pool = o.pool;
      chunks = chunksOf(body, chunkSize, pool && ((n) => pool.take(n)));
      for (;;) {
        while (inflight.size >= o.chunking.concurrency) await Promise.race(inflight);
        if (failure) break;
        // the chunk's bytes count against the run's memory budget from read to stored
        const release = o.budget ? await o.budget.take(Math.min(chunkSize, Math.max(0, meta.size - total)), signal) : () => undefined;
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch (err) {
          release();
          throw err;
        }
        if (next.done) {
          release();
          break;
        }
        const data = next.value;
        index++;
        total += data.length;
        if (total > meta.size) {
          release();
          break;
        }
        whole.update(data);
        const sha256 = createHash('sha256').update(data).digest('hex');
        const prev = reuse.get(index);
        if (prev && prev.sha256 === sha256 && prev.size === data.length) {
          pool?.give(data);
          release();
          done.push(prev); // stored by an earlier, interrupted run: not sent again
          continue;
        }
        const p: Promise<void> = store(index, data, sha256).then(
          () => {
            release();
            inflight.delete(p);
          },
          (err: unknown) => {
            release();
            inflight.delete(p);
            failure ??= { err };
          },
        );
        inflight.add(p);
      }
      await Promise.all(inflight);
      if (failure) throw failure.err;
      if (total !== meta.size) throw sizeMismatch(`${dst.uri}${key}`, total, meta.size);
      const md5 = whole.digest('hex');
      if (meta.md5 && meta.md5 !== md5) throw new IntegrityError(`${dst.uri}${key}: content MD5 ${md5} differs from the source's ${meta.md5}`);
      done.sort((a, b) => a.index - b.index);
      const entry = await upload.complete(done, md5, signal ? { signal } : {});
      journal?.finished(upload.uploadToken);
      return { entry, md5, bytesSent: sent };
    } catch (err) {
      await Promise.allSettled(inflight);
      // An interrupted run keeps its journaled upload so the next run resumes it; anything
      // else (source changed, integrity, a permanent error, an unjournaled upload) discards it.
      if (!signal?.aborted || !fingerprint || !journal) {
        await upload.abort().catch(() => undefined);
        journal?.finished(upload.uploadToken);
      }
      throw err;
    }
  } finally {
    await chunks?.return(undefined).catch(() => undefined); // closes a block reader's file
    if (body instanceof Readable && !body.destroyed) body.destroy();
  }
}
