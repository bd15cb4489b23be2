import { describe, expect, it } from 'vitest';
import { isJsonNumber } from '../../../src/governance/pii/numbers.js';
import { scrub, TEST_KEY } from './helpers.js';

/** The example config's settings: German national formats make long digit runs phone-like. */
const config = { detect: { phoneRegions: ['US', 'DE'] }, entities: { phone: { operator: 'mask', keep: 2 } } };

const METRICS = [
  '{"epoch": 1, "acc": 0.54408275162184, "loss": -1.5e-7, "lr": 1e-7, "w": 1.50, "steps": 4155550123, "big": 12345678901234567890}',
  '{"epoch": 2, "acc": 0.49017344582209, "loss": -2.25E+3, "lr": 3.0e-4, "w": -0.000000004155550123, "steps": 4155550124, "big": 49301234567}',
  '{"epoch": 3, "acc": 0.61203948572931, "loss": 0.0, "lr": 1E-7, "w": 30123456789, "steps": 4155550125, "big": 1e400}',
];

describe('numbers are data, not text', () => {
  it('recognises exactly the JSON number grammar', () => {
    for (const n of ['0', '-0', '1.50', '-1.5e-7', '1E+400', '4155550123', '0.54408275162184']) expect(isJsonNumber(n)).toBe(true);
    for (const n of ['', '-', '+49301234567', '0049301234567', '01', '1.', '.5', '1e', '1e+', ' 42', '42 ', '1,5', '0x1f', 'NaN']) {
      expect(isJsonNumber(n)).toBe(false);
    }
  });

  it('keeps JSON numbers under non-PII keys byte for byte', async () => {
    const input = `${METRICS.join('\n')}\n`;
    const { text, report } = await scrub(input, 'metrics.jsonl', { config });
    expect(text).toBe(input);
    expect(report.columns ?? []).toEqual([]);
    expect(Object.values(report.counts).every((n) => n === 0)).toBe(true);
  });

  it('keeps number-shaped CSV cells of non-PII columns byte for byte', async () => {
    const input =
      'epoch,acc,loss,lr,w,steps\n' +
      '1,0.54408275162184,-1.5e-7,1e-7,1.50,4155550123\n' +
      '2,0.49017344582209,-2.25E+3,3.0e-4,-0.000000004155550123,4155550124\n' +
      '3,0.61203948572931,0.0,1E-7,30123456789,4155550125\n';
    const { text, report } = await scrub(input, 'metrics.csv', { config });
    expect(text).toBe(input);
    expect(report.columns ?? []).toEqual([]);
  });

  it('does not class a column of numbers as phones from its values', async () => {
    // With DE national formats these floats each read as a phone number when taken as text.
    const accs = ['0.54408275162184', '0.61203948572931', '0.3012345678', '-0.54408275162184', '0.5'];
    const rows = accs.map((acc, i) => `${i},${acc},${4155550100 + i}`);
    const input = `${['run,acc,steps', ...rows].join('\n')}\n`;
    const { text, report } = await scrub(input, 'runs.csv', { config });
    expect(text).toBe(input);
    expect(report.columns ?? []).toEqual([]);
    const lines = accs.map((acc, i) => `{"run": ${i}, "acc": ${acc}, "steps": ${4155550100 + i}}`);
    const jsonl = await scrub(`${lines.join('\n')}\n`, 'runs.jsonl', { config });
    expect(jsonl.text).toBe(`${lines.join('\n')}\n`);
    expect(jsonl.report.columns ?? []).toEqual([]);
  });

  it('counts numbers as values but not as evidence, so a few phone strings do not claim a numeric column', async () => {
    const cells = ['+49 30 12345678', ...Array.from({ length: 9 }, (_, i) => String(4155550100 + i))];
    const input = `${['run,contact', ...cells.map((c, i) => `${i},${c}`)].join('\n')}\n`;
    const { text, report } = await scrub(input, 'mixed.csv', { config });
    expect(report.columns ?? []).toEqual([]);
    expect(text.split('\n').slice(2).join('\n')).toBe(input.split('\n').slice(2).join('\n'));
    expect(text).not.toContain('12345678');
  });

  it('still scrubs phone numbers in string values and free text, and number-like text that is not a number', async () => {
    const line = '{"steps": "4155550123", "note": "call (415) 555-0100", "contact": "+49 30 12345678", "intl": "+4930123456789"}';
    const { text } = await scrub(`${line}\n`, 'x.jsonl', { config });
    const doc = JSON.parse(text) as Record<string, string>;
    expect(doc['note']).toBe('call (***) ***-**00');
    expect(doc['contact']).not.toContain('12345678');
    expect(doc['intl']).not.toContain('30123456');
    const csv = await scrub('id,note,contact\n1,call 4155550123,+4930123456789\n2,ok,0049 30 12345678\n', 'x.csv', { config });
    const [, r1, r2] = csv.text.split('\n');
    expect(r1).not.toContain('4155550123');
    expect(r1).not.toContain('30123456789');
    expect(r2).not.toContain('12345678');
  });

  it('replaces a number under a PII key with null, keeping the line valid JSON', async () => {
    const line = '{"phone": 4155550123, "user": {"phone_number": 4930123456789, "id": 7}, "phones": [4155550124, "415-555-0125"]}';
    const { text, report } = await scrub(`${line}\n`, 'x.jsonl', { config });
    expect(text).toBe('{"phone": null, "user": {"phone_number": null, "id": 7}, "phones": [null, "***-***-**25"]}\n');
    expect(report.counts.phone).toBe(4);
    const hashed = await scrub(`${line}\n`, 'x.jsonl', { config: { entities: { phone: 'hash' } }, key: TEST_KEY });
    const doc = JSON.parse(hashed.text) as { phone: unknown; phones: unknown[] };
    expect(doc.phone).toBeNull();
    expect(doc.phones[0]).toBeNull();
  });

  it('writes a number an operator generalizes to as a number', async () => {
    const { text } = await scrub('{"zip": 94103, "birth_year": 1986, "dob": 19861225}\n', 'x.jsonl', {
      config: { columns: [{ match: 'birth_year', type: 'dob', operator: 'redact' }] },
    });
    expect(text).toBe('{"zip": 941, "birth_year": null, "dob": null}\n');
  });

  it('gives number-shaped cells of a PII column the operator\'s usual output', async () => {
    const { text } = await scrub('id,phone\n1,4155550123\n2,+14155550124\n', 'x.csv', { config });
    expect(text).toBe('id,phone\n1,********23\n2,+*********24\n');
  });
});
