/**
 * `npm run eval:pii`: accuracy of the PII detectors and the scrubber on a generated,
 * labelled corpus (seeded @faker-js/faker, so every run scores the same data).
 *
 * The corpus has three forms: a log file (free-text lines), a JSONL file (nested records
 * with PII keys, a free-text `notes` field and hard-negative fields) and a CSV file (the
 * same, flat, with quoted multi-line notes). Every positive carries its gold character
 * span; hard negatives (UUIDs, git SHAs, versions, IMEIs, epoch times, ISO dates, order
 * and invoice numbers, 12-digit account ids, prices) are recorded too.
 *
 * Two measurements:
 *  1. Detection: `detectPii` on every log line, JSON string and CSV cell (with its key or
 *     column name as context). A finding is a true positive when it has the gold type and
 *     covers the whole gold span, so that replacing it leaves nothing of the value.
 *     Per entity: precision, recall, F2 (recall weighted 4x: a miss leaks, a false alarm
 *     only over-redacts).
 *  2. End to end: each file through `createScrubber`; the residual leak rate is the share
 *     of gold values still found verbatim in the output, overall and for values in
 *     columns the scrubber handled as PII columns (target: zero).
 *
 * Scope, stated so the numbers are read right: phone numbers are US national formats and
 * `+` international numbers of many countries (the default `phoneRegions: [US]`); 4-part
 * versions appear after a version word, as they do in logs and manifests (a bare
 * `1.2.3.4` is indistinguishable from an IPv4 address); person names and street
 * addresses appear only in name/address columns (not detected in free text, by design).
 *
 * Exits 1 when a target is missed: recall >= 0.99 and precision >= 0.97 for email, card,
 * ssn, iban, phone and ip, and no residual leak in PII columns.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { faker, fakerDE, fakerEN_GB, fakerES, fakerFR, fakerIT, fakerNL, fakerPT_BR, fakerEN_IN, fakerJA, fakerPL, fakerSV } from '@faker-js/faker';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { createScrubber, detectPii, loadScrubConfig, TEXT_ENTITY_TYPES, type TextEntityType } from '../src/governance/pii/index.js';

const SEED = 20240601;
const LOG_LINES = 4000;
const RECORDS = 2000;
const TARGET_TYPES: readonly TextEntityType[] = ['email', 'card', 'ssn', 'iban', 'phone', 'ip'];
const TARGET_RECALL = 0.99;
const TARGET_PRECISION = 0.97;

type GoldType = TextEntityType | 'person_name' | 'address' | 'postal_code' | 'username';

interface Gold {
  type: GoldType;
  start: number;
  end: number;
  value: string;
}

/** A piece of text with its gold spans, built left to right. */
class Labelled {
  private parts: string[] = [];
  private length = 0;
  readonly gold: Gold[] = [];
  readonly negatives: string[] = [];

  text(s: string): this {
    this.parts.push(s);
    this.length += s.length;
    return this;
  }
  pii(type: GoldType, value: string): this {
    this.gold.push({ type, start: this.length, end: this.length + value.length, value });
    return this.text(value);
  }
  neg(value: string): this {
    this.negatives.push(value);
    return this.text(value);
  }
  build(): string {
    return this.parts.join('');
  }
}

// ---------------------------------------------------------------- value generators

const pick = <T>(xs: readonly T[]): T => faker.helpers.arrayElement(xs);
const chance = (p: number): boolean => faker.number.float({ min: 0, max: 1 }) < p;
const digits = (n: number): string => faker.string.numeric({ length: n, allowLeadingZeros: true });

function email(): string {
  const e = faker.internet.email({ firstName: faker.person.firstName(), lastName: faker.person.lastName() });
  if (chance(0.15)) return e.replace('@', `+${faker.word.noun().toLowerCase()}@`);
  if (chance(0.1)) return e.toUpperCase();
  return e;
}

const INTERNATIONAL = [fakerDE, fakerEN_GB, fakerES, fakerFR, fakerIT, fakerNL, fakerPT_BR, fakerEN_IN, fakerJA, fakerPL, fakerSV];

