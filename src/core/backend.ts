import type { Readable } from 'node:stream';
import type { Entry, WriteMeta, WriteResult } from './entry.js';
import type { HybridsyncError } from './errors.js';
import type { KeyRange } from './key-range.js';
import type { Location } from './location.js';

/**
 * What a write takes: a stream, or the bytes themselves. Small files — most of an ML tree's
 * file count — travel as one Buffer from read to request, without stream machinery per file.
 */
export type Body = Readable | Buffer;

/**
 * The Backend contract. Every storage system hybridsync talks to implements the five
 * required methods; everything else is an optional capability announced in
 * {@link Features} and probed once by the engine (rclone's fs.Features idea).
 *
 * Errors: methods throw the typed errors of ./errors.ts — NotFoundError for a missing key,
 * MissingRootError for a missing bucket/directory root, PermissionError/AuthError for
 * denied access, TransientError/ThrottledError/UnreachableError for what a retry may fix.
 * Every method honours `signal`.
 */
export interface Backend {
  /** Backend type, e.g. 'local' or 's3'. */
  readonly type: string;
  /** The root as the user wrote it, for messages (never contains credentials): location.display. */
  readonly uri: string;
  /** Where this backend's root is: remote, container, prefix, endpoint, account, canonical id. */
  readonly location: Location;
  readonly features: Features;

  /**
   * Every entry under the root, recursively, in {@link compareKeys} order. Streams: memory
   * must not grow with the number of entries. Temporary files of in-flight writes are
   * never listed. A missing root lists as empty only when `allowMissingRoot` is set.
   */
  list(opts?: ListOptions): AsyncIterable<Entry>;

  /** One entry with full metadata, or undefined if the key does not exist. */
  stat(key: string, opts?: OpOptions): Promise<Entry | undefined>;

  /**
   * The content (or the byte range `[start, end)`). With `ifMatch`, fails with
   * SourceChangedError if the object no longer has that etag/size+mtime.
   */
  read(key: string, opts?: ReadOptions): Promise<Readable>;

