/**
 * The audit link of a cluster run: every worker keeps its own signed audit trail, and in
 * addition forwards each batch of it that a shard (or the barrier) writes to the
 * coordinator through a Redis Stream of the run — the batch's exact lines, the Merkle
 * frontier of the worker's log before them, and the signed checkpoint that ends every
 * forwarded batch. The coordinator checks each batch against the public key the worker
 * registered when it started (audit/forwarded.ts), appends its records to its own trail
 * naming the worker and the record's place in the worker's trail (log id, seq, hash), and
 * at the end compares what each successful shard attempt says it forwarded with what
 * arrived, then writes one `cluster-run` record listing every worker and whether its
 * contribution verified. A shard run twice forwards twice: both are kept, neither is
 * missing. The stream is memory-flat at both ends: workers add one entry per batch (at
 * most 1,024 records), the coordinator reads a few entries at a time and deletes them.
 */
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import type { AuditLog, WrittenBatch } from '../governance/audit/log.js';
import { checkForwardedBatch } from '../governance/audit/forwarded.js';
import { actor } from '../governance/audit/recorder.js';
import type { ClusterProgress, ClusterRunMeta, RunStore } from './run-store.js';

/** The public half of a worker's audit signing key, registered in Redis when the worker starts. */
export interface WorkerAuditKey {
  readonly keyId: string;
  readonly publicKeyPem: string;
}

/** What one successful shard attempt (or barrier) forwarded, as its worker counted it. */
export interface AuditClaim {
  readonly attempt: string;
  readonly worker: string;
  readonly shard: number | 'barrier';
  /** The worker keeps an audit trail (false: audit.enabled is false in its config). */
  readonly auditing: boolean;
  readonly records: number;
  readonly batches: number;
}

/** One worker's contribution to the coordinator's trail, as the closing record lists it. */
export interface ClusterAuditWorker {
  readonly worker: string;
  readonly keyId?: string;
  readonly logId?: string;
  readonly records: number;
  readonly batches: number;
  /** The last checkpoint of the worker's trail that arrived. */
  readonly checkpoint?: { readonly treeSize: number; readonly root: string };
  readonly verified: boolean;
  readonly problem?: string;
}

export interface ClusterAuditOutcome {
  readonly verified: boolean;
  /** Worker records appended to the coordinator's trail (duplicates of a shard run twice included). */
  readonly records: number;
  readonly workers: readonly ClusterAuditWorker[];
  /** The first problem, naming its worker. */
  readonly problem?: string;
}

