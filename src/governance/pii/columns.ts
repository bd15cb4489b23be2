import type { ColumnRule, OperatorSpec, ScrubConfig } from './config.js';
import { operatorFor } from './config.js';
import { normalizeFieldName } from './detect/context.js';
import type { PiiDetector } from './detect/detect.js';
import type { EntityType, TextEntityType } from './types.js';

/**
 * Column-level detection for structured data. A CSV column or JSON key is handled as a
 * whole (every value gets the type's operator, whether or not a detector would fire on
 * it) when an explicit rule names it, when its name says what it holds, or when most of
 * the values sampled from the start of the file are one entity type.
 *
 * This is how names, street addresses, ZIP codes and national ids are found: by a column
 * called `first_name` or `shipping_address`, never by reading free text.
 */

/** How one column or key path is handled as a whole. */
export interface ColumnDecision {
  type: EntityType | undefined;
  op: OperatorSpec;
  /** Where the decision came from, for the report. */
  source: 'rule' | 'name' | 'values';
}

/** Tokens that make a field describe a value (`email_verified`) rather than hold it. */
const META_TOKENS = new Set([
  'verified', 'verification', 'consent', 'optin', 'opt', 'count', 'enabled', 'disabled', 'status', 'type',
  'flag', 'flags', 'sent', 'opened', 'clicked', 'bounced', 'subscribed', 'is', 'has', 'template', 'format',
  'valid', 'validated', 'confirmed', 'length', 'len', 'hash', 'hashed', 'domain', 'provider', 'preference',
  'preferences', 'frequency', 'changed', 'updated', 'version', 'token', 'tokens', 'key', 'seed', 'md5', 'sha',
]);
/** Further per-type exclusions: `ip_country`, `phone_carrier`, `card_brand`, `zip_file`, `wallet_address`. */
const EXCLUDE: Readonly<Partial<Record<EntityType, ReadonlySet<string>>>> = {
  email: new Set(['country', 'region']),
  ip: new Set(['country', 'region', 'city', 'geo', 'asn', 'isp', 'org']),
  phone: new Set(['country', 'region', 'app', 'os', 'device', 'browser', 'platform', 'carrier', 'network', 'model', 'ext', 'extension', 'id', 'tower']),
  card: new Set(['brand', 'issuer', 'expiry', 'expiration', 'exp', 'last4', 'bin', 'holder', 'network', 'id', 'country']),
  dob: new Set(['place', 'country', 'city', 'weight', 'rate', 'order']),
  national_id: new Set(['country', 'expiry', 'expiration', 'issued', 'issuer']),
  postal_code: new Set(['file', 'path', 'archive', 'size', 'url', 'level']),
  address: new Set([
    'ip', 'ipv4', 'ipv6', 'mac', 'email', 'mail', 'wallet', 'contract', 'memory', 'mem', 'base', 'bitcoin', 'btc',
    'eth', 'url', 'web', 'server', 'host', 'remote', 'local', 'bind', 'listen', 'proxy', 'gateway', 'dns', 'node',
    'hardware', 'physical', 'ethernet', 'bluetooth', 'peer', 'src', 'dst', 'source', 'destination', 'client', 'socket',
  ]),
};

const PERSON_QUALIFIERS = new Set([
  'first', 'last', 'full', 'given', 'family', 'middle', 'maiden', 'sur', 'fore', 'display', 'nick', 'legal',
  'preferred', 'contact', 'customer', 'client', 'patient', 'employee', 'person', 'recipient', 'sender',
  'billing', 'shipping', 'author', 'owner', 'member', 'student', 'passenger', 'guest', 'applicant',
  'beneficiary', 'spouse', 'mother', 'father', 'parent', 'guardian', 'holder', 'cardholder', 'account_holder',
  'user', 'buyer', 'seller', 'driver', 'doctor', 'physician', 'teacher', 'manager', 'signer', 'witness',
]);
const PERSON_COMPACT = new Set([
  'firstname', 'lastname', 'fullname', 'givenname', 'familyname', 'middlename', 'maidenname', 'surname',
  'forename', 'forenames', 'displayname', 'nickname', 'cardholder', 'cardholdername', 'accountholder',
  'holdername', 'legalname', 'fname', 'lname',
]);
const PERSON_PARENTS = new Set([
  'user', 'users', 'customer', 'customers', 'person', 'people', 'contact', 'contacts', 'patient', 'patients',
  'employee', 'employees', 'author', 'authors', 'owner', 'member', 'members', 'client', 'clients', 'recipient',
  'sender', 'buyer', 'seller', 'applicant', 'student', 'students', 'passenger', 'guest', 'profile',
  'beneficiary', 'spouse', 'guardian', 'cardholder', 'holder', 'driver', 'emergency_contact', 'from', 'to',
  'reviewer', 'assignee', 'reporter', 'creator', 'requester', 'account_holder',
]);
const NAME_PARTS = new Set(['first', 'last', 'given', 'family', 'middle', 'full']);
const NATIONAL_ID_COMPACT = [
  'passport', 'driverlicense', 'driverslicense', 'driverlicence', 'driverslicence', 'drivinglicense',
  'drivinglicence', 'nationalid', 'taxid', 'taxpayerid', 'personalid', 'personnummer', 'aadhaar', 'nhsnumber',
  'healthcard', 'medicare', 'medicaid', 'nationalinsurance', 'idcard', 'idnumber', 'governmentid',
];
const NATIONAL_ID_TOKENS = new Set(['nin', 'tin', 'itin', 'cpf', 'dni', 'nif', 'nino', 'sin', 'bsn', 'pesel', 'curp']);
const USERNAME_COMPACT = new Set(['username', 'userlogin', 'login', 'loginname', 'screenname', 'handle', 'userhandle', 'accountname']);
const PHONE_TOKENS = new Set(['phone', 'phones', 'telephone', 'tel', 'mobile', 'cell', 'cellphone', 'fax', 'msisdn', 'whatsapp']);
const ADDRESS_TOKENS = new Set(['address', 'addresses', 'addr', 'street', 'streetaddress', 'residence', 'line1', 'line2', 'address1', 'address2', 'address_line']);
const POSTAL_TOKENS = new Set(['zip', 'zipcode', 'postcode', 'postal', 'postalcode', 'plz']);
const IP_TOKENS = new Set(['ip', 'ips', 'ipv4', 'ipv6', 'ipaddr', 'ipaddress']);
const IP_COMPACT = ['remoteaddr', 'clientaddr', 'forwardedfor', 'sourceaddr', 'srcaddr', 'dstaddr', 'peeraddr'];

