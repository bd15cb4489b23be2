/**
 * Follows append-only local files: one file, every file under a directory, or a glob; new
 * files are picked up as they appear. A file is known by its device and inode plus a
 * fingerprint of its first bytes — never by name alone — and read through a descriptor held
 * open, so:
 *  - rotation by rename (app.log → app.log.1, a new app.log) is followed to the end of the
 *    old inode: the renamed file is drained, and done once it has been quiet for
 *    `rotateQuietMs`; the new file is a new stream;
 *  - truncation (the file shorter than what was shipped, or the bytes just before the
 *    shipped offset changed) starts a new generation of the same file at offset 0;
 *  - an inode number reused by another file (a different first bytes) is another file;
 *  - a file of any size, even a few bytes, is followed (no minimum fingerprint length).
 * After a restart the journaled files are found again at their last path or, renamed, in
 * the same directory by inode.
 *
 * Appends are noticed as they happen where the kernel tells (inotify through fs.watch on each
 * followed file and on the base directory), and by polling everywhere (NFS tells nothing).
 * Each growth is stamped with when it arrived: the file's mtime (the kernel's time of the
 * write, so a busy machine that runs this process late does not make bytes look younger),
 * never later than when it was seen — so a byte's age counts from its arrival, not from when
 * it was noticed or from when the previous segment finished.
 *
 * Two positions per file: `record`, what is committed (stored and verified), and `cursor`,
 * where the next segment is cut — past the segments in flight. A truncation or rewrite
 * found while segments are in flight waits until they are committed: they hold bytes the
 * file really had, read before it changed.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { UsageError } from '../core/errors.js';
import type { PushFile, StreamJournal } from './journal.js';
import { fileIdOf } from './keys.js';
import { sha256 } from './retry.js';

/** Bytes of a file's head that identify it (with device and inode). */
export const HEAD_BYTES = 1024;
/** Bytes before the shipped offset checked on every read, to notice a rewrite. */
export const TAIL_BYTES = 64;

const EMPTY_SHA = sha256(Buffer.alloc(0));
/** Growth samples kept per file (arrival times of its unstored bytes). */
const MAX_ARRIVALS = 512;

export interface Observed {
  readonly path: string;
  /** Path relative to the pattern's base directory, '/'-separated. */
  readonly rel: string;
  readonly dev: string;
  readonly ino: string;
  readonly size: number;
}

/** Which files a source spec names: `base` and a matcher of paths relative to it. */
export class SourcePattern {
  readonly base: string;
  private readonly matches: (rel: string) => boolean;
  private readonly single: string | undefined;

  constructor(readonly spec: string) {
    const abs = resolve(spec);
    const scan = picomatch.scan(abs);
    if (scan.isGlob) {
      this.base = scan.base || '/';
      const m = picomatch(scan.glob, { dot: false });
      this.matches = (rel) => m(rel);
      this.single = undefined;
      return;
    }
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      isDir = spec.endsWith('/');
    }
    if (isDir) {
      this.base = abs;
      this.matches = () => true;
      this.single = undefined;
    } else {
      this.base = dirname(abs);
      this.single = basename(abs);
      this.matches = (rel) => rel === this.single;
    }
    try {
      if (!statSync(this.base).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new UsageError(`stream source ${spec}: directory ${this.base} does not exist`, { hint: 'create it, or give an existing file, directory or glob' });
    }
  }

  /** The regular files matching now, in path order. */
  scan(): Observed[] {
    const out: Observed[] = [];
    if (this.single !== undefined) {
      const o = observe(join(this.base, this.single), this.single);
      if (o) out.push(o);
      return out;
    }
    const walk = (dir: string): void => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const name of names) {
        const path = join(dir, name);
        let st;
        try {
          st = statSync(path, { bigint: true });
        } catch {
          continue;
        }
        if (st.isDirectory()) walk(path);
        else if (st.isFile()) {
          const rel = relative(this.base, path).split(sep).join('/');
          if (this.matches(rel)) out.push({ path, rel, dev: String(st.dev), ino: String(st.ino), size: Number(st.size) });
        }
      }
    };
    walk(this.base);
    return out;
  }

  relOf(path: string): string {
    return relative(this.base, path).split(sep).join('/');
  }
}

