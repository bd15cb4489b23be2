/**
 * The write-back queue: empties the journal into the cloud in batches. A batch hard-links
 * the dirty files into the outbox (a snapshot: a later PUT of the same key writes a new
 * file) and hands the outbox and the batch's keys to an uploader — the engine, so policy,
 * PII scrubbing, bandwidth timetable and audit apply (api/gateway.ts). Each key's outcome
 * settles its journal row: done (unless a newer write replaced it meanwhile), denied by
 * policy (kept locally, reported, never retried until rewritten), or failed (retried with
 * exponential backoff, visible as pending). Before the upload each key's upstream object is
 * looked at: one the cloud changed since the write was made is a conflict (conflicts.ts),
 * settled by the declared source of truth.
 */
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Entry } from '../core/entry.js';
import { conflictStamp } from '../bisync/plan.js';
import { forEachConcurrent } from '../lib/pool.js';
import type { ConflictOutcome, ConflictRow, JournalRow } from './cache-index.js';
import { cloudChange, etagOf, type ConflictWinner, type KeyTruth } from './conflicts.js';
import { dataPath, type CacheDirs } from './cache.js';
import type { GatewayCore } from './gateway.js';

export type KeyOutcome = { readonly ok: true } | { readonly ok: false; readonly denied?: boolean; readonly message: string };

/**
 * Uploads the files under `outbox` for the `puts` and removes the `deletes` at the upstream.
 * `known`: what the upstream holds for (some of) the keys, just looked up (null: nothing),
 * so the run need not ask again.
 */
export type BatchUploader = (batch: { outbox: string; puts: readonly string[]; deletes: readonly string[]; known?: ReadonlyMap<string, Entry | null> }) => Promise<Map<string, KeyOutcome>>;

export interface WriteBackOptions {
  readonly batchSize?: number;
  /** First retry delay (ms); doubled per attempt up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often the queue looks for due retries when nothing wakes it (ms). */
  readonly pollMs?: number;
  readonly onBatch?: (b: { uploaded: number; deleted: number; failed: number; denied: number; bytes: number }) => void;
  readonly onError?: (message: string) => void;
  /** The source of truth the config declares for a key: who wins when the cloud changed meanwhile. */
  readonly truthOf?: (key: string) => KeyTruth;
  /** A conflict with the cloud was found and settled (for the audit trail). */
  readonly onConflict?: (c: ConflictRow) => void;
}

export interface WriteBackCounters {
  uploadedFiles: number;
  uploadedBytes: number;
  deletes: number;
  failures: number;
  denied: number;
  batches: number;
  lastUploadAt: number | null;
}

export class WriteBack {
  readonly counters: WriteBackCounters = { uploadedFiles: 0, uploadedBytes: 0, deletes: 0, failures: 0, denied: 0, batches: 0, lastUploadAt: null };
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly dirs: CacheDirs;
  /** Aborts the write-back's own upstream requests (the conflict checks) when it stops. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly core: GatewayCore,
    private readonly upload: BatchUploader,
    private readonly o: WriteBackOptions = {},
  ) {
    this.dirs = core.dirs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort(new Error('the gateway is stopping'));
    this.kick();
    await this.loop;
  }

  /** Something was journaled: look now. */
  kick(): void {
    this.wake?.();
  }

  /** Starts every pending upload now (no backoff wait); resolves with how many are pending. */
  hurry(): { pending: number } {
    this.core.index.retryNow();
    this.kick();
    return { pending: this.core.index.journalStats().pending };
  }

