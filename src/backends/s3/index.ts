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
  type CopyObjectCommandInput,
  type CopyObjectCommandOutput,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  RestoreObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  AccountProbe,
  ArchiveState,
  PrefixLister,
  Backend,
  BatchRemover,
  Body,
  ChunkedUpload,
  ChunkWriter,
  CompletedChunk,
  Features,
  ListOptions,
  OpOptions,
  ReadOptions,
  RemoveRefusal,
  RestoreAnswer,
  RestoreRequest,
  ServerSideCopier,
  Tagger,
  Tierer,
  TierOptions,
  WholeReader,
  WriteOptions,
} from '../../core/backend.js';
import { rangeListPrefix, withinKeyRange } from '../../core/key-range.js';
import { sameAccount, type Location } from '../../core/location.js';
import type { Entry, WriteMeta, WriteResult } from '../../core/entry.js';
import { AlreadyExistsError, ConfigError, IntegrityError, NotFoundError, SourceChangedError, type HybridsyncError } from '../../core/errors.js';
import { retry } from '../../lib/retry.js';
import { parseMtime, unixSeconds } from '../../lib/mtime.js';
import { createS3Client, resolveConnection, signedPayloadHash, type ResolvedConnection, type S3ConnectionOptions } from './client.js';
import { bodyBytes, discardBody } from '../body.js';
import { DEFAULT_S3_FIXES, httpStatusOf, mapS3Error, remoteS3Fixes, type S3Fixes } from './errors.js';
import { closeSmallObjects, SmallObjects } from './small-objects.js';
import { S3_ARCHIVE_CLASSES } from '../../config/tier.js';

/** How far the server's clock may run behind ours when stray uploads are matched to an intent. */
const STRAY_UPLOAD_CLOCK_SKEW_MS = 5 * 60_000;

export interface S3TransferOptions {
  readonly storageClass?: string;
  /**
   * Largest object one CopyObject handles (S3's limit, 5 GiB). Larger ones move to another
   * storage class by a multipart copy of themselves, and get their MD5 metadata at the start
   * of their upload (it cannot be added by a copy afterwards). Tests lower it to run those
   * paths on small objects.
   */
  readonly singleCopyLimit?: number;
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

/** What a HEAD answers that an Entry is made of (the SDK's HeadObject output has these names). */
type HeadFields = Pick<HeadObjectCommandOutput, 'ContentLength' | 'LastModified' | 'ETag' | 'Metadata' | 'StorageClass'>;

/** HeadFields from raw response headers (lower-case names), as the SDK would parse them. */
function headFields(headers: ReadonlyMap<string, string>): HeadFields {
  const meta: Record<string, string> = {};
  for (const [name, value] of headers) if (name.startsWith('x-amz-meta-')) meta[name.slice('x-amz-meta-'.length)] = value;
  const length = headers.get('content-length');
  const modified = headers.get('last-modified');
  const storageClass = headers.get('x-amz-storage-class');
  return {
    ...(length !== undefined ? { ContentLength: Number(length) } : {}),
    ...(modified ? { LastModified: new Date(modified) } : {}),
    ...(headers.has('etag') ? { ETag: headers.get('etag') } : {}),
    Metadata: meta,
    ...(storageClass ? { StorageClass: storageClass as HeadFields['StorageClass'] } : {}),
  };
}
/** Intelligent-Tiering's archive access tiers (HEAD's x-amz-archive-status). */
const ARCHIVE_ACCESS = new Set(['ARCHIVE_ACCESS', 'DEEP_ARCHIVE_ACCESS']);
const RESTORE_TIER = { bulk: 'Bulk', standard: 'Standard', high: 'Expedited' } as const;

/** HEAD's x-amz-restore: `ongoing-request="true"`, or `ongoing-request="false", expiry-date="…"`. */
export function parseRestoreHeader(v: string | undefined): { ongoing: boolean; until?: number } | undefined {
  if (!v) return undefined;
  const ongoing = /ongoing-request\s*=\s*"?true"?/i.test(v);
  const expiry = /expiry-date\s*=\s*"([^"]+)"/i.exec(v)?.[1];
  const until = expiry !== undefined ? Date.parse(expiry) : NaN;
  return { ongoing, ...(Number.isFinite(until) ? { until } : {}) };
}

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

