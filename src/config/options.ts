/**
 * The transfer options, defined once (rclone's fs.Option idea). This table yields the
 * command-line flags (cli/options.ts), the `transfer` and `filters` blocks of a job in
 * hybridsync.yaml (zod, so the JSON schema too), the library's defaults and the parsing of
 * strings such as `16M` or `7d` — so the CLI, jobs and `import { sync } from 'hybridsync'`
 * mean the same by every option.
 */
import * as z from 'zod';
import { UsageError } from '../core/errors.js';
import { parseDuration, parseSize } from '../lib/units.js';

export type Mode = 'sync' | 'copy' | 'check';
export type Compare = 'size-mtime' | 'checksum' | 'size-only';
/** The commands that take transfer options: the one-way modes and two-way sync. */
export type Command = Mode | 'bisync';

/**
 * How many deletions a sync may make: a count of files, or a percentage of the files the
 * run listed at the destination. Over the limit, none are made.
 */
export type DeleteLimit = { readonly count: number } | { readonly percent: number };

/** The limit when none is given: a sync never deletes more than half the destination. */
export const DEFAULT_DELETE_LIMIT: DeleteLimit = { percent: 50 };

/** `--max-delete` as written: `1000` or `10%`. */
export function formatDeleteLimit(l: DeleteLimit): string {
  return 'count' in l ? String(l.count) : `${l.percent}%`;
}

/** `1000` (a count) or `10%` (of the destination); a number is a count. Throws on anything else. */
export function parseDeleteLimit(v: unknown): DeleteLimit {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return { count: v };
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (typeof o.count === 'number') return parseDeleteLimit(o.count);
    if (typeof o.percent === 'number') return parseDeleteLimit(`${o.percent}%`);
  }
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(%?)$/.exec(v) : null;
  if (m && m[2] === '%' && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  if (m && m[2] === '' && Number.isInteger(Number(m[1]))) return { count: Number(m[1]) };
  throw new Error(`not a count or a percentage: "${String(v)}" (use forms like 1000 or 10%, at most 100%)`);
}

/** Every option of sync, copy and check, typed and parsed (sizes in bytes, ages in ms). */
export interface TransferOptions {
  readonly transfers: number;
  readonly checkers: number;
  readonly retries: number;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly multipartConcurrency: number;
  readonly maxBufferMemory: number;
  readonly checksum: boolean;
  readonly sizeOnly: boolean;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly excludeFrom: readonly string[];
  readonly minSize?: number;
  readonly maxSize?: number;
  readonly minAge?: number;
  readonly maxAge?: number;
  readonly bwlimit?: string;
  readonly ignoreExisting: boolean;
  readonly storageClass?: string;
  readonly maxDelete: DeleteLimit;
  readonly allowEmptySource: boolean;
  readonly createBucket: boolean;
  readonly download: boolean;
  readonly dryRun: boolean;
  /** An archived source object: request its restore and report it (request), and wait for it (wait), or neither (never). */
  readonly restore: RestoreMode;
  /** wait: how long to wait for restores to complete (ms). */
  readonly restoreTimeout: number;
  /** S3: days the restored copy stays readable. */
  readonly restoreDays: number;
  /** S3 retrieval tier (bulk, standard, high = Expedited) or Azure rehydrate priority (high = High, else Standard). */
  readonly restorePriority: 'bulk' | 'standard' | 'high';
}

/** What the engine does with an archived source object (S3 GLACIER/DEEP_ARCHIVE, Azure Archive). */
export type RestoreMode = 'request' | 'wait' | 'never';
export const RESTORE_MODES: readonly RestoreMode[] = ['request', 'wait', 'never'];
export const RESTORE_PRIORITIES = ['bulk', 'standard', 'high'] as const;

type Kind = 'int' | 'size' | 'duration' | 'bool' | 'string' | 'list' | 'limit' | 'choice';
type Section = 'transfer' | 'filters' | 'none';