  /**
   * Stores `body` under `key` atomically: readers see the old content or the whole new
   * content, never a part. The MD5 of the bytes is computed while they stream and, when
   * `meta.md5` is given, compared before the new content becomes visible
   * (IntegrityError otherwise, leaving nothing behind). Source mtime is preserved. A body
   * of other than `meta.size` bytes fails with SourceChangedError and stores nothing.
   */
  write(key: string, body: Body, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult>;

  /** Removes the key; removing a missing key is not an error. */
  remove(key: string, opts?: OpOptions): Promise<void>;

  /** Releases connections, file handles. */
  close?(): Promise<void>;
}

export interface OpOptions {
  readonly signal?: AbortSignal;
}
/**
 * `startAfter` / `endAt` (relative to the root, like keys) restrict the listing to the keys
 * after `startAfter` and up to `endAt` in compareKeys order (a cluster shard); backends
 * narrow the server-side listing where they can (S3 StartAfter, a common prefix, skipped
 * directories) and never list an entry outside the range.
 */
export interface ListOptions extends OpOptions, KeyRange {
  /** List only keys starting with this prefix (relative to the root). */
  readonly prefix?: string;
  /** Treat a missing root (directory/bucket) as empty instead of failing. */
  readonly allowMissingRoot?: boolean;
  /**
   * List only keys after this one (relative to the root, {@link compareKeys} order): S3's
   * ListObjectsV2 `start-after`, so following new objects costs requests for the new ones only.
   */
  readonly startAfter?: string;
}
export interface ReadOptions extends OpOptions {
  readonly start?: number;
  /** Exclusive end offset. */
  readonly end?: number;
  /** The entry the caller planned with; the read fails if the source no longer matches it. */
  readonly ifMatch?: Entry;
}
export interface WriteOptions extends OpOptions {
  /** Called with byte counts as they are accepted by the destination (after retries). */
  readonly onProgress?: (bytes: number) => void;
  /**
   * Store only if no object has this key yet, atomically at the server (S3 `If-None-Match: *`);
   * otherwise fail with AlreadyExistsError and change nothing. Only where
   * {@link Features.conditionalCreate} is true; elsewhere callers HEAD first.
   */
  readonly ifAbsent?: boolean;
}

/**
 * Optional capability: uploads in chunks that become visible only when committed — S3
 * multipart uploads, Azure staged blocks (rclone's OpenChunkWriter). The engine's driver
 * (sync/chunked.ts) splits the stream, hashes each chunk (SHA-256) and the whole (MD5),
 * runs chunks concurrently, journals the opaque tokens and, after a crash, resumes from
 * the chunks the server still holds. A backend only provides these primitives.
 *
 * Errors as for Backend; every chunk's bytes must be verified by the server (a signed
 * SHA-256, a transactional Content-MD5), so a chunk that arrived damaged is rejected.
 */
export interface ChunkWriter {
  readonly chunkLimits: ChunkLimits;
  /**
   * Objects larger than this can carry their whole-content MD5 only when it is given at
   * open (`meta.md5`): the store cannot add it once the upload is complete (S3: metadata is
   * rewritten by a CopyObject of the object onto itself, which stops at 5 GiB). The engine
   * hashes such a source before the upload when reading it twice is cheap, so the object
   * can be verified later from the destination alone. Absent: the MD5 can always be added.
   */
  readonly md5AtOpenAbove?: number;
  /**
   * Starts an upload for `key`. Not cancelled mid-request by `signal`: an upload the
   * server created but the caller never heard of could not be journaled or cleaned up.
   */
  openChunkedUpload(key: string, meta: WriteMeta, opts?: OpOptions): Promise<ChunkedUpload>;
  /**
   * Re-attaches to an upload a previous run journaled. Resolves with the chunks the server
   * still holds in `present`, or undefined when the upload no longer exists there.
   */
  resumeChunkedUpload(key: string, uploadToken: string, meta: WriteMeta, opts?: OpOptions): Promise<ChunkedUpload | undefined>;
  /** Discards an upload a killed run left behind; a missing upload is not an error. */
  abortChunkedUpload(key: string, uploadToken: string, opts?: OpOptions): Promise<void>;
  /**
   * Aborts the uploads open at the server for exactly `key` that were started at or after
   * `since` (server clock, with a few minutes' allowance for skew), except those in `keep`:
   * uploads whose create request went out but whose token never reached the journal.
   * Resolves with how many were aborted. Absent where opening an upload stores nothing at
   * the server until the first chunk (Azure: uncommitted blocks expire on their own).
   */
  abortStrayChunkedUploads?(key: string, since: Date, keep: ReadonlySet<string>, opts?: OpOptions): Promise<number>;
}

export interface ChunkLimits {
  readonly minChunkSize: number;
  readonly maxChunkSize: number;
  readonly maxChunks: number;
}

export interface ChunkedUpload {
  /** Opaque identity of the upload (S3 upload id, Azure block-id prefix), journaled. */
  readonly uploadToken: string;
  /** Chunks the server already holds: 0-based index → the token writeChunk returned. */
  readonly present: ReadonlyMap<number, string>;
  /**
   * Stores chunk `index` (0-based, `chunkSize` bytes except the last). `sha256` is the hex
   * SHA-256 of `data`. Resolves with an opaque token that complete() needs.
   */
  writeChunk(index: number, data: Buffer, sha256: string, opts?: OpOptions): Promise<string>;
  /**
   * Commits the chunks in index order as the object's content, with `md5` (hex, of the
   * whole content) stored as its MD5; verifies the stored object (size, chunk count) and
   * resolves with its entry (mtime = meta.mtimeMs, md5 set).
   */
  complete(chunks: readonly CompletedChunk[], md5: string, opts?: OpOptions): Promise<Entry>;
  /** Discards the upload and every staged chunk. */
  abort(opts?: OpOptions): Promise<void>;
}

export interface CompletedChunk {
  readonly index: number;
  readonly token: string;
  readonly size: number;
  /** Hex SHA-256 of this chunk's bytes: a resumed chunk is reused only for the same bytes. */
  readonly sha256: string;
}

/**
 * Persistence of chunked uploads so a killed run resumes from the last stored chunk.
 * Implemented by the state database for one destination location; tokens are opaque.
 */
export interface ChunkJournal {
  /** A previously started upload of this key for the same source content, if any. */
  find(key: string, fingerprint: string): JournaledUpload | undefined;
  /**
   * Journals the intent to open an upload for `key`, before the create request goes out:
   * a run that stops before the token comes back leaves the intent, and a later run aborts
   * what the server holds for it (ChunkWriter.abortStrayChunkedUploads). Returns its id.
   */
  opening(key: string): string;
  /** Journals an opened upload; `opening` is the intent it resolves, dropped in the same transaction. */
  started(upload: JournaledUpload, opening?: string): void;
  /** Intents whose upload token never arrived: the key and when the intent was journaled. */
  openings(): Array<{ id: string; key: string; since: Date }>;
  /** The stray uploads of an intent were dealt with (or the create failed with nothing made). */
  openingResolved(id: string): void;
  chunkDone(uploadToken: string, chunk: CompletedChunk): void;
  finished(uploadToken: string): void;
  /** Uploads journaled here that no run has finished or aborted. */
  pending(): Array<{ key: string; uploadToken: string }>;
}

export interface JournaledUpload {
  readonly key: string;
  readonly uploadToken: string;
  /** Identity of the source content (location, key, size, mtime, etag) and chunk size. */
  readonly fingerprint: string;
  readonly chunkSize: number;
  readonly chunks: readonly CompletedChunk[];
}

/** Optional capabilities, probed once into this record. */
export interface Features {
  /** Can copy a key from another backend instance of the same endpoint without moving bytes. */
  readonly serverSideCopy: boolean;
  /** Implements {@link ChunkWriter}: large files go up in chunks, resumably. */
  readonly chunkedUpload: boolean;
  /** Reading is local I/O: hashing a file by reading it is cheap (no --download needed). */
  readonly cheapReads: boolean;
  /** Writing creates a missing root (a directory); an object store's bucket must exist first. */
  readonly createsRoot: boolean;
  /** Implements {@link Tagger}: classification travels as object tags. */
  readonly tags: boolean;
  /** Stores a storage class / access tier per object (--storage-class). */
  readonly storageClass: boolean;
  /**
   * Implements {@link Tierer}: moves objects between storage classes in place (tiering) and
   * brings archived objects back for reading (restore). Absent means false.
   */
  readonly tiering?: boolean;
  /**
   * Keeps user metadata with each object (WriteMeta.metadata), returned by stat — and by
   * listings where an entry's `metadata` is set. What a transform made a file from is
   * recorded there, so it can be verified from the destination alone.
   */
  readonly metadata: boolean;
  /**
   * Honours {@link WriteOptions.ifAbsent}: a create that fails if the key exists, decided by
   * the server in one request (Ceph RGW and AWS S3 answer `If-None-Match: *` with 412).
   * Absent means false.
   */
  readonly conditionalCreate?: boolean;
  /** Maximum key length in UTF-8 bytes (including the root's prefix), if limited. */
  readonly maxKeyBytes?: number;
  /**
   * Implements {@link BatchRemover}: many keys removed in one request (S3 DeleteObjects).
   * Absent means false: the engine removes one key per request.
   */
  readonly batchRemove?: boolean;
}

/**
 * Where an object stands on the archive path, as the store reports it:
 * - `online`: readable now (not in an archive class);
 * - `archived`: in an archive class, no readable copy; reading it fails with ObjectArchivedError;
 * - `restoring`: a restore was requested and has not completed (S3 `ongoing-request="true"`,
 *   Azure `archiveStatus: rehydrate-pending-to-*`);
 * - `restored`: still in the archive class, with a readable temporary copy (S3, until `until`).
 */
export type ArchiveState =
  | { readonly state: 'online'; readonly storageClass: string }
  | { readonly state: 'archived'; readonly storageClass: string }
  | { readonly state: 'restoring'; readonly storageClass: string; readonly to?: string }
  | { readonly state: 'restored'; readonly storageClass: string; readonly until?: number };

/** How fast (and how dearly) a restore should run: S3 Bulk/Standard/Expedited, Azure Standard/High rehydration. */
export type RestorePriority = 'bulk' | 'standard' | 'high';

export interface RestoreRequest {
  /** S3: how long the restored copy stays readable (the object stays in its archive class). */
  readonly days: number;
  readonly priority: RestorePriority;
  /** Azure: the tier the blob is rehydrated to, for good (Hot, Cool or Cold; default Hot). */
  readonly rehydrateTo?: string;
  /** The object's class as archiveState reported it (S3 Intelligent-Tiering archives restore without Days). */
  readonly storageClass?: string;
}

/**
 * What the store answered to a restore request: `requested` (accepted now), `in-progress`
 * (an earlier request is still running), `not-archived` (the object is readable as it is).
 */
export type RestoreAnswer = 'requested' | 'in-progress' | 'not-archived';

export interface TierOptions extends OpOptions {
  /** The entry the caller planned with: fail with SourceChangedError if the object changed since. */
  readonly ifMatch?: Entry;
}

/**
 * Optional capability: storage tiers. Implemented by S3 (storage classes) and Azure (access
 * tiers). Errors as for Backend; a class or tier the server does not know is a ConfigError
 * or the server's refusal mapped as usual.
 */
export interface Tierer {
  /**
   * Moves `key` to `storageClass` in place, keeping the content, user metadata (hybridsync's
   * mtime and md5chksum), content type and tags (S3: a CopyObject of the object onto itself
   * with MetadataDirective COPY; Azure: Set Blob Tier). Resolves with the entry as stored
   * now — its ETag may differ from before (S3 gives the copy of a multipart object a new one).
   */
  setStorageClass(key: string, storageClass: string, opts?: TierOptions): Promise<Entry>;
  /** The object's archive state (a HEAD / Get Blob Properties); undefined if it does not exist. */
  archiveState(key: string, opts?: OpOptions): Promise<ArchiveState | undefined>;
  /**
   * Asks the store to make an archived object readable: S3 RestoreObject (a temporary copy
   * for `days`), Azure: rehydrate to `rehydrateTo` (permanent). UnsupportedError where the
   * server does not implement restores (Ceph RGW answers 501 NotImplemented).
   */
  requestRestore(key: string, req: RestoreRequest, opts?: OpOptions): Promise<RestoreAnswer>;
}

export function hasTierer(b: Backend): b is Backend & Tierer {
  return b.features.tiering === true && typeof (b as Partial<Tierer>).setStorageClass === 'function';
}

/** Optional capability: server-side copy from another backend of the same kind. */
export interface ServerSideCopier {
  /** True when `source` lives on the same endpoint/account so copyFrom can be used. */
  canCopyFrom(source: Backend): boolean;
  copyFrom(source: Backend, srcKey: string, dstKey: string, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult>;
}

/**
 * Optional capability: removal of many keys in one request (S3 DeleteObjects, up to 1000
 * keys). Each key succeeds or fails on its own: a call resolves with the keys the server
 * refused, each with its typed error (PermissionError for a key a policy protects,
 * ThrottledError/TransientError for what a retry may fix); every other key is gone, a key
 * that was already missing included. It throws only when the request as a whole failed,
 * and then no key of it counts as removed. The engine's deletions (sync/delete.ts) use it
 * where {@link Features.batchRemove} is set.
 */
export interface BatchRemover {
  /** The most keys one call takes. */
  readonly maxBatchRemove: number;
  /** Removes up to {@link maxBatchRemove} keys; resolves with the ones that were refused. */
  removeMany(keys: readonly string[], opts?: OpOptions): Promise<RemoveRefusal[]>;
}

/** A key a batch removal did not remove, and why. */
export interface RemoveRefusal {
  readonly key: string;
  readonly error: HybridsyncError;
}

export function hasBatchRemover(b: Backend): b is Backend & BatchRemover {
  return b.features.batchRemove === true && typeof (b as Partial<BatchRemover>).removeMany === 'function';
}

/**
 * Optional capability: a whole object in one buffer, cheaper per file than a stream. The
 * engine uses it for what goes out in one request (below the chunk threshold, at most
 * WHOLE_BODY_MAX_BYTES), whose bytes a single PUT holds in memory anyway. With `ifMatch`,
 * fails with SourceChangedError when the object is no longer the listed one (size, mtime
 * or etag), including a change while it was read.
 */
export interface WholeReader {
  readWhole(key: string, opts?: ReadOptions): Promise<Buffer>;
}

/**
 * Optional capability: a file's bytes read block by block straight into the caller's
 * buffers, each block only when asked for (no stream, no read-ahead, no copy). A chunked
 * upload then sends the very buffers it was read into and reuses them for later chunks.
 */
export interface BlockReader {
  /**
   * Blocks of exactly `blockSize` bytes (the last may be shorter), each in a buffer from
   * `alloc` or a view of one from its first byte. With `opts.ifMatch`, reads that entry's
   * size and fails with SourceChangedError if the file changed. Stop early with return().
   */
  readBlocks(key: string, blockSize: number, alloc: (size: number) => Buffer, opts?: ReadOptions): AsyncGenerator<Buffer>;
}

export function hasBlockReader(b: Backend): b is Backend & BlockReader {
  return typeof (b as Partial<BlockReader>).readBlocks === 'function';
}

/** Objects up to this size may be read whole (WholeReader) and written from one buffer. */
export const WHOLE_BODY_MAX_BYTES = 64 * 1024 * 1024;

export function hasWholeReader(b: Backend): b is Backend & WholeReader {
  return typeof (b as Partial<WholeReader>).readWhole === 'function';
}

/** Optional capability: tags (S3 object tagging). */
export interface Tagger {
  getTags(key: string, opts?: OpOptions): Promise<Record<string, string>>;
}


/**
 * Optional capability: the immediate "directories" under a prefix — S3's delimiter listing —
 * so a follower finds new streams without listing every object. Yields keys relative to the
 * root ending in '/', in compareKeys order.
 */
export interface PrefixLister {
  listPrefixes(prefix: string, opts?: OpOptions): AsyncIterable<string>;
}

export function hasPrefixLister(b: Backend): b is Backend & PrefixLister {
  return typeof (b as Partial<PrefixLister>).listPrefixes === 'function';
}

/** Optional capability: check the credentials without naming a bucket (remote test). */
export interface AccountProbe {
  /** Resolves with a short description (e.g. "3 buckets visible"); throws AuthError etc. */
  probeAccount(opts?: OpOptions): Promise<string>;
}

export function hasAccountProbe(b: Backend): b is Backend & AccountProbe {
  return typeof (b as Partial<AccountProbe>).probeAccount === 'function';
}

export function hasServerSideCopy(b: Backend): b is Backend & ServerSideCopier {
  return b.features.serverSideCopy && typeof (b as Partial<ServerSideCopier>).copyFrom === 'function';
}
export function hasTags(b: Backend): b is Backend & Tagger {
  return b.features.tags && typeof (b as Partial<Tagger>).getTags === 'function';
}
export function hasChunkWriter(b: Backend): b is Backend & ChunkWriter {
  return b.features.chunkedUpload && typeof (b as Partial<ChunkWriter>).openChunkedUpload === 'function';
}
