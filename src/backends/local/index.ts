/**
 * Local filesystem backend: plain paths and NFS mounts.
 *
 * Writes go to a hidden temporary file in the target directory, named with the writer's
 * pid, and are renamed into place only after the MD5 of the written bytes verifies — a
 * reader (or a crash) never sees a partial file. Temporary files whose writer process is
 * gone are removed when the directory is next listed. Listing is a depth-first walk that
 * sorts each directory by name, with directories compared as "name/", which yields keys
 * in the byte order S3 lists in while holding only one directory level per depth.
 */
import { createWriteStream, type BigIntStats, type Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { inKeyRange, subtreeMayIntersect, withinKeyRange, type KeyRange } from '../../core/key-range.js';
import { localLocation, type Location } from '../../core/location.js';
import { type Backend, type BlockReader, type Body, type Features, type ListOptions, type ReadOptions, type WholeReader, type WriteOptions } from '../../core/backend.js';
import { compareKeys, type Entry, type WriteMeta, type WriteResult } from '../../core/entry.js';
import {
  IntegrityError,
  InvalidNameError,
  MissingRootError,
  NotFoundError,
  PermissionError,
  SourceChangedError,
  TransientError,
  isHybridsyncError,
  type HybridsyncError,
} from '../../core/errors.js';
import { AccountingStream } from '../../lib/accounting.js';
import { msOfNs } from '../../lib/mtime.js';
import { discardBody } from '../body.js';
import { ioModeFor, readWholeFile, statFile, writeWholeFile, type IoMode } from './io.js';
import { pidAlive } from '../../lib/process.js';

const TEMP_PREFIX = '.hybridsync-';
/** read() serves files up to this size with one read (readWhole). */
const SMALL_FILE = 1024 * 1024;
const TEMP_RE = /^\.hybridsync-(\d+)-[0-9a-f]{8}\.tmp/;
const STAT_CONCURRENCY = 32;
/**
 * A file whose ctime is younger than this gets no changeTag: on a filesystem with coarse
 * timestamps (FAT: 2 s) a write in the same tick would leave its ctime as it was (git's
 * "racily clean" entries).
 */
const RACY_CTIME_MS = 2000;

/** Whether a file's stat no longer matches its listed entry (mtimes compared to the ms). */
function changed(st: { size: number; mtimeMs: number }, listed: { size: number; mtimeMs: number }): boolean {
  return st.size !== listed.size || Math.abs(st.mtimeMs - listed.mtimeMs) > 1;
}

function changedWhileRead(path: string): SourceChangedError {
  return new SourceChangedError(`${path} changed while it was being read`, { hint: 'the file will be retried; stop writers to it if this persists' });
}

/** Entry.changeTag of a local file: `${inode}:${ctimeMs}`, when its ctime is old enough to trust. */
function changeTagOf(st: { ino: number; ctimeMs: number }, now = Date.now()): string | undefined {
  return now - st.ctimeMs >= RACY_CTIME_MS ? `${st.ino}:${st.ctimeMs}` : undefined;
}

/** The entry of a stat'ed file, with its mtime to the nanosecond (lib/mtime.ts). */
function fileEntry(key: string, st: BigIntStats): Entry {
  const changeTag = changeTagOf({ ino: Number(st.ino), ctimeMs: msOfNs(st.ctimeNs) });
  return { key, size: Number(st.size), mtimeMs: msOfNs(st.mtimeNs), mtimeNs: String(st.mtimeNs), mtimeExact: true, ...(changeTag ? { changeTag } : {}) };
}

export interface LocalOptions {
  /** Called for entries that cannot be listed (unreadable directory, non-UTF-8 name). */
  readonly onListError?: (key: string, err: HybridsyncError) => void;
}

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && TEMP_RE.test(name);
}


/** Maps a node:fs error to a typed error naming the path. */
export function mapFsError(err: unknown, path: string, what: string): HybridsyncError {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return new NotFoundError(`${what}: ${path} does not exist`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(`${what}: permission denied on ${path}`, {
        cause: err,
        hint: 'check the file permissions or run as a user who can read it',
      });
    case 'EISDIR':
    case 'ENOTDIR':
      return new NotFoundError(`${what}: ${path} is not the expected kind of file`, { cause: err });
    case 'ENAMETOOLONG':
      return new InvalidNameError(`${what}: name too long for this filesystem: ${path}`, { cause: err });
    case 'ENOSPC':
      return new PermissionError(`${what}: no space left on device writing ${path}`, { cause: err, hint: 'free space on the destination' });
    default:
      return new TransientError(`${what}: ${e.code ?? ''} ${e.message} (${path})`, { cause: err });
  }
}

