import type { CountryCode } from 'libphonenumber-js/max';
import type { FieldContext } from './context.js';

/** What every scanner gets besides the text. */
export interface ScanContext {
  /** Context from the name of the field being scanned (set per value). */
  field: FieldContext;
  /** Regions whose national phone formats are recognised (`+` numbers are always). */
  regions: readonly CountryCode[];
  /** True when US or CA is among the regions: NANP formats like (415) 555-0100. */
  nanp: boolean;
  /** Regions other than US/CA, tried through libphonenumber for national formats. */
  otherRegions: readonly CountryCode[];
  /** Findings scoring below this are dropped. */
  minScore: number;
}

/** Loop iterations of the hand-written scanners, for the linear-time tests. */
export const scanStats = { steps: 0 };

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Letters, digits, `_`, and any non-ASCII character except no-break spaces. */
export function isWordCode(c: number): boolean {
  if (c < 128) return isDigitCode(c) || isAsciiLetter(c) || c === 95;
  return c !== 0xa0 && c !== 0x202f && c !== 0x2007 && !(c >= 0x2000 && c <= 0x200b) && c !== 0x3000;
}

export function isHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
