import { describe, expect, it } from 'vitest';
import { loadScrubConfig } from '../../../src/governance/pii/index.js';
import { JsonlScrubber } from '../../../src/governance/pii/formats/jsonl.js';
import { TextScrubber } from '../../../src/governance/pii/formats/text.js';
import { ValueScrubber } from '../../../src/governance/pii/value-scrubber.js';
import { scrub, TEST_KEY } from './helpers.js';
import { seededRandom as rng } from '../../helpers/rng.js';

/**
 * The scrubber reads JSON Lines and text line by line as bytes: an unchanged line is
 * copied through, a changed line of single-byte characters gets its replacements spliced
 * into the original bytes, and other lines are written from the edited string. These
 * tests hold that path to the text path (the same handler fed strings), on lines of every
 * kind and cut into chunks anywhere, and check the bytes a user would check.
 */


const JSON_LINES = [
  '{"id":1,"email":"ann@x.io","msg":"call (415) 555-0100 or +44 20 7946 0958","n":1.50}',
  '{"id":2,"note":"Müller paid with 4111 1111 1111 1111 from 10.0.0.1","v":"1.2.3"}',
  '{"id":3,"note":"Yılmaz <yilmaz@example.com>, SSN 123-45-6789","ok":true}',
  '{"id":4,"trace":"4bf92f3577b34da6a3ce929d0e0e4736","ts":"2025-02-26T11:48:19.400Z"}',
  '  {"spaced" : "ann@x.io" , "x" : [ "10.1.2.3" , 7 ] }  ',
  '{"esc":"say \\"hi\\" to bob@y.org\\n","u":"\\u00e9 192.168.0.1"}',
  '{"ann@x.io": 3, "nested": {"deep": ["+1 415 555 0100", {"k": "DE89 3704 0044 0532 0130 00"}]}}',
  '',
  '   ',
  'not json at all, mail carl@z.net',
  '{"broken": "dana@w.io"',
  '{"clean":"nothing to see here","n":[1,2,3]}',
  '{"emoji":"😀 eve@v.io 😀","mac":"00:1a:2b:3c:4d:5e"}',
];

const TEXT_LINES = [
  'GET / from 10.1.2.3 user=jane@doe.com',
  'Müller called (415) 555-0100 about card 4111-1111-1111-1111',
  'Yılmaz: IBAN DE89 3704 0044 0532 0130 00, born 1980-01-02',
  'nothing here, just a uuid 550e8400-e29b-41d4-a716-446655440000',
  '',
  '\t  indented 192.168.1.1  ',
  'emoji 😀 and +49 30 901820',
];

function corpus(lines: readonly string[], n: number, r: () => number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(lines[Math.floor(r() * lines.length)]!, r() < 0.2 ? '\r\n' : '\n');
  if (r() < 0.5) out.pop(); // sometimes no line ending at the very end
  return out.join('');
}

/** Cut points for the bytes: random, including inside multi-byte characters. */
function cuts(length: number, r: () => number, count: number): number[] {
  const xs = new Set<number>();
  while (xs.size < count) xs.add(1 + Math.floor(r() * (length - 1)));
  return [...xs].sort((a, b) => a - b);
}

