/**
 * The transfer options, defined once (rclone's fs.Option idea). This table yields the
 * command-line flags (cli/options.ts), the `transfer` and `filters` blocks of a job in
 * hybridsync.yaml (zod, so the JSON schema too), the library's defaults and the parsing of
 * strings such as `16M` or `7d` — so the CLI, jobs and `import { sync } from 'hybridsync'`
 * mean the same by every option.
 */
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { parseDuration, parseSize } from '../lib/units.js';

export type Mode = 'sync' | 'copy' | 'check';
export type Compare = 'size-mtime' | 'checksum' | 'size-only';

/** Every option of sync, copy and check, typed and parsed (sizes in bytes, ages in ms). */
export interface TransferOptions {
  readonly transfers: number;
  readonly checkers: number;
  readonly retries: number;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly multipartConcurrency: number;
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
  readonly maxDelete?: number;
  readonly createBucket: boolean;
  readonly download: boolean;
  readonly dryRun: boolean;
}

type Kind = 'int' | 'size' | 'duration' | 'bool' | 'string' | 'list';
type Section = 'transfer' | 'filters' | 'none';

export interface OptionSpec {
  readonly key: keyof TransferOptions;
  readonly kind: Kind;
  /** Argument name in --help (`<n>`, `<size>`); none for booleans. */
  readonly arg?: string;
  readonly help: string;
  readonly default?: number | boolean | readonly string[];
  readonly min?: number;
  /** The commands that take it (default: all three). */
  readonly modes?: readonly Mode[];
  /** Where it lives in a job: `transfer:`, `filters:`, or not in jobs. */
  readonly section: Section;
}

const MiB = 1024 * 1024;

export const TRANSFER_OPTIONS: readonly OptionSpec[] = [
  { key: 'transfers', kind: 'int', arg: 'n', min: 1, default: 8, help: 'files transferred in parallel', section: 'transfer' },
  { key: 'checkers', kind: 'int', arg: 'n', min: 1, default: 16, help: 'files compared in parallel', section: 'transfer' },
  { key: 'retries', kind: 'int', arg: 'n', min: 1, default: 3, help: 'attempts of each request, chunk and file for retryable errors', section: 'transfer' },
  { key: 'multipartThreshold', kind: 'size', arg: 'size', min: 0, default: 16 * MiB, help: 'upload in chunks (S3 parts, Azure blocks) at or above this size', section: 'transfer' },
  { key: 'partSize', kind: 'size', arg: 'size', min: 1, default: 16 * MiB, help: 'chunk size (raised to the backend minimum, 5M for S3; doubled past its maximum count)', section: 'transfer' },
  { key: 'multipartConcurrency', kind: 'int', arg: 'n', min: 1, default: 4, help: 'chunks of one file in flight', section: 'transfer' },
  { key: 'checksum', kind: 'bool', default: false, help: 'compare content hashes (MD5) instead of size and mtime', section: 'transfer' },
  { key: 'sizeOnly', kind: 'bool', default: false, help: 'compare sizes only', section: 'transfer' },
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
    modes: ['sync', 'copy'],
    section: 'transfer',
  },
  { key: 'ignoreExisting', kind: 'bool', default: false, help: 'skip files that exist at the destination', modes: ['sync', 'copy'], section: 'transfer' },
  { key: 'storageClass', kind: 'string', arg: 'class', help: 'storage class (S3) or access tier (Azure: Hot, Cool, Cold, Archive) of new objects', modes: ['sync', 'copy'], section: 'transfer' },
  { key: 'maxDelete', kind: 'int', arg: 'n', min: 0, help: 'refuse to delete more than this many files (nothing is deleted then)', modes: ['sync'], section: 'transfer' },
  { key: 'createBucket', kind: 'bool', default: false, help: 'create the destination bucket or container if missing', section: 'transfer' },
  { key: 'download', kind: 'bool', default: false, help: 'read both sides to compare content where no hash is stored', modes: ['check'], section: 'none' },
  { key: 'dryRun', kind: 'bool', default: false, help: 'print what would be done, change nothing', section: 'none' },
];

/** `multipartThreshold` → `multipart-threshold`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The defaults of every option: what a library call gets when it says nothing. */
export const TRANSFER_DEFAULTS: TransferOptions = Object.fromEntries(
  TRANSFER_OPTIONS.filter((o) => o.default !== undefined).map((o) => [o.key, o.default]),
) as unknown as TransferOptions;

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
  }
}

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

const validString = (parse: (s: string) => unknown, message: string) =>
  z.string().refine(
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
