/**
 * The shard emitter: consumes the march of both listings and cuts the source into
 * consecutive key ranges of about `maxFiles` files or `maxBytes` bytes. Holds one shard's
 * counters, never the listing. Destination-only keys the sync would delete are passed on
 * one by one (the coordinator parks them in Redis for the barrier).
 */
import type { KeyRange } from '../core/key-range.js';
import type { MarchPair } from '../sync/march.js';

export interface Shard {
  readonly index: number;
  /** Keys after this one (exclusive); none for the first shard. */
  readonly startAfter?: string;
  /** Keys up to this one (inclusive); none for the last shard, which is open-ended. */
  readonly endAt?: string;
  /** Source files and bytes in the range when it was cut. */
  readonly files: number;
  readonly bytes: number;
}

export interface ShardLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
}

/** ~5k files or 8 GiB per shard: minutes of work for one worker, few enough jobs for Redis at 100M files. */
export const DEFAULT_SHARD_LIMITS: ShardLimits = { maxFiles: 5000, maxBytes: 8 * 1024 ** 3 };

export type ShardEvent = { readonly kind: 'shard'; readonly shard: Shard } | { readonly kind: 'delete'; readonly key: string };

/** What the march saw, for the deletion guards and the progress display. */
export interface ListingTally {
  srcFiles: number;
  srcBytes: number;
  dstFiles: number;
}

export interface EmitOptions {
  readonly limits: ShardLimits;
  /** Whether a pair is a deletion of a sync (dst only, in scope of the filter). */
  readonly isDelete: (pair: MarchPair) => boolean;
  /** Whether a source entry is in scope (filtered-out files do not weigh on a shard). */
  readonly inScope: (pair: MarchPair) => boolean;
  readonly tally: ListingTally;
  /**
   * The key range the pairs come from (one of several listed in parallel): the first shard
   * starts after its start, the last one ends at its end. Default: the whole key space.
   */
  readonly range?: KeyRange;
  /** Hands out shard indexes (shared by the ranges of one run); default 0, 1, 2, … */
  readonly nextIndex?: () => number;
  /** Whether a range without files still gets one (no-op) shard; default true. */
  readonly emitEmpty?: boolean;
}

export async function* emitShards(pairs: AsyncIterable<MarchPair>, o: EmitOptions): AsyncGenerator<ShardEvent> {
  let counter = 0;
  const nextIndex = o.nextIndex ?? (() => counter++);
  let emitted = 0;
  let startAfter = o.range?.startAfter;
  let files = 0;
  let bytes = 0;
  for await (const p of pairs) {
    if (p.dst) o.tally.dstFiles++;
    if (!p.src) {
      if (o.isDelete(p)) yield { kind: 'delete', key: p.key };
      continue;
    }
    o.tally.srcFiles++;
    o.tally.srcBytes += p.src.size;
    if (!o.inScope(p)) continue;
    files++;
    bytes += p.src.size;
    if (files >= o.limits.maxFiles || bytes >= o.limits.maxBytes) {
      yield { kind: 'shard', shard: { index: nextIndex(), ...(startAfter !== undefined ? { startAfter } : {}), endAt: p.key, files, bytes } };
      emitted++;
      startAfter = p.key;
      files = 0;
      bytes = 0;
    }
  }
  // the last shard runs to the range's end (open-ended for the last range); an empty source
  // still gets one shard unless told otherwise (the run is then a no-op per shard)
  if (files > 0 || (emitted === 0 && (o.emitEmpty ?? true))) {
    const endAt = o.range?.endAt;
    yield { kind: 'shard', shard: { index: nextIndex(), ...(startAfter !== undefined ? { startAfter } : {}), ...(endAt !== undefined ? { endAt } : {}), files, bytes } };
  }
}
