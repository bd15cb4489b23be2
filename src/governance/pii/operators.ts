import { hkdfSync } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { OperatorSpec } from './config.js';
import { toE164 } from './detect/phone.js';
import { detached } from './cache.js';
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
/**
 * Slots of each entity type's token table (a power of two). Small on purpose: the table
 * pays off for the values a file repeats all the time (a few thousand users, hosts,
 * callers), while every lookup of a value seen once is a cache miss of the processor
 * in a large table; with 16,384 slots and a 65,536-slot filter, the lookups cost more than
 * the HMACs they saved on PII-dense logs (~10 % of the hash mode's time). At this size
 * the table and the filter are ordinary heap objects (not large-object allocations per
 * file).
 */
const TOKEN_SLOTS = 4096;
/** Slots of each entity type's filter of values seen once (a power of two; 4 bytes each). */
const SEEN_SLOTS = 8192;
/**
 * Values longer than this are tokenized without the table (rare, and costly to hash and
 * keep). With TOKEN_SLOTS this bounds the values a table holds to 256K characters per type.
 */
const MAX_CACHED_CHARS = 64;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** One entity type's HMAC (under its HKDF subkey), token prefix and table of recent tokens. */
interface TypeTokens {
  mac: HmacSha256;
  /** How `normalizedBytes` writes this type's canonical form (Norm.None: through normalizeForHash). */
  norm: Norm;
  /** `tok_<type>_` as bytes, followed by room for the base64url text. */
  scratch: Buffer;
  prefixLength: number;
  /**
   * Direct-mapped table: slot = hash(value) mod TOKEN_SLOTS. A slot holds one value and
   * its token; a lookup returns the token only when the slot's value is the same string,
   * so a collision is a miss, never another value's token. Fixed size, so memory is
   * bounded and the table itself is not reallocated as it fills.
   */
  values: (string | undefined)[];
  tokens: string[];
  /**
   * Admission filter: the hash of a value seen once, by slot. A value enters the table
   * only when it is seen again, so values that occur once (most of the free-text PII in a
   * log) are not kept: keeping them filled the young heap with strings the table then
   * held on to, and the collector copied and promoted each of them. A typed array: it
   * holds no strings. A hash collision only admits a value early.
   */
  seen: Int32Array;
  /** `hash | 1` of the value in each slot of the table (0: empty), compared before the value itself. */
  hashes: Int32Array;
}

/** What the Pseudonymizers of one key and token length share: per entity type, the HMAC and the token table. */
interface KeyTokens {
  readonly perType: Map<EntityType, TypeTokens>;
  /** The regions the tables were filled under (they decide phone normalization). */
  regions: readonly CountryCode[] | undefined;
  /** Whether `regions` holds US or CA (NANP national numbers have a fixed E.164 form). */
  nanp: boolean;
}

/** By key object, then token length. Weak: the tables go when the run's key does. */
const SHARED = new WeakMap<Buffer, Map<number, KeyTokens>>();

/**
 * Keyed pseudonyms. Tokens are derived per entity type and remembered per type in a bounded
 * table keyed by the value as found, so a repeated value (the same email on every line of a
 * log, the same user in every file) costs a hash lookup instead of normalization and an
 * HMAC. The subkeys, HMAC pads and tables belong to the key object and are shared by every
 * Pseudonymizer made with it — every file of a run — so a run of many small files derives
 * each subkey once instead of once per file and type (HKDF and ~80 KB of tables each; in a
 * run of 1,500 64 KiB files that was ~1.2 s of CPU and most of its garbage collection), and
 * a user seen in one file is a table hit in the next. Tokens depend only on the key, type,
 * value and regions, so sharing changes no byte. The tables hold only values the scrubber
 * is replacing anyway, never the key, and live as long as the key object (the run's PII
 * engine).
 */
export class Pseudonymizer {
  private readonly shared: KeyTokens;

  constructor(
    private readonly key: Buffer,
    private readonly tokenBytes = 16,
  ) {
    let byLength = SHARED.get(key);
    if (!byLength) SHARED.set(key, (byLength = new Map()));
    let shared = byLength.get(tokenBytes);
    if (!shared) byLength.set(tokenBytes, (shared = { perType: new Map(), regions: undefined, nanp: false }));
    this.shared = shared;
  }

  private forType(type: EntityType): TypeTokens {
    let t = this.shared.perType.get(type);
    if (!t) {
      const subkey = new Uint8Array(hkdfSync('sha256', this.key, HKDF_SALT, `entity:${type}`, 32));
      const prefix = `tok_${type}_`;
      const scratch = Buffer.alloc(prefix.length + Math.ceil((this.tokenBytes * 4) / 3));
      scratch.write(prefix, 'latin1');
      t = {
        mac: new HmacSha256(subkey),
        norm: NORM_OF[type] ?? Norm.None,
        scratch,
        prefixLength: prefix.length,
        values: new Array<string | undefined>(TOKEN_SLOTS).fill(undefined),
        tokens: new Array<string>(TOKEN_SLOTS).fill(''),
        seen: new Int32Array(SEEN_SLOTS),
        hashes: new Int32Array(TOKEN_SLOTS),
      };
      this.shared.perType.set(type, t);
    }
    return t;
  }

