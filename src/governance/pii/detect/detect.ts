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
  private readonly regions: readonly CountryCode[];
  private readonly nanp: boolean;
  private readonly otherRegions: readonly CountryCode[];
  private readonly digits: boolean;
  private readonly colon: boolean;

  constructor(opts: Omit<DetectOptions, 'field'> = {}) {
    this.want = new Set(opts.types ?? TEXT_ENTITY_TYPES);
    this.minScore = opts.minScore ?? 0.5;
    this.regions = (opts.phoneRegions ?? ['US']).map((r) => r.toUpperCase() as CountryCode);
    this.nanp = this.regions.some((r) => r === 'US' || r === 'CA');
    this.otherRegions = this.regions.filter((r) => r !== 'US' && r !== 'CA');
    const w = this.want;
    this.digits = w.has('card') || w.has('ssn') || w.has('phone') || w.has('ip') || w.has('dob') || w.has('iban');
    this.colon = w.has('ip') || w.has('mac');
  }

  /** Findings in `text`, sorted by start, non-overlapping. */
  detect(text: string, field?: string): Finding[] {
    if (text.length < MIN_LENGTH) return [];
    const found: Finding[] = [];
    const fc = fieldContext(field);
    if (this.want.has('email') && text.indexOf('@') >= 0) scanEmails(text, found);
    if (this.colon && text.indexOf(':') >= 0) scanColonAddresses(text, found);
    if (this.want.has('mac')) scanDelimitedMacs(text, found);
    if (this.digits) {
      const ctx: ScanContext = { field: fc, regions: this.regions, nanp: this.nanp, otherRegions: this.otherRegions };
      scanDigitRuns(text, ctx, found);
      if (this.want.has('dob') && (fc.birth || mentionsBirth(text))) scanNamedMonthBirthDates(text, fc.birth, found);
    }
    return this.resolve(found);
  }

  /** Drops unwanted and low-score findings; of overlapping ones keeps the best (score, then length). */
  private resolve(found: Finding[]): Finding[] {
    let kept = 0;
    for (const f of found) if (f.score >= this.minScore && this.want.has(f.type)) found[kept++] = f;
    found.length = kept;
    if (kept < 2) return found;
    found.sort((a, b) => a.start - b.start || b.end - a.end);
    const out: Finding[] = [];
    for (const f of found) {
      const last = out[out.length - 1];
      if (last === undefined || f.start >= last.end) {
        out.push(f);
      } else if (f.score > last.score || (f.score === last.score && f.end - f.start > last.end - last.start)) {
        out[out.length - 1] = f;
      }
    }
    return out;
  }
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
