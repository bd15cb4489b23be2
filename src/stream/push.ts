/**
 * A push lane: follows local files and ships their appended bytes as ordered segment objects,
 * exactly once across crashes. For every segment, in this order:
 *   1. cut at a record boundary (cutter.ts) from the file's cursor (past the segments in flight);
 *   2. the governance gate's transforms (PII scrubbing per record) produce the stored bytes;
 *   3. the intent — seq, byte range, SHA-256 and MD5 of source and stored bytes, the key, the
 *      lane's window — is journaled (durably) before any request goes out;
 *   4. the object is stored under its deterministic key: a create-only PUT where the backend
 *      has conditional create, else HEAD then PUT; an object already there with the same MD5
 *      is the same segment from an attempt that died after storing it (confirmed, not resent);
 *      one with other bytes stops the lane (IntegrityError) — nothing is overwritten;
 *   5. once it and every earlier segment of its file are stored: the audit record is
 *      written, then the offset commits (journal transaction) — in seq order only.
 * Up to `window` segments of the lane are stored at once (steps 3–4 overlap; 5 never
 * reorders). A restart first completes each file's journaled intents — same keys, same
 * ranges — so a range is never lost and never stored under two keys.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Entry } from '../core/entry.js';
import { AlreadyExistsError, IntegrityError } from '../core/errors.js';
import type { StreamEvent } from '../sync/events.js';
import type { GateDecision } from '../sync/gate.js';
import { cutSegment, decideRead, firstRecordEnd, formatOfName, type CutReason, type RecordFormat } from './cutter.js';
import { Follower, type SourcePattern, type TrackedFile } from './follower.js';
import type { PushFile, SegmentIntent } from './journal.js';
import { segmentKey, WINDOW_METADATA } from './keys.js';
import { md5, retrySegment, sha256 } from './retry.js';
import type { LaneContext } from './stats.js';
import { Wakeup } from './wakeup.js';

export interface PushLaneOptions extends LaneContext {
  readonly pattern: SourcePattern;
  readonly segmentSize: number;
  readonly segmentAgeMs: number;
  readonly rotateQuietMs: number;
  readonly format: 'auto' | RecordFormat;
  /** Segments of the lane stored at once (committed in order whatever order they land in). */
  readonly window: number;
  readonly now?: () => number;
}

interface Admitted {
  readonly decision: Extract<GateDecision, { allow: true }>;
}

/** A segment journaled and being stored; it commits once it and every earlier one of its file are stored. */
interface InFlight {
  readonly intent: SegmentIntent;
  /** The file's record once this segment commits. */
  readonly next: PushFile;
  readonly event: Omit<Extract<StreamEvent, { type: 'segment' }>, 'confirmed'>;
  stored: boolean;
  confirmed: boolean;
  settled: Promise<void>;
}

/** Store times remembered for the age cut's lead (the slowest of them counts). */
const SHIP_TIMES = 16;
/** The lead before any segment was stored: this share of the segment age. */
const FIRST_LEAD = 0.1;

export class PushLane {
  private readonly follower: Follower;
  private readonly admitted = new Map<string, Admitted>();
  private readonly now: () => number;
  /** Per file (by file id), its segments in flight in seq order. */
  private readonly queues = new Map<string, InFlight[]>();
  private inFlight = 0;
  private failure: { err: unknown } | undefined;
  private readonly wakeup: Wakeup;
  private readonly shipTimes: number[] = [];
  /** Rotates which file cuts first, so one busy file does not take the whole window every round. */
  private turn = 0;

  constructor(private readonly o: PushLaneOptions) {
    this.now = o.now ?? Date.now;
    this.wakeup = new Wakeup(o.signal);
    this.follower = new Follower({
      lane: o.lane,
      journal: o.journal,
      pattern: o.pattern,
      rotateQuietMs: o.rotateQuietMs,
      now: this.now,
      onNotice: (message) => o.emit({ type: 'notice', message }),
      // a new file, or a segment's worth waiting: look now rather than at the next poll
      onChange: (t) => {
        if (!t || t.size - t.cursor.offset >= o.segmentSize) this.wakeup.wake();
      },
    });
    o.stats.lagFrom(() => {
      let bytes = 0;
      let since: number | undefined;
      for (const t of this.follower.files()) {
        if (t.record.state !== 'active') continue;
        bytes += Math.max(0, t.size - t.record.offset);
        const s = this.follower.unstoredSince(t);
        if (s !== undefined) since = Math.min(since ?? s, s);
      }
      return { bytes, since };
    });
  }