  /** `tok_<type>_<base64url>` for an already normalized value (not remembered). */
  token(type: EntityType, normalized: string): string {
    const t = this.forType(type);
    return this.encode(t, t.mac.digest(normalized));
  }

  /**
   * The token of `value` as found: its canonical form is written as bytes straight into
   * the HMAC's message buffer when the type allows (no normalized string, no regular
   * expression), else made by normalizeForHash. Both give the same bytes.
   */
  private tokenOf(t: TypeTokens, type: EntityType, value: string, regions: readonly CountryCode[]): string {
    const mac = t.mac;
    const len = t.norm === Norm.None ? -1 : normalizedBytes(t.norm, value, mac.scratch(value.length + 2), this.shared.nanp);
    return this.encode(t, len >= 0 ? mac.digestScratch(len) : mac.digest(normalizeForHash(type, value, regions)));
  }

  /**
   * The token of `value` as found in the data: normalized for its type (so formatting
   * does not change the token), then `token`. Remembered per type by `value`.
   */
  pseudonymize(type: EntityType, value: string, regions: readonly CountryCode[]): string {
    const shared = this.shared;
    if (regions !== shared.regions) {
      // Phone normalization depends on the regions: tokens remembered under others do not apply.
      if (shared.regions !== undefined) {
        for (const t of shared.perType.values()) {
          t.values.fill(undefined);
          t.seen.fill(0);
          t.hashes.fill(0);
        }
      }
      shared.regions = regions;
      shared.nanp = regions.includes('US') || regions.includes('CA');
    }
    const t = this.forType(type);
    if (value.length > MAX_CACHED_CHARS) return this.tokenOf(t, type, value, regions);
    const h = hashString(value);
    const slot = h & (TOKEN_SLOTS - 1);
    // `| 1`: a zero in the filter and the table means an empty slot.
    const mark = h | 1;
    if (t.hashes[slot] === mark && t.values[slot] === value) return t.tokens[slot]!;
    const tok = this.tokenOf(t, type, value, regions);
    const seenSlot = (h ^ (h >>> 16)) & (SEEN_SLOTS - 1);
    if (t.seen[seenSlot] === mark) {
      t.values[slot] = detached(value);
      t.tokens[slot] = tok;
      t.hashes[slot] = mark;
    } else {
      t.seen[seenSlot] = mark;
    }
    return tok;
  }

  /** The first `tokenBytes` bytes of the HMAC `d` as base64url after the prefix: one flat string. */
  private encode(t: TypeTokens, d: Uint8Array): string {
    const out = t.scratch;
    let o = t.prefixLength;
    const n = this.tokenBytes;
    let i = 0;
    for (; i + 3 <= n; i += 3) {
      const v = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
      out[o++] = BASE64URL.charCodeAt(v >>> 18);
      out[o++] = BASE64URL.charCodeAt((v >>> 12) & 63);
      out[o++] = BASE64URL.charCodeAt((v >>> 6) & 63);
      out[o++] = BASE64URL.charCodeAt(v & 63);
    }
    if (n - i === 1) {
      const v = d[i]!;
      out[o++] = BASE64URL.charCodeAt(v >>> 2);
      out[o++] = BASE64URL.charCodeAt((v & 3) << 4);
    } else if (n - i === 2) {
      const v = (d[i]! << 8) | d[i + 1]!;
      out[o++] = BASE64URL.charCodeAt(v >>> 10);
      out[o++] = BASE64URL.charCodeAt((v >>> 4) & 63);
      out[o++] = BASE64URL.charCodeAt((v & 15) << 2);
    }
    return out.toString('latin1', 0, o);
  }
}

/** Canonical forms that `normalizedBytes` writes without a string. */
const enum Norm {
  None,
  /** Lower-cased (email). */
  Lower,
  /** The digits only (card, SSN). */
  Digits,
  /** E.164 (phone). */
  Phone,
  /** As written (IPv4; IPv6 goes through normalizeForHash). */
  Ip,
  /** Without whitespace and dashes, upper-cased (IBAN, postal code, national id). */
  Compact,
  /** The hex digits only, lower-cased (MAC). */
  Hex,
}

const NORM_OF: Partial<Record<EntityType, Norm>> = {
  email: Norm.Lower,
  card: Norm.Digits,
  ssn: Norm.Digits,
  phone: Norm.Phone,
  ip: Norm.Ip,
  iban: Norm.Compact,
  postal_code: Norm.Compact,
  national_id: Norm.Compact,
  mac: Norm.Hex,
};