/** What a self-copy sets (CopyObject's input without the addressing and the guard). */
type SelfCopyFields = Omit<CopyObjectCommandInput, 'Bucket' | 'Key' | 'CopySource' | 'CopySourceIfMatch'>;
function etagOf(raw: string | undefined): string | undefined {
  return raw?.replace(/^"|"$/g, '') || undefined;
}
function isPlainMd5(etag: string | undefined): etag is string {
  return etag !== undefined && /^[0-9a-f]{32}$/.test(etag);
}
/**
 * The ETag S3 gives an object completed from these parts (the MD5 of the parts' MD5s in part
 * order, then the number of parts), or undefined when a part's ETag is not its MD5 (SSE-KMS,
 * say).
 */
export function multipartEtag(chunks: readonly CompletedChunk[]): string | undefined {
  if (chunks.length === 0 || !chunks.every((c) => isPlainMd5(c.token))) return undefined;
  const h = createHash('md5');
  for (const c of [...chunks].sort((a, b) => a.index - b.index)) h.update(Buffer.from(c.token, 'hex'));
  return `${h.digest('hex')}-${chunks.length}`;
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

export class S3Backend implements Backend, ServerSideCopier, Tagger, ChunkWriter, AccountProbe, PrefixLister, Tierer, WholeReader, BatchRemover {
  readonly type = 's3';
  readonly features: Features = {
    serverSideCopy: true,
    chunkedUpload: true,
    createsRoot: false,
    cheapReads: false,
    tags: true,
    storageClass: true,
    tiering: true,
    metadata: true,
    conditionalCreate: true,
    maxKeyBytes: 1024,
    batchRemove: true,
  };
  /** DeleteObjects takes at most 1000 keys. */
  readonly maxBatchRemove = 1000;
  readonly chunkLimits = { minChunkSize: MIN_PART, maxChunkSize: MAX_SINGLE_COPY, maxChunks: MAX_PARTS };
  get md5AtOpenAbove(): number {
    return this.xfer.singleCopyLimit ?? MAX_SINGLE_COPY;
  }
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  readonly connection: ResolvedConnection;
  private readonly xfer: S3TransferOptions;
  /** Lean single-request PUT and GET for small objects on path-style endpoints (small-objects.ts). */
  private readonly small: SmallObjects | undefined;

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
    this.small = SmallObjects.for(this.client, this.connection.endpoint, this.connection.forcePathStyle, this.connection.region, this.bucket);
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
    // a re-sync with no state database asks for every object's metadata: the lean request where there is one
    const fast = this.small;
    const h = fast
      ? await this.orMissing(() => this.call('stat', key, async () => headFields(await fast.head(this.prefix + key, opts.signal)), opts.signal))
      : await this.head(key, opts.signal);
    return h && this.entryFromHead(key, h);
  }

  /** HEAD of an object; undefined if it does not exist. */
  private head(key: string, signal?: AbortSignal): Promise<HeadObjectCommandOutput | undefined> {
    return this.orMissing(() => this.call('stat', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: signal }), signal));
  }

  /** What `fn` answers, or undefined if the object does not exist. */
  private async orMissing<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
  }

  private entryFromHead(key: string, h: HeadFields): Entry {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(h.Metadata ?? {})) meta[k.toLowerCase()] = decodeMeta(v);
    const etag = etagOf(h.ETag);
    const mtimeRaw = meta[META_MTIME];
    const mtime = mtimeRaw !== undefined ? parseMtime(mtimeRaw) : undefined;
    const md5b64 = meta[META_MD5];
    const md5 = md5b64 ? Buffer.from(md5b64, 'base64').toString('hex') : isPlainMd5(etag) ? etag : undefined;
    return {
      key,
      size: h.ContentLength ?? 0,
      mtimeMs: mtime ? mtime.ms : (h.LastModified?.getTime() ?? 0),
      mtimeExact: mtime !== undefined,
      ...(mtime?.ns ? { mtimeNs: mtime.ns } : {}),
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

  /**
   * The whole object in one buffer: one lean GET where the endpoint allows it, else the SDK's.
   * With ifMatch, the listed version only (If-Match on its ETag; a changed object is
   * SourceChangedError), and its size checked.
   */
  async readWhole(key: string, opts: ReadOptions = {}): Promise<Buffer> {
    const expect = opts.ifMatch;
    const small = this.small;
    let data: Buffer;
    if (small && expect) {
      const res = await this.call(
        'read',
        key,
        () => small.get({ key: this.prefix + key, size: expect.size, ...(expect.etag ? { ifMatch: expect.etag } : {}), ...(opts.signal ? { signal: opts.signal } : {}) }),
        opts.signal,
      );
      data = res.body;
    } else {
      const chunks: Buffer[] = [];
      for await (const c of (await this.read(key, opts)) as AsyncIterable<Buffer>) chunks.push(c);
      data = Buffer.concat(chunks);
    }
    if (expect && data.length !== expect.size) throw new SourceChangedError(`${this.where(key)} changed since it was listed (${data.length} bytes, listed ${expect.size})`);
    return data;
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
    out[META_MTIME] = unixSeconds(meta.mtimeMs, meta.mtimeNs);
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
    const fast = this.small;
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
          if (opts.ifAbsent && httpStatusOf(err) === 412) throw new AlreadyExistsError(`${this.where(key)} already exists`);
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
        const completed = await this.call(
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
        const made = multipartEtag(chunks);
        const told = etagOf(completed.ETag); // Ceph answers with none
        const quick = !meta.md5 && made && (!told || told === made) && meta.size <= this.md5AtOpenAbove;
        const final = quick ? await this.md5ByGuardedCopy(key, meta, md5, made, chunks.length, signal) : await this.md5AfterHead(key, meta, md5, chunks.length, signal);
        // the classification tags: Ceph RGW 16 drops those given to CreateMultipartUpload
        if (meta.tags && Object.keys(meta.tags).length > 0) await this.putTags(key, meta.tags, signal);
        return { ...final, mtimeMs: meta.mtimeMs, mtimeExact: true, md5 };
      },
      abort: (opts: OpOptions = {}) => this.abortChunkedUpload(key, uploadId, opts),
    };
  }

  /**
   * The whole-object MD5 into the metadata of a completed multipart upload by a self-copy
   * guarded by `made`, the ETag the parts make (If-Match): two requests after the last part
   * (complete, copy) instead of four. Ceph RGW 16 ignores that guard on a CopyObject but keeps
   * the ETag through the copy, so there the copy's ETag is the check: `made` means the object
   * copied was exactly these parts; a server that gives a copy a single-part ETag gives the
   * MD5 of these bytes. Another multipart ETag is another writer's object (its MD5 claim is
   * taken back, IntegrityError); any other ETag is read back once (HEAD) and its size checked.
   * A refused copy (412) is read back: ours already, or stored under another ETag of these
   * parts (a server whose ETags are not the parts' MD5s: md5AfterHead goes on), or not ours.
   */
  private async md5ByGuardedCopy(key: string, meta: WriteMeta, md5: string, made: string, parts: number, signal?: AbortSignal): Promise<Entry> {
    const copied = await this.copyOntoItselfIfStill('store md5 metadata', key, made, this.md5MetadataFields(meta, md5), signal);
    if (!copied) {
      // refused (412): not stored under `made`, or ours already — a copy whose answer was lost
      // went through and changed the ETag, and its retry was refused
      const head = await this.stat(key, { signal });
      if (head && head.size === meta.size && head.md5 === md5 && head.metadata?.[META_MD5] !== undefined) return head;
      if (head && head.size === meta.size && head.etag?.endsWith(`-${parts}`)) return this.md5AfterHead(key, meta, md5, parts, signal, head);
      throw new IntegrityError(`${this.where(key)}: replaced while its upload was completed (another writer?): ETag ${head?.etag}, ${head?.size} bytes, ${meta.size} sent`);
    }
    const etag = etagOf(copied.CopyObjectResult?.ETag);
    if (etag === made || etag === md5) {
      const storageClass = meta.storageClass ?? this.xfer.storageClass;
      return { key, size: meta.size, mtimeMs: meta.mtimeMs, mtimeExact: true, md5, etag, ...(storageClass ? { storageClass } : {}) };
    }
    const after = etag !== undefined && /-\d+$/.test(etag) ? undefined : await this.stat(key, { signal });
    if (after && after.size === meta.size) return after;
    throw await this.takeBackMd5(key, meta, `${this.where(key)}: replaced while its MD5 metadata was stored (another writer?): ETag ${etag ?? after?.etag}, ${after?.size ?? '?'} bytes, ${meta.size} sent`, signal);
  }

  /**
   * The way for servers whose ETags are not the parts' MD5s: read what was stored (`stored`,
   * if it was read already; it must consist of exactly the parts sent: the server verified
   * each), then add the MD5 by a self-copy and read it back.
   */
  private async md5AfterHead(key: string, meta: WriteMeta, md5: string, parts: number, signal?: AbortSignal, stored?: Entry): Promise<Entry> {
    const head = stored ?? (await this.stat(key, { signal }));
    if (!head || !head.etag?.endsWith(`-${parts}`) || head.size !== meta.size) {
      await this.remove(key).catch(() => undefined);
      throw new IntegrityError(`${this.where(key)}: stored object (ETag ${head?.etag}, ${head?.size} bytes) does not match the ${parts} parts, ${meta.size} bytes sent`);
    }
    return meta.md5 ? head : this.addMd5Metadata(key, head, meta, md5, signal);
  }

  /** A server-side CopyObject of `key` onto itself (up to 5 GiB), only of the version with `etag` when given. */
  private async copyOntoItself(what: string, key: string, etag: string | undefined, fields: SelfCopyFields, signal?: AbortSignal): Promise<void> {
    const input = this.selfCopyInput(key, etag, fields);
    await this.call(what, key, () => this.client.send(new CopyObjectCommand(input), { abortSignal: signal }), signal);
  }

  /** copyOntoItself of the version with `etag` only if that is what is stored: else no copy, and undefined at once (HTTP 412 is not retried here). */
  private copyOntoItselfIfStill(what: string, key: string, etag: string, fields: SelfCopyFields, signal?: AbortSignal): Promise<CopyObjectCommandOutput | undefined> {
    const input = this.selfCopyInput(key, etag, fields);
    return this.call(
      what,
      key,
      () =>
        this.client.send(new CopyObjectCommand(input), { abortSignal: signal }).catch((err: unknown) => {
          if (httpStatusOf(err) === 412) return undefined;
          throw err;
        }),
      signal,
    );
  }

  private selfCopyInput(key: string, etag: string | undefined, fields: SelfCopyFields): CopyObjectCommandInput {
    return { ...fields, Bucket: this.bucket, Key: this.prefix + key, CopySource: this.copySourceOf(key), ...(etag ? { CopySourceIfMatch: `"${etag}"` } : {}) };
  }

  /**
   * The whole-content MD5 of a multipart upload is known only after the last part, but
   * metadata is fixed at CreateMultipartUpload. A metadata-only self-copy (server side, no
   * bytes cross the network; on Ceph it shares the data by reference) stores it, guarded
   * by the ETag we just verified. Larger objects are given their MD5 at open
   * (`md5AtOpenAbove`); one whose source could not be hashed first keeps it in the state DB.
   */
  private async addMd5Metadata(key: string, head: Entry, meta: WriteMeta, md5: string, signal?: AbortSignal): Promise<Entry> {
    if (head.size > this.md5AtOpenAbove || !head.etag) return head;
    await this.copyOntoItself('store md5 metadata', key, head.etag, this.md5MetadataFields(meta, md5), signal);
    const after = await this.stat(key, { signal });
    if (after && after.size === head.size) return after;
    throw await this.takeBackMd5(key, meta, `${this.where(key)}: replaced while its MD5 metadata was stored (another writer?): ${after?.size ?? 'no'} bytes, ${meta.size} sent`, signal);
  }

  /**
   * After a self-copy put our MD5 and metadata on an object that turned out to be another
   * writer's (it replaced ours before the copy; Ceph RGW 16 ignores the copy's If-Match):
   * those claims are taken back by a copy with the object's other metadata, content type and
   * class. The error to throw: IntegrityError with `message`, saying so if the take-back failed.
   */
  private async takeBackMd5(key: string, meta: WriteMeta, message: string, signal?: AbortSignal): Promise<IntegrityError> {
    try {
      const h = await this.head(key, signal);
      if (!h) return new IntegrityError(message);
      const ours = new Set([...Object.keys(this.objectMeta(meta)), META_MD5]);
      const theirs = Object.fromEntries(Object.entries(h.Metadata ?? {}).filter(([k]) => !ours.has(k.toLowerCase())));
      await this.copyOntoItself('take back md5 metadata', key, etagOf(h.ETag), { MetadataDirective: 'REPLACE', Metadata: theirs, ContentType: h.ContentType, StorageClass: h.StorageClass }, signal);
      return new IntegrityError(message);
    } catch (err) {
      return new IntegrityError(`${message}; the MD5 metadata could not be taken back (${(err as Error).message})`, { cause: err });
    }
  }

  private md5MetadataFields(meta: WriteMeta, md5: string): SelfCopyFields {
    return { MetadataDirective: 'REPLACE', Metadata: this.objectMeta(meta, md5), ContentType: meta.contentType, StorageClass: (meta.storageClass ?? this.xfer.storageClass) as never };
  }

  // ------------------------------------------------------------ Tierer (storage classes)

  /**
   * Fills multipart upload `id` of `key` with the `size` bytes of `copySource` by
   * UploadPartCopy in `partSize` ranges (each guarded by `ifMatch`, the source's ETag) and
   * completes it; on any failure the upload is aborted, so nothing half-copied stays.
   */
  private async copyPartsInto(
    key: string,
    id: string,
    copySource: string,
    size: number,
    partSize: number,
    o: { readonly ifMatch?: string; readonly signal?: AbortSignal; readonly onProgress?: (bytes: number) => void },
  ): Promise<void> {
    const signal = o.signal;
    const parts: Array<{ PartNumber: number; ETag: string }> = [];
    try {
      for (let off = 0, n = 1; off < size; off += partSize, n++) {
        const end = Math.min(size, off + partSize) - 1;
        const r = await this.call(
          `copy part ${n}`,
          key,
          () =>
            this.client.send(
              new UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: this.prefix + key,
                UploadId: id,
                PartNumber: n,
                CopySource: copySource,
                CopySourceRange: `bytes=${off}-${end}`,
                ...(o.ifMatch ? { CopySourceIfMatch: `"${o.ifMatch}"` } : {}),
              }),
              { abortSignal: signal },
            ),
          signal,
        );
        parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag ?? '' });
        o.onProgress?.(end + 1 - off);
      }
      await this.call(
        'complete multipart copy',
        key,
        () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: id, MultipartUpload: { Parts: parts } }), {
            abortSignal: signal,
          }),
        signal,
      );
    } catch (err) {
      await this.abortChunkedUpload(key, id).catch(() => undefined);
      throw err;
    }
  }

  /** `bucket/key` as CopySource names this object (each path segment URL-encoded). */
  private copySourceOf(key: string): string {
    return `${this.bucket}/${(this.prefix + key).split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * CopyObject of the object onto itself with the new StorageClass, MetadataDirective and
   * TaggingDirective COPY, guarded by the ETag it had (CopySourceIfMatch): content, user
   * metadata, content type and tags stay. Above 5 GiB the copy goes in parts
   * (UploadPartCopy) with the metadata, headers and tags read from the object first. The
   * stored object is read back: same size, same mtime/md5chksum metadata, the new class.
   */
  async setStorageClass(key: string, storageClass: string, opts: TierOptions = {}): Promise<Entry> {
    const signal = opts.signal;
    const limit = this.xfer.singleCopyLimit ?? MAX_SINGLE_COPY;
    const planned = opts.ifMatch;
    // Looked at first, not left to CopySourceIfMatch alone: Ceph RGW 16 ignores that
    // condition on a CopyObject (tested), and would move a version nobody planned to move.
    const before = await this.head(key, signal);
    if (!before) throw new NotFoundError(`not found: ${this.where(key)}`);
    const etag = etagOf(before.ETag);
    const size = before.ContentLength ?? 0;
    if (planned && ((planned.etag !== undefined && planned.etag !== etag) || planned.size !== size)) {
      throw new SourceChangedError(`${this.where(key)} changed since it was listed`);
    }
    if (size > limit) await this.copyOntoItselfInParts(key, before, storageClass, signal);
    else {
      await this.copyOntoItself('change storage class', key, etag, { MetadataDirective: 'COPY', TaggingDirective: 'COPY', StorageClass: storageClass as never }, signal);
    }
    // read back: the same size, mtime and MD5 metadata, and the class asked for
    const after = await this.head(key, signal);
    const entry = after && this.entryFromHead(key, after);
    const kept = (k: string): boolean => (before.Metadata?.[k] ?? null) === (after?.Metadata?.[k] ?? null);
    if (!entry || entry.size !== size || !kept(META_MTIME) || !kept(META_MD5)) {
      throw new IntegrityError(`${this.where(key)}: after the storage class change the object has ${entry?.size} bytes (was ${size}) or lost its mtime/md5chksum metadata`);
    }
    if (entry.storageClass !== storageClass) {
      throw new IntegrityError(`${this.where(key)}: asked for storage class ${storageClass}, the server reports ${entry.storageClass}`, {
        hint: 'the server may map storage classes to placement targets of its own; check its configuration',
      });
    }
    return entry;
  }

  /** The storage class change of an object over the single-copy limit: a multipart copy of itself. */
  private async copyOntoItselfInParts(key: string, h: HeadObjectCommandOutput, storageClass: string, signal?: AbortSignal): Promise<void> {
    const etag = etagOf(h.ETag);
    const size = h.ContentLength ?? 0;
    const tags = await this.getTags(key, { signal });
    const tagging = Object.keys(tags).length > 0 ? new URLSearchParams(Object.entries(tags)).toString() : undefined;
    const created = await this.call(
      'create multipart copy',
      key,
      () =>
        this.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Metadata: h.Metadata,
            ContentType: h.ContentType,
            ContentEncoding: h.ContentEncoding,
            ContentDisposition: h.ContentDisposition,
            ContentLanguage: h.ContentLanguage,
            CacheControl: h.CacheControl,
            Tagging: tagging,
            StorageClass: storageClass as never,
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    const id = created.UploadId;
    if (!id) throw new IntegrityError(`${this.where(key)}: the server returned no upload id`);
    const partSize = Math.max(Math.ceil(size / MAX_PARTS), Math.min(512 * 1024 * 1024, this.xfer.singleCopyLimit ?? MAX_SINGLE_COPY), MIN_PART);
    await this.copyPartsInto(key, id, this.copySourceOf(key), size, partSize, { ...(etag ? { ifMatch: etag } : {}), ...(signal ? { signal } : {}) });
    // Ceph RGW 16 ignores x-amz-tagging on CreateMultipartUpload: the tags are set again
    if (tagging) await this.putTags(key, tags, signal);
  }

  /** Sets an object's tags (after a multipart upload: Ceph RGW 16 drops those given at its creation). */
  private async putTags(key: string, tags: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<void> {
    await this.call(
      'put tags',
      key,
      () => this.client.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key: this.prefix + key, Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }), { abortSignal: signal }),
      signal,
    );
  }

  /** From HEAD: an archive class (or Intelligent-Tiering archive tier) with or without a restored copy. */
  async archiveState(key: string, opts: OpOptions = {}): Promise<ArchiveState | undefined> {
    const h = await this.head(key, opts.signal);
    if (!h) return undefined;
    const storageClass = h.StorageClass ?? 'STANDARD';
    const archived = S3_ARCHIVE_CLASSES.includes(storageClass) || (h.ArchiveStatus !== undefined && ARCHIVE_ACCESS.has(h.ArchiveStatus));
    if (!archived) return { state: 'online', storageClass };
    const r = parseRestoreHeader(h.Restore);
    if (r?.ongoing) return { state: 'restoring', storageClass };
    if (r) return { state: 'restored', storageClass, ...(r.until !== undefined ? { until: r.until } : {}) };
    return { state: 'archived', storageClass };
  }

  /**
   * RestoreObject: a temporary readable copy for `days` at the priority's retrieval tier
   * (Bulk, Standard, Expedited). 202 → requested; 200 (a restored copy exists, its expiry
   * extended) and 403 InvalidObjectState (not in an archive class) → not-archived; 409
   * RestoreAlreadyInProgress → in-progress. Ceph RGW answers 501 NotImplemented: an
   * UnsupportedError.
   */
  async requestRestore(key: string, req: RestoreRequest, opts: OpOptions = {}): Promise<RestoreAnswer> {
    const days = Math.max(1, Math.round(req.days));
    try {
      const r = await this.call(
        'restore',
        key,
        () =>
          this.client.send(
            new RestoreObjectCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              // Intelligent-Tiering's archive tiers restore into the tier itself: no Days
              RestoreRequest:
                req.storageClass === 'INTELLIGENT_TIERING' ? { GlacierJobParameters: { Tier: RESTORE_TIER[req.priority] } } : { Days: days, GlacierJobParameters: { Tier: RESTORE_TIER[req.priority] } },
            }),
            { abortSignal: opts.signal },
          ),
        opts.signal,
      );
      return r.$metadata.httpStatusCode === 200 ? 'not-archived' : 'requested';
    } catch (err) {
      if ((err as HybridsyncError).kind === 'restore-pending') return 'in-progress'; // 409 RestoreAlreadyInProgress
      if ((err as HybridsyncError).kind === 'archived') return 'not-archived'; // InvalidObjectState: not in an archive class
      throw err;
    }
  }

  /** Same endpoint and same credentials: the server can read the source for us. */
  canCopyFrom(source: Backend): boolean {
    return source instanceof S3Backend && sameAccount(source.location, this.location);
  }

  async copyFrom(source: Backend, srcKey: string, dstKey: string, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    if (!(source instanceof S3Backend)) throw new ConfigError('server-side copy needs an S3 source');
    const signal = opts.signal;
    const copySource = source.copySourceOf(srcKey);
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
    const partSize = Math.max(Math.ceil(meta.size / MAX_PARTS), 512 * 1024 * 1024);
    await this.copyPartsInto(dstKey, created.UploadId!, copySource, meta.size, partSize, { ...(signal ? { signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
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

  async removeMany(keys: readonly string[], opts: OpOptions = {}): Promise<RemoveRefusal[]> {
    if (keys.length === 0) return [];
    if (keys.length > this.maxBatchRemove) throw new RangeError(`removeMany takes at most ${this.maxBatchRemove} keys, got ${keys.length}`);
    // Quiet: the reply lists only the keys that were not removed
    const r = await this.call(
      'delete objects',
      keys.length === 1 ? keys[0] : undefined,
      () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((k) => ({ Key: this.prefix + k })), Quiet: true } }), {
          abortSignal: opts.signal,
        }),
      opts.signal,
    );
    return (r.Errors ?? []).map((e) => {
      const key = (e.Key ?? '').startsWith(this.prefix) ? (e.Key ?? '').slice(this.prefix.length) : (e.Key ?? '');
      // a per-key error has the shape of a request's: its code is the error name
      const error = mapS3Error({ name: e.Code ?? 'UnknownError', message: e.Message, $metadata: {} }, this.where(key), this.endpointLabel, this.fixes);
      return { key, error };
    });
  }

  async close(): Promise<void> {
    closeSmallObjects(this.client);
    this.client.destroy();
  }
}
