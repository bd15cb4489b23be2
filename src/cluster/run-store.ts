/**
 * A cluster run's record in Redis: what to sync (locations and options — never
 * credentials: every worker resolves the locations with its own config and keys), the
 * listing tally, each shard's result, the deletions parked for the barrier, and the
 * status. Shard results are keyed by shard index (a shard done twice is one shard done);
 * the totals (files, bytes) add up every shard run, so a shard that ran twice — a stalled
 * worker's job, a duplicate — counts the work of both, as the link carried it.
 */
import type { Redis } from 'ioredis';
import type { Lane } from '../ops/governor.js';
import type { RunSummary } from '../sync/events.js';
import type { ClusterAuditOutcome } from './audit-link.js';

export const QUEUE = 'hybridsync-cluster';
const NS = 'hybridsync:cluster';
const RUNS = `${NS}:runs`;

/**
 * The queue a run's shards and barrier wait in: one per lane, and every worker takes from
 * each lane's queue at once, so a metadata run's shards never wait behind a bulk run's.
 */
export const queueOf = (lane: Lane): string => `${QUEUE}-${lane}`;

/** Workers and their last heartbeat (Redis time, ms): a sorted set. */
const WORKERS = `${NS}:workers`;
/** A worker that has not beaten for this long is taken for dead. */
export const WORKER_ALIVE_MS = 15_000;
/** How often a worker beats. */
export const WORKER_HEARTBEAT_MS = 5_000;

