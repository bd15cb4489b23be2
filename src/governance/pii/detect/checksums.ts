/**
 * Checksum and structure rules of the identifier detectors. Each takes the bare
 * characters of a candidate (separators already removed) and runs in time linear in it.
 */

/** What digit `d` adds to a Luhn sum, counted from the right; every second one is doubled. */
export function luhnTerm(d: number, doubled: boolean): number {
  if (!doubled) return d;
  return d * 2 > 9 ? d * 2 - 9 : d * 2;
}

/** Luhn mod-10 over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, doubled = false; i >= 0; i--, doubled = !doubled) sum += luhnTerm(digits.charCodeAt(i) - 48, doubled);
  return sum % 10 === 0;
}

/**
 * True when the issuer prefix (IIN) belongs to a card network that issues numbers of this
 * length. Lengths are deliberately strict: 15-digit IMEIs (also Luhn-valid) and 13-digit
 * epoch milliseconds must not look like cards, so 15 digits are only American Express
 * (34, 37) and 13 digits only Visa.
 */
export function cardPrefixValid(digits: string): boolean {
  return digits.length >= 4 && cardPrefixValidFor(Number(digits.slice(0, 4)), digits.length);
}

/** cardPrefixValid of `n` digits (n >= 4) whose first four read as the number `p4`. */
export function cardPrefixValidFor(p4: number, n: number): boolean {
  const p2 = Math.floor(p4 / 100);
  const p3 = Math.floor(p4 / 10);
  switch (Math.floor(p4 / 1000)) {
    case 4: // Visa
      return n === 13 || n === 16 || n === 19;
    case 2: // Mastercard 2-series
      return n === 16 && p4 >= 2221 && p4 <= 2720;
    case 5: // Mastercard 51-55, Maestro 50 and 56-59
      return n >= 16 && n <= 19;
    case 6: // Discover, UnionPay, Maestro, RuPay, InstaPayment
      return n >= 16 && n <= 19;
    case 3:
      if (p2 === 34 || p2 === 37) return n === 15; // American Express
      if (p2 === 36) return n >= 14 && n <= 19; // Diners Club International
      if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
      if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
      return false;
    default:
      return false;
  }
}

/** IBAN length per country code (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IR: 26, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20,
  LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19,
  MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24,
  SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
  YE: 30,
};

export function ibanLength(country: string): number | undefined {
  return IBAN_LENGTHS[country];
}

/** ISO 13616 check: move the first four characters to the end, read letters as 10..35, mod 97 must be 1. */
export function ibanChecksumValid(iban: string): boolean {
  let rem = 0;
  const n = iban.length;
  for (let k = 0; k < n; k++) {
    const c = iban.charCodeAt((k + 4) % n);
    if (c >= 48 && c <= 57) {
      rem = (rem * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      rem = (rem * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return rem === 1;
}

/**
 * US Social Security number rules: area 001-899 except 666, group 01-99, serial
 * 0001-9999, and not one of the numbers the SSA has voided after public misuse.
 */
export function ssnValid(area: number, group: number, serial: number): boolean {
  if (area === 0 || area === 666 || area >= 900 || group === 0 || group > 99 || serial === 0 || serial > 9999) return false;
  return !(area === 78 && group === 5 && serial === 1120) && !(area === 219 && group === 9 && serial === 9999);
}

/** Dotted-quad octet: 0-255 without leading zeros. */
export function ipv4OctetValid(s: string): boolean {
  if (s.length === 0 || s.length > 3) return false;
  if (s.length > 1 && s.charCodeAt(0) === 48) return false;
  return Number(s) <= 255;
}

const THIS_YEAR = new Date().getUTCFullYear();
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A calendar date with a plausible birth year (1900 to this year). */
export function birthDateValid(year: number, month: number, day: number): boolean {
  if (year < 1900 || year > THIS_YEAR || month < 1 || month > 12 || day < 1) return false;
  if (day > DAYS_IN_MONTH[month - 1]!) return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

/** A 4-digit number that could be a birth year. */
export function plausibleBirthYear(year: number): boolean {
  return year >= 1900 && year <= THIS_YEAR;
}
