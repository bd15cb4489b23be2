/**
 * The bisync executor. One run goes through its phases in order:
 *   plan      the three-way march of path1, path2 and the merge base; each key's decision
 *             is spooled into the state database (memory stays flat), identical files are
 *             recorded in the base at once;
 *   renames   deletes paired with new files of the same content on the same side become
 *             moves on the other side (server-side copy where the store can), before the
 *             delete budget is counted;
 *   safety    an empty side, a missing --check-access sentinel, more deletes than
 *             --max-delete on either side or more conflicts than --max-conflicts stop the
 *             run here, before anything moves;
 *   conflicts keep-both keeps the loser under a conflict name on its own side first; merge
 *             drivers write the union; then the winner is copied like any other file;
 *   transfer  one run of the one-way engine per direction (src/sync/execute.ts: the
 *             governance gate of that destination, PII scrub, verification, chunked
 *             resumable uploads, audit), fed with this run's decisions; the same pass
 *             moves renamed files and deletes tombstoned ones on that side.
 * Every completed action commits its row of the merge base at once, so a run killed at
 * any point is resumed by running it again: the next plan sees what was done.
 */
import { Readable } from 'node:stream';
import { hasServerSideCopy, type Backend } from '../core/backend.js';
import { compareKeys, type Entry, type WriteMeta } from '../core/entry.js';
import { AbortedError, describeError, isHybridsyncError } from '../core/errors.js';
import { CHECK_ACCESS_FILE } from '../config/bisync.js';
import { DEFAULT_DELETE_LIMIT, formatDeleteLimit, type DeleteLimit } from '../config/options.js';
import { md5OfStream } from '../lib/accounting.js';
import { contentTypeOf } from '../lib/content-type.js';
import { forEachConcurrent } from '../lib/pool.js';
import { runSync, type RunOptions } from '../sync/execute.js';
import { errorEvent, retryOperation } from '../sync/retrying.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import type { Filter } from '../sync/filter.js';
import type { MarchPair } from '../sync/march.js';
import type { StateDb } from '../sync/state.js';
import { Stats } from '../sync/stats.js';
import { baseSideOf, MergeBase, type PlanRow } from './base.js';
import { march3 } from './march.js';
import { mergeContent } from './merge.js';
import {
  conflictName,
  conflictStamp,
  decideBisync,
  isConflictCopy,
  isRenameOf,
  resolveConflict,
  type BaseRow,
  type BaseSide,
  type BisyncDecision,
  type ConflictContext,
  type MergeChoice,
  type Side,
  type Triple,
} from './plan.js';

export interface BisyncRunOptions {
  /** The engine's run toward path2 (path1 → path2) and toward path1, as prepareTransfer set them up (mode copy). */
  readonly to2: RunOptions;
  readonly to1: RunOptions;
  readonly conflict: ConflictContext;
  readonly maxConflicts?: number;
  readonly maxDelete?: DeleteLimit;
  readonly checkAccess?: boolean;
  readonly mergeFor?: (key: string) => MergeChoice;
  readonly filter?: Filter;
  readonly dryRun?: boolean;
  readonly modifyWindowMs?: number;
  readonly checkers?: number;
  readonly retries?: number;
  /** Only these keys (watch mode): each is looked up on both sides instead of listing them. */
  readonly keys?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: BisyncEvent) => void;
  /** Each direction's engine run, as it starts, with the counters it keeps (live progress). */
  readonly onEngineStats?: (to: 'path1' | 'path2', stats: Stats) => void;
  /** The clock conflict names are stamped with. */
  readonly now?: () => number;
}

export type SideName = 'path1' | 'path2';

export type BisyncEvent =
  | SyncEvent
  | { type: 'bisync-start'; runId: number; path1: string; path2: string; dryRun: boolean; keys?: number }
  | { type: 'bisync-plan'; action: 'copy' | 'delete' | 'conflict' | 'rename'; key: string; to?: SideName; on?: SideName; reason?: string; from?: string }
  | { type: 'bisync-summary'; summary: BisyncSummary };

