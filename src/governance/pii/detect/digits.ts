import type { Finding } from '../types.js';
import {
  birthDateValid,
  cardPrefixValidFor,
  ibanChecksumValid,
  ibanLength,
  luhnTerm,
  plausibleBirthYear,
  ssnValid,
} from './checksums.js';
import { afterLastDigit, askWindow, CONTEXT_WINDOW, ContextQuestion } from './context.js';
import { asciiOnly } from './window-words.js';
import { internationalPhoneValidity, phoneValidity, PHONE_POSSIBLE, PHONE_VALID } from './phone.js';
import { isDigitCode, isWordCode, scanStats, type ScanContext } from './scan-context.js';

/**
 * The digit-run scanner: cards, SSNs, phone numbers, IPv4 addresses, numeric birth dates
 * and IBANs (a run right after two capital letters), in one left-to-right pass.
 *
 * A *run* is a maximal stretch of digit groups joined by short separators (space, `-`,
 * `.`, `/`, parentheses; at most 3 characters). Every character is visited once while
 * runs are collected, and each run is then examined through *windows* of at most
 * MAX_WINDOW_GROUPS consecutive groups, so the total work is linear in the text length.
 *
 * Windows may only begin and end at a loose boundary (a separator containing a space or
 * parenthesis, or the edge of the run): a tight `-`, `.` or `/` glues groups into one token,
 * which is how `ORD-2023-000123`, `1.2.3.4.5` and UUID fragments stay whole and
 * untouched. A run glued to letters (`v1.2.3.4`, `INV-000123`, a git SHA), to a currency
 * sign or `#` (`$1,234.56`, `#100234567`) is not a candidate at that edge.
 */

const MAX_SEP = 3;
const MAX_GROUPS = 256;
const MAX_WINDOW_GROUPS = 8;
const MAX_DIGITS = 19;

const groupStart = new Int32Array(MAX_GROUPS);
const groupEnd = new Int32Array(MAX_GROUPS);
const groupUsed = new Uint8Array(MAX_GROUPS);

interface Candidate extends Finding {
  firstGroup: number;
  lastGroup: number;
}

/**
 * Context words before a window start, computed on first use: most windows are rejected
 * by their shape before any context is needed. One instance is reused for every window
 * start (reset by `at`), so scanning allocates nothing per run.
 */
class Before {
  text = '';
  pos = 0;
  /** Start of the window (CONTEXT_WINDOW characters before pos, or the text start). */
  private from = 0;
  /** Start of the near window (after the last digit of the window); -1 until needed. */
  private nearFrom = -1;
  /** Whether the window is ASCII: 0 not known yet, 1 yes, 2 no. */
  private ascii = 0;
  /** Memoised answers, two bits per question: asked, and the answer. */
  private known = 0;
  at(text: string, pos: number): this {
    this.text = text;
    this.pos = pos;
    this.from = Math.max(0, pos - CONTEXT_WINDOW);
    this.nearFrom = -1;
    this.ascii = 0;
    this.known = 0;
    return this;
  }
  private ask(q: ContextQuestion): boolean {
    const mask = 3 << (q * 2);
    const k = this.known & mask;
    if (k !== 0) return k === mask;
    const yes = this.pos > 0 && this.answer(q);
    this.known |= (yes ? 3 : 1) << (q * 2);
    return yes;
  }
  private answer(q: ContextQuestion): boolean {
    if (this.ascii === 0) this.ascii = asciiOnly(this.text, this.from, this.pos) ? 1 : 2;
    // Words about this very number come after any earlier number in the window.
    const near = q === ContextQuestion.Ssn || q === ContextQuestion.Birth || q === ContextQuestion.Card;
    if (near && this.nearFrom < 0) this.nearFrom = afterLastDigit(this.text, this.from, this.pos);
    return askWindow(q, this.text, near ? this.nearFrom : this.from, this.pos, this.ascii === 1);
  }
  get phone(): boolean {
    return this.ask(ContextQuestion.Phone);
  }
  get ssn(): boolean {
    return this.ask(ContextQuestion.Ssn);
  }
  get birth(): boolean {
    return this.ask(ContextQuestion.Birth);
  }
  get card(): boolean {
    return this.ask(ContextQuestion.Card);
  }
  get identifier(): boolean {
    return this.ask(ContextQuestion.Identifier);
  }
  get version(): boolean {
    return this.ask(ContextQuestion.Version);
  }
}

