import { describe, expect, it } from 'vitest';
import { defaultScrubConfig } from '../../../src/governance/pii/index.js';
import { JsonlScrubber } from '../../../src/governance/pii/formats/jsonl.js';
import { ValueScrubber } from '../../../src/governance/pii/value-scrubber.js';
import { scrub, TEST_KEY } from './helpers.js';

describe('JSONL scrubbing', () => {
  it('handles PII keys by dotted path and free text anywhere, leaving other bytes as they were', async () => {
    const line =
      '{"id": 12345678901234567890, "user": {"name": "Ann", "email": "ann@x.io", "ip": "10.0.0.1"}, ' +
      '"msg": "from 192.168.1.2 \\u00e9 card 4111 1111 1111 1111", "v": "1.2.3.4", "tags": ["ssn 123-45-6789", 1.5e3]}';
    const { text, report } = await scrub(`${line}\n`, 'events.jsonl');
    expect(text).toBe(
      '{"id": 12345678901234567890, "user": {"name": "<PERSON_NAME>", "email": "<EMAIL>", "ip": "<IP>"}, ' +
        '"msg": "from <IP> é card <CARD>", "v": "1.2.3.4", "tags": ["ssn <SSN>", 1.5e3]}\n',
    );
    expect(report.columns).toEqual(['user.name', 'user.email', 'user.ip']);
    expect(report.counts).toMatchObject({ person_name: 1, email: 1, ip: 2, card: 1, ssn: 1 });
  });

  it('drops fields, wherever they are in the object', async () => {
    const config = { columns: [{ match: 'secret', operator: 'drop' }, { match: '**.token', operator: 'drop' }] };
    const input = ['{"a":1,"secret":"x","b":2}', '{"secret":"x","b":2}', '{"a":1, "secret" : {"deep":[1,{"k":"}"}]}}', '{"secret":"x"}', '{"n":{"token":"t","keep":true}}'];
    const { text } = await scrub(`${input.join('\n')}\n`, 'x.jsonl', { config });
    expect(text.split('\n').slice(0, 5)).toEqual(['{"a":1,"b":2}', '{"b":2}', '{"a":1}', '{}', '{"n":{"keep":true}}']);
    for (const l of text.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('hashes whole objects under a PII key, leaf by leaf (a number becomes null: a token is not a number)', async () => {
    const { text } = await scrub('{"address":{"street":"1 Main St","city":"Springfield","zip":12345}}\n', 'x.jsonl', {
      config: { entities: { address: 'hash' } },
      key: TEST_KEY,
    });
    const doc = JSON.parse(text) as { address: Record<string, string | null> };
    expect(doc.address.street).toMatch(/^tok_address_/);
    expect(doc.address.city).toMatch(/^tok_address_/);
    expect(doc.address.zip).toBeNull();
  });

  it('re-escapes strings that had escapes, and keeps JSON valid', async () => {
    const { text } = await scrub('{"note":"say \\"hi\\" to ann@x.io\\n"}\n', 'x.jsonl');
    expect(JSON.parse(text)).toEqual({ note: 'say "hi" to <EMAIL>\n' });
  });

  it('scrubs a line that is not JSON as text and counts it', async () => {
    const { text, report } = await scrub('{"ok":1}\n{"broken": "ann@x.io"\n', 'x.jsonl');
    expect(text).toBe('{"ok":1}\n{"broken": "<EMAIL>"\n');
    expect(report.malformedRecords).toBe(1);
  });

  it('finds keys holding PII by their sampled values', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ k: `u${i}@example.com`, n: i }));
    const { report } = await scrub(`${lines.join('\n')}\n`, 'x.jsonl');
    expect(report.columnTypes).toEqual({ k: 'email' });
  });

  it('treats a bare "name" next to an email key as a person name', async () => {
    const { text } = await scrub('{"name":"Ann Lee","email":"a@x.io"}\n{"model":{"name":"resnet50"}}\n', 'x.jsonl');
    expect(text).toBe('{"name":"<PERSON_NAME>","email":"<EMAIL>"}\n{"model":{"name":"resnet50"}}\n');
  });

  it('handler output does not depend on how the text is cut', () => {
    const config = defaultScrubConfig();
    const text = '{"a":"ann@x.io","b":[1,"SSN 123-45-6789"]}\r\n{"c":"\\u00e9 10.0.0.1"}\nnot json 4111 1111 1111 1111\n{"d":1}';
    const run = (parts: string[]): string => {
      const h = new JsonlScrubber(config, new ValueScrubber(config, undefined));
      return parts.map((p) => h.write(p)).join('') + h.finish();
    };
    const whole = run([text]);
    expect(whole).toContain('<CARD>');
    for (let i = 0; i <= text.length; i++) expect(run([text.slice(0, i), text.slice(i)])).toBe(whole);
  });
});

