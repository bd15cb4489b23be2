import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../src/lib/buffer-pool.js';
import { chunksOf } from '../../../src/lib/chunks.js';
import { seededRandom } from '../../helpers/rng.js';

async function* pieces(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of bufs) yield b;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(Buffer.from(b)); // copied: a pool may hand the buffer out again
  return out;
}

describe('chunksOf', () => {
  it('cuts any split of a stream into chunks of exactly the size, the last shorter, bytes unchanged (with and without a pool)', async () => {
    const rnd = seededRandom(7);
    for (let round = 0; round < 40; round++) {
      const data = randomBytes(Math.floor(rnd() * 5000));
      const cuts: Buffer[] = [];
      for (let off = 0; off < data.length; ) {
        const n = Math.min(data.length - off, 1 + Math.floor(rnd() * 900));
        cuts.push(data.subarray(off, off + n));
        off += n;
      }
      const size = 1 + Math.floor(rnd() * 1200);
      const pool = new BufferPool(1 << 20);
      for (const alloc of [undefined, (n: number) => pool.take(n)]) {
        const out = await collect(chunksOf(pieces(...cuts), size, alloc));
        expect(Buffer.concat(out).equals(data)).toBe(true);
        out.slice(0, -1).forEach((c) => expect(c.length).toBe(size));
        if (out.length) expect(out.at(-1)!.length).toBeLessThanOrEqual(size);
      }
    }
  });

  it('passes pieces that already are whole chunks through without copying, the short last one too', async () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(100).fill(1);
    const b = pool.take(100).fill(2);
    const last = pool.take(100).fill(3).subarray(0, 40);
    const seen: Buffer[] = [];
    for await (const c of chunksOf(pieces(a, b, last), 100, (n) => pool.take(n))) seen.push(c);
    expect(seen[0]).toBe(a);
    expect(seen[1]).toBe(b);
    expect(seen[2]).toBe(last);
  });
});

describe('BufferPool', () => {
  it('hands a given-back buffer out again, also when a view of its first bytes comes back', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(1000);
    pool.give(a.subarray(0, 10));
    expect(pool.take(1000).buffer).toBe(a.buffer);
    expect(pool.take(1000).buffer).not.toBe(a.buffer); // given back once, handed out once
  });

  it('keeps nothing it did not hand out, nothing past its idle limit, no view from the middle', () => {
    const pool = new BufferPool(2000);
    const foreign = Buffer.allocUnsafeSlow(1000);
    pool.give(foreign);
    expect(pool.take(1000).buffer).not.toBe(foreign.buffer);
    const [x, y, z] = [pool.take(1000), pool.take(1000), pool.take(1000)];
    pool.give(x.subarray(10)); // from the middle: ignored
    pool.give(y);
    pool.give(z);
    pool.give(x); // past the limit of 2000 idle bytes: ignored
    const again = [pool.take(1000), pool.take(1000), pool.take(1000)].map((b) => b.buffer);
    expect(again.slice(0, 2)).toEqual(expect.arrayContaining([y.buffer, z.buffer]));
    expect(again[2]).not.toBe(x.buffer);
  });
});
