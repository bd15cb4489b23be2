import { yaml } from '../../config/yaml.js';
import * as z from 'zod';
import { formatConfigPath } from '../../config/positions.js';
import { ConfigError } from '../../core/errors.js';
import { isSupportedRegion } from './detect/phone.js';
import { ENTITY_TYPES, TEXT_ENTITY_TYPES, type EntityType } from './types.js';

/**
 * The scrub configuration: which operator applies to each entity type, explicit column
 * rules, detection settings, CSV options and limits. Written as YAML or JSON; every
 * field is optional and `defaultScrubConfig()` is what an empty file means.
 */

const OPERATOR_NAMES = ['redact', 'mask', 'replace', 'hash', 'drop', 'generalize', 'keep'] as const;

const operatorObject = z.discriminatedUnion(
  'operator',
  [
    z.strictObject({ operator: z.literal('redact') }),
    z.strictObject({
      operator: z.literal('mask'),
      keep: z.number().int().min(0).max(32).default(4),
      char: z.string().length(1).default('*'),
    }),
    z.strictObject({ operator: z.literal('replace'), with: z.string().max(256).optional() }),
    z.strictObject({ operator: z.literal('hash') }),
    z.strictObject({ operator: z.literal('drop') }),
    z.strictObject({ operator: z.literal('generalize') }),
    z.strictObject({ operator: z.literal('keep') }),
  ],
  { error: () => `operator must be one of ${OPERATOR_NAMES.join(', ')}` },
);

/** `email: hash` is shorthand for `email: { operator: hash }`. */
const operatorSpec = z.preprocess((v) => (typeof v === 'string' ? { operator: v } : v), operatorObject);

export type OperatorSpec = z.output<typeof operatorObject>;
export type OperatorName = OperatorSpec['operator'];

const entityType = z.enum(ENTITY_TYPES, { error: () => `entity type must be one of ${ENTITY_TYPES.join(', ')}` });

const columnRule = z.strictObject({
  /**
   * A CSV column name or a JSON key path (`user.contact.email`), case-insensitive.
   * `*` matches one path segment, `**` any number of them; array indices are not part of paths.
   */
  match: z.string().min(1),
  type: entityType.optional(),
  operator: operatorSpec.optional(),
});

const scrubConfigSchema = z.strictObject({
  version: z.literal(1).default(1),
  entities: z.partialRecord(entityType, operatorSpec).default({}),
  columns: z.array(columnRule).default([]),
  detect: z
    .strictObject({
      types: z.array(z.enum(TEXT_ENTITY_TYPES)).default([...TEXT_ENTITY_TYPES]),
      minScore: z.number().min(0).max(1).default(0.5),
      phoneRegions: z.array(z.string().regex(/^[A-Za-z]{2}$/, 'a two-letter ISO 3166 region such as US or GB')).min(1).default(['US']),
      columnsByName: z.boolean().default(true),
      columnsByValue: z.boolean().default(true),
      sampleRecords: z.number().int().min(1).max(10_000).default(200),
      columnThreshold: z.number().min(0.1).max(1).default(0.6),
    })
    .prefault({}),
  /** Values never scrubbed (exact match), e.g. a support address printed in every log line. */
  allow: z.array(z.string()).max(10_000).default([]),
  csv: z
    .strictObject({
      header: z.enum(['auto', 'present', 'absent']).default('auto'),
      delimiter: z.enum([',', '\t', ';', '|']).optional(),
    })
    .prefault({}),
  hash: z.strictObject({ tokenBytes: z.number().int().min(8).max(32).default(16) }).prefault({}),
  limits: z
    .strictObject({
      maxRecordBytes: z.number().int().min(1024).max(1 << 30).default(16 << 20),
      sniffBytes: z.number().int().min(512).max(16 << 20).default(64 << 10),
    })
    .prefault({}),
});

export type ScrubConfig = z.output<typeof scrubConfigSchema>;
export type ColumnRule = ScrubConfig['columns'][number];

/** What an entity type gets when the config does not say. */
export const DEFAULT_OPERATORS: Readonly<Record<EntityType, OperatorSpec>> = {
  email: { operator: 'replace' },
  phone: { operator: 'replace' },
  card: { operator: 'replace' },
  iban: { operator: 'replace' },
  ssn: { operator: 'replace' },
  ip: { operator: 'replace' },
  mac: { operator: 'replace' },
  dob: { operator: 'generalize' },
  person_name: { operator: 'replace' },
  address: { operator: 'replace' },
  postal_code: { operator: 'generalize' },
  national_id: { operator: 'replace' },
  username: { operator: 'replace' },
};

/** Types `generalize` knows how to coarsen: date -> year, ZIP -> 3 digits, IP -> network. */
export const GENERALIZABLE: ReadonlySet<EntityType> = new Set(['dob', 'postal_code', 'ip']);

export function operatorFor(config: ScrubConfig, type: EntityType): OperatorSpec {
  return config.entities[type] ?? DEFAULT_OPERATORS[type];
}