const before = new Before();

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/**
 * End of the IBAN starting at `a` (two capitals, two check digits), or -1. Exactly the
 * country's length of capitals and digits, optionally grouped by single spaces, not glued
 * to more letters or digits, with a valid mod-97 checksum.
 */
export function ibanEndAt(text: string, a: number): number {
  const n = text.length;
  const len = ibanLength(text.slice(a, a + 2));
  if (len === undefined || !isDigitCode(text.charCodeAt(a + 2)) || !isDigitCode(text.charCodeAt(a + 3))) return -1;
  let compact = '';
  let i = a;
  while (i < n && compact.length < len) {
    const c = text.charCodeAt(i);
    if (isUpper(c) || isDigitCode(c)) {
      compact += text[i];
      i++;
    } else if (c === 32 && compact.length >= 4 && text.charCodeAt(i - 1) !== 32 && i + 1 < n) {
      i++;
    } else {
      break;
    }
  }
  if (compact.length < len || (i < n && isWordCode(text.charCodeAt(i)))) return -1;
  return ibanChecksumValid(compact) ? i : -1;
}

function isRunSep(c: number): boolean {
  // space ( ) - . /
  return c === 32 || c === 40 || c === 41 || c === 45 || c === 46 || c === 47;
}

/** Characters that make an adjacent number something other than personal data. */
function isNumberMarker(c: number): boolean {
  // $ # % @ & € £ ¥ ₹
  return c === 36 || c === 35 || c === 37 || c === 64 || c === 38 || c === 0x20ac || c === 0xa3 || c === 0xa5 || c === 0x20b9;
}

function isGlue(c: number): boolean {
  // - _ . / \
  return c === 45 || c === 95 || c === 46 || c === 47 || c === 92;
}

/**
 * Appends findings to `out`. Returns whether any 4-digit group after a space could be a
 * birth year, which gates the (costlier) month-name birth date scan.
 */
export function scanDigitRuns(text: string, ctx: ScanContext, out: Finding[]): boolean {
  const n = text.length;
  let steps = 0;
  let sawYear = false;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) {
      i++;
      steps++;
      continue;
    }
    if (i >= 2 && isUpper(text.charCodeAt(i - 1)) && isUpper(text.charCodeAt(i - 2)) && (i < 3 || !isWordCode(text.charCodeAt(i - 3)))) {
      const end = ibanEndAt(text, i - 2);
      if (end > 0) {
        out.push({ type: 'iban', start: i - 2, end, score: 0.95 });
        steps += end - i;
        i = end;
        continue;
      }
    }
    // Digits glued to a letter on the left (hex hashes, identifiers) with no separator after
    // them: a single attached group, nothing can start here.
    if (i > 0 && isWordCode(text.charCodeAt(i - 1)) && !isDigitCode(text.charCodeAt(i - 1))) {
      let j = i + 1;
      while (j < n && isDigitCode(text.charCodeAt(j))) j++;
      if (j >= n || !isRunSep(text.charCodeAt(j))) {
        steps += j - i;
        i = j;
        continue;
      }
    }
    // Collect one run of digit groups starting at i.
    let g = 0;
    let j = i;
    while (j < n && g < MAX_GROUPS) {
      const gs = j;
      while (j < n && isDigitCode(text.charCodeAt(j))) j++;
      groupStart[g] = gs;
      groupEnd[g] = j;
      // Month-name dates have their year after a space ("March 5, 1980"), so only such a group counts.
      if (j - gs === 4 && !sawYear && gs > 0 && text.charCodeAt(gs - 1) === 32) {
        const y = (text.charCodeAt(gs) - 48) * 1000 + (text.charCodeAt(gs + 1) - 48) * 100 + (text.charCodeAt(gs + 2) - 48) * 10;
        sawYear = plausibleBirthYear(y + text.charCodeAt(gs + 3) - 48);
      }
      g++;
      let k = j;
      while (k < n && k - j <= MAX_SEP && isRunSep(text.charCodeAt(k))) k++;
      steps += k - gs;
      if (k < n && k - j <= MAX_SEP && k > j && isDigitCode(text.charCodeAt(k))) {
        j = k;
        continue;
      }
      break;
    }
    const cands = examineRun(text, g, ctx);
    if (cands) for (const cand of cands) out.push({ type: cand.type, start: cand.start, end: cand.end, score: cand.score });
    i = groupEnd[g - 1]!;
  }
  scanStats.steps += steps;
  return sawYear;
}