function observe(path: string, rel: string): Observed | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isFile() ? { path, rel, dev: String(st.dev), ino: String(st.ino), size: Number(st.size) } : undefined;
  } catch {
    return undefined;
  }
}

/** One followed file: its journaled record plus what only this process knows. */
export interface TrackedFile {
  /** What is committed: bytes before `record.offset` are stored and verified. */
  record: PushFile;
  /** Where the next segment is cut: the record once every segment cut so far commits (= record when none is in flight). */
  cursor: PushFile;
  /** Segments cut and not yet committed. */
  inFlight: number;
  readonly fd: number;
  rel: string;
  /** Still named by the source pattern (false once rotated away or deleted). */
  matched: boolean;
  /** Size when last looked at. */
  size: number;
  lastGrowthAt: number;
  /**
   * Growth as first seen, oldest first: the bytes up to `size` arrived by `at`. Only growth
   * past the committed offset is kept; the arrival of any byte after it is looked up here.
   */
  arrivals: Array<{ size: number; at: number }>;
  watcher?: FSWatcher;
}

export interface FollowerOptions {
  readonly lane: string;
  readonly journal: StreamJournal;
  readonly pattern: SourcePattern;
  /** How long a rotated-away file must stay unchanged, drained, before it is closed (ms). */
  readonly rotateQuietMs: number;
  readonly now?: () => number;
  readonly onNotice?: (message: string) => void;
  /**
   * Called when the kernel reports a change: with the file after its growth was recorded,
   * or without one when the base directory changed (a file appeared, went or was renamed).
   * Without it nothing is watched (polling only).
   */
  readonly onChange?: (t: TrackedFile | undefined) => void;
}

export class Follower {
  private readonly tracked = new Map<string, TrackedFile>();
  private readonly now: () => number;
  private dirWatcher: FSWatcher | undefined;

  constructor(private readonly o: FollowerOptions) {
    this.now = o.now ?? Date.now;
    if (o.onChange) {
      const onChange = o.onChange;
      this.dirWatcher = watchQuietly(o.pattern.base, (event) => {
        if (event === 'rename') onChange(undefined);
      });
    }
  }

  files(): TrackedFile[] {
    return [...this.tracked.values()];
  }

  /** Reopens the files the journal follows: at their last path, else renamed in the same directory. */
  resume(): void {
    for (const rec of this.o.journal.pushFiles(this.o.lane, ['active'])) {
      const path = this.locate(rec);
      const fd = path !== undefined ? openSync(path, 'r') : undefined;
      if (fd === undefined || !this.sameHead(fd, rec)) {
        if (fd !== undefined) closeSync(fd);
        this.o.journal.upsertFile(this.o.lane, { ...rec, state: 'lost' });
        this.o.journal.dropIntents(this.o.lane, rec.fileId);
        this.o.onNotice?.(`${rec.path} (${rec.fileId}): no longer found by device and inode; bytes after offset ${rec.offset} of generation ${rec.generation} were not shipped`);
        continue;
      }
      const rel = this.o.pattern.relOf(path!);
      const record = path !== rec.path ? { ...rec, path: path! } : rec;
      this.add(record, fd, rel, false);
    }
  }

