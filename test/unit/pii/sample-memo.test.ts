/**
 * The column sample's values are detected once (PiiDetector.remember, used by the JSONL and
 * CSV handlers): the same output and report as detecting them again when they are written
 * out, and nothing remembered past the sample.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PiiDetector } from '../../../src/governance/pii/detect/detect.js';
import { scrub, TEST_KEY } from './helpers.js';

const CONFIG = { entities: { email: 'hash', phone: 'hash', card: 'mask', ip: 'hash' } };

function jsonl(records: number): Buffer {
  const lines = Array.from({ length: records }, (_, i) =>
    JSON.stringify({
      id: i,
      user: `u${i % 7}@example.com`,
      contact_email: `c${i}@example.com`,
      note: i % 3 === 0 ? `call (415) 555-${1000 + (i % 11)} about card 4111 1111 1111 1111` : `  padded ${i % 5} from 10.0.${i % 4}.9  `,
      ...(i % 10 === 0 ? { 'jane.doe@example.com': 'a key that holds an email' } : {}),
      nested: { items: [`order 12345-${i % 3}`, `mail ops${i % 2}@corp.example`] },
    }),
  );
  return Buffer.from(lines.join('\n') + '\n');
}

function csv(records: number): Buffer {
  const rows = ['id,contact,comment'];
  for (let i = 0; i < records; i++) rows.push(`${i},u${i % 7}@example.com,"call (415) 555-${1000 + (i % 11)}, then 10.0.${i % 4}.9"`);
  return Buffer.from(rows.join('\n') + '\n');
}

/** Each text the detector scanned (not answered from memory), as field + text; texts under 6 characters hold nothing and are not scanned. */
function spyOnScans(): string[] {
  const seen: string[] = [];
  const proto = PiiDetector.prototype as unknown as { find: (text: string, field: string | undefined) => unknown };
  const find = proto.find;
  vi.spyOn(proto, 'find').mockImplementation(function (this: unknown, text: string, field: string | undefined) {
    if (text.length >= 6) seen.push(`${field ?? ''}\u0000${text}`);
    return find.call(this, text, field);
  });
  return seen;
}

const duplicates = (xs: string[]): number => xs.length - new Set(xs).size;

afterEach(() => vi.restoreAllMocks());

describe('the column sample is detected once', () => {
  for (const [name, file, input] of [
    ['JSONL', 'f.jsonl', jsonl(120)],
    ['CSV', 'f.csv', csv(150)],
  ] as const) {
    it(`${name}: a file inside the sample scans each value once, with the same bytes and report as scanning it twice`, async () => {
      for (const config of [CONFIG, {}]) {
        const scans = spyOnScans();
        const once = await scrub(input, file, { config, key: TEST_KEY, splitAt: [777, 5000] });
        expect(duplicates(scans)).toBe(0);
        // A key its name decides (contact_email: email) is not profiled: none of its values is scanned.
        if (file === 'f.jsonl') expect(scans.filter((s) => s.startsWith('contact_email\u0000'))).toEqual([]);
        vi.restoreAllMocks();

        // The same run with memory off: every sampled value is detected again when written.
        vi.spyOn(PiiDetector.prototype, 'remember').mockImplementation(() => undefined);
        const rescans = spyOnScans();
        const twice = await scrub(input, file, { config, key: TEST_KEY, splitAt: [777, 5000] });
        vi.restoreAllMocks();
        expect(duplicates(rescans)).toBeGreaterThan(scans.length / 2);

        expect(once.output.equals(twice.output)).toBe(true);
        expect(once.report).toEqual(twice.report);
        expect(once.report.records).toBeGreaterThan(100);
        expect(once.text).not.toContain('u3@example.com');
        expect(once.text).not.toContain('c3@example.com');
      }
    });
  }

  for (const [name, file, input] of [
    ['JSONL', 'f.jsonl', jsonl(600)],
    ['CSV', 'f.csv', csv(700)],
  ] as const) {
    it(`${name}: a file longer than the sample gets the same bytes and report as with the memory off`, async () => {
      const withMemory = await scrub(input, file, { config: CONFIG, key: TEST_KEY, splitAt: [4096, 30_000] });
      vi.spyOn(PiiDetector.prototype, 'remember').mockImplementation(() => undefined);
      const without = await scrub(input, file, { config: CONFIG, key: TEST_KEY, splitAt: [4096, 30_000] });
      expect(withMemory.output.equals(without.output)).toBe(true);
      expect(withMemory.report).toEqual(without.report);
      expect(withMemory.report.records).toBeGreaterThanOrEqual(600);
    });
  }

  it('remembers nothing past the sample: values repeated later in the file are scanned again', async () => {
    const scans = spyOnScans();
    // 200 records are sampled (detect.sampleRecords); the file has 600.
    const r = await scrub(jsonl(600), 'f.jsonl', { config: CONFIG, key: TEST_KEY });
    expect(r.report.records).toBe(600);
    // This note is in records 0, 33, ..., 594: 7 of them among the 201 records read before the
    // columns are decided, 12 after. Scanned once for all 7 (decision and output), then at
    // each later record: 13. Kept memory would give 1; no memory 26.
    const note = scans.filter((s) => s.startsWith('note\u0000call (415) 555-1000 '));
    expect(note.length).toBe(13);
  });
});
