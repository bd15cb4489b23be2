/**
 * The executor: runs a plan against real backends. A run (`SyncRun`, rclone's
 * `syncCopyMove`) goes through its phases in order: checkers (`checkers` at once) walk the
 * march, ask the planner and gather what it needs; the files they admit go through a
 * bounded queue to `transfers` workers; deletions are parked in the state database and
 * carried out only after every transfer succeeded; chunked uploads nobody resumed are
 * aborted; the summary closes the run. Memory is bounded by the two pools and the queue,
 * never by the number of files.
 */
import { setMaxListeners } from 'node:events';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { hasBlockReader, hasChunkWriter, hasServerSideCopy, hasTierer, hasWholeReader, WHOLE_BODY_MAX_BYTES, type Backend, type ChunkJournal } from '../core/backend.js';
import type { Entry, WriteMeta, WriteResult } from '../core/entry.js';
import type { KeyRange } from '../core/key-range.js';
import { AbortedError, describeError, HybridsyncError, InternalError, isHybridsyncError, NotFoundError, ObjectArchivedError, RestorePendingError } from '../core/errors.js';
import { sleep } from '../lib/abort.js';
import { DEFAULT_RESTORE, decideRestore, restoreForRead, restorePending, type RestoreRequested, type RestoreSettings } from '../tier/restore.js';
import { AccountingStream, md5OfStream } from '../lib/accounting.js';
import { BufferPool } from '../lib/buffer-pool.js';
import { ByteBudget } from '../lib/byte-budget.js';
import type { Pacer } from '../lib/bandwidth.js';
import { forEachConcurrent } from '../lib/pool.js';
import { BoundedQueue } from '../lib/queue.js';
import { contentTypeOf } from '../lib/content-type.js';
import { chunkSizeFor, writeChunked, writeObject, type ChunkingOptions } from './chunked.js';
import { DEFAULT_DELETE_LIMIT, formatDeleteLimit, type DeleteLimit } from '../config/options.js';
import type { RunSummary, SyncEvent } from './events.js';
import type { Filter } from './filter.js';
import { march, type MarchPair } from './march.js';
import { decide, type Compare, type Decision, type Mode, type PlanOptions, type PlanPair, type SourceVersion, type TransferReason } from './plan.js';
import type { ByteTransform, GateDecision, TransferGate } from './gate.js';
import { errorEvent, retryOperation } from './retrying.js';
import { spoolTransformed, type Spooled } from './spool.js';
import { derivationMetadata } from './derived.js';
import { deleteKeys } from './delete.js';
import type { StateDb } from './state.js';
import { Stats } from './stats.js';

export interface RunOptions {
  readonly mode: Mode;
  readonly src: Backend;
  readonly dst: Backend;
  readonly state: StateDb;
  readonly compare?: Compare;
  readonly transfers?: number;
  readonly checkers?: number;
  readonly dryRun?: boolean;
  /** sync: refuse to delete more than this many files or this share of the destination (nothing is deleted then); default 50%. */
  readonly maxDelete?: DeleteLimit;
  /** sync: let a source that listed no files empty a non-empty destination (refused otherwise). */
  readonly allowEmptySource?: boolean;
  readonly filter?: Filter;
  /** Only the keys in this range, on both sides (a cluster shard): the rest of the tree is not listed. */
  readonly range?: KeyRange;
  readonly limiter?: Pacer;
  /** Attempts of each operation (a request, a chunk, a file) for retryable errors. */
  readonly retries?: number;
  /** The destination root is created for this run (--create-bucket): missing, it lists as empty. */
  readonly createsDstRoot?: boolean;
  /** When and how large files go up in chunks (backends with the chunkedUpload feature). */
  readonly chunking?: ChunkingOptions;
  /** File data held in memory at once by all transfers (whole files and chunks; default 256 MiB). */
  readonly bufferMemory?: number;
  readonly modifyWindowMs?: number;
  readonly ignoreExisting?: boolean;
  /** check: read both sides to compare content when a hash is not available. */
  readonly download?: boolean;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: SyncEvent) => void;
  readonly stats?: Stats;
  /** Listing problems on the source (unreadable directories, bad names), reported here. */
  readonly srcListErrors?: () => number;
  /** Governance: classification policy and transforms, consulted for every transfer. */
  readonly gate?: TransferGate;
  /** Where transformed files are spooled before upload (default: the OS temp dir). */
  readonly spoolDir?: string;
  /** The keys to consider instead of the march of both listings (bisync hands over its decisions). */
  readonly pairs?: AsyncIterable<MarchPair>;
  /** What to do when a read meets an archived object (S3 GLACIER/DEEP_ARCHIVE, Azure Archive): default request the restore and report. */
  readonly restore?: RestoreSettings;
}

/** Blocks read for a chunked upload are paced and counted in steps of this size, as a stream's chunks are. */
const ACCOUNTING_STEP = 1 << 20;
/** --restore wait: the first look at parked objects is at once, then after 30 s, doubling to 10 min. */
const RESTORE_POLL_FIRST_MS = 30_000;
const RESTORE_POLL_MAX_MS = 600_000;

/** A read that met an archived object whose restore the run waits for (--restore wait): the key is parked. */
const PARKED = Symbol('parked');

export const DEFAULT_CHUNKING: ChunkingOptions = { threshold: 16 * 1024 * 1024, chunkSize: 16 * 1024 * 1024, concurrency: 4 };
export const DEFAULT_BUFFER_MEMORY = 256 * 1024 * 1024;

export async function runSync(o: RunOptions): Promise<RunSummary> {
  return new SyncRun(o).run();
}

type Admitted = Extract<GateDecision, { allow: true }>;
type RunStatus = RunSummary['status'];

