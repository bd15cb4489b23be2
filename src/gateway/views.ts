/**
 * Views of a backend that the gateway hands to the engine.
 *
 * keyedView: list() yields just a known set of keys that exist (one stat each unless the
 * caller looked them up already, in key order); every other method is the backend's own. The write-back runs the engine against
 * this view of the upstream, so a batch of a few dirty files compares against their own
 * objects instead of listing the whole bucket.
 *
 * stagedView: reads and stats of the keys in `staged` come from the file staged for them
 * (a PUT body not yet committed), so the policy gate can classify a write — content
 * detectors included — before the gateway accepts it.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Backend, ListOptions, OpOptions, ReadOptions } from '../core/backend.js';
import { compareKeys, type Entry } from '../core/entry.js';

const STATS_IN_FLIGHT = 16;

/** `b` with some methods replaced; the rest bound to `b`. */
function overlay(b: Backend, replaced: Partial<Backend>): Backend {
  return new Proxy(b, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(replaced, prop)) return replaced[prop as keyof Backend];
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** `known`: entries already looked up (null: no such object), listed without asking again. */
export function keyedView(b: Backend, keys: readonly string[], known?: ReadonlyMap<string, Entry | null>): Backend {
  const sorted = [...new Set(keys)].sort(compareKeys);
  async function* list(opts: ListOptions = {}): AsyncGenerator<Entry> {
    const wanted = sorted.filter((k) => !opts.prefix || k.startsWith(opts.prefix));
    for (let i = 0; i < wanted.length; i += STATS_IN_FLIGHT) {
      const stat = (k: string): Promise<Entry | undefined> => {
        const e = known?.get(k);
        return e !== undefined ? Promise.resolve(e ?? undefined) : b.stat(k, opts.signal ? { signal: opts.signal } : {});
      };
      const stats = await Promise.all(wanted.slice(i, i + STATS_IN_FLIGHT).map(stat));
      for (const e of stats) if (e) yield e;
    }
  }
  return overlay(b, { list });
}

export function stagedView(b: Backend, staged: ReadonlyMap<string, string>): Backend {
  return overlay(b, {
    async stat(key: string, opts?: OpOptions): Promise<Entry | undefined> {
      const file = staged.get(key);
      if (!file) return b.stat(key, opts);
      const st = await stat(file);
      return { key, size: st.size, mtimeMs: st.mtimeMs, mtimeExact: true };
    },
    async read(key: string, opts: ReadOptions = {}): Promise<Readable> {
      const file = staged.get(key);
      if (!file) return b.read(key, opts);
      const start = opts.start ?? 0;
      return opts.end !== undefined ? createReadStream(file, opts.end > start ? { start, end: opts.end - 1 } : { start: 0, end: -1 }) : createReadStream(file, { start });
    },
  });
}
