import { mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { msOfNs, parseMtime, rfc3339Nano, unixSeconds } from '../../../src/lib/mtime.js';

describe('mtimes to the nanosecond', () => {
  it('msOfNs gives exactly the mtimeMs and ctimeMs node:fs reports for the same file (change tags and comparisons stay as they were)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-mtime-'));
    for (let i = 0; i < 50; i++) {
      const f = join(dir, `f${i}`);
      writeFileSync(f, String(i));
      if (i % 2) utimesSync(f, 1_700_000_000.123 + i / 7, 1_600_000_000 + i / 3);
      const n = statSync(f);
      const b = statSync(f, { bigint: true });
      expect(msOfNs(b.mtimeNs)).toBe(n.mtimeMs);
      expect(msOfNs(b.ctimeNs)).toBe(n.ctimeMs);
    }
    expect(msOfNs(-1_500_000_000n)).toBe(-1500); // before 1970: seconds round down, nanoseconds stay positive
  });

  it('writes the nanoseconds exactly as rclone does (decimal seconds on S3, RFC 3339 on Azure), and 3 decimals when only ms are known', () => {
    expect(unixSeconds(1_796_655_519_310.523, '1796655519310523048')).toBe('1796655519.310523048');
    expect(unixSeconds(1_796_655_519_310, '1796655519000000007')).toBe('1796655519.000000007');
    expect(unixSeconds(1_700_000_000_123)).toBe('1700000000.123');
    expect(rfc3339Nano(0, '1700000000123456789')).toBe('2023-11-14T22:13:20.123456789Z');
    expect(rfc3339Nano(1_700_000_000_123)).toBe('2023-11-14T22:13:20.123000000Z');
  });

  it('reads back what it wrote, and what rclone and older hybridsync wrote, with the exact nanoseconds where the text has them', () => {
    expect(parseMtime('1796655519.310523048')).toEqual({ ms: 1_796_655_519_310.523, ns: '1796655519310523048' });
    expect(parseMtime('1700000000.123')).toMatchObject({ ns: '1700000000123000000' });
    expect(parseMtime('1700000000')).toEqual({ ms: 1_700_000_000_000, ns: '1700000000000000000' });
    expect(parseMtime('2023-11-14T22:13:20.123456789Z')).toMatchObject({ ns: '1700000000123456789' });
    expect(parseMtime('2023-11-14T22:13:20Z')).toEqual({ ms: 1_700_000_000_000, ns: '1700000000000000000' });
    expect(parseMtime('2023-11-14T23:13:20.5+01:00')).toEqual({ ms: 1_700_000_000_500, ns: '1700000000500000000' });
    expect(parseMtime('1700000000.1234567891')).toEqual({ ms: 1_700_000_000_123.4568 }); // below a ns: ms only
    expect(parseMtime('-1.500')).toEqual({ ms: -1500, ns: '-1500000000' }); // before 1970
    expect(unixSeconds(0, '-1500000000')).toBe('-1.500000000');
    expect(parseMtime(unixSeconds(0, '-1500000000'))?.ns).toBe('-1500000000');
    expect(parseMtime(rfc3339Nano(0, '-1500000000'))?.ns).toBe('-1500000000');
    expect(parseMtime('yesterday')).toBeUndefined();
    expect(parseMtime('')).toBeUndefined();
    const ns = '1700000000123456789';
    expect(parseMtime(unixSeconds(0, ns))?.ns).toBe(ns);
    expect(parseMtime(rfc3339Nano(0, ns))?.ns).toBe(ns);
  });
});
