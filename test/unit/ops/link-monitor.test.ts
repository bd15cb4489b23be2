import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/ops/clock.js';
import { LinkMonitor, type LinkWarning } from '../../../src/ops/link-monitor.js';

const MIN = 60_000;

/** A 1 Gbps link (125 MB/s) whose sent bytes the test sets per minute. */
function setup(warnAfterMs = 15 * MIN) {
  const clock = new ManualClock(0);
  let bytes = 0;
  const warnings: LinkWarning[] = [];
  const cleared: string[] = [];
  const monitor = new LinkMonitor({
    clock,
    sampleMs: MIN,
    links: [{ name: 'vpn', capacity: () => 125e6, bytes: () => bytes, warnAbove: 0.7, warnAfterMs }],
    onWarning: (w) => warnings.push(w),
    onClear: (l) => cleared.push(l),
  });
  monitor.start();
  /** `minutes` minutes at `share` of the link. */
  const run = (minutes: number, share: number): void => {
    for (let i = 0; i < minutes; i++) {
      bytes += share * 125e6 * 60;
      clock.advance(MIN);
    }
  };
  return { monitor, run, warnings, cleared };
}

describe('link monitor', () => {
  it('measures throughput and utilization per sample', () => {
    const t = setup();
    t.run(1, 0.5);
    const s = t.monitor.status()[0]!;
    expect(s.bitsPerSecond).toBeCloseTo(500e6, 0);
    expect(s.utilization).toBeCloseTo(0.5, 6);
    expect(s.capacityBitsPerSecond).toBe(1e9);
  });

  it('warns only when utilization stays above 70% for the configured period, and clears after', () => {
    const t = setup(15 * MIN);
    t.run(10, 0.8);
    t.run(1, 0.5); // a dip resets the period
    t.run(14, 0.8);
    expect(t.warnings).toHaveLength(0);
    t.run(1, 0.8); // 15 minutes above
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]!.message).toMatch(/above 70% of its capacity for 15 min \(now 80%\)/);
    t.run(5, 0.9);
    expect(t.warnings).toHaveLength(1); // once, not every sample
    expect(t.monitor.status()[0]!.warning).not.toBeNull();
    t.run(1, 0.6);
    expect(t.cleared).toEqual(['vpn']);
    expect(t.monitor.status()[0]!.warning).toBeNull();
  });

  it('does not warn at exactly the threshold', () => {
    const t = setup(5 * MIN);
    t.run(30, 0.7);
    expect(t.warnings).toHaveLength(0);
  });
});
