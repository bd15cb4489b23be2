/**
 * The gateway's bytes on local disk. Layout of the cache directory:
 *
 *   data/<key>          complete objects as a plain directory tree: what on-prem jobs read
 *                       by POSIX path (preloaded files, and everything written through the
 *                       gateway until and after it is in the cloud)
 *   .gateway/index.db   the index (cache-index.ts)
 *   .gateway/partial/   objects fetched in part, block by block (sparse files)
 *   .gateway/tmp/       bodies being received, renamed into data/ when durable
 *   .gateway/parts/     parts of open multipart uploads
 *   .gateway/outbox/    hard links of the dirty files a write-back batch uploads
 *   conflicts/<stamp>/<key>  a write given up for the cloud's version (the cloud changed
 *                       meanwhile and is the source of truth): kept, never uploaded or evicted
 *
 * Ranged reads fetch aligned blocks (BLOCK_SIZE) and remember them in a bitmap; an object
 * whose blocks are all present moves into data/. Writes are durable before they return:
 * the file and its directory are fsynced.
 */
import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { S3Error } from './errors.js';

export const BLOCK_SIZE = 8 * 1024 * 1024;

export interface CacheDirs {
  readonly root: string;
  readonly data: string;
  readonly meta: string;
  readonly partial: string;
  readonly tmp: string;
  readonly parts: string;
  readonly outbox: string;
  /** Writes given up for the cloud's version, kept as conflicts/<stamp>/<key>. */
  readonly conflicts: string;
}

export function cacheDirs(root: string): CacheDirs {
  const meta = join(root, '.gateway');
  return { root, data: join(root, 'data'), meta, partial: join(meta, 'partial'), tmp: join(meta, 'tmp'), parts: join(meta, 'parts'), outbox: join(meta, 'outbox'), conflicts: join(root, 'conflicts') };
}

export async function makeCacheDirs(d: CacheDirs): Promise<void> {
  for (const p of [d.data, d.partial, d.tmp, d.parts]) await fsp.mkdir(p, { recursive: true });
  // a body received before a crash was never acknowledged: drop it
  await fsp.rm(d.tmp, { recursive: true, force: true });
  await fsp.mkdir(d.tmp, { recursive: true });
}

/** Whether a key can be kept as a path under data/ (S3 allows keys no POSIX tree can hold). */
export function keyIsPath(key: string): boolean {
  if (key === '' || key.endsWith('/') || key.startsWith('/') || key.includes('\0')) return false;
  return key.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= 255);
}

export function dataPath(d: CacheDirs, key: string): string {
  return join(d.data, ...key.split('/'));
}

export function tempName(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
}

export async function fsyncDir(path: string): Promise<void> {
  const h = await fsp.open(path, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Bytes gathered before one write: a body arrives in ~64 KiB pieces, and a write call each cost more than the copy into the file. */
const WRITE_BATCH = 1024 * 1024;

/** Writes `body` to `path`, fsynced; resolves with the byte count. `limit` bounds it. */
export async function writeDurable(path: string, body: AsyncIterable<Buffer>, onChunk?: (c: Buffer) => void, limit?: number): Promise<number> {
  const h = await fsp.open(path, 'wx');
  let n = 0;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async (): Promise<void> => {
    const parts = batch;
    batch = [];
    batched = 0;
    while (parts.length > 0) {
      let { bytesWritten } = await h.writev(parts);
      // a short write: drop what was written and write the rest
      while (parts.length > 0 && bytesWritten >= parts[0]!.length) bytesWritten -= parts.shift()!.length;
      if (bytesWritten > 0) parts[0] = parts[0]!.subarray(bytesWritten);
    }
  };
  try {
    for await (const c of body) {
      n += c.length;
      if (limit !== undefined && n > limit) throw new S3Error('SlowDown', 'the gateway has no room left for unuploaded data; retry later');
      onChunk?.(c);
      batch.push(c);
      batched += c.length;
      if (batched >= WRITE_BATCH) await flush();
    }
    await flush();
    await h.sync();
  } catch (err) {
    await h.close().catch(() => undefined);
    await fsp.rm(path, { force: true });
    throw err;
  }
  await h.close();
  return n;
}

/** Moves a durable file to data/<key> and fsyncs the directory. Fails with InvalidArgument on a file/directory clash. */
export async function placeFile(d: CacheDirs, from: string, key: string): Promise<void> {
  const to = dataPath(d, key);
  try {
    await fsp.mkdir(dirname(to), { recursive: true });
    await fsp.rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
      throw new S3Error('InvalidArgument', `key "${key}" clashes with another key in the cache tree (a file and a directory of the same name): the gateway keeps objects as a POSIX tree`);
    }
    throw err;
  }
  await fsyncDir(dirname(to));
}

export function readRange(path: string, start: number, end: number): Readable {
  return createReadStream(path, end > start ? { start, end: end - 1 } : { start: 0, end: -1 });
}

// ------------------------------------------------------------------- blocks

export function blockCount(size: number): number {
  return Math.max(1, Math.ceil(size / BLOCK_SIZE));
}

export function hasBlock(bits: Buffer | null, i: number): boolean {
  return !!bits && ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

export function withBlock(bits: Buffer | null, i: number, size: number): Buffer {
  const out = Buffer.alloc(Math.ceil(blockCount(size) / 8));
  bits?.copy(out);
  out[i >> 3] = out[i >> 3]! | (1 << (i & 7));
  return out;
}

export function allBlocks(bits: Buffer | null, size: number): boolean {
  for (let i = 0; i < blockCount(size); i++) if (!hasBlock(bits, i)) return false;
  return true;
}

/** Runs of consecutive blocks covering [start, end): each present or missing. */
export function blockRuns(bits: Buffer | null, start: number, end: number): Array<{ first: number; last: number; present: boolean }> {
  const runs: Array<{ first: number; last: number; present: boolean }> = [];
  if (end <= start) return runs;
  for (let i = Math.floor(start / BLOCK_SIZE); i <= Math.floor((end - 1) / BLOCK_SIZE); i++) {
    const present = hasBlock(bits, i);
    const last = runs[runs.length - 1];
    if (last && last.present === present && last.last === i - 1) last.last = i;
    else runs.push({ first: i, last: i, present });
  }
  return runs;
}
