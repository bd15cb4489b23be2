/**
 * The caching gateway's object operations, below the S3 protocol: the merged view of the
 * upstream listing and local writes, read-through with block fills, durable local writes
 * journaled for write-back, multipart uploads, deletes, preload/release/refresh, eviction
 * under the size limit and refusal of writes past the dirty-space limit. server.ts speaks
 * S3 on top of this; writeback.ts empties the journal.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hasTags, type Backend } from '../core/backend.js';
import { compareKeys, type Entry } from '../core/entry.js';
import { SourceChangedError } from '../core/errors.js';
import { forEachConcurrent } from '../lib/pool.js';
import { DEFAULT_RESTORE } from '../tier/restore.js';
import { CacheIndex, type CachedRow, type EntryRow, type JournalRow, type PartRow } from './cache-index.js';
import {
  allBlocks,
  BLOCK_SIZE,
  blockRuns,
  cacheDirs,
  dataPath,
  fsyncDir,
  keyIsPath,
  makeCacheDirs,
  placeFile,
  readRange,
  tempName,
  withBlock,
  writeDurable,
  type CacheDirs,
} from './cache.js';
import { etagOf } from './conflicts.js';
import { S3Error } from './errors.js';
import { UpstreamRestores, type UpstreamRestoreOptions } from './restore.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface GatewayCoreOptions {
  readonly upstream: Backend;
  readonly cacheDir: string;
  /** Bytes the cache may hold (clean data is evicted, LRU, to stay under). */
  readonly maxSize: number;
  /** Bytes of not-yet-uploaded data (and open multipart parts) accepted; default maxSize. */
  readonly maxDirty?: number;
  /** How long an upstream listing is trusted before it is listed again (ms; default 60 s). */
  readonly stalenessMs?: number;
  /** Called when something new is in the journal. */
  readonly onJournal?: () => void;
  /**
   * The policy's decision on a write before it is accepted: the reason it is denied, or
   * undefined. `file` holds the received bytes.
   */
  readonly admit?: (w: { key: string; file: string; size: number; mtimeMs: number }) => Promise<string | undefined>;
  /** An archived upstream object read on a miss: its restore is requested, the client told to retry (restore.ts). */
  readonly restore?: UpstreamRestoreOptions;
}

export interface ObjectWrite {
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The size announced by the client (Content-Length or x-amz-decoded-content-length). */
  readonly size?: number;
}

export interface GatewayCounters {
  hits: number;
  misses: number;
  bytesFromCache: number;
  bytesFromUpstream: number;
  upstreamReads: number;
  upstreamLists: number;
  evictions: number;
  bytesEvicted: number;
  refusedWrites: number;
  /** Writes the policy denied when they were made (the client got AccessDenied). */
  deniedWrites: number;
}

export interface ListPage {
  readonly contents: EntryRow[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  /** The last key or prefix of the page: where the next one starts after. */
  readonly last?: string;
}

export interface PreloadProgress {
  readonly done: number;
  readonly total: number;
  /** Bytes fetched from the upstream. */
  readonly bytes: number;
  readonly key?: string;
  /** Items whose MD5 was checked and matched. */
  readonly verified?: number;
  readonly missing?: number;
  readonly mismatched?: number;
}

/** An object to preload: its key, and what it must be (a snapshot's MD5 and size). */
export interface PreloadItem {
  readonly key: string;
  readonly md5?: string;
  readonly size?: number;
}

/** What to preload (the admin API's request): a prefix, or items; `listFirst` lists a prefix before the items are looked up. */
export interface PreloadRequest {
  readonly prefix?: string;
  readonly items?: readonly PreloadItem[];
  readonly listFirst?: string;
  readonly concurrency?: number;
}

export interface PreloadMismatch {
  readonly key: string;
  readonly reason: string;
}

export interface PreloadResult {
  readonly done: number;
  readonly total: number;
  readonly bytes: number;
  readonly verified: number;
  /** Keys the upstream does not have. */
  readonly missing: string[];
  /** Objects that are not what the item says (size or MD5); their clean cached bytes were dropped. */
  readonly mismatched: PreloadMismatch[];
}

const entryOfUpstream = (u: Entry): EntryRow => ({
  key: u.key,
  size: u.size,
  mtimeMs: u.mtimeMs,
  etag: etagOf(u),
  contentType: null,
  metadata: u.metadata ?? null,
  upstreamEtag: etagOf(u),
  storageClass: u.storageClass ?? null,
});

/** The etag S3 gives a multipart object: MD5 of the parts' binary MD5s, dash, part count. */
export function multipartEtag(partEtags: readonly string[]): string {
  const h = createHash('md5');
  for (const e of partEtags) h.update(Buffer.from(e, 'hex'));
  return `${h.digest('hex')}-${partEtags.length}`;
}

/** The smallest string after every string starting with `p` (p non-empty). */
function after(p: string): string {
  return p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);
}

