import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { HmacSha256 } from '../../../src/governance/pii/hmac.js';
import { createScrubber, decodePiiKey, defaultScrubConfig, loadPiiKey, loadScrubConfig } from '../../../src/governance/pii/index.js';
import { applyOperator, generalize, mask, normalizeForHash, Pseudonymizer } from '../../../src/governance/pii/operators.js';
import { seededRandom } from '../../helpers/rng.js';
import { scrub, TEST_KEY } from './helpers.js';

const ctx = { pseudonymizer: new Pseudonymizer(TEST_KEY), regions: ['US'] as const };

describe('operators', () => {
  it('redact removes the value, replace names the type', () => {
    expect(applyOperator({ operator: 'redact' }, 'email', 'a@b.io', ctx)).toBe('');
    expect(applyOperator({ operator: 'replace' }, 'email', 'a@b.io', ctx)).toBe('<EMAIL>');
    expect(applyOperator({ operator: 'replace', with: '[gone]' }, 'ssn', '123-45-6789', ctx)).toBe('[gone]');
  });

  it('mask keeps the last N letters and digits and the punctuation', () => {
    expect(mask('4111 1111 1111 1234', 4, '*')).toBe('**** **** **** 1234');
    expect(mask('(415) 555-0100', 2, '#')).toBe('(###) ###-##00');
    expect(mask('abc', 4, '*')).toBe('***'); // too short to keep anything
    expect(mask('a@b.io', 0, 'x')).toBe('x@x.xx');
  });

  it('mask matches the one-regex definition on edge cases (punctuation only, non-ASCII, surrogate pairs, keep 0)', () => {
    // The definition the loop in mask() implements: every letter or digit (any UTF-16 unit
    // above ASCII counts as one) before the last `keep` of them becomes `char`.
    const reference = (value: string, keep: number, char: string): string => {
      const isAlnum = (c: number): boolean => /[0-9A-Za-z]/.test(String.fromCharCode(c)) || c > 127;
      let alnum = 0;
      for (let i = 0; i < value.length; i++) if (isAlnum(value.charCodeAt(i))) alnum++;
      let split = value.length;
      if (alnum > keep) for (let kept = 0; kept < keep; ) if (isAlnum(value.charCodeAt(--split))) kept++;
      return value.slice(0, split).replace(/[0-9A-Za-z\u0080-\uffff]/g, () => char) + value.slice(split);
    };
    const values = ['', '-', '--..--', '(415) 555-0100', 'José.Müller@example.de', 'a😀b', '😀', '+44 20 7946 0958', '..a..', 'a', 'ab$&cd', 'x-'];
    const rnd = seededRandom(3);
    const alphabet = 'aZ09 -.@()+_é😀\u00a0';
    for (let k = 0; k < 2000; k++) {
      let v = '';
      for (let n = Math.floor(rnd() * 90); n > 0; n--) v += alphabet[Math.floor(rnd() * alphabet.length)]!;
      values.push(v);
    }
    for (const v of values) for (const keep of [0, 1, 2, 4, 30]) for (const char of ['*', '$', '#']) expect(mask(v, keep, char), `${v} ${keep} ${char}`).toBe(reference(v, keep, char));
    expect(mask('--..--', 0, '*')).toBe('--..--');
    expect(mask('ab$&cd', 0, '$')).toBe('$$$&$$'); // `char` is literal, never a replacement pattern
  });

  it('generalize coarsens dates to the year, ZIP codes to 3 digits, IPs to their network', () => {
    expect(generalize('dob', '1986-12-25')).toBe('1986');
    expect(generalize('dob', '12/25/1986')).toBe('1986');
    expect(generalize('dob', 'March 5, 1980')).toBe('1980');
    expect(generalize('postal_code', '94103')).toBe('941');
    expect(generalize('postal_code', '94103-1234')).toBe('941');
    expect(generalize('postal_code', 'SW1A 1AA')).toBe('SW1A');
    expect(generalize('ip', '192.168.1.20')).toBe('192.168.1.0/24');
    expect(generalize('ip', '2001:db8:85a3::8a2e:370:7334')).toBe('2001:db8:85a3::/48');
  });

  it('config rejects generalize for types it cannot coarsen', () => {
    expect(() => loadScrubConfig({ entities: { email: 'generalize' } })).toThrow(/generalize only applies to dob, postal_code, ip/);
  });
});

