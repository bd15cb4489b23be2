/**
 * A pull lane: follows new objects under a prefix, in key order, into local files.
 *
 * `segments` mode reassembles what push lanes wrote: each `<file-id>/<generation>/` becomes
 * the local file `DST/<file-id>/<generation>`, and segment objects are appended in seq order
 * idempotently — a segment is appended only when the local file has exactly the bytes the
 * applied segments account for (written, then fsync'd, then the offset commits); a file that
 * already holds it (killed after the write, before the commit) is checked byte for byte and
 * committed. A missing segment is never skipped. Because a pusher stores up to its window of
 * segments at once, a later segment can exist briefly before an earlier one: a gap is waited
 * for while it may be a segment in flight, and stops the lane with an error naming the
 * missing segment once it cannot be (see judgeGap: the pusher's window says so, a later
 * generation exists, the ranges disagree) or has stayed missing for `gapGrace`.
 * New streams are found with a delimiter listing where the backend has one; each stream
 * is listed from its last applied key (start-after), so a poll costs requests for new
 * objects only.
 *
 * `plain` mode, for logs written by cloud services: every new object becomes the local file
 * of the same name (downloaded to a temporary name, fsync'd, renamed), in key order from the
 * last one taken. It relies on the writer naming objects in increasing order (time-prefixed
 * names, as Firehose, data-capture and log exports write them).
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hasPrefixLister, type Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { IntegrityError, NotFoundError } from '../core/errors.js';
import { sleep } from '../lib/abort.js';
import { readAt } from './follower.js';
import type { PullFile } from './journal.js';
import { parseSegmentKey, WINDOW_METADATA, type SegmentName } from './keys.js';
import { md5, retrySegment, sha256 } from './retry.js';
import type { LaneContext } from './stats.js';

export interface PullLaneOptions extends LaneContext {
  /** The local directory files are written to (absolute). */
  readonly dstDir: string;
  readonly mode: 'segments' | 'plain';
  /** How long a gap that may be a segment in flight is waited for (ms). */
  readonly gapGraceMs: number;
  readonly now?: () => number;
}

/** The segment a file waits for, and why it could still come. */
type GapVerdict = { readonly wait: true } | { readonly wait: false; readonly why: string };

/** Objects taken from one listing before they are applied: bounds memory, gives the lag. */
const BATCH = 1000;
const pad6 = (n: number): string => String(n).padStart(6, '0');

