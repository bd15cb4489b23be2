import { detached } from '../cache.js';
import { asciiOnly, idTrailing, PhraseMatcher, versionTrailing, WordAtEnd } from './window-words.js';

/**
 * Context words. Detectors look at a short window of text before a candidate (never more
 * than CONTEXT_WINDOW characters, so every check is constant time) and at the name of
 * the field the text came from (CSV column or JSON key).
 *
 * All patterns are alternations of literals with fixed-width boundaries: no nested or
 * overlapping quantifiers, so each runs in time linear in the window.
 */

export const CONTEXT_WINDOW = 40;

/** `customerPhoneNumber`, `Customer-Phone #` -> `customer_phone_number`, `customer_phone_#`. */
export function normalizeFieldName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[\s.\-/]+/g, '_');
}

/** Builds `(?:^|[^a-z])(?:a|b|...)(?![a-z])` from phrases (`.` is literal). */
function anywhere(phrases: readonly string[]): RegExp {
  return new RegExp(`(?:^|[^a-z])(?:${phrases.map((p) => p.replaceAll('.', '\\.')).join('|')})(?![a-z])`);
}

const PHONE_LIST = [
  'phone', 'phones', 'telephone', 'tel', 'mobile', 'mob', 'cell', 'cellphone', 'call', 'calls', 'called', 'calling', 'fax',
  'sms', 'text', 'texted', 'whatsapp', 'signal', 'contact', 'ph', 'dial', 'reach', 'msisdn', 'hotline',
];
const SSN_LIST = ['ssn', 'ssns', 'ss#', 'ss no', 'social security', 'social_security', 'socsec', 'soc sec', 'taxpayer', 'itin'];
const BIRTH_LIST = ['born', 'birth', 'birthdate', 'birthday', 'bday', 'dob', 'd.o.b', 'geb', 'geboren', 'nacimiento', 'naissance', 'nascita'];
const CARD_LIST = ['card', 'cards', 'cc', 'ccn', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'pan'];

export const PHONE_WORDS = anywhere(PHONE_LIST);
export const SSN_WORDS = anywhere(SSN_LIST);
export const BIRTH_WORDS = anywhere(BIRTH_LIST);
export const CARD_WORDS = anywhere(CARD_LIST);

/**
 * Identifier words that make the number right after them an identifier of something else
 * (an order, an invoice, a device) rather than personal data: "order #100234567",
 * "invoice no. 2024-000123", "IMEI: 35-209900-176148-1". Anchored to the end of the window.
 */
const ID_LIST = [
  'order', 'orders', 'invoice', 'inv', 'po', 'ref', 'reference', 'ticket', 'case', 'tracking', 'receipt', 'transaction',
  'txn', 'tx', 'confirmation', 'booking', 'shipment', 'sku', 'serial', 'sn', 'imei', 'imsi', 'iccid', 'meid', 'batch',
  'lot', 'part', 'model', 'item', 'product', 'request', 'req', 'job', 'trace', 'run', 'commit', 'issue', 'bug', 'pr',
  'account', 'acct', 'project', 'build', 'version', 'ver', 'release', 'isbn', 'ean', 'upc', 'gtin', 'asin',
];
const ID_SUFFIXES = ['no', 'nr', 'num', 'number', 'id', '#', 'code'];
export const ID_WORDS_BEFORE = new RegExp(`(?:^|[^a-z])(?:${ID_LIST.join('|')})(?:[ _-]*(?:${ID_SUFFIXES.join('|')}))?[\\s:#=."'()-]*$`);

/** Version words before a dotted number: "version 1.2.3.4", "build: 10.0.0.1", "firmware 2.1.0.4". */
const VERSION_LIST = [
  'v', 'ver', 'version', 'versions', 'release', 'rel', 'rev', 'revision', 'build', 'firmware', 'fw', 'sdk', 'driver',
  'kernel', 'agent', 'app', 'os', 'package', 'pkg', 'patch', 'update', 'upgrade', 'downgrade', 'installed', 'install',
  'requires', 'dependency', 'dep', 'tag',
];
export const VERSION_WORDS_BEFORE = new RegExp(`(?:^|[^a-z])(?:${VERSION_LIST.join('|')})[\\s:=#"'()@-]*$`);

/** The same checks without regular expressions, for ASCII windows (window-words.ts). */
const PHONE_MATCH = new PhraseMatcher(PHONE_LIST);
const SSN_MATCH = new PhraseMatcher(SSN_LIST);
const BIRTH_MATCH = new PhraseMatcher(BIRTH_LIST);
const CARD_MATCH = new PhraseMatcher(CARD_LIST);
const ID_MATCH = new WordAtEnd(ID_LIST, ID_SUFFIXES, idTrailing);
const VERSION_MATCH = new WordAtEnd(VERSION_LIST, [], versionTrailing);

/** Field names holding identifiers that are not personal data. */
const ID_FIELD =
  /(?:^|_)(?:order|invoice|inv|po|ref|ticket|case|tracking|receipt|transaction|txn|tx|confirmation|booking|shipment|sku|serial|imei|imsi|iccid|meid|batch|lot|part|model|item|product|request|req|job|trace|span|run|commit|build|version|ver|release|account|acct|project|isbn|ean|upc|gtin|asin|checksum|hash|sha|md5|uuid|guid|timestamp|ts|epoch|created|updated|price|amount|total|cost|qty|quantity|count|size|bytes)(?:_|$)/;
