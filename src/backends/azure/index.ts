/**
 * Azure Blob Storage backend (block blobs) over @azure/storage-blob. The only module
 * importing @azure/*.
 *
 * Integrity: a single Put Blob carries the transactional Content-MD5 and each staged block
 * its own (the server rejects a body that does not match); a commit stores the
 * whole-content MD5 as the blob's Content-MD5 property, which listings return, so a
 * listing gives every blob hybridsync (or rclone, or azcopy) wrote with its MD5.
 *
 * Metadata: `mtime` in rclone's azureblob format (RFC 3339 with nanoseconds, so rclone reads
 * it) and `md5chksum` (base64, as on S3). Listings include metadata, so they carry the
 * exact mtime too: no per-blob HEAD (entries come with mtimeExact).
 *
 * Chunked uploads (ChunkWriter) are staged blocks: invisible until Put Block List commits
 * them. The upload token is a random block-id prefix; block ids are
 * base64(`${token}-${index:6}`), all the same length as Azure requires. Azure has no
 * abort: uncommitted blocks are never visible, are discarded by the next commit or Put Blob
 * of that name, and are garbage-collected by Azure after 7 days.
 *
 * Order: Azure lists in UTF-16 order; inByteOrder() turns that into compareKeys order.
 */
import type { BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type {
  AccountProbe,
  ArchiveState,
  Backend,
  ChunkLimits,
  ChunkWriter,
  ChunkedUpload,
  CompletedChunk,
  Features,
  ListOptions,
  OpOptions,
  ReadOptions,
  RestoreAnswer,
  RestoreRequest,
  Tagger,
  Tierer,
  TierOptions,
  WriteOptions,
  Body,
} from '../../core/backend.js';
import { type Entry, type WriteMeta, type WriteResult } from '../../core/entry.js';
import { ConfigError, IntegrityError, InternalError, NotFoundError, SourceChangedError, sizeMismatch, type HybridsyncError } from '../../core/errors.js';
import { rangeListPrefix, withinKeyRange } from '../../core/key-range.js';
import type { Location } from '../../core/location.js';
import { bodyBytes, discardBody } from '../body.js';
import { retry } from '../../lib/retry.js';
import { parseMtime, rfc3339Nano } from '../../lib/mtime.js';
import { createBlobServiceClient, resolveAzureConnection, type AzureConnectionOptions, type ResolvedAzureConnection } from './client.js';
import { mapAzureError } from './errors.js';
import { inByteOrder } from './order.js';

export { describeAzureConnection, type AzureConnectionDescription, type AzureConnectionOptions } from './client.js';

export interface AzureBackendOptions {
  /** Attempts per request for retryable errors (default 5). */
  readonly retries?: number;
  readonly onRetry?: (what: string, err: HybridsyncError, attempt: number) => void;
  /** Access tier for new blobs when the write does not name one: Hot, Cool, Cold or Archive. */
  readonly accessTier?: string;
}

export interface AzureUrl {
  readonly container: string;
  /** '' or a prefix ending in '/'. */
  readonly prefix: string;
}

/** What a listing item and a Get Blob Properties response both say about a blob. */
interface BlobFacts {
  readonly contentLength?: number | undefined;
  readonly contentMD5?: Uint8Array | undefined;
  readonly etag?: string | undefined;
  readonly lastModified?: Date | undefined;
  readonly accessTier?: string | undefined;
}

const META_MTIME = 'mtime';
const META_MD5 = 'md5chksum';
const DIR_MARKER_META = 'hdi_isfolder';
const MAX_BLOCKS = 50_000;
const MAX_BLOCK_SIZE = 4000 * 1024 * 1024;
/** One Put Blob carries at most this much; larger bodies go up in blocks (ChunkWriter). */
const MAX_PUT_BLOB = 5000 * 1024 * 1024;
const TOKEN = /^hs[0-9a-f]{16}$/;
const TIERS: Readonly<Record<string, string>> = { hot: 'Hot', cool: 'Cool', cold: 'Cold', archive: 'Archive' };

/** `az://container/prefix` → container and prefix; ConfigError for anything else. */
export function parseAzureUrl(url: string): AzureUrl {
  const m = /^az:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!m || !m[1]) throw new ConfigError(`malformed Azure URL "${url}"`, { hint: 'use az://container or az://container/prefix' });
  const container = m[1];
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
    throw new ConfigError(`invalid container name "${container}" in ${url}`, {
      hint: 'container names are 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit',
    });
  }
  let prefix = (m[2] ?? '').replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  return { container, prefix };
}

