/**
 * A cluster worker: takes shard jobs and runs each as an ordinary engine run (copy mode,
 * restricted to the shard's key range, the shared cap as its pacer), with the worker's own
 * config, credentials, state database and audit trail. Delivery is at-least-once: a
 * stalled worker's shard is taken again by another worker after its lock expires, and
 * a shard run twice is harmless because the planner re-checks the destination. The
 * barrier job deletes what the coordinator parked, under the --max-delete guard.
 */
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { PreparedTransfer } from '../api/transfer.js';
import { describeError } from '../core/errors.js';
import { resolveTransferOptions } from '../config/options.js';
import { parseBwTimetable, rateAt, type Pacer } from '../lib/bandwidth.js';
import { LANES } from '../ops/governor.js';
import { deleteKeys } from '../sync/delete.js';
import { deleteRefusal, runSync } from '../sync/execute.js';
import { errorEvent } from '../sync/retrying.js';
import type { RunSummary } from '../sync/events.js';
import type { WrittenBatch } from '../governance/audit/log.js';
import { AuditForwarder, registerWorkerAuditKey, type WorkerAuditKey } from './audit-link.js';
import { RedisLinkPacer } from './link-pacer.js';
import { linkKey, queueOf, RunStore, WORKER_HEARTBEAT_MS, type ClusterRunMeta, type ShardResult } from './run-store.js';
import type { Shard } from './shards.js';

/**
 * Sets up an engine run of the cluster run's locations and options with this worker's
 * context; `onAuditBatch` receives each batch of the run's audit trail (to forward).
 */
export type PrepareShardRun = (meta: ClusterRunMeta, mode: 'copy' | 'sync', onAuditBatch?: (batch: WrittenBatch) => void) => Promise<PreparedTransfer>;

export interface ClusterWorkerOptions {
  readonly store: RunStore;
  readonly connection: ConnectionOptions;
  /** Shown in progress and shard results (default host:pid). */
  readonly name: string;
  readonly prepare: PrepareShardRun;
  /** The public key of this worker's audit trail, registered for coordinators to verify its forwarded records with. */
  readonly auditKey?: WorkerAuditKey;
  /** Shards run at once by this worker (each with the engine's own transfer pool). */
  readonly concurrency?: number;
  /**
   * How long a shard's lock lasts without renewal: a worker that dies holding a shard
   * gives it up after this (BullMQ's stalled-job check runs as often), default 30 s.
   */
  readonly lockDurationMs?: number;
  /** Stops taking shards; the ones running finish first. */
  readonly signal: AbortSignal;
  readonly onShard?: (what: 'start' | 'done' | 'failed', shard: Shard & { runId: string }, detail?: ShardResult | string) => void;
}

type ShardJob = Shard & { readonly runId: string };

/** Runs until the signal fires, then waits for the shards in progress. */
export async function runWorker(o: ClusterWorkerOptions): Promise<void> {
  const lockDuration = o.lockDurationMs ?? 30_000;
  // one pacer per run for all of this worker's shards: a lease outlives the shard it began in
  const pacers = new Map<string, Pacer | undefined>();
  // a BullMQ worker per lane, each with its own slots: a bulk run's shards never hold up a metadata run's
  const workers = LANES.map(
    (lane) =>
      new Worker(
        queueOf(lane),
        async (job: Job) => {
          if (job.name === 'barrier') return runBarrier(o, (job.data as { runId: string }).runId);
          return runShard(o, job.data as ShardJob, pacers);
        },
        { connection: o.connection, concurrency: o.concurrency ?? 1, lockDuration, stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)), maxStalledCount: 3, autorun: true },
      ),
  );
  for (const w of workers) w.on('error', () => undefined); // connection hiccups: BullMQ reconnects
  // alive while it beats: progress shows only shards on live workers
  const beat = (): Promise<void> => o.store.heartbeat(o.name).catch(() => undefined);
  if (o.auditKey) await registerWorkerAuditKey(o.store, o.name, o.auditKey);
  await beat();
  const beating = setInterval(() => void beat(), WORKER_HEARTBEAT_MS);
  try {
    await new Promise<void>((resolve) => (o.signal.aborted ? resolve() : o.signal.addEventListener('abort', () => resolve(), { once: true })));
    await Promise.all(workers.map((w) => w.close()));
  } finally {
    clearInterval(beating);
    await o.store.leave(o.name).catch(() => undefined);
  }
}

