import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { detectPii } from '../../../src/governance/pii/index.js';
import { scanStats } from '../../../src/governance/pii/detect/scan-context.js';
import { scrub } from './helpers.js';

/**
 * Adversarial inputs for every scanner: long digit runs, repeated separators, anchors
 * (`@`, `:`, `-`, `.`) with no valid match around them, near-misses of each format.
 * Linear time is checked two ways: the scanners' own loop counters (exact, no timing),
 * and the time of the whole detector for n and 4n characters with a wide margin (linear
 * is 4x, quadratic 16x).
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

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function timed(run: () => unknown): Promise<number> {
  gc();
  const t0 = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - t0);
}

/**
 * Time of `large` over time of `small`: the best of several interleaved runs of each, so
 * that load from other processes (which only ever adds time) affects both alike.
 */
async function timeRatio(small: () => unknown, large: () => unknown, rounds = 5): Promise<number> {
  await small();
  await large();
  let a = Infinity;
  let b = Infinity;
  for (let i = 0; i < rounds; i++) {
    a = Math.min(a, await timed(small));
    b = Math.min(b, await timed(large));
  }
  return b / a;
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

  it('the whole detector takes about 4x as long for 4x the input (linear), never 16x (quadratic)', async () => {
    const unit = Object.values(PATTERNS).join('');
    const small = unit.repeat(Math.ceil(50_000 / unit.length));
    const large = unit.repeat(Math.ceil(200_000 / unit.length));
    expect(await timeRatio(() => detectPii(small), () => detectPii(large))).toBeLessThan(10);
  });
});

describe('linear-time parsing of adversarial files', () => {
  it.each([
    ['JSON string of backslashes and quotes', 'x.jsonl', (n: number) => `{"a":"${'\\\\\\"'.repeat(n)}"}\n`],
    ['deeply nested JSON (falls back to text)', 'x.jsonl', (n: number) => `${'['.repeat(n)}\n`],
    ['CSV of quotes', 'x.csv', (n: number) => `a,"${'""'.repeat(n)}"\n`],
    ['CSV of delimiters', 'x.csv', (n: number) => `${','.repeat(n)}\n`],
    ['one long text line of digits and spaces', 'x.log', (n: number) => `${'1 '.repeat(n)}\n`],
  ])('%s', async (_name, file, make) => {
    const config = { limits: { maxRecordBytes: 16 << 20 } };
    const small = make(50_000);
    const large = make(200_000);
    expect(await timeRatio(() => scrub(small, file, { config }), () => scrub(large, file, { config }), 3)).toBeLessThan(10);
  });
});