/** Printable ASCII other than space: what trim() keeps at an end and what is one UTF-8 byte. */
function isGraphic(c: number): boolean {
  return c > 32 && c < 127;
}

/**
 * Writes the UTF-8 bytes of `normalizeForHash(type, value)` into `out` (room for
 * value.length + 2 bytes) and returns their length, or -1 when the value needs the
 * string path: anything outside printable ASCII where trimming, case mapping or `\s` would
 * see it, an IPv6 address, a phone number that needs libphonenumber. Gives exactly the
 * bytes of the string path (the unit tests compare the two).
 */
export function normalizedBytes(norm: Norm, value: string, out: Uint8Array, nanp: boolean): number {
  const n = value.length;
  let o = 0;
  switch (norm) {
    case Norm.Lower:
      // v.trim().toLowerCase()
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (!isGraphic(c)) return -1;
        out[o++] = c >= 65 && c <= 90 ? c | 0x20 : c;
      }
      return o;
    case Norm.Digits:
      // v.replace(/\D+/g, ''): whitespace is not a digit, so trimming changes nothing.
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 48 && c <= 57) out[o++] = c;
      }
      return o;
    case Norm.Ip:
      // canonicalIp(v.trim()) is v itself without a colon.
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (!isGraphic(c) || c === 58) return -1;
        out[o++] = c;
      }
      return o;
    case Norm.Compact:
      // v.replace(/[\s-]+/g, '').toUpperCase(), for ASCII (\s is tab to CR and space there).
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c === 32 || c === 45 || (c >= 9 && c <= 13)) continue;
        if (c >= 127) return -1;
        out[o++] = c >= 97 && c <= 122 ? c & ~0x20 : c;
      }
      return o;
    case Norm.Hex:
      // v.replace(/[^0-9a-fA-F]+/g, '').toLowerCase()
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 48 && c <= 57) out[o++] = c;
        else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) out[o++] = c | 0x20;
      }
      return o;
    case Norm.Phone:
      return e164Bytes(value, out, nanp);
    default:
      return -1;
  }
}

/**
 * toE164(v.trim()) as bytes for the forms it computes without libphonenumber: `+` and 8-15
 * digits (no "(0)"), or a NANP national number when the regions hold US or CA; -1 else.
 */
function e164Bytes(value: string, out: Uint8Array, nanp: boolean): number {
  const n = value.length;
  if (n === 0 || !isGraphic(value.charCodeAt(0)) || !isGraphic(value.charCodeAt(n - 1))) return -1;
  const plus = value.charCodeAt(0) === 43;
  let o = 2; // room for "+1"
  let zeroInParens = false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) out[o++] = c;
    else if (c === 40 && value.charCodeAt(i + 1) === 48 && value.charCodeAt(i + 2) === 41) zeroInParens = true;
  }
  const digits = o - 2;
  if (plus) {
    if (zeroInParens || digits < 8 || digits > 15) return -1;
    out[1] = 43;
    return copyDown(out, 1, o);
  }
  if (!nanp) return -1;
  const d0 = 2;
  if (digits === 10 && nanpDigit(out[d0]!) && nanpDigit(out[d0 + 3]!)) {
    out[0] = 43;
    out[1] = 49;
    return o;
  }
  if (digits === 11 && out[d0] === 49 && nanpDigit(out[d0 + 1]!) && nanpDigit(out[d0 + 4]!)) {
    out[1] = 43;
    return copyDown(out, 1, o);
  }
  return -1;
}

/** Area codes and exchanges start with 2-9. */
function nanpDigit(c: number): boolean {
  return c >= 50 && c <= 57;
}

/** Moves bytes [from, end) of `buf` to its start; returns their length. */
function copyDown(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) buf[i - from] = buf[i]!;
  return end - from;
}

/** FNV-1a over the UTF-16 code units: the token table's slot function (not a security boundary). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
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
      return ctx.pseudonymizer.pseudonymize(type, value, ctx.regions);
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
  // Runs of punctuation are copied as slices and each run of letters and digits becomes as
  // many `char`s: one pass, a concatenation per run rather than per character (and no regex
  // callback per character, which was the mask mode's largest cost on PII-dense data).
  let out = '';
  let from = 0;
  let i = 0;
  while (i < split) {
    if (!isAlnum(value.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < split && isAlnum(value.charCodeAt(j))) j++;
    const run = char === '*' && j - i <= STARS.length ? STARS.slice(0, j - i) : char.repeat(j - i);
    out += i > from ? value.slice(from, i) + run : run;
    from = i = j;
  }
  return from === 0 ? value : out + value.slice(from);
}

/** Runs of the default mask character, cut from one string. */
const STARS = '*'.repeat(64);

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
