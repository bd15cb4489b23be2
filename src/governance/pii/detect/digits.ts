import type { Finding } from '../types.js';
import { birthDateValid, cardPrefixValid, ibanChecksumValid, ibanLength, ipv4OctetValid, luhnValid, ssnValid } from './checksums.js';
import {
  birthWord,
  cardWord,
  contextWindow,
  identifierWordAtEnd,
  phoneWord,
  ssnWord,
  versionWordAtEnd,
  windowAfterLastDigit,
} from './context.js';
import { nanpStructureValid, phoneValidity, PHONE_POSSIBLE, PHONE_VALID } from './phone.js';
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
 * by their shape before any context is needed.
 */
class Before {
  private w: string | undefined;
  private near: string | undefined;
  constructor(
    private readonly text: string,
    readonly pos: number,
  ) {}
  private get window(): string {
    return (this.w ??= contextWindow(this.text, this.pos));
  }
  /** The window after the last number in it, for words that must refer to this number. */
  private get nearWindow(): string {
    return (this.near ??= windowAfterLastDigit(this.window));
  }
  get phone(): boolean {
    return phoneWord(this.window);
  }
  get ssn(): boolean {
    return ssnWord(this.nearWindow);
  }
  get birth(): boolean {
    return birthWord(this.nearWindow);
  }
  get card(): boolean {
    return cardWord(this.window);
  }
  get identifier(): boolean {
    return identifierWordAtEnd(this.window);
  }
  get version(): boolean {
    return versionWordAtEnd(this.window);
  }
}

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

export function scanDigitRuns(text: string, ctx: ScanContext, out: Finding[]): void {
  const n = text.length;
  let steps = 0;
  let i = 0;
  const cands: Candidate[] = [];
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
    // Collect one run of digit groups starting at i.
    let g = 0;
    let j = i;
    while (j < n && g < MAX_GROUPS) {
      const gs = j;
      while (j < n && isDigitCode(text.charCodeAt(j))) j++;
      groupStart[g] = gs;
      groupEnd[g] = j;
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
    examineRun(text, g, ctx, cands);
    for (const cand of cands) out.push({ type: cand.type, start: cand.start, end: cand.end, score: cand.score });
    cands.length = 0;
    i = groupEnd[g - 1]!;
  }
  scanStats.steps += steps;
}

function examineRun(text: string, g: number, ctx: ScanContext, cands: Candidate[]): void {
  const n = text.length;
  const first = groupStart[0]!;
  const last = groupEnd[g - 1]!;
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
    const before = new Before(text, spanStart);
    let nd = 0;
    const eMax = Math.min(g - 1, s + MAX_WINDOW_GROUPS - 1);
    for (let e = s; e <= eMax; e++) {
      nd += groupEnd[e]! - groupStart[e]!;
      if (nd > MAX_DIGITS) break;
      const endOk = e === g - 1 ? !attachedRight : looseBefore(text, e + 1);
      // CIDR suffix: 10.0.0.0/8
      const cidr = !endOk && e < g - 1 && text.charCodeAt(groupEnd[e]!) === 47 && groupStart[e + 1]! - groupEnd[e]! === 1;
      if (!endOk && !cidr) continue;
      const cand = classifyWindow(text, s, e, nd, endOk, s === 0 && plus, before, ctx);
      if (cand) cands.push(cand);
    }
  }
  if (cands.length > 1) pickNonOverlapping(cands);
}

/** True when the separator before group k (k >= 1) is loose: anything but one tight `-`, `.` or `/`. */
function looseBefore(text: string, k: number): boolean {
  const a = groupEnd[k - 1]!;
  const b = groupStart[k]!;
  if (b - a !== 1) return true;
  const c = text.charCodeAt(a);
  return c !== 45 && c !== 46 && c !== 47;
}

function sepOf(text: string, k: number): string {
  return text.slice(groupEnd[k - 1]!, groupStart[k]!);
}

function groupText(text: string, k: number): string {
  return text.slice(groupStart[k]!, groupEnd[k]!);
}

function groupLen(k: number): number {
  return groupEnd[k]! - groupStart[k]!;
}

