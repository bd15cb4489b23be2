import { createRequire } from 'node:module';
import type { CountryCode } from 'libphonenumber-js/max';
import { BoundedCache, detached } from '../cache.js';
import { internationalValidity, PHONE_INVALID, PHONE_POSSIBLE, PHONE_VALID, type PhoneValidity } from './phone-plans.js';

export { PHONE_INVALID, PHONE_POSSIBLE, PHONE_VALID, type PhoneValidity };

// The full metadata is loaded on the first phone-shaped candidate, not with every command
// that merely could scrub (its load costs ~0.1 s of CPU).
const require = createRequire(import.meta.url);
type PhoneLib = typeof import('libphonenumber-js/max');
let lib: PhoneLib | undefined;
const phoneLib = (): PhoneLib => (lib ??= require('libphonenumber-js/max') as PhoneLib);
const parsePhoneNumberFromString: PhoneLib['parsePhoneNumberFromString'] = (...args) => phoneLib().parsePhoneNumberFromString(...args);

/** Whether libphonenumber knows this region code (config validation). */
export function isSupportedRegion(region: string): boolean {
  return phoneLib().isSupportedCountry(region);
}

/**
 * Phone validation with libphonenumber's full ("max") metadata. `+` numbers are checked
 * by phone-plans.ts (the library's decisions over its metadata, about 0.5 us); national
 * formats of other regions go through the library itself, which costs 10-15 us a call,
 * so the scanners only call it for candidates that already have a phone's shape, and
 * results are memoised in a bounded cache (phone numbers repeat a lot in real data).
 */

const CACHE_LIMIT = 20_000;
const validityCache = new BoundedCache<PhoneValidity>(CACHE_LIMIT);
const e164Cache = new BoundedCache<string | null>(CACHE_LIMIT);

function remember<V>(cache: BoundedCache<V>, key: string, value: V): V {
  cache.set(key, value);
  return value;
}

/** Validity of `text` as a phone number, read in `region` unless it starts with `+`. */
export function phoneValidity(text: string, region: CountryCode | undefined): PhoneValidity {
  const key = `${region ?? ''}|${text}`;
  const hit = validityCache.get(key);
  if (hit !== undefined) return hit;
  let v: PhoneValidity = PHONE_INVALID;
  try {
    const parsed = parsePhoneNumberFromString(text, region);
    if (parsed) v = parsed.isValid() ? PHONE_VALID : parsed.isPossible() ? PHONE_POSSIBLE : PHONE_INVALID;
  } catch {
    v = PHONE_INVALID;
  }
  return remember(validityCache, detached(key), v);
}

/**
 * Validity of a `+` number from its digits (ASCII, without the `+`); `text` is the
 * number as written, for the library when the metadata could not be compiled.
 */
export function internationalPhoneValidity(digits: string, text: string): PhoneValidity {
  return internationalValidity(digits) ?? phoneValidity(text, undefined);
}

/** Best validity over the configured regions (the first region that validates wins). */
export function phoneValidityInRegions(text: string, regions: readonly CountryCode[]): PhoneValidity {
  let best: PhoneValidity = PHONE_INVALID;
  for (const r of regions) {
    const v = phoneValidity(text, r);
    if (v === PHONE_VALID) return v;
    if (v > best) best = v;
  }
  return best;
}

/**
 * North American Numbering Plan structure: area code and exchange both start with 2-9.
 * Checked without libphonenumber, which also rejects unassigned area codes that people
 * still write down (and test data generators produce).
 */
export function nanpStructureValid(area: string, exchange: string): boolean {
  const a = area.charCodeAt(0);
  const e = exchange.charCodeAt(0);
  return area.length === 3 && exchange.length === 3 && a >= 50 && a <= 57 && e >= 50 && e <= 57;
}

/**
 * E.164 form (`+14155550100`) for keyed hashing, so that `(415) 555-0100` and
 * `+1 415 555 0100` get the same token. Falls back to the bare digits.
 */
export function toE164(value: string, regions: readonly CountryCode[]): string {
  const digits = digitsOf(value);
  const plus = value.trimStart().startsWith('+');
  // Written internationally, E.164 is the digits after '+' unless a national trunk "(0)" is shown.
  if (plus && !value.includes('(0)') && digits.length >= 8 && digits.length <= 15) return `+${digits}`;
  if (!plus && (regions.includes('US') || regions.includes('CA'))) {
    if (digits.length === 10 && nanpStructureValid(digits.slice(0, 3), digits.slice(3, 6))) return `+1${digits}`;
    if (digits.length === 11 && digits[0] === '1' && nanpStructureValid(digits.slice(1, 4), digits.slice(4, 7))) return `+${digits}`;
  }
  // Anything else needs libphonenumber: memoised (per regions: they decide the reading), as it costs about 10 us.
  const key = plus ? value : `${regions.join(',')}|${value}`;
  const hit = e164Cache.get(key);
  if (hit !== undefined) return hit ?? digits;
  let out: string | null = plus ? `+${digits}` : null;
  for (const r of plus ? [undefined] : regions) {
    try {
      const parsed = parsePhoneNumberFromString(value, r);
      if (parsed?.isPossible()) {
        out = parsed.number;
        break;
      }
    } catch {
      // not parseable in this region; try the next
    }
  }
  remember(e164Cache, detached(key), out);
  return out ?? digits;
}

function digitsOf(s: string): string {
  return s.replace(/\D+/g, '');
}