/** Access tier for a storage class name (case-insensitive); ConfigError for anything else. */
export function accessTierOf(storageClass: string): string {
  const t = TIERS[storageClass.toLowerCase()];
  if (!t) throw new ConfigError(`unknown Azure access tier "${storageClass}"`, { hint: 'Azure access tiers are Hot, Cool, Cold and Archive' });
  return t;
}

/** Azure metadata names must be C# identifiers: other characters become '_'. */
function metaName(k: string): string {
  const n = k.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[0-9]/.test(n) ? `_${n}` : n;
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
function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '') || undefined;
}
function hexOf(b: Uint8Array | undefined): string | undefined {
  return b && b.length === 16 ? Buffer.from(b).toString('hex') : undefined;
}


export class AzureBlobBackend implements Backend, ChunkWriter, Tagger, AccountProbe, Tierer {
  readonly type = 'azureblob';
  readonly features: Features = {
    serverSideCopy: false,
    chunkedUpload: true,
    createsRoot: false,
    cheapReads: false,
    tags: true,
    storageClass: true,
    tiering: true,
    metadata: true,
    maxKeyBytes: 1024,
  };
  readonly chunkLimits: ChunkLimits = { minChunkSize: 1024 * 1024, maxChunkSize: MAX_BLOCK_SIZE, maxChunks: MAX_BLOCKS };
  readonly uri: string;
  readonly container: string;
  readonly prefix: string;
  readonly client: BlobServiceClient;
  private readonly containerClient: ContainerClient;
  private readonly conn: ResolvedAzureConnection;
  private readonly retries: number;
  private readonly onRetry: AzureBackendOptions['onRetry'];
  private readonly accessTier: string | undefined;

  constructor(
    readonly location: Location,
    conn: AzureConnectionOptions,
    opts: AzureBackendOptions = {},
  ) {
    if (location.type !== 'azureblob') throw new InternalError(`AzureBlobBackend given a ${location.type} location`);
    this.uri = location.display;
    this.container = location.container;
    this.prefix = location.path;
    if (this.prefix && !this.prefix.endsWith('/')) throw new InternalError(`Azure location path must end in '/': ${this.prefix}`);
    this.conn = resolveAzureConnection(conn);
    this.client = createBlobServiceClient(conn, this.conn);
    this.containerClient = this.client.getContainerClient(this.container);
    this.retries = opts.retries ?? 5;
    this.onRetry = opts.onRetry;
    this.accessTier = opts.accessTier !== undefined ? accessTierOf(opts.accessTier) : undefined;
  }

  private where(key?: string): string {
    return `az://${this.container}/${this.prefix}${key ?? ''}`;
  }

  private blob(key: string): BlockBlobClient {
    return this.containerClient.getBlockBlobClient(this.prefix + key);
  }