function tokensOf(name: string): string[] {
  return normalizeFieldName(name)
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0);
}

/**
 * What a field name says its values are, given the name of the enclosing object (JSON)
 * when there is one. Undefined when the name says nothing.
 */
export function classifyFieldName(name: string, parent?: string): EntityType | undefined {
  const tokens = tokensOf(name);
  if (tokens.length === 0 || tokens.some((t) => META_TOKENS.has(t))) return undefined;
  const type = typeForTokens(tokens, parent ? tokensOf(parent).join('_') : '');
  const exclude = type && EXCLUDE[type];
  return exclude && tokens.some((t) => exclude.has(t)) ? undefined : type;
}

function typeForTokens(tokens: readonly string[], parent: string): EntityType | undefined {
  const compact = tokens.join('');
  const has = (set: ReadonlySet<string>): boolean => tokens.some((t) => set.has(t));
  const last = tokens[tokens.length - 1];
  // Names first: card_holder_name is a name, not a card.
  if (PERSON_COMPACT.has(compact)) return 'person_name';
  if ((last === 'name' || last === 'names') && tokens.slice(0, -1).some((t) => PERSON_QUALIFIERS.has(t))) return 'person_name';
  if (compact === 'name' && PERSON_PARENTS.has(parent)) return 'person_name';
  if (NAME_PARTS.has(compact) && parent === 'name') return 'person_name';
  if (compact.includes('email') || tokens.includes('mail')) return 'email';
  if (has(IP_TOKENS) || IP_COMPACT.some((c) => compact.includes(c))) return 'ip';
  if (tokens.includes('mac') || compact.includes('macaddr') || compact === 'bssid' || compact === 'hwaddr') return 'mac';
  if (has(PHONE_TOKENS) || compact.includes('phone')) return 'phone';
  if (tokens.includes('ssn') || compact.includes('socialsecurity')) return 'ssn';
  if (tokens.includes('iban') || tokens.includes('bban')) return 'iban';
  if (
    tokens.includes('pan') ||
    ['creditcard', 'debitcard', 'cardnumber', 'cardno', 'cardnum', 'ccnum', 'ccnumber'].some((c) => compact.includes(c)) ||
    compact === 'cc' ||
    compact === 'card'
  ) {
    return 'card';
  }
  if (compact.includes('birth') || tokens.includes('dob') || tokens.includes('bday') || tokens.includes('born')) return 'dob';
  if (NATIONAL_ID_COMPACT.some((c) => compact.includes(c)) || has(NATIONAL_ID_TOKENS)) return 'national_id';
  if (USERNAME_COMPACT.has(compact)) return 'username';
  if (has(POSTAL_TOKENS)) return 'postal_code';
  if (has(ADDRESS_TOKENS) || compact.includes('streetaddress') || compact.includes('addressline')) return 'address';
  if (parent.includes('address') && ADDRESS_PARTS.has(compact)) return 'address';
  return undefined;
}

const ADDRESS_PARTS = new Set(['city', 'state', 'county', 'country', 'line', 'street', 'number', 'unit', 'apt', 'suite', 'house', 'building']);