/** A phone number and, separately, an extension that is not part of the gold span. */
function phone(): { value: string; ext: string } {
  const r = faker.number.int({ min: 0, max: 9 });
  if (r <= 5) {
    const human = faker.phone.number({ style: 'human' });
    const m = /^(.*?)( x\d+)?$/.exec(human)!;
    return { value: m[1]!, ext: m[2] ?? '' };
  }
  if (r === 6) return { value: faker.phone.number({ style: 'national' }), ext: '' };
  if (r === 7) {
    const n = faker.phone.number({ style: 'national' }).replace(/\D/g, '');
    return { value: chance(0.5) ? `+1${n}` : `+1 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`, ext: '' };
  }
  // faker also emits numbers no country could have (e.g. +7 with 12 digits); those are not phone numbers.
  let parsed = parsePhoneNumberFromString(pick(INTERNATIONAL).phone.number({ style: 'international' }));
  while (!parsed?.isPossible()) parsed = parsePhoneNumberFromString(pick(INTERNATIONAL).phone.number({ style: 'international' }));
  return { value: chance(0.5) ? parsed.formatInternational() : parsed.number, ext: '' };
}

const ISSUERS = ['visa', 'mastercard', 'american_express', 'discover', 'jcb', 'diners_club'];

function card(): string {
  const raw = faker.finance.creditCardNumber({ issuer: pick(ISSUERS) });
  const bare = raw.replace(/\D/g, '');
  const r = faker.number.int({ min: 0, max: 2 });
  if (r === 0) return raw;
  if (r === 1) return bare;
  return bare.length === 15 ? `${bare.slice(0, 4)} ${bare.slice(4, 10)} ${bare.slice(10)}` : (bare.match(/.{1,4}/g) ?? []).join(' ');
}

function ssnParts(): [string, string, string] {
  let area: number;
  do area = faker.number.int({ min: 1, max: 899 });
  while (area === 666);
  return [String(area).padStart(3, '0'), String(faker.number.int({ min: 1, max: 99 })).padStart(2, '0'), String(faker.number.int({ min: 1, max: 9999 })).padStart(4, '0')];
}

function iban(): string {
  return faker.finance.iban({ formatted: chance(0.5) });
}

function ip(): string {
  if (chance(0.7)) return faker.internet.ipv4();
  const v6 = faker.internet.ipv6();
  return chance(0.5) ? new URL(`http://[${v6}]/`).hostname.slice(1, -1) : v6;
}

