/**
 * Splitting the key space so the coordinator can list both sides in parallel: consecutive
 * key ranges whose bounds are directories ("common prefixes") of either side, found with
 * delimiter listings (the PrefixLister capability: S3), a level deeper while there are too
 * few. Any bounds partition the key space exactly — every key falls in one range — so the
 * bounds only decide how evenly the work spreads; a side without the capability adds none,
 * and with no bounds at all the run lists as one range.
 */
import { hasPrefixLister, type Backend } from '../core/backend.js';
import { compareKeys } from '../core/entry.js';
import type { KeyRange } from '../core/key-range.js';

/** At most this many directories are gathered (memory stays small whatever the tree). */
const MAX_DIRS = 10_000;
/** Levels descended while there are fewer directories than ranges wanted. */
const MAX_DEPTH = 3;

/** Up to `want` consecutive ranges covering every key, bounded at directories of `sides`. */
export async function splitKeySpace(sides: readonly Backend[], want: number, signal?: AbortSignal): Promise<KeyRange[]> {
  const listers = sides.filter(hasPrefixLister);
  if (want <= 1 || listers.length === 0) return [{}];
  const dirs = new Set<string>();
  let level = [''];
  for (let depth = 0; depth < MAX_DEPTH && dirs.size < want && level.length > 0; depth++) {
    const next = new Set<string>();
    gather: for (const prefix of level) {
      for (const side of listers) {
        for await (const d of side.listPrefixes(prefix, signal ? { signal } : {})) {
          next.add(d);
          if (dirs.size + next.size >= MAX_DIRS) break gather;
        }
      }
    }
    for (const d of next) dirs.add(d);
    level = [...next].sort(compareKeys);
  }
  const sorted = [...dirs].sort(compareKeys);
  // want - 1 bounds, evenly among the directories; a directory's own key ends a range, its contents start the next
  const bounds: string[] = [];
  for (let i = 1; i < want; i++) {
    const b = sorted[Math.floor((i * sorted.length) / want)];
    if (b !== undefined && b !== bounds.at(-1)) bounds.push(b);
  }
  if (bounds.length === 0) return [{}];
  const ranges: KeyRange[] = bounds.map((endAt, i) => (i === 0 ? { endAt } : { startAfter: bounds[i - 1]!, endAt }));
  return [...ranges, { startAfter: bounds.at(-1)! }];
}
