/**
 * The tiering executor: lists each group's root (streamed, `concurrency` objects at a
 * time), asks the planner (plan.ts) about every object, fetches the one fact it may ask for
 * (the content's mtime: from the state database, else a HEAD), and moves the objects it
 * chose through the backend's Tierer capability — or, with dryRun, only reports them.
 * After a move whose ETag changed (S3 copies a multipart object into a new ETag) the state
 * database's knowledge of the object follows it, so the next sync still knows the object's
 * mtime and MD5 without a HEAD and sends nothing.
 */
import { hasTierer, type Backend } from '../core/backend.js';
import type { Entry } from '../core/entry.js';
import { AbortedError, describeError, isHybridsyncError, UsageError } from '../core/errors.js';
import { forEachConcurrent } from '../lib/pool.js';
import { errorEvent, retryOperation } from '../sync/retrying.js';
import type { KnownObject, StateDb } from '../sync/state.js';
import type { TierEvent, TierSummary } from './events.js';
import { classOf, decideTier, type PlannedRule, type TierDecision, type TierFacts } from './plan.js';

/** Rules over one listing root. */
export interface TierGroup {
  /** The root listed: the widest location of the rules on one bucket or container. */
  readonly backend: Backend;
  /** The rules, their prefixes relative to the root. */
  readonly rules: readonly PlannedRule[];
  /** When a gateway last served the object with this canonical id (Location.id + key), if one recorded it. */
  readonly accessedMs?: (objectId: string) => number | undefined;
}

export interface TierRunOptions {
  readonly groups: readonly TierGroup[];
  readonly state: StateDb;
  readonly dryRun: boolean;
  /** Objects decided and moved at once. */
  readonly concurrency: number;
  /** Attempts of each request for retryable errors. */
  readonly retries: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: TierEvent) => void;
  /** The time ages are measured at (default now). */
  readonly now?: number;
}

/**
 * The (location id, key) pairs a state database may know an object under: a sync keys what
 * it stored by its destination root, which can be any prefix of the object's path.
 */
export function stateKeysOf(containerId: string, objectId: string): Array<{ location: string; key: string }> {
  const out: Array<{ location: string; key: string }> = [];
  for (let i = objectId.indexOf('/', containerId.length - 1); i >= 0 && i < objectId.length - 1; i = objectId.indexOf('/', i + 1)) {
    out.push({ location: objectId.slice(0, i + 1), key: objectId.slice(i + 1) });
  }
  return out;
}

/** The longest directory prefix ('' or ending in '/') every rule prefix starts with: what a group lists. */
export function commonPrefix(prefixes: readonly string[]): string {
  if (prefixes.length === 0) return '';
  let p = prefixes[0]!;
  for (const q of prefixes) while (!q.startsWith(p)) p = p.slice(0, p.lastIndexOf('/', p.length - 2) + 1);
  return p;
}

export async function runTier(o: TierRunOptions): Promise<TierSummary> {
  return new TierRun(o).run();
}

class TierRun {
  private readonly emit: (e: TierEvent) => void;
  private readonly now: number;
  private readonly started = Date.now();
  private objects = 0;
  private transitioned = 0;
  private bytes = 0;
  private kept = 0;
  private failed = 0;
  private readonly byClass: Record<string, { objects: number; bytes: number }> = {};

  constructor(private readonly o: TierRunOptions) {
    this.emit = o.onEvent ?? (() => undefined);
    this.now = o.now ?? Date.now();
  }

  async run(): Promise<TierSummary> {
    let status: TierSummary['status'] = 'ok';
    try {
      for (const g of this.o.groups) {
        if (!hasTierer(g.backend)) {
          throw new UsageError(`${g.backend.uri} keeps no storage classes hybridsync can change`, { hint: 'tier rules apply to S3 and Azure Blob locations' });
        }
        const prefix = commonPrefix(g.rules.map((r) => r.prefix));
        const list = g.backend.list({ ...(prefix ? { prefix } : {}), ...(this.o.signal ? { signal: this.o.signal } : {}) });
        await forEachConcurrent(list, this.o.concurrency, (e) => this.one(g, e), this.o.signal);
      }
      if (this.o.signal?.aborted) status = 'aborted';
      else if (this.failed > 0) status = 'failed';
    } catch (err) {
      if (!this.o.signal?.aborted && !(err instanceof AbortedError)) throw err;
      status = 'aborted';
    }
    const summary: TierSummary = {
      dryRun: this.o.dryRun,
      objects: this.objects,
      transitioned: this.transitioned,
      bytes: this.bytes,
      kept: this.kept,
      failed: this.failed,
      byClass: this.byClass,
      durationMs: Date.now() - this.started,
      status,
    };
    this.emit({ type: 'tier-summary', summary });
    return summary;
  }

