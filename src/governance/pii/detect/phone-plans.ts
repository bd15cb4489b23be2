import { createRequire } from 'node:module';

/**
 * Validity of `+` international numbers from libphonenumber-js's own "max" metadata,
 * without going through `parsePhoneNumberFromString(...).isValid()`.
 *
 * That call costs 10-15 us (a metadata wrapper per step, a `new RegExp` per pattern
 * test, a dozen helper objects), and on PII-dense text there is a `+` number in most
 * records, most of them never seen before, so no cache helps: it was half the CPU of a
 * scrub. This module makes the same decisions over the same metadata with the same
 * regular expressions, compiled once per numbering plan, in about a microsecond:
 *
 *   calling code (the first 1-3 digits that are one) -> national number (national
 *   prefix for parsing stripped, with its transform rule, only when the library would
 *   keep the result) -> country (the only one of the calling code, else the first whose
 *   leading digits match or whose number types match) -> valid (national number pattern
 *   and one number type, with its possible lengths) or possible (a possible length).
 *
 * It mirrors libphonenumber-js 1.x (parse.js, extractCountryCallingCode.js,
 * extractNationalNumber.js, getCountryByCallingCode.js, getNumberType.js,
 * checkNumberLength.js, isValid.js, isPossible.js); the unit tests compare it with the
 * library on thousands of numbers of every calling code. When the metadata does not have
 * the shape this code reads, `internationalValidity` returns undefined and the caller
 * asks the library itself.
 */

/** 0: not a phone number; 1: right length for the country but not an assigned range; 2: valid. */
export type PhoneValidity = 0 | 1 | 2;
export const PHONE_INVALID = 0;
export const PHONE_POSSIBLE = 1;
export const PHONE_VALID = 2;

/** The parts of libphonenumber-js's Metadata class read here (present in 1.x, not in its typings). */
interface LibNumberingPlan {
  callingCode(): string;
  nationalNumberPattern(): string;
  possibleLengths(): number[] | undefined;
  nationalPrefix(): string | undefined;
  nationalPrefixForParsing(): string | undefined;
  nationalPrefixTransformRule(): string | undefined;
  leadingDigits(): string | undefined;
  hasTypes(): boolean;
  type(name: string): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}
interface LibMetadata {
  numberingPlan: LibNumberingPlan | undefined;
  selectNumberingPlan(countryOrCallingCode: string): LibMetadata;
  hasCallingCode(callingCode: string): boolean | undefined;
  getCountryCodesForCallingCode(callingCode: string): string[] | undefined;
  isNonGeographicCallingCode(callingCode: string): boolean;
}

/** FIXED_LINE first, then the order of getNumberType.js (only whether one matches matters). */
const TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];
/** MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN, MAX_LENGTH_COUNTRY_CODE of libphonenumber-js. */
const MIN_NSN = 2;
const MAX_NSN = 17;
const MAX_CALLING_CODE = 3;

/** One numbering plan (a country, or a calling code's main country), compiled. */
interface Plan {
  nationalNumber: RegExp;
  lengths: readonly number[] | undefined;
  prefixForParsing: RegExp | undefined;
  transformRule: string | undefined;
  leadingDigits: RegExp | undefined;
  hasTypes: boolean;
  types: { pattern: RegExp; lengths: readonly number[] | undefined }[];
}

/** What a calling code leads to: its main plan and the countries sharing it. */
interface CallingCode {
  plan: Plan;
  countries: readonly string[] | undefined;
  nonGeographic: boolean;
}

