/**
 * The options of a streaming lane, defined once: the flags of `stream push`/`stream pull`,
 * the `stream:` block of a `kind: stream` job in hybridsync.yaml and the library's
 * `options`, with one set of defaults and one parser.
 */
import * as z from 'zod';
import { UsageError } from '../core/errors.js';
import { parseDuration, parseSize } from '../lib/units.js';

export interface StreamOptions {
  /** Lane name: the journal key of this stream's offsets (default: derived from source and destination). */
  readonly lane?: string;
  /** Largest segment (bytes). */
  readonly segmentSize: number;
  /** Longest a record waits until its segment is stored (ms): the cut comes that long after its arrival, less the recent store time. */
  readonly segmentAge: number;
  /** How often sources are looked at (ms). */
  readonly poll: number;
  /** How long a rotated-away file must stay unchanged, drained, before it is closed (ms). */
  readonly rotateQuiet: number;
  /** Record boundaries: by file name (.csv/.tsv quote-aware), or forced. */
  readonly format: 'auto' | 'lines' | 'csv';
  /** pull: `segments` (reassemble pushed streams) or `plain` (each new object becomes a local file). */
  readonly mode: 'segments' | 'plain';
  /** Ship (or apply) what is there now and exit, instead of following. */
  readonly once: boolean;
  /** Attempts of each segment's upload or download for retryable errors. */
  readonly retries: number;
  /** push: segments of the lane stored at once (committed in order). */
  readonly inFlight: number;
  /** pull: how long a missing segment with later ones present is waited for (it may be in flight) before the lane stops (ms). */
  readonly gapGrace: number;
}

type Kind = 'size' | 'duration' | 'int' | 'bool' | 'string' | 'format' | 'mode';

interface StreamOptionSpec {
  readonly key: keyof StreamOptions;
  readonly kind: Kind;
  readonly arg?: string;
  readonly default?: string | number | boolean;
  readonly help: string;
  readonly commands: ReadonlyArray<'push' | 'pull'>;
}

export const STREAM_OPTIONS: readonly StreamOptionSpec[] = [
  { key: 'lane', kind: 'string', arg: 'name', help: 'lane name, the key of its offsets in the journal (default: from source and destination)', commands: ['push', 'pull'] },
  { key: 'segmentSize', kind: 'size', arg: 'size', default: '8MiB', help: 'cut a segment when this many bytes wait', commands: ['push'] },
  { key: 'segmentAge', kind: 'duration', arg: 'duration', default: '5s', help: 'how long a record may wait until its segment is stored (cut early by what storing takes)', commands: ['push'] },
  { key: 'poll', kind: 'duration', arg: 'duration', default: '200ms', help: 'how often sources are looked at (push: besides the kernel\'s change events)', commands: ['push', 'pull'] },
  { key: 'rotateQuiet', kind: 'duration', arg: 'duration', default: '10s', help: 'a rotated-away file is done once drained and unchanged this long', commands: ['push'] },
  { key: 'format', kind: 'format', arg: 'auto|lines|csv', default: 'auto', help: 'record boundaries: newline, or CSV-aware (quoted newlines); auto by file name', commands: ['push'] },
  { key: 'mode', kind: 'mode', arg: 'segments|plain', default: 'segments', help: 'segments: reassemble pushed streams; plain: each new object becomes a local file', commands: ['pull'] },
  { key: 'once', kind: 'bool', default: false, help: 'ship (or apply) what is there now, then exit', commands: ['push', 'pull'] },
  { key: 'retries', kind: 'int', arg: 'n', default: 5, help: 'attempts of each segment for retryable errors', commands: ['push', 'pull'] },
  { key: 'inFlight', kind: 'int', arg: 'n', default: 2, help: 'segments stored at once (each up to --segment-size in memory; more for links with a long round trip); offsets commit in order', commands: ['push'] },
  {
    key: 'gapGrace',
    kind: 'duration',
    arg: 'duration',
    default: '2m',
    help: 'a missing segment that may still be in flight (fewer later ones than the pusher\'s window) is waited for this long before the lane stops',
    commands: ['pull'],
  },
];

const FORMATS = ['auto', 'lines', 'csv'] as const;
const MODES = ['segments', 'plain'] as const;

function parseValue(spec: StreamOptionSpec, v: unknown): unknown {
  const bad = (what: string): never => {
    throw new UsageError(`--${flagOf(spec.key)} ${String(v)}: ${what}`);
  };
  switch (spec.kind) {
    case 'size':
      if (typeof v === 'number' && v > 0) return v;
      try {
        const n = parseSize(String(v));
        return n > 0 ? n : bad('must be more than 0');
      } catch {
        return bad('not a size: use forms like 512K, 8MiB');
      }
    case 'duration':
      if (typeof v === 'number' && v >= 0) return v;
      try {
        return parseDuration(String(v));
      } catch {
        return bad('not a duration: use forms like 200ms, 5s, 1m');
      }
    case 'int': {
      const n = Number(v);
      return Number.isInteger(n) && n >= 1 ? n : bad('a whole number of at least 1');
    }
    case 'bool':
      return v === true || v === 'true';
    case 'string':
      return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(String(v)) ? String(v) : bad('use letters, digits, ".", "_" and "-"');
    case 'format':
      return (FORMATS as readonly string[]).includes(String(v)) ? v : bad(`use one of ${FORMATS.join(', ')}`);
    case 'mode':
      return (MODES as readonly string[]).includes(String(v)) ? v : bad(`use one of ${MODES.join(', ')}`);
  }
}

export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Complete options from a partial set (typed values or the flags' strings); unknown names refused. */
export function resolveStreamOptions(given: Readonly<Record<string, unknown>> = {}): StreamOptions {
  const out: Record<string, unknown> = {};
  for (const spec of STREAM_OPTIONS) {
    const v = given[spec.key] ?? spec.default;
    if (v !== undefined) out[spec.key] = parseValue(spec, v);
  }
  const known = new Set(STREAM_OPTIONS.map((s) => s.key as string));
  for (const k of Object.keys(given)) {
    if (!known.has(k) && given[k] !== undefined) throw new UsageError(`unknown stream option "${k}"`, { hint: `options are ${[...known].join(', ')}` });
  }
  return out as unknown as StreamOptions;
}

/** The `stream:` block of a `kind: stream` job. */
export const jobStreamSchema = z
  .object(
    Object.fromEntries(
      STREAM_OPTIONS.filter((s) => s.key !== 'lane' && s.key !== 'once').map((s) => {
        const base =
          s.kind === 'int'
            ? z.number().int().min(1)
            : s.kind === 'bool'
              ? z.boolean()
              : s.kind === 'format'
                ? z.enum(FORMATS)
                : s.kind === 'mode'
                  ? z.enum(MODES)
                  : z.union([z.number(), z.string()]);
        return [s.key, base.optional().describe(s.help)];
      }),
    ),
  )
  .strict();