describe('text and logs', () => {
  it('output does not depend on where chunks are cut', async () => {
    const text = 'a@b.io x\r\n(415) 555-0100 \u00e9\n10.0.0.1';
    const whole = await scrub(text, 'x.log');
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      expect((await scrub(bytes, 'x.log', { config: { limits: { sniffBytes: 512 } }, splitAt: [i] })).text).toBe(whole.text);
    }
  });

  it('scrubs every line and keeps line endings', async () => {
    const { text, report } = await scrub('GET / from 10.1.2.3\r\nuser=jane@doe.com uuid=550e8400-e29b-41d4-a716-446655440000\nlast', 'app.log');
    expect(text).toBe('GET / from <IP>\r\nuser=<EMAIL> uuid=550e8400-e29b-41d4-a716-446655440000\nlast');
    expect(report).toMatchObject({ format: 'text', passthrough: false, records: 3 });
  });

  it('splits an over-long line at a word boundary, never inside an identifier', async () => {
    const filler = 'word '.repeat(300);
    const line = `${filler}call (415) 555-0100 ${filler}`;
    const { text, report } = await scrub(`${line}\n`, 'x.log', { config: { limits: { maxRecordBytes: 1024 } } });
    expect(text).toBe(`${filler}call <PHONE> ${filler}\n`);
    expect(report.forcedSplits).toBe(0);
  });
});

describe('format choice and passthrough', () => {
  it('passes binary and compressed files through untouched, and says why', async () => {
    const gz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x40, 0x62]);
    for (const [name, bytes, reason] of [
      ['data.parquet', Buffer.from('PAR1 ann@x.io'), /\.parquet files are not a text format/],
      ['dump.bin.gz', gz, /\.gz files/],
      ['unknown.dat', gz, /content is gzip/],
      ['weights', Buffer.concat([Buffer.from('ann@x.io'), Buffer.alloc(8)]), /binary \(contains NUL bytes\)/],
      ['utf16.txt', Buffer.from('\ufeffann@x.io', 'utf16le'), /UTF-16/],
    ] as const) {
      const { output, report } = await scrub(bytes, name);
      expect(output.equals(bytes)).toBe(true);
      expect(report.passthrough).toBe(true);
      expect(report.format).toBe('binary');
      expect(report.reason).toMatch(reason);
    }
  });

  it('sniffs the format of files without a known extension', async () => {
    expect((await scrub('{"a":"ann@x.io"}\n{"b":2}\n', 'events')).report.format).toBe('jsonl');
    expect((await scrub('a,b,c\n1,2,3\n4,5,6\n', 'table')).report.format).toBe('csv');
    expect((await scrub('a\tb\n1\t2\n', 'table')).report.format).toBe('tsv');
    expect((await scrub('hello ann@x.io, how are you\nfine\n', 'notes')).report.format).toBe('text');
    expect((await scrub('{"a":"ann@x.io"}\n', 'x.txt', { format: 'jsonl' })).report.format).toBe('jsonl');
  });

  it('reads non-UTF-8 text as Latin-1 so every other byte is kept exactly', async () => {
    const input = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' ann@x.io '), Buffer.from([0xff, 0x0a])]);
    const { output, report } = await scrub(input, 'legacy.txt');
    expect(report.encoding).toBe('latin1');
    expect(output.equals(Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' <EMAIL> '), Buffer.from([0xff, 0x0a])]))).toBe(true);
  });

  it('keeps a UTF-8 byte order mark and multi-byte characters split across chunks', async () => {
    const line = '\ufeffnamé,email\nÅsa 😀,åsa@x.io\n';
    const bytes = Buffer.from(line.repeat(40)); // over the 512-byte sniff window
    const whole = await scrub(bytes, 'x.csv', { config: { limits: { sniffBytes: 512 } } });
    expect(whole.text.startsWith('\ufeffnamé,email\nÅsa 😀,<EMAIL>\n')).toBe(true);
    // Every byte position past the sniff window (where the stream is decoded chunk by chunk).
    for (let i = 512; i < bytes.length; i++) {
      const split = await scrub(bytes, 'x.csv', { config: { limits: { sniffBytes: 512 } }, splitAt: [i] });
      expect(split.output.equals(whole.output)).toBe(true);
    }
    const byteByByte = await scrub(bytes, 'x.csv', { config: { limits: { sniffBytes: 512 } }, splitAt: Array.from({ length: bytes.length }, (_, k) => k) });
    expect(byteByByte.output.equals(whole.output)).toBe(true);
  });
});

