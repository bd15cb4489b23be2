import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BandwidthLimiter } from '../../../src/lib/bandwidth.js';
import { ManualClock } from '../../../src/ops/clock.js';
import { LinkGovernor, type Lane } from '../../../src/ops/governor.js';

const RATE = 1_000_000; // bytes/s
const CHUNK = 64 * 1024;
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A job: `workers` loops each taking CHUNK-sized tokens from its lane until stopped. */
function job(gov: LinkGovernor, lane: Lane, workers = 4, chunk = CHUNK) {
  const handle = gov.lane(lane);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const loops = Array.from({ length: workers }, async () => {
    while (!stop.signal.aborted) await handle.take(chunk, stop.signal).catch(() => undefined);
  });
  return { handle, stop: async () => (stop.abort(), await Promise.all(loops)) };
}

async function simulate(clock: ManualClock, ms: number, stepMs = 5): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await flush();
  }
}

describe('link governor', () => {
  it('splits a link evenly between two jobs in the same lane and holds the link rate', async () => {
    const clock = new ManualClock();
    const gov = new LinkGovernor({ name: 'dx', bytesPerSecond: () => RATE, clock });
    const a = job(gov, 'bulk');
    const b = job(gov, 'bulk');
    await simulate(clock, 10_000);
    await a.stop();
    await b.stop();
    const total = a.handle.bytes + b.handle.bytes;
    // 10 s at 1 MB/s, plus at most the look-ahead and the chunks in hand
    expect(total).toBeGreaterThan(0.97 * 10 * RATE);
    expect(total).toBeLessThan(1.03 * 10 * RATE);
    expect(a.handle.bytes / total).toBeCloseTo(0.5, 1);
  });

  it('gives the higher lane its weighted share (16:1) and never starves bulk', async () => {
    const clock = new ManualClock();
    const gov = new LinkGovernor({ name: 'dx', bytesPerSecond: () => RATE, clock });
    const meta = job(gov, 'metadata');
    const bulk = job(gov, 'bulk');
    await simulate(clock, 10_000);
    await meta.stop();
    await bulk.stop();
    const total = meta.handle.bytes + bulk.handle.bytes;
    expect(meta.handle.bytes / total).toBeGreaterThan(0.9); // 16/17 = 0.94
    expect(bulk.handle.bytes / total).toBeGreaterThan(0.03); // 1/17 = 0.059
    expect(gov.bytesGrantedIn('metadata')).toBe(meta.handle.bytes);
  });

  it('gives a lone bulk job the whole link (work-conserving)', async () => {
    const clock = new ManualClock();
    const gov = new LinkGovernor({ name: 'dx', bytesPerSecond: () => RATE, clock });
    const bulk = job(gov, 'bulk', 8);
    await simulate(clock, 5_000);
    await bulk.stop();
    expect(bulk.handle.bytes).toBeGreaterThan(0.97 * 5 * RATE);
  });

  it('lets a small metadata transfer through within one chunk time while a bulk push saturates the link', async () => {
    const clock = new ManualClock();
    const gov = new LinkGovernor({ name: 'dx', bytesPerSecond: () => RATE, clock });
    const bulk = job(gov, 'bulk', 16);
    await simulate(clock, 1_000);
    expect(gov.queuedIn('bulk')).toBeGreaterThan(8);
    const asked = clock.now();
    let grantedAt = -1;
    void gov.lane('metadata').take(4096).then(() => (grantedAt = clock.now()));
    await simulate(clock, 1_000, 1);
    await bulk.stop();
    // one 64 KiB chunk is 65.5 ms at 1 MB/s: the request waits for the 50 ms look-ahead already
    // granted and at most two bulk chunks, not for the 16 queued ones (1 s behind a FIFO)
    expect(grantedAt - asked).toBeGreaterThanOrEqual(0);
    expect(grantedAt - asked).toBeLessThanOrEqual(50 + 2 * 66);

  });

  it('rejects a queued take when its signal aborts and keeps serving the others', async () => {
    const clock = new ManualClock();
    const gov = new LinkGovernor({ name: 'dx', bytesPerSecond: () => RATE, clock });
    const bulk = job(gov, 'bulk', 4);
    await flush();
    const ac = new AbortController();
    const pending = gov.take('bulk', CHUNK, ac.signal);
    ac.abort(new Error('window closed'));
    await expect(pending).rejects.toThrow('window closed');
    await simulate(clock, 1_000);
    await bulk.stop();
    expect(bulk.handle.bytes).toBeGreaterThan(0.9 * RATE);
  });

  it('applies a job bwlimit under the link and passes everything through an unlimited link', async () => {
    const gov = new LinkGovernor({ name: 'lan', bytesPerSecond: () => Infinity });
    const h = gov.lane('artifacts');
    for (let i = 0; i < 100; i++) await h.take(CHUNK);
    expect(gov.bytesGranted).toBe(100 * CHUNK);
    expect(h.currentRate()).toBe(Infinity);
    const own = new BandwidthLimiter(() => 1000);
    expect(gov.lane('bulk', own).currentRate()).toBe(1000);
  });
});
