import { describe, expect, it } from 'vitest';
import { parseSize, parseDuration } from '../../../src/lib/units.js';
import { formatBitRate, formatDays } from '../../../src/ops/format.js';
import { parseBitRate, planBandwidth, requiredBitsPerSecond, transferMs } from '../../../src/ops/planner.js';
import { formatPlan, parseHeadroom } from '../../../src/cli/plan.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('bandwidth planner (hand-computed cases)', () => {
  it('40 TB/day in an 8 h window needs 11.1 Gbps; with 30% headroom a 14.4 Gbps link', () => {
    // 40e12 B * 8 = 3.2e14 bit; / 28 800 s = 1.111e10 bit/s; * 1.3 = 1.444e10 bit/s
    const p = planBandwidth([{ name: 'train', volumeBytes: parseSize('40TB'), everyMs: parseDuration('1d'), windowMs: parseDuration('8h') }]);
    expect(p.peakBitsPerSecond).toBeCloseTo(11_111_111_111.1, 0);
    expect(p.recommendedBitsPerSecond).toBeCloseTo(14_444_444_444.4, 0);
    expect(formatBitRate(p.peakBitsPerSecond)).toBe('11.1 Gbps');
    expect(formatBitRate(p.recommendedBitsPerSecond)).toBe('14.4 Gbps');
    // averaged over the day: 3.2e14 / 86 400 = 3.704e9
    expect(p.averageBitsPerSecond).toBeCloseTo(3_703_703_703.7, 0);
    // only the 100 Gbps dedicated option carries 14.4 Gbps
    expect(p.recommendedOptions).toEqual(['Direct Connect / ExpressRoute / Interconnect 100 Gbps']);
  });

  it('times each sync on each option: 40 TB takes 8.89 h on 10 Gbps (misses an 8 h window), 53 min on 100 Gbps', () => {
    const p = planBandwidth([{ name: 'train', volumeBytes: 40e12, everyMs: DAY, windowMs: 8 * HOUR }]);
    const ten = p.workloads[0]!.options.find((o) => o.option.includes('Interconnect 10 Gbps'))!;
    const hundred = p.workloads[0]!.options.find((o) => o.option.includes('100 Gbps'))!;
    expect(ten.syncMs / HOUR).toBeCloseTo(8.889, 3); // 3.2e14 / 1e10 = 32 000 s
    expect(ten.fitsWindow).toBe(false);
    expect(hundred.syncMs / 1000).toBeCloseTo(3200, 6);
    expect(hundred.fitsWindow).toBe(true);
    expect(ten.averageUtilization).toBeCloseTo(0.3704, 4);
  });

  it('sums concurrent workloads into the peak: 1 TB/h hourly (2.22 Gbps) + 10 TB in 10 h (2.22 Gbps) = 4.44 Gbps', () => {
    const p = planBandwidth(
      [
        { name: 'metadata', volumeBytes: 1e12, everyMs: HOUR },
        { name: 'bulk', volumeBytes: 10e12, everyMs: DAY, windowMs: 10 * HOUR },
      ],
      { headroom: 0.25 },
    );
    expect(p.workloads.map((w) => formatBitRate(w.requiredBitsPerSecond))).toEqual(['2.22 Gbps', '2.22 Gbps']);
    expect(formatBitRate(p.peakBitsPerSecond)).toBe('4.44 Gbps');
    expect(formatBitRate(p.recommendedBitsPerSecond)).toBe('5.56 Gbps');
    expect(p.recommendedOptions).toEqual(['Direct Connect / ExpressRoute / Interconnect 10 Gbps', 'Site-to-site VPN 10 Gbps']);
  });

  it('advises physical transfer for a 2 PB seed: 18.5 days on 10 Gbps is over the 7 day threshold', () => {
    // 2e15 * 8 / 1e10 = 1.6e6 s = 18.52 d; 2e15 / 80e12 = 25 devices
    const p = planBandwidth([{ name: 'seed', volumeBytes: 1e12, everyMs: DAY, seedBytes: 2e15 }], { linkBitsPerSecond: 10e9 });
    const seed = p.workloads[0]!.seed!;
    expect(seed.networkMs / DAY).toBeCloseTo(18.52, 2);
    expect(seed.physicalTransfer).toBe(true);
    expect(seed.devices).toBe(25);
    expect(seed.advice).toMatch(/physical transfer/);
  });

  it('keeps a seed on the network when it fits the threshold: 100 TB on 10 Gbps is 22.2 h', () => {
    const p = planBandwidth([{ name: 's', volumeBytes: 1e12, everyMs: DAY, seedBytes: 100e12 }], { linkBitsPerSecond: 10e9 });
    expect(p.workloads[0]!.seed!.physicalTransfer).toBe(false);
    expect(formatDays(p.workloads[0]!.seed!.networkMs)).toBe('22.2 h');
    // a 12 h threshold flips the advice
    const strict = planBandwidth([{ name: 's', volumeBytes: 1e12, everyMs: DAY, seedBytes: 100e12 }], { linkBitsPerSecond: 10e9, seedThresholdMs: 12 * HOUR });
    expect(strict.workloads[0]!.seed!.physicalTransfer).toBe(true);
  });

  it('rejects a window longer than the interval', () => {
    expect(() => planBandwidth([{ name: 'x', volumeBytes: 1, everyMs: HOUR, windowMs: 2 * HOUR }])).toThrow(/longer than the interval/);
  });

  it('parses decimal line rates and headroom forms', () => {
    expect(parseBitRate('10Gbps')).toBe(1e10);
    expect(parseBitRate('500 Mbps')).toBe(5e8);
    expect(parseBitRate('1.5Gbit/s')).toBe(1.5e9);
    expect(() => parseBitRate('10GB')).toThrow(/invalid rate/);
    expect(parseHeadroom('30%')).toBeCloseTo(0.3);
    expect(parseHeadroom('30')).toBeCloseTo(0.3);
    expect(parseHeadroom('0.3')).toBeCloseTo(0.3);
    expect(requiredBitsPerSecond(1e9, 8000)).toBe(1e9);
    expect(transferMs(1e9, 1e9)).toBe(8000);
  });

  it('prints a table with the unit conventions', () => {
    const text = formatPlan(planBandwidth([{ name: 'flags', volumeBytes: 40e12, everyMs: DAY, windowMs: 8 * HOUR }]));
    expect(text).toMatch(/TB = 10\^12 bytes/);
    expect(text).toMatch(/recommended: 14\.4 Gbps link \(peak \+ 30% headroom\)/);
    expect(text).toMatch(/Site-to-site VPN 1 Gbps\s+3\.7 d\s+no/);
  });
});
