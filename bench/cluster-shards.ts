/**
 * bench/cluster-shards.ts — the cluster coordinator at scale, without a network: a
 * synthetic sorted listing (mean object 10 MB, as 1 PB / 100M objects) through the real
 * march and shard emitter, for N entries (default 10M), printing entries/s, peak heap/RSS
 * growth and the shard count at the default limits (5000 files / 8 GiB). With
 * BENCH_REDIS_URL, also runs the real coordinator (coordinate(): BullMQ flow, one job per
 * shard, deletions parked in Redis) over N_REDIS entries (default 1M) and prints its rate
 * and Redis memory per shard job. Numbers for docs/scale.md.
 *
 *   node --expose-gc --import tsx bench/cluster-shards.ts [N]
 */
import type { Backend, ListOptions } from '../src/core/backend.js';
import type { Entry } from '../src/core/entry.js';
import { march } from '../src/sync/march.js';
import { emitShards, DEFAULT_SHARD_LIMITS, type ListingTally } from '../src/cluster/shards.js';

const N = Number(process.argv[2] ?? 10_000_000);
const MB = 1_000_000;

/** Sizes with mean ~10 MB: a spread from 100 KB to ~20 MB. */
const sizeOf = (i: number): number => 100_000 + ((i * 2_654_435_761) % 19_800_000);

async function* listing(n: number, every: number, dropEvery = 0): AsyncGenerator<Entry> {
  for (let i = 0; i < n; i += every) {
    if (dropEvery && i % dropEvery === 0) continue;
    yield { key: `datasets/v3/part-${String(i % 1000).padStart(4, '0')}/${String(i).padStart(10, '0')}.tar`, size: sizeOf(i), mtimeMs: 1_700_000_000_000, mtimeExact: true };
  }
}

/** Keys in listing order need a sorted generator: part-XXXX/ first, then the index. */
async function* sortedListing(n: number, dropEvery = 0): AsyncGenerator<Entry> {
  for (let part = 0; part < 1000; part++) {
    for (let i = part; i < n; i += 1000) {
      if (dropEvery && i % dropEvery === 0) continue;
      yield { key: `datasets/v3/part-${String(part).padStart(4, '0')}/${String(i).padStart(10, '0')}.tar`, size: sizeOf(i), mtimeMs: 1_700_000_000_000, mtimeExact: true };
    }
  }
}
void listing;

async function pureEmitter(n: number): Promise<void> {
  global.gc?.();
  const m0 = process.memoryUsage();
  let peakHeap = 0;
  let peakRss = 0;
  const tally: ListingTally = { srcFiles: 0, srcBytes: 0, dstFiles: 0 };
  let shards = 0;
  let seen = 0;
  const t0 = process.hrtime.bigint();
  // destination: 90% already there (an incremental run), a few extra keys to delete
  for await (const ev of emitShards(march(sortedListing(n), sortedListing(n, 10)), {
    limits: DEFAULT_SHARD_LIMITS,
    tally,
    isDelete: (p) => !p.src,
    inScope: () => true,
  })) {
    if (ev.kind === 'shard') shards++;
    if ((++seen & 0xff) === 0) {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed - m0.heapUsed);
      peakRss = Math.max(peakRss, m.rss - m0.rss);
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `| ${n.toLocaleString('en')} | ${(tally.srcBytes / 1e15).toFixed(3)} PB | ${shards.toLocaleString('en')} | ${Math.round(tally.srcFiles / shards)} | ${s.toFixed(1)} | ${Math.round((tally.srcFiles + tally.dstFiles) / s).toLocaleString('en')} | ${(peakHeap / 2 ** 20).toFixed(1)} | ${(peakRss / 2 ** 20).toFixed(1)} |`,
  );
}

/** A backend that only lists (the coordinator reads nothing else). */
function syntheticBackend(n: number, id: string): Backend {
  return {
    type: 'synthetic',
    uri: `synthetic://${id}`,
    location: { type: 'memory', id: `synthetic:${id}`, display: id } as unknown as Backend['location'],
    features: { serverSideCopy: false, chunkedUpload: false, cheapReads: false, createsRoot: true, tags: false, storageClass: false, metadata: false },
    list: (_o?: ListOptions) => sortedListing(n),
    stat: () => Promise.reject(new Error('not in the bench')),
    read: () => Promise.reject(new Error('not in the bench')),
    write: () => Promise.reject(new Error('not in the bench')),
    remove: () => Promise.reject(new Error('not in the bench')),
  };
}

async function withRedis(url: string, n: number): Promise<void> {
  const { coordinate } = await import('../src/cluster/coordinator.js');
  const { RunStore } = await import('../src/cluster/run-store.js');
  const { connectRedis } = await import('../src/cluster/redis.js');
  const redis = await connectRedis(url);
  const mem0 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const stop = new AbortController();
  const t0 = Date.now();
  let listedAt = 0;
  const p = await coordinate({
    store: new RunStore(redis),
    connection: { url, maxRetriesPerRequest: null },
    meta: { runId: `bench-${Date.now()}`, mode: 'sync', src: 'synthetic://src', dst: 'synthetic://dst', options: {}, createdAt: Date.now() },
    src: syntheticBackend(n, 'src'),
    dst: syntheticBackend(0, 'dst'),
    dryRun: true,
    allowMissingDst: true,
    limits: DEFAULT_SHARD_LIMITS,
    signal: stop.signal,
    onProgress: (q) => {
      if (q.status === 'running' && !listedAt) {
        listedAt = Date.now();
        stop.abort(); // no workers here: stop following once everything is enqueued
      }
    },
  });
  const mem1 = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const s = (listedAt - t0) / 1000;
  console.log(`\ncoordinator with Redis (BullMQ jobs): ${n.toLocaleString('en')} entries → ${p.shards} shard jobs in ${s.toFixed(1)} s (${Math.round(n / s).toLocaleString('en')} entries/s); Redis memory +${((mem1 - mem0) / 2 ** 20).toFixed(1)} MiB (${Math.round((mem1 - mem0) / p.shards)} B per shard job)`);
  redis.disconnect();
}

console.log('| entries | bytes | shards | files/shard | s | entries/s (both sides) | peak heap growth MiB | peak RSS growth MiB |');
console.log('|---|---|---|---|---|---|---|---|');
for (const n of [1_000_000, N].filter((v, i, a) => a.indexOf(v) === i)) await pureEmitter(n);
if (process.env.BENCH_REDIS_URL) await withRedis(process.env.BENCH_REDIS_URL, Number(process.env.N_REDIS ?? 1_000_000));
void MB;