/** Candidates of the run in groups 0..g-1 (undefined: none), best non-overlapping ones only. */
function examineRun(text: string, g: number, ctx: ScanContext): Candidate[] | undefined {
  const n = text.length;
  const first = groupStart[0]!;
  const last = groupEnd[g - 1]!;
  // Under 7 digits only an IPv4 address (4 groups) or a date (3 groups) can be personal.
  if (g < 3 && last - first < 7) return undefined;
  let cands: Candidate[] | undefined;
  const lead = first > 0 ? text.charCodeAt(first - 1) : -1;
  const plus = lead === 43;
  const paren = lead === 40;
  const prefixStart = plus || paren ? first - 1 : first;
  const l1 = prefixStart > 0 ? text.charCodeAt(prefixStart - 1) : -1;
  const l2 = prefixStart > 1 ? text.charCodeAt(prefixStart - 2) : -1;
  const attachedLeft = isWordCode(l1) || isNumberMarker(l1) || (!plus && !paren && isGlue(l1) && isWordCode(l2));
  const r1 = last < n ? text.charCodeAt(last) : -1;
  const r2 = last + 1 < n ? text.charCodeAt(last + 1) : -1;
  let attachedRight: boolean;
  if (r1 === 120 || r1 === 88 || r1 === 84) attachedRight = !isDigitCode(r2); // x123 extension, ISO 'T'
  else attachedRight = isWordCode(r1) || isNumberMarker(r1) || (isGlue(r1) && isWordCode(r2));

  for (let s = 0; s < g; s++) {
    if (s === 0 ? attachedLeft : !looseBefore(text, s)) continue;
    let spanStart = groupStart[s]!;
    if (s === 0) spanStart = prefixStart;
    else if (text.charCodeAt(spanStart - 1) === 40) spanStart--;
    before.at(text, spanStart);
    let nd = 0;
    const eMax = Math.min(g - 1, s + MAX_WINDOW_GROUPS - 1);
    for (let e = s; e <= eMax; e++) {
      nd += groupEnd[e]! - groupStart[e]!;
      if (nd > MAX_DIGITS) break;
      const endOk = e === g - 1 ? !attachedRight : looseBefore(text, e + 1);
      // CIDR suffix: 10.0.0.0/8
      const cidr = !endOk && e < g - 1 && sepCode(text, e + 1) === 47;
      if (!endOk && !cidr) continue;
      const score = classifyWindow(text, s, e, nd, endOk, s === 0 && plus, ctx);
      if (score > 0) (cands ??= []).push({ type: hitType, start: spanStart, end: groupEnd[e]!, score, firstGroup: s, lastGroup: e });
    }
  }
  if (cands && cands.length > 1) pickNonOverlapping(cands);
  return cands;
}

/** True when the separator before group k (k >= 1) is loose: anything but one tight `-`, `.` or `/`. */
function looseBefore(text: string, k: number): boolean {
  const c = sepCode(text, k);
  return c !== 45 && c !== 46 && c !== 47;
}

/** The separator before group k (k >= 1) when it is one character, else -1. */
function sepCode(text: string, k: number): number {
  const a = groupEnd[k - 1]!;
  return groupStart[k]! - a === 1 ? text.charCodeAt(a) : -1;
}

/**
 * The separator before group k (k >= 1) as a number: its characters (at most MAX_SEP,
 * all ASCII) one per byte, the first in the low byte. Compared with sepKeyOf of the
 * allowed separators instead of cutting the separator out of the text.
 */
function sepKey(text: string, k: number): number {
  let key = 0;
  for (let i = groupEnd[k - 1]!, shift = 0; i < groupStart[k]!; i++, shift += 8) key |= text.charCodeAt(i) << shift;
  return key;
}

/** sepKey of a separator written as a string. */
function sepKeyOf(sep: string): number {
  let key = 0;
  for (let i = 0; i < sep.length; i++) key |= sep.charCodeAt(i) << (8 * i);
  return key;
}

/** The first character of the separator before group k (k >= 1). */
function sepFirst(text: string, k: number): number {
  return text.charCodeAt(groupEnd[k - 1]!);
}