function mac(): string {
  const m = faker.internet.mac({ separator: pick([':', '-']) });
  return chance(0.3) ? m.toUpperCase() : m;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function dob(): string {
  const d = faker.date.birthdate({ mode: 'age', min: 18, max: 90 });
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  switch (faker.number.int({ min: 0, max: 4 })) {
    case 0:
      return `${y}-${p2(m)}-${p2(day)}`;
    case 1:
      return `${p2(m)}/${p2(day)}/${y}`;
    case 2:
      return `${p2(day)}.${p2(m)}.${y}`;
    case 3:
      return `${MONTHS[m - 1]} ${day}, ${y}`;
    default:
      return `${day} ${MONTHS[m - 1]!.slice(0, 3)} ${y}`;
  }
}

// Hard negatives
const uuid = (): string => faker.string.uuid();
const sha = (): string => faker.git.commitSha({ length: pick([7, 12, 40]) });
const semver = (): string => faker.system.semver();
const version4 = (): string => `${faker.number.int(20)}.${faker.number.int(20)}.${faker.number.int(300)}.${faker.number.int(9999)}`;
const imei = (): string => (chance(0.5) ? faker.phone.imei() : faker.phone.imei().replace(/-/g, ''));
const epoch = (): string => String(faker.number.int({ min: 1_500_000_000, max: 1_800_000_000 }));
const epochMs = (): string => String(faker.number.int({ min: 1_500_000_000_000, max: 1_800_000_000_000 }));
const isoDate = (): string => faker.date.past({ years: 3 }).toISOString().slice(0, 10);
const isoDateTime = (): string => faker.date.past({ years: 3 }).toISOString();
const orderNo = (): string => pick([`ORD-${digits(4)}-${digits(6)}`, `#${digits(9)}`, `${digits(10)}`, `PO-${digits(8)}`]);
const invoiceNo = (): string => pick([`INV-${digits(6)}`, `${faker.number.int({ min: 2019, max: 2025 })}-${digits(6)}`, digits(12)]);
const accountId = (): string => (chance(0.7) ? digits(12) : `${digits(4)}-${digits(4)}-${digits(4)}`);
const price = (): string => pick([faker.commerce.price({ symbol: '$' }), `${faker.commerce.price()} EUR`, `€${faker.commerce.price()}`, `$${faker.number.int({ min: 1000, max: 99999 }).toLocaleString('en-US')}.${digits(2)}`]);

// More hard negatives: identifiers and numbers that share a shape with PII.
const isbn = (): string => `978-${faker.number.int(9)}-${digits(2)}-${digits(6)}-${faker.number.int(9)}`;
const coords = (): string => `${faker.location.latitude({ precision: 4 })},${faker.location.longitude({ precision: 4 })}`;
const arn = (): string => `arn:aws:iam::${digits(12)}:role/${faker.word.noun()}`;
const digest = (): string => `sha256:${faker.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' })}`;
const duration = (): string => `${String(faker.number.int(23)).padStart(2, '0')}:${String(faker.number.int(59)).padStart(2, '0')}:${String(faker.number.int(59)).padStart(2, '0')}.${digits(3)}`;
const bytes = (): string => `${faker.number.int({ min: 1_000_000, max: 999_999_999 }).toLocaleString('en-US')} bytes`;
const hexColor = (): string => faker.color.rgb();
const semverRange = (): string => `^${faker.system.semver()}`;
const windowsBuild = (): string => `10.0.${faker.number.int({ min: 10000, max: 22631 })}.${faker.number.int(3000)}`;

// ---------------------------------------------------------------- free text

type Template = (b: Labelled) => void;

const TEMPLATES: Template[] = [
  (b) => b.text('User ').pii('email', email()).text(' logged in from ').pii('ip', ip()).text(' at ').neg(isoDateTime()),
  (b) => b.text('Order ').neg(orderNo()).text(' paid with card ').pii('card', card()).text(', total ').neg(price()),
  (b) => {
    const p = phone();
    b.text('Please call ').pii('phone', p.value).text(`${p.ext} or write to `).pii('email', email()).text('.');
  },
  (b) => {
    const [a, g, s] = ssnParts();
    b.text('SSN ').pii('ssn', `${a}-${g}-${s}`).text(' verified; born ').pii('dob', dob()).text('.');
  },
  (b) => {
    const [a, g, s] = ssnParts();
    b.text(pick(['ssn: ', 'SSN ', 'social security number '])).pii('ssn', pick([`${a} ${g} ${s}`, `${a}${g}${s}`])).text(' on file');
  },
  (b) => b.text('Refund to IBAN ').pii('iban', iban()).text(' for invoice ').neg(invoiceNo()),
  (b) => b.text('device ').pii('mac', mac()).text(' imei ').neg(imei()).text(' firmware ').neg(version4()),
  (b) => b.text('request ').neg(uuid()).text(' commit ').neg(sha()).text(' release ').neg(semver()),
  (b) => b.text('AWS account ').neg(accountId()).text(' billed ').neg(price()).text(' on ').neg(isoDate()),
  (b) => b.text('heartbeat ts=').neg(epoch()).text(' ms=').neg(epochMs()).text(' build ').neg(version4()),
  (b) => {
    const p = phone();
    b.text(pick(['Customer phone: ', 'tel ', 'mobile: ', 'Call me at '])).pii('phone', p.value).text(`${p.ext}, ticket `).neg(`${digits(7)}`);
  },
  (b) => b.text(pick(['DOB: ', 'date of birth ', 'Birthday: ', 'born on '])).pii('dob', dob()).text(', joined ').neg(isoDate()),
  (b) => b.text('Wire from ').pii('iban', iban()).text(' amount ').neg(price()).text(' ref ').neg(`${digits(8)}`),
  (b) => b.text('peer ').pii('ip', ip()).text(' agent v').neg(version4()).text(' sent ').neg(`${faker.number.int(99999)}`).text(' bytes'),
  (b) => b.text('card on file ').pii('card', card()).text(' for ').pii('email', email()),
  (b) => b.text(faker.lorem.sentence()),
  (b) => b.text('checksum ').neg(sha()).text(' of artifact ').neg(uuid()).text(' version ').neg(semver()),
  (b) => b.text('scheduled for ').neg(isoDateTime()).text(' invoice ').neg(invoiceNo()).text(' qty ').neg(String(faker.number.int(500))),
  (b) => b.text('book ISBN ').neg(isbn()).text(' shipped to ').neg(coords()).text(' in ').neg(duration()),
  (b) => b.text('assumed role ').neg(arn()).text(' pulled image@').neg(digest()),
  (b) => b.text('wrote ').neg(bytes()).text(' at ').neg(`${faker.number.int(100)}%`).text(' colour ').neg(hexColor()).text(' dep ').neg(semverRange()),
  (b) => b.text('OS version ').neg(windowsBuild()).text(', pid ').neg(String(faker.number.int({ min: 100, max: 99999 }))).text(' port ').neg(String(faker.number.int({ min: 1024, max: 65535 }))),
  (b) => b.text('GET http://').pii('ip', faker.internet.ipv4()).text(`:${faker.number.int({ min: 80, max: 9999 })}/api/v1/items/`).neg(digits(6)).text(' 200'),
  (b) => b.text('connect [').pii('ip', new URL(`http://[${faker.internet.ipv6()}]/`).hostname.slice(1, -1)).text(`]:${faker.number.int({ min: 80, max: 9999 })} ok`),
  (b) => b.text('From: "').text(faker.person.fullName()).text('" <').pii('email', email()).text('>'),
  (b) => b.text('mailto:').pii('email', email()).text('?subject=hi'),
  (b) => b.text('allow ').pii('ip', `${faker.internet.ipv4()}`).text('/32 deny all'),
  (b) => {
    const [a, g, s] = ssnParts();
    b.text('user=').pii('email', email()).text(';ip=').pii('ip', ip()).text(';card=').pii('card', card().replace(/\D/g, '')).text(';ssn=').pii('ssn', `${a}${g}${s}`).text(';req=').neg(uuid());
  },
  (b) => b.text('payload {"contact":"').pii('email', email()).text('","tel":"').pii('phone', phone().value).text('","n":').neg(epochMs()).text('}'),
  (b) => b.text('\t(').pii('email', email()).text(')\t[').pii('mac', mac()).text(']\t').neg(`${digits(6)}`),
];

function freeText(prefix?: () => string): Labelled {
  const b = new Labelled();
  if (prefix) b.neg(prefix()).text(' ');
  pick(TEMPLATES)(b);
  if (chance(0.3)) {
    b.text(' ');
    pick(TEMPLATES)(b);
  }
  return b;
}

// ---------------------------------------------------------------- structured records

interface Cell {
  column: string;
  /** Dotted key path in the JSON form. */
  path: string;
  value: string;
  gold: Gold[];
  negatives: string[];
  /** JSON number instead of string. */
  numeric?: boolean;
}

function cell(column: string, path: string, type: GoldType | undefined, value: string, numeric = false): Cell {
  return {
    column,
    path,
    value,
    gold: type ? [{ type, start: 0, end: value.length, value }] : [],
    negatives: type ? [] : [value],
    numeric,
  };
}

function record(i: number): Cell[] {
  const [a, g, s] = ssnParts();
  const notes = freeText();
  return [
    cell('id', 'id', undefined, String(i + 1), true),
    cell('name', 'user.name', 'person_name', faker.person.fullName()),
    cell('email', 'user.email', 'email', email()),
    cell('phone', 'user.phone', 'phone', phone().value),
    cell('username', 'user.username', 'username', faker.internet.username()),
    cell('street_address', 'user.address.street', 'address', faker.location.streetAddress(chance(0.3))),
    cell('zip', 'user.address.zip', 'postal_code', faker.location.zipCode('#####')),
    cell('ssn', 'ssn', 'ssn', chance(0.8) ? `${a}-${g}-${s}` : `${a}${g}${s}`),
    cell('date_of_birth', 'dob', 'dob', dob()),
    cell('card_number', 'payment.card', 'card', card()),
    cell('iban', 'payment.iban', 'iban', iban()),
    cell('client_ip', 'client_ip', 'ip', ip()),
    cell('mac_address', 'device.mac', 'mac', mac()),
    cell('imei', 'device.imei', undefined, imei()),
    cell('firmware_version', 'device.firmware_version', undefined, version4()),
    { column: 'notes', path: 'notes', value: notes.build(), gold: notes.gold, negatives: notes.negatives },
    cell('request_id', 'request_id', undefined, uuid()),
    cell('commit', 'commit', undefined, sha()),
    cell('app_version', 'app_version', undefined, semver()),
    cell('created_at', 'created_at', undefined, isoDateTime()),
    cell('ts_ms', 'ts_ms', undefined, epochMs(), true),
    cell('order_no', 'order_no', undefined, orderNo()),
    cell('account_id', 'account_id', undefined, accountId()),
    cell('amount', 'amount', undefined, price()),
  ];
}

function toJson(cells: Cell[]): string {
  const root: Record<string, unknown> = {};
  for (const c of cells) {
    const keys = c.path.split('.');
    let node = root;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = c.numeric ? Number(c.value) : c.value;
  }
  return JSON.stringify(root);
}

function csvQuote(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

// ---------------------------------------------------------------- scoring

interface Tally {
  tp: number;
  fp: number;
  fn: number;
}

const tallies = new Map<string, Tally>();
const tally = (type: string): Tally => {
  let t = tallies.get(type);
  if (!t) tallies.set(type, (t = { tp: 0, fp: 0, fn: 0 }));
  return t;
};

/** Scores one document: gold spans against `detectPii` findings. Column-only gold types are not scored here. */
function scoreDetection(text: string, gold: readonly Gold[], field?: string): void {
  const findings = detectPii(text, field ? { field } : {});
  const used = new Set<number>();
  for (const g of gold) {
    if (!(TEXT_ENTITY_TYPES as readonly string[]).includes(g.type)) continue;
    const k = findings.findIndex((f, idx) => !used.has(idx) && f.type === g.type && f.start <= g.start && f.end >= g.end);
    if (k >= 0) {
      used.add(k);
      tally(g.type).tp++;
    } else {
      tally(g.type).fn++;
    }
  }
  findings.forEach((f, idx) => {
    if (!used.has(idx)) {
      // A finding inside a column-only gold span (e.g. digits in a street address) is still a false positive.
      tally(f.type).fp++;
    }
  });
}

async function scrub(text: string, fileName: string): Promise<{ out: string; columns: Set<string> }> {
  const scrubber = createScrubber(loadScrubConfig({}), { fileName });
  const chunks: Buffer[] = [];
  const input = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let off = 0; off < input.length; off += 16 * 1024 + 7) pieces.push(input.subarray(off, off + 16 * 1024 + 7));
  await pipeline(
    Readable.from(pieces),
    scrubber.transform,
    new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  );
  return { out: Buffer.concat(chunks).toString('utf8'), columns: new Set(scrubber.report().columns ?? []) };
}

interface LeakStats {
  total: number;
  leaked: number;
  inColumns: number;
  leakedInColumns: number;
  negatives: number;
  negativesKept: number;
}

const newLeakStats = (): LeakStats => ({ total: 0, leaked: 0, inColumns: 0, leakedInColumns: 0, negatives: 0, negativesKept: 0 });

/**
 * Compares one input cell (or log line) with the same cell of the output: a gold value
 * still found in it verbatim has leaked; a hard negative must still be there.
 */
function checkCell(s: LeakStats, outCell: string | undefined, gold: readonly Gold[], negatives: readonly string[], pii: boolean): void {
  const out = outCell ?? '';
  for (const g of gold) {
    const leaked = out.includes(g.value);
    s.total++;
    if (leaked) s.leaked++;
    if (pii) {
      s.inColumns++;
      if (leaked) s.leakedInColumns++;
    }
  }
  for (const n of negatives) {
    s.negatives++;
    if (out.includes(n)) s.negativesKept++;
  }
}

/** Minimal RFC 4180 reader for the scrubbed CSV (independent of the scrubber's own parser). */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

function valueAt(doc: unknown, path: string): string | undefined {
  let node = doc;
  for (const k of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node === undefined ? undefined : typeof node === 'string' ? node : JSON.stringify(node);
}

// ---------------------------------------------------------------- known hard cases

/**
 * Inputs the detectors are known to miss (or flag) by design, measured separately so the
 * limits are numbers rather than footnotes. Not part of the targets.
 */
interface HardCase {
  name: string;
  /** `positive`: should be found as `type`; `negative`: should not be flagged at all. */
  kind: 'positive' | 'negative';
  type?: TextEntityType;
  make: () => Labelled;
  regions?: string[];
}

const HARD_CASES: HardCase[] = [
  { name: 'phone, bare 10 digits, no cue word', kind: 'positive', type: 'phone', make: () => new Labelled().text('ok ').pii('phone', faker.phone.number({ style: 'national' }).replace(/\D/g, '')).text(' thanks') },
  { name: 'phone, UK/DE national format', kind: 'positive', type: 'phone', make: () => new Labelled().text('call ').pii('phone', ukDeNational()) },
  { name: '  same, phoneRegions [US, GB, DE]', kind: 'positive', type: 'phone', make: () => new Labelled().text('call ').pii('phone', ukDeNational()), regions: ['US', 'GB', 'DE'] },
  { name: 'IBAN in lower case', kind: 'positive', type: 'iban', make: () => new Labelled().text('iban ').pii('iban', faker.finance.iban().toLowerCase()) },
  { name: 'SSN, 9 bare digits, no cue word', kind: 'positive', type: 'ssn', make: () => new Labelled().text('id ').pii('ssn', ssnParts().join('')) },
  { name: 'email, non-ASCII local part', kind: 'positive', type: 'email', make: () => new Labelled().text('to ').pii('email', `${pick(['jörg', 'renée', 'łukasz', 'zoë'])}.${digits(3)}@example.de`) },
  { name: 'birth date without a birth word', kind: 'positive', type: 'dob', make: () => new Labelled().text('patient ').pii('dob', dob()) },
  { name: 'person name in free text', kind: 'positive', type: undefined, make: () => new Labelled().text('Contact ').pii('person_name', faker.person.fullName()).text(' tomorrow') },
  { name: 'street address in free text', kind: 'positive', type: undefined, make: () => new Labelled().text('ship to ').pii('address', faker.location.streetAddress()).text(' today') },
  { name: '4-part version, no version word', kind: 'negative', make: () => new Labelled().text('upgraded to ').neg(`${faker.number.int(9)}.${faker.number.int(20)}.${faker.number.int(99)}.${faker.number.int(255)}`) },
  { name: '16-digit Luhn-valid id, no cue word', kind: 'negative', make: () => new Labelled().text('value ').neg(faker.finance.creditCardNumber({ issuer: 'visa' }).replace(/\D/g, '')) },
];

function ukDeNational(): string {
  const f = chance(0.5) ? fakerEN_GB : fakerDE;
  let p = parsePhoneNumberFromString(f.phone.number({ style: 'international' }));
  while (!p?.isValid()) p = parsePhoneNumberFromString(f.phone.number({ style: 'international' }));
  return p.formatNational();
}

function runHardCases(n: number): void {
  console.log('\nKnown hard cases (not in the targets): share detected as the expected type, or falsely flagged');
  for (const hc of HARD_CASES) {
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const b = hc.make();
      const text = b.build();
      const findings = detectPii(text, hc.regions ? { phoneRegions: hc.regions } : {});
      if (hc.kind === 'negative') {
        if (findings.length > 0) hits++;
      } else {
        const g = b.gold[0]!;
        if (findings.some((f) => f.type === hc.type && f.start <= g.start && f.end >= g.end)) hits++;
      }
    }
    const what = hc.kind === 'positive' ? `detected ${hc.type ? '' : '(not detectable in free text) '}` : 'falsely flagged';
    console.log(`  ${hc.name.padEnd(40)} ${what} ${((100 * hits) / n).toFixed(1)}% of ${n}`);
  }
}

// ---------------------------------------------------------------- main

const f2 = (p: number, r: number): number => (p + r === 0 ? 0 : (5 * p * r) / (4 * p + r));
const fmt = (x: number): string => (Number.isNaN(x) ? '  -  ' : x.toFixed(4));
const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(3)}%`);

async function main(): Promise<void> {
  faker.seed(SEED);
  for (const f of INTERNATIONAL) f.seed(SEED + 1);

  // Log form: free-text lines behind a timestamp and level.
  const logLines: Labelled[] = [];
  for (let i = 0; i < LOG_LINES; i++) logLines.push(freeText(() => `${isoDateTime()} ${pick(['INFO', 'WARN', 'DEBUG'])}`));
  const logText = `${logLines.map((l) => l.build()).join('\n')}\n`;

  // Structured forms share the same records.
  const records: Cell[][] = [];
  for (let i = 0; i < RECORDS; i++) records.push(record(i));
  const columns = records[0]!.map((c) => c.column);
  const csvText = `${columns.join(',')}\n${records.map((r) => r.map((c) => csvQuote(c.value)).join(',')).join('\n')}\n`;
  const jsonText = `${records.map(toJson).join('\n')}\n`;

  // 1. Detection.
  for (const l of logLines) scoreDetection(l.build(), l.gold);
  for (const r of records) {
    for (const c of r) {
      scoreDetection(c.value, c.gold, c.column); // CSV cell, column name as context
      scoreDetection(c.value, c.gold, c.path.split('.').pop()); // JSON value, key as context
    }
  }

  // 2. End to end.
  const logScrub = await scrub(logText, 'app.log');
  const csvScrub = await scrub(csvText, 'records.csv');
  const jsonScrub = await scrub(jsonText, 'records.jsonl');
  const logLeaks = newLeakStats();
  const logOut = logScrub.out.split('\n');
  logLines.forEach((l, i) => checkCell(logLeaks, logOut[i], l.gold, l.negatives, false));
  const csvLeaks = newLeakStats();
  const csvRows = readCsv(csvScrub.out);
  const csvHeader = csvRows[0] ?? [];
  records.forEach((r, i) => {
    for (const c of r) {
      const at = csvHeader.indexOf(c.column);
      checkCell(csvLeaks, at < 0 ? undefined : csvRows[i + 1]?.[at], c.gold, c.negatives, csvScrub.columns.has(c.column));
    }
  });
  const jsonLeaks = newLeakStats();
  const jsonOut = jsonScrub.out.split('\n');
  records.forEach((r, i) => {
    const doc: unknown = JSON.parse(jsonOut[i] ?? 'null');
    // A key is in a PII column when it, or an object above it, was handled as a whole.
    const inColumn = (path: string): boolean => path.split('.').some((_, k, keys) => jsonScrub.columns.has(keys.slice(0, k + 1).join('.')));
    for (const c of r) checkCell(jsonLeaks, valueAt(doc, c.path), c.gold, c.negatives, inColumn(c.path));
  });

  // Report.
  console.log(`PII evaluation, seed ${SEED}: ${LOG_LINES} log lines, ${RECORDS} CSV rows, ${RECORDS} JSONL records\n`);
  console.log('Detection (detectPii per log line, CSV cell and JSON value; TP = right type covering the whole gold span)');
  console.log('entity    gold     TP     FP     FN   precision  recall    F2      target');
  let failed = false;
  for (const type of TEXT_ENTITY_TYPES) {
    const t = tally(type);
    const p = t.tp / (t.tp + t.fp);
    const r = t.tp / (t.tp + t.fn);
    const target = TARGET_TYPES.includes(type);
    const ok = !target || (r >= TARGET_RECALL && p >= TARGET_PRECISION);
    if (!ok) failed = true;
    console.log(
      `${type.padEnd(8)} ${String(t.tp + t.fn).padStart(5)} ${String(t.tp).padStart(6)} ${String(t.fp).padStart(6)} ${String(t.fn).padStart(6)}   ${fmt(p)}    ${fmt(r)}   ${fmt(f2(p, r))}  ${target ? (ok ? 'met' : 'MISSED') : '(none)'}`,
    );
  }
  console.log('\nEnd to end through the scrubber (default config): gold values found verbatim in the output');
  console.log('form    values  leaked  leak rate   in PII columns  leaked there   hard negatives kept');
  for (const [name, s] of [
    ['log', logLeaks],
    ['csv', csvLeaks],
    ['jsonl', jsonLeaks],
  ] as const) {
    if (s.leakedInColumns > 0) failed = true;
    console.log(
      `${name.padEnd(7)} ${String(s.total).padStart(6)}  ${String(s.leaked).padStart(6)}  ${pct(s.leaked, s.total).padStart(9)}   ${String(s.inColumns).padStart(14)}  ${String(s.leakedInColumns).padStart(12)}   ${pct(s.negativesKept, s.negatives).padStart(9)} of ${s.negatives}`,
    );
  }
  console.log(`\nPII columns found: csv ${[...csvScrub.columns].join(', ')}; jsonl ${[...jsonScrub.columns].join(', ')}`);
  console.log(
    `targets: recall >= ${TARGET_RECALL} and precision >= ${TARGET_PRECISION} for ${TARGET_TYPES.join(', ')}; zero leaks in PII columns -> ${failed ? 'MISSED' : 'all met'}`,
  );
  runHardCases(500);
  if (failed) process.exitCode = 1;
}

await main();