/** What a run without a gate lets through: every file, unchanged. */
const ADMIT_ALL: Admitted = { allow: true };

interface TransferTask {
  readonly src: Entry;
  readonly reason: TransferReason;
  readonly admitted: Admitted;
}

/** A decision the planner settled on, with the facts it settled on. */
interface Settled {
  readonly pair: PlanPair;
  readonly decision: Decision;
}

/** A successful attempt: what is stored now and, for a transformed file, what it was made from. */
interface Sent {
  readonly written: WriteResult;
  readonly md5Before?: string;
  readonly reports?: Spooled['reports'];
}

/** One run of sync, copy or check; `run()` once. */
class SyncRun {
  private readonly o: RunOptions;
  private readonly stats: Stats;
  private readonly emit: (e: SyncEvent) => void;
  private readonly transfers: number;
  private readonly checkers: number;
  private readonly retries: number;
  private readonly dryRun: boolean;
  private readonly chunking: ChunkingOptions;
  private readonly state: StateDb;
  private readonly srcLoc: string;
  private readonly dstLoc: string;
  private readonly planOpts: PlanOptions;
  /** Governed runs and checks: destination files may be transforms of their source (sync/derived.ts). */
  private readonly transformAware: boolean;
  /** Earlier runs remembered denials for this pair: a transfer forgets the file's. */
  private readonly hadDenials: boolean;
  private readonly runId: number;
  /** Aborted when the caller's signal fires or the transfer workers stop on an error (the checkers stop too). */
  private readonly internal = new AbortController();
  private readonly signal = this.internal.signal;
  private readonly onOuterAbort = (): void => this.internal.abort(this.o.signal?.reason);
  private readonly journal: ChunkJournal;
  private readonly queue: BoundedQueue<TransferTask>;
  /** Memory for file data in flight, shared by every transfer. */
  private readonly budget: ByteBudget;
  /** The chunks' buffers, reused: at most what the budget lets the run hold. */
  private readonly pool: BufferPool;
  private deletesHeldBack = 0;
  private readonly restore: RestoreSettings;
  /** Transfers queued or running: the restore wait looks at parked keys only when none is. */
  private outstanding = 0;
  private idleWaiters: Array<() => void> = [];
  /** When the first key was parked for a restore: --restore-timeout counts from there. */
  private firstParkedAt: number | undefined;
  /** Files the march saw on each side: what the deletion guards measure against. */
  private srcSeen = 0;
  private dstSeen = 0;
  private fatal: HybridsyncError | undefined;

  constructor(o: RunOptions) {
    this.o = o;
    this.stats = o.stats ?? new Stats();
    this.emit = o.onEvent ?? (() => undefined);
    this.transfers = Math.max(1, o.transfers ?? 8);
    this.checkers = Math.max(1, o.checkers ?? 16);
    this.retries = o.retries ?? 3;
    this.restore = o.restore ?? DEFAULT_RESTORE;
    this.dryRun = o.dryRun ?? false;
    this.chunking = o.chunking ?? DEFAULT_CHUNKING;
    this.state = o.state;
    this.srcLoc = o.src.location.id;
    this.dstLoc = o.dst.location.id;
    this.transformAware = !!o.gate || o.mode === 'check';
    this.planOpts = {
      mode: o.mode,
      compare: o.compare ?? (o.mode === 'check' ? 'checksum' : 'size-mtime'),
      modifyWindowMs: o.modifyWindowMs ?? 1,
      ignoreExisting: o.ignoreExisting,
      filter: o.filter,
      dstMaxKeyBytes: o.dst.features.maxKeyBytes,
      dstPrefixBytes: o.dst.features.maxKeyBytes !== undefined ? Buffer.byteLength(o.dst.location.path) : 0,
      derivations: this.transformAware && o.dst.features.metadata,
    };
    this.runId = this.state.startRun(o.mode, this.srcLoc, this.dstLoc);
    this.hadDenials = !!o.gate && this.state.hasDenials(this.srcLoc, this.dstLoc);
    setMaxListeners(0, this.signal);
    this.signal.addEventListener('abort', () => this.wakeIdle(), { once: true });
    this.journal = this.state.journalFor(this.dstLoc);
    this.queue = new BoundedQueue<TransferTask>(this.transfers * 2);
    this.budget = new ByteBudget(o.bufferMemory ?? DEFAULT_BUFFER_MEMORY);
    this.pool = new BufferPool(this.budget.capacity);
  }