// Redis's clock in ms, so workers and monitors on machines with different clocks agree
const NOW = `local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const BEAT = `local t = redis.call('TIME') redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1]) return 1`;

/** The token bucket of a link shared by every run that crosses it (link-pacer.ts). */
export const linkKey = (name: string): string => `${NS}:link:${name}`;

/** A declared link as a run carries it to its workers: capacity and lane weights. */
export interface ClusterLink {
  readonly name: string;
  readonly bytesPerSecond: number;
  readonly weights: Readonly<Record<Lane, number>>;
}

export type ClusterStatus = 'listing' | 'running' | 'deleting' | 'done' | 'failed' | 'cancelled';

/**
 * The deletion barrier: waiting for shards; deleting; done (deletions made, or none due);
 * refused (over --max-delete, or an empty source: nothing deleted); failed (some deletions
 * failed); not-run (the run failed or was cancelled before it: nothing deleted).
 */
export type BarrierState = 'waiting' | 'deleting' | 'done' | 'refused' | 'failed' | 'not-run';

export interface ClusterRunMeta {
  readonly runId: string;
  readonly mode: 'sync' | 'copy';
  readonly src: string;
  readonly dst: string;
  /** The transfer options as given (strings or typed), without bwlimit (the shared cap). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The cap for all workers together (a --bwlimit timetable), if any. */
  readonly bwlimit?: string;
  /** The run's lane: its queue, and its share of the link. Absent (older runs): bulk. */
  readonly lane?: Lane;
  /** The link the run crosses: its capacity is shared, through Redis, with every run on it. */
  readonly link?: ClusterLink;
  /** The coordinator merges the workers' audit records into its trail: workers forward them (audit-link.ts). */
  readonly auditCollected?: boolean;
  readonly createdAt: number;
}

export interface ShardResult {
  readonly index: number;
  readonly worker: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: RunSummary['status'];
  readonly transferred: number;
  readonly bytes: number;
  readonly skipped: number;
  readonly failed: number;
  readonly denied: number;
  readonly differences: number;
}

/** A shard attempt that ended with failed files, and the first error of it. */
export interface ShardFailure {
  readonly shard: number;
  readonly files: number;
  readonly error?: string;
}

export interface ClusterProgress {
  readonly runId: string;
  readonly mode: 'sync' | 'copy';
  readonly src: string;
  readonly dst: string;
  readonly dryRun: boolean;
  readonly lane: Lane;
  /** The link's name and capacity (bytes/s), when the run crosses a declared link. */
  readonly link?: { readonly name: string; readonly bytesPerSecond: number };
  /** The run's own cap (--bwlimit timetable), if any. */
  readonly bwlimit?: string;
  readonly status: ClusterStatus;
  readonly createdAt: number;
  readonly endedAt?: number;
  /** Key ranges the coordinator listed at once (1: one stream over the whole key space). */
  readonly ranges: number;
  /** Shards emitted so far (all of them once the listing is done). */
  readonly shards: number;
  readonly shardsDone: number;
  readonly listed: { readonly srcFiles: number; readonly srcBytes: number; readonly dstFiles: number };
  /** Totals over every successful shard run (a re-run's work counts again). */
  readonly transferred: number;
  readonly bytes: number;
  readonly skipped: number;
  /** Files that failed in a shard's last attempt (the shard, and the run, then failed). */
  readonly failed: number;
  readonly denied: number;
  /** Shard runs by any worker, counting repeats (retries, duplicates). */
  readonly shardRuns: number;
  readonly deletesDue: number;
  readonly deleted: number;
  /** Bytes the workers leased from the shared cap (the run's own, or its link's). */
  readonly leasedBytes: number;
  /** When the first shard started and the last one ended (the transfer window). */
  readonly window?: { readonly start: number; readonly end: number };
  /** Bytes per second over the transfer window (until now while the run transfers). */
  readonly rate: number;
  /** Workers that completed shards of the run. */
  readonly workers: readonly string[];
  /** Shards running now, on workers that are alive (a dead worker's shard waits for its lock to expire). */
  readonly active: ReadonlyArray<{ readonly shard: number; readonly worker: string; readonly since: number }>;
  /** Shards whose latest attempt failed (retrying, or failed for good when the run failed). */
  readonly failedShards: number;
  /** The first error of the lowest failing shard, as its worker saw it. */
  readonly firstFailure?: { readonly shard: number; readonly error: string };
  readonly barrier: BarrierState;
  /** The workers' audit records as the coordinator merged and verified them, once the run ended (absent: not collected). */
  readonly audit?: ClusterAuditOutcome;
  readonly message?: string;
  readonly hint?: string;
}

// KEYS run hash, shard results, workers; ARGV index, json, worker, start, end, transferred, bytes, skipped, denied
const RECORD_SHARD = `
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1] .. ':failing', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'shardRuns', 1)
local s = redis.call('HGET', KEYS[1], 'windowStart')
if not s or tonumber(ARGV[4]) < tonumber(s) then redis.call('HSET', KEYS[1], 'windowStart', ARGV[4]) end
local e = redis.call('HGET', KEYS[1], 'windowEnd')
if not e or tonumber(ARGV[5]) > tonumber(e) then redis.call('HSET', KEYS[1], 'windowEnd', ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'transferred', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[7])
redis.call('HINCRBY', KEYS[1], 'skipped', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'denied', ARGV[9])
return 1
`;

const num = (v: string | undefined): number => (v === undefined ? 0 : Number(v));

export class RunStore {
  constructor(readonly redis: Redis) {}

  key(runId: string, part?: 'shards' | 'deletes' | 'bucket' | 'active'): string {
    return `${NS}:run:${runId}${part ? `:${part}` : ''}`;
  }

  async create(meta: ClusterRunMeta, dryRun: boolean): Promise<void> {
    const created = await this.redis.hsetnx(this.key(meta.runId), 'meta', JSON.stringify(meta));
    if (created === 0) throw new Error(`run ${meta.runId} exists`);
    await this.redis.hset(this.key(meta.runId), { status: 'listing', dryRun: dryRun ? '1' : '0', createdAt: String(meta.createdAt) });
    await this.redis.zadd(RUNS, meta.createdAt, meta.runId);
  }

  async meta(runId: string): Promise<ClusterRunMeta | undefined> {
    const m = await this.redis.hget(this.key(runId), 'meta');
    return m ? (JSON.parse(m) as ClusterRunMeta) : undefined;
  }

  async status(runId: string): Promise<ClusterStatus | undefined> {
    return ((await this.redis.hget(this.key(runId), 'status')) ?? undefined) as ClusterStatus | undefined;
  }

  async set(runId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.key(runId), Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])));
  }

  /** Ends the run (once: a later call does not overwrite the outcome). */
  async finish(runId: string, status: 'done' | 'failed' | 'cancelled', why?: { message: string; hint?: string }): Promise<void> {
    const k = this.key(runId);
    const current = await this.status(runId);
    if (current === 'done' || current === 'failed' || current === 'cancelled') return;
    await this.redis.hset(k, { status, endedAt: String(Date.now()), ...(why ? { message: why.message, hint: why.hint ?? '' } : {}) });
  }

  /**
   * The end-of-run audit check. A contribution that did not verify fails the run even when
   * the shards and the barrier succeeded: what moved cannot be vouched for.
   */
  async setAudit(runId: string, outcome: ClusterAuditOutcome): Promise<void> {
    await this.redis.hset(this.key(runId), 'audit', JSON.stringify(outcome));
    if (outcome.verified) return;
    const message = `the audit trail of the run does not verify: ${outcome.problem ?? 'a worker contribution is missing'}`;
    const status = await this.status(runId);
    const prior = status === 'failed' ? await this.redis.hget(this.key(runId), 'message') : null;
    await this.redis.hset(this.key(runId), {
      ...(status === 'cancelled' ? {} : { status: 'failed' }),
      message: prior ? `${prior}; ${message}` : message,
      hint: 'the coordinator trail names the worker in a cluster-audit-rejected or cluster-run record; check that worker’s trail with `hybridsync audit verify`, and its key',
      ...(status === 'done' || status === 'failed' || status === 'cancelled' ? {} : { endedAt: String(Date.now()) }),
    });
  }

  /** A shard's result (the last one wins per shard), added to the run's totals and transfer window, atomically. */
  async recordShard(runId: string, r: ShardResult): Promise<void> {
    await this.redis.eval(
      RECORD_SHARD,
      3,
      this.key(runId),
      this.key(runId, 'shards'),
      `${this.key(runId)}:workers`,
      String(r.index),
      JSON.stringify(r),
      r.worker,
      String(r.startedAt),
      String(r.endedAt),
      String(r.transferred),
      String(r.bytes),
      String(r.skipped),
      String(r.denied),
    );
  }

  /** The worker is alive: called every WORKER_HEARTBEAT_MS while it runs. */
  async heartbeat(worker: string): Promise<void> {
    await this.redis.eval(BEAT, 1, WORKERS, worker);
  }

  /** The worker stopped. */
  async leave(worker: string): Promise<void> {
    await this.redis.zrem(WORKERS, worker);
  }

  /** Workers that beat within WORKER_ALIVE_MS (by Redis's clock); long-dead ones are forgotten. */
  async aliveWorkers(): Promise<string[]> {
    const now = Number(await this.redis.eval(NOW, 0));
    await this.redis.zremrangebyscore(WORKERS, '-inf', now - 7 * 86400_000);
    return this.redis.zrangebyscore(WORKERS, now - WORKER_ALIVE_MS, '+inf');
  }

  /** A worker took a shard (a shard taken again, after a stall or as a duplicate, names its latest worker). */
  async shardStarted(runId: string, index: number, worker: string): Promise<void> {
    await this.redis.hset(this.key(runId, 'active'), String(index), JSON.stringify({ worker, since: Date.now() }));
  }

  /** The shard's attempt on this worker ended, however it ended. */
  async shardEnded(runId: string, index: number, worker: string): Promise<void> {
    const k = this.key(runId, 'active');
    const cur = await this.redis.hget(k, String(index));
    if (cur && (JSON.parse(cur) as { worker: string }).worker === worker) await this.redis.hdel(k, String(index));
  }

  /** The barrier's state, as it goes (see BarrierState). */
  async setBarrier(runId: string, state: BarrierState): Promise<void> {
    await this.redis.hset(this.key(runId), 'barrier', state);
  }

  /** A shard attempt that ended with failed files (cleared when the shard succeeds). */
  async noteFailing(runId: string, index: number, failed: number, firstError?: string): Promise<void> {
    const v: ShardFailure = { shard: index, files: failed, ...(firstError ? { error: firstError } : {}) };
    await this.redis.hset(`${this.key(runId)}:failing`, String(index), JSON.stringify(v));
  }

  /** The shards whose latest attempt failed, in shard order. */
  async failures(runId: string): Promise<ShardFailure[]> {
    const h = await this.redis.hgetall(`${this.key(runId)}:failing`);
    // a bare count: a run recorded by an older version
    return Object.entries(h)
      .map(([i, v]) => (/^\d+$/.test(v) ? { shard: Number(i), files: Number(v) } : (JSON.parse(v) as ShardFailure)))
      .sort((a, b) => a.shard - b.shard);
  }

  /** The ids of the most recent runs, newest first. */
  async recent(n: number): Promise<string[]> {
    return this.redis.zrevrange(RUNS, 0, n - 1);
  }

  async latest(): Promise<string | undefined> {
    const r = await this.redis.zrevrange(RUNS, 0, 0);
    return r[0];
  }

  async progress(runId: string): Promise<ClusterProgress | undefined> {
    const h = await this.redis.hgetall(this.key(runId));
    if (!h.meta) return undefined;
    const meta = JSON.parse(h.meta) as ClusterRunMeta;
    const shardsDone = await this.redis.hlen(this.key(runId, 'shards'));
    const workers = await this.redis.smembers(`${this.key(runId)}:workers`);
    const alive = new Set(await this.aliveWorkers());
    const active = Object.entries(await this.redis.hgetall(this.key(runId, 'active')))
      .map(([shard, v]) => ({ shard: Number(shard), ...(JSON.parse(v) as { worker: string; since: number }) }))
      .filter((a) => alive.has(a.worker))
      .sort((a, b) => a.shard - b.shard);
    const failing = await this.failures(runId);
    const status = (h.status ?? 'listing') as ClusterStatus;
    const over = status === 'done' || status === 'failed' || status === 'cancelled';
    const window = h.windowStart ? { start: num(h.windowStart), end: num(h.windowEnd) } : undefined;
    const windowEnd = window ? (over ? window.end : Math.max(window.end, Number(await this.redis.eval(NOW, 0)))) : 0;
    const barrier = (h.barrier as BarrierState | undefined) ?? (status === 'failed' || status === 'cancelled' ? 'not-run' : 'waiting');
    return {
      runId,
      mode: meta.mode,
      src: meta.src,
      dst: meta.dst,
      dryRun: h.dryRun === '1',
      lane: meta.lane ?? 'bulk',
      ...(meta.link ? { link: { name: meta.link.name, bytesPerSecond: meta.link.bytesPerSecond } } : {}),
      ...(meta.bwlimit ? { bwlimit: meta.bwlimit } : {}),
      status,
      createdAt: meta.createdAt,
      ...(h.endedAt ? { endedAt: num(h.endedAt) } : {}),
      ranges: num(h.ranges) || 1,
      shards: num(h.shards),
      shardsDone,
      listed: { srcFiles: num(h.srcFiles), srcBytes: num(h.srcBytes), dstFiles: num(h.dstFiles) },
      transferred: num(h.transferred),
      bytes: num(h.bytes),
      skipped: num(h.skipped),
      failed: failing.reduce((a, f) => a + f.files, 0),
      denied: num(h.denied),
      shardRuns: num(h.shardRuns),
      deletesDue: num(h.deletesDue),
      deleted: num(h.deleted),
      leasedBytes: num(h.leased),
      ...(window ? { window } : {}),
      rate: window && windowEnd > window.start ? Math.round((num(h.bytes) * 1000) / (windowEnd - window.start)) : 0,
      workers: workers.sort(),
      active,
      failedShards: failing.length,
      ...(failing[0]?.error ? { firstFailure: { shard: failing[0].shard, error: failing[0].error } } : {}),
      barrier,
      ...(h.audit ? { audit: JSON.parse(h.audit) as ClusterAuditOutcome } : {}),
      ...(h.message ? { message: h.message } : {}),
      ...(h.hint ? { hint: h.hint } : {}),
    };
  }

  /** Parks deletions for the barrier (in key order, as the march found them). */
  async addDeletes(runId: string, keys: readonly string[]): Promise<void> {
    if (keys.length) await this.redis.rpush(this.key(runId, 'deletes'), ...keys);
  }

  /** The parked deletions, a page at a time. */
  async *deletes(runId: string, page = 1000): AsyncGenerator<string> {
    for (let i = 0; ; i += page) {
      const keys = await this.redis.lrange(this.key(runId, 'deletes'), i, i + page - 1);
      yield* keys;
      if (keys.length < page) return;
    }
  }
}