export class GatewayCore {
  readonly dirs: CacheDirs;
  readonly index: CacheIndex;
  readonly upstream: Backend;
  readonly counters: GatewayCounters = { hits: 0, misses: 0, bytesFromCache: 0, bytesFromUpstream: 0, upstreamReads: 0, upstreamLists: 0, evictions: 0, bytesEvicted: 0, refusedWrites: 0, deniedWrites: 0 };
  private readonly maxSize: number;
  private readonly maxDirty: number;
  private readonly stalenessMs: number;
  private onJournal: () => void;
  private readonly admit: GatewayCoreOptions['admit'];
  private readonly restores: UpstreamRestores;
  private reserved = 0;
  /** Aborts the background HEADs (pinBase) when the gateway closes. */
  private readonly closing = new AbortController();
  private readonly listing = new Map<string, Promise<void>>();
  /** Block runs being fetched, per key: a read of the same blocks waits for them instead of fetching again. */
  private readonly fetching = new Map<string, Set<{ first: number; last: number; done: Promise<void> }>>();

  private constructor(o: GatewayCoreOptions, index: CacheIndex) {
    this.dirs = cacheDirs(o.cacheDir);
    this.index = index;
    this.upstream = o.upstream;
    this.maxSize = o.maxSize;
    this.maxDirty = o.maxDirty ?? o.maxSize;
    this.stalenessMs = o.stalenessMs ?? 60_000;
    this.onJournal = o.onJournal ?? (() => undefined);
    this.admit = o.admit;
    this.restores = new UpstreamRestores(o.upstream, o.restore ?? { settings: DEFAULT_RESTORE });
  }

  /** Opens (or creates) the cache directory and finishes what a crash interrupted. */
  static async open(o: GatewayCoreOptions): Promise<GatewayCore> {
    const dirs = cacheDirs(o.cacheDir);
    await fsp.mkdir(dirs.meta, { recursive: true });
    const core = new GatewayCore(o, new CacheIndex(join(dirs.meta, 'index.db')));
    // a write journaled but not yet moved into place when the process died: finish the move
    for (const j of core.index.staged()) {
      const from = join(dirs.tmp, j.staged!);
      const there = await fsp.stat(from).then(() => true, () => false);
      if (there) await placeFile(dirs, from, j.key);
      core.index.clearStaged(j.key);
    }
    await makeCacheDirs(dirs);
    return core;
  }

  close(): void {
    this.closing.abort(new Error('the gateway is stopping'));
    this.index.close();
  }

  setOnJournal(fn: () => void): void {
    this.onJournal = fn;
  }

  // ------------------------------------------------------------------ listing

  private listedFresh(key: string, now = Date.now()): boolean {
    return this.index.listings().some((l) => key.startsWith(l.prefix) && now - l.listedAt < this.stalenessMs);
  }

  /** Lists the upstream under `prefix` if no fresh listing covers it (or `force`). */
  async ensureListed(prefix: string, force = false, signal?: AbortSignal): Promise<void> {
    if (!force && this.listedFresh(prefix)) return;
    const running = this.listing.get(prefix);
    if (running) return running;
    const p = this.relist(prefix, signal).finally(() => this.listing.delete(prefix));
    this.listing.set(prefix, p);
    return p;
  }

  private async relist(prefix: string, signal?: AbortSignal): Promise<void> {
    const started = Date.now();
    const gen = this.index.nextGen();
    this.counters.upstreamLists++;
    let batch: Entry[] = [];
    const apply = (): void => {
      const rows = batch;
      batch = [];
      this.index.tx(() => {
        for (const u of rows) {
          if (this.index.journalRow(u.key)) continue; // a local write or delete is newer
          const known = this.index.entry(u.key);
          const etag = u.etag ?? u.md5;
          if (known && etag !== undefined && known.upstreamEtag === etag) {
            this.index.touchListed(u.key, gen);
            continue;
          }
          this.index.putEntry(entryOfUpstream(u), gen);
          const c = this.index.cached(u.key);
          if (c && c.etag !== (etag ?? '')) void this.dropCachedSync(c);
        }
      });
    };
    for await (const u of this.upstream.list({ prefix, ...(signal ? { signal } : {}) })) {
      batch.push(u);
      if (batch.length >= 500) apply();
    }
    apply();
    const gone = this.index.staleUnder(prefix, gen);
    this.index.tx(() => {
      for (const key of gone) {
        this.index.removeEntry(key);
        const c = this.index.cached(key);
        if (c) void this.dropCachedSync(c);
      }
      this.index.setListed(prefix, started);
    });
  }