/** The last character of the separator before group k (k >= 1). */
function sepLast(text: string, k: number): number {
  return text.charCodeAt(groupStart[k]! - 1);
}

function groupLen(k: number): number {
  return groupEnd[k]! - groupStart[k]!;
}

/** Numeric value of group k (at most 19 digits are ever read this way, so it is exact below 2^53 for the short groups used). */
function groupNum(text: string, k: number): number {
  let v = 0;
  for (let i = groupStart[k]!, end = groupEnd[k]!; i < end; i++) v = v * 10 + (text.charCodeAt(i) - 48);
  return v;
}

/** Index in the text of the `k`-th digit (0-based) counting from the start of group s. */
function digitPosition(s: number, k: number): number {
  let g = s;
  while (k >= groupLen(g)) k -= groupLen(g++);
  return groupStart[g]! + k;
}

/** The digits of groups s..e, concatenated. */
function windowDigits(text: string, s: number, e: number): string {
  if (s === e) return text.slice(groupStart[s]!, groupEnd[s]!);
  const parts: string[] = [];
  for (let k = s; k <= e; k++) parts.push(text.slice(groupStart[k]!, groupEnd[k]!));
  return parts.join('');
}

/** An IPv4 octet: 1-3 digits, no leading zero, at most 255. */
function octetAt(text: string, k: number): boolean {
  const len = groupLen(k);
  if (len > 3 || (len > 1 && text.charCodeAt(groupStart[k]!) === 48)) return false;
  return groupNum(text, k) <= 255;
}

/** NANP area code and exchange both start with 2-9 (group a is the area code, a+1 the exchange). */
function nanpAt(text: string, areaStart: number, exchangeStart: number): boolean {
  const a = text.charCodeAt(areaStart);
  const x = text.charCodeAt(exchangeStart);
  return a >= 50 && a <= 57 && x >= 50 && x <= 57;
}

/** Type of the last window classified (set by `hit`, read right after: avoids an allocation per window). */
let hitType: Finding['type'] = 'phone';

function hit(type: Finding['type'], score: number): number {
  hitType = type;
  return Math.min(1, Math.round(score * 100) / 100);
}

/**
 * Score of the best entity type for groups s..e (0: none). Shape and checksums are
 * checked first; the context words, which cost a slice and a regex, only once a shape
 * has matched.
 */
function classifyWindow(text: string, s: number, e: number, nd: number, endOk: boolean, plus: boolean, ctx: ScanContext): number {
  const ng = e - s + 1;
  const parenStart = text.charCodeAt(before.pos) === 40;
  const plain = !plus && !parenStart;

  // IPv4: exactly four dot-separated octets.
  if (ng === 4 && plain && sepCode(text, s + 1) === 46 && sepCode(text, s + 2) === 46 && sepCode(text, s + 3) === 46) {
    const valid = octetAt(text, s) && octetAt(text, s + 1) && octetAt(text, s + 2) && octetAt(text, s + 3);
    return valid && !ctx.field.version && !before.version ? hit('ip', 0.85) : 0;
  }
  if (!endOk) return 0;

  // Dates: only a birth date in birth context is personal; any other date stays.
  if (ng === 3 && plain) {
    const c = sepCode(text, s + 1);
    if (c === sepCode(text, s + 2) && (c === 45 || c === 47 || c === 46)) {
      const l0 = groupLen(s);
      const l1 = groupLen(s + 1);
      const l2 = groupLen(s + 2);
      if (l0 === 4 && l1 <= 2 && l2 <= 2) {
        const valid = birthDateValid(groupNum(text, s), groupNum(text, s + 1), groupNum(text, s + 2));
        return valid && (ctx.field.birth || before.birth) ? hit('dob', 0.85) : 0;
      }
      if (l0 <= 2 && l1 <= 2 && l2 === 4) {
        const a = groupNum(text, s);
        const b = groupNum(text, s + 1);
        const y = groupNum(text, s + 2);
        const valid = birthDateValid(y, a, b) || birthDateValid(y, b, a);
        return valid && (ctx.field.birth || before.birth) ? hit('dob', 0.85) : 0;
      }
    }
  }

  if (nd < 7) return 0;
  if (plain) {
    // US SSN: 3-2-4 with one separator, or 9 bare digits after an SSN word.
    if (ng === 3 && groupLen(s) === 3 && groupLen(s + 1) === 2 && groupLen(s + 2) === 4) {
      const c = sepCode(text, s + 1);
      if (c === sepCode(text, s + 2) && (c === 45 || c === 32)) {
        if (!ssnValid(groupNum(text, s), groupNum(text, s + 1), groupNum(text, s + 2))) return 0;
        if (ctx.field.identifier || before.identifier) return 0;
        const said = ctx.field.ssn || before.ssn;
        return hit('ssn', c === 45 ? (said ? 0.95 : 0.85) : said ? 0.9 : 0.6);
      }
    }
    if (ng === 1 && nd === 9) {
      const v = groupNum(text, s);
      const valid = ssnValid(Math.floor(v / 1e6), Math.floor(v / 1e4) % 100, v % 1e4);
      if (valid && (ctx.field.ssn || before.ssn) && !(ctx.field.identifier || before.identifier)) return hit('ssn', 0.8);
    }
    // Payment card: 13-19 digits, network prefix and length, Luhn.
    if (nd >= 13 && cardGroupingValid(text, s, e)) {
      if (cardPrefixValidFor(firstFour(text, s), nd) && windowLuhnValid(text, s, e)) {
        const said = ctx.field.card || before.card;
        if (said || !(ctx.field.identifier || before.identifier)) return hit('card', (ng > 1 ? 0.9 : 0.8) + (said ? 0.05 : 0));
      }
    }
  }
  if (nd > 15) return 0;
  const score = classifyPhone(text, s, e, nd, plus, parenStart, ctx);
  return score > 0 && !ctx.field.identifier && !before.identifier ? hit('phone', score) : 0;
}

