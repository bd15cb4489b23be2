import type { CountryCode } from 'libphonenumber-js/max';
import { TEXT_ENTITY_TYPES, type Finding, type TextEntityType } from '../types.js';
import { fieldContext, mentionsBirth } from './context.js';
import { scanDigitRuns } from './digits.js';
import { scanNamedMonthBirthDates } from './dob.js';
import { scanEmails } from './email.js';
import { scanColonAddresses, scanDelimitedMacs } from './network.js';
import type { ScanContext } from './scan-context.js';

export interface DetectOptions {
  /** Entity types to report (default: all of TEXT_ENTITY_TYPES). */
  types?: readonly TextEntityType[];
  /** Findings scoring below this are dropped (default 0.5). */
  minScore?: number;
  /**
   * ISO 3166 regions whose national phone formats are recognised (default `['US']`).
   * International `+` numbers are recognised for every country.
   */
  phoneRegions?: readonly string[];
  /** Name of the CSV column or JSON key the text came from; it acts as context. */
  field?: string;
}

/** Shortest string any detector can match (`1.1.1.1`, `a@b.io`). */
const MIN_LENGTH = 6;

/**
 * A configured detector. Build one per scrubber and call `detect` per value: the option
 * handling is done once here instead of on every field.
 */
export class PiiDetector {
  private readonly want: ReadonlySet<TextEntityType>;
  private readonly minScore: number;
  private readonly email: boolean;
  private readonly mac: boolean;
  private readonly dob: boolean;
  private readonly digits: boolean;
  private readonly colon: boolean;
  /** Reused for every call (detection is synchronous and not re-entrant): no allocation per value. */
  private readonly ctx: ScanContext;
  /** While on (see `remember`): findings by field name, then by text. */
  private memo: Map<string | undefined, Map<string, Finding[]>> | undefined;
  /** Characters of text in `memo`. */
  private memoChars = 0;

  constructor(opts: Omit<DetectOptions, 'field'> = {}) {
    const w = new Set(opts.types ?? TEXT_ENTITY_TYPES);
    this.want = w;
    this.minScore = opts.minScore ?? 0.5;
    const regions = (opts.phoneRegions ?? ['US']).map((r) => r.toUpperCase() as CountryCode);
    this.ctx = {
      field: fieldContext(undefined),
      regions,
      nanp: regions.some((r) => r === 'US' || r === 'CA'),
      otherRegions: regions.filter((r) => r !== 'US' && r !== 'CA'),
      minScore: this.minScore,
    };
    this.email = w.has('email');
    this.mac = w.has('mac');
    this.dob = w.has('dob');
    this.digits = w.has('card') || w.has('ssn') || w.has('phone') || w.has('ip') || w.has('dob') || w.has('iban');
    this.colon = w.has('ip') || w.has('mac');
  }

  /**
   * Remembers, until turned off, the findings of the texts detected, by field name and text.
   * A format handler turns it on while it samples the first records of a file to decide its
   * columns and writes those records out: each of their values is then detected once, not
   * once for the sample and again for the output (in a file that fits in the sample, all of
   * it). Findings only depend on the text and the field's name, so a remembered answer is
   * the answer; callers must not change the arrays returned (some are shared, and frozen).
   * Memory: texts too short to hold anything are not kept, and at most MEMO_CHARS characters
   * of text are (then it stops remembering more): a few times the sample's 4 MiB at worst.
   */
  remember(on: boolean): void {
    this.memo = on ? new Map() : undefined;
    this.memoChars = 0;
  }

  /** Findings in `text`, sorted by start, non-overlapping. */
  detect(text: string, field?: string): Finding[] {
    const memo = this.memo;
    if (memo === undefined || text.length < MIN_LENGTH) return this.find(text, field);
    let byText = memo.get(field);
    if (byText === undefined) memo.set(field, (byText = new Map()));
    const known = byText.get(text);
    if (known !== undefined) return known;
    const found = this.find(text, field);
    if (this.memoChars < MEMO_CHARS) {
      this.memoChars += text.length;
      byText.set(text, kept(found));
    }
    return found;
  }