const over = (s: string | undefined): boolean => s === 'done' || s === 'failed' || s === 'cancelled';

async function runShard(o: ClusterWorkerOptions, shard: ShardJob, pacers: Map<string, Pacer | undefined>): Promise<ShardResult | undefined> {
  const meta = await o.store.meta(shard.runId);
  if (!meta || over(await o.store.status(shard.runId))) return undefined; // the run ended (cancelled): nothing to do
  o.onShard?.('start', shard);
  await o.store.shardStarted(shard.runId, shard.index, o.name);
  try {
    return await runShardAttempt(o, shard, meta, pacers);
  } finally {
    await o.store.shardEnded(shard.runId, shard.index, o.name).catch(() => undefined);
  }
}

async function runShardAttempt(o: ClusterWorkerOptions, shard: ShardJob, meta: ClusterRunMeta, pacers: Map<string, Pacer | undefined>): Promise<ShardResult> {
  const forwarder = meta.auditCollected ? new AuditForwarder(o.store, meta.runId, o.name, shard.index) : undefined;
  const prepared = await o.prepare(meta, 'copy', forwarder?.onBatch);
  const auditing = prepared.audit !== undefined;
  const startedAt = Date.now();
  let summary: RunSummary;
  let firstError: string | undefined;
  try {
    const range = { ...(shard.startAfter !== undefined ? { startAfter: shard.startAfter } : {}), ...(shard.endAt !== undefined ? { endAt: shard.endAt } : {}) };
    if (!pacers.has(meta.runId)) pacers.set(meta.runId, runPacer(o.store, meta));
    const limiter = pacers.get(meta.runId);
    const onEvent = prepared.run.onEvent;
    summary = await runSync({
      ...prepared.run,
      range,
      ...(limiter ? { limiter } : {}),
      onEvent: (e) => {
        if (e.type === 'error' && firstError === undefined) firstError = `${e.key ? `${e.key}: ` : ''}${e.message}`;
        onEvent?.(e);
      },
    });
  } catch (err) {
    o.onShard?.('failed', shard, describeError(err));
    throw err;
  } finally {
    await prepared.close(); // the audit trail's last batch (the run's end, signed) is written here
    await forwarder?.settle().catch(() => undefined);
  }
  const result: ShardResult = {
    index: shard.index,
    worker: o.name,
    startedAt,
    endedAt: Date.now(),
    status: summary.status,
    transferred: summary.transferred,
    bytes: summary.bytes,
    skipped: summary.skipped,
    failed: summary.failed,
    denied: summary.denied,
    differences: summary.differences,
  };
  if (summary.status === 'failed' || summary.status === 'aborted') {
    // another attempt (here or on another worker) retries the files that failed
    await o.store.noteFailing(shard.runId, shard.index, summary.failed, firstError);
    const why = `${summary.failed} file(s) failed${firstError ? `, first: ${firstError}` : ''}`;
    o.onShard?.('failed', shard, why);
    throw new Error(`shard ${shard.index}: ${why}`);
  }
  // what this attempt forwarded, before the shard counts as done (the coordinator checks it arrived)
  await forwarder?.claim(auditing);
  await o.store.recordShard(shard.runId, result);
  o.onShard?.('done', shard, result);
  return result;
}

/**
 * What paces a run's bytes on this worker: the run's own cap (--bwlimit, a bucket of the
 * run's) and then its link's lane (a bucket shared with every run on the link), or none.
 */
function runPacer(store: RunStore, meta: ClusterRunMeta): Pacer | undefined {
  const lane = meta.lane ?? 'bulk';
  const runKey = store.key(meta.runId);
  const stages: RedisLinkPacer[] = [];
  if (meta.bwlimit) {
    const slots = parseBwTimetable(meta.bwlimit);
    stages.push(new RedisLinkPacer(store.redis, { key: store.key(meta.runId, 'bucket'), runKey, countForRun: !meta.link, rate: () => rateAt(slots, new Date()), lane, weights: { [lane]: 1 } }));
  }
  if (meta.link) {
    const link = meta.link;
    stages.push(new RedisLinkPacer(store.redis, { key: linkKey(link.name), runKey, countForRun: true, rate: () => link.bytesPerSecond, lane, weights: link.weights }));
  }
  if (stages.length <= 1) return stages[0];
  return {
    take: async (bytes, signal) => {
      for (const s of stages) await s.take(bytes, signal);
    },
  };
}