/** The number formed by the first four digits of groups s.. (a card window: group s has at least four, or is all of them). */
function firstFour(text: string, s: number): number {
  const at = groupStart[s]!;
  return (text.charCodeAt(at) - 48) * 1000 + (text.charCodeAt(at + 1) - 48) * 100 + (text.charCodeAt(at + 2) - 48) * 10 + (text.charCodeAt(at + 3) - 48);
}

/** luhnValid of the digits of groups s..e, read in place. */
function windowLuhnValid(text: string, s: number, e: number): boolean {
  let sum = 0;
  let doubled = false;
  for (let k = e; k >= s; k--) {
    for (let i = groupEnd[k]! - 1, start = groupStart[k]!; i >= start; i--, doubled = !doubled) sum += luhnTerm(text.charCodeAt(i) - 48, doubled);
  }
  return sum % 10 === 0;
}

function cardGroupingValid(text: string, s: number, e: number): boolean {
  if (s === e) return true;
  const sep = sepCode(text, s + 1);
  if ((sep !== 32 && sep !== 45) || groupLen(s) !== 4) return false;
  for (let k = s + 1; k <= e; k++) {
    if (sepCode(text, k) !== sep) return false;
    const len = groupLen(k);
    if (k < e ? len < 4 || len > 6 : len < 1 || len > 6) return false;
  }
  return true;
}

/** Separators (as sepKey) after the area code, between exchange and line, and before the area code after a leading 1. */
const NANP_SEP_AFTER_AREA = new Set(['-', '.', ' ', ') ', ')', ' - ', ')-', ') - '].map(sepKeyOf));
const NANP_SEP = new Set(['-', '.', ' ', ' - '].map(sepKeyOf));
const NANP_LEAD = new Set(['-', '.', ' ', ' - ', ' (', '(', '-('].map(sepKeyOf));

