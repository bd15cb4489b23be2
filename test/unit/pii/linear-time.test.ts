import { describe, expect, it } from 'vitest';
import { detectPii } from '../../../src/governance/pii/index.js';
import { scanStats } from '../../../src/governance/pii/detect/scan-context.js';

/**
 * Adversarial inputs for every scanner: long digit runs, repeated separators, anchors
 * (`@`, `:`, `-`, `.`) with no valid match around them, near-misses of each format.
 * Linear time is checked by the scanners' own loop counters (exact, no timing); the
 * clock's view of the same — the whole detector and the format parsers for n and 4n
 * characters — is bench/linear-time.ts (timing does not belong in tests).
 */
const PATTERNS: Record<string, string> = {
  'digit run': '1',
  'digit groups': '1 ',
  'dashed digits': '12-',
  'dotted digits': '1.',
  'slashed digits': '1/',
  parentheses: '(1) ',
  'plus signs': '+1 ',
  'separators only': ' - ',
  'at signs': '@',
  'local@': 'a@',
  'dotted local part': 'a.',
  'domains without @': 'a.b-',
  colons: ':',
  'hex with colons': 'a:',
  'double colons': '::1',
  'mac-like dashes': 'aa-',
  'mac-like dots': 'aaaa.',
  'IBAN-like': 'DE89 ',
  'capitals and digits': 'AB12',
  'birth words and dates': 'born 1990-01-01 ',
  'month names': 'March 5, ',
  'card-like groups': '4111 ',
  'ssn-like': '123-45-',
  'phone-like': '(415) 555-',
  'ipv4-like': '1.2.3.',
  'mixed': '1-2.3/4 (5) +6 a@b: ',
};

function stepsFor(text: string): number {
  const before = scanStats.steps;
  detectPii(text);
  return scanStats.steps - before;
}

describe('linear-time detection on adversarial input', () => {
  it.each(Object.entries(PATTERNS))('%s: scanner steps grow linearly', (_name, unit) => {
    const n = 20_000;
    const small = unit.repeat(Math.ceil(n / unit.length));
    const large = unit.repeat(Math.ceil((4 * n) / unit.length));
    const a = stepsFor(small);
    const b = stepsFor(large);
    expect(b).toBeLessThanOrEqual(Math.max(8 * a, 64 * large.length)); // per-character bound holds at both sizes
    expect(b / Math.max(1, a)).toBeLessThan(5);
    expect(b).toBeLessThan(64 * large.length);
  });
});