  /** ListObjects over the merged view. `after`: start after this key (start-after, marker, continuation). */
  async list(o: { prefix: string; delimiter?: string; after?: string; maxKeys: number; signal?: AbortSignal }): Promise<ListPage> {
    await this.ensureListed(o.prefix, false, o.signal);
    const contents: EntryRow[] = [];
    const prefixes: string[] = [];
    let from = o.after !== undefined && compareKeys(o.after, o.prefix) >= 0 ? o.after + '\u0000' : o.prefix;
    if (o.after !== undefined && o.delimiter && o.after.endsWith(o.delimiter) && o.after.startsWith(o.prefix)) from = after(o.after);
    let last: string | undefined;
    const full = (): boolean => contents.length + prefixes.length >= o.maxKeys;
    for (;;) {
      const rows = this.index.entriesFrom(from, 200);
      if (rows.length === 0) return { contents, commonPrefixes: prefixes, isTruncated: false, ...(last !== undefined ? { last } : {}) };
      let jumped = false;
      for (const r of rows) {
        if (!r.key.startsWith(o.prefix)) {
          if (compareKeys(r.key, o.prefix) > 0) return { contents, commonPrefixes: prefixes, isTruncated: false, ...(last !== undefined ? { last } : {}) };
          continue;
        }
        const rest = r.key.slice(o.prefix.length);
        const d = o.delimiter ? rest.indexOf(o.delimiter) : -1;
        if (full()) return { contents, commonPrefixes: prefixes, isTruncated: true, ...(last !== undefined ? { last } : {}) };
        if (d >= 0) {
          const cp = o.prefix + rest.slice(0, d + o.delimiter!.length);
          prefixes.push(cp);
          last = cp;
          from = after(cp);
          jumped = true;
          break;
        }
        contents.push(r);
        last = r.key;
        from = r.key + '\u0000';
      }
      if (!jumped && rows.length < 200 && !full()) return { contents, commonPrefixes: prefixes, isTruncated: false, ...(last !== undefined ? { last } : {}) };
    }
  }

  // --------------------------------------------------------------- reading

  /** The object's entry: from the index, or a HEAD at the upstream unless a fresh listing says it is absent. */
  async lookup(key: string, signal?: AbortSignal): Promise<EntryRow | undefined> {
    const known = this.index.entry(key);
    if (known) return known;
    if (this.index.journalRow(key)?.op === 'delete' || this.listedFresh(key)) return undefined;
    const u = await this.upstream.stat(key, signal ? { signal } : {});
    if (!u) return undefined;
    const row = entryOfUpstream(u);
    if (!this.index.journalRow(key)) this.index.putEntry(row);
    return row;
  }

  /** The object's tags: the upstream's (when it keeps tags); none for a local write not yet uploaded. */
  async tags(e: EntryRow, signal?: AbortSignal): Promise<Record<string, string>> {
    if (this.index.journalRow(e.key) || !hasTags(this.upstream)) return {};
    return this.upstream.getTags(e.key, signal ? { signal } : {});
  }

  /** Whether the object's bytes are all on local disk. */
  isCached(e: EntryRow): boolean {
    const c = this.index.cached(e.key);
    return !!c && c.complete && c.etag === e.etag;
  }

