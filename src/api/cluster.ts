/**
 * Cluster runs as a library: `clusterRun` (the coordinator), `clusterWorker` (any number
 * of them, on any machines that reach Redis and both locations) and `clusterStatus`.
 * Workers resolve SRC and DST with their own config, flags and credentials: only the
 * location specs and transfer options travel through Redis.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConfigError, UsageError } from '../core/errors.js';
import { loadConfig } from '../config/load.js';
import { linkBytesPerSecond } from '../ops/jobs.js';
import { DEFAULT_LANE_WEIGHTS, LANES, type Lane } from '../ops/governor.js';
import { resolveTransferOptions, type TransferOptions } from '../config/options.js';
import { BandwidthLimiter } from '../lib/bandwidth.js';
import { parseSize } from '../lib/units.js';
import { coordinate } from '../cluster/coordinator.js';
import { AuditCollector, type WorkerAuditKey } from '../cluster/audit-link.js';
import { auditPaths } from '../governance/audit/setup.js';
import { loadOrCreateSigner } from '../governance/audit/signing.js';
import { defaultStatePath } from '../sync/state.js';
import { connectRedis } from '../cluster/redis.js';
import { RunStore, type ClusterLink, type ClusterProgress } from '../cluster/run-store.js';
import { DEFAULT_SHARD_LIMITS, type Shard } from '../cluster/shards.js';
import { runWorker, type PrepareShardRun } from '../cluster/worker.js';
import type { ShardResult } from '../cluster/run-store.js';
import { prepareTransfer, type RunContext } from './transfer.js';
import type { SyncEvent } from '../sync/events.js';

export type { ClusterProgress, ShardResult, Shard };

export interface ClusterRunRequest extends RunContext {
  readonly src: string;
  readonly dst: string;
  /** redis://host:port (rediss:// for TLS). */
  readonly redis: string;
  /** sync (default: deletions in the barrier, after every shard) or copy. */
  readonly mode?: 'sync' | 'copy';
  /**
   * A link declared under `links:` in the config: its capacity is one cap shared through
   * Redis by every run that names it, split among the runs' lanes by the link's weights.
   */
  readonly link?: string;
  /** The run's lane (default bulk): its share of the link, and its own queue of shards. */
  readonly lane?: Lane;
  /** Transfer options as for sync; `bwlimit` is the cap for all workers together. */
  readonly options?: Partial<TransferOptions> | Readonly<Record<string, unknown>>;
  /** A shard is cut at this many files (default 5000) … */
  readonly shardFiles?: number;
  /** … or at this many bytes (default 8 GiB), whichever comes first. */
  readonly shardBytes?: number | string;
  /**
   * Key ranges of both sides listed at once (default 1: one stream): the key space is split
   * at the directories either side's delimiter listing shows (S3). For stores far away,
   * where each listing request waits on the network; on a store that is busy itself it
   * only adds requests (docs/scale.md has the measurement).
   */
  readonly listParallel?: number;
  /** Default: a new id (time + random). */
  readonly runId?: string;
  readonly onProgress?: (p: ClusterProgress) => void;
}

function connectionOf(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null };
}