describe('keyed pseudonymization', () => {
  it('HMAC-SHA256 matches node:crypto for every length up to several blocks, and for non-ASCII', () => {
    for (let len = 0; len <= 200; len++) {
      const key = randomBytes(32);
      const msg = 'x'.repeat(len) + (len % 3 === 0 ? 'é€😀' : '');
      expect(Buffer.from(new HmacSha256(key).digest(msg)).toString('hex')).toBe(createHmac('sha256', key).update(msg).digest('hex'));
    }
  });

  it('tokens are HMAC-SHA256 under an HKDF subkey per entity type', () => {
    const p = new Pseudonymizer(TEST_KEY, 16);
    const subkey = Buffer.from(hkdfSync('sha256', TEST_KEY, Buffer.from('hybridsync/pii/v1'), 'entity:email', 32));
    const expected = createHmac('sha256', subkey).update('jane@example.com').digest().subarray(0, 16).toString('base64url');
    expect(p.token('email', 'jane@example.com')).toBe(`tok_email_${expected}`);
    // The same value under another type gets an unrelated token.
    expect(p.token('username', 'jane@example.com').slice(-22)).not.toBe(expected);
  });

  it('tokens are stable across instances and runs, and differ per key', () => {
    const a = new Pseudonymizer(TEST_KEY).token('ssn', '123456789');
    expect(new Pseudonymizer(Buffer.from(TEST_KEY)).token('ssn', '123456789')).toBe(a);
    // Pinned: if this changes, tokens no longer join with data scrubbed by earlier versions.
    expect(a).toBe('tok_ssn_OP69k_hxtI6mXVq23i3TVg');
    expect(new Pseudonymizer(randomBytes(32)).token('ssn', '123456789')).not.toBe(a);
  });

  it('the token table never answers with another value\'s token, or with a token of another key', () => {
    // More values than the table has slots, each asked for several times in a scrambled
    // order: slots are shared and overwritten; every answer must still be the HMAC of that
    // very value under that key.
    const keyB = Buffer.alloc(32, 7);
    const pa = new Pseudonymizer(TEST_KEY);
    const pb = new Pseudonymizer(keyB);
    const subkey = (key: Buffer, type: string): Buffer => Buffer.from(hkdfSync('sha256', key, Buffer.from('hybridsync/pii/v1'), `entity:${type}`, 32));
    const direct = (key: Buffer, type: string, normalized: string): string =>
      `tok_${type}_${createHmac('sha256', subkey(key, type)).update(normalized).digest().subarray(0, 16).toString('base64url')}`;
    // One regions array throughout (a new one would empty the tables on every call), and
    // more values than the table has slots (4096) or its seen-once filter (8192):
    // values seen once, twice and three times, far apart and back to back.
    const us = ['US'] as const;
    const values = Array.from({ length: 80_000 }, (_, i) => `user${(i * 7919) % 80_000}@example.com`);
    const order = [...values, ...values.slice(0, 20_000).reverse(), ...values.filter((_, i) => i % 3 === 0), 'a@b.io', 'a@b.io', 'a@b.io'];
    const seen = new Map<string, string>();
    for (const v of order) {
      const a = pa.pseudonymize('email', v, us);
      const b = pb.pseudonymize('email', v, us);
      expect(a).not.toBe(b);
      const want = seen.get(v) ?? direct(TEST_KEY, 'email', v);
      seen.set(v, want);
      expect(a).toBe(want);
    }
    expect(new Set(seen.values()).size).toBe(new Set(order).size);
    // Values too long for the table are tokenized afresh, to the same token.
    const long = `${'x'.repeat(80)}@example.com`;
    expect(pa.pseudonymize('email', long, us)).toBe(direct(TEST_KEY, 'email', long));
    expect(pa.pseudonymize('email', long, us)).toBe(direct(TEST_KEY, 'email', long));
    // Same text under another type: another subkey, another token.
    expect(pa.pseudonymize('username', 'user1@example.com', ['US'])).toBe(direct(TEST_KEY, 'username', 'user1@example.com'));
    // Formatting variants are remembered separately but give the same token.
    expect(pa.pseudonymize('phone', '(415) 555-0100', ['US'])).toBe(pa.pseudonymize('phone', '+1 415 555 0100', ['US']));
    // The phone regions decide normalization: a table filled under others is not reused.
    const uk = ['GB'] as const;
    expect(pa.pseudonymize('phone', '020 7946 0958', uk)).toBe(direct(TEST_KEY, 'phone', '+442079460958'));
    expect(pa.pseudonymize('phone', '020 7946 0958', ['US'])).toBe(direct(TEST_KEY, 'phone', '02079460958'));
  });

  it('Pseudonymizers of one key share its tables: interleaved files, token lengths and regions still give each value its own HMAC', () => {
    const key = Buffer.alloc(32, 9);
    const subkey = (type: string): Buffer => Buffer.from(hkdfSync('sha256', key, Buffer.from('hybridsync/pii/v1'), `entity:${type}`, 32));
    const direct = (type: string, normalized: string, bytes: number): string =>
      `tok_${type}_${createHmac('sha256', subkey(type)).update(normalized).digest().subarray(0, bytes).toString('base64url')}`;
    const us = ['US'] as const;
    const gb = ['GB'] as const;
    // three "files" of one run (one key object), a fourth with other token lengths, a fifth under other regions
    const files = [new Pseudonymizer(key), new Pseudonymizer(key), new Pseudonymizer(key)];
    const short = new Pseudonymizer(key, 8);
    for (let i = 0; i < 6000; i++) {
      const v = `user${(i * 31) % 5000}@example.com`;
      expect(files[i % 3]!.pseudonymize('email', v, us)).toBe(direct('email', v, 16));
      if (i % 5 === 0) expect(short.pseudonymize('email', v, us)).toBe(direct('email', v, 8));
      if (i % 7 === 0) {
        // another regions array: the shared tables are emptied, never answer from the old ones
        expect(new Pseudonymizer(key).pseudonymize('phone', '020 7946 0958', gb)).toBe(direct('phone', '+442079460958', 16));
        expect(files[0]!.pseudonymize('phone', '020 7946 0958', us)).toBe(direct('phone', '02079460958', 16));
      }
    }
  });

  it('tokens of every length are base64url of the HMAC prefix', () => {
    for (let bytes = 8; bytes <= 32; bytes++) {
      const p = new Pseudonymizer(TEST_KEY, bytes);
      const subkey = Buffer.from(hkdfSync('sha256', TEST_KEY, Buffer.from('hybridsync/pii/v1'), 'entity:ssn', 32));
      const want = createHmac('sha256', subkey).update('123456789').digest().subarray(0, bytes).toString('base64url');
      expect(p.token('ssn', '123456789')).toBe(`tok_ssn_${want}`);
      expect(p.pseudonymize('ssn', '123-45-6789', ['US'])).toBe(`tok_ssn_${want}`);
    }
  });

  it('tokens made from normalized bytes equal the tokens of normalizeForHash, for every type and odd input', () => {
    // pseudonymize writes the canonical form of common types straight into the HMAC's
    // buffer; token(type, normalizeForHash(...)) is the string path it must agree with.
    const rnd = seededRandom(11);
    const pick = (s: string): string => s[Math.floor(rnd() * s.length)]!;
    const alphabet = '0123456789 -().+:/abcdefABCDEFXYZxyz@_\t\n\u000b\u001c\u00a0\u2003\ufeffé€😀ß';
    const samples = [
      '', ' ', '+', '(0)', 'a@b.io', ' Jane.Doe@Example.COM', 'JANE@EXAMPLE.COM ', 'jané@example.com', 'ß@example.de',
      '+44 (0)20 7946 0958', '+44 20 7946 0958', '+1 415 555 0100', '(415) 555-0100', '1-415-555-0100', '415.555.0100',
      '115.555.0100', '(415) 155-0100', '0415 555 0100', '+1234567', '+1234567890123456', ' +14155550100', '\u00a0+14155550100',
      '+14155550100\u2003', '020 7946 0958', '4111 1111 1111 1111', '4111-1111-1111-1111 ', '123-45-6789', 'de89 3704 0044 0532 0130 00',
      'DE89\t3704\n0044', 'gb82-west-1234', 'straße', '00-1A-2B-3C-4D-5E', '001a.2b3c.4d5e', '10.0.0.1', ' 10.0.0.1', '2001:DB8::1',
      '::ffff:10.0.0.1', '10.0.0.1\u0085', '12/25/1986', 'March 5, 1980',
    ];
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rnd() * 24);
      let v = '';
      for (let k = 0; k < len; k++) v += pick(alphabet);
      samples.push(v, `+${v}`, ` ${v} `);
    }
    const types = ['email', 'phone', 'card', 'ssn', 'iban', 'ip', 'mac', 'dob', 'postal_code', 'national_id', 'person_name', 'address', 'username'] as const;
    for (const regions of [['US'], ['GB'], ['CA', 'DE']] as const) {
      const p = new Pseudonymizer(TEST_KEY);
      for (const type of types) {
        for (const v of samples) expect(p.pseudonymize(type, v, regions), `${type} ${JSON.stringify(v)}`).toBe(p.token(type, normalizeForHash(type, v, regions)));
      }
    }
  });

  it('normalizes before hashing so formatting does not change the token', () => {
    const tok = (type: Parameters<typeof normalizeForHash>[0], v: string): string => applyOperator({ operator: 'hash' }, type, v, ctx);
    expect(tok('email', 'Jane.Doe@Example.COM')).toBe(tok('email', 'jane.doe@example.com'));
    expect(tok('phone', '(415) 555-0100')).toBe(tok('phone', '+1 415-555-0100'));
    expect(tok('phone', '415.555.0100')).toBe(tok('phone', '+14155550100'));
    expect(normalizeForHash('phone', '+44 20 7946 0958', ['US'])).toBe('+442079460958');
    expect(tok('card', '4111 1111 1111 1111')).toBe(tok('card', '4111-1111-1111-1111'));
    expect(tok('iban', 'de89 3704 0044 0532 0130 00')).toBe(tok('iban', 'DE89370400440532013000'));
    expect(tok('ip', '2001:DB8:0:0::1')).toBe(tok('ip', '2001:db8::1'));
    expect(tok('mac', '00-1A-2B-3C-4D-5E')).toBe(tok('mac', '00:1a:2b:3c:4d:5e'));
    expect(tok('dob', '12/25/1986')).toBe(tok('dob', '1986-12-25'));
  });

  it('the same value gets the same token in two files and two runs (joins keep working)', async () => {
    const config = { entities: { email: 'hash' } };
    const a = await scrub('id,email\n1,Jane@Example.com\n', 'a.csv', { config, key: TEST_KEY });
    const b = await scrub('{"contact":{"email":"jane@example.com"}}\n', 'b.jsonl', { config, key: Buffer.from(TEST_KEY) });
    const token = /tok_email_[A-Za-z0-9_-]+/.exec(a.text)![0];
    expect(b.text).toContain(token);
    expect(a.text).not.toContain('Jane@Example.com');
  });

  it('there is no unkeyed hash: a hash config without a key is refused', () => {
    expect(() => loadScrubConfig({ entities: { email: 'sha256' } })).toThrow(/operator must be one of/);
    expect(() => createScrubber(loadScrubConfig({ entities: { email: 'hash' } }), { fileName: 'x.csv' })).toThrow(ConfigError);
    try {
      createScrubber(loadScrubConfig({ entities: { email: 'hash' } }), { fileName: 'x.csv' });
    } catch (e) {
      expect((e as ConfigError).hint).toMatch(/--key-file FILE or set HYBRIDSYNC_PII_KEY/);
    }
  });
});

