import { isIPv6 } from 'node:net';
import type { Finding } from '../types.js';
import { isHexCode, isWordCode, scanStats } from './scan-context.js';

/**
 * IPv6 and MAC addresses. Each `:`, `-` or `.` is an anchor: the scanner looks at a
 * bounded neighbourhood of it (an IPv6 address is at most 45 characters, a MAC 17), then
 * resumes after whatever it matched, so the work per character is bounded.
 */

const MAX_V6 = 45;

function isV6Code(c: number): boolean {
  return isHexCode(c) || c === 58 || c === 46;
}

/** IPv6 (`2001:db8::1`, `::ffff:10.0.0.1`) and colon MACs (`00:1a:2b:3c:4d:5e`). */
export function scanColonAddresses(text: string, out: Finding[]): void {
  // An IPv6 address has "::" or 7 colons, a MAC 5: times like 10:45:00 are rejected here.
  if (text.indexOf('::') < 0 && countUpTo(text, ':', 5) < 5) return;
  const n = text.length;
  let steps = 0;
  let p = text.indexOf(':');
  while (p >= 0) {
    // The maximal stretch of hex digits, colons and dots around p: at most one address.
    let a = p;
    const minA = Math.max(0, p - MAX_V6);
    while (a > minA && isV6Code(text.charCodeAt(a - 1))) a--;
    let end = p + 1;
    while (end < n && isV6Code(text.charCodeAt(end))) end++;
    steps += end - a;
    const tooLong = end - a > MAX_V6 || (a === minA && a > 0 && isV6Code(text.charCodeAt(a - 1)));
    if (!tooLong && (a === 0 || !isWordCode(text.charCodeAt(a - 1))) && (end >= n || !isWordCode(text.charCodeAt(end)))) {
      let b = end;
      // Trailing sentence punctuation and a lone trailing colon ("at fe80::1: ...") are not part of it.
      while (b > p + 1 && text.charCodeAt(b - 1) === 46) b--;
      if (b > p + 1 && text.charCodeAt(b - 1) === 58 && text.charCodeAt(b - 2) !== 58) b--;
      const type = b - a >= 4 ? classifyColonToken(text, a, b) : undefined;
      if (type) out.push({ type, start: a, end: b, score: 0.85 });
    }
    // Every other colon of this stretch would find the same stretch: skip past it.
    p = text.indexOf(':', end);
  }
  scanStats.steps += steps;
}

function classifyColonToken(text: string, a: number, b: number): 'ip' | 'mac' | undefined {
  const len = b - a;
  if (len === 17 && macAt(text, a, 58)) return 'mac';
  let colons = 0;
  let double = false;
  let groups = 0;
  let inGroup = false;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c === 58) {
      colons++;
      if (i > a && text.charCodeAt(i - 1) === 58) double = true;
      inGroup = false;
    } else if (!inGroup) {
      inGroup = true;
      groups++;
    }
  }
  if (colons < 2 || groups < 2) return undefined;
  if (!double && colons < 7) return undefined; // times like 10:20:30
  return isIPv6(text.slice(a, b)) ? 'ip' : undefined;
}

/** `xx<sep>xx<sep>xx<sep>xx<sep>xx<sep>xx` at `a` with hex pairs. */
function macAt(text: string, a: number, sep: number): boolean {
  for (let k = 0; k < 17; k++) {
    const c = text.charCodeAt(a + k);
    if (k % 3 === 2 ? c !== sep : !isHexCode(c)) return false;
  }
  return true;
}

/** Occurrences of `ch` in `text`, counting stops at `limit`. */
function countUpTo(text: string, ch: string, limit: number): number {
  let count = 0;
  for (let p = text.indexOf(ch); p >= 0 && count < limit; p = text.indexOf(ch, p + 1)) count++;
  return count;
}

/** MACs written with dashes (`00-1A-2B-3C-4D-5E`) or in Cisco dotted form (`001a.2b3c.4d5e`). */
export function scanDelimitedMacs(text: string, out: Finding[]): void {
  const n = text.length;
  if (n < 14) return;
  // Each dash or dot is checked for the separator one group further on before the full
  // shape: a cheap test that passes UUIDs, dates and sentences by.
  let p = text.indexOf('-');
  while (p >= 0 && p + 15 <= n) {
    const a = p - 2;
    if (text.charCodeAt(p + 3) === 45 && a >= 0 && macAt(text, a, 45) && boundaryOk(text, a, a + 17, 45)) {
      out.push({ type: 'mac', start: a, end: a + 17, score: 0.85 });
      p = text.indexOf('-', a + 17);
    } else {
      p = text.indexOf('-', p + 1);
    }
  }
  let q = text.indexOf('.');
  while (q >= 0 && q + 10 <= n) {
    const a = q - 4;
    if (text.charCodeAt(q + 5) === 46 && a >= 0 && ciscoMacAt(text, a) && boundaryOk(text, a, a + 14, 46)) {
      out.push({ type: 'mac', start: a, end: a + 14, score: 0.8 });
      q = text.indexOf('.', a + 14);
    } else {
      q = text.indexOf('.', q + 1);
    }
  }
  scanStats.steps += n >>> 4;
}

function ciscoMacAt(text: string, a: number): boolean {
  let letters = 0;
  for (let k = 0; k < 14; k++) {
    const c = text.charCodeAt(a + k);
    if (k === 4 || k === 9) {
      if (c !== 46) return false;
    } else if (!isHexCode(c)) return false;
    else if (c > 57) letters++;
  }
  // 1234.5678.9012 is a number, not a MAC.
  return letters > 0;
}

function boundaryOk(text: string, a: number, b: number, sep: number): boolean {
  const l = a > 0 ? text.charCodeAt(a - 1) : -1;
  const r = b < text.length ? text.charCodeAt(b) : -1;
  return !isWordCode(l) && l !== sep && !isWordCode(r) && !(r === sep && isWordCode(b + 1 < text.length ? text.charCodeAt(b + 1) : -1));
}