export interface OptionSpec {
  readonly key: keyof TransferOptions;
  readonly kind: Kind;
  /** Argument name in --help (`<n>`, `<size>`); none for booleans. */
  readonly arg?: string;
  readonly help: string;
  /** As a user would write it (`16M` may be given as its number); parsed into TRANSFER_DEFAULTS. */
  readonly default?: number | boolean | string | readonly string[];
  readonly min?: number;
  /** kind 'choice': the allowed values. */
  readonly choices?: readonly string[];
  /** The commands that take it (default: sync, copy and check; bisync takes those too). */
  readonly modes?: readonly Command[];
  /** Where it lives in a job: `transfer:`, `filters:`, or not in jobs. */
  readonly section: Section;
}

const MiB = 1024 * 1024;

export const TRANSFER_OPTIONS: readonly OptionSpec[] = [
  { key: 'transfers', kind: 'int', arg: 'n', min: 1, default: 32, help: 'files transferred in parallel', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'checkers', kind: 'int', arg: 'n', min: 1, default: 16, help: 'files compared in parallel', section: 'transfer' },
  { key: 'retries', kind: 'int', arg: 'n', min: 1, default: 3, help: 'attempts of each request, chunk and file for retryable errors', section: 'transfer' },
  { key: 'multipartThreshold', kind: 'size', arg: 'size', min: 0, default: 16 * MiB, help: 'upload in chunks (S3 parts, Azure blocks) at or above this size', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'partSize', kind: 'size', arg: 'size', min: 1, default: 8 * MiB, help: 'chunk size (raised to the backend minimum, 5M for S3; doubled past its maximum count)', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'multipartConcurrency', kind: 'int', arg: 'n', min: 1, default: 4, help: 'chunks of one file in flight', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'maxBufferMemory', kind: 'size', arg: 'size', min: 1, default: 256 * MiB, help: 'file data held in memory at once by all transfers together (whole small files, chunks of large ones)', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'checksum', kind: 'bool', default: false, help: 'compare content hashes (MD5) instead of size and mtime', modes: ['sync', 'copy', 'check'], section: 'transfer' },
  { key: 'sizeOnly', kind: 'bool', default: false, help: 'compare sizes only', modes: ['sync', 'copy', 'check'], section: 'transfer' },
  { key: 'include', kind: 'list', arg: 'glob', default: [], help: 'only files matching (repeatable)', section: 'filters' },
  { key: 'exclude', kind: 'list', arg: 'glob', default: [], help: 'skip files matching (repeatable)', section: 'filters' },
  { key: 'excludeFrom', kind: 'list', arg: 'file', default: [], help: 'read exclude globs from a file, one per line (repeatable)', section: 'filters' },
  { key: 'minSize', kind: 'size', arg: 'size', help: 'only files at least this big', section: 'filters' },
  { key: 'maxSize', kind: 'size', arg: 'size', help: 'only files at most this big', section: 'filters' },
  { key: 'minAge', kind: 'duration', arg: 'duration', help: 'only files older than this (e.g. 1h, 7d)', section: 'filters' },
  { key: 'maxAge', kind: 'duration', arg: 'duration', help: 'only files younger than this', section: 'filters' },
  {
    key: 'bwlimit',
    kind: 'string',
    arg: 'spec',
    help: 'bandwidth limit, e.g. 10M or "08:00,512K 19:00,off" or "Mon-08:00,1M Sat-00:00,off"',
    modes: ['sync', 'copy', 'bisync'],
    section: 'transfer',
  },
  { key: 'ignoreExisting', kind: 'bool', default: false, help: 'skip files that exist at the destination', modes: ['sync', 'copy'], section: 'transfer' },
  { key: 'storageClass', kind: 'string', arg: 'class', help: 'storage class (S3) or access tier (Azure: Hot, Cool, Cold, Archive) of new objects', modes: ['sync', 'copy'], section: 'transfer' },
  {
    key: 'maxDelete',
    kind: 'limit',
    arg: 'n|n%',
    default: formatDeleteLimit(DEFAULT_DELETE_LIMIT),
    help: 'refuse to delete more than this many files, or this percentage of the destination (nothing is deleted then)',
    modes: ['sync', 'bisync'],
    section: 'transfer',
  },
  {
    key: 'allowEmptySource',
    kind: 'bool',
    default: false,
    help: 'let a source that lists no files empty a non-empty destination (refused by default: an unmounted path lists as empty)',
    modes: ['sync'],
    section: 'transfer',
  },
  { key: 'createBucket', kind: 'bool', default: false, help: 'create the destination bucket or container if missing', modes: ['sync', 'copy', 'bisync'], section: 'transfer' },
  { key: 'download', kind: 'bool', default: false, help: 'read both sides to compare content where no hash is stored', modes: ['check'], section: 'none' },
  {
    key: 'restore',
    kind: 'choice',
    arg: 'mode',
    choices: RESTORE_MODES,
    default: 'request',
    help: 'an archived source object (S3 GLACIER/DEEP_ARCHIVE, Azure Archive): request its restore and report it for a later rerun (request), also wait for it (wait), or only report it (never)',
    modes: ['sync', 'copy', 'check'],
    section: 'transfer',
  },
  { key: 'restoreTimeout', kind: 'duration', arg: 'duration', default: '12h', help: '--restore wait: how long to wait for restores before reporting them pending', modes: ['sync', 'copy', 'check'], section: 'transfer' },
  { key: 'restoreDays', kind: 'int', arg: 'n', min: 1, default: 7, help: 'S3: days a restored copy stays readable', modes: ['sync', 'copy', 'check'], section: 'transfer' },
  {
    key: 'restorePriority',
    kind: 'choice',
    arg: 'priority',
    choices: RESTORE_PRIORITIES,
    default: 'standard',
    help: 'restore speed: S3 retrieval tier bulk, standard or high (Expedited); Azure rehydrate priority (high, else Standard)',
    modes: ['sync', 'copy', 'check'],
    section: 'transfer',
  },
  { key: 'dryRun', kind: 'bool', default: false, help: 'print what would be done, change nothing', modes: ['sync', 'copy', 'bisync'], section: 'none' },
];

