/**
 * Scale-out over BullMQ on Redis. A coordinator (coordinator.ts) walks both sides with the
 * engine's streaming march and cuts the source into key-range shards (shards.ts), each a
 * BullMQ job that any worker (worker.ts) runs as an ordinary engine run restricted to its
 * range — so verification, the governance gate and the audit trail are the engine's. The
 * shards are children of one barrier job (a BullMQ flow parent) that runs only when every
 * shard has succeeded and carries out the deletions under the --max-delete guard. Run
 * state and progress live in Redis (run-store.ts); one token bucket in Redis paces every
 * worker's bytes (link-pacer.ts).
 */
export { coordinate, type CoordinateOptions } from './coordinator.js';
export { runWorker, type ClusterWorkerOptions, type PrepareShardRun } from './worker.js';
export { RunStore, type ClusterProgress, type ClusterRunMeta, type ShardResult } from './run-store.js';
export { emitShards, type Shard, type ShardLimits, type ShardEvent, DEFAULT_SHARD_LIMITS } from './shards.js';
export { RedisLinkPacer } from './link-pacer.js';
export { connectRedis } from './redis.js';