export interface BisyncSummary {
  runId: number;
  path1: string;
  path2: string;
  dryRun: boolean;
  copiedTo1: number;
  copiedTo2: number;
  deletedOn1: number;
  deletedOn2: number;
  renamed: number;
  conflicts: number;
  merged: number;
  unchanged: number;
  bytes: number;
  serverSideCopies: number;
  failed: number;
  denied: number;
  /** Of the denied: known and unchanged since an earlier run (see RunSummary.deniedKnown). */
  deniedKnown: number;
  durationMs: number;
  status: 'ok' | 'failed' | 'denied' | 'known-denials' | 'aborted' | 'refused';
  /** Why the run stopped before anything moved. */
  refusal?: string;
}

const MERGE_LIMIT = 64 * 1024 * 1024;

const other = (s: Side): Side => (s === 1 ? 2 : 1);
const sideName = (s: Side): SideName => (s === 1 ? 'path1' : 'path2');

/** Identity of a version without reading it, for the conflict journal. */
function versionTag(e: Entry): string {
  return `${e.size}:${e.etag ?? Math.round(e.mtimeMs)}`;
}

/** A bisync run's summary in the shape a job's history keeps (both directions added up). */
export function jobSummaryOf(s: BisyncSummary): RunSummary {
  return {
    runId: s.runId,
    mode: 'bisync',
    dryRun: s.dryRun,
    src: s.path1,
    dst: s.path2,
    transferred: s.copiedTo1 + s.copiedTo2,
    bytes: s.bytes,
    bytesResumed: 0,
    serverSideCopies: s.serverSideCopies,
    skipped: s.unchanged,
    deleted: s.deletedOn1 + s.deletedOn2,
    failed: s.failed,
    denied: s.denied,
    deniedKnown: s.deniedKnown,
    derived: 0,
    differences: 0,
    checks: 0,
    retries: 0,
    durationMs: s.durationMs,
    rate: s.durationMs > 0 ? Math.round((s.bytes * 1000) / s.durationMs) : 0,
    deletesHeldBack: 0,
    status: s.status === 'refused' ? 'failed' : s.status,
  };
}

export async function runBisync(o: BisyncRunOptions): Promise<BisyncSummary> {
  return new BisyncRun(o).run();
}

class BisyncRun {
  private readonly b: Record<Side, Backend>;
  private readonly base: MergeBase;
  private readonly state: StateDb;
  private readonly runId: number;
  private readonly emit: (e: BisyncEvent) => void;
  private readonly dryRun: boolean;
  private readonly checkers: number;
  private readonly retries: number;
  private readonly started = Date.now();
  private readonly seen: Record<Side, number> = { 1: 0, 2: 0 };
  private readonly sentinel: Record<Side, boolean> = { 1: false, 2: false };
  private readonly s = { unchanged: 0, conflicts: 0, merged: 0, renamed: 0, failed: 0, deleted: { 1: 0, 2: 0 } as Record<Side, number> };
  private readonly commits = new Set<Promise<void>>();
  private readonly signal: AbortSignal;

  constructor(private readonly o: BisyncRunOptions) {
    this.b = { 1: o.to2.src, 2: o.to2.dst };
    this.state = o.to2.state;
    this.base = new MergeBase(this.state.db, `${this.b[1].location.id}\n${this.b[2].location.id}`);
    this.emit = o.onEvent ?? (() => undefined);
    this.dryRun = o.dryRun ?? false;
    this.checkers = Math.max(1, o.checkers ?? 16);
    this.retries = o.retries ?? 3;
    this.signal = o.signal ?? new AbortController().signal;
    this.runId = this.state.startRun('bisync', this.b[1].location.id, this.b[2].location.id);
  }