  /** Scans the pattern and refreshes sizes: new files, rotations, truncations. */
  poll(): void {
    const now = this.now();
    const seen = new Set<string>();
    for (const ob of this.o.pattern.scan()) {
      const id = `${ob.dev}:${ob.ino}`;
      seen.add(id);
      const t = this.tracked.get(id);
      if (t) {
        t.matched = true;
        if (t.record.path !== ob.path) {
          t.record = { ...t.record, path: ob.path };
          t.cursor = { ...t.cursor, path: ob.path };
        }
        t.rel = ob.rel;
      } else {
        this.discover(ob);
      }
    }
    for (const [id, t] of this.tracked) {
      if (!seen.has(id)) t.matched = false;
      this.observe(t, fstatSync(t.fd), now);
      // a truncation waits for the segments in flight: they hold bytes read before it
      if (t.inFlight === 0 && t.size < t.record.offset) this.newGeneration(t, `${t.record.path} is shorter (${t.size} bytes) than the ${t.record.offset} shipped: truncated`);
    }
  }

  /** Looks at one file's size now (a kernel event said it changed). */
  sample(t: TrackedFile): void {
    try {
      this.observe(t, fstatSync(t.fd), this.now());
    } catch {
      // closed meanwhile: the next poll decides
    }
  }

  private observe(t: TrackedFile, st: { size: number; mtimeMs: number }, now: number): void {
    const size = st.size;
    if (size > t.size) {
      t.lastGrowthAt = now;
      if (size > t.record.offset && t.record.state === 'active') {
        t.arrivals.push({ size, at: Math.max(t.arrivals.at(-1)?.at ?? 0, arrivalOf(st, now)) });
        // a lane far behind keeps a bounded record: each pair of samples merged into one with
        // the earlier time, so bytes count as a little older than they are (cut sooner), never younger
        if (t.arrivals.length > MAX_ARRIVALS) {
          const a = t.arrivals;
          t.arrivals = a.filter((_, i) => i % 2 === 0).map((x, j) => ({ size: a[2 * j + 1]?.size ?? x.size, at: x.at }));
        }
      }
    }
    t.size = size;
  }

  /** When the byte at `offset` arrived (first seen); undefined when the file does not reach past it. */
  arrivedAt(t: TrackedFile, offset: number): number | undefined {
    if (t.size <= offset) return undefined;
    for (const a of t.arrivals) if (a.size > offset) return a.at;
    return this.now(); // grew without being seen growing (a shrink and regrowth): seen now
  }

  /** When the oldest byte not yet cut into a segment arrived; undefined when there is none. */
  pendingSince(t: TrackedFile): number | undefined {
    return this.arrivedAt(t, t.cursor.offset);
  }

  /** When the oldest byte not yet stored (cut or not) arrived; undefined when there is none. */
  unstoredSince(t: TrackedFile): number | undefined {
    return this.arrivedAt(t, t.record.offset);
  }

  /** True once a rotated-away file will not grow: unmatched and unchanged for rotateQuietMs. */
  isFinal(t: TrackedFile): boolean {
    return !t.matched && this.now() - t.lastGrowthAt >= this.o.rotateQuietMs;
  }

  /** Closes rotated-away files that are drained and quiet; their streams are complete. */
  retireDrained(): TrackedFile[] {
    const done: TrackedFile[] = [];
    for (const [id, t] of this.tracked) {
      if (this.isFinal(t) && t.inFlight === 0 && t.size === t.record.offset) {
        t.watcher?.close();
        closeSync(t.fd);
        this.tracked.delete(id);
        t.record = { ...t.record, state: 'done' };
        this.o.journal.upsertFile(this.o.lane, t.record);
        done.push(t);
      }
    }
    return done;
  }

  /**
   * `length` bytes from the cursor, or undefined when the bytes before it changed (the file
   * was rewritten: once no segment is in flight a new generation begins; poll again) or are
   * not all there.
   */
  readPending(t: TrackedFile, length: number): Buffer | undefined {
    const c = t.cursor;
    const off = c.offset;
    const tailLen = Math.min(off, TAIL_BYTES);
    const buf = readAt(t.fd, off - tailLen, tailLen + length);
    if (tailLen > 0 && sha256(buf.subarray(0, tailLen)) !== c.tailSha) {
      if (t.inFlight === 0) this.newGeneration(t, `${c.path}: the bytes before offset ${off} changed: rewritten`);
      return undefined;
    }
    if (buf.length < tailLen + length) return undefined;
    return buf.subarray(tailLen);
  }

