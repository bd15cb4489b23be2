/**
 * In-memory backend for unit tests of the logic above the Backend contract. Never used
 * as proof that a feature works against real storage: that is test/int's job.
 */
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Backend, Body, Features, ListOptions, PrefixLister, ReadOptions, WriteOptions } from '../../core/backend.js';
import { bodyStream } from '../body.js';
import { compareKeys, type Entry, type WriteMeta, type WriteResult } from '../../core/entry.js';
import { inKeyRange } from '../../core/key-range.js';
import { memoryLocation, type Location } from '../../core/location.js';
import { AlreadyExistsError, IntegrityError, NotFoundError, SourceChangedError } from '../../core/errors.js';

interface Stored {
  data: Buffer;
  mtimeMs: number;
  md5: string;
  metadata: Record<string, string>;
}

export class MemoryBackend implements Backend, PrefixLister {
  readonly type = 'memory';
  readonly features: Features = {
    serverSideCopy: false,
    chunkedUpload: false,
    createsRoot: true,
    cheapReads: true,
    tags: false,
    storageClass: false,
    metadata: true,
    conditionalCreate: true,
  };
  readonly objects = new Map<string, Stored>();

  readonly location: Location;

  constructor(readonly uri = 'mem://') {
    this.location = memoryLocation(uri);
  }

  put(key: string, content: string | Buffer, mtimeMs = 1_700_000_000_000): void {
    const data = Buffer.from(content);
    this.objects.set(key, { data, mtimeMs, md5: createHash('md5').update(data).digest('hex'), metadata: {} });
  }

  async *list(opts: ListOptions = {}): AsyncIterable<Entry> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(opts.prefix ?? '') && inKeyRange(k, opts)).sort(compareKeys);
    for (const key of keys) {
      const o = this.objects.get(key);
      if (o) yield { key, size: o.data.length, mtimeMs: o.mtimeMs, mtimeExact: true, md5: o.md5 };
    }
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    const dirs = new Set<string>();
    for (const k of this.objects.keys()) {
      if (!k.startsWith(prefix)) continue;
      const i = k.indexOf('/', prefix.length);
      if (i >= 0) dirs.add(k.slice(0, i + 1));
    }
    yield* [...dirs].sort(compareKeys);
  }

  async stat(key: string): Promise<Entry | undefined> {
    const o = this.objects.get(key);
    return o && { key, size: o.data.length, mtimeMs: o.mtimeMs, mtimeExact: true, md5: o.md5, metadata: o.metadata };
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    const o = this.objects.get(key);
    if (!o) throw new NotFoundError(`not found: ${key}`);
    if (opts.ifMatch && (opts.ifMatch.size !== o.data.length || opts.ifMatch.mtimeMs !== o.mtimeMs)) {
      throw new SourceChangedError(`${key} changed`);
    }
    return Readable.from([o.data.subarray(opts.start ?? 0, opts.end ?? o.data.length)]);
  }

  async write(key: string, body: Body, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    const chunks: Buffer[] = [];
    for await (const c of bodyStream(body) as AsyncIterable<Buffer>) {
      chunks.push(c);
      opts.onProgress?.(c.length);
    }
    const data = Buffer.concat(chunks);
    const md5 = createHash('md5').update(data).digest('hex');
    if (meta.md5 && meta.md5 !== md5) throw new IntegrityError(`${key}: md5 mismatch`);
    if (data.length !== meta.size) throw new SourceChangedError(`${key}: size changed`);
    if (opts.ifAbsent && this.objects.has(key)) throw new AlreadyExistsError(`${key} already exists`);
    this.objects.set(key, { data, mtimeMs: meta.mtimeMs, md5, metadata: { ...(meta.metadata ?? {}) } });
    return { entry: { key, size: data.length, mtimeMs: meta.mtimeMs, mtimeExact: true, md5 }, md5, bytesSent: data.length };
  }

  async remove(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