/** Street suffixes (USPS and common European forms) for recognising address values. */
const STREET_WORDS = new Set(
  (
    'street st avenue ave av road rd lane ln boulevard blvd drive dr court ct way place pl terrace ter ' +
    'circle cir parkway pkwy highway hwy square sq trail trl crescent cres close crest park ridge hill hills ' +
    'grove gardens garden gdns view loop pass path pike plaza point port run row walk alley aly mews ' +
    'strasse straße str weg gasse platz rue chemin via viale calle avenida rua camino estates expressway ' +
    'freeway fwy junction jct landing manor meadow meadows mill mills mission motorway orchard oval ' +
    'pine pines ranch rapids ridge river shore shores spring springs station stream summit tunnel turnpike ' +
    'union valley viaduct village ville vista well wells branch bridge brook brooks burg bypass camp canyon ' +
    'cape causeway center centre cliff cliffs club common commons corner corners cove creek crossing dale ' +
    'dam divide estate extension falls ferry field fields flat flats ford forest forge fork forks fort ' +
    'glen glens green greens harbor haven heights hollow inlet island isle key knoll knolls lake lakes ' +
    'light lights lock locks lodge mount mountain neck overpass prairie radial ramp rest route skyway ' +
    'spur stravenue throughway trace track trafficway underpass unit wall'
  ).split(' '),
);

/** "2500 Schmitt Park", "873 Vicenta Crest Suite 102", "10 Downing St." */
export function looksLikeStreetAddress(value: string): boolean {
  if (value.length < 8 || value.length > 200) return false;
  const trimmed = value.trim();
  // The first word must be a house number: most values are ruled out before they are split.
  const c = trimmed.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  const words = trimmed.split(/\s+/, 10);
  const first = words[0];
  if (!first || words.length < 3 || !/^\d{1,6}[A-Za-z]?,?$/.test(first)) return false;
  for (let i = 2; i < words.length; i++) {
    if (STREET_WORDS.has(words[i]!.replace(/[.,]+$/, '').toLowerCase())) return true;
  }
  return false;
}

/** Matches explicit column rules against a CSV header or JSON key path. */
export class ColumnRules {
  private readonly compiled: { segments: string[]; whole: string; rule: ColumnRule }[];

  constructor(rules: readonly ColumnRule[]) {
    this.compiled = rules.map((rule) => ({
      segments: rule.match.toLowerCase().split('.'),
      whole: rule.match.toLowerCase(),
      rule,
    }));
  }

  get size(): number {
    return this.compiled.length;
  }

  /** The first rule matching `path` (JSON: key segments; CSV: the header as one segment). */
  find(path: readonly string[]): ColumnRule | undefined {
    if (this.compiled.length === 0) return undefined;
    const lower = path.map((p) => p.toLowerCase());
    const whole = lower.join('.');
    for (const c of this.compiled) {
      if (c.whole === whole || globMatch(c.segments, 0, lower, 0)) return c.rule;
    }
    return undefined;
  }
}

function globMatch(pat: readonly string[], pi: number, path: readonly string[], si: number): boolean {
  // Patterns are a handful of segments; recursion depth is bounded by their length.
  while (pi < pat.length) {
    const p = pat[pi]!;
    if (p === '**') {
      for (let k = si; k <= path.length; k++) if (globMatch(pat, pi + 1, path, k)) return true;
      return false;
    }
    if (si >= path.length || (p !== '*' && p !== path[si])) return false;
    pi++;
    si++;
  }
  return si === path.length;
}

/**
 * Counts, for one column or key path, how many sampled values are essentially one entity
 * (a finding covers at least 80% of the trimmed value). Constant memory per column.
 */
export class ColumnProfile {
  nonEmpty = 0;
  private readonly hits = new Map<EntityType, number>();

  add(value: string, field: string, detector: PiiDetector): void {
    const v = value.trim();
    if (v.length === 0) return;
    this.nonEmpty++;
    let type: EntityType | undefined;
    const findings = detector.detect(v, field);
    if (findings.length === 1) {
      const f = findings[0]!;
      if ((f.end - f.start) / v.length >= 0.8) type = f.type satisfies TextEntityType;
    }
    if (!type && looksLikeStreetAddress(v)) type = 'address';
    if (type) this.hits.set(type, (this.hits.get(type) ?? 0) + 1);
  }

  /** A number (JSON number, number-shaped CSV cell): it counts as a value, never as evidence (numbers.ts). */
  addNumber(): void {
    this.nonEmpty++;
  }

  /** The dominant type if at least `threshold` of the non-empty values have it. */
  decide(threshold: number): EntityType | undefined {
    let best: EntityType | undefined;
    let bestCount = 0;
    for (const [t, c] of this.hits) {
      if (c > bestCount) {
        best = t;
        bestCount = c;
      }
    }
    return best && this.nonEmpty > 0 && bestCount / this.nonEmpty >= threshold ? best : undefined;
  }
}

/** Decision for a column from an explicit rule, else its name (when enabled). */
export function decideByRuleOrName(
  config: ScrubConfig,
  rules: ColumnRules,
  path: readonly string[],
): ColumnDecision | undefined {
  const rule = rules.find(path);
  if (rule) {
    const op = rule.operator ?? (rule.type ? operatorFor(config, rule.type) : { operator: 'keep' as const });
    return { type: rule.type, op, source: 'rule' };
  }
  if (!config.detect.columnsByName || path.length === 0) return undefined;
  const type = classifyFieldName(path[path.length - 1]!, path.length > 1 ? path[path.length - 2] : undefined);
  return type ? { type, op: operatorFor(config, type), source: 'name' } : undefined;
}
