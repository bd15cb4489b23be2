import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local/index.js';
import { MemoryBackend } from '../../../src/backends/memory/index.js';
import type { Body, WriteOptions } from '../../../src/core/backend.js';
import type { WriteMeta } from '../../../src/core/entry.js';
import { ByteBudget } from '../../../src/lib/byte-budget.js';
import { runSync } from '../../../src/sync/execute.js';
import { StateDb } from '../../../src/sync/state.js';

describe('ByteBudget', () => {
  it('holds takers past the capacity until bytes come back, in order; an oversized request goes alone', async () => {
    const b = new ByteBudget(100);
    const order: string[] = [];
    const r1 = await b.take(60);
    const p2 = b.take(60).then((r) => (order.push('second'), r));
    const p3 = b.take(10).then((r) => (order.push('third'), r)); // fits, but waits its turn
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    r1();
    const r2 = await p2;
    const r3 = await p3;
    expect(order).toEqual(['second', 'third']);
    expect(b.inUse).toBe(70);
    const big = b.take(500).then((r) => (order.push('big'), r));
    r2();
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['second', 'third']); // 10 bytes still held
    r3();
    r3(); // giving back twice is harmless
    (await big)();
    expect(order.at(-1)).toBe('big');
    expect(b.inUse).toBe(0);
  });

  it('an aborted waiter leaves the queue and the ones behind it proceed', async () => {
    const b = new ByteBudget(10);
    const r1 = await b.take(10);
    const ac = new AbortController();
    const p2 = b.take(5, ac.signal);
    const p3 = b.take(5);
    ac.abort(new Error('stop'));
    await expect(p2).rejects.toThrow('stop');
    r1();
    (await p3)();
    expect(b.inUse).toBe(0);
  });
});

describe("the run's memory budget", () => {
  it('bounds the file data in flight across all transfers (16 transfers, 1 MiB budget, 400 KiB files: at most two at once)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'budget-'));
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, `shard-${i}.bin`), Buffer.alloc(400 * 1024, i));
    const src = new LocalBackend(dir, dir);
    const dst = new MemoryBackend();
    let inFlight = 0;
    let peak = 0;
    const write = dst.write.bind(dst);
    dst.write = async (key: string, body: Body, meta: WriteMeta, opts?: WriteOptions) => {
      inFlight += meta.size;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      try {
        return await write(key, body, meta, opts);
      } finally {
        inFlight -= meta.size;
      }
    };
    const s = await runSync({ mode: 'copy', src, dst, state: new StateDb(':memory:'), transfers: 16, bufferMemory: 1024 * 1024 });
    expect(s.transferred).toBe(12);
    expect(peak).toBe(2 * 400 * 1024);
    expect(dst.objects.get('shard-7.bin')!.data.equals(Buffer.alloc(400 * 1024, 7))).toBe(true);
  });
});
