import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { internationalValidity } from '../../../src/governance/pii/detect/phone-plans.js';
import { seededRandom as rng } from '../../helpers/rng.js';

/**
 * phone-plans.ts answers "valid / possible / not a number" for `+` numbers without
 * calling libphonenumber-js; the detector's phone findings and scores rely on it giving
 * exactly the library's answer. These tests compare the two on numbers of every calling
 * code (random national numbers of every length, national prefixes included) and on
 * valid mobile numbers of every country and their near misses.
 */
const require = createRequire(import.meta.url);
const lib = require('libphonenumber-js/max') as typeof import('libphonenumber-js/max');
const metadata = require('libphonenumber-js/metadata.max.json') as { country_calling_codes: Record<string, string[]> };
const examples = require('libphonenumber-js/examples.mobile.json') as Record<string, string>;

function libraryValidity(text: string): number {
  try {
    const p = lib.parsePhoneNumberFromString(text);
    if (!p) return 0;
    return p.isValid() ? 2 : p.isPossible() ? 1 : 0;
  } catch {
    return 0;
  }
}


/** Writes `+cc` and the national digits with separators the digit scanner accepts. */
function written(cc: string, national: string, r: () => number): string {
  const seps = [' ', '-', '.', ' '];
  let text = `+${cc}${r() < 0.7 ? ' ' : ''}`;
  for (let i = 0; i < national.length; i++) {
    text += national[i];
    if (i < national.length - 1 && r() < 0.25) text += seps[Math.floor(r() * seps.length)];
  }
  return text;
}

function compare(cases: [string, string][]): { mismatches: string[]; seen: number[] } {
  const mismatches: string[] = [];
  const seen = [0, 0, 0];
  for (const [digits, text] of cases) {
    const want = libraryValidity(text);
    seen[want]!++;
    const got = internationalValidity(digits);
    if (got !== want) mismatches.push(`${text}: library ${want}, phone-plans ${got}`);
  }
  return { mismatches, seen };
}

describe('international phone validity without the library call', () => {
  it('agrees with libphonenumber-js on random numbers of every calling code and length', () => {
    const r = rng(20240601);
    const cases: [string, string][] = [];
    for (const cc of Object.keys(metadata.country_calling_codes)) {
      for (let len = 1; len <= 17; len++) {
        for (let k = 0; k < 3; k++) {
          let national = r() < 0.25 ? String(Math.floor(r() * 10)) : ''; // national prefixes 0, 1, 9, ...
          while (national.length < len) national += String(Math.floor(r() * 10));
          cases.push([cc + national, written(cc, national, r)]);
        }
      }
    }
    const { mismatches, seen } = compare(cases);
    expect(mismatches).toEqual([]);
    // Not vacuous: every answer occurs.
    expect(seen.every((n) => n > 100)).toBe(true);
  });

  it('agrees on valid mobile numbers of every country, their near misses and national-prefix forms', () => {
    const r = rng(7);
    const cases: [string, string][] = [];
    for (const [country, national] of Object.entries(examples)) {
      const cc = lib.getCountryCallingCode(country as Parameters<typeof lib.getCountryCallingCode>[0]);
      const variants = new Set([national, `0${national}`, `1${national}`, `9${national}`, national.slice(0, -1), `${national}5`]);
      for (let k = 0; k < 12; k++) {
        let d = national.slice(0, Math.max(1, national.length - 1 - Math.floor(r() * 5)));
        while (d.length < national.length) d += String(Math.floor(r() * 10));
        variants.add(d);
        variants.add(`0${d}`);
      }
      for (const d of variants) cases.push([cc + d, written(cc, d, r)]);
    }
    const { mismatches, seen } = compare(cases);
    expect(mismatches).toEqual([]);
    expect(seen[2]).toBeGreaterThan(cases.length / 3);
  });

  it('rejects what the library cannot parse: a leading 0, no calling code, nothing after it', () => {
    expect(internationalValidity('0441234567')).toBe(0);
    expect(internationalValidity('999123456789')).toBe(libraryValidity('+999123456789'));
    expect(internationalValidity('44')).toBe(0);
    expect(internationalValidity('442079460958')).toBe(2);
  });
});
