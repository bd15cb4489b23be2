import { describe, expect, it } from 'vitest';
import { cardPrefixValid, cardPrefixValidFor } from '../../../src/governance/pii/detect/checksums.js';
import { fieldContext } from '../../../src/governance/pii/detect/context.js';
import { isHexToken } from '../../../src/governance/pii/detect/detect.js';
import { scanDigitRuns } from '../../../src/governance/pii/detect/digits.js';
import type { ScanContext } from '../../../src/governance/pii/detect/scan-context.js';
import { detectPii, type Finding } from '../../../src/governance/pii/index.js';
import { seededRandom } from '../../helpers/rng.js';

/** The findings as `type:text` pairs, for readable assertions. */
function found(text: string, field?: string, opts: Parameters<typeof detectPii>[1] = {}): string[] {
  return detectPii(text, { ...opts, ...(field ? { field } : {}) }).map((f: Finding) => `${f.type}:${text.slice(f.start, f.end)}`);
}

describe('email', () => {
  it.each([
    ['mail jane.doe@example.com now', 'jane.doe@example.com'],
    ['<Jane.Doe+News@Mail.Example.CO.UK>', 'Jane.Doe+News@Mail.Example.CO.UK'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ['https://x.test/?user=jane@example.org&x=1', 'jane@example.org'],
    ['mailto:ops@xn--bcher-kva.example', 'ops@xn--bcher-kva.example'],
    ['end of sentence a.b@c.io.', 'a.b@c.io'],
  ])('finds the address in %j', (text, email) => {
    expect(found(text)).toEqual([`email:${email}`]);
  });

  it.each(['logo@2x.png', 'npm i lodash@4.17.21', 'user@localhost', '@scope/pkg', 'image@sha256:abc', 'a..b@example.com', 'x.@example.com', 'a@b'])(
    'ignores %j',
    (text) => {
      expect(found(text)).toEqual([]);
    },
  );
});

describe('phone', () => {
  it.each([
    ['call (415) 555-0100 today', '(415) 555-0100'],
    ['415-555-0100', '415-555-0100'],
    ['415.555.0100', '415.555.0100'],
    ['ring 1-800-555-0199', '1-800-555-0199'],
    ['+1 415 555 0100', '+1 415 555 0100'],
    ['+14155550100', '+14155550100'],
    ['office +44 20 7946 0958', '+44 20 7946 0958'],
    ['+49 30 901820', '+49 30 901820'],
    ['703.301.3354 x6280', '703.301.3354'],
  ])('finds %j', (text, phone) => {
    expect(found(text)).toEqual([`phone:${phone}`]);
  });

  it('needs a cue word (or field name) for bare digits', () => {
    expect(found('value 4155550100')).toEqual([]);
    expect(found('phone: 4155550100')).toEqual(['phone:4155550100']);
    expect(found('4155550100', 'mobile_phone')).toEqual(['phone:4155550100']);
    expect(found('call 555-0100')).toEqual(['phone:555-0100']);
  });

  it('reads national formats of the configured regions only', () => {
    expect(found('tel 020 7946 0958')).toEqual([]);
    expect(found('tel 020 7946 0958', undefined, { phoneRegions: ['US', 'GB'] })).toEqual(['phone:020 7946 0958']);
  });

  it('does not read a decimal fraction as a national number with a trunk 0', () => {
    const de = { phoneRegions: ['US', 'DE'] };
    for (const t of ['acc=0.54408275162184', 'loss 0.61203948572931 lr 0.3012345678', 'Anteil 0,54408275162184', 'delta -0.54408275162184']) {
      expect(found(t, undefined, de)).toEqual([]);
    }
    expect(found('tel 030 12345678', undefined, de)).toEqual(['phone:030 12345678']);
    expect(found('ruf an: 030/12345678 oder 0151 23456789', undefined, de)).toEqual(['phone:030/12345678', 'phone:0151 23456789']);
    expect(found('call +49 30 12345678', undefined, de)).toEqual(['phone:+49 30 12345678']);
  });

  it('rejects NANP-shaped numbers that break the numbering plan', () => {
    expect(found('(115) 555-0100')).toEqual([]);
    expect(found('415-155-0100')).toEqual([]);
  });

  it('uses libphonenumber to reject impossible international numbers', () => {
    expect(found('+7922111701595')).toEqual([]);
  });

  it('raises the score after a cue word and when libphonenumber validates the number', () => {
    const plain = detectPii('+44 20 7946 0958')[0]!;
    const cued = detectPii('tel +44 20 7946 0958')[0]!;
    expect(cued.score).toBeGreaterThan(plain.score);
    // Area code 999 is unassigned: NANP structure alone reports it at the default threshold,
    // a stricter threshold keeps only numbers libphonenumber finds in an assigned range.
    expect(found('(999) 555-1234')).toEqual(['phone:(999) 555-1234']);
    expect(found('(999) 555-1234', undefined, { minScore: 0.8 })).toEqual([]);
    expect(found('(650) 253-0000', undefined, { minScore: 0.8 })).toEqual(['phone:(650) 253-0000']);
  });
});

describe('payment card', () => {
  it.each([
    ['4111 1111 1111 1111', 'visa, spaced'],
    ['4111-1111-1111-1111', 'visa, dashed'],
    ['4012888888881881', 'visa, bare'],
    ['4222222222222', 'visa 13 digits'],
    ['5555555555554444', 'mastercard'],
    ['2223003122003222', 'mastercard 2-series'],
    ['3782-822463-10005', 'amex 4-6-5'],
    ['6011111111111117', 'discover'],
    ['3530111333300000', 'jcb'],
    ['3056 9309 0259 04', 'diners 14 digits'],
    ['4111111111111111110', 'visa 19 digits'],
  ])('finds %s (%s)', (card) => {
    expect(found(`paid with ${card}.`)).toEqual([`card:${card}`]);
  });

  it('requires the Luhn checksum and a network prefix and length', () => {
    expect(found('4111 1111 1111 1112')).toEqual([]);
    expect(found('1234567812345670')).toEqual([]); // Luhn-valid, no network starts with 1
    expect(found('378282246310005')).toEqual(['card:378282246310005']);
    expect(found('358282246310004')).toEqual([]); // Luhn-valid 15 digits, not Amex
  });

  it('the numeric prefix check gives the answers of the string one, for every 4-digit prefix and length', () => {
    // The string form as it was before the scanner read prefixes in place.
    const reference = (digits: string): boolean => {
      const n = digits.length;
      const p2 = Number(digits.slice(0, 2));
      const p3 = Number(digits.slice(0, 3));
      const p4 = Number(digits.slice(0, 4));
      switch (digits.charCodeAt(0) - 48) {
        case 4:
          return n === 13 || n === 16 || n === 19;
        case 2:
          return n === 16 && p4 >= 2221 && p4 <= 2720;
        case 5:
        case 6:
          return n >= 16 && n <= 19;
        case 3:
          if (p2 === 34 || p2 === 37) return n === 15;
          if (p2 === 36) return n >= 14 && n <= 19;
          if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19;
          if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
          return false;
        default:
          return false;
      }
    };
    for (let p4 = 0; p4 < 10_000; p4++) {
      for (let n = 4; n <= 20; n++) {
        const digits = String(p4).padStart(4, '0') + '7'.repeat(n - 4);
        expect(cardPrefixValidFor(p4, n)).toBe(reference(digits));
        expect(cardPrefixValid(digits)).toBe(reference(digits));
      }
    }
  });

  it('finds cards grouped 4-6-5, 4x4 and 4-4-4-4-3, with Luhn checked across the groups', () => {
    const rnd = seededRandom(5);
    const luhnDigit = (body: string): number => {
      let sum = 0;
      for (let i = 0; i < body.length; i++) {
        let d = body.charCodeAt(body.length - 1 - i) - 48;
        if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
      }
      return (10 - (sum % 10)) % 10;
    };
    for (let k = 0; k < 300; k++) {
      const [prefix, len] = (
        [
          ['4', 16],
          ['37', 15],
          ['55', 16],
          ['4', 19],
        ] as const
      )[k % 4]!;
      let body = prefix;
      while (body.length < len - 1) body += String(Math.floor(rnd() * 10));
      const good = body + String(luhnDigit(body));
      const bad = body + String((luhnDigit(body) + 1) % 10);
      const group = (d: string, sep: string): string => (len === 15 ? [d.slice(0, 4), d.slice(4, 10), d.slice(10)] : d.match(/.{1,4}/g)!).join(sep);
      for (const sep of [' ', '-']) {
        expect(found(`paid with ${group(good, sep)}.`)).toEqual([`card:${group(good, sep)}`]);
        // (Its first 16 digits of a 19 may still be a Luhn-valid card of their own.)
        expect(found(`paid with ${group(bad, sep)}.`)).not.toContain(`card:${group(bad, sep)}`);
      }
    }
  });
});

describe('IBAN', () => {
  it.each(['DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'FR1420041010050500013M02606', 'NO9386011117947'])(
    'finds %s',
    (iban) => {
      expect(found(`to ${iban}, thanks`)).toEqual([`iban:${iban}`]);
    },
  );

  it('checks mod-97 and the country length', () => {
    expect(found('DE89370400440532013001')).toEqual([]);
    expect(found('DE8937040044053201300')).toEqual([]);
    expect(found('DE893704004405320130001')).toEqual([]);
    expect(found('XX89370400440532013000')).toEqual([]);
  });
});

describe('US SSN', () => {
  it('finds dashed numbers anywhere, spaced and bare ones after an SSN word', () => {
    expect(found('id 123-45-6789')).toEqual(['ssn:123-45-6789']);
    expect(found('SSN 123 45 6789')).toEqual(['ssn:123 45 6789']);
    expect(found('ssn: 123456789')).toEqual(['ssn:123456789']);
    expect(found('123456789', 'ssn')).toEqual(['ssn:123456789']);
    expect(found('ref 123456789')).toEqual([]);
  });

  it.each(['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '078-05-1120'])('rejects %s by the SSA rules', (ssn) => {
    expect(found(`SSN ${ssn}`)).toEqual([]);
  });
});

describe('IP addresses', () => {
  it.each([
    ['from 192.168.1.20', '192.168.1.20'],
    ['http://10.0.0.1:8080/x', '10.0.0.1'],
    ['allow 10.0.0.0/8', '10.0.0.0'],
    ['peer 2001:db8::8a2e:370:7334 ok', '2001:db8::8a2e:370:7334'],
    ['[fe80::1]:443', 'fe80::1'],
    ['::ffff:192.0.2.128', '::ffff:192.0.2.128'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
  ])('finds the address in %j', (text, ip) => {
    expect(found(text)).toEqual([`ip:${ip}`]);
  });

  it.each(['256.1.1.1', '1.2.3.4.5', '01.2.3.4', '10:20:30', 'std::vector', 'a::b::c'])('ignores %j', (text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('MAC addresses', () => {
  it.each(['00:1A:2B:3C:4D:5E', '00-1a-2b-3c-4d-5e', '001a.2b3c.4d5e'])('finds %s', (mac) => {
    expect(found(`hw ${mac} up`)).toEqual([`mac:${mac}`]);
  });
});

describe('date of birth', () => {
  it('finds dates after a birth word or under a birth field', () => {
    expect(found('born 1986-12-25')).toEqual(['dob:1986-12-25']);
    expect(found('DOB: 12/25/1986')).toEqual(['dob:12/25/1986']);
    expect(found('date of birth 25.12.1986')).toEqual(['dob:25.12.1986']);
    expect(found('Birthday: March 5, 1980')).toEqual(['dob:March 5, 1980']);
    expect(found('born on the 5th of Mar 1980')).toEqual(['dob:5th of Mar 1980']);
    expect(found('1986-12-25', 'date_of_birth')).toEqual(['dob:1986-12-25']);
  });

  it('leaves other dates alone, including later ones in the same text', () => {
    expect(found('shipped 2023-01-15')).toEqual([]);
    expect(found('2023-01-15T10:20:30Z')).toEqual([]);
    expect(found('born 1980-01-02, account opened 2019-05-06')).toEqual(['dob:1980-01-02']);
    expect(found('born 2999-01-01')).toEqual([]);
  });
});

describe('hard negatives stay untouched', () => {
  it.each([
    ['UUID', 'request 550e8400-e29b-41d4-a716-446655440000 done'],
    ['UUID with digit-only groups', 'id 12345678-1234-4123-8123-123456789012'],
    ['git SHA', 'commit 89b9e3d02ceb7ea9bdfbbe2babbeaeda96a60cde'],
    ['short SHA', 'at 4111111 and a1b2c3d'],
    ['SHA-256', 'sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730'],
    ['semver', 'release 1.6.15 and 10.2.3-rc.1'],
    ['4-part version after a version word', 'version 1.2.3.4, firmware 10.0.0.1, build 4.3.2.1'],
    ['4-part version with v', 'v1.2.3.4'],
    ['product/version', 'Chrome/120.0.6099.109 Safari/537.36 Agent/1.2.3.4'],
    ['IMEI dashed', 'imei 35-209900-176148-1'],
    ['IMEI bare', 'device 352099001761481'],
    ['epoch seconds', 'ts=1700000000'],
    ['epoch milliseconds', 'ts=1700000000123'],
    ['epoch microseconds', '1700000000123456'],
    ['ISO date', 'on 2023-01-15'],
    ['ISO timestamp', '2023-01-15T10:20:30.123Z'],
    ['order number', 'order #100234567 ORD-2023-000123'],
    ['invoice number', 'invoice 2023-000123 and INV-000123'],
    ['Luhn-valid order number', 'Order 4111111111111111 shipped'],
    ['12-digit account id', 'AWS account 123456789012'],
    ['12-digit account id, dashed', 'account 1234-5678-9012'],
    ['ARN', 'arn:aws:iam::123456789012:role/admin'],
    ['prices', 'price $1,234.56, 99.99 EUR, €1299'],
    ['ISBN', 'ISBN 978-3-16-148410-0'],
    ['coordinates', 'at 37.7749,-122.4194'],
    ['durations', 'took 00:12:34.567'],
    ['Windows build', 'OS 10.0.19041.1'],
    ['tracking number', 'tracking 4155550100'],
  ])('%s', (_name, text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('findings', () => {
  it('are sorted, non-overlapping, with scores in (0, 1]', () => {
    const text = 'mail a@b.io, call +1 (415) 555-0100, card 4111 1111 1111 1111, ip 10.1.2.3';
    const fs = detectPii(text);
    expect(fs.map((f) => f.type)).toEqual(['email', 'phone', 'card', 'ip']);
    for (let i = 1; i < fs.length; i++) expect(fs[i]!.start).toBeGreaterThanOrEqual(fs[i - 1]!.end);
    for (const f of fs) expect(f.score).toBeGreaterThan(0);
    for (const f of fs) expect(f.score).toBeLessThanOrEqual(1);
  });

  it('can be restricted to some types and a minimum score', () => {
    const text = 'a@b.io 10.1.2.3';
    expect(detectPii(text, { types: ['ip'] }).map((f) => f.type)).toEqual(['ip']);
    expect(detectPii(text, { minScore: 0.9 }).map((f) => f.type)).toEqual(['email']);
  });
});

describe('hex token pre-check (the digit scanner is skipped for these)', () => {
  // The claim in detect.ts: isHexToken(text) implies the digit scanner finds nothing, at
  // any score and under any field name. Checked here against the scanner itself.
  const fields = [undefined, 'ssn', 'phone', 'card_number', 'date_of_birth', 'ip', 'iban', 'trace_id'];
  const scan = (text: string, field: string | undefined): { found: Finding[]; sawYear: boolean } => {
    const ctx: ScanContext = { field: fieldContext(field), regions: ['US', 'GB'], nanp: true, otherRegions: ['GB'], minScore: 0 };
    const out: Finding[] = [];
    const sawYear = scanDigitRuns(text, ctx, out);
    return { found: out, sawYear };
  };

  it('accepts lowercase hex ids with single inner dashes and a letter, nothing else', () => {
    for (const t of ['4bf92f3577b34da6a3ce929d0e0e4736', '893a34bd-8344-41aa-ae1f-6f210579e1be', 'deadbeef', 'a-1', '00-1a-2b-3c-4d-5e']) expect(isHexToken(t), t).toBe(true);
    for (const t of ['4111111111111111', '123-45-6789', '12345678-1234-1234-1234-123456789012', 'DE89370400440532013000', 'de-', '-de1', 'a--123-45-6789', 'a 1', 'sha256:ab12', '1980.03.05a', 'fe80::1'])
      expect(isHexToken(t), t).toBe(false);
  });

  it('whatever a hex token holds (cards, SSNs, phones, dates, IPs as digits), the digit scanner finds nothing in it', () => {
    const rand = seededRandom(99);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const pii = ['4111111111111111', '4539578763621486', '123-45-6789', '415-555-0100', '1980-03-05', '19800305', '2125550123', '10-0-0-1', '078-05-1120'];
    const tokens: string[] = [];
    for (const p of pii) {
      // PII digits next to letters, dashes and more digits, on either side or both; and
      // near misses the pre-check must refuse (double or outer dashes, capitals).
      for (const [l, r] of [['a', ''], ['', 'f'], ['a-', ''], ['', '-f'], ['ab-', '-cd'], ['1a', '9'], ['e', '-0'], ['0-e', ''], ['a--', ''], ['', '--f'], ['-', 'a'], ['a', '-'], ['DE', ''], ['', 'A']]) tokens.push(`${l}${p}${r}`);
    }
    tokens.push('DE89370400440532013000a');
    for (let k = 0; k < 20_000; k++) {
      // Digit-heavy random tokens: long digit runs, single dashes, few letters.
      const len = 6 + Math.floor(rand() * 40);
      let t = '';
      while (t.length < len) {
        const r = rand();
        t += r < 0.75 ? pick('0123456789') : r < 0.9 && t.length > 0 && !t.endsWith('-') ? '-' : pick('abcdef');
      }
      tokens.push(t);
    }
    let checked = 0;
    for (const t of tokens) {
      if (!isHexToken(t)) continue;
      checked++;
      for (const field of fields) expect(scan(t, field), `${t} ${field}`).toEqual({ found: [], sawYear: false });
    }
    expect(checked).toBeGreaterThan(5_000);
    // Control: without the letter the same digits are found.
    expect(scan('4111111111111111', 'card').found).not.toEqual([]);
    expect(scan('123-45-6789', 'ssn').found).not.toEqual([]);
  });

  it('a dashed MAC in a hex token is still found', () => {
    expect(found('00-1a-2b-3c-4d-5e')).toEqual(['mac:00-1a-2b-3c-4d-5e']);
  });
});