  /**
   * The bytes [start, end) of `e`: from local disk where cached, else from the upstream in
   * aligned blocks, streamed to the caller while they are written to the cache.
   */
  async *read(e: EntryRow, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const now = Date.now();
    const first = Math.floor(start / BLOCK_SIZE);
    const last = Math.floor(Math.max(start, end - 1) / BLOCK_SIZE);
    const overlapping = [...(this.fetching.get(e.key) ?? [])].filter((f) => f.first <= last && f.last >= first);
    await Promise.all(overlapping.map((f) => f.done));
    let c = this.index.cached(e.key);
    if (c && c.etag !== e.etag) {
      if (this.index.journalRow(e.key)) throw new S3Error('InternalError', `cache index disagrees with itself about ${e.key}`);
      void this.dropCachedSync(c);
      c = undefined;
    }
    if (c?.complete) {
      this.counters.hits++;
      this.index.touchCached(e.key, now);
      for await (const chunk of readRange(dataPath(this.dirs, e.key), start, end) as AsyncIterable<Buffer>) {
        this.counters.bytesFromCache += chunk.length;
        yield chunk;
      }
      return;
    }
    this.counters.misses++;
    if (!keyIsPath(e.key)) {
      // a key no directory tree can hold: passed through, not cached
      yield* this.fromUpstream(e, start, end, undefined, signal);
      return;
    }
    if (!c) {
      c = { key: e.key, etag: e.etag, size: e.size, complete: false, blocks: null, bytes: 0, atimeMs: now, partial: tempName() };
      this.index.putCached(c);
    } else this.index.touchCached(e.key, now);
    const partial = c.partial!;
    const blocks = c.blocks;
    const fh = await fsp.open(join(this.dirs.partial, partial), constants.O_RDWR | constants.O_CREAT);
    // the last chunk is held back until the object is promoted, so a client that has read
    // it all finds it in the tree (and the next request finds it complete)
    let held: Buffer | undefined;
    let settled = false;
    const settle = async (): Promise<void> => {
      if (settled) return;
      settled = true;
      await fh.close();
      await this.promote(e.key, partial);
      await this.evictIfNeeded();
    };
    try {
      for await (const chunk of this.blockReads(e, fh, partial, blocks, start, end, signal)) {
        if (held) yield held;
        held = chunk;
      }
      await settle();
      if (held) yield held;
    } finally {
      await settle();
    }
  }