  /** Runs until the signal aborts (or, with `once`, until everything there is shipped). */
  async run(): Promise<void> {
    const { o } = this;
    try {
      this.follower.resume();
      for (const t of this.follower.files()) await this.recover(t);
      o.stats.state = 'following';
      let polledAt = -Infinity;
      for (;;) {
        o.signal.throwIfAborted();
        if (this.failure) throw this.failure.err;
        if (this.now() - polledAt >= o.pollMs) {
          this.follower.poll();
          polledAt = this.now();
        }
        this.commitStored();
        let waitMs = Math.max(0, polledAt + o.pollMs - this.now());
        let cut = false;
        const files = this.follower.files();
        for (let k = 0; k < files.length && this.inFlight < o.window; k++) {
          const t = files[(this.turn + k) % files.length]!;
          const w = await this.cutReady(t);
          if (w === 'cut') cut = true;
          else waitMs = Math.min(waitMs, w);
        }
        this.turn++;
        this.follower.retireDrained();
        if (o.once && !cut && this.inFlight === 0) return;
        // sleeping (or at least yielding) every round lets a signal in, even when nothing awaits I/O
        await this.wakeup.sleep(cut ? 0 : Math.max(10, waitMs));
      }
    } finally {
      await Promise.allSettled(this.allInFlight().map((f) => f.settled));
      // what landed commits, in order: the journal would otherwise only confirm it next run
      if (!this.failure || this.o.signal.aborted) {
        try {
          this.commitStored();
        } catch {
          // the intents stay journaled: the next run confirms those segments
        }
      }
      this.wakeup.close();
      this.o.stats.freezeLag();
      this.follower.close();
    }
  }

  /** Cuts this file's next segments while the window has room; else how long to wait (ms). */
  private async cutReady(t: TrackedFile): Promise<number | 'cut'> {
    let cut = false;
    while (this.inFlight < this.o.window) {
      const w = await this.cutNext(t);
      if (w !== 'cut') return cut ? 'cut' : w;
      cut = true;
    }
    return 'cut';
  }

  /** Cuts and starts storing the next segment of one file if it is ready; else how long to wait (ms). */
  private async cutNext(t: TrackedFile): Promise<number | 'cut'> {
    const { o } = this;
    if (t.record.state !== 'active') return o.pollMs;
    const began = this.now();
    const format = this.formatOf(t);
    const policy = { format, maxBytes: o.segmentSize, maxAgeMs: o.once ? 0 : o.segmentAgeMs, leadMs: this.shipLead() };
    const d = decideRead(policy, { available: t.size - t.cursor.offset, since: this.follower.pendingSince(t), now: began, final: this.follower.isFinal(t) });
    if (!d.read) return d.waitMs;
    const buf = this.follower.readPending(t, d.bytes);
    if (!buf) return o.pollMs; // rewritten: a new generation begins once nothing is in flight
    const cut = cutSegment(policy, buf, d.reason);
    if (!cut) return o.pollMs;
    const admitted = await this.admit(t);
    if (!admitted) return o.pollMs;
    // store time counts from when the cut was due (an age cut that came late counts its lateness too)
    await this.launch(t, buf.subarray(0, cut.length), cut.reason, cut.forced, format, admitted, { began: d.dueAt ?? began });
    return 'cut';
  }

  private formatOf(t: TrackedFile): RecordFormat {
    return this.o.format === 'auto' ? formatOfName(t.record.path) : this.o.format;
  }

  /** How long segments have been taking from when they were due to stored: an age cut comes that much early. */
  private shipLead(): number {
    return this.shipTimes.length ? Math.max(...this.shipTimes) : this.o.segmentAgeMs * FIRST_LEAD;
  }

  /** The gate's decision for a file, once per file (classification and policy per lane and file). */
  private async admit(t: TrackedFile): Promise<Admitted | undefined> {
    const { o } = this;
    const known = this.admitted.get(t.record.fileId);
    if (known) return known;
    if (!o.gate) {
      const a = { decision: { allow: true } as const };
      this.admitted.set(t.record.fileId, a);
      return a;
    }
    const entry: Entry = { key: t.rel, size: t.size, mtimeMs: this.now(), mtimeExact: false };
    const decision = await o.gate.admit(entry, { src: o.src, dst: o.dst, signal: o.signal });
    if (!decision.allow) {
      o.emit({ type: 'denied', key: t.rel, size: t.size, classification: decision.classification, reason: decision.reason, ...(decision.rule ? { rule: decision.rule } : {}) });
      this.follower.deny(t);
      return undefined; // the file stays followed, unshipped; the lane's other files go on
    }
    const a = { decision };
    this.admitted.set(t.record.fileId, a);
    return a;
  }

