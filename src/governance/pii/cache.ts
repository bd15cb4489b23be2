/**
 * A bounded memo for values that repeat (phone numbers, tokens of the same email): two
 * generations of at most `limit` entries each. New entries go into the young generation;
 * when it is full it becomes the old one and the previous old one is dropped, and a hit
 * in the old generation moves the entry back into the young one. So memory stays under
 * 2 x `limit` entries, values in steady use stay cached, and a stream of values seen
 * once costs one Map insert each instead of the periodic full clear of a single map
 * that drops the hot entries with the cold.
 */
export class BoundedCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held (both generations; a key promoted from the old one may be counted twice). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/**
 * A copy of `s` that shares no memory with it. A value cut out of a line is a view of the
 * whole line (or of the chunk it was decoded from); kept as a cache key, the view would
 * keep that text alive as long as the entry lives.
 */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}
