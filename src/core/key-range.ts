/**
 * Key ranges of a listing (ListOptions.startAfter / endAt): the keys k with
 * startAfter < k <= endAt in compareKeys order. A cluster shard is such a range, run as an
 * ordinary engine run; every backend narrows its listing with these helpers.
 */
import { compareKeys, type Entry } from './entry.js';

export interface KeyRange {
  /** Only keys after this one (exclusive). */
  readonly startAfter?: string;
  /** Only keys up to and including this one. */
  readonly endAt?: string;
}

export function inKeyRange(key: string, r: KeyRange): boolean {
  return (r.startAfter === undefined || compareKeys(key, r.startAfter) > 0) && (r.endAt === undefined || compareKeys(key, r.endAt) <= 0);
}

/**
 * Whether some key starting with `dirPrefix` (a directory, ending in '/') can be in the
 * range: a subtree sorts as one block, so it lies wholly before `startAfter` when that
 * bound is above the block and does not start with it, wholly after `endAt` when the block
 * starts above it.
 */
export function subtreeMayIntersect(dirPrefix: string, r: KeyRange): boolean {
  if (r.startAfter !== undefined && compareKeys(dirPrefix, r.startAfter) < 0 && !r.startAfter.startsWith(dirPrefix)) return false;
  if (r.endAt !== undefined && compareKeys(dirPrefix, r.endAt) > 0) return false;
  return true;
}

/**
 * The longest prefix every key of the range shares with `prefix` (what a server-side
 * prefix listing can be narrowed to): the keys between two bounds start with the bounds'
 * common prefix.
 */
export function rangeListPrefix(prefix: string, r: KeyRange): string {
  if (r.startAfter === undefined || r.endAt === undefined) return prefix;
  const a = r.startAfter;
  const b = r.endAt;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  // do not split a surrogate pair
  if (i > 0 && a.charCodeAt(i - 1) >= 0xd800 && a.charCodeAt(i - 1) <= 0xdbff) i--;
  const common = a.slice(0, i);
  return common.startsWith(prefix) ? common : prefix;
}

/** The entries of a sorted listing that are in the range; stops reading past `endAt`. */
export async function* withinKeyRange<T extends Entry>(it: AsyncIterable<T>, r: KeyRange): AsyncGenerator<T> {
  if (r.startAfter === undefined && r.endAt === undefined) {
    yield* it;
    return;
  }
  for await (const e of it) {
    if (r.endAt !== undefined && compareKeys(e.key, r.endAt) > 0) return;
    if (r.startAfter === undefined || compareKeys(e.key, r.startAfter) > 0) yield e;
  }
}