  /** Bytes [start, end) of the file's current content. */
  read(t: TrackedFile, start: number, end: number): Buffer {
    return readAt(t.fd, start, end - start);
  }

  /** The record after shipping [cursor, end): fingerprints moved with the offset (not yet journaled). */
  advanced(t: TrackedFile, end: number, headerLen: number): PushFile {
    const r = t.cursor;
    const headLen = r.headLen < HEAD_BYTES && end > r.headLen ? Math.min(HEAD_BYTES, end) : r.headLen;
    const headSha = headLen !== r.headLen ? sha256(readAt(t.fd, 0, headLen)) : r.headSha;
    const tailLen = Math.min(end, TAIL_BYTES);
    const tailSha = sha256(readAt(t.fd, end - tailLen, tailLen));
    return { ...r, offset: end, nextSeq: r.nextSeq + 1, headLen, headSha, tailLen, tailSha, headerLen };
  }

  /** A segment up to `next` was cut (and journaled): the cursor moves past it. */
  cut(t: TrackedFile, next: PushFile): void {
    t.cursor = next;
    t.inFlight++;
  }

  /** The oldest segment in flight committed (the journal has it): the record moves to `next`. */
  commit(t: TrackedFile, next: PushFile): void {
    t.record = { ...next, path: t.record.path };
    t.inFlight = Math.max(0, t.inFlight - 1);
    if (t.inFlight === 0) t.cursor = t.record;
    while (t.arrivals.length > 0 && t.arrivals[0]!.size <= t.record.offset) t.arrivals.shift();
  }

  /** The segments in flight were dropped (not to be shipped): the cursor goes back to the record. */
  rewind(t: TrackedFile): void {
    t.cursor = t.record;
    t.inFlight = 0;
  }

  /** Records a committed advance with nothing in flight (after the journal has it). */
  advance(t: TrackedFile, record: PushFile): void {
    t.record = record;
    t.cursor = record;
    t.inFlight = 0;
    while (t.arrivals.length > 0 && t.arrivals[0]!.size <= record.offset) t.arrivals.shift();
  }

  /** Marks a file as not to be shipped (policy denied it); it stays followed so it is not rediscovered. */
  deny(t: TrackedFile): void {
    t.record = { ...t.record, state: 'denied' };
    t.cursor = t.record;
    this.o.journal.upsertFile(this.o.lane, t.record);
  }

  close(): void {
    this.dirWatcher?.close();
    for (const t of this.tracked.values()) {
      t.watcher?.close();
      closeSync(t.fd);
    }
    this.tracked.clear();
  }

  private newGeneration(t: TrackedFile, why: string): void {
    this.o.onNotice?.(`${why}; generation ${t.record.generation + 1} starts at offset 0`);
    t.record = { ...t.record, generation: t.record.generation + 1, offset: 0, nextSeq: 0, headLen: 0, headSha: EMPTY_SHA, tailLen: 0, tailSha: EMPTY_SHA, headerLen: 0 };
    t.cursor = t.record;
    this.o.journal.upsertFile(this.o.lane, t.record);
    const st = fstatSync(t.fd);
    t.size = st.size;
    t.arrivals = t.size > 0 ? [{ size: t.size, at: arrivalOf(st, this.now()) }] : [];
  }

