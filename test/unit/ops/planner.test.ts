import { describe, expect, it } from 'vitest';
import { parseSize, parseDuration, parseSizeWithUnit } from '../../../src/lib/units.js';
import { formatBitRate, formatDays } from '../../../src/ops/format.js';
import { parseBitRate, planBandwidth, requiredBitsPerSecond, transferMs, utilizationState } from '../../../src/ops/planner.js';
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
    // and it names the seeding workflow: export a bundle, import it with any tool, adopt, then sync the delta
    expect(seed.advice).toMatch(/`hybridsync seed export SRC DIR`, import DIR\/data with any tool, `hybridsync adopt SRC DST`, and each sync moves only the delta \(docs\/scale\.md\)/);
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
    const text = formatPlan(planBandwidth([{ name: 'train', volumeBytes: 40e12, everyMs: DAY, windowMs: 8 * HOUR }]));
    expect(text).toMatch(/TB = 10\^12 bytes/);
    expect(text).toMatch(/recommended: 14\.4 Gbps link \(peak \+ 30% headroom\)/);
    expect(text).toMatch(/Site-to-site VPN 1 Gbps\s+3\.7 d\s+no/);
  });
});

describe('plan output a reader can act on', () => {
  const option = (p: ReturnType<typeof planBandwidth>, label: string) => p.workloads[0]!.options.find((o) => o.option === label)!;

  it('calls an option that cannot carry the workload over capacity with the factor, never a bare 741%', () => {
    // 40 TB a day is 3.70 Gbps on average: 7.41 times a 500 Mbps link, 3.70 times 1 Gbps
    const p = planBandwidth([{ name: 'train', volumeBytes: 40e12, everyMs: DAY }]);
    const sdwan = option(p, 'SD-WAN 500 Mbps');
    expect(sdwan.averageUtilization).toBeCloseTo(7.407, 3);
    expect(sdwan.utilization).toBe('over-capacity');
    expect(option(p, 'Site-to-site VPN 10 Gbps').utilization).toBe('ok');
    const text = formatPlan(p);
    expect(text).toMatch(/SD-WAN 500 Mbps\s+7\.41 d\s+no\s+over capacity: needs 7\.41\u00d7 the link/);
    expect(text).toMatch(/Site-to-site VPN 1 Gbps\s+3\.7 d\s+no\s+over capacity: needs 3\.7\u00d7 the link/);
    expect(text).toMatch(/Site-to-site VPN 10 Gbps\s+8\.89 h\s+yes\s+37%$/m);
    expect(text).not.toMatch(/\b(741|370|185)%/);
    // and what it means, under the table
    expect(text).toMatch(/over capacity on SD-WAN 500 Mbps; Site-to-site VPN 1 Gbps; SD-WAN 2 Gbps; Direct Connect \/ ExpressRoute \/ Interconnect 1 Gbps: 40 TB every 24 h is more than the link carries/);
    expect(text).toMatch(/choose a faster option or several links/);
  });

  it('still marks options above the 70% warning line, and only those', () => {
    // 16 TB a day: 1.48 Gbps on average, 74% of 2 Gbps (above 70%; one sync 17.8 h), 15% of 10 Gbps
    const p = planBandwidth([{ name: 'train', volumeBytes: 16e12, everyMs: DAY }]);
    expect(option(p, 'SD-WAN 2 Gbps').utilization).toBe('warning');
    expect(option(p, 'Site-to-site VPN 10 Gbps').utilization).toBe('ok');
    const text = formatPlan(p);
    expect(text).toMatch(/SD-WAN 2 Gbps\s+17\.8 h\s+yes\s+74% \(above 70%\)$/m);
    expect(text).toMatch(/above 70% on SD-WAN 2 Gbps: the link monitor would warn/);
    expect(text).toMatch(/monitor: {5}upgrade before utilization stays above 70%/);
    expect([utilizationState(0.7), utilizationState(0.71), utilizationState(1), utilizationState(1.01)]).toEqual(['ok', 'warning', 'warning', 'over-capacity']);
  });

  it('prints durations in s, min, h and d, never raw milliseconds', () => {
    expect([formatDays(0), formatDays(12_000), formatDays(30 * 60_000), formatDays(8 * HOUR), formatDays(48 * HOUR), formatDays(Infinity)]).toEqual(['0 s', '12 s', '30 min', '8 h', '2 d', 'never']);
    expect(() => planBandwidth([{ name: 'x', volumeBytes: 1e12, everyMs: DAY, windowMs: 2 * DAY }])).toThrow(/^x: the window \(2 d\) is longer than the interval \(24 h\)/);
    expect(() => planBandwidth([{ name: 'x', volumeBytes: 1e12, everyMs: DAY, windowMs: 2 * DAY }])).not.toThrow(/\d ms\b/);
    // a 40-byte sync takes a fraction of a second, shown as such (it was "0 min")
    expect(formatPlan(planBandwidth([{ name: 'tiny', volumeBytes: 40e6, everyMs: DAY }]))).toMatch(/SD-WAN 500 Mbps\s+0\.64 s\s+yes/);
  });

  it('refuses a volume without a unit instead of reading it as bytes; an explicit B is bytes', () => {
    expect(() => parseSizeWithUnit('40')).toThrow(/"40" has no unit, so it would mean 40 bytes: use a unit, e\.g\. 40TB \(10\^12 bytes\), 40TiB, 40GiB, or 40B if bytes are meant/);
    expect(() => parseSizeWithUnit(' 2.5 ')).toThrow(/"2\.5" has no unit/);
    expect(parseSizeWithUnit('40B')).toBe(40);
    expect(parseSizeWithUnit('40TB')).toBe(40e12);
    expect(parseSizeWithUnit('1TiB')).toBe(2 ** 40);
    expect(() => parseSizeWithUnit('40XB')).toThrow(/invalid size/);
    // options with an established bare-number meaning keep it
    expect(parseSize('1024')).toBe(1024);
  });
});