  /** Stored bytes of a segment: the source bytes through the gate's transforms (a CSV segment gets the file's header as context). */
  private async produce(t: TrackedFile, src: Buffer, format: RecordFormat, headerLen: number, a: Admitted): Promise<{ data: Buffer; reports: Array<{ name: string; report: Record<string, unknown> }> }> {
    const transforms = a.decision.transforms ?? [];
    if (transforms.length === 0) return { data: src, reports: [] };
    const withHeader = format === 'csv' && headerLen > 0 && t.cursor.offset > 0;
    let data = withHeader ? Buffer.concat([this.follower.read(t, 0, headerLen), src]) : src;
    const reports: Array<{ name: string; report: Record<string, unknown> }> = [];
    for (const tr of transforms) {
      const made = tr.create({ size: data.length });
      const chunks: Buffer[] = [];
      await pipeline(
        Readable.from([data]),
        made.stream,
        new Writable({
          write(c: Buffer, _e, cb) {
            chunks.push(c);
            cb();
          },
        }),
        { signal: this.o.signal },
      );
      data = Buffer.concat(chunks);
      reports.push({ name: tr.name, report: made.report() });
    }
    if (withHeader) data = data.subarray(firstRecordEnd('csv', data));
    return { data, reports };
  }

  /**
   * Journals the segment [cursor, cursor + src.length) and starts storing it. `retry`: the
   * journaled intent of a killed run being completed (its window and MD5 are kept).
   */
  private async launch(t: TrackedFile, src: Buffer, reason: CutReason | 'retry', forced: boolean, format: RecordFormat, a: Admitted, how: { began: number; retry?: SegmentIntent }): Promise<void> {
    const { o } = this;
    const c = t.cursor;
    const start = c.offset;
    const end = start + src.length;
    const headerLen = c.headerLen > 0 ? c.headerLen : format === 'csv' && start === 0 ? firstRecordEnd('csv', src) : 0;
    const { data, reports } = await this.produce(t, src, format, headerLen, a);
    const srcSha256 = sha256(src);
    const intent: SegmentIntent = {
      fileId: c.fileId,
      generation: c.generation,
      seq: c.nextSeq,
      start,
      end,
      key: segmentKey({ fileId: c.fileId, generation: c.generation, seq: c.nextSeq, start, end }),
      srcSha256,
      sha256: data === src ? srcSha256 : sha256(data),
      md5: md5(data),
      size: data.length,
      window: how.retry?.window ?? o.window,
    };
    const next = this.follower.advanced(t, end, headerLen);
    o.journal.intend(o.lane, intent);
    this.follower.cut(t, next);
    const accept = new Set([intent.md5, ...(how.retry ? [how.retry.md5] : [])]);
    const event: InFlight['event'] = {
      type: 'segment',
      lane: o.lane,
      direction: 'push',
      file: t.rel,
      key: intent.key,
      fileId: intent.fileId,
      generation: intent.generation,
      seq: intent.seq,
      start,
      end,
      bytes: data.length,
      sha256: intent.sha256,
      md5: intent.md5,
      ...(intent.srcSha256 !== intent.sha256 ? { srcSha256: intent.srcSha256 } : {}),
      ...(a.decision.classification ? { classification: a.decision.classification } : {}),
      ...(reports.length ? { transforms: reports } : {}),
      reason,
      ...(forced ? { forced: true } : {}),
    };
    this.track(t, intent, next, event, async (f) => {
      f.confirmed = await this.store(intent, data, accept, a);
      if (!how.retry) this.noteShipTime(this.now() - how.began);
    });
  }

  /** Puts a segment in its file's queue; `work` stores it (or resolves at once for one found stored). */
  private track(t: TrackedFile, intent: SegmentIntent, next: PushFile, event: InFlight['event'], work: (f: InFlight) => Promise<void>): void {
    const f: InFlight = { intent, next, event, stored: false, confirmed: false, settled: Promise.resolve() };
    const q = this.queues.get(t.record.fileId) ?? [];
    q.push(f);
    this.queues.set(t.record.fileId, q);
    this.inFlight++;
    f.settled = work(f).then(
      () => {
        f.stored = true;
      },
      (err: unknown) => {
        this.failure ??= { err };
      },
    ).finally(() => this.wakeup.wake());
  }

  private noteShipTime(ms: number): void {
    this.shipTimes.push(ms);
    if (this.shipTimes.length > SHIP_TIMES) this.shipTimes.shift();
  }

  /** Commits, per file in seq order, every segment stored with all earlier ones: audit record, then the offset. */
  private commitStored(): void {
    const { o } = this;
    for (const t of this.follower.files()) {
      const q = this.queues.get(t.record.fileId);
      while (q && q.length > 0 && q[0]!.stored) {
        const f = q.shift()!;
        this.inFlight--;
        o.emit({ ...f.event, ...(f.confirmed ? { confirmed: true } : {}) });
        const next = { ...f.next, path: t.record.path };
        o.journal.commit(o.lane, next, f.intent.seq, f.intent.size);
        this.follower.commit(t, next);
        o.stats.committed(f.intent.size);
      }
    }
  }