  private find(text: string, field: string | undefined): Finding[] {
    const found: Finding[] = [];
    if (text.length < MIN_LENGTH) return found;
    if (this.email && text.indexOf('@') >= 0) scanEmails(text, found);
    if (this.colon && text.indexOf(':') >= 0) scanColonAddresses(text, found);
    if (this.mac) scanDelimitedMacs(text, found);
    if (this.digits && !isHexToken(text)) {
      const ctx = this.ctx;
      ctx.field = fieldContext(field);
      const sawYear = scanDigitRuns(text, ctx, found);
      // Month-name dates ("March 5, 1980") always contain a space and a year.
      if (sawYear && this.dob && text.indexOf(' ') >= 0 && (ctx.field.birth || mentionsBirth(text))) {
        scanNamedMonthBirthDates(text, ctx.field.birth, found);
      }
    }
    return this.resolve(found);
  }

  /** Drops unwanted and low-score findings; of overlapping ones keeps the best (score, then length). */
  private resolve(found: Finding[]): Finding[] {
    if (found.length === 0) return found;
    let kept = 0;
    for (const f of found) if (f.score >= this.minScore && this.want.has(f.type)) found[kept++] = f;
    if (kept < found.length) found.length = kept;
    if (kept < 2) return found;
    let sorted = true;
    for (let i = 1; i < kept && sorted; i++) sorted = found[i - 1]!.start <= found[i]!.start;
    // When not in order of start: by start, then longest first, with an insertion sort in
    // place (stable, as Array.prototype.sort is; a value holds a handful of findings).
    if (!sorted) {
      for (let i = 1; i < kept; i++) {
        const f = found[i]!;
        let j = i - 1;
        while (j >= 0 && (found[j]!.start > f.start || (found[j]!.start === f.start && found[j]!.end < f.end))) {
          found[j + 1] = found[j]!;
          j--;
        }
        found[j + 1] = f;
      }
    }
    // Overlaps: of a run of overlapping findings the best one stays, in place.
    let out = 1;
    for (let i = 1; i < kept; i++) {
      const f = found[i]!;
      const last = found[out - 1]!;
      if (f.start >= last.end) {
        found[out++] = f;
      } else if (f.score > last.score || (f.score === last.score && f.end - f.start > last.end - last.start)) {
        found[out - 1] = f;
      }
    }
    found.length = out;
    return found;
  }
}

/**
 * True for an opaque lowercase hex token: trace and span ids, digests, UUIDs (`0-9`, `a-f`,
 * single dashes between them, at least one letter). The digit scanner can find nothing in
 * one, so it is not run: its separators are all tight single dashes, so a window must span
 * a whole digit run, and with a letter in the token every run touches a letter, directly
 * or through a dash (glued on that side); IBANs need capitals, IPv4 addresses dots, dates
 * after a month name spaces. Dashed MACs (`00-1a-2b-3c-4d-5e`) are the MAC scanner's and
 * are still looked for. Checked against the digit scanner in the unit tests.
 */
export function isHexToken(text: string): boolean {
  const n = text.length;
  let letter = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 102) letter = true;
    else if (c === 45) {
      if (i === 0 || i === n - 1 || text.charCodeAt(i + 1) === 45) return false;
    } else if (c < 48 || c > 57) return false;
  }
  return letter;
}

/** Characters of text the memory of a sample holds at most (see `remember`). */
const MEMO_CHARS = 8 << 20;

const NONE: readonly Finding[] = Object.freeze([]);

/**
 * A copy of `found` to remember. The detectors' own arrays and findings are short-lived:
 * kept in the memory for the sample, they would teach V8 that what those allocation sites
 * make survives, and it would then allocate them in the old generation for the rest of the
 * file (pretenuring), which made the hash mode ~10 % slower on large files. Copies made
 * here die with the memory.
 */
function kept(found: Finding[]): Finding[] {
  if (found.length === 0) return NONE as Finding[];
  const copy: Finding[] = [];
  for (const f of found) copy.push({ type: f.type, start: f.start, end: f.end, score: f.score });
  return copy;
}

let defaultDetector: PiiDetector | undefined;

/**
 * Finds personal data in `text` with the built-in detectors. Returns type, character
 * range and confidence of each finding; never modifies or retains the text.
 */
export function detectPii(text: string, opts: DetectOptions = {}): Finding[] {
  const { field, ...rest } = opts;
  const plain = rest.types === undefined && rest.minScore === undefined && rest.phoneRegions === undefined;
  const detector = plain ? (defaultDetector ??= new PiiDetector()) : new PiiDetector(rest);
  return detector.detect(text, field);
}