const KEYS = 'hybridsync:cluster:audit-keys';
const STREAM_TTL_S = 7 * 86400;
const HEADER = /^\{"seq":\d+,"time":"[^"]*","prev":"[0-9a-f]{64}","type":"([^"\\]*)"/;

const streamKey = (store: RunStore, runId: string): string => `${store.key(runId)}:audit`;
const claimsKey = (store: RunStore, runId: string): string => `${store.key(runId)}:audit-claims`;

/** Registers (or replaces) the worker's public key: the coordinator verifies its checkpoints with it. */
export async function registerWorkerAuditKey(store: RunStore, worker: string, key: WorkerAuditKey): Promise<void> {
  await store.redis.hset(KEYS, worker, JSON.stringify(key));
}

/** Counts, and forwards to the run's stream, the audit batches of one shard attempt on a worker. */
export class AuditForwarder {
  readonly attempt: string;
  private records = 0;
  private batches = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private failure: Error | undefined;

  constructor(
    private readonly store: RunStore,
    private readonly runId: string,
    private readonly worker: string,
    private readonly shard: number | 'barrier',
  ) {
    this.attempt = `${worker}/${String(shard)}/${randomUUID()}`;
  }

  /** For AuditLogOptions.onBatch: sends the batch, never throws (a failed send fails settle()). */
  readonly onBatch = (b: WrittenBatch): void => {
    for (const line of b.lines) {
      const type = HEADER.exec(line)?.[1];
      if (type !== 'checkpoint' && type !== 'log-start') this.records++;
    }
    this.batches++;
    const key = streamKey(this.store, this.runId);
    const sent = this.store.redis
      .multi()
      .xadd(key, '*', 'worker', this.worker, 'attempt', this.attempt, 'shard', String(this.shard), 'logId', b.logId, 'size', String(b.size), 'frontier', b.frontier.join(','), 'lines', b.lines.join('\n'))
      .expire(key, STREAM_TTL_S)
      .exec()
      .then((res) => {
        const err = res?.find(([e]) => e)?.[0];
        if (err) throw err;
      })
      .catch((err: unknown) => {
        this.failure ??= new Error(`could not forward audit records to the coordinator: ${(err as Error).message}`, { cause: err });
      })
      .finally(() => this.inflight.delete(sent));
    this.inflight.add(sent);
  };

  /** Waits for every batch to reach Redis; throws when one did not (the attempt then fails and is retried). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    if (this.failure) throw this.failure;
  }

  /** What this attempt forwarded, recorded for the coordinator's end-of-run check (after settle()). */
  async claim(auditing: boolean): Promise<AuditClaim> {
    await this.settle();
    const claim: AuditClaim = { attempt: this.attempt, worker: this.worker, shard: this.shard, auditing, records: this.records, batches: this.batches };
    await this.store.redis.hset(claimsKey(this.store, this.runId), this.attempt, JSON.stringify(claim));
    return claim;
  }
}

interface WorkerTally {
  keyId?: string;
  logId?: string;
  records: number;
  batches: number;
  checkpoint?: { treeSize: number; root: string };
  problem?: string;
}

/** The coordinator's end: verifies forwarded batches into its own trail, and closes the run's audit. */
export class AuditCollector {
  private lastId = '0-0';
  private readonly keys = new Map<string, { keyId: string; key: KeyObject }>();
  private readonly workers = new Map<string, WorkerTally>();
  /** Records and batches that arrived verified, per shard attempt. */
  private readonly received = new Map<string, { records: number; batches: number }>();
  private records = 0;
  private lastDrain = 0;

  constructor(
    private readonly store: RunStore,
    private readonly runId: string,
    private readonly log: AuditLog,
  ) {}

  /** The coordinator's record of the run's start: who started what. */
  start(meta: ClusterRunMeta, dryRun: boolean): void {
    this.log.append({ type: 'cluster-start', clusterRun: this.runId, mode: meta.mode, dryRun, src: meta.src, dst: meta.dst, lane: meta.lane ?? 'bulk', ...actor(), tool: 'hybridsync' });
  }

  /** Like drain(), at most about once a second (called while the listing enqueues shards). */
  async drainSometimes(): Promise<void> {
    if (Date.now() - this.lastDrain >= 1000) await this.drain();
  }

  /** Reads, checks and records every forwarded batch that has arrived, a few at a time. */
  async drain(): Promise<void> {
    this.lastDrain = Date.now();
    const key = streamKey(this.store, this.runId);
    for (;;) {
      const res = await this.store.redis.xread('COUNT', 8, 'STREAMS', key, this.lastId);
      const entries = res?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      for (const [id, flat] of entries) {
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
        await this.take(f);
        this.lastId = id;
      }
      await this.store.redis.xdel(key, ...entries.map(([id]) => id));
    }
  }

  private tally(worker: string): WorkerTally {
    let t = this.workers.get(worker);
    if (!t) this.workers.set(worker, (t = { records: 0, batches: 0 }));
    return t;
  }

  /** The worker's registered key; looked up again when a batch names another key (a worker restarted with a new one). */
  private async keyOf(worker: string, keyId: string | undefined): Promise<{ keyId: string; key: KeyObject } | undefined> {
    const cached = this.keys.get(worker);
    if (cached && (keyId === undefined || cached.keyId === keyId)) return cached;
    const raw = await this.store.redis.hget(KEYS, worker);
    if (!raw) return cached;
    try {
      const k = JSON.parse(raw) as WorkerAuditKey;
      const entry = { keyId: k.keyId, key: createPublicKey(k.publicKeyPem) };
      this.keys.set(worker, entry);
      return entry;
    } catch {
      return cached;
    }
  }

  private reject(worker: string, f: Record<string, string | undefined>, problem: string): void {
    const t = this.tally(worker);
    t.problem ??= problem;
    this.log.append({ type: 'cluster-audit-rejected', clusterRun: this.runId, worker, shard: f.shard ?? '?', attempt: f.attempt ?? '?', logId: f.logId ?? '?', problem });
  }

  private async take(f: Record<string, string | undefined>): Promise<void> {
    const worker = f.worker ?? '(unnamed worker)';
    const lines = f.lines === undefined ? [] : f.lines.split('\n');
    const batch: WrittenBatch = { logId: f.logId ?? '', size: Number(f.size), frontier: f.frontier ? f.frontier.split(',') : [], lines };
    const claimedKey = /"type":"checkpoint".*"keyId":"([^"]+)"/.exec(lines[lines.length - 1] ?? '')?.[1];
    const key = await this.keyOf(worker, claimedKey);
    if (!key) return this.reject(worker, f, `worker ${worker} registered no audit key on this Redis, so its records cannot be verified`);
    if (!Number.isInteger(batch.size) || batch.size < 0) return this.reject(worker, f, `worker ${worker}: a forwarded batch has no valid position in its log`);
    const check = checkForwardedBatch(batch, key.key);
    if (!check.ok) return this.reject(worker, f, `worker ${worker}: ${check.problem}`);
    const t = this.tally(worker);
    t.keyId = key.keyId;
    t.logId = batch.logId;
    for (const r of check.records) {
      const { seq, time, prev: _prev, hash, ...body } = r;
      this.log.append({ ...body, clusterRun: this.runId, worker, workerLogId: batch.logId, workerSeq: seq, workerTime: time, workerHash: hash });
    }
    const cp = check.checkpoint;
    this.log.append({ type: 'worker-checkpoint', clusterRun: this.runId, worker, logId: cp.logId, treeSize: cp.treeSize, root: cp.root, checkpointTime: cp.time, keyId: cp.keyId, sig: cp.sig });
    if (!t.checkpoint || cp.treeSize > t.checkpoint.treeSize) t.checkpoint = { treeSize: cp.treeSize, root: cp.root };
    t.records += check.records.length;
    t.batches++;
    this.records += check.records.length;
    const got = this.received.get(f.attempt ?? '') ?? { records: 0, batches: 0 };
    this.received.set(f.attempt ?? '', { records: got.records + check.records.length, batches: got.batches + 1 });
  }

  /**
   * At the end of the run: every shard that succeeded has a successful attempt whose
   * records all arrived and verified, and no batch was rejected. Writes the closing
   * `cluster-run` record (signed at once) and returns the outcome.
   */
  async finish(progress: ClusterProgress): Promise<ClusterAuditOutcome> {
    // the claims first: an attempt's batches are in the stream before its claim is
    const claims = Object.values(await this.store.redis.hgetall(claimsKey(this.store, this.runId))).map((v) => JSON.parse(v) as AuditClaim);
    await this.drain();
    const shardsDone = Object.entries(await this.store.redis.hgetall(this.store.key(this.runId, 'shards'))).map(([i, v]) => ({ index: Number(i), worker: (JSON.parse(v) as { worker: string }).worker }));
    const claimed = new Set<number | 'barrier'>();
    for (const c of claims) {
      const t = this.tally(c.worker);
      const got = this.received.get(c.attempt) ?? { records: 0, batches: 0 };
      const what = c.shard === 'barrier' ? 'the barrier' : `shard ${c.shard}`;
      if (!c.auditing) t.problem ??= `worker ${c.worker} keeps no audit trail (audit.enabled is false in its config), so ${what} is not recorded`;
      else if (got.records < c.records || got.batches < c.batches) t.problem ??= `worker ${c.worker}: ${got.records} of the ${c.records} audit records of ${what} arrived verified`;
      else claimed.add(c.shard);
    }
    for (const s of shardsDone) {
      if (!claimed.has(s.index)) this.tally(s.worker).problem ??= `worker ${s.worker}: no verified audit records for shard ${s.index}`;
    }
    const workers: ClusterAuditWorker[] = [...this.workers.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([worker, t]) => ({
        worker,
        ...(t.keyId ? { keyId: t.keyId } : {}),
        ...(t.logId ? { logId: t.logId } : {}),
        records: t.records,
        batches: t.batches,
        ...(t.checkpoint ? { checkpoint: t.checkpoint } : {}),
        verified: !t.problem,
        ...(t.problem ? { problem: t.problem } : {}),
      }));
    const problem = workers.find((w) => w.problem)?.problem;
    const outcome: ClusterAuditOutcome = { verified: !problem, records: this.records, workers, ...(problem ? { problem } : {}) };
    this.log.append({
      type: 'cluster-run',
      clusterRun: this.runId,
      status: progress.status,
      shards: progress.shards,
      shardsDone: shardsDone.length,
      shardRuns: progress.shardRuns,
      transferred: progress.transferred,
      deleted: progress.deleted,
      verified: outcome.verified,
      records: outcome.records,
      workers,
      ...(problem ? { problem } : {}),
    });
    this.log.flush({ checkpoint: true });
    return outcome;
  }
}