  async run(): Promise<RunSummary> {
    const o = this.o;
    o.signal?.addEventListener('abort', this.onOuterAbort, { once: true });
    // a signal aborted before the run (a stop while it was being prepared) fires no event
    if (o.signal?.aborted) this.onOuterAbort();
    this.emit({ type: 'run-start', runId: this.runId, mode: o.mode, src: o.src.uri, dst: o.dst.uri, dryRun: this.dryRun });
    let status: RunStatus;
    try {
      await this.checkAndTransfer();
      if (o.mode === 'sync') await this.deletePhase();
      if (!this.dryRun) await this.cleanupUploads();
      status = this.outcome();
    } catch (err) {
      const realFailure = isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError);
      if (o.signal?.aborted && !realFailure) {
        // Stopped on purpose (SIGINT/SIGTERM, end of a run window): files in flight finished
        // or were journaled; the summary says 'aborted' and the next run resumes.
        status = 'aborted';
      } else {
        status = 'failed';
        this.fatal = isHybridsyncError(err) ? err : new InternalError(describeError(err), { cause: err });
      }
    } finally {
      o.signal?.removeEventListener('abort', this.onOuterAbort);
    }
    const summary = this.summary(status);
    this.state.endRun(this.runId, status, summary);
    this.emit({ type: 'summary', summary });
    if (this.fatal) throw Object.assign(this.fatal, { summary });
    return summary;
  }

  /** Checkers feed the queue while transfer workers drain it; an error that stops one stops the other. */
  private async checkAndTransfer(): Promise<void> {
    const range = this.o.range ?? {};
    const srcList = this.o.src.list({ signal: this.signal, ...range });
    // a missing directory is made by the first write; a missing bucket is an error now, not
    // an empty destination (unless the run creates it: --create-bucket, a dry run of one)
    const dstList = this.o.dst.list({ signal: this.signal, ...range, allowMissingRoot: this.o.dst.features.createsRoot || this.o.createsDstRoot === true });
    const checking = forEachConcurrent(this.o.pairs ?? march(srcList, dstList), this.checkers, (pair) => this.check(pair), this.signal)
      .then(() => this.awaitRestores())
      .then(
      () => this.queue.close(),
      (err: unknown) => {
        this.queue.fail(err);
        throw err;
      },
    );
    const transferring = forEachConcurrent(this.queue, this.transfers, (task) => this.transfer(task), this.signal).catch((err: unknown) => {
      this.queue.fail(err);
      this.internal.abort(err);
      this.wakeIdle();
      throw err;
    });
    const results = await Promise.allSettled([checking, transferring]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** One key of the march: decide, gather what the planner asks for, act on the decision. */
  private async check(pair: MarchPair): Promise<void> {
    if (pair.src) this.srcSeen++;
    if (pair.dst) this.dstSeen++;
    // only governed runs and checks look for transformed files: others skip the lookup
    const from = this.transformAware && pair.src && pair.dst ? this.derivedFrom(pair.dst) : undefined;
    const p: PlanPair = from ? { ...pair, dstDerivedFrom: from } : pair;
    const d = decide(p, this.planOpts);
    let settled: Settled | undefined;
    try {
      settled = await this.resolve(p, d);
    } catch (err) {
      this.fail(p.key, err);
      return;
    }
    if (settled) await this.act(settled.pair, settled.decision);
  }

  /** What a transformed destination file was made from, if it still is what we stored. */
  private derivedFrom(dst: Entry): SourceVersion | undefined {
    const d = this.state.getDerived(this.dstLoc, dst.key);
    return d && d.dstSize === dst.size && d.dstTag === storedTag(dst) ? d : undefined;
  }

  /** Asks the planner again with each fact it needs until it decides; undefined: the source vanished. */
  private async resolve(pair: PlanPair, decision: Decision): Promise<Settled | undefined> {
    let p = pair;
    let d = decision;
    for (let round = 0; d.kind === 'resolve'; round++) {
      if (round > 3) throw new InternalError(`planner did not settle for ${p.key}`);
      const learned = await this.learn(p, d.need);
      if (learned === 'vanished' || learned === PARKED) return undefined;
      if (learned === 'no-hash') {
        d = decide(p, { ...this.planOpts, compare: 'size-mtime' });
        continue;
      }
      p = learned;
      d = decide(p, this.planOpts);
    }
    return { pair: p, decision: d };
  }

  /** One round of resolving: the pair with the fact filled in, or why it cannot be. */
  private async learn(p: PlanPair, need: Extract<Decision, { kind: 'resolve' }>['need']): Promise<PlanPair | 'vanished' | 'no-hash' | typeof PARKED> {
    const o = this.o;
    switch (need) {
      case 'dst-stat': {
        const full = await this.statFull(o.dst, this.dstLoc, p.dst!);
        return full ? { ...p, dst: full } : { key: p.key, src: p.src! };
      }
      case 'src-stat': {
        const full = await this.statFull(o.src, this.srcLoc, p.src!);
        return full ? { ...p, src: full } : 'vanished'; // vanished since listing
      }
      case 'src-md5': {
        const md5 = await this.md5Of(o.src, this.srcLoc, p.src!, o.download ?? o.mode !== 'check');
        if (md5 === PARKED) return PARKED;
        if (md5) return { ...p, src: { ...p.src!, md5 } };
        this.emit({ type: 'unverified', key: p.key, reason: 'no source hash available; compared size and mtime' });
        return 'no-hash';
      }
      case 'dst-meta': {
        // the object's own record (a HEAD), not the cache: metadata is what is asked for
        const full = await this.withRetry(p.key, 'stat', () => o.dst.stat(p.dst!.key, { signal: this.signal }));
        if (!full) return { key: p.key, src: p.src! };
        return { ...p, dst: { ...p.dst!, metadata: full.metadata ?? {} } };
      }
      case 'dst-md5': {
        const md5 = await this.md5Of(o.dst, this.dstLoc, p.dst!, o.download ?? false);
        if (md5 === PARKED) return PARKED;
        if (md5) return { ...p, dst: { ...p.dst!, md5 } };
        this.emit({ type: 'unverified', key: p.key, reason: 'no destination hash (multipart object without md5 metadata); use --download' });
        return 'no-hash';
      }
    }
  }

  /** Fills in an S3 entry's real mtime/MD5: from the state cache, else a HEAD. */
  private async statFull(b: Backend, loc: string, e: Entry): Promise<Entry | undefined> {
    const known = this.state.getObject(loc, e.key);
    if (known && known.size === e.size && e.etag !== undefined && known.etag === e.etag) {
      return { ...e, mtimeMs: known.mtimeMs, mtimeExact: true, ...(known.md5 ? { md5: known.md5 } : {}) };
    }
    const full = await b.stat(e.key, { signal: this.signal });
    if (full?.etag && full.mtimeExact) {
      this.state.putObject(loc, e.key, { size: full.size, etag: full.etag, mtimeMs: full.mtimeMs, md5: full.md5 ?? null });
    }
    // A foreign object without mtime metadata: its upload time is all anyone knows.
    return full && !full.mtimeExact ? { ...full, mtimeExact: true } : full;
  }

  /** MD5 of an entry's content: free when listed, cached for local files (see hashCacheTag), else read. */
  private async md5Of(b: Backend, loc: string, e: Entry, mayDownload: boolean): Promise<string | undefined | typeof PARKED> {
    if (e.md5) return e.md5;
    const local = b.features.cheapReads;
    if (!local && !mayDownload) return undefined;
    const tag = local ? hashCacheTag(e) : undefined;
    const known = tag ? this.state.getObject(loc, e.key) : undefined;
    if (known && known.etag === tag && known.md5) return known.md5;
    const hashed = await this.readingArchived(b, e.key, () =>
      this.withRetry(e.key, 'hash', async () => md5OfStream((await b.read(e.key, { signal: this.signal, ifMatch: e })) as AsyncIterable<Buffer>)),
    );
    if (hashed === PARKED) return PARKED;
    if (tag) this.state.putObject(loc, e.key, { size: e.size, etag: tag, mtimeMs: e.mtimeMs, md5: hashed.md5 });
    return hashed.md5;
  }

  /** Carries out a settled decision: count and report it, park a deletion, or plan a transfer. */
  private async act(p: PlanPair, d: Decision): Promise<void> {
    if (d.kind !== 'excluded') this.stats.checks++;
    switch (d.kind) {
      case 'excluded':
        return;
      case 'skip':
        this.stats.skipped++;
        if (d.reason === 'derived') this.stats.derived++;
        this.emit({ type: 'skip', key: p.key, reason: d.reason });
        return;
      case 'invalid':
        this.stats.failed++;
        this.emit({ type: 'error', key: p.key, kind: 'invalid-name', message: d.message, hint: d.hint });
        return;
      case 'extra':
        if (this.o.mode === 'check') {
          this.stats.differences++;
          this.emit({ type: 'differ', key: p.key, reason: 'missing-on-src' });
        }
        return;
      case 'delete':
        this.state.addPendingDelete(this.runId, p.key); // a dry run too: it applies the same guards
        return;
      case 'transfer':
        if (this.o.mode === 'check') {
          // a file the policy keeps from this destination is absent as it should be
          if (d.reason === 'missing' && !(await this.admit(p))) return;
          this.stats.differences++;
          this.emit({ type: 'differ', key: p.key, reason: d.reason === 'missing' ? 'missing-on-dst' : d.reason === 'checksum' ? 'content' : d.reason });
          return;
        }
        return this.planTransfer(p, d.reason);
    }
  }

  /** A file the planner wants sent: through the gate, then printed (dry run) or queued. */
  private async planTransfer(p: PlanPair, reason: TransferReason): Promise<void> {
    const admitted = await this.admit(p);
    if (!admitted) return;
    this.stats.filesPlanned++;
    this.stats.bytesPlanned += p.src!.size;
    if (this.dryRun) {
      this.emit({
        type: 'plan',
        action: 'transfer',
        key: p.key,
        size: p.src!.size,
        reason,
        ...(admitted.classification ? { classification: admitted.classification } : {}),
        ...(admitted.transforms?.length ? { transforms: admitted.transforms.map((t) => t.name) } : {}),
      });
      this.stats.filesDone++;
      return;
    }
    const src = await this.withExactMtime(p);
    if (!src) return;
    this.outstanding++;
    try {
      await this.queue.push({ src, reason, admitted });
    } catch (err) {
      this.transferSettled();
      if (this.signal.aborted) return; // the run is stopping: this file is simply not started
      throw err;
    }
  }

  /** The gate's verdict on one file; undefined when it was denied or the gate failed (both reported). */
  private async admit(p: PlanPair): Promise<Admitted | undefined> {
    if (!this.o.gate) return ADMIT_ALL;
    let g: GateDecision;
    try {
      g = await this.o.gate.admit(p.src!, { src: this.o.src, dst: this.o.dst, signal: this.signal });
    } catch (err) {
      this.fail(p.key, err);
      return undefined;
    }
    if (!g.allow) {
      const src = p.src!;
      this.stats.denied++;
      // a denial is known when an earlier run was denied this very source version with the
      // same verdict: it is reported, but is not news (status known-denials, exit 0)
      const verdict = createHash('sha256').update(`${g.classification}\0${g.rule ?? ''}\0${g.reason}`).digest('base64url').slice(0, 22);
      const denial = { size: src.size, mtimeMs: src.mtimeMs, verdict };
      const readOnly = this.dryRun || this.o.mode === 'check';
      const known = readOnly
        ? this.state.findDenial(this.srcLoc, this.dstLoc, p.key, denial, this.runId)
        : this.state.noteDenial(this.srcLoc, this.dstLoc, p.key, denial, this.runId);
      // in a check a denied file is expected to be absent: never a finding of its own
      if (known || this.o.mode === 'check') this.stats.deniedKnown++;
      this.emit({
        type: 'denied',
        key: p.key,
        size: src.size,
        classification: g.classification,
        reason: g.reason,
        ...(g.rule ? { rule: g.rule } : {}),
        ...(known ? { knownSince: new Date(known.firstAt).toISOString() } : {}),
      });
      return undefined;
    }
    return g;
  }

  /** The source entry with its content's mtime (the destination must get it, not the upload time). */
  private async withExactMtime(p: PlanPair): Promise<Entry | undefined> {
    const src = p.src!;
    if (src.mtimeExact) return src;
    try {
      return await this.statFull(this.o.src, this.srcLoc, src);
    } catch (err) {
      this.fail(p.key, err);
      return undefined;
    }
  }

  /** One file, retried as a whole: by server-side copy, through transforms, or streamed. */
  private async transfer(task: TransferTask): Promise<void> {
    const { src, admitted } = task;
    const { dst } = this.o;
    const started = Date.now();
    const transforms = admitted.transforms ?? [];
    const serverSide = transforms.length === 0 && hasServerSideCopy(dst) && dst.canCopyFrom(this.o.src);
    const meta = writeMeta(src, admitted);
    let attempts = 0;
    let counted = 0;
    const onBytes = (n: number): void => {
      counted += n;
      this.stats.bytesDone += n;
    };
    try {
      // a server-side copy of an archived source is refused the same way as a read of it
      const sent = await this.readingArchived(this.o.src, src.key, () =>
        this.withRetry(src.key, 'transfer', async (attempt): Promise<Sent> => {
          attempts = attempt;
          this.stats.bytesDone -= counted; // a retry starts over: do not count bytes twice
          counted = 0;
          if (serverSide && hasServerSideCopy(dst)) {
            return { written: await dst.copyFrom(this.o.src, src.key, src.key, meta, { signal: this.signal, onProgress: onBytes }) };
          }
          if (transforms.length > 0) return this.sendTransformed(src, transforms, meta, onBytes);
          return { written: await this.sendStream(src, meta, onBytes) };
        }),
      );
      if (sent === PARKED) return;
      this.remember(task, sent, serverSide);
      this.emit({
        type: 'transfer',
        key: src.key,
        size: src.size,
        bytesSent: sent.written.bytesSent,
        md5: sent.written.md5,
        reason: task.reason,
        method: serverSide ? 'server-copy' : 'stream',
        durationMs: Date.now() - started,
        attempts,
        ...(admitted.classification ? { classification: admitted.classification } : {}),
        ...(sent.md5Before ? { md5Before: sent.md5Before } : {}),
        ...(sent.reports ? { transforms: sent.reports } : {}),
      });
    } catch (err) {
      this.stats.bytesDone -= counted;
      this.fail(src.key, err);
    } finally {
      this.transferSettled();
    }
  }

  private transferSettled(): void {
    if (--this.outstanding === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no transfer is queued or running (or the run stops). */
  private async transfersIdle(): Promise<void> {
    while (this.outstanding > 0 && !this.signal.aborted) await new Promise<void>((r) => this.idleWaiters.push(r));
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new AbortedError('run aborted');
  }

  // ------------------------------------------------------------- restore before read

  /**
   * Runs `fn`, which reads `key` from `b`. When the store refuses the read because the object
   * is archived, the restore is requested (tier/restore.ts) and `fn` runs again if the
   * object is readable now; otherwise the key is parked for the restore wait (--restore
   * wait, PARKED) or the file is reported for a later run (RestorePendingError). Every
   * other file of the run goes on either way.
   */
  private async readingArchived<T>(b: Backend, key: string, fn: () => Promise<T>): Promise<T | typeof PARKED> {
    for (let round = 0; ; round++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ObjectArchivedError) || round > 0 || this.restore.mode === 'never') throw err;
        const out = await restoreForRead(b, key, err, this.restore, { signal: this.signal, onRequested: (r) => this.restoreRequested(r) });
        if (out.kind === 'read') continue;
        if (out.kind === 'gone') throw new NotFoundError(`${b.uri}: ${key} vanished since it was listed`);
        if (!out.requested) this.emit({ type: 'restore', key, storageClass: out.storageClass, status: 'in-progress' });
        if (this.restore.mode === 'wait') {
          this.state.addPendingRestore(this.runId, key, b === this.o.dst ? 'dst' : 'src');
          this.firstParkedAt ??= Date.now();
          return PARKED;
        }
        throw restorePending(`${b.uri.replace(/\/*$/, "/")}${key}`, out);
      }
    }
  }

  private restoreRequested(r: RestoreRequested): void {
    this.stats.restoresRequested++;
    this.emit({ type: 'restore', key: r.key, storageClass: r.storageClass, status: 'requested', days: r.days, priority: r.priority, ...(r.rehydrateTo ? { rehydrateTo: r.rehydrateTo } : {}) });
  }

  /**
   * --restore wait: once the march is done and no transfer is in flight, looks at the parked
   * keys (at once, then after 30 s, doubling to 10 min) and checks each whose object became
   * readable again as if it had just been listed; at --restore-timeout the rest are
   * reported pending. The transfer workers keep running meanwhile.
   */
  private async awaitRestores(): Promise<void> {
    if (this.restore.mode !== 'wait' || this.dryRun) return;
    let delay = this.restore.pollMs ?? RESTORE_POLL_FIRST_MS;
    for (;;) {
      await this.transfersIdle();
      if (this.state.pendingRestoreCount(this.runId) === 0) return;
      await forEachConcurrent(this.state.pendingRestores(this.runId), this.checkers, (key) => this.recheckParked(key), this.signal);
      await this.transfersIdle();
      if (this.state.pendingRestoreCount(this.runId) === 0) return;
      const deadline = (this.firstParkedAt ?? Date.now()) + this.restore.timeoutMs;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(delay, deadline - Date.now()), this.signal);
      delay = Math.min(delay * 2, RESTORE_POLL_MAX_MS);
    }
    for (const key of this.state.pendingRestores(this.runId)) {
      this.state.removePendingRestore(this.runId, key);
      this.fail(key, new RestorePendingError(`${key}: its restore did not complete within --restore-timeout`, undefined, false));
    }
  }

  /** One parked key: still being restored (stays parked), or readable: checked again with fresh facts of both sides. */
  private async recheckParked(key: string): Promise<void> {
    const side = this.state.pendingRestoreSide(this.runId, key) ?? 'src';
    const b = side === 'src' ? this.o.src : this.o.dst;
    try {
      const state = hasTierer(b) ? await this.withRetry(key, 'archive state', () => b.archiveState(key, { signal: this.signal })) : undefined;
      const step = decideRestore(state, this.restore.mode);
      if (step.step === 'pending') return;
      this.state.removePendingRestore(this.runId, key);
      if (step.step === 'read') this.emit({ type: 'restore', key, storageClass: state?.storageClass ?? '', status: 'ready' });
      const [src, dst] = await Promise.all([
        this.withRetry(key, 'stat', () => this.o.src.stat(key, { signal: this.signal })),
        this.withRetry(key, 'stat', () => this.o.dst.stat(key, { signal: this.signal })),
      ]);
      // counted once, when first checked
      this.srcSeen -= src ? 1 : 0;
      this.dstSeen -= dst ? 1 : 0;
      await this.check({ key, ...(src ? { src } : {}), ...(dst ? { dst } : {}) });
    } catch (err) {
      this.fail(key, err);
    }
  }

  /** Transforms into a spool file first, so the upload has a known size and MD5. */
  private async sendTransformed(src: Entry, transforms: readonly ByteTransform[], meta: WriteMeta, onBytes: (n: number) => void): Promise<Sent> {
    const spooled = await spoolTransformed(this.o.src, src, transforms, { signal: this.signal, dir: this.o.spoolDir });
    try {
      const origin = derivationMetadata({ size: src.size, mtimeMs: src.mtimeMs, md5: spooled.md5Before }, transforms.map((t) => t.name));
      const stored = { ...meta, size: spooled.size, md5: spooled.md5After, metadata: { ...meta.metadata, ...origin } };
      // a single request holds its bytes whole on the way; chunks take theirs one by one
      const single = spooled.size < this.chunking.threshold;
      const release = single ? await this.budget.take(spooled.size, this.signal) : undefined;
      try {
        const written = await writeObject(this.o.dst, src.key, this.accounted(spooled.open(), onBytes), stored, {
          chunking: this.chunking,
          retries: this.retries,
          signal: this.signal,
          ...(single ? {} : { budget: this.budget, pool: this.pool }),
        });
        return { written, md5Before: spooled.md5Before, reports: spooled.reports };
      } finally {
        release?.();
      }
    } finally {
      await spooled.dispose();
    }
  }

  /**
   * Sends the source as it is: what goes out in one request as one buffer (read whole,
   * paced, written: no stream machinery per file, no copying chunks together), anything
   * else streamed; large files go up in journaled chunks that a later run resumes.
   */
  private async sendStream(src: Entry, meta: WriteMeta, onBytes: (n: number) => void): Promise<WriteResult> {
    const from = this.o.src;
    const write = { chunking: this.chunking, retries: this.retries, signal: this.signal };
    if (src.size >= this.chunking.threshold) {
      const dst = this.o.dst;
      if (!meta.md5 && hasChunkWriter(dst) && dst.md5AtOpenAbove !== undefined && src.size > dst.md5AtOpenAbove && from.features.cheapReads) {
        // too large for the store to take its MD5 after the upload: hash first (from the
        // hash cache when the file is unchanged), and the upload checks its bytes against it
        const md5 = await this.md5Of(from, this.srcLoc, src, false);
        if (typeof md5 === 'string') meta = { ...meta, md5 };
      }
      // chunks take their bytes from the budget one by one (sync/chunked.ts)
      const chunked = {
        ...write,
        journal: this.journal,
        budget: this.budget,
        pool: this.pool,
        fingerprint: `${this.srcLoc}${src.key}|${src.size}|${src.mtimeMs}|${src.etag ?? ''}`,
        onRetry: (what: string, e: unknown, attempt: number) => this.countRetry(src.key, what, e, attempt),
      };
      if (hasBlockReader(from) && hasChunkWriter(dst)) {
        // read straight into the chunks' own (reused) buffers
        const blockSize = chunkSizeFor(src.size, this.chunking.chunkSize, dst.chunkLimits);
        const blocks = from.readBlocks(src.key, blockSize, (n) => this.pool.take(n), { signal: this.signal, ifMatch: src });
        return writeChunked(dst, src.key, this.accountedBlocks(blocks, onBytes), meta, chunked);
      }
      return writeObject(dst, src.key, this.accounted(await from.read(src.key, { signal: this.signal, ifMatch: src }), onBytes), meta, chunked);
    }
    // one request: its bytes are held whole on the way, so they count against the budget
    const release = await this.budget.take(src.size, this.signal);
    try {
      if (src.size > WHOLE_BODY_MAX_BYTES || !hasWholeReader(from)) {
        return await writeObject(this.o.dst, src.key, this.accounted(await from.read(src.key, { signal: this.signal, ifMatch: src }), onBytes), meta, write);
      }
      const data = await from.readWhole(src.key, { signal: this.signal, ifMatch: src });
      await this.o.limiter?.take(data.length, this.signal);
      onBytes(data.length);
      return await writeObject(this.o.dst, src.key, data, meta, write);
    } finally {
      release();
    }
  }

  /** Blocks through the accounting stage: paced and counted a MiB at a time, as a stream is. */
  private async *accountedBlocks(blocks: AsyncGenerator<Buffer>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
    // leaving the loop early (the upload stopped) closes `blocks`, and with it the file
    const limiter = this.o.limiter;
    for await (const b of blocks) {
      for (let off = 0; off < b.length; off += ACCOUNTING_STEP) {
        const n = Math.min(ACCOUNTING_STEP, b.length - off);
        await limiter?.take(n, this.signal);
        onBytes(n);
      }
      yield b;
    }
  }

  /** The source stream through the accounting stage: paced, counted. */
  private accounted(body: Readable, onBytes: (n: number) => void): Readable {
    const acct = new AccountingStream({ limiter: this.o.limiter, onBytes, signal: this.signal });
    body.on('error', (e) => acct.destroy(e));
    acct.on('error', () => body.destroy());
    return body.pipe(acct);
  }

  /** Counts a stored file and records what both sides now hold, so the next run need not ask. */
  private remember(task: TransferTask, sent: Sent, serverSide: boolean): void {
    const { src } = task;
    const { written, md5Before } = sent;
    const transformed = (task.admitted.transforms?.length ?? 0) > 0;
    this.stats.filesDone++;
    if (serverSide) this.stats.serverSideCopies++;
    // a resumed multipart upload sent fewer bytes than the file has (copies and transformed
    // files send none or a different number, which is not resuming)
    if (!serverSide && !transformed) this.stats.bytesResumed += Math.max(0, src.size - written.bytesSent);
    const e = written.entry;
    if (e.etag) this.state.putObject(this.dstLoc, src.key, { size: e.size, etag: e.etag, mtimeMs: src.mtimeMs, md5: written.md5 || null });
    if (this.hadDenials) this.state.forgetDenial(this.srcLoc, this.dstLoc, src.key); // the policy lets it go now
    if (transformed && md5Before) {
      this.state.putDerived(this.dstLoc, src.key, { dstSize: e.size, dstTag: storedTag(e), size: src.size, mtimeMs: src.mtimeMs, md5: md5Before });
    } else if (this.o.gate) this.state.forgetDerived(this.dstLoc, src.key);
    const srcMd5 = transformed ? md5Before : written.md5; // the source's bytes, not the stored ones
    const tag = this.o.src.features.cheapReads ? hashCacheTag(src) : undefined;
    if (tag && srcMd5) this.state.putObject(this.srcLoc, src.key, { size: src.size, etag: tag, mtimeMs: src.mtimeMs, md5: srcMd5 });
  }

  /**
   * sync: the parked deletions, only after every transfer succeeded and the source listed
   * cleanly, and only within the limits (all or nothing); a dry run lists them instead.
   */
  private async deletePhase(): Promise<void> {
    const due = this.state.pendingDeleteCount(this.runId);
    if (due === 0) return;
    const listErrors = this.o.srcListErrors?.() ?? 0;
    if (this.stats.failed > 0 || listErrors > 0 || this.stats.restorePending > 0) {
      this.deletesHeldBack = due;
      const why = this.stats.failed > 0 || listErrors > 0 ? 'there were errors' : `${this.stats.restorePending} file(s) await a restore and were not copied yet`;
      this.emit({ type: 'notice', message: `not deleting ${due} extraneous file(s) at the destination because ${why}` });
      return;
    }
    const refusal = this.deleteRefusal(due);
    if (refusal) {
      this.deletesHeldBack = due;
      this.stats.failed++;
      this.emit({ type: 'error', kind: 'usage', ...refusal });
    } else if (this.dryRun) {
      for (const key of this.state.pendingDeletes(this.runId)) {
        this.stats.deleted++;
        this.emit({ type: 'plan', action: 'delete', key });
      }
    } else {
      await deleteKeys({
        dst: this.o.dst,
        keys: this.state.pendingDeletes(this.runId),
        concurrency: this.checkers,
        retries: this.retries,
        signal: this.signal,
        onDeleted: (key) => {
          this.state.forgetObject(this.dstLoc, key);
          this.state.forgetDerived(this.dstLoc, key);
          this.stats.deleted++;
          this.emit({ type: 'delete', key });
        },
        onFailed: (key, err) => this.fail(key, err),
        onRetry: (key, err, attempt) => this.countRetry(key ?? '(batch deletion)', 'delete', err, attempt),
      });
    }
  }

  /** Why `due` deletions must not be made (an empty source, over --max-delete), or undefined. */
  private deleteRefusal(due: number): { message: string; hint: string } | undefined {
    const o = this.o;
    return deleteRefusal({ due, srcSeen: this.srcSeen, dstSeen: this.dstSeen, src: o.src.uri, dst: o.dst.uri, maxDelete: o.maxDelete, allowEmptySource: o.allowEmptySource });
  }

  /** Aborts the chunked uploads a killed earlier run started and this run did not resume. */
  private async cleanupUploads(): Promise<void> {
    const dst = this.o.dst;
    if (!hasChunkWriter(dst)) return;
    const pending = this.journal.pending();
    const journaled = new Set(pending.map((u) => u.uploadToken));
    for (const o of this.journal.openings()) {
      // a create request whose reply never reached the journal: abort what the server made for it
      try {
        await dst.abortStrayChunkedUploads?.(o.key, o.since, journaled, { signal: this.signal });
        this.journal.openingResolved(o.id);
      } catch {
        // kept: the next run that reaches its end tries again
      }
    }
    for (const u of pending) {
      await dst.abortChunkedUpload(u.key, u.uploadToken, { signal: this.signal }).catch(() => undefined);
      this.journal.finished(u.uploadToken);
    }
  }

  /** How a run that ran to the end went. */
  private outcome(): RunStatus {
    const listErrors = this.o.srcListErrors?.() ?? 0;
    const s = this.stats;
    if (s.failed > 0 || listErrors > 0) return 'failed';
    if (s.differences > 0) return 'differences';
    if (s.denied > s.deniedKnown) return 'denied';
    if (s.restorePending > 0) return 'restore-pending';
    return s.denied > 0 ? 'known-denials' : 'ok';
  }

  private summary(status: RunStatus): RunSummary {
    const s = this.stats;
    const durationMs = Date.now() - s.startedAt;
    return {
      runId: this.runId,
      mode: this.o.mode,
      dryRun: this.dryRun,
      src: this.o.src.uri,
      dst: this.o.dst.uri,
      transferred: s.filesDone,
      // a dry run moves nothing: its totals are what the real run would move
      bytes: this.dryRun ? s.bytesPlanned : s.bytesDone,
      bytesResumed: s.bytesResumed,
      serverSideCopies: s.serverSideCopies,
      skipped: s.skipped,
      deleted: s.deleted,
      failed: s.failed + (this.o.srcListErrors?.() ?? 0),
      denied: s.denied,
      deniedKnown: s.deniedKnown,
      derived: s.derived,
      differences: s.differences,
      checks: s.checks,
      retries: s.retries,
      durationMs,
      rate: durationMs > 0 && !this.dryRun ? Math.round((s.bytesDone * 1000) / durationMs) : 0,
      deletesHeldBack: this.deletesHeldBack,
      ...(s.restorePending || s.restoresRequested ? { restorePending: s.restorePending, restoresRequested: s.restoresRequested } : {}),
      status,
    };
  }

  /** Reports one file's failure and goes on; rethrows what must stop the run (fatal errors, an abort). */
  private fail(key: string | undefined, err: unknown): void {
    if (isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError)) throw err;
    if (this.signal.aborted) throw err instanceof AbortedError ? err : new AbortedError('run aborted', { cause: err });
    if (err instanceof RestorePendingError && key !== undefined) {
      // not a failure: the file is copied by a run after the restore completes
      this.stats.restorePending++;
      this.emit({ type: 'restore-pending', key, ...(err.storageClass ? { storageClass: err.storageClass } : {}), requested: err.requested, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
      return;
    }
    this.stats.failed++;
    this.emit(errorEvent(key, err));
  }

  private withRetry<T>(key: string, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    return retryOperation(fn, { attempts: this.retries, signal: this.signal, onRetry: (e, attempt) => this.countRetry(key, what, e, attempt) });
  }

  private countRetry(key: string, what: string, err: unknown, attempt: number): void {
    this.stats.retries++;
    this.emit({ type: 'retry', key, what, attempt, message: describeError(err) });
  }
}