/** Phone score for groups s..e, before the identifier-context check (0: not a phone). */
function classifyPhone(text: string, s: number, e: number, nd: number, plus: boolean, parenStart: boolean, ctx: ScanContext): number {
  const ng = e - s + 1;

  const spanEnd = groupEnd[e]!;
  if (plus) {
    if (nd < 8) return 0;
    // +1 and a NANP number: structure is enough unless the threshold asks for more.
    if (nd === 11 && text.charCodeAt(groupStart[s]!) === 49) {
      const structural = ctx.field.phone || before.phone ? 0.85 : 0.8;
      if (structural >= ctx.minScore && nanpAt(text, digitPosition(s, 1), digitPosition(s, 4))) return structural;
    }
    const v = internationalPhoneValidity(windowDigits(text, s, e), text.slice(before.pos, spanEnd));
    if (v === PHONE_VALID) return (ctx.field.phone || before.phone) ? 0.95 : 0.9;
    if (v === PHONE_POSSIBLE) return (ctx.field.phone || before.phone) ? 0.85 : 0.8;
    return 0;
  }
  if (ctx.nanp) {
    let score = 0;
    // (415) 555-0100, 415-555-0100, 415.555.0100, 415 555 0100, 1-415-555-0100
    const a = ng === 4 && groupLen(s) === 1 && text.charCodeAt(groupStart[s]!) === 49 ? s + 1 : s;
    if (e - a === 2 && groupLen(a) === 3 && groupLen(a + 1) === 3 && groupLen(a + 2) === 4) {
      const areaInParens = a === s ? parenStart : sepLast(text, a) === 40;
      if (
        areaInParens === (sepFirst(text, a + 1) === 41) &&
        NANP_SEP_AFTER_AREA.has(sepKey(text, a + 1)) &&
        NANP_SEP.has(sepKey(text, a + 2)) &&
        (a === s || NANP_LEAD.has(sepKey(text, a))) &&
        nanpAt(text, groupStart[a]!, groupStart[a + 1]!)
      ) {
        score = (ctx.field.phone || before.phone) ? 0.85 : 0.75;
      }
    } else if (ng === 2 && groupLen(s) === 3 && groupLen(e) === 7 && parenStart && sepFirst(text, e) === 41) {
      if (nanpAt(text, groupStart[s]!, groupStart[e]!)) score = 0.75;
    } else if (ng === 1 && (nd === 10 || (nd === 11 && text.charCodeAt(groupStart[s]!) === 49)) && (ctx.field.phone || before.phone)) {
      const st = groupStart[s]! + (nd === 11 ? 1 : 0);
      if (nanpAt(text, st, st + 3)) score = 0.7;
    } else if (ng === 2 && groupLen(s) === 3 && groupLen(e) === 4 && !parenStart && (ctx.field.phone || before.phone)) {
      // 555-0100 after "call" / "phone": a local number without area code.
      const c = sepCode(text, e);
      if ((c === 45 || c === 46 || c === 32) && text.charCodeAt(groupStart[s]!) >= 50) return 0.65;
    }
    if (score > 0) {
      // NANP structure already holds; libphonenumber's assigned-range check can only raise
      // the score, so it is consulted only when the threshold is above what structure earns.
      if (score < ctx.minScore) {
        const digits = windowDigits(text, s, e);
        if (phoneValidity(nd === 11 ? digits.slice(1) : digits, 'US') === PHONE_VALID) score = (ctx.field.phone || before.phone) ? 0.95 : 0.9;
      }
      return score;
    }
  }
  if (ctx.otherRegions.length > 0 && ((ng > 1 && text.charCodeAt(groupStart[s]!) === 48) || (ctx.field.phone || before.phone)) && !decimalFraction(text, s, e)) {
    const candidate = text.slice(before.pos, spanEnd);
    for (const r of ctx.otherRegions) {
      if (phoneValidity(candidate, r) === PHONE_VALID) return (ctx.field.phone || before.phone) ? 0.85 : 0.75;
    }
  }
  return 0;
}

/**
 * `0.54408275162184`, `0,5440827516`: a lone 0 and a decimal point or comma is a fraction,
 * not a national trunk prefix (no national format writes `0.` before the area code).
 */
function decimalFraction(text: string, s: number, e: number): boolean {
  if (e === s || groupLen(s) !== 1 || text.charCodeAt(groupStart[s]!) !== 48) return false;
  const c = sepCode(text, s + 1);
  return c === 46 || c === 44;
}

/** Keep the best non-overlapping windows of one run: highest score, then longest. */
function pickNonOverlapping(cands: Candidate[]): void {
  cands.sort((x, y) => y.score - x.score || y.end - y.start - (x.end - x.start) || x.start - y.start);
  let kept = 0;
  for (const c of cands) {
    let free = true;
    for (let k = c.firstGroup; k <= c.lastGroup && free; k++) free = groupUsed[k] === 0;
    if (!free) continue;
    for (let k = c.firstGroup; k <= c.lastGroup; k++) groupUsed[k] = 1;
    cands[kept++] = c;
  }
  for (const c of cands) for (let k = c.firstGroup; k <= c.lastGroup; k++) groupUsed[k] = 0;
  cands.length = kept;
}
