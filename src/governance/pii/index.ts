/**
 * PII detection and scrubbing, applied before data leaves for the cloud.
 *
 * Detected in free text (every CSV cell, JSON string and long number, JSON key, and line
 * of a text or log file): email addresses (ASCII); phone numbers (`+` international
 * numbers of every country, validated by libphonenumber-js/max; national formats of the
 * configured regions, by default NANP formats such as `(415) 555-0100`; bare digit
 * strings only after a phone word or under a phone field); payment cards (13-19 digits,
 * network prefix and length, Luhn); IBANs (upper case, compact or grouped by 4, country
 * length and mod-97); US SSNs (area/group/serial rules; `123-45-6789` anywhere, spaced or
 * bare 9 digits only after an SSN word or under an SSN field); IPv4 and IPv6 addresses;
 * MAC addresses (colon, dash and Cisco dotted forms); and dates of birth (numeric or
 * month-name dates after a birth word such as "born" or "DOB", or under a birth-date
 * field). Left alone on purpose: UUIDs, hex hashes and git SHAs, semver and 4-part
 * versions after a version word, a `v` or a `product/`, IMEIs, epoch timestamps, dates
 * outside a birth context, order and invoice numbers, 12-digit cloud account ids, prices.
 *
 * NOT detected in free text: people's names, street addresses, postal codes and national
 * ids other than US SSNs. Finding those in prose needs a language model, which this
 * module does not use. In structured data they are covered by column-level detection: a
 * CSV column or JSON key whose name (`first_name`, `shipping_address`, `zip`,
 * `passport_no`, a bare `name` next to an email field, ...) or sampled values (emails,
 * phones, street addresses, ...) show it holds personal data is scrubbed as a whole. Nor
 * are lower-case IBANs, non-ASCII emails, or national phone formats of regions that are
 * not configured. A bare 4-part version with no version word before it (`1.2.3.4`)
 * cannot be told from an IPv4 address and is treated as one. docs/pii.md has the
 * measured precision, recall and throughput.
 *
 * Operators per entity type or column: redact, mask (keep last N), replace (`<EMAIL>`),
 * hash (keyed HMAC-SHA256 tokens `tok_email_...` under HKDF per-type subkeys; there is no
 * unkeyed hash), drop, generalize (date -> year, ZIP -> 3 digits, IP -> network), keep.
 * Formats are streamed in bounded memory: CSV/TSV, JSON Lines, plain text. Anything else
 * passes through untouched and the report says so (`passthrough: true` with a reason).
 */
export { detectPii, PiiDetector, type DetectOptions } from './detect/detect.js';
export {
  defaultScrubConfig,
  loadScrubConfig,
  loadPiiSection,
  parseScrubConfigText,
  SCRUB_CONFIG_KEYS,
  type PiiSection,
  DEFAULT_OPERATORS,
  type ScrubConfig,
  type ColumnRule,
  type OperatorSpec,
  type OperatorName,
} from './config.js';
export { createScrubber, type Scrubber, type ScrubberOptions } from './scrubber.js';
export { loadPiiKey, decodePiiKey, PII_KEY_ENV } from './key.js';
export { classifyFieldName } from './columns.js';
export { ScrubInputError } from './errors.js';
export {
  ENTITY_TYPES,
  TEXT_ENTITY_TYPES,
  COLUMN_ENTITY_TYPES,
  type EntityType,
  type TextEntityType,
  type Finding,
  type ScrubFormat,
  type ScrubReport,
} from './types.js';
