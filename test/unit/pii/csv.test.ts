import { describe, expect, it } from 'vitest';
import { defaultScrubConfig, loadScrubConfig } from '../../../src/governance/pii/index.js';
import { CsvParser, CsvScrubber, type CsvRecord } from '../../../src/governance/pii/formats/csv.js';
import { ValueScrubber } from '../../../src/governance/pii/value-scrubber.js';
import { scrub } from './helpers.js';

/** Records as read; `text` (set only when a record was read in one piece) is left out. */
function parse(text: string, chunks: string[] = [text]): Omit<CsvRecord, 'text'>[] {
  const p = new CsvParser(44, 1 << 20);
  const out: Omit<CsvRecord, 'text'>[] = [];
  const keep = ({ values, raws, quoted, eol }: CsvRecord): number => out.push({ values, raws, quoted, eol });
  for (const c of chunks) p.push(c, keep);
  p.end(keep);
  return out;
}

describe('CSV reading (RFC 4180)', () => {
  it('reads quoted fields with delimiters, escaped quotes and line breaks', () => {
    const rs = parse('a,"b,1","say ""hi""","line1\nline2"\r\n,x,\n');
    expect(rs.map((r) => r.values)).toEqual([
      ['a', 'b,1', 'say "hi"', 'line1\nline2'],
      ['', 'x', ''],
    ]);
    expect(rs.map((r) => r.eol)).toEqual(['\r\n', '\n']);
    expect(rs[0]!.raws[2]).toBe('"say ""hi"""');
  });

  it('keeps a last record without a line ending, and lone CR endings', () => {
    expect(parse('a,b\nc,d').map((r) => [r.values, r.eol])).toEqual([
      [['a', 'b'], '\n'],
      [['c', 'd'], ''],
    ]);
    expect(parse('a\rb\r').map((r) => r.values[0])).toEqual(['a', 'b']);
  });

  it('gives the same records whatever the chunk boundaries', () => {
    const text = 'id,note\r\n1,"a ""q"", b\nc"\r\n2,plain\n3,"x"y,z\n4,\n';
    const whole = parse(text);
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j += 3) {
        expect(parse(text, [text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual(whole);
      }
    }
    expect(parse(text, [...text])).toEqual(whole);
  });

  it('refuses a record over the size limit (unbalanced quote) instead of buffering the file', () => {
    const p = new CsvParser(44, 1000);
    expect(() => {
      for (let i = 0; i < 100; i++) p.push(i === 0 ? 'a,"never closed' : 'x'.repeat(100), () => undefined);
    }).toThrow(/longer than the 1000-character limit/);
  });
});

describe('CSV scrubbing', () => {
  it('scrubs free text in every cell and PII columns as a whole, keeping other bytes', async () => {
    const input =
      'id,name,email,notes,version\r\n' +
      '1,Ann Lee,ann@x.io,"call (415) 555-0100, or ""mail"" bob@y.org\nthanks",1.2.3\r\n' +
      '2,Bob Ray,weird-value,nothing here,2.0.0\r\n';
    const { text, report } = await scrub(input, 'people.csv');
    expect(text).toBe(
      'id,name,email,notes,version\r\n' +
        '1,<PERSON_NAME>,<EMAIL>,"call <PHONE>, or ""mail"" <EMAIL>\nthanks",1.2.3\r\n' +
        '2,<PERSON_NAME>,<EMAIL>,nothing here,2.0.0\r\n',
    );
    expect(report.format).toBe('csv');
    expect(report.columns).toEqual(['name', 'email']);
    expect(report.columnTypes).toEqual({ name: 'person_name', email: 'email' });
    expect(report.counts.email).toBe(3);
    expect(report.counts.phone).toBe(1);
    expect(report.records).toBe(3);
  });

  it('drops a column, header included', async () => {
    const { text } = await scrub('a,secret,b\n1,x,2\n3,y,4\n', 't.csv', { config: { columns: [{ match: 'secret', operator: 'drop' }] } });
    expect(text).toBe('a,b\n1,2\n3,4\n');
  });

  it('finds PII columns by their values when there is no header', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => `${i},user${i}@example.com,${100 + i} Main Street,ok`).join('\n');
    const { text, report } = await scrub(`${rows}\n`, 'nohead.csv');
    expect(report.columns).toEqual(['#2', '#3']);
    expect(report.columnTypes).toEqual({ '#2': 'email', '#3': 'address' });
    expect(text.split('\n')[0]).toBe('0,<EMAIL>,<ADDRESS>,ok');
  });

  it('does not take a first row with PII in it for a header', async () => {
    const { text } = await scrub('ann@x.io,Alpha\nbob@y.io,Beta\n', 'x.csv');
    expect(text).toBe('<EMAIL>,Alpha\n<EMAIL>,Beta\n');
  });

  it('reads TSV and semicolon-separated files', async () => {
    const tsv = await scrub('id\temail\n1\tann@x.io\n', 'x.tsv');
    expect(tsv.text).toBe('id\temail\n1\t<EMAIL>\n');
    const semi = await scrub('id;email;n\n1;ann@x.io;2\n2;bob@x.io;3\n', 'x.csv');
    expect(semi.text).toBe('id;email;n\n1;<EMAIL>;2\n2;<EMAIL>;3\n');
  });

  it('quotes a changed field when the replacement needs it', async () => {
    const { text } = await scrub('id,email\n1,ann@x.io\n', 'x.csv', { config: { entities: { email: { operator: 'replace', with: 'a,"b"' } } } });
    expect(text).toBe('id,email\n1,"a,""b"""\n');
  });

  it('applies generalize and mask per column', async () => {
    const { text } = await scrub('zip,dob,phone\n94103,1986-12-25,(415) 555-0100\n', 'x.csv', {
      config: { entities: { phone: { operator: 'mask', keep: 4 } } },
    });
    expect(text).toBe('zip,dob,phone\n941,1986,(***) ***-0100\n');
  });

  it('handler output does not depend on how the text is cut', () => {
    const config = defaultScrubConfig();
    const text = 'id,name,note\n1,Ann,"born 1986-12-25\nSSN 123-45-6789"\n2,Bob,"ip 10.0.0.1, ""x"""\r\n3,Cy,\n';
    const run = (parts: string[]): string => {
      const h = new CsvScrubber(config, new ValueScrubber(config, undefined), ',');
      return parts.map((p) => h.write(p)).join('') + h.finish();
    };
    const whole = run([text]);
    expect(whole).toContain('<SSN>');
    for (let i = 0; i <= text.length; i++) expect(run([text.slice(0, i), text.slice(i)])).toBe(whole);
  });

  it('honours an explicit header setting', async () => {
    const config = loadScrubConfig({ csv: { header: 'absent' } });
    const { report } = await scrub('email,x\nann@x.io,1\n', 'x.csv', { config });
    expect(report.counts.email).toBe(1);
    expect(report.columns).toBeUndefined();
  });
});

describe('CSV header with personal data in it', () => {
  it('is scrubbed and not used as a column name when a header is forced', async () => {
    const { text, report } = await scrub('id,ann@x.io\n1,bob@y.io\n', 'x.csv', { config: { csv: { header: 'present' } } });
    expect(text).toBe('id,<EMAIL>\n1,<EMAIL>\n');
    expect(JSON.stringify(report)).not.toContain('x.io');
  });
});
