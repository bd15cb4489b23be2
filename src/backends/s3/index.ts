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
 * Large objects: the ChunkWriter capability (multipart upload); the engine's driver
 * (sync/chunked.ts) journals the parts and, on a rerun, lists the parts on the server and
 * sends only the missing ones.
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
  ListBucketsCommand,
  ListMultipartUploadsCommand,
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
  AccountProbe,
  PrefixLister,
  Backend,
  Body,
  ChunkedUpload,
  ChunkWriter,
  CompletedChunk,
  Features,
  ListOptions,
  OpOptions,
  ReadOptions,
  ServerSideCopier,
  Tagger,
  WriteOptions,
} from '../../core/backend.js';
import { rangeListPrefix, withinKeyRange } from '../../core/key-range.js';
import { sameAccount, type Location } from '../../core/location.js';
import type { Entry, WriteMeta, WriteResult } from '../../core/entry.js';
import { AlreadyExistsError, ConfigError, IntegrityError, NotFoundError, SourceChangedError, type HybridsyncError } from '../../core/errors.js';
import { retry } from '../../lib/retry.js';
import { createS3Client, resolveConnection, signedPayloadHash, type ResolvedConnection, type S3ConnectionOptions } from './client.js';
import { bodyBytes, discardBody } from '../body.js';
import { DEFAULT_S3_FIXES, mapS3Error, remoteS3Fixes, type S3Fixes } from './errors.js';
import { FastPut } from './fast-put.js';

/** How far the server's clock may run behind ours when stray uploads are matched to an intent. */
const STRAY_UPLOAD_CLOCK_SKEW_MS = 5 * 60_000;

export interface S3TransferOptions {
  readonly storageClass?: string;
  /** Attempts per request for retryable errors. */
  readonly retries: number;
  readonly onRetry?: (what: string, err: HybridsyncError, attempt: number) => void;
}

export const DEFAULT_S3_TRANSFER: S3TransferOptions = { retries: 3 };

const MAX_PARTS = 10_000;
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const MIN_PART = 5 * 1024 * 1024;
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

export class S3Backend implements Backend, ServerSideCopier, Tagger, ChunkWriter, AccountProbe, PrefixLister {
  readonly type = 's3';
  readonly features: Features = {
    serverSideCopy: true,
    chunkedUpload: true,
    createsRoot: false,
    cheapReads: false,
    tags: true,
    storageClass: true,
    metadata: true,
    conditionalCreate: true,
    maxKeyBytes: 1024,
  };
  readonly chunkLimits = { minChunkSize: MIN_PART, maxChunkSize: MAX_SINGLE_COPY, maxChunks: MAX_PARTS };
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  readonly connection: ResolvedConnection;
  private readonly xfer: S3TransferOptions;
  /** Lean single-request PUT for small objects on path-style endpoints (fast-put.ts). */
  private readonly fastPut: FastPut | undefined;

  /** `location` comes from openLocation (registry), built with the same connection options. */
  constructor(
    readonly location: Location,
    conn: S3ConnectionOptions = {},
    xfer: Partial<S3TransferOptions> = {},
  ) {
    this.uri = location.display;
    this.bucket = location.container;
    this.prefix = location.path;
    this.connection = resolveConnection(conn);
    this.client = createS3Client(conn, this.connection);
    this.fastPut = FastPut.for(this.client, this.connection.endpoint, this.connection.forcePathStyle, this.connection.region, this.bucket);
    this.xfer = { ...DEFAULT_S3_TRANSFER, ...xfer };
  }

  get endpointLabel(): string {
    return this.connection.endpoint ?? `s3.${this.connection.region}.amazonaws.com`;
  }

  /** An object or the root as the user names it: `onprem:bucket/key` for a remote, `s3://bucket/key` otherwise. */
  private where(key?: string): string {
    const base = this.location.remote ? `${this.location.remote}:${this.bucket}/` : `s3://${this.bucket}/`;
    return `${base}${this.prefix}${key ?? ''}`;
  }

  private get fixes(): S3Fixes {
    return this.location.remote ? remoteS3Fixes(this.location.remote, this.bucket) : { ...DEFAULT_S3_FIXES, bucket: `s3://${this.bucket}` };
  }