function validUtf8(buf: Buffer): boolean {
  // A round trip through a string replaces invalid sequences with U+FFFD.
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

export class LocalBackend implements Backend, WholeReader, BlockReader {
  readonly type = 'local';
  readonly features: Features = {
    serverSideCopy: false,
    chunkedUpload: false,
    createsRoot: true,
    cheapReads: true,
    tags: false,
    storageClass: false,
    metadata: false,
  };
  readonly root: string;
  readonly location: Location;
  /** Directories this instance created or saw exist, to skip a mkdir per file. */
  private readonly madeDirs = new Set<string>();
  /** How small files are stat'ed, read and written (io.ts): inline on local filesystems. */
  private readonly io: IoMode;

  /** `uri`: the root as the user wrote it (messages); `root`: the directory. */
  constructor(
    readonly uri: string,
    root: string,
    private readonly opts: LocalOptions & { readonly remote?: string } = {},
  ) {
    this.root = resolve(root);
    this.location = localLocation(this.root, uri, opts.remote);
    this.io = ioModeFor(this.root);
  }

  private pathOf(key: string): string {
    if (key === '') return this.root;
    const p = join(this.root, ...key.split('/'));
    const base = this.root.endsWith(sep) ? this.root : this.root + sep;
    if (p !== this.root && !p.startsWith(base)) {
      throw new InvalidNameError(`key "${key}" escapes the destination root`, { hint: 'remove ".." segments from the name' });
    }
    return p;
  }

  list(opts: ListOptions = {}): AsyncIterable<Entry> {
    return withinKeyRange(this.listTree(opts), opts);
  }

  private async *listTree(opts: ListOptions): AsyncGenerator<Entry> {
    try {
      const st = await fsp.stat(this.root);
      if (!st.isDirectory()) {
        // A single file as the root: list it under its own name's empty key is awkward, so
        // the CLI resolves file sources to (dir, include) before constructing the backend.
        throw new MissingRootError(`${this.uri} is not a directory`, { hint: 'give a directory path' });
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (opts.allowMissingRoot) return;
        throw new MissingRootError(`${this.uri} does not exist`, { cause: err, hint: 'check the path, or create the directory' });
      }
      if (err instanceof MissingRootError) throw err;
      throw mapFsError(err, this.root, 'listing');
    }
    const prefix = opts.prefix ?? '';
    const range: KeyRange = { ...(opts.startAfter !== undefined ? { startAfter: opts.startAfter } : {}), ...(opts.endAt !== undefined ? { endAt: opts.endAt } : {}) };
    yield* this.walk('', prefix, range, opts.signal);
  }

  /** Directories outside the prefix or the key range are not read. */
  private async *walk(dirKey: string, prefix: string, range: KeyRange, signal?: AbortSignal): AsyncGenerator<Entry> {
    signal?.throwIfAborted();
    const dirPath = this.pathOf(dirKey);
    let dirents: Dirent<Buffer>[];
    try {
      dirents = await fsp.readdir(dirPath, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      this.opts.onListError?.(dirKey || '.', mapFsError(err, dirPath, 'reading directory'));
      return;
    }
    type Item = { name: string; sortName: string; isDir: boolean; dirent: Dirent<Buffer> };
    const items: Item[] = [];
    for (const d of dirents) {
      const raw = d.name;
      const name = raw.toString('utf8');
      if (!validUtf8(raw)) {
        const shown = dirKey ? `${dirKey}/${name}` : name;
        this.opts.onListError?.(
          shown,
          new InvalidNameError(`name is not valid UTF-8: ${join(dirPath, raw.toString('latin1'))}`, {
            hint: 'rename it to valid UTF-8 (e.g. convmv -f latin1 -t utf8), or exclude it',
          }),
        );
        continue;
      }
      if (isTempName(name)) {
        const pid = Number(TEMP_RE.exec(name)?.[1]);
        if (!pidAlive(pid)) await fsp.rm(join(dirPath, name), { force: true }).catch(() => undefined);
        continue;
      }
      let isDir = d.isDirectory();
      if (d.isSymbolicLink()) {
        try {
          const st = await fsp.stat(join(dirPath, name));
          if (st.isDirectory()) continue; // symlinked directories are not followed (loops)
          isDir = false;
        } catch {
          continue; // dangling symlink
        }
      } else if (!d.isFile() && !isDir) {
        continue; // sockets, fifos, devices
      }
      items.push({ name, sortName: isDir ? `${name}/` : name, isDir, dirent: d });
    }
    items.sort((a, b) => compareKeys(a.sortName, b.sortName));

    // stat files in batches to overlap I/O while keeping order
    for (let i = 0; i < items.length; ) {
      const batch: Item[] = [];
      while (i < items.length && batch.length < STAT_CONCURRENCY) {
        const it = items[i++]!;
        if (it.isDir) {
          if (batch.length) {
            i--;
            break;
          }
          const key = dirKey ? `${dirKey}/${it.name}` : it.name;
          if (prefixCanMatch(`${key}/`, prefix) && subtreeMayIntersect(`${key}/`, range)) yield* this.walk(key, prefix, range, signal);
          continue;
        }
        batch.push(it);
      }
      const stats = await Promise.all(
        batch.map(async (it) => {
          const key = dirKey ? `${dirKey}/${it.name}` : it.name;
          if (!key.startsWith(prefix) || !inKeyRange(key, range)) return undefined;
          try {
            const st = await statFile(join(dirPath, it.name), this.io);
            return fileEntry(key, st);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // vanished
            this.opts.onListError?.(key, mapFsError(err, join(dirPath, it.name), 'stat'));
            return undefined;
          }
        }),
      );
      for (const e of stats) if (e) yield e;
    }
  }

  async stat(key: string): Promise<Entry | undefined> {
    const p = this.pathOf(key);
    try {
      const st = await fsp.stat(p, { bigint: true });
      if (!st.isFile()) return undefined;
      return fileEntry(key, st);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw mapFsError(err, p, 'stat');
    }
  }

  async readWhole(key: string, opts: ReadOptions = {}): Promise<Buffer> {
    const p = this.pathOf(key);
    const expect = opts.ifMatch;
    let whole;
    try {
      whole = await readWholeFile(p, expect?.size, this.io);
    } catch (err) {
      throw mapFsError(err, p, 'reading');
    }
    // the stat after the read catches a change during it as well as before it
    const { data, st } = whole;
    if (data.length !== st.size || (expect && changed(st, expect))) {
      throw changedWhileRead(p);
    }
    return data;
  }

  async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
    const p = this.pathOf(key);
    // small files in one read: the stream machinery would cost more than the bytes
    if (opts.ifMatch && opts.ifMatch.size <= SMALL_FILE && opts.start === undefined && opts.end === undefined) {
      return Readable.from([await this.readWhole(key, opts)], { objectMode: false });
    }
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, 'r');
    } catch (err) {
      throw mapFsError(err, p, 'reading');
    }
    // With ifMatch, the file is compared with the listed entry once all bytes were read:
    // that one check catches a change before the read as well as during it.
    const expect = opts.ifMatch;
    // A known end lets small files be read with one small buffer instead of a 1 MiB one.
    const end = opts.end !== undefined ? opts.end - 1 : expect ? Math.max(0, expect.size - 1) : undefined;
    const stream = fh.createReadStream({
      start: opts.start,
      end: expect && expect.size === 0 && opts.end === undefined ? undefined : end,
      highWaterMark: 1 << 20,
      signal: opts.signal,
      autoClose: !expect,
    });
    if (!expect) return stream;
    // Detect a source that changes while it is read: compare size and mtime at the end.
    const guard = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        fh.stat().then(
          (st) => {
            if (changed(st, expect)) {
              cb(changedWhileRead(p));
            } else cb();
          },
          (err: unknown) => cb(err as Error),
        );
      },
    });
    const done = (): void => void fh.close().catch(() => undefined);
    stream.on('error', (err) => guard.destroy(err));
    guard.once('close', done);
    return stream.pipe(guard);
  }

  async *readBlocks(key: string, blockSize: number, alloc: (size: number) => Buffer, opts: ReadOptions = {}): AsyncGenerator<Buffer> {
    const p = this.pathOf(key);
    const expect = opts.ifMatch;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, 'r');
    } catch (err) {
      throw mapFsError(err, p, 'reading');
    }
    try {
      // with ifMatch, the listed size is read, and a stat after each block catches any change
      const limit = expect ? expect.size : Infinity;
      for (let pos = 0; pos < limit; ) {
        opts.signal?.throwIfAborted();
        const want = Math.min(blockSize, limit - pos);
        const buf = alloc(blockSize);
        let filled = 0;
        while (filled < want) {
          let n: number;
          try {
            n = (await fh.read(buf, filled, want - filled, pos + filled)).bytesRead;
          } catch (err) {
            throw mapFsError(err, p, 'reading');
          }
          if (n === 0) break;
          filled += n;
        }
        pos += filled;
        // a stat per block (one syscall per MiBs) stops an upload of a changing file early
        if (expect && (filled < want || changed(await fh.stat(), expect))) throw changedWhileRead(p);
        if (filled > 0) yield filled === blockSize ? buf : buf.subarray(0, filled);
        if (filled < want) break;
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async write(key: string, body: Body, meta: WriteMeta, opts: WriteOptions = {}): Promise<WriteResult> {
    const target = this.pathOf(key);
    const dir = dirname(target);
    if (!this.madeDirs.has(dir)) {
      try {
        await fsp.mkdir(dir, { recursive: true });
      } catch (err) {
        discardBody(body);
        throw mapFsError(err, dir, 'creating directory');
      }
      if (this.madeDirs.size >= 4096) this.madeDirs.clear(); // bounded: a cache, not a record
      this.madeDirs.add(dir);
    }
    const tmpName = `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.tmp-${basename(target)}`.slice(0, 250);
    const tmp = join(dir, tmpName);
    try {
      if (Buffer.isBuffer(body)) {
        // the whole body at hand: checked before anything is written
        opts.signal?.throwIfAborted();
        const md5 = this.checkWhole(key, body, meta);
        const st = await writeWholeFile(tmp, body, meta.mtimeMs, target, this.io);
        opts.onProgress?.(body.length);
        return { entry: { ...fileEntry(key, st), md5 }, md5, bytesSent: body.length };
      }
      const acct = new AccountingStream({ md5: true, onBytes: opts.onProgress, signal: opts.signal });
      await pipeline(body, acct, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 }), { signal: opts.signal });
      const md5 = this.checkWhole(key, acct, meta);
      const t = meta.mtimeMs / 1000;
      await fsp.utimes(tmp, t, t);
      await fsp.rename(tmp, target);
      const st = await fsp.stat(target, { bigint: true });
      return { entry: { ...fileEntry(key, st), md5 }, md5, bytesSent: acct.byteCount };
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      if (isHybridsyncError(err)) throw err;
      if ((err as Error).name === 'AbortError') throw err;
      throw mapFsError(err, target, 'writing');
    }
  }

  /** The MD5 of what was written (or is about to be), after checking its length and expected MD5. */
  private checkWhole(key: string, written: Buffer | AccountingStream, meta: WriteMeta): string {
    const bytes = Buffer.isBuffer(written) ? written.length : written.byteCount;
    if (bytes !== meta.size) {
      throw new SourceChangedError(`${key}: expected ${meta.size} bytes, got ${bytes}`, { hint: 'the source changed during the copy; it will be retried' });
    }
    const md5 = Buffer.isBuffer(written) ? createHash('md5').update(written).digest('hex') : written.md5();
    if (meta.md5 && meta.md5 !== md5) throw new IntegrityError(`${key}: MD5 mismatch after transfer (expected ${meta.md5}, got ${md5})`);
    return md5;
  }

  async remove(key: string): Promise<void> {
    const p = this.pathOf(key);
    try {
      await fsp.rm(p, { force: true });
    } catch (err) {
      throw mapFsError(err, p, 'deleting');
    }
    // prune now-empty parent directories up to the root
    this.madeDirs.clear();
    let d = dirname(p);
    while (d.startsWith(this.root + sep)) {
      try {
        await fsp.rmdir(d);
      } catch {
        break;
      }
      d = dirname(d);
    }
  }
}

/** Whether any key under `dirPrefix` (ending in '/') can start with `prefix`. */
function prefixCanMatch(dirPrefix: string, prefix: string): boolean {
  return dirPrefix.startsWith(prefix) || prefix.startsWith(dirPrefix);
}