  async run(): Promise<BisyncSummary> {
    this.emit({ type: 'bisync-start', runId: this.runId, path1: this.b[1].uri, path2: this.b[2].uri, dryRun: this.dryRun, ...(this.o.keys ? { keys: this.o.keys.length } : {}) });
    let summary: BisyncSummary;
    try {
      await this.plan();
      await this.pairRenames();
      const refusal = await this.refusal();
      if (refusal) {
        this.emit({ type: 'error', kind: 'usage', message: refusal.message, hint: refusal.hint });
        // the audit trail (through the path1 → path2 direction's recorder) keeps the refusal
        this.o.to2.onEvent?.({ type: 'refused', what: 'bisync', message: refusal.message, hint: refusal.hint });
        summary = this.summary('refused', undefined, refusal.message);
      } else if (this.dryRun) {
        this.printPlan();
        summary = this.summary('ok');
      } else {
        await this.settleConflicts();
        const [r2, r1] = await Promise.allSettled([this.engine(2), this.engine(1)]);
        await Promise.all(this.commits);
        for (const r of [r2, r1]) if (r.status === 'rejected') throw r.reason;
        summary = this.summary(undefined, { 1: (r1 as PromiseFulfilledResult<RunSummary | undefined>).value, 2: (r2 as PromiseFulfilledResult<RunSummary | undefined>).value });
      }
    } catch (err) {
      await Promise.allSettled(this.commits);
      if (this.signal.aborted) summary = this.summary('aborted');
      else {
        this.base.clearPlan(this.runId);
        this.state.endRun(this.runId, 'failed', { error: describeError(err) });
        throw err;
      }
    }
    this.base.clearPlan(this.runId);
    this.state.endRun(this.runId, summary.status, summary);
    this.emit({ type: 'bisync-summary', summary });
    return summary;
  }

  // ------------------------------------------------------------------------ plan

  private triples(): AsyncIterable<Triple> {
    const keys = this.o.keys;
    if (!keys) {
      const allowMissingRoot = (b: Backend): boolean => b.features.createsRoot;
      return march3(
        this.b[1].list({ signal: this.signal, allowMissingRoot: allowMissingRoot(this.b[1]) }),
        this.b[2].list({ signal: this.signal, allowMissingRoot: allowMissingRoot(this.b[2]) }),
        this.base.rows(),
      );
    }
    const sorted = [...new Set(keys)].sort(compareKeys);
    const stat = (s: Side, k: string): Promise<Entry | undefined> => this.withRetry(k, 'stat', () => this.b[s].stat(k, { signal: this.signal }));
    const baseOf = (k: string): BaseRow | undefined => this.base.get(k);
    return (async function* () {
      for (const key of sorted) {
        const [e1, e2] = await Promise.all([stat(1, key), stat(2, key)]);
        const base = baseOf(key);
        yield { key, ...(e1 ? { e1 } : {}), ...(e2 ? { e2 } : {}), ...(base ? { base } : {}) };
      }
    })();
  }

  private async plan(): Promise<void> {
    const po = { modifyWindowMs: this.o.modifyWindowMs ?? 1, ...(this.o.filter ? { filter: this.o.filter } : {}) };
    await forEachConcurrent(
      this.triples(),
      this.checkers,
      async (t0) => {
        if (t0.e1) this.seen[1]++;
        if (t0.e2) this.seen[2]++;
        if (t0.key === CHECK_ACCESS_FILE) {
          this.sentinel[1] = !!t0.e1;
          this.sentinel[2] = !!t0.e2;
        }
        let t = t0;
        let d: BisyncDecision = decideBisync(t, po);
        for (let round = 0; d.kind === 'resolve' && round < 3; round++) {
          const s: Side = d.need === 'md5-1' ? 1 : 2;
          const e = s === 1 ? t.e1! : t.e2!;
          const md5 = await this.md5Of(s, e);
          t = s === 1 ? { ...t, e1: { ...e, md5 } } : { ...t, e2: { ...e, md5 } };
          d = decideBisync(t, po);
        }
        this.spool(t, d);
      },
      this.signal,
    );
    if (this.o.keys) {
      // a targeted run lists nothing: the sizes the guards measure by are the base's
      const n = this.base.count();
      this.seen[1] = this.seen[2] = n;
      // an emptied side matters only to deletes: one LIST of a page, only then
      const deleting = this.base.planCount(this.runId, 'delete', 1) + this.base.planCount(this.runId, 'delete', 2) > 0;
      for (const s of [1, 2] as const) if (n > 0 && deleting && (await this.isEmpty(s))) this.seen[s] = 0;
      if (this.o.checkAccess) for (const s of [1, 2] as const) this.sentinel[s] = !!(await this.b[s].stat(CHECK_ACCESS_FILE, { signal: this.signal }));
    }
  }

  private async isEmpty(s: Side): Promise<boolean> {
    const it = this.b[s].list({ signal: this.signal, allowMissingRoot: true })[Symbol.asyncIterator]();
    try {
      return !!(await it.next()).done;
    } finally {
      await it.return?.();
    }
  }