describe('JSON keys', () => {
  it('scrubs personal data used as a key, and keeps it out of the report', async () => {
    const { text, report } = await scrub('{"scores":{"jane@example.com":3,"bob@example.org":{"email":"bob@example.org"}}}\n', 'x.jsonl', {
      config: { entities: { email: 'hash' } },
      key: TEST_KEY,
    });
    expect(text).not.toContain('example');
    const doc = JSON.parse(text) as { scores: Record<string, unknown> };
    expect(Object.keys(doc.scores)).toHaveLength(2);
    expect(JSON.stringify(report)).not.toContain('example');
    expect(report.columns).toEqual(['scores.*.email']);
    expect(doc.scores).toMatchObject({ [Object.keys(doc.scores)[0]!]: 3 });
  });
});

describe('JSON keys guessed from the previous record', () => {
  it('a key is guessed only when it is exactly the same text: longer, shorter, escaped, reordered, malformed and PII keys are read afresh', async () => {
    const lines = [
      '{"secret":"s1","note":"call 415-555-0100"}',
      '{"secret":"s2","note":"x"}',
      '{"secretive":"s3","note":"x"}',
      '{"secre":"s4","note":"x"}',
      '{"secr\\u0065t":"s5","note":"x"}',
      '{"note":"x","secret":"s6"}',
      '{"secret"x":"s7"}',
      '{"jane@example.com":1,"secret":"s8"}',
      '{"secret":{"secret":"s9"},"note":"x"}',
      '{"secret":"s10","note":"x"}',
    ];
    const { text, report } = await scrub(`${lines.join('\n')}\n`, 'x.jsonl', {
      config: { columns: [{ match: 'secret', operator: 'redact' }], detect: { sampleRecords: 2 } },
    });
    expect(text.split('\n')).toEqual([
      '{"secret":"","note":"call <PHONE>"}',
      '{"secret":"","note":"x"}',
      '{"secretive":"s3","note":"x"}',
      '{"secre":"s4","note":"x"}',
      '{"secr\\u0065t":"","note":"x"}',
      '{"note":"x","secret":""}',
      '{"secret"x":"s7"}',
      '{"<EMAIL>":1,"secret":""}',
      '{"secret":{"secret":""},"note":"x"}',
      '{"secret":"","note":"x"}',
      '',
    ]);
    expect(report.malformedRecords).toBe(1);
    expect(report.counts.email).toBe(1);
    expect(report.counts.phone).toBe(1);
  });
});
