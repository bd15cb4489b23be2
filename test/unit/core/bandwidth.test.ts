import { describe, expect, it, vi } from 'vitest';
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

  it('the pacer holds the total rate across callers (fake timers)', async () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const limiter = new BandwidthLimiter(() => 1000, () => now, 0); // 1000 B/s, no burst
      const done: number[] = [];
      // three workers each ask to send 500 bytes at t=0: they may start at 0, 0.5 s and 1 s
      const takes = [0, 1, 2].map((i) => limiter.take(500).then(() => void done.push(i)));
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toEqual([0]);
      await vi.advanceTimersByTimeAsync(499);
      expect(done).toEqual([0]);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toEqual([0, 1]);
      await vi.advanceTimersByTimeAsync(500);
      expect(done).toEqual([0, 1, 2]);
      await Promise.all(takes);
      // after an idle period the schedule does not bank unused time (burst 0)
      now = 10_000;
      let idle = false;
      const p = limiter.take(100).then(() => void (idle = true));
      await vi.advanceTimersByTimeAsync(0);
      expect(idle).toBe(true);
      await p;
    } finally {
      vi.useRealTimers();
    }
  });
});