  /** Records a decision: spooled for later phases, or settled now (base rows of identical files). */
  private spool(t: Triple, d: BisyncDecision): void {
    const { key } = t;
    const row = { ...(t.e1 ? { e1: t.e1 } : {}), ...(t.e2 ? { e2: t.e2 } : {}), ...(t.base ? { base: t.base } : {}) };
    switch (d.kind) {
      case 'excluded':
        return;
      case 'unchanged':
        this.s.unchanged++;
        return;
      case 'resolve':
        this.s.failed++;
        this.emit({ type: 'error', key, kind: 'unknown', message: `${key}: no content hash could be found to compare both sides; left as it is` });
        return;
      case 'record':
        this.s.unchanged++;
        if (!this.dryRun) this.base.put(key, baseSideOf(t.e1!), baseSideOf(t.e2!));
        return;
      case 'forget':
        if (!this.dryRun) this.base.forget(key);
        return;
      case 'copy': {
        const src = d.to === 2 ? t.e1! : t.e2!;
        this.base.addPlan(this.runId, { key, action: 'copy', side: d.to, size: src.size, ...(src.md5 ? { md5: src.md5 } : {}), detail: d.reason, ...row });
        return;
      }
      case 'delete': {
        // the content that went away on the other side: what a rename there would carry
        const gone = d.on === 1 ? t.base!.s2 : t.base!.s1;
        this.base.addPlan(this.runId, { key, action: 'delete', side: d.on, size: gone.size, ...(gone.md5 ? { md5: gone.md5 } : {}), ...row });
        return;
      }
      case 'conflict':
        this.s.conflicts++;
        this.base.addPlan(this.runId, { key, action: 'conflict', side: 0, detail: d.reason, ...row });
        return;
    }
  }

  /** MD5 of a side's entry: listed, in the metadata (a HEAD), or by reading it. */
  private async md5Of(s: Side, e: Entry): Promise<string> {
    if (e.md5) return e.md5;
    const b = this.b[s];
    if (!b.features.cheapReads) {
      const full = await this.withRetry(e.key, 'stat', () => b.stat(e.key, { signal: this.signal }));
      if (full?.md5) return full.md5;
    }
    const { md5 } = await this.withRetry(e.key, 'hash', async () => md5OfStream((await b.read(e.key, { signal: this.signal })) as AsyncIterable<Buffer>));
    return md5;
  }

  // --------------------------------------------------------------------- renames

  /**
   * A delete on side Y whose content reappeared under a new name on side X (the same size
   * and MD5 the base held) is a rename: Y moves the file instead of deleting it and
   * receiving the bytes again. Only where the gate lets the file go to Y unchanged.
   */
  private async pairRenames(): Promise<void> {
    for (const del of this.base.plan(this.runId, 'delete')) {
      if (del.size === undefined || del.md5 === undefined || isConflictCopy(del.key)) continue;
      const y = del.side as Side;
      const x = other(y);
      for (const cand of this.base.newCopiesOfSize(this.runId, y, del.size)) {
        const created = x === 1 ? cand.e1! : cand.e2!;
        let md5 = created.md5;
        if (!md5) {
          try {
            md5 = await this.md5Of(x, created);
          } catch {
            continue;
          }
        }
        const deleted = { size: del.size, mtimeMs: 0, etag: null, md5: del.md5 };
        if (!isRenameOf({ ...created, md5 }, deleted)) continue;
        const gate = this.engineOptions(y).gate;
        if (gate) {
          const g = await gate.admit({ ...created, md5 }, { src: this.b[x], dst: this.b[y], signal: this.signal }).catch(() => undefined);
          if (!g?.allow || g.transforms?.length) continue;
        }
        const oldOnY = y === 1 ? del.e1 : del.e2;
        this.base.dropPlan(this.runId, del.key);
        this.base.addPlan(this.runId, {
          key: cand.key,
          action: 'rename',
          side: y,
          size: created.size,
          md5,
          detail: del.key,
          ...(x === 1 ? { e1: { ...created, md5 }, ...(oldOnY ? { e2: oldOnY } : {}) } : { e2: { ...created, md5 }, ...(oldOnY ? { e1: oldOnY } : {}) }),
          ...(del.base ? { base: del.base } : {}),
        });
        break;
      }
    }
  }

  // ---------------------------------------------------------------------- safety