function classifyWindow(
  text: string,
  s: number,
  e: number,
  nd: number,
  endOk: boolean,
  plus: boolean,
  before: Before,
  ctx: ScanContext,
): Candidate | undefined {
  const spanStart = before.pos;
  const ng = e - s + 1;
  const spanEnd = groupEnd[e]!;
  const parenStart = text.charCodeAt(spanStart) === 40;
  const mk = (type: Finding['type'], score: number): Candidate => ({
    type,
    start: spanStart,
    end: spanEnd,
    score: Math.min(1, Math.round(score * 100) / 100),
    firstGroup: s,
    lastGroup: e,
  });

  // IPv4: exactly four dot-separated octets.
  if (ng === 4 && !plus && !parenStart) {
    if (sepOf(text, s + 1) === '.' && sepOf(text, s + 2) === '.' && sepOf(text, s + 3) === '.') {
      const o0 = groupText(text, s);
      if (
        o0 !== '0' &&
        ipv4OctetValid(o0) &&
        ipv4OctetValid(groupText(text, s + 1)) &&
        ipv4OctetValid(groupText(text, s + 2)) &&
        ipv4OctetValid(groupText(text, s + 3))
      ) {
        if (ctx.field.version || before.version) return undefined;
        return mk('ip', 0.85);
      }
      return undefined;
    }
  }
  if (!endOk) return undefined;

  // Dates: only a birth date in birth context is personal; any other date stays.
  if (ng === 3 && !plus && !parenStart) {
    const sep = sepOf(text, s + 1);
    if (sep === sepOf(text, s + 2) && (sep === '-' || sep === '/' || sep === '.')) {
      const l0 = groupLen(s);
      const l1 = groupLen(s + 1);
      const l2 = groupLen(s + 2);
      let valid = false;
      if (l0 === 4 && l1 <= 2 && l2 <= 2) {
        valid = birthDateValid(Number(groupText(text, s)), Number(groupText(text, s + 1)), Number(groupText(text, s + 2)));
      } else if (l0 <= 2 && l1 <= 2 && l2 === 4) {
        const a = Number(groupText(text, s));
        const b = Number(groupText(text, s + 1));
        const y = Number(groupText(text, s + 2));
        valid = birthDateValid(y, a, b) || birthDateValid(y, b, a);
      }
      if (valid || (l0 === 4 && l1 <= 2 && l2 <= 2) || (l0 <= 2 && l1 <= 2 && l2 === 4)) {
        if (valid && (ctx.field.birth || before.birth)) return mk('dob', 0.85);
        return undefined;
      }
    }
  }

  if (nd < 7) return undefined;
  let digits = '';
  for (let k = s; k <= e; k++) digits += groupText(text, k);
  const identifier = ctx.field.identifier || before.identifier;

  // US SSN: 3-2-4 with one separator, or 9 bare digits after an SSN word.
  if (!plus && !parenStart) {
    if (ng === 3 && groupLen(s) === 3 && groupLen(s + 1) === 2 && groupLen(s + 2) === 4) {
      const sep = sepOf(text, s + 1);
      if (sep === sepOf(text, s + 2) && (sep === '-' || sep === ' ')) {
        if (!identifier && ssnValid(groupText(text, s), groupText(text, s + 1), groupText(text, s + 2))) {
          const said = ctx.field.ssn || before.ssn;
          return mk('ssn', sep === '-' ? (said ? 0.95 : 0.85) : said ? 0.9 : 0.6);
        }
        return undefined;
      }
    }
    if (ng === 1 && nd === 9 && !identifier && (ctx.field.ssn || before.ssn)) {
      if (ssnValid(digits.slice(0, 3), digits.slice(3, 5), digits.slice(5))) return mk('ssn', 0.8);
    }
  }

  // Payment card: 13-19 digits, network prefix and length, Luhn.
  if (nd >= 13 && !plus && !parenStart && cardGroupingValid(text, s, e)) {
    if (cardPrefixValid(digits) && luhnValid(digits)) {
      const said = ctx.field.card || before.card;
      if (!identifier || said) return mk('card', (ng > 1 ? 0.9 : 0.8) + (said ? 0.05 : 0));
    }
  }

  if (nd > 15 || identifier) return undefined;
  return classifyPhone(text, s, e, nd, digits, plus, parenStart, before, spanEnd, ctx, mk);
}