/** `multipartThreshold` → `multipart-threshold`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Parses one value given as a string (a flag, an environment variable) or as its typed form (a job, a library call). */
export function parseOptionValue(spec: OptionSpec, v: unknown): unknown {
  const name = `--${flagName(spec.key)}`;
  const bad = (why: string): never => {
    throw new UsageError(`${name}${why.startsWith(":") ? "" : " "}${why}`, { hint: `see hybridsync ${spec.modes?.[0] ?? 'sync'} --help` });
  };
  switch (spec.kind) {
    case 'int': {
      const n = typeof v === 'number' ? v : Number(v);
      if (!Number.isInteger(n) || n < (spec.min ?? 0)) bad(`must be an integer >= ${spec.min ?? 0}, got "${String(v)}"`);
      return n;
    }
    case 'size': {
      let n: number;
      if (typeof v === 'number') n = v;
      else {
        try {
          n = parseSize(String(v));
        } catch (e) {
          return bad(`: ${(e as Error).message}`);
        }
      }
      if (!Number.isFinite(n) || n < (spec.min ?? 0)) bad(`must be at least ${spec.min ?? 0} bytes, got "${String(v)}"`);
      return n;
    }
    case 'duration': {
      if (typeof v === 'number') return v;
      try {
        return parseDuration(String(v));
      } catch (e) {
        return bad(`: ${(e as Error).message}`);
      }
    }
    case 'bool':
      return v === true || v === 'true';
    case 'string':
      if (typeof v !== 'string' || v === '') bad('needs a value');
      return v;
    case 'list':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad('needs a list of strings');
      return v;
    case 'limit':
      try {
        return parseDeleteLimit(v);
      } catch (e) {
        return bad(`: ${(e as Error).message}`);
      }
    case 'choice':
      if (typeof v !== 'string' || !(spec.choices ?? []).includes(v)) bad(`must be one of ${(spec.choices ?? []).join(', ')}, got "${String(v)}"`);
      return v;
  }
}

/** The defaults of every option, parsed: what a library call gets when it says nothing. */
export const TRANSFER_DEFAULTS: TransferOptions = Object.fromEntries(
  TRANSFER_OPTIONS.filter((o) => o.default !== undefined).map((o) => [o.key, parseOptionValue(o, o.default)]),
) as unknown as TransferOptions;

/**
 * Complete, validated options from a partial set (typed values or strings): defaults
 * filled in, every value parsed, contradictions refused.
 */