  private async refusal(): Promise<{ message: string; hint: string } | undefined> {
    const name = (s: Side): string => this.b[s].uri;
    if (this.o.checkAccess) {
      for (const s of [1, 2] as const) {
        if (!this.sentinel[s]) {
          return {
            message: `--check-access: ${name(s)} has no ${CHECK_ACCESS_FILE}, so it may not be the tree it should be (unmounted, wrong path); nothing was changed`,
            hint: `check the location; if it is right, create ${CHECK_ACCESS_FILE} at the root of both sides`,
          };
        }
      }
    }
    const known = this.base.count();
    for (const s of [1, 2] as const) {
      if (this.seen[s] === 0 && known > 0) {
        return {
          message: `${name(s)} lists no files, but the last bisync left ${known} there; syncing would delete them on ${name(other(s))}; nothing was changed`,
          hint: 'check the location is there (an unmounted path lists as empty); to empty both sides on purpose, delete the files on the other side too',
        };
      }
    }
    const limit = this.o.maxDelete ?? DEFAULT_DELETE_LIMIT;
    for (const s of [1, 2] as const) {
      const due = this.base.planCount(this.runId, 'delete', s);
      if (due === 0) continue;
      const over = 'count' in limit ? due > limit.count : (due * 100) / this.seen[s] > limit.percent;
      if (over) {
        return {
          message: `${due} of the ${this.seen[s]} files at ${name(s)} would be deleted, more than --max-delete ${formatDeleteLimit(limit)}; nothing was changed`,
          hint: 'check the other side is complete (an unmounted path lists as empty); to allow it, raise --max-delete (e.g. 100%)',
        };
      }
    }
    if (this.o.maxConflicts !== undefined && this.s.conflicts > this.o.maxConflicts) {
      return {
        message: `${this.s.conflicts} files changed on both sides, more than --max-conflicts ${this.o.maxConflicts}; nothing was changed`,
        hint: 'look at the conflicts with --dry-run, or raise --max-conflicts',
      };
    }
    return undefined;
  }

  private printPlan(): void {
    for (const s of [1, 2] as const) {
      for (const r of this.base.plan(this.runId, 'copy', s)) this.emit({ type: 'bisync-plan', action: 'copy', key: r.key, to: sideName(s), ...(r.detail ? { reason: r.detail } : {}) });
      for (const r of this.base.plan(this.runId, 'rename', s)) this.emit({ type: 'bisync-plan', action: 'rename', key: r.key, on: sideName(s), from: r.detail! });
      for (const r of this.base.plan(this.runId, 'delete', s)) {
        this.s.deleted[s]++;
        this.emit({ type: 'bisync-plan', action: 'delete', key: r.key, on: sideName(s) });
      }
    }
    for (const r of this.base.plan(this.runId, 'conflict')) this.emit({ type: 'bisync-plan', action: 'conflict', key: r.key, ...(r.detail ? { reason: r.detail } : {}) });
  }

  // ------------------------------------------------------------------- conflicts

  /** Settles every conflict into copies (and, for keep-both, a conflict copy made on the loser's side first). */
  private async settleConflicts(): Promise<void> {
    const rows = this.base.plan(this.runId, 'conflict');
    await forEachConcurrent(rows, this.checkers, (r) => this.settle(r).catch((err: unknown) => this.fail(r.key, err)), this.signal);
  }

  private async settle(r: PlanRow): Promise<void> {
    const key = r.key;
    const [e1, e2] = await Promise.all([this.b[1].stat(key, { signal: this.signal }), this.b[2].stat(key, { signal: this.signal })]);
    if (!e1 || !e2) {
      this.base.dropPlan(this.runId, key); // changed again since the listing: the next run sees it as it is
      return;
    }
    const choice = this.o.mergeFor?.(key) ?? { driver: 'conflict' as const };
    if (choice.driver !== 'conflict' && !isConflictCopy(key) && (await this.merge(key, e1, e2, choice))) return;
    const res = resolveConflict(e1, e2, this.o.conflict);
    const w = res.winner;
    const l = other(w);
    const eW = w === 1 ? e1 : e2;
    const eL = l === 1 ? e1 : e2;
    let keptAs: string | undefined;
    if (res.keepLoser) {
      // the same conflict seen again after a crash keeps its first name: no second copy
      const stamp = this.base.conflictStamp(key, `${versionTag(e1)}|${versionTag(e2)}`, conflictStamp((this.o.now ?? Date.now)()));
      keptAs = conflictName(key, stamp, l);
      const kept = await this.copyWithin(l, eL, keptAs);
      this.base.addPlan(this.runId, { key: keptAs, action: 'copy', side: w, size: kept.size, detail: 'conflict', ...(l === 1 ? { e1: kept } : { e2: kept }) });
    }
    this.base.addPlan(this.runId, {
      key,
      action: 'copy',
      side: l,
      size: eW.size,
      detail: JSON.stringify({ policy: this.o.conflict.policy, winner: sideName(w), ...(keptAs ? { keptAs } : {}) }),
      ...(w === 1 ? { e1: eW } : { e2: eW }),
    });
  }