  private allInFlight(): InFlight[] {
    return [...this.queues.values()].flat();
  }

  /** Stores the segment under its key, once. Resolves true when an earlier attempt had already stored it. */
  private async store(i: SegmentIntent, data: Buffer, accept: ReadonlySet<string>, a: Admitted): Promise<boolean> {
    const { o } = this;
    const dst = o.dst;
    const conditional = dst.features.conditionalCreate === true;
    const check = async (): Promise<boolean> => {
      const there = await dst.stat(i.key, { signal: o.signal });
      if (!there) return false;
      if (there.size === data.length && there.md5 !== undefined && accept.has(there.md5)) return true;
      throw new IntegrityError(`${dst.uri.replace(/\/?$/, '/')}${i.key} exists with other content (${there.size} bytes, MD5 ${there.md5 ?? 'unknown'}) than segment ${i.seq} [${i.start}, ${i.end})`, {
        hint: 'another writer uses this prefix for the same file id: give each lane its own destination prefix; nothing was overwritten',
      });
    };
    await o.pacer?.take(data.length, o.signal);
    return retrySegment(i.key, o, async () => {
      if (!conditional && (await check())) return true;
      try {
        await dst.write(
          i.key,
          data,
          {
            size: data.length,
            mtimeMs: this.now(),
            md5: i.md5,
            contentType: 'application/octet-stream',
            metadata: {
              ...(a.decision.metadata ?? {}),
              'hybridsync-stream-range': `${i.start}-${i.end}`,
              'hybridsync-stream-sha256': i.sha256,
              [WINDOW_METADATA]: String(i.window),
            },
            ...(a.decision.tags ? { tags: a.decision.tags } : {}),
          },
          { signal: o.signal, ...(conditional ? { ifAbsent: true } : {}) },
        );
        return false;
      } catch (err) {
        if (err instanceof AlreadyExistsError && (await check())) return true;
        throw err;
      }
    });
  }

  /**
   * Completes the segments a killed run journaled for this file, in seq order: same keys,
   * same ranges, same bytes. One whose source bytes changed meanwhile (the file truncated
   * while no lane ran) is committed if it was stored; if not, its bytes are lost — reported,
   * and it and every later intent of the file are dropped (the file is then followed from
   * what it holds now).
   */
  private async recover(t: TrackedFile): Promise<void> {
    const { o } = this;
    for (const i of o.journal.intents(o.lane, t.record.fileId)) {
      const c = t.cursor;
      if (i.seq < t.record.nextSeq && i.generation === t.record.generation) {
        o.journal.dropIntent(o.lane, i.fileId, i.seq); // committed in the transaction that should have dropped it
        continue;
      }
      if (i.generation !== c.generation || i.start !== c.offset || i.seq !== c.nextSeq) {
        o.journal.dropIntents(o.lane, i.fileId, i.seq);
        return;
      }
      const src = this.follower.read(t, i.start, i.end);
      if (src.length === i.end - i.start && sha256(src) === i.srcSha256) {
        const a = await this.admit(t);
        if (!a) {
          o.journal.dropIntents(o.lane, i.fileId, i.seq);
          return;
        }
        await this.launch(t, src, 'retry', false, this.formatOf(t), a, { began: this.now(), retry: i });
        continue;
      }
      // the source no longer has those bytes: stored or lost?
      const there = await o.dst.stat(i.key, { signal: o.signal });
      if (there && there.md5 === i.md5) {
        const next: PushFile = { ...c, offset: i.end, nextSeq: i.seq + 1, tailLen: 0, tailSha: sha256(Buffer.alloc(0)) };
        this.follower.cut(t, next);
        const event: InFlight['event'] = { type: 'segment', lane: o.lane, direction: 'push', file: t.rel, key: i.key, fileId: i.fileId, generation: i.generation, seq: i.seq, start: i.start, end: i.end, bytes: i.size, sha256: i.sha256, md5: i.md5, reason: 'retry' };
        this.track(t, i, next, event, async (f) => {
          f.confirmed = true;
        });
        continue;
      }
      const later = o.journal.intents(o.lane, t.record.fileId).filter((x) => x.seq > i.seq);
      o.journal.dropIntents(o.lane, i.fileId, i.seq);
      o.emit({
        type: 'notice',
        message: `${t.record.path}: bytes [${i.start}, ${i.end}) of generation ${i.generation} changed before they were shipped (segment ${i.key} was never stored); the file is followed from what it holds now${later.length ? `; the ${later.length} segment(s) journaled after it (${later.map((x) => x.key).join(', ')}) are not part of the stream, and a pull stops at the gap` : ''}`,
      });
      return;
    }
  }
}