  private call<T>(what: string, key: string | undefined, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw mapS3Error(err, this.where(key), this.endpointLabel, this.fixes);
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

  async probeAccount(opts: OpOptions = {}): Promise<string> {
    const r = await this.call('list buckets', undefined, () => this.client.send(new ListBucketsCommand({}), { abortSignal: opts.signal }), opts.signal);
    const n = r.Buckets?.length ?? 0;
    return `credentials accepted: ${n} bucket${n === 1 ? '' : 's'} visible${r.Owner?.DisplayName ? ` to ${r.Owner.DisplayName}` : ''}`;
  }

  /** Creates the bucket if it does not exist (--create-bucket). */
  async createContainer(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      return;
    } catch (err) {
      const e = mapS3Error(err, this.where(), this.endpointLabel, this.fixes);
      if (e.kind !== 'not-found') throw e;
    }
    await this.call('create bucket', undefined, () => this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }), signal);
  }

  list(opts: ListOptions = {}): AsyncIterable<Entry> {
    return withinKeyRange(this.listPages(opts), opts);
  }

  private async *listPages(opts: ListOptions): AsyncGenerator<Entry> {
    let token: string | undefined;
    const prefix = this.prefix + rangeListPrefix(opts.prefix ?? '', opts);
    // the server skips to the range (same byte order); later pages follow the token
    const startAfter = opts.startAfter !== undefined ? this.prefix + opts.startAfter : undefined;
    do {
      let page;
      try {
        page = await this.call(
          'list',
          undefined,
          () =>
            this.client.send(
              new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token, StartAfter: token ? undefined : startAfter, MaxKeys: 1000 }),
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

  async *listPrefixes(prefix: string, opts: OpOptions = {}): AsyncIterable<string> {
    let token: string | undefined;
    const full = this.prefix + prefix;
    do {
      const page = await this.call(
        'list',
        undefined,
        () =>
          this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full || undefined, Delimiter: '/', ContinuationToken: token, MaxKeys: 1000 }), {
            abortSignal: opts.signal,
          }),
        opts.signal,
      );
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) yield p.Prefix.slice(this.prefix.length);
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

  /** One PUT (up to 5 GiB; larger objects go through the ChunkWriter capability). */
  async write(key: string, body: Body, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    try {
      if (meta.size > MAX_SINGLE_COPY) {
        throw new ConfigError(`${this.where(key)}: ${meta.size} bytes is more than one S3 PUT can carry (5 GiB)`, {
          hint: 'upload it in parts (the sync engine does this at --multipart-threshold)',
        });
      }
      return await this.putSingle(key, body, meta, opts);
    } finally {
      discardBody(body);
    }
  }

  private async putSingle(key: string, body: Body, meta: WriteMeta, opts: WriteOptions): Promise<WriteResult> {
    const data = await bodyBytes(body, meta.size, this.where(key));
    const len = data.length;
    const digest = createHash('md5').update(data).digest();
    const md5 = digest.toString('hex');
    if (meta.md5 && meta.md5 !== md5) {
      throw new IntegrityError(`${this.where(key)}: content MD5 ${md5} differs from the source's ${meta.md5}`);
    }
    const metadata = this.objectMeta(meta, md5);
    const tagging = this.tagging(meta);
    const storageClass = meta.storageClass ?? this.xfer.storageClass;
    const fast = this.fastPut;
    const send = async (): Promise<string | undefined> => {
      if (fast) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(metadata)) headers[`x-amz-meta-${k}`] = v;
        if (meta.contentType) headers['content-type'] = meta.contentType;
        if (tagging) headers['x-amz-tagging'] = tagging;
        if (storageClass) headers['x-amz-storage-class'] = storageClass;
        if (opts.ifAbsent) headers['if-none-match'] = '*';
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
          IfNoneMatch: opts.ifAbsent ? '*' : undefined,
        }),
        { abortSignal: opts.signal },
      );
      return r.ETag;
    };
    const rawEtag = await this.call(
      'put',
      key,
      async (): Promise<string | undefined> => {
        try {
          return await send();
        } catch (err) {
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (opts.ifAbsent && status === 412) throw new AlreadyExistsError(`${this.where(key)} already exists`);
          throw err;
        }
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

  // ------------------------------------------------------------ ChunkWriter (multipart)

  async openChunkedUpload(key: string, meta: WriteMeta): Promise<ChunkedUpload> {
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
          // no abortSignal: see ChunkWriter.openChunkedUpload
        ),
      undefined,
    );
    if (!created.UploadId) throw new IntegrityError(`${this.where(key)}: the server returned no upload id`);
    return this.multipartUpload(key, meta, created.UploadId, new Map());
  }

  async resumeChunkedUpload(key: string, uploadId: string, meta: WriteMeta, opts: OpOptions = {}): Promise<ChunkedUpload | undefined> {
    const present = new Map<number, string>();
    let marker: string | undefined;
    try {
      do {
        const r = await this.call(
          'list parts',
          key,
          () =>
            this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId, PartNumberMarker: marker }), {
              abortSignal: opts.signal,
            }),
          opts.signal,
        );
        for (const p of r.Parts ?? []) if (p.PartNumber && p.ETag) present.set(p.PartNumber - 1, etagOf(p.ETag)!);
        marker = r.IsTruncated ? r.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
    return this.multipartUpload(key, meta, uploadId, present);
  }

  async abortChunkedUpload(key: string, uploadId: string, opts: OpOptions = {}): Promise<void> {
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

  async abortStrayChunkedUploads(key: string, since: Date, keep: ReadonlySet<string>, opts: OpOptions = {}): Promise<number> {
    const full = this.prefix + key;
    // ListMultipartUploads shows no metadata, so a marker header could not be read back: an
    // upload is ours by its exact key and its start (server clock) after the journaled intent.
    const after = since.getTime() - STRAY_UPLOAD_CLOCK_SKEW_MS;
    const stray: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const r = await this.call(
        'list multipart uploads',
        key,
        () =>
          this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: full, KeyMarker: keyMarker, UploadIdMarker: idMarker }), {
            abortSignal: opts.signal,
          }),
        opts.signal,
      );
      for (const u of r.Uploads ?? []) {
        if (u.Key !== full || !u.UploadId || keep.has(u.UploadId)) continue;
        if (u.Initiated && u.Initiated.getTime() < after) continue;
        stray.push(u.UploadId);
      }
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      idMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (keyMarker);
    for (const id of stray) await this.abortChunkedUpload(key, id, opts);
    return stray.length;
  }

  private multipartUpload(key: string, meta: WriteMeta, uploadId: string, present: ReadonlyMap<number, string>): ChunkedUpload {
    return {
      uploadToken: uploadId,
      present,
      writeChunk: async (index: number, data: Buffer, sha256: string, opts: OpOptions = {}): Promise<string> => {
        const r = await this.call(
          `upload part ${index + 1}`,
          key,
          () => {
            const input = { Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId, PartNumber: index + 1, Body: data, ContentLength: data.length };
            signedPayloadHash.set(data, sha256); // signed as is: the server verifies the part against it
            return this.client.send(new UploadPartCommand(input), { abortSignal: opts.signal });
          },
          opts.signal,
        );
        const etag = etagOf(r.ETag);
        if (!etag) throw new IntegrityError(`${this.where(key)}: part ${index + 1} was stored without an ETag`);
        return etag;
      },
      complete: async (chunks: readonly CompletedChunk[], md5: string, opts: OpOptions = {}) => {
        const signal = opts.signal;
        await this.call(
          'complete multipart upload',
          key,
          () =>
            this.client.send(
              new CompleteMultipartUploadCommand({
                Bucket: this.bucket,
                Key: this.prefix + key,
                UploadId: uploadId,
                MultipartUpload: { Parts: chunks.map((c) => ({ PartNumber: c.index + 1, ETag: `"${c.token}"` })) },
              }),
              { abortSignal: signal },
            ),
          signal,
        );
        // Ceph returns an empty ETag from Complete: read the real one. Every part's bytes
        // were verified by the server; the object must consist of exactly those parts.
        const head = await this.stat(key, { signal });
        if (!head || !head.etag?.endsWith(`-${chunks.length}`) || head.size !== meta.size) {
          await this.remove(key).catch(() => undefined);
          throw new IntegrityError(
            `${this.where(key)}: stored object (ETag ${head?.etag}, ${head?.size} bytes) does not match the ${chunks.length} parts, ${meta.size} bytes sent`,
          );
        }
        const final = meta.md5 ? head : await this.addMd5Metadata(key, head, meta, md5, signal);
        return { ...final, mtimeMs: meta.mtimeMs, mtimeExact: true, md5 };
      },
      abort: (opts: OpOptions = {}) => this.abortChunkedUpload(key, uploadId, opts),
    };
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

  /** Same endpoint and same credentials: the server can read the source for us. */
  canCopyFrom(source: Backend): boolean {
    return source instanceof S3Backend && sameAccount(source.location, this.location);
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
    const partSize = Math.max(Math.ceil(meta.size / MAX_PARTS), 512 * 1024 * 1024);
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
      await this.abortChunkedUpload(dstKey, id).catch(() => undefined);
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