  /**
   * A merge driver's union of both versions: written on path1 (when it differs from both)
   * and copied to path2 through the engine, so both sides end byte-identical. Only when
   * path2's content may come to path1 unchanged (the gate toward path1 allows it with no
   * transform); false: the conflict policy decides instead.
   */
  private async merge(key: string, e1: Entry, e2: Entry, choice: MergeChoice): Promise<boolean> {
    if (e1.size > MERGE_LIMIT || e2.size > MERGE_LIMIT) return false;
    const gate = this.o.to1.gate;
    if (gate) {
      const g = await gate.admit(e2, { src: this.b[2], dst: this.b[1], signal: this.signal });
      if (!g.allow || g.transforms?.length) return false;
    }
    const [a, b] = await Promise.all([this.readAll(1, e1), this.readAll(2, e2)]);
    const merged = mergeContent(choice.driver, a.toString('utf8'), b.toString('utf8'), choice.key);
    if (merged === undefined) return false;
    const bytes = Buffer.from(merged, 'utf8');
    let source: { side: Side; entry: Entry };
    if (bytes.equals(a)) source = { side: 1, entry: e1 };
    else if (bytes.equals(b)) source = { side: 2, entry: e2 };
    else {
      const meta: WriteMeta = { size: bytes.length, mtimeMs: Math.max(e1.mtimeMs, e2.mtimeMs, (this.o.now ?? Date.now)()), ...ctype(key) };
      const w = await this.withRetry(key, 'merge', () => this.b[1].write(key, Readable.from([bytes]), meta, { signal: this.signal }));
      source = { side: 1, entry: { ...w.entry, md5: w.md5 } };
    }
    this.s.merged++;
    const to = other(source.side);
    this.base.addPlan(this.runId, {
      key,
      action: 'copy',
      side: to,
      size: source.entry.size,
      detail: JSON.stringify({ policy: this.o.conflict.policy, winner: sideName(source.side), merged: choice.driver }),
      ...(source.side === 1 ? { e1: source.entry } : { e2: source.entry }),
    });
    return true;
  }

  private async readAll(s: Side, e: Entry): Promise<Buffer> {
    return this.withRetry(e.key, 'read', async () => {
      const parts: Buffer[] = [];
      for await (const c of (await this.b[s].read(e.key, { signal: this.signal, ifMatch: e })) as AsyncIterable<Buffer>) parts.push(c);
      return Buffer.concat(parts);
    });
  }

  /** Copies a file to another name on the same side: server-side where the store can, else through this process. */
  private async copyWithin(s: Side, e: Entry, to: string): Promise<Entry> {
    const b = this.b[s];
    const meta: WriteMeta = { size: e.size, mtimeMs: e.mtimeMs, ...(e.md5 ? { md5: e.md5 } : {}), ...ctype(to), ...(e.metadata ? { metadata: pickMeta(e.metadata) } : {}) };
    const w = await this.withRetry(to, 'copy', async () => {
      if (hasServerSideCopy(b) && b.canCopyFrom(b)) return b.copyFrom(b, e.key, to, meta, { signal: this.signal });
      return b.write(to, await b.read(e.key, { signal: this.signal, ifMatch: e }), meta, { signal: this.signal });
    });
    return { ...w.entry, key: to, md5: w.md5 };
  }

  // -------------------------------------------------------------------- transfer

  private engineOptions(to: Side): RunOptions {
    return to === 2 ? this.o.to2 : this.o.to1;
  }

