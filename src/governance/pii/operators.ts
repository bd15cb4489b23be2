import { hkdfSync } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { OperatorSpec } from './config.js';
import { toE164 } from './detect/phone.js';
import { HmacSha256 } from './hmac.js';
import type { EntityType } from './types.js';

/**
 * Operators: what replaces a detected value.
 *
 * `hash` is keyed pseudonymization: HMAC-SHA256 under a per-entity-type subkey derived
 * with HKDF from the secret key, over the value normalized first (lowercased email,
 * E.164 phone, digits of a card). The same value gets the same token in every file and
 * every run with the same key, so joins keep working, while without the key tokens
 * cannot be reversed by enumerating candidate values. There is deliberately no unkeyed
 * hash: an SSN or phone number space is small enough to enumerate.
 */

const HKDF_SALT = Buffer.from('hybridsync/pii/v1', 'utf8');
const TOKEN_CACHE_LIMIT = 4096;

export class Pseudonymizer {
  private readonly perType = new Map<EntityType, { mac: HmacSha256; cache: Map<string, string> }>();

  constructor(
    private readonly key: Buffer,
    private readonly tokenBytes = 16,
  ) {}

  /** `tok_<type>_<base64url>` for an already normalized value. */
  token(type: EntityType, normalized: string): string {
    let t = this.perType.get(type);
    if (!t) {
      const subkey = new Uint8Array(hkdfSync('sha256', this.key, HKDF_SALT, `entity:${type}`, 32));
      t = { mac: new HmacSha256(subkey), cache: new Map() };
      this.perType.set(type, t);
    }
    const hit = t.cache.get(normalized);
    if (hit !== undefined) return hit;
    const tok = `tok_${type}_${t.mac.digest(normalized).toString('base64url', 0, this.tokenBytes)}`;
    if (t.cache.size >= TOKEN_CACHE_LIMIT) t.cache.clear();
    t.cache.set(normalized, tok);
    return tok;
  }
}

/** The canonical form hashed for each type, so formatting differences do not change tokens. */
export function normalizeForHash(type: EntityType, value: string, regions: readonly CountryCode[]): string {
  const v = value.trim();
  switch (type) {
    case 'email':
      return v.toLowerCase();
    case 'phone':
      return toE164(v, regions);
    case 'card':
    case 'ssn':
      return v.replace(/\D+/g, '');
    case 'iban':
    case 'postal_code':
    case 'national_id':
      return v.replace(/[\s-]+/g, '').toUpperCase();
    case 'mac':
      return v.replace(/[^0-9a-fA-F]+/g, '').toLowerCase();
    case 'ip':
      return canonicalIp(v);
    case 'dob':
      return isoDate(v) ?? v;
    case 'person_name':
    case 'address':
    case 'username':
      return v.toLowerCase().replace(/\s+/g, ' ');
  }
}

function canonicalIp(v: string): string {
  if (!v.includes(':')) return v;
  try {
    return new URL(`http://[${v}]/`).hostname.slice(1, -1);
  } catch {
    return v.toLowerCase();
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** `1980-03-05` for the date forms the detectors accept (ISO, M/D/Y, D.M.Y, month names). */
function isoDate(v: string): string | undefined {
  const pad = (n: number): string => String(n).padStart(2, '0');
  let m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})/.exec(v);
  if (m) return `${m[1]}-${pad(Number(m[2]))}-${pad(Number(m[3]))}`;
  m = /^(\d{1,2})([-/.])(\d{1,2})[-/.](\d{4})$/.exec(v);
  if (m) {
    // Slashes are read month first (US), dots and dashes day first.
    const [a, b] = m[2] === '/' ? [Number(m[1]), Number(m[3])] : [Number(m[3]), Number(m[1])];
    return `${m[4]}-${pad(a)}-${pad(b)}`;
  }
  const words = v.toLowerCase().match(/[a-z]+|\d+/g);
  if (!words) return undefined;
  const month = words.findIndex((w) => MONTHS.includes(w.slice(0, 3)));
  const nums = words.filter((w) => /^\d+$/.test(w));
  const year = nums.find((w) => w.length === 4);
  const day = nums.find((w) => w.length <= 2);
  if (month < 0 || !year || !day) return undefined;
  return `${year}-${pad(MONTHS.indexOf(words[month]!.slice(0, 3)) + 1)}-${pad(Number(day))}`;
}

/** Everything an operator may need besides the value. */
export interface OperatorContext {
  pseudonymizer: Pseudonymizer | undefined;
  regions: readonly CountryCode[];
}

/**
 * The replacement for `value` (a detected entity or a whole column value). `drop` here
 * means "remove the value"; dropping whole columns and fields is the format's job.
 */
export function applyOperator(op: OperatorSpec, type: EntityType, value: string, ctx: OperatorContext): string {
  switch (op.operator) {
    case 'keep':
      return value;
    case 'redact':
    case 'drop':
      return '';
    case 'replace':
      return op.with ?? `<${type.toUpperCase()}>`;
    case 'mask':
      return mask(value, op.keep, op.char);
    case 'hash':
      if (!ctx.pseudonymizer) throw new Error('hash operator without a key (checked when the scrubber is created)');
      return ctx.pseudonymizer.token(type, normalizeForHash(type, value, ctx.regions));
    case 'generalize':
      return generalize(type, value);
  }
}

/**
 * Letters and digits except the last `keep` of them become `char`; punctuation stays.
 * A value with no more than `keep` letters and digits is masked entirely.
 */
export function mask(value: string, keep: number, char: string): string {
  let alnum = 0;
  for (let i = 0; i < value.length; i++) if (isAlnum(value.charCodeAt(i))) alnum++;
  let split = value.length;
  if (alnum > keep) {
    let kept = 0;
    while (kept < keep) if (isAlnum(value.charCodeAt(--split))) kept++;
  }
  return value.slice(0, split).replace(ALNUM, () => char) + value.slice(split);
}

const ALNUM = /[0-9A-Za-z\u0080-\uffff]/g;

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127;
}

/** Date -> year, US ZIP -> first 3 digits, IP -> its /24 (IPv4) or /48 (IPv6) network. */
export function generalize(type: EntityType, value: string): string {
  const v = value.trim();
  switch (type) {
    case 'dob': {
      const iso = isoDate(v);
      const year = iso?.slice(0, 4) ?? /(?<!\d)(?:19|20)\d\d(?!\d)/.exec(v)?.[0];
      return year ?? '<DOB>';
    }
    case 'postal_code': {
      if (/^\d{5}(?:-\d{4})?$/.test(v)) return v.slice(0, 3);
      const space = v.indexOf(' ');
      return space > 0 ? v.slice(0, space) : v.slice(0, 3);
    }
    case 'ip': {
      if (!v.includes(':')) {
        const parts = v.split('.');
        return parts.length === 4 ? `${parts[0]}.${parts[1]}.${parts[2]}.0/24` : '<IP>';
      }
      const full = expandIpv6(canonicalIp(v));
      return full ? `${full.slice(0, 3).join(':')}::/48` : '<IP>';
    }
    default:
      return `<${type.toUpperCase()}>`;
  }
}

function expandIpv6(v: string): string[] | undefined {
  const [head, tail] = v.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.some((p) => p.includes('.')) || h.some((p) => p.includes('.'))) return undefined;
  const zeros = 8 - h.length - t.length;
  if (zeros < 0) return undefined;
  return [...h, ...Array<string>(zeros).fill('0'), ...t];
}