/** `^(?:source)$`, as matchesEntirely.js builds it. */
function entire(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

class PhonePlans {
  private readonly plans = new Map<string, Plan>();
  private readonly codes = new Map<string, CallingCode | null>();

  constructor(private readonly metadata: LibMetadata) {}

  private compile(plan: LibNumberingPlan): Plan {
    const types: Plan['types'] = [];
    if (plan.hasTypes()) {
      for (const name of TYPES) {
        const t = plan.type(name);
        const pattern = t?.pattern();
        if (t && pattern) types.push({ pattern: entire(pattern), lengths: t.possibleLengths() });
      }
    }
    const npfp = plan.nationalPrefixForParsing();
    const leading = plan.leadingDigits();
    return {
      nationalNumber: entire(plan.nationalNumberPattern()),
      lengths: plan.possibleLengths(),
      prefixForParsing: npfp ? new RegExp(`^(?:${npfp})`) : undefined,
      transformRule: plan.nationalPrefixTransformRule(),
      // nationalNumber.search(leadingDigits) === 0, i.e. a match that starts at 0
      leadingDigits: leading ? new RegExp(leading, 'y') : undefined,
      hasTypes: plan.hasTypes(),
      types,
    };
  }

  /** A country's plan (compiled on first use). */
  private country(code: string): Plan {
    let p = this.plans.get(code);
    if (!p) {
      p = this.compile(this.metadata.selectNumberingPlan(code).numberingPlan!);
      this.plans.set(code, p);
    }
    return p;
  }

  callingCode(cc: string): CallingCode | undefined {
    let c = this.codes.get(cc);
    if (c === undefined) {
      c = null;
      if (this.metadata.hasCallingCode(cc)) {
        const countries = this.metadata.getCountryCodesForCallingCode(cc);
        const plan = countries ? this.country(countries[0]!) : this.compile(this.metadata.selectNumberingPlan(cc).numberingPlan!);
        c = { plan, countries, nonGeographic: this.metadata.isNonGeographicCallingCode(cc) };
      }
      this.codes.set(cc, c);
    }
    return c ?? undefined;
  }

  /** getCountryByCallingCode.js + getCountryByNationalNumber.js */
  countryOf(code: CallingCode, nn: string): string | undefined {
    const countries = code.countries;
    if (!countries) return undefined;
    if (countries.length === 1) return countries[0];
    for (const country of countries) {
      const plan = this.country(country);
      if (plan.leadingDigits) {
        plan.leadingDigits.lastIndex = 0;
        if (nn && plan.leadingDigits.test(nn)) return country;
      } else if (hasNumberType(plan, nn)) {
        return country;
      }
    }
    return undefined;
  }

  planOf(country: string): Plan {
    return this.country(country);
  }
}

/** getNumberType(...) !== undefined */
function hasNumberType(plan: Plan, nn: string): boolean {
  if (!plan.nationalNumber.test(nn)) return false;
  for (const t of plan.types) {
    if (t.lengths && !t.lengths.includes(nn.length)) continue;
    if (t.pattern.test(nn)) return true;
  }
  return false;
}

/** checkNumberLength.js without a type: IS_POSSIBLE, TOO_SHORT, TOO_LONG or INVALID_LENGTH. */
function lengthCheck(lengths: readonly number[] | undefined, n: number): 'IS_POSSIBLE' | 'TOO_SHORT' | 'TOO_LONG' | 'INVALID_LENGTH' {
  if (!lengths) return 'IS_POSSIBLE';
  if (lengths[0] === n) return 'IS_POSSIBLE';
  if (lengths[0]! > n) return 'TOO_SHORT';
  if (lengths[lengths.length - 1]! < n) return 'TOO_LONG';
  return lengths.indexOf(n, 1) >= 0 ? 'IS_POSSIBLE' : 'INVALID_LENGTH';
}

/** extractNationalNumber.js (with extractNationalNumberFromPossiblyIncompleteNumber.js) for a calling code's main plan. */
function nationalNumberOf(plans: PhonePlans, code: CallingCode, number: string): string {
  const plan = code.plan;
  const re = plan.prefixForParsing;
  if (!re) return number;
  const m = re.exec(number);
  if (!m) return number;
  const captured = m.length - 1;
  const hasCaptured = captured > 0 && Boolean(m[captured]);
  const nn = plan.transformRule && hasCaptured ? number.replace(re, plan.transformRule) : number.slice(m[0].length);
  if (nn === number) return number;
  // shouldHaveExtractedNationalPrefix
  if (plan.nationalNumber.test(number) && !plan.nationalNumber.test(nn)) return number;
  if (plan.lengths) {
    const country = plans.countryOf(code, nn);
    const lengths = country ? plans.planOf(country).lengths : plan.lengths;
    const check = lengthCheck(lengths, nn.length);
    if (check === 'TOO_SHORT' || check === 'INVALID_LENGTH') return number;
  }
  return nn;
}

let plans: PhonePlans | null | undefined;

function loadPlans(): PhonePlans | null {
  try {
    const require = createRequire(import.meta.url);
    const { Metadata } = require('libphonenumber-js/core') as { Metadata: new (json: unknown) => LibMetadata };
    const metadata = new Metadata(require('libphonenumber-js/metadata.max.json'));
    const p = new PhonePlans(metadata);
    // The methods read above exist: resolve one plan of each kind now, or fall back to the library.
    const us = p.callingCode('1');
    if (!us || us.plan.types.length === 0 || !us.countries?.includes('US')) return null;
    return p;
  } catch {
    return null;
  }
}

/**
 * What `parsePhoneNumberFromString('+' + digits)` then `.isValid()` / `.isPossible()`
 * would say, for `digits` of ASCII digits only. Undefined when the metadata could not be
 * read in the expected shape (the caller then asks the library).
 */
export function internationalValidity(digits: string): PhoneValidity | undefined {
  if (plans === undefined) plans = loadPlans();
  if (plans === null) return undefined;
  if (digits.length === 0 || digits.charCodeAt(0) === 48) return PHONE_INVALID;
  let code: CallingCode | undefined;
  let i = 1;
  for (; i <= MAX_CALLING_CODE && i <= digits.length; i++) {
    code = plans.callingCode(digits.slice(0, i));
    if (code) break;
  }
  if (!code) return PHONE_INVALID;
  const rest = digits.slice(i);
  if (rest.length === 0) return PHONE_INVALID;
  const nn = nationalNumberOf(plans, code, rest);
  if (nn.length < MIN_NSN || nn.length > MAX_NSN) return PHONE_INVALID;
  const country = plans.countryOf(code, nn);
  const plan = country ? plans.planOf(country) : code.plan;
  const valid = plan.hasTypes ? hasNumberType(plan, nn) : plan.nationalNumber.test(nn);
  if (valid) return PHONE_VALID;
  if (plan.lengths) return lengthCheck(plan.lengths, nn.length) === 'IS_POSSIBLE' ? PHONE_POSSIBLE : PHONE_INVALID;
  // isPossible.js: no possible lengths is possible for a non-geographic code, else an error (invalid).
  return code.nonGeographic ? PHONE_POSSIBLE : PHONE_INVALID;
}