  /** The one-way engine toward side `to`, fed with this run's decisions; the base commits as each file lands. */
  private async engine(to: Side): Promise<RunSummary | undefined> {
    const eo = this.engineOptions(to);
    // a targeted run (watch mode) with nothing toward this side starts no engine run
    if (this.o.keys && (['copy', 'rename', 'delete'] as const).every((a) => this.base.planCount(this.runId, a, to) === 0)) return undefined;
    const from = other(to);
    const outer = eo.onEvent;
    const onEvent = (e: SyncEvent): void => {
      outer?.(e);
      if (e.type === 'transfer') this.track(this.committed(to, e));
    };
    const stats = new Stats();
    this.o.onEngineStats?.(sideName(to), stats);
    return runSync({ ...eo, mode: 'copy', stats, onEvent, pairs: this.pairsTo(to, from, onEvent) });
  }

  /** Renames and copies toward `to` as the engine's pairs; the deletes on `to` once the copies are handed over. */
  private async *pairsTo(to: Side, from: Side, emit: (e: SyncEvent) => void): AsyncGenerator<MarchPair> {
    for (const r of this.base.plan(this.runId, 'rename', to)) {
      await this.moveOne(to, r, emit).catch((err: unknown) => this.fail(r.key, err, emit));
    }
    for (const r of this.base.plan(this.runId, 'copy', to)) {
      const src = from === 1 ? r.e1 : r.e2;
      if (!src) continue;
      if (r.detail?.startsWith('{')) {
        const c = JSON.parse(r.detail) as { policy: string; winner: SideName; keptAs?: string; merged?: string };
        emit({ type: 'conflict', key: r.key, policy: c.merged ? 'merge' : c.policy, winner: c.winner, ...(c.keptAs ? { keptAs: c.keptAs } : {}), ...(c.merged ? { merged: c.merged } : {}) });
      }
      yield { key: r.key, src };
    }
    await forEachConcurrent(this.base.plan(this.runId, 'delete', to), this.checkers, (r) => this.deleteOne(to, r, emit).catch((err: unknown) => this.fail(r.key, err, emit)), this.signal);
  }

  private track(p: Promise<void>): void {
    this.commits.add(p);
    void p.finally(() => this.commits.delete(p));
  }

  /** A file the engine stored on side `to`: both sides' versions become the base row. */
  private async committed(to: Side, e: Extract<SyncEvent, { type: 'transfer' }>): Promise<void> {
    const row = this.base.getPlan(this.runId, e.key);
    const from = other(to);
    const src = row && (from === 1 ? row.e1 : row.e2);
    if (!src) return;
    const dst = this.b[to];
    // an object store's ETag identifies what is stored (the engine cached it just now, with
    // the MD5 of these bytes); a file is stat'ed (its row in that cache is the MD5 cache of
    // an earlier version, not this one)
    const cached = dst.features.cheapReads ? undefined : this.engineOptions(to).state.getObject(dst.location.id, e.key);
    let stored: BaseSide | undefined = cached && cached.md5 === e.md5 ? { size: cached.size, mtimeMs: src.mtimeMs, etag: cached.etag, md5: e.md5 } : undefined;
    if (!stored) {
      const full = await dst.stat(e.key, { signal: this.signal }).catch(() => undefined);
      if (!full) return;
      stored = { size: full.size, mtimeMs: full.mtimeMs, etag: full.etag ?? null, md5: e.md5 };
    }
    const srcSide = baseSideOf(src, e.md5Before ?? e.md5);
    if (to === 2) this.base.put(e.key, srcSide, stored);
    else this.base.put(e.key, stored, srcSide);
  }

  /** A rename on the other side, repeated here: copy to the new name (server-side where possible), then remove the old. */
  private async moveOne(on: Side, r: PlanRow, emit: (e: SyncEvent) => void): Promise<void> {
    const fromKey = r.detail!;
    const b = this.b[on];
    const old = await b.stat(fromKey, { signal: this.signal });
    const planned = on === 1 ? r.e1 : r.e2;
    if (!old || (planned && old.size !== planned.size)) return; // changed meanwhile: the next run decides
    const moved = await this.copyWithin(on, old, r.key);
    await this.withRetry(fromKey, 'delete', () => b.remove(fromKey, { signal: this.signal }));
    const created = on === 1 ? r.e2! : r.e1!;
    const createdSide = baseSideOf(created);
    const movedSide = baseSideOf(moved, moved.md5 ?? r.base?.[on === 1 ? 's1' : 's2'].md5 ?? null);
    this.base.forget(fromKey);
    if (on === 1) this.base.put(r.key, movedSide, createdSide);
    else this.base.put(r.key, createdSide, movedSide);
    this.s.renamed++;
    emit({ type: 'rename', key: r.key, from: fromKey });
  }