export class PullLane {
  /** Listed and not yet applied, per stream (file id; '' in plain mode): the lag. */
  private readonly pending = new Map<string, { bytes: number; since: number | undefined }>();
  private readonly classified = new Map<string, string | undefined>();
  private plainSeq = 0;
  /** Per file id, the missing segment being waited for and since when. */
  private readonly gaps = new Map<string, { want: string; since: number }>();
  /** Pushers' windows read from segment objects' metadata, by key. */
  private readonly windows = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: PullLaneOptions) {
    this.now = o.now ?? Date.now;
    o.stats.lagFrom(() => {
      let bytes = 0;
      let since: number | undefined;
      for (const p of this.pending.values()) {
        bytes += p.bytes;
        if (p.bytes > 0 && p.since !== undefined) since = Math.min(since ?? p.since, p.since);
      }
      return { bytes, since };
    });
  }

  async run(): Promise<void> {
    const { o } = this;
    o.stats.state = 'following';
    try {
      for (;;) {
        o.signal.throwIfAborted();
        const { applied, waiting } = o.mode === 'plain' ? { applied: await this.pollPlain(), waiting: false } : await this.pollSegments();
        // --once ends when nothing is left to apply, not while a segment may still be in flight
        if (applied === 0 && o.once && !waiting) return;
        if (applied === 0) await sleep(o.pollMs, o.signal);
      }
    } finally {
      o.stats.freezeLag();
    }
  }

  // ------------------------------------------------------------------- segments

  private async pollSegments(): Promise<{ applied: number; waiting: boolean }> {
    const { o } = this;
    const files = new Map(o.journal.pullFiles(o.lane).map((f) => [f.fileId, f]));
    for (const id of await this.streamIds()) {
      if (!files.has(id)) files.set(id, { fileId: id, generation: 0, nextSeq: 0, srcEnd: 0, offset: 0, lastKey: undefined });
    }
    let applied = 0;
    let waiting = false;
    for (const start of files.values()) {
      let f = start;
      for (;;) {
        const batch = await this.take(f.fileId, { prefix: `${f.fileId}/`, ...(f.lastKey ? { startAfter: f.lastKey } : {}) });
        if (batch.length === 0) break;
        let stalled = false;
        for (let k = 0; k < batch.length; k++) {
          const e = batch[k]!;
          const s = parseSegmentKey(e.key);
          if (!s || s.fileId !== f.fileId) {
            o.emit({ type: 'notice', message: `${where(o.src, e.key)} is not a segment object (<file-id>/<generation>/<seq>-<start>-<end>); left alone` });
            f = { ...f, lastKey: e.key };
            this.consumed(f.fileId, e);
            continue;
          }
          const cur = expectedNext(f, s);
          if (s.generation !== cur.generation || s.seq !== cur.nextSeq || s.start !== cur.srcEnd) {
            const verdict = await this.judgeGap(cur, s, batch.slice(k));
            if (verdict.wait) {
              stalled = true;
              break;
            }
            throw gapError(o.src, cur, e.key, verdict.why);
          }
          this.gaps.delete(f.fileId);
          f = await this.applySegment(cur, s, e);
          applied++;
          this.consumed(f.fileId, e);
        }
        if (stalled) {
          waiting = true;
          break;
        }
        if (batch.length < BATCH) break;
      }
    }
    return { applied, waiting };
  }

  /**
   * A file's next segment `want` is missing and `s` (the first of `later`, listed after it)
   * is there. A pusher with window w stores at most w segments of a file at once, and cuts a
   * segment only when fewer than w are unstored: so segment q (window w, its metadata) exists
   * only once every seq ≤ q − w was stored, and a later generation only once this one was
   * complete. When the listing proves `want` was stored, or disagrees with it (same seq,
   * other range), it is missing for good; else it may be in flight — waited for, up to
   * gapGrace from when this lane first saw the gap.
   */
  private async judgeGap(want: PullFile, s: SegmentName, later: readonly Entry[]): Promise<GapVerdict> {
    const { o } = this;
    if (s.generation === want.generation && s.seq <= want.nextSeq) {
      return { wait: false, why: `it holds bytes from ${s.start}, not ${want.srcEnd}` };
    }
    const parsed = later.map((e) => ({ e, s: parseSegmentKey(e.key) })).filter((x) => x.s?.fileId === want.fileId);
    if (parsed.some((x) => x.s!.generation > want.generation)) {
      return { wait: false, why: `generation ${want.generation + 1} exists, which a pusher starts only after this one is stored` };
    }
    const last = parsed.filter((x) => x.s!.generation === want.generation).at(-1);
    if (last) {
      const w = await this.windowOf(last.e.key);
      if (last.s!.seq - w >= want.nextSeq) {
        return { wait: false, why: `segment ${last.s!.seq} exists, cut by a pusher storing at most ${w} at once, so seq ${want.nextSeq} was stored before it` };
      }
    }
    const key = `${want.generation}/${want.nextSeq}/${want.srcEnd}`;
    const gap = this.gaps.get(want.fileId);
    const now = this.now();
    if (!gap || gap.want !== key) {
      this.gaps.set(want.fileId, { want: key, since: now });
      o.emit({ type: 'notice', message: `${where(o.src, wantKey(want))}: not there yet while later segments are; waiting for it (it may be in flight) up to ${Math.round(o.gapGraceMs / 1000)}s` });
      return { wait: true };
    }
    if (now - gap.since < o.gapGraceMs) return { wait: true };
    return { wait: false, why: `it has been missing for ${Math.round((now - gap.since) / 1000)}s while later segments exist (--gap-grace ${Math.round(o.gapGraceMs / 1000)}s)` };
  }

  /** The pusher's window stored with a segment object; 1 when it has none (one segment in flight at a time). */
  private async windowOf(key: string): Promise<number> {
    const known = this.windows.get(key);
    if (known !== undefined) return known;
    const meta = await this.o.src.stat(key, { signal: this.o.signal });
    const w = Math.max(1, Math.floor(Number(meta?.metadata?.[WINDOW_METADATA] ?? 1)) || 1);
    this.windows.set(key, w);
    return w;
  }

  /** The file ids under the prefix: a delimiter listing where there is one, else every key's first part. */
  private async streamIds(): Promise<string[]> {
    const { src, signal } = this.o;
    const ids: string[] = [];
    if (hasPrefixLister(src)) {
      for await (const p of src.listPrefixes('', { signal })) ids.push(p.slice(0, -1));
      return ids;
    }
    let last: string | undefined;
    for await (const e of src.list({ signal, allowMissingRoot: true })) {
      const id = e.key.slice(0, e.key.indexOf('/'));
      if (id && id !== last) ids.push((last = id));
    }
    return ids;
  }

  /** Up to BATCH entries of a listing; the lag of stream `id` is what they hold. */
  private async take(id: string, opts: { prefix?: string; startAfter?: string }): Promise<Entry[]> {
    const out: Entry[] = [];
    for await (const e of this.o.src.list({ ...opts, signal: this.o.signal, allowMissingRoot: true })) {
      out.push(e);
      if (out.length >= BATCH) break;
    }
    this.pending.set(id, {
      bytes: out.reduce((s, e) => s + e.size, 0),
      since: out.length ? Math.min(...out.map((e) => e.mtimeMs)) : undefined,
    });
    return out;
  }

  private consumed(id: string, e: Entry): void {
    const p = this.pending.get(id);
    if (p) this.pending.set(id, { bytes: Math.max(0, p.bytes - e.size), since: p.bytes - e.size > 0 ? p.since : undefined });
  }

  /** Appends segment `s` (object `e`) to the local file of `f`, the next one it expects. */
  private async applySegment(f: PullFile, s: SegmentName, e: Entry): Promise<PullFile> {
    const { o } = this;
    const classification = await this.admit(f.fileId, e);
    const data = await this.download(e);
    const rel = `${f.fileId}/${pad6(s.generation)}`;
    const path = join(o.dstDir, f.fileId, pad6(s.generation));
    const confirmed = appendExactly(path, f.offset, data);
    o.emit({
      type: 'segment',
      lane: o.lane,
      direction: 'pull',
      file: e.key,
      key: rel,
      fileId: s.fileId,
      generation: s.generation,
      seq: s.seq,
      start: s.start,
      end: s.end,
      bytes: data.length,
      sha256: sha256(data),
      md5: md5(data),
      ...(classification ? { classification } : {}),
      reason: 'pull',
      ...(confirmed ? { confirmed: true } : {}),
    });
    const next: PullFile = { fileId: f.fileId, generation: s.generation, nextSeq: s.seq + 1, srcEnd: s.end, offset: f.offset + data.length, lastKey: e.key };
    o.journal.commitPull(o.lane, next, data.length);
    o.stats.committed(data.length);
    return next;
  }

  /** Classification and policy for a stream (once per file id) or a plain object. */
  private async admit(id: string, e: Entry): Promise<string | undefined> {
    const { o } = this;
    if (!o.gate) return undefined;
    if (this.classified.has(id)) return this.classified.get(id);
    const d = await o.gate.admit(e, { src: o.src, dst: o.dst, signal: o.signal });
    if (!d.allow) {
      o.emit({ type: 'denied', key: e.key, size: e.size, classification: d.classification, reason: d.reason, ...(d.rule ? { rule: d.rule } : {}) });
      throw new IntegrityError(`${where(o.src, e.key)}: denied by policy (${d.classification}: ${d.reason}); the lane stops rather than skip it`, {
        hint: 'change the lane destination or the classification policy',
      });
    }
    if (d.transforms?.length) {
      throw new IntegrityError(`${where(o.src, e.key)}: the policy requires ${d.transforms.map((t) => t.name).join(', ')} toward this destination; pull lanes store bytes as pushed`, {
        hint: 'scrub on the push side (the segments are then stored scrubbed), or pull into an environment that allows the data',
      });
    }
    this.classified.set(id, d.classification);
    return d.classification;
  }

  private async download(e: Entry): Promise<Buffer> {
    const { o } = this;
    await o.pacer?.take(e.size, o.signal);
    return retrySegment(e.key, o, async () => {
      const chunks: Buffer[] = [];
      for await (const c of (await o.src.read(e.key, { signal: o.signal })) as AsyncIterable<Buffer>) chunks.push(c);
      const data = Buffer.concat(chunks);
      if (data.length !== e.size) throw new IntegrityError(`${where(o.src, e.key)}: read ${data.length} bytes, listed ${e.size}`);
      if (e.md5 && md5(data) !== e.md5) throw new IntegrityError(`${where(o.src, e.key)}: content MD5 differs from the stored ${e.md5}`);
      return data;
    });
  }

  // ---------------------------------------------------------------------- plain

  private async pollPlain(): Promise<number> {
    const { o } = this;
    let applied = 0;
    for (;;) {
      const after = o.journal.plainWatermark(o.lane);
      const batch = await this.take('', after !== undefined ? { startAfter: after } : {});
      for (const e of batch) {
        const classification = await this.admit(e.key, e);
        this.classified.delete(e.key);
        const data = await this.download(e);
        const path = join(o.dstDir, e.key);
        writeWhole(path, data);
        o.emit({
          type: 'segment',
          lane: o.lane,
          direction: 'pull',
          file: e.key,
          key: e.key,
          fileId: '',
          generation: 0,
          seq: this.plainSeq++,
          start: 0,
          end: data.length,
          bytes: data.length,
          sha256: sha256(data),
          md5: md5(data),
          ...(classification ? { classification } : {}),
          reason: 'pull',
        });
        o.journal.commitPlain(o.lane, e.key, data.length);
        o.stats.committed(data.length);
        this.consumed('', e);
        applied++;
      }
      if (batch.length < BATCH) return applied;
    }
  }
}