  /** One SDK request with typed errors and jittered backoff for the retryable ones. */
  call<T>(what: string, key: string | undefined, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retry(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw mapAzureError(err, this.where(key), this.conn.endpoint);
        }
      },
      {
        attempts: this.retries,
        baseDelayMs: 200,
        maxDelayMs: 10_000,
        signal,
        // a failed precondition (the source changed) fails the same way every time
        isRetryable: (e) => (e as HybridsyncError).retryable === true && (e as HybridsyncError).kind !== 'source-changed',
        onRetry: (e, attempt) => this.onRetry?.(`${what} ${this.where(key)}`, e as HybridsyncError, attempt),
      },
    );
  }

  /** Checks the credentials without the container: lists a few containers of the account. */
  async probeAccount(opts: OpOptions = {}): Promise<string> {
    const page = await this.call(
      'list containers',
      undefined,
      async () => (await this.client.listContainers({ abortSignal: opts.signal }).byPage({ maxPageSize: 100 }).next()).value,
      opts.signal,
    );
    const n = page?.containerItems?.length ?? 0;
    const more = page?.continuationToken ? '+' : '';
    return `account ${this.conn.account} at ${this.conn.endpoint}: ${n}${more} container${n === 1 && !more ? '' : 's'} visible`;
  }

  /** Creates the container if it does not exist (--create-bucket). */
  async createContainer(signal?: AbortSignal): Promise<void> {
    try {
      await this.call('create container', undefined, () => this.containerClient.create({ abortSignal: signal }), signal);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      if (cause?.code !== 'ContainerAlreadyExists') throw err;
    }
  }

  private entryOf(key: string, item: { properties: BlobFacts; metadata?: Record<string, string> | undefined }): Entry {
    const p = item.properties;
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(item.metadata ?? {})) meta[k.toLowerCase()] = decodeMeta(v);
    const mtimeRaw = meta[META_MTIME];
    const mtime = mtimeRaw !== undefined ? parseMtime(mtimeRaw) : undefined;
    const md5b64 = meta[META_MD5];
    const md5FromMeta = md5b64 ? Buffer.from(md5b64, 'base64').toString('hex') : undefined;
    const md5 = hexOf(p.contentMD5) ?? (md5FromMeta?.length === 32 ? md5FromMeta : undefined);
    const etag = unquote(p.etag);
    return {
      key,
      size: p.contentLength ?? 0,
      mtimeMs: mtime ? mtime.ms : (p.lastModified?.getTime() ?? 0),
      mtimeExact: mtime !== undefined,
      ...(mtime?.ns ? { mtimeNs: mtime.ns } : {}),
      ...(md5 ? { md5 } : {}),
      ...(etag ? { etag } : {}),
      ...(p.accessTier ? { storageClass: p.accessTier } : {}),
      metadata: meta,
    };
  }

  list(opts: ListOptions = {}): AsyncIterable<Entry> {
    // no server-side start-after: the range narrows the prefix, the rest is skipped here
    return withinKeyRange(inByteOrder(this.listUtf16(opts)), opts);
  }

  private async *listUtf16(opts: ListOptions): AsyncGenerator<Entry> {
    const prefix = this.prefix + rangeListPrefix(opts.prefix ?? '', opts);
    let marker: string | undefined;
    do {
      let page;
      try {
        page = await this.call(
          'list',
          undefined,
          async () => {
            const pages = this.containerClient
              .listBlobsFlat({ ...(prefix ? { prefix } : {}), includeMetadata: true, abortSignal: opts.signal })
              .byPage({ ...(marker ? { continuationToken: marker } : {}), maxPageSize: 5000 });
            return (await pages.next()).value;
          },
          opts.signal,
        );
      } catch (err) {
        if (opts.allowMissingRoot && (err as HybridsyncError).kind === 'not-found') return;
        throw err;
      }
      if (!page) return;
      for (const item of page.segment.blobItems) {
        const key = item.name.slice(this.prefix.length);
        const size = item.properties.contentLength ?? 0;
        if (key === '' || (size === 0 && (key.endsWith('/') || item.metadata?.[DIR_MARKER_META] === 'true'))) continue; // directory markers
        yield this.entryOf(key, item);
      }
      marker = page.continuationToken || undefined;
    } while (marker);
  }

  async stat(key: string, opts: OpOptions = {}): Promise<Entry | undefined> {
    try {
      const p = await this.call('stat', key, () => this.blob(key).getProperties({ abortSignal: opts.signal }), opts.signal);
      return this.entryOf(key, { properties: p, metadata: p.metadata });
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    const start = opts.start ?? 0;
    if (opts.end !== undefined && opts.end <= start) return Readable.from([]);
    const count = opts.end !== undefined ? opts.end - start : undefined;
    const etag = opts.ifMatch?.etag;
    const res = await this.call(
      'read',
      key,
      () => this.blob(key).download(start, count, { abortSignal: opts.signal, ...(etag ? { conditions: { ifMatch: `"${etag}"` } } : {}) }),
      opts.signal,
    );
    const body = res.readableStreamBody as Readable | undefined;
    if (!body) throw new NotFoundError(`empty body for ${this.where(key)}`);
    if (opts.ifMatch && !etag && opts.start === undefined && opts.end === undefined && res.contentLength !== opts.ifMatch.size) {
      body.destroy();
      throw new SourceChangedError(`${this.where(key)} changed since it was listed`);
    }
    return body;
  }

  async getTags(key: string, opts: OpOptions = {}): Promise<Record<string, string>> {
    const r = await this.call('get tags', key, () => this.blob(key).getTags({ abortSignal: opts.signal }), opts.signal);
    return { ...r.tags };
  }

  /** User metadata plus mtime and md5chksum, with names Azure accepts. */
  blobMetadata(meta: WriteMeta, md5?: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta.metadata ?? {})) out[metaName(k)] = encodeMeta(v);
    out[META_MTIME] = rfc3339Nano(meta.mtimeMs, meta.mtimeNs);
    const m = md5 ?? meta.md5;
    if (m) out[META_MD5] = Buffer.from(m, 'hex').toString('base64');
    return out;
  }

  tierFor(meta: WriteMeta): string | undefined {
    return meta.storageClass !== undefined ? accessTierOf(meta.storageClass) : this.accessTier;
  }

  tagsFor(meta: WriteMeta): Record<string, string> | undefined {
    return meta.tags && Object.keys(meta.tags).length > 0 ? { ...meta.tags } : undefined;
  }

  async write(key: string, body: Body, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    try {
      if (meta.size > MAX_PUT_BLOB) {
        throw new ConfigError(`${this.where(key)}: ${meta.size} bytes is more than one Put Blob can carry (5000 MiB)`, {
          hint: 'upload it in blocks (the sync engine does this at --multipart-threshold)',
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
    if (meta.md5 && meta.md5 !== md5) throw new IntegrityError(`${this.where(key)}: content MD5 ${md5} differs from the source's ${meta.md5}`);
    const tier = this.tierFor(meta);
    const tags = this.tagsFor(meta);
    const metadata = this.blobMetadata(meta, md5);
    const r = await this.call(
      'put',
      key,
      () =>
        // transactionalContentMD5 (the Content-MD5 header, verified by the server) is read by
        // upload() but missing from BlockBlobUploadOptions' type
        this.blob(key).upload(data, len, {
          abortSignal: opts.signal,
          transactionalContentMD5: digest,
          blobHTTPHeaders: { blobContentMD5: digest, ...(meta.contentType ? { blobContentType: meta.contentType } : {}) },
          metadata,
          ...(tier ? { tier } : {}),
          ...(tags ? { tags } : {}),
        } as Parameters<BlockBlobClient['upload']>[2]),
      opts.signal,
    );
    opts.onProgress?.(len);
    const echoed = hexOf(r.contentMD5);
    if (echoed && echoed !== md5) throw new IntegrityError(`${this.where(key)}: server computed MD5 ${echoed}, sent ${md5}`);
    const etag = unquote(r.etag);
    return {
      entry: { key, size: len, mtimeMs: meta.mtimeMs, mtimeExact: true, md5, ...(etag ? { etag } : {}), ...(tier ? { storageClass: tier } : {}) },
      md5,
      bytesSent: len,
    };
  }

  static blockId(token: string, index: number): string {
    return Buffer.from(`${token}-${String(index).padStart(6, '0')}`).toString('base64');
  }

  async openChunkedUpload(key: string, meta: WriteMeta, _opts: OpOptions = {}): Promise<ChunkedUpload> {
    this.tierFor(meta); // a bad tier fails now, not after every chunk was sent
    // Nothing to create on the server: blocks exist once staged.
    return new AzureChunkedUpload(this, key, `hs${randomBytes(8).toString('hex')}`, meta, new Map());
  }

  async resumeChunkedUpload(key: string, uploadToken: string, meta: WriteMeta, opts: OpOptions = {}): Promise<ChunkedUpload | undefined> {
    if (!TOKEN.test(uploadToken)) return undefined;
    let list;
    try {
      list = await this.call('get block list', key, () => this.blob(key).getBlockList('uncommitted', { abortSignal: opts.signal }), opts.signal);
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
    const present = new Map<number, string>();
    const ours = new RegExp(`^${uploadToken}-(\\d{6})$`);
    for (const b of list.uncommittedBlocks ?? []) {
      const m = ours.exec(Buffer.from(b.name, 'base64').toString('latin1'));
      if (m) present.set(Number(m[1]), b.name);
    }
    if (present.size === 0) return undefined;
    return new AzureChunkedUpload(this, key, uploadToken, meta, present);
  }

  /**
   * Azure has no call that discards one upload's staged blocks. They are invisible, are
   * dropped by the next commit or Put Blob of this name, and expire after 7 days. The only
   * way to drop them now (commit an empty list, then delete) would briefly show an empty
   * blob, or destroy an existing one: so this does nothing, on purpose.
   */
  async abortChunkedUpload(_key: string, _uploadToken: string, _opts: OpOptions = {}): Promise<void> {}

  async remove(key: string, opts: OpOptions = {}): Promise<void> {
    await this.call('delete', key, () => this.blob(key).deleteIfExists({ abortSignal: opts.signal }), opts.signal);
  }

  // ------------------------------------------------------------ Tierer (access tiers)

  /**
   * Set Blob Tier: content, metadata, tags and the ETag stay. Set Blob Tier takes no ETag
   * condition, so the object is compared with `ifMatch` just before (a change in between
   * changes the tier of the new content, never the content).
   */
  async setStorageClass(key: string, storageClass: string, opts: TierOptions = {}): Promise<Entry> {
    const tier = accessTierOf(storageClass);
    const before = await this.stat(key, opts);
    if (!before) throw new NotFoundError(`not found: ${this.where(key)}`);
    if (opts.ifMatch && ((opts.ifMatch.etag !== undefined && opts.ifMatch.etag !== before.etag) || opts.ifMatch.size !== before.size)) {
      throw new SourceChangedError(`${this.where(key)} changed since it was listed`);
    }
    await this.call('set tier', key, () => this.blob(key).setAccessTier(tier as never, { abortSignal: opts.signal }), opts.signal);
    const after = await this.stat(key, opts);
    if (!after || after.size !== before.size || after.md5 !== before.md5 || after.mtimeMs !== before.mtimeMs) {
      throw new IntegrityError(`${this.where(key)}: the blob changed while its tier was set (${after?.size} bytes, was ${before.size})`);
    }
    if (after.storageClass !== tier) throw new IntegrityError(`${this.where(key)}: asked for tier ${tier}, the server reports ${after.storageClass}`);
    return after;
  }

  /** From Get Blob Properties: Archive, with or without a rehydration pending. */
  async archiveState(key: string, opts: OpOptions = {}): Promise<ArchiveState | undefined> {
    let p;
    try {
      p = await this.call('stat', key, () => this.blob(key).getProperties({ abortSignal: opts.signal }), opts.signal);
    } catch (err) {
      if ((err as HybridsyncError).kind === 'not-found' && !(err as HybridsyncError).fatal) return undefined;
      throw err;
    }
    const storageClass = p.accessTier ?? 'Hot';
    const pending = /^rehydrate-pending-to-(\w+)$/i.exec(p.archiveStatus ?? '');
    if (pending) return { state: 'restoring', storageClass, to: accessTierOf(pending[1]!) };
    return storageClass === 'Archive' ? { state: 'archived', storageClass } : { state: 'online', storageClass };
  }

  /**
   * Rehydration: Set Blob Tier to `rehydrateTo` (Hot unless named) at Standard or High
   * priority. It is permanent (the blob leaves the Archive tier); `days` does not apply.
   * A blob already being rehydrated answers in-progress, one not in Archive not-archived.
   */
  async requestRestore(key: string, req: RestoreRequest, opts: OpOptions = {}): Promise<RestoreAnswer> {
    const state = await this.archiveState(key, opts);
    if (!state) throw new NotFoundError(`not found: ${this.where(key)}`);
    if (state.state === 'restoring') return 'in-progress';
    if (state.state !== 'archived') return 'not-archived';
    const to = accessTierOf(req.rehydrateTo ?? 'Hot');
    if (to === 'Archive') throw new ConfigError(`cannot rehydrate ${this.where(key)} to the Archive tier`, { hint: 'rehydrate to Hot, Cool or Cold' });
    try {
      await this.call(
        'rehydrate',
        key,
        () => this.blob(key).setAccessTier(to as never, { abortSignal: opts.signal, rehydratePriority: req.priority === 'high' ? 'High' : 'Standard' }),
        opts.signal,
      );
    } catch (err) {
      if ((err as HybridsyncError).kind === 'restore-pending') return 'in-progress'; // BlobBeingRehydrated
      throw err;
    }
    return 'requested';
  }

  async close(): Promise<void> {}

  /** @internal for AzureChunkedUpload */
  whereOf(key: string): string {
    return this.where(key);
  }
  /** @internal for AzureChunkedUpload */
  blobOf(key: string): BlockBlobClient {
    return this.blob(key);
  }
}

class AzureChunkedUpload implements ChunkedUpload {
  constructor(
    private readonly backend: AzureBlobBackend,
    private readonly key: string,
    readonly uploadToken: string,
    private readonly meta: WriteMeta,
    readonly present: ReadonlyMap<number, string>,
  ) {}

  /** Stages the block with its transactional Content-MD5: the server rejects damaged bytes. */
  async writeChunk(index: number, data: Buffer, _sha256: string, opts: OpOptions = {}): Promise<string> {
    const limits = this.backend.chunkLimits;
    if (!Number.isInteger(index) || index < 0 || index >= limits.maxChunks) throw new InternalError(`chunk index ${index} out of range for ${this.backend.whereOf(this.key)}`);
    if (data.length > limits.maxChunkSize) throw new InternalError(`chunk ${index} of ${data.length} bytes exceeds Azure's block limit`);
    const id = AzureBlobBackend.blockId(this.uploadToken, index);
    const md5 = createHash('md5').update(data).digest();
    await this.backend.call(
      `stage block ${index}`,
      this.key,
      () => this.backend.blobOf(this.key).stageBlock(id, data, data.length, { transactionalContentMD5: md5, abortSignal: opts.signal }),
      opts.signal,
    );
    return id;
  }

  async complete(chunks: readonly CompletedChunk[], md5: string, opts: OpOptions = {}): Promise<Entry> {
    const where = this.backend.whereOf(this.key);
    const sorted = [...chunks].sort((a, b) => a.index - b.index);
    sorted.forEach((c, i) => {
      if (c.index !== i || c.token !== AzureBlobBackend.blockId(this.uploadToken, i)) throw new InternalError(`${where}: chunk ${i} missing or not of this upload`);
    });
    const size = sorted.reduce((n, c) => n + c.size, 0);
    if (size !== this.meta.size) throw sizeMismatch(where, size, this.meta.size);
    if (this.meta.md5 && this.meta.md5 !== md5) throw new IntegrityError(`${where}: content MD5 ${md5} differs from the source's ${this.meta.md5}`);
    const ids = sorted.map((c) => c.token);
    const tier = this.backend.tierFor(this.meta);
    const tags = this.backend.tagsFor(this.meta);
    const blob = this.backend.blobOf(this.key);
    await this.backend.call(
      'commit block list',
      this.key,
      () =>
        blob.commitBlockList(ids, {
          abortSignal: opts.signal,
          blobHTTPHeaders: { blobContentMD5: Buffer.from(md5, 'hex'), ...(this.meta.contentType ? { blobContentType: this.meta.contentType } : {}) },
          metadata: this.backend.blobMetadata(this.meta, md5),
          ...(tier ? { tier } : {}),
          ...(tags ? { tags } : {}),
        }),
      opts.signal,
    );
    // Every block was verified by its Content-MD5 on arrival; the blob must consist of
    // exactly those blocks, in order.
    const committed = await this.backend.call('get block list', this.key, () => blob.getBlockList('committed', { abortSignal: opts.signal }), opts.signal);
    const got = (committed.committedBlocks ?? []).map((b) => b.name);
    if (committed.blobContentLength !== size || got.length !== ids.length || got.some((id, i) => id !== ids[i])) {
      throw new IntegrityError(`${where}: stored blob (${committed.blobContentLength} bytes, ${got.length} blocks) does not match the ${ids.length} blocks, ${size} bytes committed`);
    }
    const etag = unquote(committed.etag);
    return { key: this.key, size, mtimeMs: this.meta.mtimeMs, mtimeExact: true, md5, ...(etag ? { etag } : {}), ...(tier ? { storageClass: tier } : {}) };
  }

  /** See AzureBlobBackend.abortChunkedUpload: staged blocks cannot be discarded one upload at a time. */
  async abort(_opts: OpOptions = {}): Promise<void> {}
}
