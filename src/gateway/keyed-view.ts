/**
 * A backend seen through a known set of keys: list() yields just those keys that exist
 * (one stat each, in key order), every other method is the backend's own. The write-back
 * runs the engine against this view of the upstream, so a batch of a few dirty files
 * compares against their own objects instead of listing the whole bucket.
 */
import type { Backend, ListOptions } from '../core/backend.js';
import { compareKeys, type Entry } from '../core/entry.js';

const STATS_IN_FLIGHT = 16;

export function keyedView(b: Backend, keys: readonly string[]): Backend {
  const sorted = [...new Set(keys)].sort(compareKeys);
  async function* list(opts: ListOptions = {}): AsyncGenerator<Entry> {
    const wanted = sorted.filter((k) => !opts.prefix || k.startsWith(opts.prefix));
    for (let i = 0; i < wanted.length; i += STATS_IN_FLIGHT) {
      const stats = await Promise.all(wanted.slice(i, i + STATS_IN_FLIGHT).map((k) => b.stat(k, opts.signal ? { signal: opts.signal } : {})));
      for (const e of stats) if (e) yield e;
    }
  }
  return new Proxy(b, {
    get(target, prop) {
      if (prop === 'list') return list;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
