/**
 * The coordinator's listing: both sides, as consecutive key ranges (ranges.ts) of which
 * `parallel` are listed at once, each range a march of the two listings (each side read a
 * couple of pages ahead, so the two are fetched at the same time) through the shard
 * emitter. Events come out as they are found, from all ranges interleaved; memory holds a
 * few pages and one shard's counters per range in flight, never the listing.
 */
import type { Backend } from '../core/backend.js';
import { readAhead } from '../lib/queue.js';
import { forEachConcurrent } from '../lib/pool.js';
import type { Filter } from '../sync/filter.js';
import { march } from '../sync/march.js';
import { decide, type Mode } from '../sync/plan.js';
import { splitKeySpace } from './ranges.js';
import { emitShards, type ListingTally, type ShardEvent, type ShardLimits } from './shards.js';

/** Entries each side's listing may run ahead of the march: two S3 pages. */
const LIST_AHEAD = 2000;

export interface ListInShardsOptions {
  readonly src: Backend;
  readonly dst: Backend;
  readonly mode: Mode;
  readonly filter?: Filter;
  readonly limits: ShardLimits;
  /** Ranges listed at once (1: one stream over the whole key space). */
  readonly parallel: number;
  /** The destination may be missing: it lists as empty. */
  readonly allowMissingDst: boolean;
  readonly tally: ListingTally;
  readonly signal?: AbortSignal;
  /** Called once the key space is split, before any range is listed. */
  readonly onRanges?: (ranges: number) => Promise<void> | void;
}

/**
 * Lists both sides and hands every shard and deletion to `each`, awaited (back-pressure);
 * shards get indexes 0, 1, 2, … in the order they are cut. Resolves with the shard count.
 * A range without source files yields no shard (the caller decides about an empty source).
 */
export async function listInShards(o: ListInShardsOptions, each: (ev: ShardEvent) => Promise<void>): Promise<number> {
  const sig = o.signal ? { signal: o.signal } : {};
  const planOpts = { mode: o.mode, compare: 'size-mtime' as const, modifyWindowMs: 1, ...(o.filter ? { filter: o.filter } : {}) };
  const parallel = Math.max(1, o.parallel);
  // several ranges per lister, so an uneven split still spreads over the listers
  const ranges = await splitKeySpace([o.src, o.dst], parallel === 1 ? 1 : parallel * 4, o.signal);
  await o.onRanges?.(ranges.length);
  let nextIndex = 0;
  await forEachConcurrent(
    ranges,
    parallel,
    async (range) => {
      const pairs = march(readAhead(o.src.list({ ...sig, ...range }), LIST_AHEAD), readAhead(o.dst.list({ ...sig, ...range, allowMissingRoot: o.allowMissingDst }), LIST_AHEAD));
      for await (const ev of emitShards(pairs, {
        limits: o.limits,
        tally: o.tally,
        range,
        nextIndex: () => nextIndex++,
        emitEmpty: false,
        isDelete: (p) => decide(p, planOpts).kind === 'delete',
        inScope: (p) => !o.filter || o.filter.matches(p.src!),
      })) {
        await each(ev);
      }
    },
    o.signal,
  );
  return nextIndex;
}