async function withStore<T>(url: string, fn: (store: RunStore, redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectRedis(url);
  try {
    return await fn(new RunStore(redis), redis);
  } finally {
    redis.disconnect();
  }
}

function shardLimitsOf(req: ClusterRunRequest): { maxFiles: number; maxBytes: number } {
  const maxFiles = req.shardFiles ?? DEFAULT_SHARD_LIMITS.maxFiles;
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw new UsageError(`--shard-files must be a whole number >= 1, got "${String(req.shardFiles)}"`);
  let maxBytes = DEFAULT_SHARD_LIMITS.maxBytes;
  if (req.shardBytes !== undefined) {
    try {
      maxBytes = typeof req.shardBytes === 'number' ? req.shardBytes : parseSize(req.shardBytes);
    } catch (e) {
      throw new UsageError(`--shard-size: ${(e as Error).message}`, { hint: 'use forms like 512M or 8G' });
    }
    if (!(maxBytes > 0)) throw new UsageError(`--shard-size must be above 0, got "${String(req.shardBytes)}"`);
  }
  return { maxFiles, maxBytes };
}

/** The lane as given (default bulk), refused when it is none of the link governor's. */
function laneOf(req: ClusterRunRequest): Lane {
  const lane = req.lane ?? 'bulk';
  if (!LANES.includes(lane)) throw new UsageError(`--lane ${String(lane)}: not a lane`, { hint: `use one of ${LANES.join(', ')} (highest priority first)` });
  return lane;
}

/** The declared link a run crosses, with its capacity and lane weights, from the coordinator's config. */
function linkOf(req: ClusterRunRequest): ClusterLink | undefined {
  if (req.link === undefined) return undefined;
  const loaded = typeof req.config === 'object' ? req.config : loadConfig(req.config, req.env ?? process.env);
  const links = loaded.config?.links ?? [];
  const l = links.find((x) => x.name === req.link);
  if (!l) {
    const where = loaded.file ?? 'the config (none found: --config FILE, $HYBRIDSYNC_CONFIG or ./hybridsync.yaml)';
    throw new ConfigError(`--link ${req.link}: no such link in ${where}`, {
      hint: links.length ? `declared links: ${links.map((x) => x.name).join(', ')}` : 'declare it under links: with a name and a capacity, e.g. 10Gbps',
    });
  }
  return { name: l.name, bytesPerSecond: linkBytesPerSecond(l), weights: { ...DEFAULT_LANE_WEIGHTS, ...l.lanes } };
}

/** Lists both sides, enqueues the shards and waits until the workers and the barrier are done. */
export async function clusterRun(req: ClusterRunRequest): Promise<ClusterProgress> {
  const mode = req.mode ?? 'sync';
  const given: Record<string, unknown> = { ...(req.options as Record<string, unknown> | undefined) };
  const options = resolveTransferOptions(given); // refuses bad options before anything is enqueued
  try {
    BandwidthLimiter.fromTimetable(options.bwlimit);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const limits = shardLimitsOf(req);
  const lane = laneOf(req);
  const listParallel = req.listParallel ?? 1;
  if (!Number.isInteger(listParallel) || listParallel < 1) throw new UsageError(`--list-parallel must be a whole number >= 1, got "${String(req.listParallel)}"`);
  const link = linkOf(req);
  const shared = { ...given };
  delete shared.bwlimit; // the cap is the run's, shared through Redis, not each worker's
  return withStore(req.redis, async (store) => {
    const prepared = await prepareTransfer({ ...req, mode, options: shared });
    const runId = req.runId ?? `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    // the coordinator's own trail (its config and state dir) receives every worker's records
    const audit = prepared.audit ? new AuditCollector(store, runId, prepared.audit) : undefined;
    try {
      return await coordinate({
        store,
        connection: connectionOf(req.redis),
        ...(audit ? { audit } : {}),
        meta: {
          runId,
          ...(audit ? { auditCollected: true } : {}),
          mode,
          src: req.src,
          dst: req.dst,
          options: shared,
          ...(options.bwlimit ? { bwlimit: options.bwlimit } : {}),
          lane,
          ...(link ? { link } : {}),
          createdAt: Date.now(),
        },
        src: prepared.src,
        dst: prepared.dst,
        ...(prepared.run.filter ? { filter: prepared.run.filter } : {}),
        dryRun: options.dryRun,
        allowMissingDst: prepared.dst.features.createsRoot || options.createBucket,
        limits,
        listParallel,
        ...(req.signal ? { signal: req.signal } : {}),
        ...(req.onProgress ? { onProgress: req.onProgress } : {}),
      });
    } finally {
      await prepared.close();
    }
  });
}

export interface ClusterWorkerRequest extends RunContext {
  readonly redis: string;
  /** Default host:pid. */
  readonly name?: string;
  /** Shards at once (default 1; each runs the engine's own transfer pool). */
  readonly concurrency?: number;
  /** Lock of a shard: a dead worker's shard is taken again after about this long (default 30 s). */
  readonly lockDurationMs?: number;
  /** Stops taking shards when it fires; the running ones finish. Required: a worker runs until told to stop. */
  readonly signal: AbortSignal;
  readonly onShard?: (what: 'start' | 'done' | 'failed', shard: Shard & { runId: string }, detail?: ShardResult | string) => void;
  /** Every engine event of the shards and barriers this worker runs, with the run it belongs to. */
  readonly onRunEvent?: (runId: string, e: SyncEvent) => void;
}

/** The public key of the audit trail the worker's runs write (as prepareTransfer places it), or none when auditing is off. */
function workerAuditKey(ctx: RunContext): WorkerAuditKey | undefined {
  const env = ctx.env ?? process.env;
  const loaded = typeof ctx.config === 'object' ? ctx.config : loadConfig(ctx.config, env);
  const cfg = loaded.config?.audit;
  if (cfg?.enabled === false) return undefined;
  const statePath = ctx.statePath ?? loaded.config?.stateFile ?? defaultStatePath(env);
  const signer = loadOrCreateSigner(auditPaths(cfg, statePath, env).keyFile);
  return { keyId: signer.keyId, publicKeyPem: signer.publicKeyPem };
}

/** Takes and runs shards of any cluster run on this Redis until the signal fires. */
export async function clusterWorker(req: ClusterWorkerRequest): Promise<void> {
  const { redis: url, name, concurrency, lockDurationMs, onShard, onRunEvent, ...ctx } = req;
  const auditKey = workerAuditKey(ctx);
  await withStore(url, async (store) => {
    const prepare: PrepareShardRun = (meta, mode, onAuditBatch) =>
      prepareTransfer({
        ...ctx,
        mode,
        ...(onAuditBatch ? { onAuditBatch } : {}),
        src: meta.src,
        dst: meta.dst,
        options: meta.options,
        ...(onRunEvent || ctx.onEvent
          ? {
              onEvent: (e: SyncEvent) => {
                ctx.onEvent?.(e);
                onRunEvent?.(meta.runId, e);
              },
            }
          : {}),
      });
    await runWorker({
      store,
      connection: connectionOf(url),
      name: name ?? `${hostname()}:${process.pid}`,
      prepare,
      ...(auditKey ? { auditKey } : {}),
      signal: req.signal,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
      ...(onShard ? { onShard } : {}),
    });
  });
}

/** A long-lived reader of the recent runs' progress and the workers alive (the daemon's /metrics and /api/cluster). */
export async function clusterMonitor(
  url: string,
  recent = 5,
): Promise<{ runs(): Promise<ClusterProgress[]>; snapshot(): Promise<{ runs: ClusterProgress[]; workersAlive: string[] }>; close(): void }> {
  const redis = await connectRedis(url);
  const store = new RunStore(redis);
  const runs = async (): Promise<ClusterProgress[]> =>
    (await Promise.all((await store.recent(recent)).map((id) => store.progress(id)))).filter((p): p is ClusterProgress => p !== undefined);
  return {
    runs,
    snapshot: async () => ({ runs: await runs(), workersAlive: await store.aliveWorkers() }),
    close: () => redis.disconnect(),
  };
}

/** Progress of one run (default: the latest), or undefined when Redis knows none. */
export async function clusterStatus(req: { readonly redis: string; readonly runId?: string }): Promise<ClusterProgress | undefined> {
  return withStore(req.redis, async (store) => {
    const id = req.runId ?? (await store.latest());
    return id ? store.progress(id) : undefined;
  });
}