/** What the deletion guards weigh: how many deletions are due against what both sides listed. */
export interface DeleteGuardFacts {
  readonly due: number;
  readonly srcSeen: number;
  readonly dstSeen: number;
  readonly src: string;
  readonly dst: string;
  readonly maxDelete?: DeleteLimit;
  readonly allowEmptySource?: boolean;
}

/** Why `due` deletions must not be made (an empty source, over --max-delete), or undefined. */
export function deleteRefusal(f: DeleteGuardFacts): { message: string; hint: string } | undefined {
  const { due, dst } = f;
  if (f.srcSeen === 0 && !f.allowEmptySource) {
    return {
      message: `the source ${f.src} lists no files, so syncing would delete ${due} of the ${f.dstSeen} files at ${dst}; nothing was deleted`,
      hint: 'check the source is there (an unmounted path lists as empty); to empty the destination on purpose, add --allow-empty-source',
    };
  }
  const limit = f.maxDelete ?? DEFAULT_DELETE_LIMIT;
  if ('count' in limit) {
    if (due <= limit.count) return undefined;
    return {
      message: `${due} files would be deleted at ${dst}, more than --max-delete ${limit.count}; nothing was deleted`,
      hint: 'check the source is complete, or raise --max-delete',
    };
  }
  const percent = (due * 100) / f.dstSeen;
  if (percent <= limit.percent) return undefined;
  return {
    message: `${due} of the ${f.dstSeen} files at ${dst} (${Math.round(percent)}%) would be deleted, more than --max-delete ${formatDeleteLimit(limit)}; nothing was deleted`,
    hint: 'check the source is complete (an unmounted path lists as empty); to allow it, --max-delete 100% (or a higher percentage, or a count)',
  };
}