function cardGroupingValid(text: string, s: number, e: number): boolean {
  if (s === e) return true;
  const sep = sepOf(text, s + 1);
  if (sep !== ' ' && sep !== '-') return false;
  if (groupLen(s) !== 4) return false;
  for (let k = s + 1; k <= e; k++) {
    if (sepOf(text, k) !== sep) return false;
    const len = groupLen(k);
    if (k < e ? len < 4 || len > 6 : len < 1 || len > 6) return false;
  }
  return true;
}

const NANP_SEP_AFTER_AREA = new Set(['-', '.', ' ', ') ', ')', ' - ', ')-', ') - ']);
const NANP_SEP = new Set(['-', '.', ' ', ' - ']);

function classifyPhone(
  text: string,
  s: number,
  e: number,
  nd: number,
  digits: string,
  plus: boolean,
  parenStart: boolean,
  before: Before,
  spanEnd: number,
  ctx: ScanContext,
  mk: (type: Finding['type'], score: number) => Candidate,
): Candidate | undefined {
  const spanStart = before.pos;
  const said = ctx.field.phone || before.phone;
  const ng = e - s + 1;
  if (plus) {
    if (nd < 8) return undefined;
    const v = phoneValidity(text.slice(spanStart, spanEnd), undefined);
    if (v === PHONE_VALID) return mk('phone', said ? 0.95 : 0.9);
    if (v === PHONE_POSSIBLE) return mk('phone', said ? 0.85 : 0.8);
    return undefined;
  }
  if (ctx.nanp) {
    let score = 0;
    // (415) 555-0100, 415-555-0100, 415.555.0100, 415 555 0100, 1-415-555-0100
    const a = ng === 4 && groupLen(s) === 1 && digits.charCodeAt(0) === 49 ? s + 1 : s;
    if (e - a === 2 && groupLen(a) === 3 && groupLen(a + 1) === 3 && groupLen(a + 2) === 4) {
      const sep1 = sepOf(text, a + 1);
      const sep2 = sepOf(text, a + 2);
      const areaInParens = a === s ? parenStart : sepOf(text, a).endsWith('(');
      const closes = sep1.startsWith(')');
      if (
        areaInParens === closes &&
        NANP_SEP_AFTER_AREA.has(sep1) &&
        NANP_SEP.has(sep2) &&
        (a === s || NANP_SEP.has(sepOf(text, a).replace('(', '')) || sepOf(text, a) === ' (') &&
        nanpStructureValid(groupText(text, a), groupText(text, a + 1))
      ) {
        score = said ? 0.85 : 0.75;
      }
    } else if (ng === 2 && groupLen(s) === 3 && groupLen(e) === 7 && parenStart && sepOf(text, e).startsWith(')')) {
      if (nanpStructureValid(groupText(text, s), groupText(text, e).slice(0, 3))) score = 0.75;
    } else if (said && ng === 1 && (nd === 10 || (nd === 11 && digits.charCodeAt(0) === 49))) {
      const d = nd === 11 ? digits.slice(1) : digits;
      if (nanpStructureValid(d.slice(0, 3), d.slice(3, 6))) score = 0.7;
    } else if (said && ng === 2 && groupLen(s) === 3 && groupLen(e) === 4 && !parenStart) {
      // 555-0100 after "call" / "phone": a local number without area code.
      const sep = sepOf(text, e);
      if ((sep === '-' || sep === '.' || sep === ' ') && text.charCodeAt(groupStart[s]!) >= 50) return mk('phone', 0.65);
    }
    if (score > 0) {
      const national = nd === 11 ? digits.slice(1) : digits;
      const v = phoneValidity(national, 'US');
      return mk('phone', v === PHONE_VALID ? Math.max(score, said ? 0.95 : 0.9) : score);
    }
  }
  if (ctx.otherRegions.length > 0 && (said || (ng > 1 && digits.charCodeAt(0) === 48))) {
    const candidate = text.slice(spanStart, spanEnd);
    for (const r of ctx.otherRegions) {
      if (phoneValidity(candidate, r) === PHONE_VALID) return mk('phone', said ? 0.85 : 0.75);
    }
  }
  return undefined;
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
