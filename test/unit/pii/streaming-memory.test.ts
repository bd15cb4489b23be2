import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createScrubber, defaultScrubConfig } from '../../../src/governance/pii/index.js';

const MB = 1 << 20;

/** The engine's gc(), for measuring what is retained rather than what is not yet collected. */
function getGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function block(rows: number, start: number): string {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const n = start + i;
    lines.push(
      `${n},user${n % 997}@example.com,(415) 555-${String(n % 10000).padStart(4, '0')},"note ${n}: card 4111 1111 1111 1111, ip 10.0.${n % 255}.${n % 200}",2024-01-15T10:20:30Z,${n * 7919}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('constant memory', () => {
  it('streams 200 MB of CSV through the scrubber with bounded heap and RSS growth', async () => {
    const gc = getGc();
    const total = 200 * MB;
    const chunk = Buffer.from(block(600, 0));
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        this.push(produced === 0 ? Buffer.concat([Buffer.from('id,email,phone,notes,ts,n\n'), chunk]) : chunk);
        produced += chunk.length;
      },
    });
    const scrubber = createScrubber(defaultScrubConfig(), { fileName: 'big.csv' });
    let written = 0;
    let nextSample = 16 * MB;
    let baseline: { heap: number; rss: number } | undefined;
    let maxRss = 0;
    let maxHeapAfterGc = 0;
    const sink = new Writable({
      highWaterMark: MB,
      write(c: Buffer, _e, cb) {
        written += c.length;
        if (written >= nextSample) {
          nextSample += 16 * MB;
          gc();
          const m = process.memoryUsage();
          if (baseline === undefined) baseline = { heap: m.heapUsed, rss: m.rss };
          maxHeapAfterGc = Math.max(maxHeapAfterGc, m.heapUsed);
          maxRss = Math.max(maxRss, m.rss);
        }
        cb();
      },
    });
    await pipeline(source, scrubber.transform, sink);
    const report = scrubber.report();
    expect(report.bytesIn).toBeGreaterThanOrEqual(total);
    expect(report.counts.card).toBeGreaterThan(1_000_000);
    expect(baseline).toBeDefined();
    // Retained memory does not grow with the input (a leak of even 10% of it would be 20 MB).
    expect(maxHeapAfterGc - baseline!.heap).toBeLessThan(8 * MB);
    // And the process as a whole stays far below the size of the data.
    expect(maxRss - baseline!.rss).toBeLessThan(64 * MB);
  }, 120_000);
});