describe('key loading', () => {
  it('reads hex, base64: and raw keys from a file, and the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pii-key-'));
    const hex = join(dir, 'hex.key');
    await writeFile(hex, `${TEST_KEY.toString('hex')}\n`);
    expect(await loadPiiKey({ keyFile: hex })).toEqual(TEST_KEY);
    const b64 = join(dir, 'b64.key');
    await writeFile(b64, `base64:${TEST_KEY.toString('base64')}`);
    expect(await loadPiiKey({ keyFile: b64 })).toEqual(TEST_KEY);
    expect(await loadPiiKey({ env: { HYBRIDSYNC_PII_KEY: TEST_KEY.toString('hex') } })).toEqual(TEST_KEY);
    expect(decodePiiKey(Buffer.from('a passphrase of enough length'), 'test')).toEqual(Buffer.from('a passphrase of enough length'));
    expect(await loadPiiKey({ env: {} })).toBeUndefined();
  });

  it('rejects short keys and missing files without echoing the key', async () => {
    const err = (() => {
      try {
        decodePiiKey(Buffer.from('hunter2'), '$HYBRIDSYNC_PII_KEY');
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).not.toContain('hunter2');
    expect(err!.hint).toMatch(/openssl rand/);
    await expect(loadPiiKey({ keyFile: '/nonexistent/pii.key' })).rejects.toThrow(/cannot read the PII key file \/nonexistent\/pii.key: ENOENT/);
  });

  it('the report never contains a value or the key', async () => {
    const r = await scrub('id,email,ssn\n1,jane@example.com,123-45-6789\n', 'x.csv', { config: { entities: { email: 'hash' } }, key: TEST_KEY });
    const report = JSON.stringify(r.report);
    expect(report).not.toContain('jane');
    expect(report).not.toContain('6789');
    expect(report).not.toContain(TEST_KEY.toString('hex'));
    expect(report).not.toContain(TEST_KEY.toString('base64'));
  });
});

