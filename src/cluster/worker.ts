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
import { parseBwTimetable, rateAt } from '../lib/bandwidth.js';
import { deleteKeys } from '../sync/delete.js';
import { deleteRefusal, runSync } from '../sync/execute.js';
import { errorEvent } from '../sync/retrying.js';
import type { RunSummary } from '../sync/events.js';
import { RedisLinkPacer } from './link-pacer.js';
import { QUEUE, RunStore, type ClusterRunMeta, type ShardResult } from './run-store.js';
import type { Shard } from './shards.js';

/** Sets up an engine run of the cluster run's locations and options with this worker's context. */
export type PrepareShardRun = (meta: ClusterRunMeta, mode: 'copy' | 'sync') => Promise<PreparedTransfer>;

export interface ClusterWorkerOptions {
  readonly store: RunStore;
  readonly connection: ConnectionOptions;
  /** Shown in progress and shard results (default host:pid). */
  readonly name: string;
  readonly prepare: PrepareShardRun;
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
  const pacers = new Map<string, RedisLinkPacer>();
  const worker = new Worker(
    QUEUE,
    async (job: Job) => {
      if (job.name === 'barrier') return runBarrier(o, (job.data as { runId: string }).runId);
      return runShard(o, job.data as ShardJob, pacers);
    },
    { connection: o.connection, concurrency: o.concurrency ?? 1, lockDuration, stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)), maxStalledCount: 3, autorun: true },
  );
  worker.on('error', () => undefined); // connection hiccups: BullMQ reconnects
  await new Promise<void>((resolve) => (o.signal.aborted ? resolve() : o.signal.addEventListener('abort', () => resolve(), { once: true })));
  await worker.close();
}

const over = (s: string | undefined): boolean => s === 'done' || s === 'failed' || s === 'cancelled';

async function runShard(o: ClusterWorkerOptions, shard: ShardJob, pacers: Map<string, RedisLinkPacer>): Promise<ShardResult | undefined> {
  const meta = await o.store.meta(shard.runId);
  if (!meta || over(await o.store.status(shard.runId))) return undefined; // the run ended (cancelled): nothing to do
  o.onShard?.('start', shard);
  const prepared = await o.prepare(meta, 'copy');
  const startedAt = Date.now();
  let summary: RunSummary;
  try {
    const range = { ...(shard.startAfter !== undefined ? { startAfter: shard.startAfter } : {}), ...(shard.endAt !== undefined ? { endAt: shard.endAt } : {}) };
    let limiter = pacers.get(meta.runId);
    if (!limiter && meta.bwlimit) pacers.set(meta.runId, (limiter = linkPacer(o.store, meta)));
    summary = await runSync({ ...prepared.run, range, ...(limiter ? { limiter } : {}) });
  } catch (err) {
    o.onShard?.('failed', shard, describeError(err));
    throw err;
  } finally {
    await prepared.close();
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
    await o.store.noteFailing(shard.runId, shard.index, summary.failed);
    o.onShard?.('failed', shard, `${summary.failed} file(s) failed`);
    throw new Error(`shard ${shard.index}: ${summary.failed} file(s) failed (status ${summary.status})`);
  }
  await o.store.recordShard(shard.runId, result);
  o.onShard?.('done', shard, result);
  return result;
}

function linkPacer(store: RunStore, meta: ClusterRunMeta): RedisLinkPacer {
  const slots = parseBwTimetable(meta.bwlimit!);
  return new RedisLinkPacer(store.redis, store.key(meta.runId, 'bucket'), () => rateAt(slots, new Date()));
}

/** After every shard succeeded: the sync's deletions, all or none, as the engine's guard decides. */
async function runBarrier(o: ClusterWorkerOptions, runId: string): Promise<void> {
  const meta = await o.store.meta(runId);
  if (!meta || over(await o.store.status(runId))) return;
  const p = (await o.store.progress(runId))!;
  if (meta.mode !== 'sync' || p.deletesDue === 0) return o.store.finish(runId, 'done');
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
  if (refusal) return o.store.finish(runId, 'failed', refusal);
  await o.store.set(runId, { status: 'deleting' });
  const prepared = await o.prepare(meta, 'sync');
  try {
    const { deleted, failed } = await deleteParked(o.store, runId, prepared);
    await o.store.set(runId, { deleted });
    if (failed > 0) await o.store.finish(runId, 'failed', { message: `${failed} deletion(s) failed at ${meta.dst}`, hint: 'run again: the remaining deletions are retried' });
    else await o.store.finish(runId, 'done');
  } finally {
    await prepared.close();
  }
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