  /**
   * Resolves when every write journaled before the call is in the cloud (or denied by
   * policy, or held as a conflict with the cloud, which no retry changes); with those keys.
   * Failed uploads keep being retried.
   */
  async flush(signal?: AbortSignal): Promise<{ flushedUpTo: number; denied: string[]; conflicts: string[] }> {
    const target = this.core.index.lastSeq();
    this.core.index.retryNow();
    this.kick();
    while (this.core.index.pendingUpTo(target) > 0) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('flush aborted');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    const before = this.core.index.journalRows().filter((j) => j.seq <= target);
    return { flushedUpTo: target, denied: before.filter((j) => j.status === 'denied').map((j) => j.key), conflicts: before.filter((j) => j.status === 'conflict').map((j) => j.key) };
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const rows = this.core.index.due(Date.now(), this.o.batchSize ?? 1000);
      if (rows.length === 0) {
        this.notify();
        await this.sleep(this.o.pollMs ?? 1000);
        continue;
      }
      try {
        await this.batch(rows);
      } catch (err) {
        this.o.onError?.(`write-back batch failed: ${(err as Error).message}`);
        const at = Date.now() + (this.o.backoffMs ?? 1000);
        for (const r of rows) this.core.index.journalFailed(r.key, r.seq, (err as Error).message, at);
      }
      this.notify();
    }
  }

  private backoff(attempts: number): number {
    return Math.min(this.o.maxBackoffMs ?? 5 * 60_000, (this.o.backoffMs ?? 1000) * 2 ** attempts);
  }

  private async batch(rows: readonly JournalRow[]): Promise<void> {
    const outbox = this.dirs.outbox;
    await fsp.rm(outbox, { recursive: true, force: true });
    await fsp.mkdir(outbox, { recursive: true });
    const results = new Map<string, KeyOutcome>();
    const staged = new Set<string>();
    for (const r of rows) {
      if (r.op === 'delete') continue;
      const to = join(outbox, ...r.key.split('/'));
      try {
        await fsp.mkdir(dirname(to), { recursive: true });
        await fsp.link(dataPath(this.dirs, r.key), to);
        staged.add(r.key);
      } catch (err) {
        results.set(r.key, { ok: false, message: `cannot stage ${r.key} for upload: ${(err as Error).message}` });
      }
    }
    const candidates = rows.filter((r) => r.op === 'delete' || staged.has(r.key));
    const { known, settled } = await this.checkConflicts(candidates, (key) => join(outbox, ...key.split('/')), results);
    const go = candidates.filter((r) => !settled.has(r.key) && !results.has(r.key));
    // the run uploads the whole outbox: what is not to go up leaves it
    const going = new Set(go.map((r) => r.key));
    for (const k of staged) if (!going.has(k)) await fsp.rm(join(outbox, ...k.split('/')), { force: true });
    const puts = go.filter((r) => r.op === 'put').map((r) => r.key);
    const deletes = go.filter((r) => r.op === 'delete').map((r) => r.key);
    const uploaded = puts.length + deletes.length > 0 ? await this.upload({ outbox, puts, deletes, known }) : new Map<string, KeyOutcome>();
    for (const [k, v] of uploaded) results.set(k, v);
    let ok = 0;
    let del = 0;
    let failed = 0;
    let denied = 0;
    let bytes = 0;
    const now = Date.now();
    for (const r of rows) {
      if (settled.has(r.key)) continue;
      const res = results.get(r.key) ?? { ok: false, message: 'the upload run reported nothing for this key' };
      if (res.ok) {
        await this.settleUploaded(r);
        if (r.op === 'put') {
          ok++;
          bytes += r.size;
        } else del++;
      } else if (res.denied) {
        this.core.index.journalDenied(r.key, r.seq, res.message);
        denied++;
      } else {
        this.core.index.journalFailed(r.key, r.seq, res.message, now + this.backoff(r.attempts));
        failed++;
      }
    }
    await fsp.rm(outbox, { recursive: true, force: true });
    const c = this.counters;
    c.uploadedFiles += ok;
    c.uploadedBytes += bytes;
    c.deletes += del;
    c.failures += failed;
    c.denied += denied;
    c.batches++;
    if (ok + del > 0) c.lastUploadAt = now;
    this.o.onBatch?.({ uploaded: ok, deleted: del, failed, denied, bytes });
  }

  /**
   * The journal row is in the cloud: done — or, when a newer write of the key came
   * meanwhile, that one is now made over what was just uploaded.
   */
  private async settleUploaded(r: JournalRow): Promise<void> {
    const index = this.core.index;
    const up = r.op === 'put' ? await this.core.upstream.stat(r.key, { signal: this.stopping.signal }).catch(() => undefined) : undefined;
    const now = r.op === 'put' ? (up ? etagOf(up) : null) : '';
    if (index.journalDone(r.key, r.seq)) {
      if (r.op === 'put' && index.entry(r.key)) index.setUpstreamEtag(r.key, now);
    } else if (now !== null) index.journalAdvanceBase(r.key, r.seq, now);
  }

  /**
   * Looks at what the upstream holds for each row (16 at a time; the run reuses it) and
   * settles the rows the cloud changed meanwhile: uploaded anyway when the gateway is the
   * source of truth, given up for the cloud's version (kept aside) when the cloud is, held
   * as a conflict when none is declared. A row whose upstream cannot be looked at waits.
   */
  private async checkConflicts(
    rows: readonly JournalRow[],
    snapshotOf: (key: string) => string,
    results: Map<string, KeyOutcome>,
  ): Promise<{ known: Map<string, Entry | null>; settled: Set<string> }> {
    const known = new Map<string, Entry | null>();
    const settled = new Set<string>();
    await forEachConcurrent(rows, 16, async (r) => {
      try {
        known.set(r.key, (await this.core.upstream.stat(r.key, { signal: this.stopping.signal })) ?? null);
      } catch (err) {
        results.set(r.key, { ok: false, message: `cannot look at the upstream object before uploading over it: ${(err as Error).message}` });
      }
    });
    const stamp = conflictStamp(Date.now());
    for (const r of rows) {
      const up = known.get(r.key);
      if (up === undefined) continue;
      const change = cloudChange(r, up ?? undefined);
      if (!change) continue;
      const truth = this.o.truthOf?.(r.key) ?? {};
      const record = (outcome: ConflictOutcome, kept: string | null): void =>
        this.record({ at: Date.now(), key: r.key, op: r.op, outcome, dataset: truth.dataset ?? null, ssot: truth.ssot ?? null, base: r.base, cloudEtag: change.cloudEtag, localMd5: r.md5, kept, why: change.why });
      if (truth.winner === 'gateway') {
        // uploaded over the cloud's version below; a retry compares with that version, not the old base
        this.core.index.journalOverwrite(r.key, r.seq, change.cloudEtag ?? '');
        record('gateway-won', null);
      } else if (truth.winner === 'cloud') {
        const { kept } = await this.core.adoptCloud(r, up ?? undefined, r.op === 'put' ? snapshotOf(r.key) : undefined, stamp);
        record('cloud-won', kept);
        settled.add(r.key);
      } else {
        this.core.index.journalConflict(r.key, r.seq, `${change.why}; not uploaded: no source of truth is declared for this key (a dataset's ssot), so neither version replaces the other — resolve with: hybridsync gateway resolve ${r.key} --keep gateway|cloud`);
        record('held', null);
        settled.add(r.key);
      }
    }
    return { known, settled };
  }

  private record(c: ConflictRow): void {
    this.core.index.addConflict(c);
    this.o.onConflict?.(c);
  }

  /**
   * Settles a held conflict as someone decided: `gateway` uploads the write over what the
   * cloud holds now; `cloud` keeps the cloud's version and the write aside under conflicts/.
   */
  async resolve(key: string, keep: ConflictWinner): Promise<ConflictRow> {
    const r = this.core.index.journalRow(key);
    if (!r || r.status !== 'conflict') throw new RangeError(`${key} has no conflict to resolve${r ? ` (its write is ${r.status})` : ''}`);
    const up = await this.core.upstream.stat(key);
    const base = up ? etagOf(up) : null;
    const why = `resolved by hand: keep the ${keep === 'gateway' ? "gateway's write" : "cloud's version"}`;
    let kept: string | null = null;
    if (keep === 'gateway') this.core.index.journalRebase(key, r.seq, base ?? '');
    else ({ kept } = await this.core.adoptCloud(r, up, r.op === 'put' ? dataPath(this.dirs, key) : undefined, conflictStamp(Date.now())));
    const c: ConflictRow = { at: Date.now(), key, op: r.op, outcome: keep === 'gateway' ? 'gateway-won' : 'cloud-won', dataset: null, ssot: null, base: r.base, cloudEtag: base, localMd5: r.md5, kept, why };
    this.record(c);
    this.kick();
    return c;
  }
}
