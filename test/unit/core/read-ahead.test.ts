import { describe, expect, it } from 'vitest';
import { readAhead } from '../../../src/lib/queue.js';

/** A source that counts what was pulled from it and whether it was stopped. */
function counted(n: number, failAt?: number) {
  const seen = { pulled: 0, stopped: false };
  async function* gen(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error(`source failed at ${i}`);
        seen.pulled++;
        yield i;
        await Promise.resolve();
      }
    } finally {
      seen.stopped = true;
    }
  }
  return { seen, source: gen() };
}

describe('readAhead', () => {
  it('yields every item in order', async () => {
    const { source } = counted(1000);
    const out: number[] = [];
    for await (const x of readAhead(source, 16)) out.push(x);
    expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('pulls up to its capacity ahead of a consumer that has not asked yet, and no further', async () => {
    const { seen, source } = counted(1000);
    const it = readAhead(source, 16)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    // the consumer took one item: the queue holds at most 16 more, plus one waiting to be pushed
    expect(seen.pulled).toBeGreaterThanOrEqual(16);
    expect(seen.pulled).toBeLessThanOrEqual(18);
    await it.return?.(undefined);
    expect(seen.stopped).toBe(true);
  });

  it('passes a source failure on to the consumer after the items before it', async () => {
    const { source } = counted(100, 40);
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const x of readAhead(source, 8)) out.push(x);
      })(),
    ).rejects.toThrow('source failed at 40');
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('a consumer that stops early stops the source', async () => {
    const { seen, source } = counted(1_000_000);
    for await (const x of readAhead(source, 8)) if (x === 5) break;
    expect(seen.stopped).toBe(true);
    expect(seen.pulled).toBeLessThan(100);
  });
});
