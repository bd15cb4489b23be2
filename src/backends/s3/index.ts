/**
 * S3 backend (AWS S3, Ceph RGW, MinIO) over AWS SDK v3. The only module importing @aws-sdk.
 *
 * Integrity: a single PUT carries Content-MD5; each multipart part is signed with the
 * SHA-256 of its bytes (computed once here, handed to the signer), and the server rejects
 * a part whose bytes do not match. SHA-256 runs ~2.4x faster than MD5 on CPUs with SHA
 * extensions, and the whole-content MD5 is computed anyway: one MD5 pass per byte, not two.
 * The whole-content MD5 is stored as `md5chksum` metadata (base64, as rclone does) and the
 * source mtime as `mtime` (seconds, as rclone does), so rclone reads both. A multipart ETag
 * (`…-N`) is never compared with an MD5.
 *
 * Resume: multipart uploads are journaled (upload id, part etags and MD5s) through the
 * MultipartJournal; a rerun lists the parts on the server and sends only the missing ones.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  Backend,
  CompletedPart,
  Features,
  ListOptions,
  OpOptions,
  OrphanCleaner,
  PendingUpload,
  ReadOptions,
  ServerSideCopier,
  Tagger,
  WriteOptions,
} from '../../core/backend.js';
import type { Entry, WriteMeta, WriteResult } from '../../core/entry.js';
import { ConfigError, IntegrityError, NotFoundError, SourceChangedError, type HybridsyncError } from '../../core/errors.js';
import { retry } from '../../lib/retry.js';
import { createS3Client, resolveConnection, signedPayloadHash, type ResolvedConnection, type S3ConnectionOptions } from './client.js';
import { mapS3Error } from './errors.js';
import { FastPut } from './fast-put.js';

export interface S3TransferOptions {
  /** Objects at or above this size are uploaded in parts. */
  readonly multipartThreshold: number;
  readonly partSize: number;
  /** Parts of one object in flight at once. */
  readonly multipartConcurrency: number;
  readonly storageClass?: string;
  /** Attempts per request for retryable errors. */
  readonly retries: number;
  readonly onRetry?: (what: string, err: HybridsyncError, attempt: number) => void;
}

export const DEFAULT_S3_TRANSFER: S3TransferOptions = {
  multipartThreshold: 64 * 1024 * 1024,
  partSize: 16 * 1024 * 1024,
  multipartConcurrency: 4,
  retries: 5,
};

const MAX_PARTS = 10_000;
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const META_MTIME = 'mtime';
const META_MD5 = 'md5chksum';

export interface S3Location {
  readonly bucket: string;
  /** '' or a prefix ending in '/'. */
  readonly prefix: string;
}

export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!m || !m[1]) {
    throw new ConfigError(`malformed S3 URL "${url}"`, { hint: 'use s3://bucket or s3://bucket/prefix' });
  }
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`invalid bucket name "${bucket}" in ${url}`, { hint: 'bucket names are 3-63 lowercase letters, digits, dots and hyphens' });
  }
  let prefix = (m[2] ?? '').replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  return { bucket, prefix };
}

