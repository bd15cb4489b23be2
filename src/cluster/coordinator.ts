/**
 * The coordinator of a cluster run: lists both sides with the engine's march (several key
 * ranges at once with listParallel), cuts shards and enqueues them as children of the
 * barrier job while the listing is still going (the barrier waits on a gate child that is
 * released when the listing ends), parks the deletions for the barrier, then follows the
 * run until the barrier has finished. With an audit collector, it merges the workers'
 * forwarded audit records into its own trail while it waits, and checks them at the end
 * (audit-link.ts): a contribution that is missing or does not verify fails the run.
 */
import { FlowProducer, Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Backend } from '../core/backend.js';
import type { Filter } from '../sync/filter.js';
import { sleep } from '../lib/abort.js';
import type { AuditCollector } from './audit-link.js';
import { listInShards } from './listing.js';
import type { ListingTally, Shard, ShardLimits } from './shards.js';
import { QUEUE, queueOf, RunStore, type ClusterProgress, type ClusterRunMeta } from './run-store.js';

export interface CoordinateOptions {
  readonly store: RunStore;
  readonly connection: ConnectionOptions;
  readonly meta: ClusterRunMeta;
  readonly src: Backend;
  readonly dst: Backend;
  readonly filter?: Filter;
  readonly dryRun: boolean;
  /** The destination may be missing (a directory, or a bucket this run creates): it lists as empty. */
  readonly allowMissingDst: boolean;
  readonly limits: ShardLimits;
  /**
   * Key ranges listed at once (default 1): the key space is split at directories of either
   * side (ranges.ts) and each range's march of both listings runs on its own.
   */
  readonly listParallel?: number;
  /** Attempts of a shard before the run fails (a stalled worker's shard counts as one). */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ClusterProgress) => void;
  readonly pollMs?: number;
  /** Merges the workers' audit records into the coordinator's trail (meta.auditCollected tells workers to forward them). */
  readonly audit?: AuditCollector;
}

export const barrierJobId = (runId: string): string => `${runId}-barrier`;
export const shardJobId = (runId: string, index: number): string => `${runId}-shard-${index}`;
const gateQueue = (runId: string): string => `${QUEUE}-gate-${runId}`;

/** Lists, enqueues, waits; resolves with the run's final progress. */
export async function coordinate(o: CoordinateOptions): Promise<ClusterProgress> {
  const { store, meta } = o;
  const runId = meta.runId;
  await store.create(meta, o.dryRun);
  o.audit?.start(meta, o.dryRun);
  const flows = new FlowProducer({ connection: o.connection });
  const queueName = queueOf(meta.lane ?? 'bulk');
  const queue = new Queue(queueName, { connection: o.connection });
  try {
    const tree = await flows.add({
      name: 'barrier',
      queueName,
      data: { runId },
      opts: { jobId: barrierJobId(runId), attempts: o.attempts ?? 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 7 * 86400 } },
      // no worker takes jobs from the gate queue: its one job holds the barrier until the listing is complete
      children: [{ name: 'listing', queueName: gateQueue(runId), data: { runId }, opts: { jobId: `${runId}-listing` } }],
    });
    const gate = tree.children?.[0]?.job;
    try {
      await enqueueShards(o, queue, tree.job.queueQualifiedName);
    } catch (err) {
      await store.finish(runId, o.signal?.aborted ? 'cancelled' : 'failed', { message: `listing failed: ${(err as Error).message}` });
      await queue.remove(barrierJobId(runId), { removeChildren: true }).catch(() => undefined);
      throw err;
    }
    await store.set(runId, { status: 'running' });
    await gate?.removeChildDependency();
    await gate?.remove().catch(() => undefined);
    const progress = await follow(o, queue);
    if (!o.audit) return progress;
    await store.setAudit(runId, await o.audit.finish(progress));
    return (await store.progress(runId))!;
  } finally {
    await Promise.allSettled([flows.close(), queue.close()]);
  }
}

async function enqueueShards(o: CoordinateOptions, queue: Queue, parentQueue: string): Promise<void> {
  const { store, meta } = o;
  const runId = meta.runId;
  const tally: ListingTally = { srcFiles: 0, srcBytes: 0, dstFiles: 0 };
  const jobOpts: JobsOptions = {
    parent: { id: barrierJobId(runId), queue: parentQueue },
    failParentOnFailure: true,
    attempts: o.attempts ?? 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 7 * 86400 },
    removeOnFail: { age: 7 * 86400 },
  };
  let shards = 0;
  let deletesDue = 0;
  let deletes: string[] = [];
  const park = async (): Promise<void> => {
    const batch = deletes;
    deletes = [];
    await store.addDeletes(runId, batch);
  };
  const enqueue = async (shard: Shard): Promise<void> => {
    await queue.add('shard', { runId, ...shard }, { ...jobOpts, jobId: shardJobId(runId, shard.index) });
    await o.audit?.drainSometimes();
    shards++;
    await store.set(runId, { shards, srcFiles: tally.srcFiles, srcBytes: tally.srcBytes, dstFiles: tally.dstFiles });
  };
  const cut = await listInShards(
    {
      src: o.src,
      dst: o.dst,
      mode: meta.mode,
      ...(o.filter ? { filter: o.filter } : {}),
      limits: o.limits,
      parallel: o.listParallel ?? 1,
      allowMissingDst: o.allowMissingDst,
      tally,
      ...(o.signal ? { signal: o.signal } : {}),
      onRanges: (ranges) => store.set(runId, { ranges }),
    },
    async (ev) => {
      if (ev.kind === 'shard') return enqueue(ev.shard);
      deletes.push(ev.key);
      deletesDue++;
      if (deletes.length >= 1000) await park();
    },
  );
  // an empty source still gets one shard: the run is a no-op per shard, then the barrier
  if (shards === 0) await enqueue({ index: cut, files: 0, bytes: 0 });
  await park();
  await store.set(runId, { shards, srcFiles: tally.srcFiles, srcBytes: tally.srcBytes, dstFiles: tally.dstFiles, deletesDue, listedAt: Date.now() });
}

/** Waits for the barrier: the run's outcome is written by it, or here when a shard failed for good. */
async function follow(o: CoordinateOptions, queue: Queue): Promise<ClusterProgress> {
  const runId = o.meta.runId;
  for (;;) {
    await o.audit?.drain();
    const progress = (await o.store.progress(runId))!;
    o.onProgress?.(progress);
    if (progress.status === 'done' || progress.status === 'failed' || progress.status === 'cancelled') return progress;
    const state = await queue.getJobState(barrierJobId(runId));
    if (state === 'failed') {
      const failure = (await o.store.failures(runId))[0];
      const job = failure ? undefined : await queue.getJob(barrierJobId(runId));
      const what = failure ? `shard ${failure.shard} failed after every attempt (${failure.files} file(s)${failure.error ? `; first: ${failure.error}` : ''})` : `a shard failed after every attempt: ${job?.failedReason ?? 'unknown reason'}`;
      await o.store.finish(runId, 'failed', {
        message: `${what}; nothing was deleted`,
        hint: 'see the workers’ output for the failed files, fix the cause and run again (finished files are skipped)',
      });
    } else if (state === 'completed') {
      await o.store.finish(runId, 'done'); // the barrier's own outcome stands if it wrote one
    } else if (o.signal?.aborted) {
      await o.store.finish(runId, 'cancelled', { message: 'the coordinator was stopped; workers skip the remaining shards' });
      await queue.remove(barrierJobId(runId), { removeChildren: true }).catch(() => undefined);
    } else {
      await sleep(o.pollMs ?? 500).catch(() => undefined);
    }
  }
}
