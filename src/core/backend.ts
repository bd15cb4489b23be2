import type { Readable } from 'node:stream';
import type { Entry, WriteMeta, WriteResult } from './entry.js';

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
  /** The root as the user wrote it, for messages (never contains credentials). */
  readonly uri: string;
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
   * (IntegrityError otherwise, leaving nothing behind). Source mtime is preserved.
   */
  write(key: string, body: Readable, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult>;

  /** Removes the key; removing a missing key is not an error. */
  remove(key: string, opts?: OpOptions): Promise<void>;

  /** Releases connections, file handles. */
  close?(): Promise<void>;
}

export interface OpOptions {
  readonly signal?: AbortSignal;
}
export interface ListOptions extends OpOptions {
  /** List only keys starting with this prefix (relative to the root). */
  readonly prefix?: string;
  /** Treat a missing root (directory/bucket) as empty instead of failing. */
  readonly allowMissingRoot?: boolean;
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
  /** Journal hooks for resumable multipart uploads (see MultipartJournal). */
  readonly journal?: MultipartJournal;
  /** Identity of the source content (uri, size, mtime): an upload resumes only for the same one. */
  readonly fingerprint?: string;
}

/**
 * Persistence for multipart uploads so a killed run can resume from the last completed
 * part. Implemented by the state database; backends call it, the engine provides it.
 */
export interface MultipartJournal {
  /** A previously started upload for this key and source fingerprint, if any. */
  find(key: string, fingerprint: string): PendingUpload | undefined;
  started(upload: PendingUpload): void;
  partDone(uploadId: string, part: CompletedPart): void;
  finished(uploadId: string): void;
}
export interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly fingerprint: string;
  readonly partSize: number;
  readonly parts: readonly CompletedPart[];
}
export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  /** Hex SHA-256 of this part's bytes (the signed payload hash the server verified). */
  readonly sha256: string;
}

/** Optional capabilities, probed once into this record. */
export interface Features {
  /** Can copy a key from another backend instance of the same endpoint without moving bytes. */
  readonly serverSideCopy: boolean;
  readonly multipart: boolean;
  readonly metadata: boolean;
  readonly tags: boolean;
  readonly storageClass: boolean;
  /** Listing reveals real content mtimes (false for S3: needs metadata via HEAD). */
  readonly listHasExactMtime: boolean;
  /** Maximum key length in UTF-8 bytes, if limited. */
  readonly maxKeyBytes?: number;
  /** Keys must be valid UTF-8. */
  readonly requiresUtf8Keys: boolean;
}

/** Optional capability: server-side copy from another backend of the same kind. */
export interface ServerSideCopier {
  /** True when `source` lives on the same endpoint/account so copyFrom can be used. */
  canCopyFrom(source: Backend): boolean;
  copyFrom(source: Backend, srcKey: string, dstKey: string, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult>;
}

/** Optional capability: tags (S3 object tagging). */
export interface Tagger {
  getTags(key: string, opts?: OpOptions): Promise<Record<string, string>>;
}

/** Optional capability: cleanup of uploads or temp files a killed run may have left. */
export interface OrphanCleaner {
  abortUpload(key: string, uploadId: string, opts?: OpOptions): Promise<void>;
}

export function hasServerSideCopy(b: Backend): b is Backend & ServerSideCopier {
  return b.features.serverSideCopy && typeof (b as Partial<ServerSideCopier>).copyFrom === 'function';
}
export function hasTags(b: Backend): b is Backend & Tagger {
  return b.features.tags && typeof (b as Partial<Tagger>).getTags === 'function';
}
export function hasOrphanCleaner(b: Backend): b is Backend & OrphanCleaner {
  return typeof (b as Partial<OrphanCleaner>).abortUpload === 'function';
}
