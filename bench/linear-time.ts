/**
 * Linear time of the PII detector and the format parsers on adversarial input, by the
 * clock: time for 4n characters over time for n (linear is ~4, quadratic ~16). Timing
 * belongs here, not in the test suite (test/unit/pii/linear-time.test.ts proves the
 * scanners linear by their step counters). Best of interleaved rounds, so load from other
 * processes, which only ever adds time, affects both sizes alike.
 *   npx tsx bench/linear-time.ts
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createScrubber, defaultScrubConfig, detectPii, loadScrubConfig } from '../src/governance/pii/index.js';

const DETECTOR_INPUTS = ['1', '1 ', '12-', '1.', '(1) ', '+1 ', '@', 'a@', 'a.b-', ':', 'a:', '::1', 'aa-', 'aaaa.', 'DE89 ', 'AB12', 'born 1990-01-01 ', '4111 ', '123-45-', '(415) 555-', '1.2.3.', '1-2.3/4 (5) +6 a@b: '];
const FILES: Array<[string, string, (n: number) => string]> = [
  ['JSON string of backslashes and quotes', 'x.jsonl', (n) => `{"a":"${'\\\\\\"'.repeat(n)}"}\n`],
  ['deeply nested JSON (falls back to text)', 'x.jsonl', (n) => `${'['.repeat(n)}\n`],
  ['CSV of quotes', 'x.csv', (n) => `a,"${'""'.repeat(n)}"\n`],
  ['CSV of delimiters', 'x.csv', (n) => `${','.repeat(n)}\n`],
  ['one long text line of digits and spaces', 'x.log', (n) => `${'1 '.repeat(n)}\n`],
];

async function timed(run: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - t0);
}

async function ratio(small: () => unknown, large: () => unknown, rounds = 5): Promise<number> {
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

async function scrub(text: string, fileName: string): Promise<void> {
  const s = createScrubber(loadScrubConfig({ limits: { maxRecordBytes: 16 << 20 } }) ?? defaultScrubConfig(), { fileName });
  await pipeline(Readable.from([Buffer.from(text)]), s.transform, new Writable({ write: (_c, _e, cb) => cb() }));
}

const rows: Array<[string, number]> = [];
const all = DETECTOR_INPUTS.join('');
rows.push(['whole detector, every pattern', await ratio(() => detectPii(all.repeat(Math.ceil(50_000 / all.length))), () => detectPii(all.repeat(Math.ceil(200_000 / all.length))))]);
for (const unit of DETECTOR_INPUTS) {
  rows.push([`detector: ${JSON.stringify(unit)}`, await ratio(() => detectPii(unit.repeat(Math.ceil(50_000 / unit.length))), () => detectPii(unit.repeat(Math.ceil(200_000 / unit.length))))]);
}
for (const [name, file, make] of FILES) rows.push([`parser: ${name}`, await ratio(() => scrub(make(50_000), file), () => scrub(make(200_000), file), 3)]);
let worst = 0;
for (const [name, r] of rows) {
  worst = Math.max(worst, r);
  console.log(`${r.toFixed(1).padStart(6)}x  ${name}`);
}
console.log(`time for 4x the input: worst ${worst.toFixed(1)}x (linear ~4x, quadratic ~16x)`);