  private retrying<T>(g: TierGroup, key: string, what: string, fn: () => Promise<T>): Promise<T> {
    return retryOperation(fn, {
      attempts: this.o.retries,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
      onRetry: (err, attempt) => this.emit({ type: 'retry', location: g.backend.uri, key, what, attempt, message: describeError(err) }),
    });
  }

  /** One object: decide (learning its mtime if asked), then keep, report or move it. */
  private async one(g: TierGroup, listed: Entry): Promise<void> {
    this.objects++;
    const b = g.backend;
    const location = b.uri;
    try {
      const id = b.location.id + listed.key;
      const accessedMs = g.accessedMs?.(id);
      let facts: TierFacts = { entry: listed, ...(accessedMs !== undefined ? { accessedMs } : {}) };
      const ctx = { type: b.location.type, rules: g.rules, now: this.now };
      let d: TierDecision = decideTier(facts, ctx);
      if (d.kind === 'resolve') {
        const exact = await this.exactMtime(g, listed);
        if (!exact) return; // gone since it was listed
        facts = { ...facts, entry: exact };
        d = decideTier(facts, ctx);
      }
      if (d.kind !== 'transition') {
        this.kept++;
        this.emit({ type: 'tier-keep', location, key: listed.key, storageClass: d.kind === 'keep' ? d.storageClass : classOf(b.location.type, listed), reason: d.kind === 'keep' ? d.reason : 'too-young', ...(d.kind === 'keep' && d.rule ? { rule: d.rule } : {}) });
        return;
      }
      if (this.o.dryRun) {
        this.count(d.to, listed.size);
        this.emit({ type: 'tier-plan', location, key: listed.key, size: listed.size, from: d.from, to: d.to, rule: d.rule });
        return;
      }
      await this.move(g, listed, d);
    } catch (err) {
      if (isHybridsyncError(err) && err.fatal && !(err instanceof AbortedError)) throw err;
      if (this.o.signal?.aborted) throw err;
      this.failed++;
      this.emit({ ...errorEvent(listed.key, err), location });
    }
  }

  private count(to: string, size: number): void {
    this.transitioned++;
    this.bytes += size;
    const c = (this.byClass[to] ??= { objects: 0, bytes: 0 });
    c.objects++;
    c.bytes += size;
  }

  private async move(g: TierGroup, listed: Entry, d: Extract<TierDecision, { kind: 'transition' }>): Promise<void> {
    const b = g.backend;
    if (!hasTierer(b)) return;
    const started = Date.now();
    const after = await this.retrying(g, listed.key, 'change storage class', () =>
      b.setStorageClass(listed.key, d.to, { ifMatch: listed, ...(this.o.signal ? { signal: this.o.signal } : {}) }),
    );
    if (listed.etag && after.etag && after.etag !== listed.etag) this.followEtag(b, listed, after);
    this.count(d.to, listed.size);
    this.emit({
      type: 'tier',
      location: b.uri,
      key: listed.key,
      size: listed.size,
      from: d.from,
      to: d.to,
      rule: d.rule,
      ...(listed.etag ? { etagBefore: listed.etag } : {}),
      ...(after.etag ? { etagAfter: after.etag } : {}),
      durationMs: Date.now() - started,
    });
  }

  /** What the state database knows about the object, under any root a sync stored it from. */
  private known(b: Backend, key: string, etag: string | undefined): Array<{ location: string; key: string; row: KnownObject }> {
    const containerId = b.location.id.slice(0, b.location.id.length - b.location.path.length);
    return stateKeysOf(containerId, b.location.id + key).flatMap((k) => {
      const row = this.o.state.getObject(k.location, k.key);
      return row && etag !== undefined && row.etag === etag ? [{ ...k, row }] : [];
    });
  }

  /** The content's mtime: from the state database when it knows this very object (its ETag), else a HEAD. */
  private async exactMtime(g: TierGroup, e: Entry): Promise<Entry | undefined> {
    const known = this.known(g.backend, e.key, e.etag).find((k) => k.row.size === e.size);
    if (known) return { ...e, mtimeMs: known.row.mtimeMs, mtimeExact: true };
    const full = await this.retrying(g, e.key, 'stat', () => g.backend.stat(e.key, this.o.signal ? { signal: this.o.signal } : {}));
    // an object without mtime metadata: its Last-Modified is all anyone knows
    return full && { ...full, mtimeExact: true };
  }

  /** The object kept its content but got a new ETag: rows that knew the old one follow. */
  private followEtag(b: Backend, before: Entry, after: Entry): void {
    for (const k of this.known(b, before.key, before.etag)) {
      if (k.row.size === after.size) this.o.state.putObject(k.location, k.key, { ...k.row, etag: after.etag! });
    }
  }
}