describe('config', () => {
  it('defaults: replace for most types, generalize for birth dates and ZIP codes', () => {
    const c = defaultScrubConfig();
    expect(c.detect.minScore).toBe(0.5);
    expect(c.detect.phoneRegions).toEqual(['US']);
    expect(c.csv.header).toBe('auto');
    expect(c.entities).toEqual({});
  });

  it('accepts shorthand and full operator forms, and column rules', () => {
    const c = loadScrubConfig({
      entities: { email: 'hash', phone: { operator: 'mask', keep: 2 } },
      columns: [{ match: 'user.notes', operator: 'drop' }, { match: 'cust_*', type: 'person_name' }],
      detect: { phoneRegions: ['us', 'gb'] },
    });
    expect(c.entities.email).toEqual({ operator: 'hash' });
    expect(c.entities.phone).toEqual({ operator: 'mask', keep: 2, char: '*' });
    expect(c.detect.phoneRegions).toEqual(['US', 'GB']);
  });

  it('explains every problem with its path', () => {
    let message = '';
    try {
      loadScrubConfig({ entities: { email: 'scramble' }, detect: { minScore: 2, phoneRegions: ['XX'] }, csv: { header: 'maybe' }, bogus: 1 });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/entities\.email\.operator: operator must be one of/);
    expect(message).toMatch(/detect\.minScore/);
    expect(message).toMatch(/csv\.header/);
    expect(message).toMatch(/bogus/);
    expect(() => loadScrubConfig({ detect: { phoneRegions: ['XX'] } })).toThrow(/unknown region XX/);
    expect(() => loadScrubConfig({ columns: [{ match: 'notes' }] })).toThrow(/columns#1: give a type, an operator or both/);
    expect(() => loadScrubConfig({ columns: [{ match: 'notes', operator: 'hash' }] })).toThrow(/hash needs a type/);
  });
});

describe('allow list and keep', () => {
  it('leaves allowed values and kept types alone', async () => {
    const { text, report } = await scrub('mail support@corp.example or ann@x.io from 10.0.0.1\n', 'x.log', {
      config: { allow: ['support@corp.example'], entities: { ip: 'keep' } },
    });
    expect(text).toBe('mail support@corp.example or <EMAIL> from 10.0.0.1\n');
    expect(report.counts).toMatchObject({ email: 1, ip: 0 });
  });

  it('redact, drop and replace findings get the same text and counts with or without an allow list', async () => {
    const input = 'mail ann@x.io, call (415) 555-0100 from 10.0.0.1 or 10.0.0.2\n';
    const entities = { email: 'redact', phone: { operator: 'replace', with: '[p]' }, ip: 'drop' };
    const plain = await scrub(input, 'x.log', { config: { entities } });
    // An allow list entry that matches nothing takes the path that cuts out each finding.
    const allowing = await scrub(input, 'x.log', { config: { entities, allow: ['nobody@example.com'] } });
    expect(plain.text).toBe('mail , call [p] from  or \n');
    expect(allowing.text).toBe(plain.text);
    expect(allowing.report.counts).toEqual(plain.report.counts);
    expect(plain.report.counts).toMatchObject({ email: 1, phone: 1, ip: 2 });
  });
});
