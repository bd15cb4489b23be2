import type { Finding } from '../types.js';
import { birthDateValid } from './checksums.js';
import { birthWordBefore } from './context.js';

/**
 * Birth dates written with a month name ("born March 5, 1980", "DOB: 5th Mar 1980").
 * Numeric dates (1980-03-05, 03/05/1980) are handled by the digit scanner. Either way a
 * date is only a birth date when a birth word precedes it or the field is named so:
 * dates elsewhere (event times, ISO timestamps) are left alone.
 *
 * Every quantifier is bounded ({0,6}, {1,3}) and the alternatives start with disjoint
 * characters, so matching is linear in the text.
 */
const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec';
const MONTH_FIRST = new RegExp(
  `(?<![a-z])(${MONTHS})[a-z]{0,6}\\.?[ ]{1,3}(\\d{1,2})(?:st|nd|rd|th)?,?[ ]{1,3}(\\d{4})(?!\\d)`,
  'gi',
);
const DAY_FIRST = new RegExp(
  `(?<![\\d])(\\d{1,2})(?:st|nd|rd|th)?[ ]{1,3}(?:of[ ]{1,3})?(${MONTHS})[a-z]{0,6}\\.?,?[ ]{1,3}(\\d{4})(?!\\d)`,
  'gi',
);
const MONTH_INDEX: Readonly<Record<string, number>> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};

export function scanNamedMonthBirthDates(text: string, fieldSaysBirth: boolean, out: Finding[]): void {
  for (const [re, dayGroup, monthGroup] of [
    [MONTH_FIRST, 2, 1],
    [DAY_FIRST, 1, 2],
  ] as const) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const month = MONTH_INDEX[m[monthGroup]!.toLowerCase()] ?? 0;
      if (!birthDateValid(Number(m[3]), month, Number(m[dayGroup]))) continue;
      if (fieldSaysBirth || birthWordBefore(text, m.index)) {
        out.push({ type: 'dob', start: m.index, end: m.index + m[0].length, score: 0.85 });
      }
    }
  }
}