/**
 * The key of a local file's row in the MD5 cache, or undefined: not cacheable. The cache
 * serves --checksum and check, so it may answer only on evidence the content cannot have
 * changed: size + mtime + the backend's changeTag (inode + ctime for local files, as git's
 * index keys files; ctime moves on every write, even when `touch -r` puts the mtime back).
 * Size and mtime alone are no such evidence, so an entry without a changeTag is hashed.
 * The tag is taken from the listing, before the read: a change during or after the read
 * moves it, and the next run hashes again.
 */
function hashCacheTag(e: Entry): string | undefined {
  return e.changeTag !== undefined ? `${e.size}:${e.mtimeMs}:${e.changeTag}` : undefined;
}

/** Identifies stored content without reading it: the ETag, else size and mtime. */
function storedTag(e: Entry): string {
  return e.etag ?? `${e.size}:${e.mtimeMs}`;
}

/** What the destination stores with a file: size, mtime, the MD5 when known, the gate's tags and metadata. */
function writeMeta(src: Entry, admitted: Admitted): WriteMeta {
  const contentType = contentTypeOf(src.key);
  return {
    size: src.size,
    mtimeMs: src.mtimeMs,
    ...(src.mtimeNs ? { mtimeNs: src.mtimeNs } : {}),
    ...(contentType ? { contentType } : {}),
    ...(src.md5 ? { md5: src.md5 } : {}),
    ...(admitted.tags ? { tags: admitted.tags } : {}),
    ...(admitted.metadata ? { metadata: admitted.metadata } : {}),
  };
}
