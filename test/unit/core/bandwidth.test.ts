import { describe, expect, it } from 'vitest';
import { BandwidthLimiter, parseBwTimetable, rateAt } from '../../../src/lib/bandwidth.js';

// 2026-11-23 is a Monday
const at = (s: string): Date => new Date(`2026-11-${s}`);

describe('--bwlimit timetable (rclone syntax)', () => {
  it('single rate: bare numbers are KiB/s, suffixes binary', () => {
    expect(rateAt(parseBwTimetable('512'), at('23T10:00:00'))).toBe(512 * 1024);
    expect(rateAt(parseBwTimetable('10M'), at('23T10:00:00'))).toBe(10 * 1024 * 1024);
    expect(rateAt(parseBwTimetable('off'), at('23T10:00:00'))).toBe(Infinity);
  });

  it('daily timetable wraps around midnight', () => {
    const t = parseBwTimetable('08:00,512K 19:00,off');
    expect(rateAt(t, at('23T07:59:00'))).toBe(Infinity); // still last night's "off"
    expect(rateAt(t, at('23T08:00:00'))).toBe(512 * 1024);
    expect(rateAt(t, at('23T18:59:00'))).toBe(512 * 1024);
    expect(rateAt(t, at('23T19:00:00'))).toBe(Infinity);
  });

  it('weekday form', () => {
    const t = parseBwTimetable('Mon-08:00,1M Sat-00:00,off');
    expect(rateAt(t, at('23T09:00:00'))).toBe(1024 * 1024); // Monday
    expect(rateAt(t, at('28T09:00:00'))).toBe(Infinity); // Saturday
    expect(rateAt(t, at('23T07:00:00'))).toBe(Infinity); // Monday before 08:00: still the weekend's off
  });

  it('rejects malformed entries with a message naming them', () => {
    expect(() => parseBwTimetable('08:00,fast')).toThrow(/"fast" is not a rate/);
    expect(() => parseBwTimetable('25:00,1M')).toThrow(/invalid time/);
    expect(() => parseBwTimetable('Xyz-08:00,1M')).toThrow(/weekday/);
  });

  it('the pacer holds the total rate across callers (virtual clock)', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new BandwidthLimiter(() => 1000, () => now, 0);
    // three workers each sending 500 bytes at t=0: the second waits 0.5 s, the third 1 s
    for (let i = 0; i < 3; i++) {
      const t0 = now;
      const p = limiter.take(500);
      waits.push(t0);
      void p;
    }
    // nextFree advanced by 1.5 s for 1500 bytes at 1000 B/s
    now = 1500;
    const start = Date.now();
    await limiter.take(1);
    expect(Date.now() - start).toBeLessThan(50);
    expect(waits).toHaveLength(3);
  });
});