export function resolveTransferOptions(given: Readonly<Record<string, unknown>> = {}): TransferOptions {
  const out: Record<string, unknown> = { ...TRANSFER_DEFAULTS };
  for (const spec of TRANSFER_OPTIONS) {
    const v = given[spec.key];
    if (v !== undefined) out[spec.key] = parseOptionValue(spec, v);
  }
  const known = new Set(TRANSFER_OPTIONS.map((o) => o.key as string));
  for (const k of Object.keys(given)) {
    if (!known.has(k) && given[k] !== undefined) throw new UsageError(`unknown transfer option "${k}"`, { hint: `options are ${[...known].join(', ')}` });
  }
  const o = out as unknown as TransferOptions;
  if (o.checksum && o.sizeOnly) throw new UsageError('--checksum and --size-only cannot be combined', { hint: 'pick one comparison' });
  return o;
}

export function compareOf(o: TransferOptions, mode: Mode): Compare {
  return o.checksum ? 'checksum' : o.sizeOnly ? 'size-only' : mode === 'check' ? 'checksum' : 'size-mtime';
}

// ------------------------------------------------------------------- job schema

/** A string that `parse` accepts (and, with `pattern`, that matches it); `message` otherwise. */
export const validString = (parse: (s: string) => unknown, message: string, pattern?: RegExp) =>
  (pattern ? z.string().regex(pattern, { message }) : z.string()).refine(
    (s) => {
      try {
        parse(s);
        return true;
      } catch {
        return false;
      }
    },
    { message },
  );

function zodFor(spec: OptionSpec): z.ZodType {
  const d = { description: spec.help };
  switch (spec.kind) {
    case 'int':
      return z.number().int().min(spec.min ?? 0).meta(d);
    case 'size':
      return z.union([z.number().int().min(spec.min ?? 0), validString(parseSize, 'not a size: use forms like 512K, 64MiB, 40TB (TB = 10^12 bytes)')]).meta(d);
    case 'duration':
      return validString(parseDuration, 'not a duration: use forms like 90s, 15m, 8h, 1d').meta(d);
    case 'bool':
      return z.boolean().meta(d);
    case 'string':
      return z.string().min(1).meta(d);
    case 'list':
      return z.array(z.string()).meta(d);
    case 'limit':
      return z.union([z.number().int().min(0), validString(parseDeleteLimit, 'not a count or a percentage: use forms like 1000 or 10%', /^\d+(?:\.\d+)?%?$/)]).meta(d);
    case 'choice':
      return z.enum((spec.choices ?? []) as [string, ...string[]]).meta(d);
  }
}

function sectionSchema(section: Section): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const spec of TRANSFER_OPTIONS) if (spec.section === section) shape[spec.key] = zodFor(spec).optional();
  return z.object(shape).strict();
}

/** A job's `transfer:` block: the transfer options, as in the table. */
export const jobTransferSchema = sectionSchema('transfer');
/** A job's `filters:` block. */
export const jobFiltersSchema = sectionSchema('filters');

// ------------------------------------------------------------------ reference doc

const SECTION_TEXT: Record<Section, string> = { transfer: 'transfer:', filters: 'filters:', none: '-' };

/** docs/options.md, written from the table (npm run schema); a test keeps it in step. */
export function optionsMarkdown(): string {
  const rows = TRANSFER_OPTIONS.map((o) => {
    const flag = `\`--${flagName(o.key)}${o.arg ? ` ${o.arg.toUpperCase()}` : ''}\``;
    const shown = o.kind === 'size' && typeof o.default === 'number' && o.default > 0 && o.default % MiB === 0 ? `${o.default / MiB}M` : String(o.default);
    const def = o.default === undefined ? '' : Array.isArray(o.default) ? (o.default.length ? o.default.join(', ') : '') : `\`${shown}\``;
    return `| ${flag.replace(/\|/g, '\\|')} | \`${o.key}\` | ${def} | ${(o.modes ?? ['sync', 'copy', 'check']).join(', ')} | ${SECTION_TEXT[o.section]} | ${o.help.replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Transfer options',
    '',
    'Generated from the option table in `src/config/options.ts` (`npm run schema`): the same',
    'options, names and defaults for the CLI flags, the `transfer:`/`filters:` blocks of a job in',
    "hybridsync.yaml and the library's `options` (camelCase; typed values or the flags' strings).",
    '',
    '| flag | library / job key | default | commands | job block | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