function etagOf(raw: string | undefined): string | undefined {
  return raw?.replace(/^"|"$/g, '') || undefined;
}
function isPlainMd5(etag: string | undefined): etag is string {
  return etag !== undefined && /^[0-9a-f]{32}$/.test(etag);
}
function encodeMeta(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) && !v.includes('%') ? v : encodeURIComponent(v);
}
function decodeMeta(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Splits a stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* chunksOf(stream: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
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

export class S3Backend implements Backend, ServerSideCopier, Tagger, OrphanCleaner {
  readonly type = 's3';
  readonly features: Features = {
    serverSideCopy: true,
    multipart: true,
    metadata: true,
    tags: true,
    storageClass: true,
    listHasExactMtime: false,
    maxKeyBytes: 1024,
    requiresUtf8Keys: true,
  };
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  readonly connection: ResolvedConnection;
  private readonly xfer: S3TransferOptions;
  /** Lean single-request PUT for small objects on path-style endpoints (fast-put.ts). */
  private readonly fastPut: FastPut | undefined;

  constructor(
    readonly uri: string,
    conn: S3ConnectionOptions = {},
    xfer: Partial<S3TransferOptions> = {},
  ) {
    const loc = parseS3Url(uri);
    this.bucket = loc.bucket;
    this.prefix = loc.prefix;
    this.connection = resolveConnection(conn);
    this.client = createS3Client(conn, this.connection);
    this.fastPut = FastPut.for(this.client, this.connection.endpoint, this.connection.forcePathStyle, this.connection.region, this.bucket);
    this.xfer = { ...DEFAULT_S3_TRANSFER, ...xfer };
    if (this.xfer.partSize < 5 * 1024 * 1024) {
      throw new ConfigError(`--part-size ${this.xfer.partSize} is below S3's 5 MiB minimum`, { hint: 'use --part-size 5M or more' });
    }
  }

  get endpointLabel(): string {
    return this.connection.endpoint ?? `s3.${this.connection.region}.amazonaws.com`;
  }

  private where(key?: string): string {
    return key === undefined ? `s3://${this.bucket}/${this.prefix}` : `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private call<T>(what: string, key: string | undefined, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw mapS3Error(err, this.where(key), this.endpointLabel);
        }
      },
      {
        attempts: this.xfer.retries,
        baseDelayMs: 200,
        maxDelayMs: 10_000,
        signal,
        isRetryable: (e) => (e as HybridsyncError).retryable === true,
        onRetry: (e, attempt) => this.xfer.onRetry?.(`${what} ${this.where(key)}`, e as HybridsyncError, attempt),
      },
    );
  }

  async createBucket(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      return;
    } catch (err) {
      const e = mapS3Error(err, this.where(), this.endpointLabel);
      if (e.kind !== 'not-found') throw e;
    }
    await this.call('create bucket', undefined, () => this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }), signal);
  }

  async *list(opts: ListOptions = {}): AsyncIterable<Entry> {
    let token: string | undefined;
    const prefix = this.prefix + (opts.prefix ?? '');
    do {
      let page;
      try {
        page = await this.call(
          'list',
          undefined,
          () =>
            this.client.send(
              new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token, MaxKeys: 1000 }),
              { abortSignal: opts.signal },
            ),
          opts.signal,
        );
      } catch (err) {
        if (opts.allowMissingRoot && (err as HybridsyncError).kind === 'not-found') return;
        throw err;
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        const key = o.Key.slice(this.prefix.length);
        if (key === '' || (key.endsWith('/') && (o.Size ?? 0) === 0)) continue; // directory markers
        const etag = etagOf(o.ETag);
        yield {
          key,
          size: o.Size ?? 0,
          mtimeMs: o.LastModified?.getTime() ?? 0,
          mtimeExact: false,
          ...(etag ? { etag } : {}),
          ...(isPlainMd5(etag) ? { md5: etag } : {}),
          ...(o.StorageClass ? { storageClass: o.StorageClass } : {}),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(key: string, opts: OpOptions = {}): Promise<Entry | undefined> {
    try {
      const h = await this.call(
        'stat',
        key,
        () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: opts.signal }),
        opts.signal,
      );
      return this.entryFromHead(key, h);
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
  }

  private entryFromHead(
    key: string,
    h: { ContentLength?: number; LastModified?: Date; ETag?: string; Metadata?: Record<string, string>; StorageClass?: string },
  ): Entry {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(h.Metadata ?? {})) meta[k.toLowerCase()] = decodeMeta(v);
    const etag = etagOf(h.ETag);
    const mtimeRaw = meta[META_MTIME];
    const mtime = mtimeRaw !== undefined ? Number(mtimeRaw) * 1000 : NaN;
    const md5b64 = meta[META_MD5];
    const md5 = md5b64 ? Buffer.from(md5b64, 'base64').toString('hex') : isPlainMd5(etag) ? etag : undefined;
    return {
      key,
      size: h.ContentLength ?? 0,
      mtimeMs: Number.isFinite(mtime) ? mtime : (h.LastModified?.getTime() ?? 0),
      mtimeExact: Number.isFinite(mtime),
      ...(etag ? { etag } : {}),
      ...(md5 && md5.length === 32 ? { md5 } : {}),
      storageClass: h.StorageClass ?? 'STANDARD',
      metadata: meta,
    };
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    const range = opts.start !== undefined || opts.end !== undefined ? `bytes=${opts.start ?? 0}-${opts.end !== undefined ? opts.end - 1 : ''}` : undefined;
    const res = await this.call(
      'read',
      key,
      () =>
        this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: range, IfMatch: opts.ifMatch?.etag ? `"${opts.ifMatch.etag}"` : undefined }),
          { abortSignal: opts.signal },
        ),
      opts.signal,
    );
    if (!res.Body) throw new NotFoundError(`empty body for ${this.where(key)}`);
    if (opts.ifMatch && !opts.ifMatch.etag && res.ContentLength !== undefined && range === undefined && res.ContentLength !== opts.ifMatch.size) {
      (res.Body as Readable).destroy();
      throw new SourceChangedError(`${this.where(key)} changed since it was listed`);
    }
    return res.Body as Readable;
  }

  async getTags(key: string, opts: OpOptions = {}): Promise<Record<string, string>> {
    const r = await this.call(
      'get tags',
      key,
      () => this.client.send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: opts.signal }),
      opts.signal,
    );
    return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  private objectMeta(meta: WriteMeta, md5?: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta.metadata ?? {})) out[k.toLowerCase()] = encodeMeta(v);
    out[META_MTIME] = (meta.mtimeMs / 1000).toFixed(3);
    const m = md5 ?? meta.md5;
    if (m) out[META_MD5] = Buffer.from(m, 'hex').toString('base64');
    return out;
  }

  private tagging(meta: WriteMeta): string | undefined {
    const t = meta.tags;
    if (!t || Object.keys(t).length === 0) return undefined;
    return new URLSearchParams(Object.entries(t)).toString();
  }

  async write(key: string, body: Readable, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    try {
      if (meta.size < this.xfer.multipartThreshold) return await this.putSingle(key, body, meta, opts);
      return await this.putMultipart(key, body, meta, opts);
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }

  private async putSingle(key: string, body: Readable, meta: WriteMeta, opts: WriteOptions): Promise<WriteResult> {
    const chunks: Buffer[] = [];
    let len = 0;
    for await (const c of body as AsyncIterable<Buffer>) {
      chunks.push(c);
      len += c.length;
      if (len > meta.size) break;
    }
    if (len !== meta.size) {
      throw new SourceChangedError(`${this.where(key)}: source has ${len > meta.size ? 'more' : 'fewer'} bytes than the ${meta.size} planned`, {
        hint: 'the source changed during the copy; it will be retried',
      });
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, len);
    const digest = createHash('md5').update(data).digest();
    const md5 = digest.toString('hex');
    if (meta.md5 && meta.md5 !== md5) {
      throw new IntegrityError(`${this.where(key)}: content MD5 ${md5} differs from the source's ${meta.md5}`);
    }
    const metadata = this.objectMeta(meta, md5);
    const tagging = this.tagging(meta);
    const storageClass = meta.storageClass ?? this.xfer.storageClass;
    const fast = this.fastPut;
    const rawEtag = await this.call(
      'put',
      key,
      async (): Promise<string | undefined> => {
        if (fast) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(metadata)) headers[`x-amz-meta-${k}`] = v;
          if (meta.contentType) headers['content-type'] = meta.contentType;
          if (tagging) headers['x-amz-tagging'] = tagging;
          if (storageClass) headers['x-amz-storage-class'] = storageClass;
          return fast.put({ key: this.prefix + key, body: data, md5Base64: digest.toString('base64'), headers, ...(opts.signal ? { signal: opts.signal } : {}) });
        }
        const r = await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Body: data,
            ContentLength: len,
            ContentMD5: digest.toString('base64'),
            ContentType: meta.contentType,
            Metadata: metadata,
            Tagging: tagging,
            StorageClass: storageClass as never,
          }),
          { abortSignal: opts.signal },
        );
        return r.ETag;
      },
      opts.signal,
    );
    opts.onProgress?.(len);
    const etag = etagOf(rawEtag);
    if (isPlainMd5(etag) && etag !== md5) {
      throw new IntegrityError(`${this.where(key)}: server ETag ${etag} differs from the MD5 ${md5} of the bytes sent`);
    }
    return {
      entry: { key, size: len, mtimeMs: meta.mtimeMs, mtimeExact: true, md5, ...(etag ? { etag } : {}) },
      md5,
      bytesSent: len,
    };
  }

  private async resumable(key: string, fingerprint: string | undefined, opts: WriteOptions, signal?: AbortSignal): Promise<PendingUpload | undefined> {
    if (!fingerprint || !opts.journal) return undefined;
    const pending = opts.journal.find(key, fingerprint);
    if (!pending || pending.partSize !== this.xfer.partSize) {
      if (pending) await this.abortUpload(key, pending.uploadId).finally(() => opts.journal?.finished(pending.uploadId));
      return undefined;
    }
    try {
      const onServer = new Map<number, string>();
      let marker: string | undefined;
      do {
        const r = await this.call(
          'list parts',
          key,
          () =>
            this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: pending.uploadId, PartNumberMarker: marker }), {
              abortSignal: signal,
            }),
          signal,
        );
        for (const p of r.Parts ?? []) if (p.PartNumber && p.ETag) onServer.set(p.PartNumber, etagOf(p.ETag)!);
        marker = r.IsTruncated ? r.NextPartNumberMarker : undefined;
      } while (marker);
      const parts = pending.parts.filter((p) => onServer.get(p.partNumber) === p.etag);
      return { ...pending, parts };
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found') {
        opts.journal.finished(pending.uploadId);
        return undefined;
      }
      throw err;
    }
  }

  private async putMultipart(key: string, body: Readable, meta: WriteMeta, opts: WriteOptions): Promise<WriteResult> {
    const signal = opts.signal;
    let partSize = this.xfer.partSize;
    while (Math.ceil(meta.size / partSize) > MAX_PARTS) partSize *= 2;
    const fingerprint = opts.fingerprint ? `${opts.fingerprint}|${partSize}` : undefined;
    const resumed = partSize === this.xfer.partSize ? await this.resumable(key, fingerprint, opts, signal) : undefined;
    let uploadId = resumed?.uploadId;
    if (!uploadId) {
      const created = await this.call(
        'create multipart upload',
        key,
        () =>
          this.client.send(
            new CreateMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              ContentType: meta.contentType,
              Metadata: this.objectMeta(meta),
              Tagging: this.tagging(meta),
              StorageClass: (meta.storageClass ?? this.xfer.storageClass) as never,
            }),
            // not aborted mid-flight: an upload the server created but we never heard of
            // could not be journaled, resumed or cleaned up
          ),
        undefined,
      );
      uploadId = created.UploadId!;
      if (fingerprint) opts.journal?.started({ key, uploadId, fingerprint, partSize, parts: [] });
      signal?.throwIfAborted();
    }
    const id = uploadId;
    const already = new Map<number, CompletedPart>((resumed?.parts ?? []).map((p) => [p.partNumber, p]));
    const done: CompletedPart[] = [];
    const whole = createHash('md5');
    const inflight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    let total = 0;
    let sent = 0;
    let partNumber = 0;

    const uploadPart = async (n: number, data: Buffer, sha256: string): Promise<void> => {
      const r = await this.call(
        `upload part ${n}`,
        key,
        () => {
          const input = { Bucket: this.bucket, Key: this.prefix + key, UploadId: id, PartNumber: n, Body: data, ContentLength: data.length };
          signedPayloadHash.set(input, sha256);
          return this.client.send(new UploadPartCommand(input), { abortSignal: signal });
        },
        signal,
      );
      const etag = etagOf(r.ETag);
      if (!etag) throw new IntegrityError(`${this.where(key)}: part ${n} was stored without an ETag`);
      const part: CompletedPart = { partNumber: n, etag, size: data.length, sha256 };
      done.push(part);
      sent += data.length;
      opts.journal?.partDone(id, part);
      opts.onProgress?.(data.length);
    };

    try {
      for await (const data of chunksOf(body as AsyncIterable<Buffer>, partSize)) {
        if (failure) break;
        partNumber++;
        total += data.length;
        if (total > meta.size) break;
        whole.update(data);
        const sha256 = createHash('sha256').update(data).digest('hex');
        const prev = already.get(partNumber);
        if (prev && prev.sha256 === sha256 && prev.size === data.length) {
          done.push(prev); // uploaded by an earlier, interrupted run: not sent again
          continue;
        }
        while (inflight.size >= this.xfer.multipartConcurrency) await Promise.race(inflight);
        if (failure) break;
        const p: Promise<void> = uploadPart(partNumber, data, sha256).then(
          () => void inflight.delete(p),
          (err: unknown) => {
            inflight.delete(p);
            failure ??= { err };
          },
        );
        inflight.add(p);
      }
      await Promise.all(inflight);
      if (failure) throw failure.err;
      if (total !== meta.size) {
        throw new SourceChangedError(`${this.where(key)}: source has ${total > meta.size ? 'more' : 'fewer'} bytes than the ${meta.size} planned`, {
          hint: 'the source changed during the copy; it will be retried',
        });
      }
      const md5 = whole.digest('hex');
      if (meta.md5 && meta.md5 !== md5) throw new IntegrityError(`${this.where(key)}: content MD5 ${md5} differs from the source's ${meta.md5}`);
      done.sort((a, b) => a.partNumber - b.partNumber);
      await this.call(
        'complete multipart upload',
        key,
        () =>
          this.client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              UploadId: id,
              MultipartUpload: { Parts: done.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
            }),
            { abortSignal: signal },
          ),
        signal,
      );
      opts.journal?.finished(id);
      // Ceph returns an empty ETag from Complete: read the real one. Every part's bytes were
      // verified by the server; the object must consist of exactly those parts.
      const head = await this.stat(key, { signal });
      if (!head || !head.etag?.endsWith(`-${done.length}`) || head.size !== meta.size) {
        await this.remove(key).catch(() => undefined);
        throw new IntegrityError(`${this.where(key)}: stored object (ETag ${head?.etag}, ${head?.size} bytes) does not match the ${done.length} parts, ${meta.size} bytes sent`);
      }
      const final = meta.md5 ? head : await this.addMd5Metadata(key, head, meta, md5, signal);
      return { entry: { ...final, mtimeMs: meta.mtimeMs, mtimeExact: true, md5 }, md5, bytesSent: sent };
    } catch (err) {
      await Promise.allSettled(inflight);
      // An aborted run keeps its journaled upload so the next run resumes it; anything
      // else (source changed, integrity, permanent error) discards the upload.
      const interrupted = signal?.aborted === true;
      if (!interrupted) {
        await this.abortUpload(key, id).catch(() => undefined);
        opts.journal?.finished(id);
      }
      throw err;
    }
  }

  /**
   * The whole-content MD5 of a multipart upload is known only after the last part, but
   * metadata is fixed at CreateMultipartUpload. A metadata-only self-copy (server side, no
   * bytes cross the network; on Ceph it shares the data by reference) stores it, guarded
   * by the ETag we just verified. Objects over 5 GiB keep the MD5 in the state DB only.
   */
  private async addMd5Metadata(key: string, head: Entry, meta: WriteMeta, md5: string, signal?: AbortSignal): Promise<Entry> {
    if (head.size > MAX_SINGLE_COPY || !head.etag) return head;
    const self = `${this.bucket}/${(this.prefix + key).split('/').map(encodeURIComponent).join('/')}`;
    await this.call(
      'store md5 metadata',
      key,
      () =>
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            CopySource: self,
            CopySourceIfMatch: `"${head.etag}"`,
            MetadataDirective: 'REPLACE',
            Metadata: this.objectMeta(meta, md5),
            ContentType: meta.contentType,
            StorageClass: (meta.storageClass ?? this.xfer.storageClass) as never,
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    const after = await this.stat(key, { signal });
    if (!after || after.size !== head.size) throw new IntegrityError(`${this.where(key)}: object changed while its MD5 metadata was stored`);
    return after;
  }

  async abortUpload(key: string, uploadId: string, opts: OpOptions = {}): Promise<void> {
    try {
      await this.call(
        'abort multipart upload',
        key,
        () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId }), { abortSignal: opts.signal }),
        opts.signal,
      );
    } catch (err) {
      if ((err as HybridsyncError).kind !== 'not-found') throw err;
    }
  }

  canCopyFrom(source: Backend): boolean {
    return source instanceof S3Backend && source.connection.identity === this.connection.identity;
  }

  async copyFrom(source: Backend, srcKey: string, dstKey: string, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    if (!(source instanceof S3Backend)) throw new ConfigError('server-side copy needs an S3 source');
    const signal = opts.signal;
    const copySource = `${source.bucket}/${(source.prefix + srcKey).split('/').map(encodeURIComponent).join('/')}`;
    if (meta.size > MAX_SINGLE_COPY) return this.copyMultipart(source, copySource, srcKey, dstKey, meta, opts);
    const r = await this.call(
      'copy',
      dstKey,
      () =>
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + dstKey,
            CopySource: copySource,
            MetadataDirective: 'REPLACE',
            Metadata: this.objectMeta(meta),
            ContentType: meta.contentType,
            ...(this.tagging(meta) ? { TaggingDirective: 'REPLACE', Tagging: this.tagging(meta) } : {}),
            StorageClass: (meta.storageClass ?? this.xfer.storageClass) as never,
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    const etag = etagOf(r.CopyObjectResult?.ETag);
    const head = await this.stat(dstKey, { signal });
    if (!head || head.size !== meta.size) throw new IntegrityError(`${this.where(dstKey)}: server-side copy produced ${head?.size} bytes, expected ${meta.size}`);
    if (meta.md5 && isPlainMd5(head.etag ?? etag) && (head.etag ?? etag) !== meta.md5) {
      throw new IntegrityError(`${this.where(dstKey)}: server-side copy ETag differs from the source MD5 ${meta.md5}`);
    }
    opts.onProgress?.(meta.size);
    const md5 = meta.md5 ?? head.md5 ?? '';
    return { entry: { ...head, md5 }, md5, bytesSent: 0 };
  }

  private async copyMultipart(source: S3Backend, copySource: string, srcKey: string, dstKey: string, meta: WriteMeta, opts: WriteOptions): Promise<WriteResult> {
    const signal = opts.signal;
    const created = await this.call(
      'create multipart copy',
      dstKey,
      () =>
        this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + dstKey, Metadata: this.objectMeta(meta), Tagging: this.tagging(meta) }),
          { abortSignal: signal },
        ),
      signal,
    );
    const id = created.UploadId!;
    const partSize = Math.max(this.xfer.partSize, Math.ceil(meta.size / MAX_PARTS), 512 * 1024 * 1024);
    const parts: Array<{ PartNumber: number; ETag: string }> = [];
    try {
      for (let off = 0, n = 1; off < meta.size; off += partSize, n++) {
        const end = Math.min(meta.size, off + partSize) - 1;
        const r = await this.call(
          `copy part ${n}`,
          dstKey,
          () =>
            this.client.send(
              new UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: this.prefix + dstKey,
                UploadId: id,
                PartNumber: n,
                CopySource: copySource,
                CopySourceRange: `bytes=${off}-${end}`,
              }),
              { abortSignal: signal },
            ),
          signal,
        );
        parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag ?? '' });
        opts.onProgress?.(end + 1 - off);
      }
      await this.call(
        'complete multipart copy',
        dstKey,
        () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + dstKey, UploadId: id, MultipartUpload: { Parts: parts } }), {
            abortSignal: signal,
          }),
        signal,
      );
    } catch (err) {
      await this.abortUpload(dstKey, id).catch(() => undefined);
      throw err;
    }
    const head = await this.stat(dstKey, { signal });
    if (!head || head.size !== meta.size) throw new IntegrityError(`${this.where(dstKey)}: multipart copy of ${source.where(srcKey)} produced ${head?.size} bytes`);
    const md5 = meta.md5 ?? '';
    return { entry: { ...head, md5 }, md5, bytesSent: 0 };
  }

  async remove(key: string, opts: OpOptions = {}): Promise<void> {
    await this.call(
      'delete',
      key,
      () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: opts.signal }),
      opts.signal,
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
