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
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
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
  record: PushFile;
  readonly fd: number;
  rel: string;
  /** Still named by the source pattern (false once rotated away or deleted). */
  matched: boolean;
  /** Size at the last poll. */
  size: number;
  lastGrowthAt: number;
  /** When bytes after the offset were first seen; undefined when there are none. */
  pendingSince: number | undefined;
}

export interface FollowerOptions {
  readonly lane: string;
  readonly journal: StreamJournal;
  readonly pattern: SourcePattern;
  /** How long a rotated-away file must stay unchanged, drained, before it is closed (ms). */
  readonly rotateQuietMs: number;
  readonly now?: () => number;
  readonly onNotice?: (message: string) => void;
}

export class Follower {
  private readonly tracked = new Map<string, TrackedFile>();
  private readonly now: () => number;

  constructor(private readonly o: FollowerOptions) {
    this.now = o.now ?? Date.now;
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
        if (t.record.path !== ob.path) t.record = { ...t.record, path: ob.path };
        t.rel = ob.rel;
      } else {
        this.discover(ob);
      }
    }
    for (const [id, t] of this.tracked) {
      if (!seen.has(id)) t.matched = false;
      const size = fstatSync(t.fd).size;
      if (size > t.size) t.lastGrowthAt = now;
      t.size = size;
      if (size < t.record.offset) this.newGeneration(t, `${t.record.path} is shorter (${size} bytes) than the ${t.record.offset} shipped: truncated`);
      if (t.size > t.record.offset) t.pendingSince ??= now;
      else t.pendingSince = undefined;
    }
  }

  /** True once a rotated-away file will not grow: unmatched and unchanged for rotateQuietMs. */
  isFinal(t: TrackedFile): boolean {
    return !t.matched && this.now() - t.lastGrowthAt >= this.o.rotateQuietMs;
  }

  /** Closes rotated-away files that are drained and quiet; their streams are complete. */
  retireDrained(): TrackedFile[] {
    const done: TrackedFile[] = [];
    for (const [id, t] of this.tracked) {
      if (this.isFinal(t) && t.size === t.record.offset) {
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
   * `length` bytes from the shipped offset, or undefined when the bytes before the offset
   * changed (the file was rewritten: a new generation has begun, poll again).
   */
  readPending(t: TrackedFile, length: number): Buffer | undefined {
    const off = t.record.offset;
    const tailLen = Math.min(off, TAIL_BYTES);
    const buf = readAt(t.fd, off - tailLen, tailLen + length);
    if (tailLen > 0 && sha256(buf.subarray(0, tailLen)) !== t.record.tailSha) {
      this.newGeneration(t, `${t.record.path}: the bytes before offset ${off} changed: rewritten`);
      return undefined;
    }
    if (buf.length < tailLen + length) return undefined;
    return buf.subarray(tailLen);
  }

  /** Bytes [start, end) of the file's current content. */
  read(t: TrackedFile, start: number, end: number): Buffer {
    return readAt(t.fd, start, end - start);
  }

  /** The record after shipping [offset, end): fingerprints moved with the offset (not yet journaled). */
  advanced(t: TrackedFile, end: number, headerLen: number): PushFile {
    const r = t.record;
    const headLen = r.headLen < HEAD_BYTES && end > r.headLen ? Math.min(HEAD_BYTES, end) : r.headLen;
    const headSha = headLen !== r.headLen ? sha256(readAt(t.fd, 0, headLen)) : r.headSha;
    const tailLen = Math.min(end, TAIL_BYTES);
    const tailSha = sha256(readAt(t.fd, end - tailLen, tailLen));
    return { ...r, offset: end, nextSeq: r.nextSeq + 1, headLen, headSha, tailLen, tailSha, headerLen };
  }

  /** Records a committed advance (after the journal has it). */
  advance(t: TrackedFile, record: PushFile): void {
    t.record = record;
    t.pendingSince = t.size > record.offset ? this.now() : undefined;
  }

  /** Marks a file as not to be shipped (policy denied it); it stays followed so it is not rediscovered. */
  deny(t: TrackedFile): void {
    t.record = { ...t.record, state: 'denied' };
    this.o.journal.upsertFile(this.o.lane, t.record);
  }

  close(): void {
    for (const t of this.tracked.values()) closeSync(t.fd);
    this.tracked.clear();
  }

  private newGeneration(t: TrackedFile, why: string): void {
    this.o.onNotice?.(`${why}; generation ${t.record.generation + 1} starts at offset 0`);
    t.record = { ...t.record, generation: t.record.generation + 1, offset: 0, nextSeq: 0, headLen: 0, headSha: EMPTY_SHA, tailLen: 0, tailSha: EMPTY_SHA, headerLen: 0 };
    this.o.journal.upsertFile(this.o.lane, t.record);
    t.size = fstatSync(t.fd).size;
    t.pendingSince = t.size > 0 ? this.now() : undefined;
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
    const size = fstatSync(fd).size;
    const now = this.now();
    this.tracked.set(`${record.dev}:${record.ino}`, {
      record,
      fd,
      rel,
      matched,
      size,
      lastGrowthAt: now,
      pendingSince: size > record.offset ? now : undefined,
    });
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