/** A key as the user names it: the location as written, then the key. */
function where(b: Backend, key: string): string {
  return `${b.uri.replace(/\/?$/, '/')}${key}`;
}

/**
 * The segment a file expects next, given that `s` is listed next: the same generation, or
 * seq 0 of the next one (the source was truncated: a new local file) once this one has any.
 */
function expectedNext(f: PullFile, s: SegmentName): PullFile {
  if (s.generation > f.generation && f.nextSeq > 0) return { ...f, generation: f.generation + 1, nextSeq: 0, srcEnd: 0, offset: 0 };
  return f;
}

/** The key of the segment `f` expects next, as far as it is known (its end is not). */
function wantKey(f: PullFile): string {
  return `${f.fileId}/${pad6(f.generation)}/${String(f.nextSeq).padStart(10, '0')}-${String(f.srcEnd).padStart(15, '0')}-…`;
}

function gapError(src: Backend, f: PullFile, key: string, why: string): NotFoundError {
  return new NotFoundError(
    `missing segment ${where(src, wantKey(f))} (seq ${f.nextSeq} of generation ${f.generation}, bytes from ${f.srcEnd}): the next object is ${where(src, key)}, and ${why}; the lane stopped rather than skip it`,
    { hint: 'restore the missing segment object (or re-push it), then run the pull again' },
  );
}

