/**
 * bench/march-memory.ts — memory of the diff is flat in the number of files: merges two
 * synthetic sorted listings of N entries (N = 10k, 100k, 1M) through the real march and
 * planner and prints the peak heap/RSS growth for each N.
 */
import type { Entry } from '../src/core/entry.js';
import { march } from '../src/sync/march.js';
import { decide } from '../src/sync/plan.js';

async function* listing(n: number, skew: number): AsyncGenerator<Entry> {
  for (let i = 0; i < n; i++) {
    if ((i + skew) % 7 === 0) continue; // some keys only on one side
    yield { key: `training/shard-${String(i).padStart(9, '0')}.tfrecord`, size: 65536, mtimeMs: 1_700_000_000_000 + (i % 3 === 0 ? skew : 0), mtimeExact: true };
  }
}

console.log('| entries | pairs | peak heap growth MiB | peak RSS growth MiB | s |');
console.log('|---|---|---|---|---|');
for (const n of [10_000, 100_000, 1_000_000]) {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  let peakHeap = 0;
  let peakRss = 0;
  let pairs = 0;
  const counts: Record<string, number> = {};
  const t0 = Date.now();
  for await (const p of march(listing(n, 0), listing(n, 3))) {
    const d = decide(p, { mode: 'sync', compare: 'size-mtime', modifyWindowMs: 1 });
    counts[d.kind] = (counts[d.kind] ?? 0) + 1;
    if ((++pairs & 0x3fff) === 0) {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed - heap0);
      peakRss = Math.max(peakRss, m.rss - rss0);
    }
  }
  console.log(`| ${n.toLocaleString('en')} | ${pairs.toLocaleString('en')} | ${(peakHeap / 2 ** 20).toFixed(1)} | ${(peakRss / 2 ** 20).toFixed(1)} | ${((Date.now() - t0) / 1000).toFixed(1)} |`);
}
