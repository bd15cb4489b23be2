/**
 * A push lane: follows local files and ships their appended bytes as ordered segment objects,
 * exactly once across crashes. For every segment, in this order:
 *   1. cut at a record boundary (cutter.ts) from the committed offset;
 *   2. the governance gate's transforms (PII scrubbing per record) produce the stored bytes;
 *   3. the intent — seq, byte range, SHA-256 and MD5 of source and stored bytes, the key —
 *      is journaled (durably) before any request goes out;
 *   4. the object is stored under its deterministic key: a create-only PUT where the backend
 *      has conditional create, else HEAD then PUT; an object already there with the same MD5
 *      is the same segment from an attempt that died after storing it (confirmed, not resent);
 *      one with other bytes stops the lane (IntegrityError) — nothing is overwritten;
 *   5. the audit record is written, then the offset commits (journal transaction).
 * A restart first completes each file's journaled intent — same key, same range — so a range
 * is never lost and never stored under two keys.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Entry } from '../core/entry.js';
import { AlreadyExistsError, IntegrityError } from '../core/errors.js';
import { sleep } from '../lib/abort.js';
import type { StreamEvent } from '../sync/events.js';
import type { GateDecision } from '../sync/gate.js';
import { cutSegment, decideRead, firstRecordEnd, formatOfName, type CutReason, type RecordFormat } from './cutter.js';
import { Follower, type SourcePattern, type TrackedFile } from './follower.js';
import type { PushFile, SegmentIntent } from './journal.js';
import { segmentKey } from './keys.js';
import { md5, retrySegment, sha256 } from './retry.js';
import type { LaneContext } from './stats.js';

export interface PushLaneOptions extends LaneContext {
  readonly pattern: SourcePattern;
  readonly segmentSize: number;
  readonly segmentAgeMs: number;
  readonly rotateQuietMs: number;
  readonly format: 'auto' | RecordFormat;
  readonly now?: () => number;
}

interface Admitted {
  readonly decision: Extract<GateDecision, { allow: true }>;
}


export class PushLane {
  private readonly follower: Follower;
  private readonly admitted = new Map<string, Admitted>();
  private readonly now: () => number;

  constructor(private readonly o: PushLaneOptions) {
    this.now = o.now ?? Date.now;
    this.follower = new Follower({
      lane: o.lane,
      journal: o.journal,
      pattern: o.pattern,
      rotateQuietMs: o.rotateQuietMs,
      now: this.now,
      onNotice: (message) => o.emit({ type: 'notice', message }),
    });
    o.stats.lagFrom(() => {
      let bytes = 0;
      let since: number | undefined;
      for (const t of this.follower.files()) {
        if (t.record.state !== 'active') continue;
        bytes += Math.max(0, t.size - t.record.offset);
        if (t.pendingSince !== undefined) since = Math.min(since ?? t.pendingSince, t.pendingSince);
      }
      return { bytes, since };
    });
  }

  /** Runs until the signal aborts (or, with `once`, until everything there is shipped). */
  async run(): Promise<void> {
    const { o } = this;
    try {
      this.follower.resume();
      for (const t of this.follower.files()) await this.completeIntent(t);
      o.stats.state = 'following';
      for (;;) {
        o.signal.throwIfAborted();
        this.follower.poll();
        let waitMs = o.pollMs;
        let shipped = false;
        for (const t of this.follower.files()) {
          const w = await this.shipReady(t);
          if (w === 'shipped') shipped = true;
          else waitMs = Math.min(waitMs, w);
        }
        this.follower.retireDrained();
        if (o.once && !shipped) return;
        // sleeping (or at least yielding) every round lets a signal in, even when nothing awaits I/O
        await sleep(shipped ? 0 : Math.max(10, waitMs), o.signal);
      }
    } finally {
      this.follower.close();
    }
  }

  /** Ships the next segment of one file if it is ready; else how long to wait (ms). */
  private async shipReady(t: TrackedFile): Promise<number | 'shipped'> {
    const { o } = this;
    if (t.record.state !== 'active') return o.pollMs;
    const format = o.format === 'auto' ? formatOfName(t.record.path) : o.format;
    const policy = { format, maxBytes: o.segmentSize, maxAgeMs: o.once ? 0 : o.segmentAgeMs };
    const d = decideRead(policy, { available: t.size - t.record.offset, since: t.pendingSince, now: this.now(), final: this.follower.isFinal(t) });
    if (!d.read) return d.waitMs;
    const buf = this.follower.readPending(t, d.bytes);
    if (!buf) return o.pollMs; // rewritten: a new generation began
    const cut = cutSegment(policy, buf, d.reason);
    if (!cut) return o.pollMs;
    const admitted = await this.admit(t);
    if (!admitted) return o.pollMs;
    await this.ship(t, buf.subarray(0, cut.length), cut.reason, cut.forced, format, admitted);
    return 'shipped';
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
    const withHeader = format === 'csv' && headerLen > 0 && t.record.offset > 0;
    let data = withHeader ? Buffer.concat([this.follower.read(t, 0, headerLen), src]) : src;
    const reports: Array<{ name: string; report: Record<string, unknown> }> = [];
    for (const tr of transforms) {
      const made = tr.create();
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

  private async ship(t: TrackedFile, src: Buffer, reason: CutReason | 'retry', forced: boolean, format: RecordFormat, a: Admitted, journaled?: SegmentIntent): Promise<void> {
    const { o } = this;
    const r = t.record;
    const start = r.offset;
    const end = start + src.length;
    const headerLen = r.headerLen > 0 ? r.headerLen : format === 'csv' && start === 0 ? firstRecordEnd('csv', src) : 0;
    const { data, reports } = await this.produce(t, src, format, headerLen, a);
    const intent: SegmentIntent = {
      fileId: r.fileId,
      generation: r.generation,
      seq: r.nextSeq,
      start,
      end,
      key: segmentKey({ fileId: r.fileId, generation: r.generation, seq: r.nextSeq, start, end }),
      srcSha256: sha256(src),
      sha256: sha256(data),
      md5: md5(data),
      size: data.length,
    };
    o.journal.intend(o.lane, intent);
    const accept = new Set([intent.md5, ...(journaled ? [journaled.md5] : [])]);
    const confirmed = await this.store(intent, data, accept, a);
    const ev: StreamEvent = {
      type: 'segment',
      lane: o.lane,
      direction: 'push',
      file: t.rel,
      key: intent.key,
      fileId: r.fileId,
      generation: r.generation,
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
      ...(confirmed ? { confirmed: true } : {}),
    };
    o.emit(ev);
    const next = this.follower.advanced(t, end, headerLen);
    o.journal.commit(o.lane, next, data.length);
    this.follower.advance(t, next);
    o.stats.committed(data.length);
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
          Readable.from([data]),
          {
            size: data.length,
            mtimeMs: this.now(),
            md5: i.md5,
            contentType: 'application/octet-stream',
            metadata: {
              ...(a.decision.metadata ?? {}),
              'hybridsync-stream-range': `${i.start}-${i.end}`,
              'hybridsync-stream-sha256': i.sha256,
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

  /** Completes the segment a killed run journaled for this file: same key, same range. */
  private async completeIntent(t: TrackedFile): Promise<void> {
    const { o } = this;
    const i = o.journal.intent(o.lane, t.record.fileId);
    if (!i) return;
    if (i.generation !== t.record.generation || i.start !== t.record.offset || i.seq !== t.record.nextSeq) {
      o.journal.dropIntent(o.lane, t.record.fileId); // the offset is past it: committed in the same transaction that should have dropped it
      return;
    }
    const src = this.follower.read(t, i.start, i.end);
    if (src.length === i.end - i.start && sha256(src) === i.srcSha256) {
      const format = o.format === 'auto' ? formatOfName(t.record.path) : o.format;
      const a = await this.admit(t);
      if (a) await this.ship(t, src, 'retry', false, format, a, i);
      return;
    }
    // the source no longer has those bytes (truncated while we were down): stored or lost?
    const there = await o.dst.stat(i.key, { signal: o.signal });
    if (there && there.md5 === i.md5) {
      const next: PushFile = { ...t.record, offset: i.end, nextSeq: i.seq + 1, tailLen: 0, tailSha: sha256(Buffer.alloc(0)) };
      o.journal.commit(o.lane, next, i.size);
      this.follower.advance(t, next);
      return;
    }
    o.journal.dropIntent(o.lane, t.record.fileId);
    o.emit({ type: 'notice', message: `${t.record.path}: bytes [${i.start}, ${i.end}) of generation ${i.generation} changed before they were shipped; the file is followed from what it holds now` });
  }
}