/**
 * Appends `data` to the file at `path`, which must hold exactly `offset` bytes; or confirms
 * that it already ends with `data` at `offset` (a run killed after the write, before the
 * commit). Resolves true when it was already there. fsync'd before returning.
 */
export function appendExactly(path: string, offset: number, data: Buffer): boolean {
  const existed = mkdirAndOpen(path);
  const fd = existed.fd;
  try {
    const size = fstatSync(fd).size;
    if (size === offset) {
      let w = 0;
      while (w < data.length) w += writeSync(fd, data, w, data.length - w, offset + w);
      fsyncSync(fd);
      if (!existed.existed) fsyncDir(dirname(path));
      return false;
    }
    if (size === offset + data.length && readAt(fd, offset, data.length).equals(data)) return true;
    throw new IntegrityError(`${path} has ${size} bytes where the lane expects ${offset}: it was changed by something other than this lane`, {
      hint: 'move the file away and rerun with a new --lane to rebuild it from the segments',
    });
  } finally {
    closeSync(fd);
  }
}

function mkdirAndOpen(path: string): { fd: number; existed: boolean } {
  mkdirSync(dirname(path), { recursive: true });
  try {
    return { fd: openSync(path, 'r+'), existed: true };
  } catch {
    return { fd: openSync(path, 'w+'), existed: false };
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a whole file atomically: temporary name, fsync, rename, fsync of the directory. */
function writeWhole(path: string, data: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.hybridsync-${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    let w = 0;
    while (w < data.length) w += writeSync(fd, data, w, data.length - w, w);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
