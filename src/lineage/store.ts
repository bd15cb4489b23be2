/**
 * Manifests and file facts at a location: writing and reading manifests under
 * `.hybridsync/manifests/`, listing a tree's files with their MD5 (the store's own where it
 * is trustworthy, otherwise computed by reading), and checking files against a manifest by
 * reading them again. The destination is the source of truth; the index (./index-db.ts)
 * only remembers where things are.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Backend } from '../core/backend.js';
import { compareKeys, type Entry } from '../core/entry.js';
import { describeError, NotFoundError } from '../core/errors.js';
import { md5OfStream } from '../lib/accounting.js';
import { forEachConcurrent } from '../lib/pool.js';
import { isReservedKey } from '../sync/filter.js';
import { MANIFEST_DIR, ManifestFormatError, parseManifest, type ManifestFile, type ParsedManifest } from './manifest.js';

/** Hashing concurrency: reads in flight at once. */
export const HASH_CONCURRENCY = 8;

export interface StoreOptions {
  readonly signal?: AbortSignal;
  readonly concurrency?: number;
}

/** Writes a manifest document (verified by its MD5 on the way in). */
export async function writeManifest(b: Backend, key: string, text: string, signal?: AbortSignal): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  const md5 = createHash('md5').update(data).digest('hex');
  await b.write(key, Readable.from([data]), { size: data.length, mtimeMs: Date.now(), md5, contentType: 'application/json' }, signal ? { signal } : {});
}