export function defaultScrubConfig(): ScrubConfig {
  return loadScrubConfig({});
}

/** Validates a parsed config object; throws ConfigError naming each bad field and the fix. */
export function loadScrubConfig(input: unknown): ScrubConfig {
  const parsed = scrubConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const where = formatConfigPath(i.path);
      const extra = i.code === 'unrecognized_keys' && i.path[0] === 'entities' ? ` (entity types: ${ENTITY_TYPES.join(', ')})` : '';
      return `  ${where}: ${i.message}${extra}`;
    });
    throw new ConfigError(`invalid scrub config:\n${lines.join('\n')}`, {
      hint: 'fix the fields listed above; see docs/pii.md for the config format',
    });
  }
  const config = parsed.data;
  const problems: string[] = [];
  for (const [type, op] of Object.entries(config.entities) as [EntityType, OperatorSpec][]) {
    if (op.operator === 'generalize' && !GENERALIZABLE.has(type)) {
      problems.push(`entities.${type}: generalize only applies to ${[...GENERALIZABLE].join(', ')}`);
    }
  }
  config.columns.forEach((rule, i) => {
    if (!rule.type && !rule.operator) problems.push(`${formatConfigPath(['columns', i])}: give a type, an operator or both`);
    if (!rule.type && rule.operator?.operator === 'hash') {
      problems.push(`${formatConfigPath(['columns', i])}: hash needs a type (tokens are derived and named per entity type)`);
    }
    const op = rule.operator ?? (rule.type ? operatorFor(config, rule.type) : undefined);
    if (op?.operator === 'generalize' && !(rule.type && GENERALIZABLE.has(rule.type))) {
      problems.push(`${formatConfigPath(['columns', i])}: generalize needs type ${[...GENERALIZABLE].join(', ')}`);
    }
  });
  config.detect.phoneRegions = config.detect.phoneRegions.map((r) => r.toUpperCase());
  for (const r of config.detect.phoneRegions) {
    if (!isSupportedRegion(r)) problems.push(`detect.phoneRegions: unknown region ${r}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid scrub config:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'see docs/pii.md for the config format',
    });
  }
  return config;
}

/** The top-level keys of a standalone scrub config file. */
export const SCRUB_CONFIG_KEYS: ReadonlySet<string> = new Set(Object.keys(scrubConfigSchema.shape));

/**
 * The `pii:` section of hybridsync.yaml: a scrub config plus `keyFile`, the secret of the
 * `hash` operator, and `threads`, how many worker threads a run scrubs files on.
 */
export interface PiiSection {
  config: ScrubConfig;
  /** The section's scrub keys as written, for a scrubbing thread to load again. */
  scrub: Record<string, unknown>;
  keyFile: string | undefined;
  /** Worker threads for the sync's scrub stage: `auto` (one per core, at most 4; none on one core) or a count; 0 scrubs on the run's own thread. */
  threads: number | 'auto';
}

/** The most `pii.threads` may ask for. */
const MAX_THREADS = 64;

/**
 * Reads the `pii:` section of hybridsync.yaml. The sync's scrub stage and `hybridsync
 * scrub --config hybridsync.yaml` both read it here, so they scrub alike.
 */
export function loadPiiSection(section: Readonly<Record<string, unknown>> = {}): PiiSection {
  const { keyFile, threads = 'auto', ...scrub } = section;
  if (keyFile !== undefined && typeof keyFile !== 'string') {
    throw new ConfigError('pii.keyFile must be a path', { hint: 'give the path of the file holding the PII key' });
  }
  if (threads !== 'auto' && !(typeof threads === 'number' && Number.isInteger(threads) && threads >= 0 && threads <= MAX_THREADS)) {
    throw new ConfigError(`pii.threads must be auto or a whole number from 0 to ${MAX_THREADS}, not ${JSON.stringify(threads)}`, {
      hint: 'use auto (a thread per core, at most 4), or 0 to scrub on the main thread',
    });
  }
  return { config: loadScrubConfig(scrub), scrub, keyFile, threads };
}

/** Parses YAML or JSON config text (`source` names the file in error messages). */
export function parseScrubConfigText(text: string, source: string): ScrubConfig {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new ConfigError(`cannot parse scrub config ${source}: ${(e as Error).message}`, {
      cause: e,
      hint: 'the file must be YAML or JSON',
    });
  }
  try {
    return loadScrubConfig(doc);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`, { cause: e, hint: e.hint ?? '' });
    throw e;
  }
}

/** True when some rule or entity type uses `hash`, so a key is required. */
export function configNeedsKey(config: ScrubConfig): boolean {
  const ops = [
    ...ENTITY_TYPES.map((t) => operatorFor(config, t)),
    ...config.columns.flatMap((c) => (c.operator ? [c.operator] : [])),
  ];
  return ops.some((o) => o.operator === 'hash');
}