const VERSION_FIELD = /(?:^|_)(?:v|ver|version|release|build|firmware|fw|sdk|agent|tag)(?:_|$)/;

export interface FieldContext {
  phone: boolean;
  ssn: boolean;
  birth: boolean;
  card: boolean;
  identifier: boolean;
  version: boolean;
}

const NO_FIELD: FieldContext = { phone: false, ssn: false, birth: false, card: false, identifier: false, version: false };
const fieldCache = new Map<string, FieldContext>();

/** What a field name says about the values under it (memoised: field names repeat). */
export function fieldContext(name: string | undefined): FieldContext {
  if (!name) return NO_FIELD;
  let fc = fieldCache.get(name);
  if (fc) return fc;
  const n = normalizeFieldName(name);
  fc = {
    phone: PHONE_WORDS.test(n) || n.includes('phone'),
    ssn: SSN_WORDS.test(n),
    birth: BIRTH_WORDS.test(n) || n.includes('birth'),
    card: CARD_WORDS.test(n),
    identifier: ID_FIELD.test(n),
    version: VERSION_FIELD.test(n),
  };
  if (fieldCache.size > 4096) fieldCache.clear();
  fieldCache.set(detached(name), fc);
  return fc;
}

/** The lowercased CONTEXT_WINDOW characters before `start`: what the *Word checks read. */
export function contextWindow(text: string, start: number): string {
  return text.slice(Math.max(0, start - CONTEXT_WINDOW), start).toLowerCase();
}

/**
 * The context window cut after the last digit in it: "born 1980-01-02, seen 2023-05-06"
 * must not make the second date a birth date.
 */
export function windowAfterLastDigit(window: string): string {
  for (let i = window.length - 1; i >= 0; i--) {
    const c = window.charCodeAt(i);
    if (c >= 48 && c <= 57) return window.slice(i + 1);
  }
  return window;
}

export const phoneWord = (window: string): boolean => PHONE_WORDS.test(window);
export const ssnWord = (window: string): boolean => SSN_WORDS.test(window);
export const birthWord = (window: string): boolean => BIRTH_WORDS.test(window);
export const cardWord = (window: string): boolean => CARD_WORDS.test(window);
/** The window ends with an identifier word: the number after it is an order, device, ... id. */
export const identifierWordAtEnd = (window: string): boolean => ID_WORDS_BEFORE.test(window);
/** The window ends with a version word: the dotted number after it is a version. */
export const versionWordAtEnd = (window: string): boolean => VERSION_WORDS_BEFORE.test(window);

/** Context questions about the text before a candidate. */
export const enum ContextQuestion {
  Phone,
  Ssn,
  Birth,
  Card,
  Identifier,
  Version,
}

/**
 * The answer to `q` about text[from, to), a window before a candidate (already cut to
 * at most CONTEXT_WINDOW characters, and after the last digit for the questions that
 * ask so): the regular expression's answer on the lower-cased window, computed without
 * it when the window is ASCII (`ascii`: the caller checked).
 */
export function askWindow(q: ContextQuestion, text: string, from: number, to: number, ascii: boolean): boolean {
  if (!ascii) {
    const w = text.slice(from, to).toLowerCase();
    switch (q) {
      case ContextQuestion.Phone:
        return PHONE_WORDS.test(w);
      case ContextQuestion.Ssn:
        return SSN_WORDS.test(w);
      case ContextQuestion.Birth:
        return BIRTH_WORDS.test(w);
      case ContextQuestion.Card:
        return CARD_WORDS.test(w);
      case ContextQuestion.Identifier:
        return ID_WORDS_BEFORE.test(w);
      default:
        return VERSION_WORDS_BEFORE.test(w);
    }
  }
  switch (q) {
    case ContextQuestion.Phone:
      return PHONE_MATCH.test(text, from, to);
    case ContextQuestion.Ssn:
      return SSN_MATCH.test(text, from, to);
    case ContextQuestion.Birth:
      return BIRTH_MATCH.test(text, from, to);
    case ContextQuestion.Card:
      return CARD_MATCH.test(text, from, to);
    case ContextQuestion.Identifier:
      return ID_MATCH.test(text, from, to);
    default:
      return VERSION_MATCH.test(text, from, to);
  }
}

/** Index after the last digit in text[from, to), or `from`: where a near window starts. */
export function afterLastDigit(text: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) return i + 1;
  }
  return from;
}

/** Whether a birth word is right before `pos` (after the last number before it): month-name dates. */
export function birthWordBefore(text: string, pos: number): boolean {
  const from = Math.max(0, pos - CONTEXT_WINDOW);
  const near = afterLastDigit(text, from, pos);
  return askWindow(ContextQuestion.Birth, text, near, pos, asciiOnly(text, near, pos));
}

/** Quick test whether a birth word appears anywhere in `text` (gates the date scan). */
const BIRTH_WORDS_ANY_CASE = new RegExp(BIRTH_WORDS.source, 'i');
export function mentionsBirth(text: string): boolean {
  return BIRTH_WORDS_ANY_CASE.test(text);
}