describe('line-by-line byte path', () => {
  const config = { detect: { sampleRecords: 3 } };

  it('JSON Lines: the same output as the text path, however the bytes are cut', async () => {
    const r = rng(1);
    const text = corpus(JSON_LINES, 400, r);
    const handler = new JsonlScrubber(loadScrubConfig(config), new ValueScrubber(loadScrubConfig(config), undefined));
    const expected = handler.write(text) + handler.finish();
    expect(expected).toContain('<EMAIL>');
    expect(expected).not.toContain('ann@x.io');
    for (let k = 0; k < 6; k++) {
      const { text: out, report } = await scrub(text, 'x.jsonl', { config, splitAt: cuts(Buffer.byteLength(text), r, 1 + k * 20) });
      expect(out).toBe(expected);
      expect(report.malformedRecords).toBeGreaterThan(0);
    }
  });

  it('JSON Lines: unchanged lines come out byte for byte, changed ones keep everything around the values', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `{ "i" : ${i} ,"f":1.50e0, "s":"kept \\u00e9 ${i}"}`);
    lines.push('{"a" :  "ann@x.io" , "b":"x"}');
    const input = `${lines.join('\r\n')}\r\n`;
    const { output } = await scrub(input, 'x.jsonl', { config });
    expect(output.toString()).toBe(input.replace('ann@x.io', '<EMAIL>'));
  });

  it('plain text: the same output as the text path, however the bytes are cut', async () => {
    const r = rng(2);
    const text = corpus(TEXT_LINES, 300, r);
    const handler = new TextScrubber(loadScrubConfig({}), new ValueScrubber(loadScrubConfig({}), undefined));
    const expected = handler.write(text) + handler.finish();
    expect(expected).toContain('<PHONE>');
    for (let k = 0; k < 6; k++) {
      const { text: out } = await scrub(text, 'x.log', { splitAt: cuts(Buffer.byteLength(text), r, 1 + k * 20) });
      expect(out).toBe(expected);
    }
  });

  it('Latin-1 input: replaced values spliced in, every other byte kept', async () => {
    const line = Buffer.concat([Buffer.from('{"n":"caf'), Buffer.from([0xe9]), Buffer.from(' ann@x.io","m":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
    const input = Buffer.concat(Array.from({ length: 20 }, () => line));
    const { output, report } = await scrub(input, 'legacy.jsonl', { config });
    expect(report.encoding).toBe('latin1');
    const want = Buffer.concat([Buffer.from('{"n":"caf'), Buffer.from([0xe9]), Buffer.from(' <EMAIL>","m":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
    expect(output.equals(Buffer.concat(Array.from({ length: 20 }, () => want)))).toBe(true);
  });

  it('hash tokens spliced into the bytes are the tokens of the text path', async () => {
    const hashing = { ...config, entities: { email: 'hash', phone: 'hash', ip: 'hash' } };
    const text = corpus(JSON_LINES, 100, rng(3));
    const c = loadScrubConfig(hashing);
    const { Pseudonymizer } = await import('../../../src/governance/pii/operators.js');
    const handler = new JsonlScrubber(c, new ValueScrubber(c, new Pseudonymizer(TEST_KEY)));
    const expected = handler.write(text) + handler.finish();
    expect(expected).toMatch(/tok_email_/);
    expect((await scrub(text, 'x.jsonl', { config: hashing, key: TEST_KEY, splitAt: [1000, 3000] })).text).toBe(expected);
  });

  it('a JSON line over the record limit fails the file, whole or cut in chunks', async () => {
    const long = `{"a":"${'x'.repeat(3000)}"}\n`;
    const input = `{"ok":1}\n${long}`;
    const limits = { limits: { maxRecordBytes: 1024, sniffBytes: 512 } };
    await expect(scrub(input, 'x.jsonl', { config: limits })).rejects.toThrow(/longer than the 1024-character record limit/);
    await expect(scrub(input, 'x.jsonl', { config: limits, splitAt: [600, 1500, 2500] })).rejects.toThrow(/longer than the 1024-character record limit/);
  });

  it('a text line over the record limit is cut at a word boundary, as on the text path', async () => {
    const filler = 'word '.repeat(400);
    const text = `short 10.0.0.1\n${filler}call (415) 555-0100 ${filler}\nlast ann@x.io\n`;
    const c = { limits: { maxRecordBytes: 1024, sniffBytes: 512 } };
    const handler = new TextScrubber(loadScrubConfig(c), new ValueScrubber(loadScrubConfig(c), undefined));
    const expected = handler.write(text) + handler.finish();
    expect(expected).toContain('call <PHONE> ');
    for (const splitAt of [[], [700], [100, 1500, 2100, 3000]]) {
      const { text: out, report } = await scrub(text, 'x.log', { config: c, splitAt });
      expect(out).toBe(expected);
      expect(report.forcedSplits).toBe(0);
    }
  });
});