/** After every shard succeeded: the sync's deletions, all or none, as the engine's guard decides. */
async function runBarrier(o: ClusterWorkerOptions, runId: string): Promise<void> {
  const meta = await o.store.meta(runId);
  if (!meta || over(await o.store.status(runId))) return;
  const p = (await o.store.progress(runId))!;
  if (meta.mode !== 'sync' || p.deletesDue === 0) {
    await o.store.setBarrier(runId, 'done');
    return o.store.finish(runId, 'done');
  }
  const options = resolveTransferOptions(meta.options);
  const refusal = deleteRefusal({
    due: p.deletesDue,
    srcSeen: p.listed.srcFiles,
    dstSeen: p.listed.dstFiles,
    src: meta.src,
    dst: meta.dst,
    maxDelete: options.maxDelete,
    allowEmptySource: options.allowEmptySource,
  });
  if (refusal) {
    await o.store.setBarrier(runId, 'refused');
    return o.store.finish(runId, 'failed', refusal);
  }
  await o.store.set(runId, { status: 'deleting', barrier: 'deleting' });
  const forwarder = meta.auditCollected ? new AuditForwarder(o.store, runId, o.name, 'barrier') : undefined;
  const prepared = await o.prepare(meta, 'sync', forwarder?.onBatch);
  const auditing = prepared.audit !== undefined;
  let outcome: { deleted: number; failed: number };
  try {
    outcome = await deleteParked(o.store, runId, prepared);
  } finally {
    await prepared.close();
    await forwarder?.settle().catch(() => undefined);
  }
  const { deleted, failed } = outcome;
  // the deletions' audit records reach Redis before the run ends: the coordinator then closes its trail
  await forwarder?.claim(auditing);
  await o.store.set(runId, { deleted, barrier: failed > 0 ? 'failed' : 'done' });
  if (failed > 0) await o.store.finish(runId, 'failed', { message: `${failed} deletion(s) failed at ${meta.dst}`, hint: 'run again: the remaining deletions are retried' });
  else await o.store.finish(runId, 'done');
}

/** Deletes the parked keys as one audited engine-style run (run-start, delete events, summary). */
async function deleteParked(store: RunStore, runId: string, prepared: PreparedTransfer): Promise<{ deleted: number; failed: number }> {
  const { run, dst, src } = prepared;
  const emit = run.onEvent ?? (() => undefined);
  const state = run.state;
  const localRun = state.startRun('sync', src.location.id, dst.location.id);
  const started = Date.now();
  emit({ type: 'run-start', runId: localRun, mode: 'sync', src: src.uri, dst: dst.uri, dryRun: !!run.dryRun });
  let deleted = 0;
  let failed = 0;
  if (run.dryRun) {
    for await (const key of store.deletes(runId)) {
      deleted++;
      emit({ type: 'plan', action: 'delete', key });
    }
  } else {
    // in batches where the destination takes them (S3 DeleteObjects), each key's outcome on its own
    await deleteKeys({
      dst,
      keys: store.deletes(runId),
      concurrency: run.checkers ?? 16,
      retries: run.retries ?? 3,
      ...(run.signal ? { signal: run.signal } : {}),
      onDeleted: (key) => {
        state.forgetObject(dst.location.id, key);
        state.forgetDerived(dst.location.id, key);
        deleted++;
        emit({ type: 'delete', key });
      },
      onFailed: (key, err) => {
        if (run.signal?.aborted) throw err;
        failed++;
        emit(errorEvent(key, err));
      },
      onRetry: (key, err, attempt) => emit({ type: 'retry', key: key ?? '(batch deletion)', what: 'delete', attempt, message: describeError(err) }),
    });
  }
  const summary: RunSummary = {
    runId: localRun,
    mode: 'sync',
    dryRun: !!run.dryRun,
    src: src.uri,
    dst: dst.uri,
    transferred: 0,
    bytes: 0,
    bytesResumed: 0,
    serverSideCopies: 0,
    skipped: 0,
    deleted,
    failed,
    denied: 0,
    deniedKnown: 0,
    derived: 0,
    differences: 0,
    checks: 0,
    retries: 0,
    durationMs: Date.now() - started,
    rate: 0,
    deletesHeldBack: 0,
    status: failed > 0 ? 'failed' : 'ok',
  };
  state.endRun(localRun, summary.status, summary);
  emit({ type: 'summary', summary });
  return { deleted, failed };
}
