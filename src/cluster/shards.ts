/**
 * The shard emitter: consumes the march of both listings and cuts the source into
 * consecutive key ranges of about `maxFiles` files or `maxBytes` bytes. Holds one shard's
 * counters, never the listing. Destination-only keys the sync would delete are passed on
 * one by one (the coordinator parks them in Redis for the barrier).
 */
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
}

export async function* emitShards(pairs: AsyncIterable<MarchPair>, o: EmitOptions): AsyncGenerator<ShardEvent> {
  let index = 0;
  let startAfter: string | undefined;
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
      yield { kind: 'shard', shard: { index: index++, ...(startAfter !== undefined ? { startAfter } : {}), endAt: p.key, files, bytes } };
      startAfter = p.key;
      files = 0;
      bytes = 0;
    }
  }
  // the last range is open-ended; an empty source still gets one shard (the run is then a no-op per shard)
  if (files > 0 || index === 0) yield { kind: 'shard', shard: { index, ...(startAfter !== undefined ? { startAfter } : {}), files, bytes } };
}