  private discover(ob: Observed): void {
    let fd: number;
    try {
      fd = openSync(ob.path, 'r');
    } catch {
      return; // gone between scan and open: the next scan decides
    }
    const st = fstatSync(fd, { bigint: true });
    if (String(st.dev) !== ob.dev || String(st.ino) !== ob.ino) {
      closeSync(fd);
      return; // replaced between scan and open
    }
    for (const rec of this.o.journal.byInode(this.o.lane, ob.dev, ob.ino)) {
      if (this.sameHead(fd, rec) && this.sameTail(fd, rec)) {
        const state = rec.state === 'denied' ? 'denied' : 'active';
        const record: PushFile = { ...rec, path: ob.path, state };
        if (state !== rec.state || rec.path !== ob.path) this.o.journal.upsertFile(this.o.lane, record);
        this.add(record, fd, ob.rel, true);
        return;
      }
      if (rec.state === 'active') {
        this.o.journal.upsertFile(this.o.lane, { ...rec, state: 'lost' });
        this.o.onNotice?.(`${rec.path} (${rec.fileId}): its inode now holds another file; bytes after offset ${rec.offset} were not shipped`);
      }
    }
    const record: PushFile = {
      fileId: fileIdOf(basename(ob.path), randomBytes(8).toString('hex')),
      path: ob.path,
      dev: ob.dev,
      ino: ob.ino,
      generation: 0,
      offset: 0,
      nextSeq: 0,
      headLen: 0,
      headSha: EMPTY_SHA,
      tailLen: 0,
      tailSha: EMPTY_SHA,
      headerLen: 0,
      state: 'active',
    };
    this.o.journal.upsertFile(this.o.lane, record);
    this.add(record, fd, ob.rel, true);
  }

  private add(record: PushFile, fd: number, rel: string, matched: boolean): void {
    const st = fstatSync(fd);
    const size = st.size;
    const now = this.now();
    const t: TrackedFile = {
      record,
      cursor: record,
      inFlight: 0,
      fd,
      rel,
      matched,
      size,
      lastGrowthAt: now,
      // found with bytes not yet shipped: from the start of a generation they arrived since the
      // file was created (its birth time, where the file system keeps one); after a restart, by its mtime
      arrivals: size > record.offset ? [{ size, at: record.offset === 0 && st.birthtimeMs > 0 ? Math.min(now, st.birthtimeMs, st.mtimeMs) : arrivalOf(st, now) }] : [],
    };
    const onChange = this.o.onChange;
    if (onChange) {
      // the watch follows the inode: a rotated-away file keeps reporting its late writes
      t.watcher = watchQuietly(record.path, () => {
        this.sample(t);
        onChange(t);
      });
    }
    this.tracked.set(`${record.dev}:${record.ino}`, t);
  }

  private locate(rec: PushFile): string | undefined {
    const same = (p: string): boolean => {
      try {
        const st = statSync(p, { bigint: true });
        return st.isFile() && String(st.dev) === rec.dev && String(st.ino) === rec.ino;
      } catch {
        return false;
      }
    };
    if (same(rec.path)) return rec.path;
    const dir = dirname(rec.path);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return undefined;
    }
    for (const n of names) if (same(join(dir, n))) return join(dir, n);
    return undefined;
  }

  private sameHead(fd: number, rec: PushFile): boolean {
    if (rec.headLen === 0) return true;
    const head = readAt(fd, 0, rec.headLen);
    return head.length === rec.headLen && sha256(head) === rec.headSha;
  }

  private sameTail(fd: number, rec: PushFile): boolean {
    if (rec.tailLen === 0) return true;
    const tail = readAt(fd, rec.offset - rec.tailLen, rec.tailLen);
    return tail.length === rec.tailLen && sha256(tail) === rec.tailSha;
  }
}

/** When the bytes a stat shows arrived: its mtime (the last write), but never later than `now` (when it was seen). */
function arrivalOf(st: { mtimeMs: number }, now: number): number {
  return Math.min(now, st.mtimeMs);
}

/** fs.watch, or nothing where the kernel cannot (no inotify, the watch limit reached): polling still finds every change. */
function watchQuietly(path: string, listener: (event: string) => void): FSWatcher | undefined {
  try {
    const w = watch(path, { persistent: false }, (event) => listener(event));
    w.on('error', () => w.close());
    return w;
  } catch {
    return undefined;
  }
}

/** Up to `length` bytes at `pos` (fewer at end of file). */
export function readAt(fd: number, pos: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}
