/**
 * An object or file as seen by a backend listing. Keys are relative to the
 * backend root, '/'-separated, never start with '/', and are compared by
 * {@link compareKeys} (UTF-8 byte order, the order S3 lists in).
 */
export interface Entry {
  readonly key: string;
  readonly size: number;
  /**
   * Modification time of the *source content* in ms since the epoch. On S3 this is the
   * `mtime` metadata written by hybridsync or rclone when `mtimeExact` is true, otherwise
   * the upload time (LastModified), which must not be trusted for change detection.
   */
  readonly mtimeMs: number;
  /** True when mtimeMs is the content's real mtime (local files, S3 objects with metadata). */
  readonly mtimeExact: boolean;
  /**
   * The same mtime in whole nanoseconds since the epoch (a decimal string), where it is known
   * that exactly: local files, objects whose metadata has it. Written to metadata as is, so
   * tools that compare to the nanosecond (rclone) see the file's own mtime (lib/mtime.ts).
   */
  readonly mtimeNs?: string;
  /** Hex MD5 of the whole content when known without reading it. */
  readonly md5?: string;
  /** S3 ETag without quotes; a multipart ETag (`…-N`) is never an MD5. */
  readonly etag?: string;
  readonly storageClass?: string;
  /**
   * A token that changes whenever the content may have changed, even if size and mtime were
   * put back (local files: inode and ctime, which every write moves, as git's index relies
   * on). Absent when the backend has none, or cannot yet vouch for it (a file changed in
   * the last moments, whose ctime might not tell a next write apart). Caches of facts about
   * content (the MD5 cache) serve only when it is present and unchanged.
   */
  readonly changeTag?: string;
  /** User metadata (already decoded), when the listing or stat returned it. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What a writer is told about the content it is about to store. */
export interface WriteMeta {
  readonly size: number;
  readonly mtimeMs: number;
  /** mtimeMs to the nanosecond when known (Entry.mtimeNs). */
  readonly mtimeNs?: string;
  /** Expected hex MD5 when the caller already knows it; the write fails if the bytes differ. */
  readonly md5?: string;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
  readonly storageClass?: string;
}

/** The result of a completed write: what is now at the destination. */
export interface WriteResult {
  readonly entry: Entry;
  /** Hex MD5 of the bytes actually stored, computed while they streamed. */
  readonly md5: string;
  /** Bytes that were sent in this call (less than size when a multipart upload resumed). */
  readonly bytesSent: number;
}

// eslint-disable-next-line no-control-regex -- ASCII range check
const ASCII = /^[\x00-\x7f]*$/;

/**
 * Total order on keys matching S3's ListObjectsV2 order: unsigned UTF-8 byte order.
 * JavaScript's `<` compares UTF-16 code units, which differs for characters above U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Byte length of a key in UTF-8 (S3 limits keys to 1024 bytes). */
export function keyBytes(key: string): number {
  return Buffer.byteLength(key, 'utf8');
}