  /** The bytes [start, end) of a partly cached object: present blocks from the partial file, missing runs from the upstream. */
  private async *blockReads(e: EntryRow, fh: fsp.FileHandle, partial: string, blocks: Buffer | null, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    for (const run of blockRuns(blocks, start, end)) {
      const runStart = run.first * BLOCK_SIZE;
      const runEnd = Math.min(e.size, (run.last + 1) * BLOCK_SIZE);
      const s = Math.max(start, runStart);
      const t = Math.min(end, runEnd);
      if (run.present) {
        for (let pos = s; pos < t; ) {
          const n = Math.min(1024 * 1024, t - pos);
          const buf = Buffer.allocUnsafe(n);
          const { bytesRead } = await fh.read(buf, 0, n, pos);
          if (bytesRead === 0) throw new S3Error('InternalError', `cached block of ${e.key} is short`);
          pos += bytesRead;
          this.counters.bytesFromCache += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
      } else {
        let done = (): void => undefined;
        const f = { first: run.first, last: run.last, done: new Promise<void>((r) => (done = r)) };
        const set = this.fetching.get(e.key) ?? new Set();
        this.fetching.set(e.key, set.add(f));
        try {
          yield* this.fromUpstream(e, runStart, runEnd, { fh, partial, clip: [s, t] }, signal);
        } finally {
          set.delete(f);
          if (set.size === 0) this.fetching.delete(e.key);
          done();
        }
      }
    }
  }

  private async *fromUpstream(
    e: EntryRow,
    start: number,
    end: number,
    fill: { fh: fsp.FileHandle; partial: string; clip: [number, number] } | undefined,
    signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    this.counters.upstreamReads++;
    const ifMatch: Entry = { key: e.key, size: e.size, mtimeMs: e.mtimeMs, mtimeExact: false, ...(e.upstreamEtag ? { etag: e.upstreamEtag } : {}) };
    const body = (await this.restores.read(e.key, () => this.upstream.read(e.key, { start, end, ifMatch, ...(signal ? { signal } : {}) }), signal)) as AsyncIterable<Buffer>;
    const it = body[Symbol.asyncIterator]();
    const [s, t] = fill?.clip ?? [start, end];
    let pos = start;
    let block = Math.floor(start / BLOCK_SIZE);
    const store = async (chunk: Buffer): Promise<void> => {
      if (fill) {
        let off = 0;
        while (off < chunk.length) off += (await fill.fh.write(chunk, off, chunk.length - off, pos + off)).bytesWritten;
      }
      pos += chunk.length;
      this.counters.bytesFromUpstream += chunk.length;
      if (fill) {
        while ((block + 1) * BLOCK_SIZE <= pos || (pos === e.size && block * BLOCK_SIZE < pos)) this.markBlock(e, fill.partial, block++);
      }
    };
    let finished = false;
    let failed = false;
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const chunk = r.value;
        const at = pos;
        await store(chunk);
        const a = Math.max(s, at);
        const b = Math.min(t, at + chunk.length);
        if (b > a) yield chunk.subarray(a - at, b - at);
      }
      finished = true;
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // the client has what it asked for (or left): the block being fetched is completed anyway
      if (fill && !finished && !failed) {
        try {
          for (let r = await it.next(); !r.done; r = await it.next()) await store(r.value);
        } catch {
          // the next read fetches it again
        }
      } else if (!finished) await it.return?.();
    }
    if (pos !== end) throw new SourceChangedError(`${e.key} changed at the upstream while it was read (${pos - start} of ${end - start} bytes)`);
  }

  private markBlock(e: EntryRow, partial: string, i: number): void {
    const c = this.index.cached(e.key);
    if (!c || c.partial !== partial || c.complete) return;
    const len = Math.min(e.size, (i + 1) * BLOCK_SIZE) - i * BLOCK_SIZE;
    this.index.putCached({ ...c, blocks: withBlock(c.blocks, i, e.size), bytes: c.bytes + len });
  }

  /** A partial object with every block present moves into data/. */
  private async promote(key: string, partial: string): Promise<void> {
    const c = this.index.cached(key);
    if (!c || c.complete || c.partial !== partial || !allBlocks(c.blocks, c.size)) return;
    const from = join(this.dirs.partial, partial);
    try {
      if (c.size === 0) await fsp.writeFile(from, '');
      await placeFile(this.dirs, from, key);
    } catch {
      return; // a clash with a directory: it stays a partial file, served from there
    }
    const now = this.index.cached(key);
    if (now && now.partial === partial) this.index.putCached({ ...now, complete: true, blocks: null, partial: null, bytes: now.size });
  }

  /** Forgets the cached bytes at once (in the caller's transaction); the returned promise removes the file. */
  private dropCachedSync(c: CachedRow): Promise<void> {
    this.index.removeCached(c.key);
    const path = c.complete ? dataPath(this.dirs, c.key) : join(this.dirs.partial, c.partial ?? '-');
    const removing = fsp.rm(path, { force: true }).then(() => (c.complete ? this.pruneDirs(dirname(path)) : undefined));
    removing.catch(() => undefined);
    return removing;
  }

  /** Removes empty directories from `dir` up to data/. */
  private async pruneDirs(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(this.dirs.data + '/'); d = dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch {
        return;
      }
    }
  }

  /** Evicts clean data, least recently used first, until the cache is under its size. */
  async evictIfNeeded(): Promise<void> {
    let total = this.index.cachedBytes();
    while (total > this.maxSize) {
      let evicted = false;
      for (const c of this.index.evictionCandidates()) {
        if (total <= this.maxSize) break;
        await this.dropCachedSync(c);
        total -= c.bytes;
        this.counters.evictions++;
        this.counters.bytesEvicted += c.bytes;
        evicted = true;
      }
      if (!evicted) return; // everything left is dirty
    }
  }

  // --------------------------------------------------------------- writing

  private dirtyBytes(): number {
    return this.index.journalStats().dirtyBytes + this.index.partsBytes() + this.reserved;
  }

  /** Reserves room for `n` more dirty bytes, or refuses with a retryable SlowDown. */
  private async reserve(n: number): Promise<() => void> {
    const dirty = this.dirtyBytes();
    let free = Number.POSITIVE_INFINITY;
    try {
      const st = await fsp.statfs(this.dirs.root);
      free = st.bavail * st.bsize;
    } catch {
      // statfs unsupported: the dirty limit alone decides
    }
    if (dirty + n > this.maxDirty || n > free) {
      this.counters.refusedWrites++;
      throw new S3Error('SlowDown', `the gateway holds ${dirty} bytes not yet uploaded (limit ${this.maxDirty}); retry when the write-back has caught up`);
    }
    this.reserved += n;
    let released = false;
    return () => {
      if (!released) this.reserved -= n;
      released = true;
    };
  }

  /**
   * The upstream object a write made now is made over, as far as the index knows: its ETag,
   * '' when a fresh listing says there is none, null when the gateway does not know (then
   * pinBase asks the upstream). A key already journaled keeps the base of its first write.
   */
  private knownBase(key: string): string | null {
    const j = this.index.journalRow(key);
    if (j) return j.base;
    const e = this.index.entry(key);
    if (e) return e.upstreamEtag;
    return this.listedFresh(key) ? '' : null;
  }

  /** Asks the upstream what a just-journaled write was made over, in the background (one HEAD). */
  private pinBase(key: string): void {
    this.upstream.stat(key, { signal: this.closing.signal }).then(
      (u) => !this.closing.signal.aborted && this.index.pinBase(key, u ? etagOf(u) : ''),
      () => undefined, // unknown: the write-back then goes by the object's modification time
    );
  }

  /**
   * Gives up a journaled write for the cloud's version (the cloud is the source of truth,
   * or an administrator chose it): `snapshot` (the write's bytes) is kept as
   * conflicts/<stamp>/<key>, the index shows the upstream's object (or none), and the
   * written file leaves data/. Nothing changes but the kept copy when a newer write
   * replaced this one meanwhile (adopted: false).
   */
  async adoptCloud(row: JournalRow, upstream: Entry | undefined, snapshot: string | undefined, stamp: string): Promise<{ adopted: boolean; kept: string | null }> {
    let kept: string | null = null;
    if (row.op === 'put' && snapshot) {
      kept = join(this.dirs.conflicts, stamp, ...row.key.split('/'));
      await fsp.mkdir(dirname(kept), { recursive: true });
      await fsp.link(snapshot, kept).catch(async () => fsp.copyFile(snapshot, kept!));
      await fsyncDir(dirname(kept));
    }
    const file = dataPath(this.dirs, row.key);
    const written = row.op === 'put' ? await fsp.stat(file).catch(() => undefined) : undefined;
    const ours = written !== undefined && snapshot !== undefined && (await fsp.stat(snapshot).then((s) => s.ino === written.ino, () => false));
    const adopted = this.index.tx(() => {
      if (!this.index.journalDrop(row.key, row.seq)) return false;
      const c = this.index.cached(row.key);
      if (c) this.index.removeCached(row.key);
      if (upstream) this.index.putEntry(entryOfUpstream(upstream), Number(this.index.getMeta('gen') ?? '0'));
      else this.index.removeEntry(row.key);
      return true;
    });
    if (adopted && ours) {
      await fsp.rm(file, { force: true });
      await this.pruneDirs(dirname(file));
    }
    return { adopted, kept };
  }

  /** Refuses a key that cannot be placed in the tree: a path component is a file, or the key is a directory. */
  private async assertPlaceable(key: string): Promise<void> {
    if (!keyIsPath(key)) {
      throw new S3Error('InvalidArgument', `key "${key}" cannot be kept in the gateway's directory tree (empty, "." or ".." segments, a trailing "/", or a segment over 255 bytes)`);
    }
    const segs = key.split('/');
    let p = this.dirs.data;
    for (let i = 0; i < segs.length; i++) {
      p = join(p, segs[i]!);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st) return;
      if (i < segs.length - 1 ? !st.isDirectory() : st.isDirectory()) {
        throw new S3Error('InvalidArgument', `key "${key}" clashes with key "${segs.slice(0, i + 1).join('/')}${st.isDirectory() ? '/…' : ''}": a file and a directory of the same name cannot both be kept in the gateway's tree`);
      }
    }
  }

  /**
   * Stores an object durably (fsync of file and directory) and journals it for upload;
   * visible to HEAD, GET and LIST when this resolves.
   */
  async put(key: string, body: AsyncIterable<Buffer>, w: ObjectWrite, o: { etag?: string; reserved?: boolean } = {}): Promise<EntryRow> {
    await this.assertPlaceable(key);
    const release = o.reserved ? () => undefined : await this.reserve(w.size ?? 0);
    try {
      const name = tempName();
      const tmp = join(this.dirs.tmp, name);
      const md5 = createHash('md5');
      const limit = w.size === undefined && !o.reserved ? Math.max(0, this.maxDirty - this.dirtyBytes()) : undefined;
      const n = await writeDurable(tmp, body, (c) => md5.update(c), limit);
      if (w.size !== undefined && n !== w.size) {
        await fsp.rm(tmp, { force: true });
        throw new S3Error('IncompleteBody', `received ${n} bytes, the request announced ${w.size}`);
      }
      const st = await fsp.stat(tmp);
      const denied = await this.admit?.({ key, file: tmp, size: n, mtimeMs: st.mtimeMs });
      if (denied !== undefined) {
        await fsp.rm(tmp, { force: true });
        this.counters.deniedWrites++;
        throw new S3Error('AccessDenied', `denied by policy, not stored: ${denied}`);
      }
      const contentMd5 = md5.digest('hex');
      const row: EntryRow = {
        key,
        size: n,
        mtimeMs: st.mtimeMs,
        etag: o.etag ?? contentMd5,
        contentType: w.contentType ?? null,
        metadata: w.metadata && Object.keys(w.metadata).length > 0 ? w.metadata : null,
        upstreamEtag: null,
        storageClass: null,
      };
      let base: string | null = null;
      this.index.tx(() => {
        const old = this.index.cached(key);
        if (old && !old.complete && old.partial) void fsp.rm(join(this.dirs.partial, old.partial), { force: true });
        base = this.knownBase(key);
        this.index.journal('put', key, n, name, Date.now(), base, contentMd5);
        this.index.putEntry(row);
        this.index.putCached({ key, etag: row.etag, size: n, complete: true, blocks: null, bytes: n, atimeMs: Date.now(), partial: null });
      });
      await placeFile(this.dirs, tmp, key);
      this.index.clearStaged(key);
      if (base === null) this.pinBase(key);
      this.onJournal();
      return row;
    } finally {
      release();
      await this.evictIfNeeded();
    }
  }

  /** Deletes an object locally and journals the delete for the upstream. */
  async delete(key: string): Promise<void> {
    const c = this.index.cached(key);
    let base: string | null = null;
    this.index.tx(() => {
      base = this.knownBase(key);
      this.index.removeEntry(key);
      if (c) this.index.removeCached(key);
      this.index.journal('delete', key, 0, null, Date.now(), base);
    });
    if (base === null) this.pinBase(key);
    if (c) {
      const path = c.complete ? dataPath(this.dirs, key) : join(this.dirs.partial, c.partial ?? '-');
      await fsp.rm(path, { force: true });
      if (c.complete) await this.pruneDirs(dirname(path));
    }
    this.onJournal();
  }

  // ------------------------------------------------------------- multipart

  createUpload(key: string, w: ObjectWrite): string {
    if (!keyIsPath(key)) throw new S3Error('InvalidArgument', `key "${key}" cannot be kept in the gateway's directory tree`);
    const id = `${Date.now().toString(36)}${tempName().replace('-', '')}`;
    this.index.createUpload(id, key, Date.now(), w.contentType ?? null, { ...w.metadata });
    return id;
  }

  requireUpload(id: string, key: string): { key: string; contentType: string | null; metadata: Record<string, string> } {
    const u = this.index.upload(id);
    if (!u || u.key !== key) throw new S3Error('NoSuchUpload', 'the specified multipart upload does not exist; the upload ID may be invalid, or it was aborted or completed');
    return u;
  }

  async uploadPart(id: string, key: string, part: number, body: AsyncIterable<Buffer>, size: number | undefined): Promise<string> {
    this.requireUpload(id, key);
    if (!Number.isInteger(part) || part < 1 || part > 10000) throw new S3Error('InvalidArgument', 'part number must be an integer between 1 and 10000');
    const release = await this.reserve(size ?? 0);
    try {
      const dir = join(this.dirs.parts, id);
      await fsp.mkdir(dir, { recursive: true });
      const file = `${part}-${tempName()}`;
      const md5 = createHash('md5');
      const n = await writeDurable(join(dir, file), body, (c) => md5.update(c), size === undefined ? Math.max(0, this.maxDirty - this.dirtyBytes()) : undefined);
      if (size !== undefined && n !== size) {
        await fsp.rm(join(dir, file), { force: true });
        throw new S3Error('IncompleteBody', `received ${n} bytes, the request announced ${size}`);
      }
      await fsyncDir(dir);
      const etag = md5.digest('hex');
      const old = this.index.putPart(id, { part, size: n, etag, file });
      if (old) await fsp.rm(join(dir, old), { force: true });
      return etag;
    } finally {
      release();
    }
  }

  listParts(id: string, key: string): PartRow[] {
    this.requireUpload(id, key);
    return this.index.parts(id);
  }

  async completeUpload(id: string, key: string, wanted: ReadonlyArray<{ part: number; etag: string }>): Promise<EntryRow> {
    const u = this.requireUpload(id, key);
    if (wanted.length === 0) throw new S3Error('MalformedXML', 'the XML you provided names no parts');
    const have = new Map(this.index.parts(id).map((p) => [p.part, p]));
    const chosen: PartRow[] = [];
    let prev = 0;
    for (const w of wanted) {
      if (w.part <= prev) throw new S3Error('InvalidPartOrder', 'the list of parts was not in ascending order');
      prev = w.part;
      const p = have.get(w.part);
      if (!p || p.etag !== w.etag.replace(/"/g, '').toLowerCase()) {
        throw new S3Error('InvalidPart', `part ${w.part} was not uploaded, or its ETag does not match`);
      }
      chosen.push(p);
    }
    chosen.forEach((p, i) => {
      if (i < chosen.length - 1 && p.size < MIN_PART_SIZE) throw new S3Error('EntityTooSmall', `part ${p.part} is ${p.size} bytes; every part but the last must be at least 5 MiB`);
    });
    const dir = join(this.dirs.parts, id);
    async function* concat(): AsyncGenerator<Buffer> {
      for (const p of chosen) yield* createReadStream(join(dir, p.file)) as AsyncIterable<Buffer>;
    }
    const row = await this.put(
      key,
      concat(),
      { size: chosen.reduce((a, p) => a + p.size, 0), ...(u.contentType ? { contentType: u.contentType } : {}), metadata: u.metadata },
      { etag: multipartEtag(chosen.map((p) => p.etag)), reserved: true },
    );
    this.index.removeUpload(id);
    await fsp.rm(dir, { recursive: true, force: true });
    return row;
  }

  async abortUpload(id: string, key: string): Promise<void> {
    this.requireUpload(id, key);
    this.index.removeUpload(id);
    await fsp.rm(join(this.dirs.parts, id), { recursive: true, force: true });
  }

  // ------------------------------------------------------- preload / release

  /**
   * Fetches objects into the cache, `concurrency` at a time: every object under `prefix`,
   * or the given `items` (keys, with the MD5 and size they must have: a snapshot's files).
   * `listFirst` lists that prefix once before the items are looked up, instead of a HEAD
   * per key. An item with an MD5 is hashed as it lands (or from the cache when already
   * there); one that does not match is named in `mismatched` and its clean cached bytes
   * are dropped, so the tree holds only what was verified.
   */
  async preload(o: PreloadRequest & { signal?: AbortSignal; onProgress?: (p: PreloadProgress) => void }): Promise<PreloadResult> {
    let items: readonly PreloadItem[];
    if (o.items) {
      items = o.items;
      if (o.listFirst !== undefined) await this.ensureListed(o.listFirst, true, o.signal);
    } else {
      await this.ensureListed(o.prefix ?? '', true, o.signal);
      items = this.index.entriesUnder(o.prefix ?? '').map((e) => ({ key: e.key }));
    }
    const total = items.length;
    const missing: string[] = [];
    const mismatched: PreloadMismatch[] = [];
    let done = 0;
    let bytes = 0;
    let verified = 0;
    await forEachConcurrent(
      items,
      o.concurrency ?? 4,
      async (item) => {
        const e = await this.lookup(item.key, o.signal);
        if (!e) missing.push(item.key);
        else if (item.size !== undefined && e.size !== item.size) mismatched.push({ key: item.key, reason: `${e.size} bytes, expected ${item.size}` });
        else {
          const hash = item.md5 !== undefined ? createHash('md5') : undefined;
          if (this.isCached(e)) {
            if (hash) for await (const c of readRange(dataPath(this.dirs, e.key), 0, e.size) as AsyncIterable<Buffer>) hash.update(c);
          } else {
            for await (const c of this.read(e, 0, e.size, o.signal)) {
              bytes += c.length;
              hash?.update(c);
            }
          }
          const md5 = hash?.digest('hex');
          if (md5 !== undefined && md5 === item.md5) verified++;
          else if (md5 !== undefined) {
            mismatched.push({ key: item.key, reason: `MD5 ${md5}, expected ${item.md5}` });
            const c = this.index.cached(e.key);
            if (c && !this.index.journalRow(e.key)) await this.dropCachedSync(c);
          }
        }
        done++;
        o.onProgress?.({ done, total, bytes, key: item.key, verified, missing: missing.length, mismatched: mismatched.length });
      },
      o.signal,
    );
    return { done, total, bytes, verified, missing, mismatched };
  }

  /** Frees the clean cached data under `prefix`; dirty data stays. */
  async release(prefix: string): Promise<{ released: number; bytes: number; keptDirty: number }> {
    let released = 0;
    let bytes = 0;
    let keptDirty = 0;
    for (const c of this.index.cachedUnder(prefix)) {
      if (this.index.journalRow(c.key)) {
        keptDirty++;
        continue;
      }
      await this.dropCachedSync(c);
      released++;
      bytes += c.bytes;
    }
    return { released, bytes, keptDirty };
  }

  journal(): JournalRow[] {
    return this.index.journalRows();
  }
}
