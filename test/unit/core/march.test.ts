import { describe, expect, it } from 'vitest';
import { compareKeys, type Entry } from '../../../src/core/entry.js';
import { march } from '../../../src/sync/march.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A real gc() without --expose-gc: the flag is set at runtime and a fresh context picks it up. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function* list(keys: string[]): AsyncGenerator<Entry> {
  for (const key of keys) yield { key, size: 1, mtimeMs: 0, mtimeExact: true };
}
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('march', () => {
  it('pairs keys of two sorted listings', async () => {
    const r = await collect(march(list(['a', 'b', 'd']), list(['b', 'c', 'd', 'e'])));
    expect(r.map((p) => [p.key, !!p.src, !!p.dst])).toEqual([
      ['a', true, false],
      ['b', true, true],
      ['c', false, true],
      ['d', true, true],
      ['e', false, true],
    ]);
  });

  it('stops the run on an unsorted listing rather than pairing wrongly (which could delete data)', async () => {
    await expect(collect(march(list(['b', 'a']), list([])))).rejects.toThrow(/not sorted/);
  });

  it('orders by UTF-8 bytes like S3, not UTF-16', () => {
    const keys = ['\u{1F642}', '\uFF5E', 'a/b', 'a-b', 'a'];
    expect([...keys].sort(compareKeys)).toEqual(['a', 'a-b', 'a/b', '\uFF5E', '\u{1F642}']);
  });

  it('memory stays flat: 1M-entry listings merge without holding them', async () => {
    async function* big(n: number, step: number): AsyncGenerator<Entry> {
      for (let i = 0; i < n; i += step) yield { key: `k/${String(i).padStart(8, '0')}`, size: i, mtimeMs: 0, mtimeExact: true };
    }
    // the heap that survives a full collection, so garbage not yet collected does not count
    const gc = exposedGc();
    const retained = (): number => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = retained();
    let pairs = 0;
    let peak = 0;
    let samples = 0;
    for await (const p of march(big(1_000_000, 1), big(1_000_000, 2))) {
      pairs++;
      if ((pairs & 0x1ffff) === 0) {
        samples++;
        peak = Math.max(peak, retained() - before);
      }
      void p;
    }
    expect(pairs).toBe(1_000_000);
    expect(samples).toBe(7);
    expect(peak).toBeLessThan(16 * 1024 * 1024); // holding the 1M entries seen would retain ~150 MB
  });
});