/** The text of a stored object, or undefined when it does not exist. */
export async function readText(b: Backend, key: string, signal?: AbortSignal): Promise<string | undefined> {
  let stream;
  try {
    stream = await b.read(key, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** A manifest read from a location: parsed, or the reason it could not be. */
export type StoredManifest = { readonly key: string; /** When it was stored (from a listing). */ readonly mtimeMs?: number } & (
  | { readonly ok: true; readonly manifest: ParsedManifest }
  | { readonly ok: false; readonly problem: string }
);

/** Reads and parses one manifest; undefined when there is no such object. */
export async function readManifest(b: Backend, key: string, signal?: AbortSignal): Promise<StoredManifest | undefined> {
  const text = await readText(b, key, signal);
  if (text === undefined) return undefined;
  try {
    return { key, ok: true, manifest: parseManifest(text) };
  } catch (err) {
    if (err instanceof ManifestFormatError) return { key, ok: false, problem: err.message };
    throw err;
  }
}

/** The manifest objects at a location (keys relative to its root, with their stored time), in key order. */
export async function listManifestKeys(b: Backend, namePrefix = '', signal?: AbortSignal): Promise<Array<{ key: string; mtimeMs: number }>> {
  const out: Array<{ key: string; mtimeMs: number }> = [];
  for await (const e of b.list({ prefix: MANIFEST_DIR + namePrefix, allowMissingRoot: true, ...(signal ? { signal } : {}) })) {
    if (e.key.endsWith('.json') && !e.key.slice(MANIFEST_DIR.length).includes('/')) out.push({ key: e.key, mtimeMs: e.mtimeMs });
  }
  return out;
}

/** Every manifest at a location, parsed (a broken one says why). */
export async function readManifests(b: Backend, namePrefix = '', o: StoreOptions = {}): Promise<StoredManifest[]> {
  const keys = await listManifestKeys(b, namePrefix, o.signal);
  const out: StoredManifest[] = [];
  await forEachConcurrent(keys, o.concurrency ?? HASH_CONCURRENCY, async ({ key, mtimeMs }) => {
    const m = await readManifest(b, key, o.signal);
    if (m) out.push({ ...m, mtimeMs });
  });
  return out.sort((x, y) => compareKeys(x.key, y.key));
}

/** MD5 of the bytes as stored, computed by reading them. */
export async function recomputeMd5(b: Backend, key: string, signal?: AbortSignal): Promise<{ md5: string; size: number }> {
  return md5OfStream((await b.read(key, signal ? { signal } : {})) as AsyncIterable<Buffer>);
}

/**
 * The MD5 of an entry: the listing's when the store vouches for it (a single-part ETag,
 * md5chksum metadata hybridsync or rclone wrote, a local file's cached hash), else the
 * object's metadata (a HEAD), else computed by reading. A multipart ETag is never one.
 */
export async function md5Of(b: Backend, e: Entry, signal?: AbortSignal): Promise<string> {
  if (e.md5) return e.md5;
  if (!b.features.cheapReads) {
    const full = await b.stat(e.key, signal ? { signal } : {});
    if (full?.md5 && full.size === e.size) return full.md5;
  }
  return (await recomputeMd5(b, e.key, signal)).md5;
}

function fileOf(e: Entry, md5: string): ManifestFile {
  return {
    path: e.key,
    size: e.size,
    md5,
    ...(e.etag ? { etag: e.etag } : {}),
    ...(e.mtimeExact || !e.etag ? { mtime: new Date(e.mtimeMs).toISOString() } : {}),
  };
}

/**
 * Every file under the backend's root (without `.hybridsync/`), with its MD5, in key
 * order. `prefix` restricts it to keys below (paths then stay relative to the root).
 */
export async function describeFiles(b: Backend, o: StoreOptions & { prefix?: string } = {}): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  const list = b.list({ ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  async function* files(): AsyncGenerator<Entry> {
    for await (const e of list) if (!isReservedKey(e.key)) yield e;
  }
  await forEachConcurrent(files(), o.concurrency ?? HASH_CONCURRENCY, async (e) => void out.push(fileOf(e, await md5Of(b, e, o.signal))), o.signal);
  return out.sort((x, y) => compareKeys(x.path, y.path));
}

export type FileProblemKind = 'missing' | 'size' | 'modified' | 'unreadable';

export interface FileProblem {
  readonly path: string;
  readonly kind: FileProblemKind;
  readonly message: string;
}

export interface FileCheck {
  readonly checked: number;
  readonly bytes: number;
  readonly problems: FileProblem[];
  /** Files present under the base that the manifest does not list (not a failure: data grows). */
  readonly extra: string[];
}

/**
 * Checks every file of a manifest at `base` (a key prefix, '' or ending in '/'): it must
 * exist with the recorded size and, read again, the recorded MD5. `quick` compares size and
 * ETag (or mtime where there is no ETag) instead of reading.
 */
export async function checkFiles(b: Backend, base: string, files: readonly ManifestFile[], o: StoreOptions & { quick?: boolean } = {}): Promise<FileCheck> {
  const expected = new Map(files.map((f) => [base + f.path, f]));
  const present: Array<{ entry: Entry; file: ManifestFile }> = [];
  const extra: string[] = [];
  for await (const e of b.list({ ...(base ? { prefix: base } : {}), allowMissingRoot: true, ...(o.signal ? { signal: o.signal } : {}) })) {
    if (isReservedKey(e.key)) continue;
    const f = expected.get(e.key);
    if (f) {
      present.push({ entry: e, file: f });
      expected.delete(e.key);
    } else extra.push(e.key.slice(base.length));
  }
  const problems: FileProblem[] = [...expected.values()].map((f) => ({ path: f.path, kind: 'missing' as const, message: `${f.path}: missing (the snapshot lists ${f.size} bytes, md5 ${f.md5})` }));
  let bytes = 0;
  await forEachConcurrent(
    present,
    o.concurrency ?? HASH_CONCURRENCY,
    async ({ entry, file }) => {
      if (entry.size !== file.size) {
        problems.push({ path: file.path, kind: 'size', message: `${file.path}: ${entry.size} bytes, the manifest lists ${file.size}` });
        return;
      }
      if (o.quick) {
        const same = file.etag && entry.etag ? file.etag === entry.etag : file.mtime !== undefined && Math.abs(Date.parse(file.mtime) - entry.mtimeMs) < 1000;
        if (!same) problems.push({ path: file.path, kind: 'modified', message: `${file.path}: ${file.etag ? `ETag ${entry.etag ?? '(none)'}, the manifest lists ${file.etag}` : 'modified since the manifest was made'}` });
        bytes += entry.size;
        return;
      }
      let got: { md5: string; size: number };
      try {
        got = await recomputeMd5(b, entry.key, o.signal);
      } catch (err) {
        problems.push({ path: file.path, kind: 'unreadable', message: `${file.path}: cannot be read: ${describeError(err)}` });
        return;
      }
      bytes += got.size;
      if (got.md5 !== file.md5 || got.size !== file.size) {
        problems.push({ path: file.path, kind: 'modified', message: `${file.path}: content changed: md5 ${got.md5}, the manifest lists ${file.md5}` });
      }
    },
    o.signal,
  );
  problems.sort((x, y) => compareKeys(x.path, y.path));
  return { checked: files.length, bytes, problems, extra };
}