  /** A tombstone: the file went on the other side and is unchanged here since the base. */
  private async deleteOne(on: Side, r: PlanRow, emit: (e: SyncEvent) => void): Promise<void> {
    const b = this.b[on];
    const planned = on === 1 ? r.e1 : r.e2;
    const now = await b.stat(r.key, { signal: this.signal });
    if (now && planned && (now.size !== planned.size || (now.etag !== undefined && planned.etag !== undefined && now.etag !== planned.etag) || (now.mtimeExact && planned.mtimeExact && Math.abs(now.mtimeMs - planned.mtimeMs) > 1))) {
      return; // changed since the listing: not deleted; the next run copies it back
    }
    if (now) await this.withRetry(r.key, 'delete', () => b.remove(r.key, { signal: this.signal }));
    this.base.forget(r.key);
    this.s.deleted[on]++;
    emit({ type: 'delete', key: r.key });
  }

  // --------------------------------------------------------------------- summary

  private summary(status?: BisyncSummary['status'], runs?: Record<Side, RunSummary | undefined>, refusal?: string): BisyncSummary {
    const r1 = runs?.[1];
    const r2 = runs?.[2];
    const failed = this.s.failed + (r1?.failed ?? 0) + (r2?.failed ?? 0);
    const denied = (r1?.denied ?? 0) + (r2?.denied ?? 0);
    const deniedKnown = (r1?.deniedKnown ?? 0) + (r2?.deniedKnown ?? 0);
    const aborted = r1?.status === 'aborted' || r2?.status === 'aborted' || this.signal.aborted;
    const count = (s: Side): number => (this.dryRun ? this.base.planCount(this.runId, 'copy', s) : (runs?.[s]?.transferred ?? 0));
    return {
      runId: this.runId,
      path1: this.b[1].uri,
      path2: this.b[2].uri,
      dryRun: this.dryRun,
      copiedTo1: count(1),
      copiedTo2: count(2),
      deletedOn1: this.s.deleted[1],
      deletedOn2: this.s.deleted[2],
      renamed: this.dryRun ? this.base.planCount(this.runId, 'rename', 1) + this.base.planCount(this.runId, 'rename', 2) : this.s.renamed,
      conflicts: this.s.conflicts,
      merged: this.s.merged,
      unchanged: this.s.unchanged,
      bytes: (r1?.bytes ?? 0) + (r2?.bytes ?? 0),
      serverSideCopies: (r1?.serverSideCopies ?? 0) + (r2?.serverSideCopies ?? 0),
      failed: failed + (status === 'refused' ? 1 : 0),
      denied,
      deniedKnown,
      durationMs: Date.now() - this.started,
      status: status ?? (aborted ? 'aborted' : failed > 0 ? 'failed' : denied > deniedKnown ? 'denied' : denied > 0 ? 'known-denials' : 'ok'),
      ...(refusal ? { refusal } : {}),
    };
  }

  private fail(key: string, err: unknown, emit: (e: SyncEvent) => void = this.emit): void {
    if (this.signal.aborted) throw err instanceof AbortedError ? err : new AbortedError('run aborted', { cause: err });
    if (isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError)) throw err;
    this.s.failed++;
    emit(errorEvent(key, err));
  }

  private withRetry<T>(key: string, what: string, fn: () => Promise<T>): Promise<T> {
    return retryOperation(fn, { attempts: this.retries, signal: this.signal, onRetry: (e, attempt) => this.emit({ type: 'retry', key, what, attempt, message: describeError(e) }) });
  }
}

function ctype(key: string): { contentType?: string } {
  const t = contentTypeOf(key);
  return t ? { contentType: t } : {};
}

/** The user metadata a copy keeps (classification travels); hybridsync's own keys are written anew. */
function pickMeta(m: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (k === 'classification' || k === 'classification-source') out[k] = v;
  return out;
}

export type { BaseRow };
