/**
 * Flags shared by sync, copy and check, and their translation into backends and
 * RunOptions. Options are data: one table yields the flags and their validation.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Backend } from '../core/backend.js';
import { UsageError, type HybridsyncError } from '../core/errors.js';
import { openBackend } from '../backends/registry.js';
import { S3Backend } from '../backends/s3/index.js';
import { BandwidthLimiter } from '../lib/bandwidth.js';
import { parseDuration, parseSize } from '../lib/units.js';
import { createFilter, parsePatternFile } from '../sync/filter.js';
import type { RunOptions } from '../sync/execute.js';
import type { Compare, Mode } from '../sync/plan.js';
import { StateDb, defaultStatePath } from '../sync/state.js';
import { Stats } from '../sync/stats.js';
import type { SyncEvent } from '../sync/events.js';
import { prepareGovernance } from '../governance/gate.js';
import { Reporter } from './output.js';

export interface TransferFlags {
  transfers: string;
  checkers: string;
  multipartThreshold: string;
  partSize: string;
  multipartConcurrency: string;
  checksum?: boolean;
  sizeOnly?: boolean;
  ignoreExisting?: boolean;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  progress: boolean;
  stats: string;
  maxDelete?: string;
  include: string[];
  exclude: string[];
  excludeFrom: string[];
  minSize?: string;
  maxSize?: string;
  minAge?: string;
  maxAge?: string;
  bwlimit?: string;
  retries: string;
  state?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Profile?: string;
  s3AllowHttp?: boolean;
  caBundle?: string;
  storageClass?: string;
  createBucket?: boolean;
  download?: boolean;
  config?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Defaults of the transfer flags, for the option table and for every run built in code (jobs, demo, benches). */
export const TRANSFER_DEFAULTS = {
  transfers: '8',
  checkers: '16',
  multipartThreshold: '16M',
  partSize: '16M',
  multipartConcurrency: '4',
  retries: '3',
  stats: '5s',
} as const;

/** A complete TransferFlags with the CLI's defaults, overridden by `over`. */
export function transferFlags(over: Partial<TransferFlags> = {}): TransferFlags {
  return { ...TRANSFER_DEFAULTS, progress: true, include: [], exclude: [], excludeFrom: [], ...over };
}

export function addTransferOptions(cmd: Command, mode: Mode): Command {
  cmd
    .option('--transfers <n>', 'files transferred in parallel', TRANSFER_DEFAULTS.transfers)
    .option('--checkers <n>', 'files compared in parallel', TRANSFER_DEFAULTS.checkers)
    .option('--multipart-threshold <size>', 'upload in parts at or above this size', TRANSFER_DEFAULTS.multipartThreshold)
    .option('--part-size <size>', 'multipart part size (min 5M)', TRANSFER_DEFAULTS.partSize)
    .option('--multipart-concurrency <n>', 'parts of one file in flight', TRANSFER_DEFAULTS.multipartConcurrency)
    .option('--checksum', 'compare content hashes (MD5) instead of size and mtime')
    .option('--size-only', 'compare sizes only')
    .option('--include <glob>', 'only files matching (repeatable)', collect, [])
    .option('--exclude <glob>', 'skip files matching (repeatable)', collect, [])
    .option('--exclude-from <file>', 'read exclude globs from a file, one per line (repeatable)', collect, [])
    .option('--min-size <size>', 'only files at least this big')
    .option('--max-size <size>', 'only files at most this big')
    .option('--min-age <duration>', 'only files older than this (e.g. 1h, 7d)')
    .option('--max-age <duration>', 'only files younger than this')
    .option('--retries <n>', 'attempts per file for retryable errors', TRANSFER_DEFAULTS.retries)
    .option('--dry-run', 'print what would be done, change nothing')
    .option('--json', 'NDJSON events on stdout')
    .option('-v, --verbose', 'print every file')
    .option('--no-progress', 'no progress output')
    .option('--stats <duration>', 'interval of progress lines when not on a terminal', TRANSFER_DEFAULTS.stats)
    .option('--state <file>', `state database (default ${defaultStatePath()})`)
    .option('--config <file>', 'hybridsync.yaml: environments, classification, policy, audit, tls (default $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present)')
    .option('--s3-endpoint <url>', 'S3 endpoint (default AWS_ENDPOINT_URL or AWS)')
    .option('--s3-region <region>', 'S3 region (default AWS_REGION or us-east-1)')
    .option('--s3-path-style', 'path-style addressing (default on for custom endpoints)')
    .option('--s3-profile <name>', 'AWS profile')
    .option('--s3-allow-http', 'allow plain http to a non-loopback endpoint')
    .option('--ca-bundle <file>', 'PEM CA bundle for https endpoints (default AWS_CA_BUNDLE)')
    .option('--create-bucket', 'create the destination bucket if missing');
  if (mode !== 'check') {
    cmd
      .option('--bwlimit <spec>', 'bandwidth limit, e.g. 10M or "08:00,512K 19:00,off" or "Mon-08:00,1M Sat-00:00,off"')
      .option('--ignore-existing', 'skip files that exist at the destination')
      .option('--storage-class <class>', 'S3 storage class for new objects (e.g. STANDARD_IA)');
  }
  if (mode === 'sync') cmd.option('--max-delete <n>', 'refuse to delete more than this many files (nothing is deleted then)');
  if (mode === 'check') cmd.option('--download', 'read both sides to compare content where no hash is stored');
  return cmd;
}

function int(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}
function size(name: string, v: string): number {
  try {
    return parseSize(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}
function duration(name: string, v: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

export interface PreparedRun {
  readonly run: RunOptions;
  readonly reporter: Reporter;
  readonly close: () => Promise<void>;
}

/** Builds backends, filters, limiter, state and reporter from flags; validates everything first. */
export async function prepareRun(mode: Mode, srcUri: string, dstUri: string, f: TransferFlags, signal: AbortSignal): Promise<PreparedRun> {
  if (f.checksum && f.sizeOnly) throw new UsageError('--checksum and --size-only cannot be combined', { hint: 'pick one comparison' });
  const transfers = int('transfers', f.transfers);
  const checkers = int('checkers', f.checkers);
  const multipartConcurrency = int('multipart-concurrency', f.multipartConcurrency);
  const retries = int('retries', f.retries);
  const excludes = [...f.exclude];
  for (const file of f.excludeFrom) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --exclude-from file ${file}: ${(err as Error).message}`, { hint: 'check the path' });
    }
    excludes.push(...parsePatternFile(text));
  }
  const filter = createFilter({
    include: f.include,
    exclude: excludes,
    ...(f.minSize ? { minSize: size('min-size', f.minSize) } : {}),
    ...(f.maxSize ? { maxSize: size('max-size', f.maxSize) } : {}),
    ...(f.minAge ? { minAgeMs: duration('min-age', f.minAge) } : {}),
    ...(f.maxAge ? { maxAgeMs: duration('max-age', f.maxAge) } : {}),
  });
  let limiter: BandwidthLimiter | undefined;
  try {
    limiter = BandwidthLimiter.fromTimetable(f.bwlimit);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const maxDelete = f.maxDelete !== undefined ? int('max-delete', f.maxDelete, 0) : undefined;
  const statsIntervalMs = duration('stats', f.stats);
  const governance = await prepareGovernance({
    configFile: f.config,
    statePath: f.state ?? defaultStatePath(),
    srcUri,
    dstUri,
    json: !!f.json,
    signal,
    s3: { endpoint: f.s3Endpoint, region: f.s3Region, profile: f.s3Profile, allowInsecureHttp: f.s3AllowHttp, caBundle: f.caBundle },
  });

  const reporter = new Reporter({ json: !!f.json, verbose: !!f.verbose, progress: f.progress, statsIntervalMs });
  let srcListErrors = 0;
  const onEvent = (e: SyncEvent): void => {
    reporter.event(e);
    governance.record(e);
  };
  const onListError = (key: string, err: HybridsyncError): void => {
    srcListErrors++;
    onEvent({ type: 'error', key, kind: err.kind, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
  };
  const s3 = {
    endpoint: f.s3Endpoint,
    region: f.s3Region,
    forcePathStyle: f.s3PathStyle,
    profile: f.s3Profile,
    allowInsecureHttp: f.s3AllowHttp,
    caBundle: f.caBundle,
    maxSockets: transfers * multipartConcurrency + checkers + 4,
    ...governance.s3,
  };
  const s3Transfer = {
    multipartThreshold: size('multipart-threshold', f.multipartThreshold),
    partSize: size('part-size', f.partSize),
    multipartConcurrency,
    storageClass: f.storageClass,
    onRetry: (what: string, err: HybridsyncError, attempt: number) => onEvent({ type: 'retry', what, attempt, message: err.message }),
  };
  const src: Backend = openBackend(srcUri, { s3, s3Transfer, onListError });
  const dst: Backend = openBackend(dstUri, { s3, s3Transfer });
  if (f.createBucket && dst instanceof S3Backend && !f.dryRun) await dst.createBucket(signal);
  const state = new StateDb(f.state ?? defaultStatePath());
  const gate = governance.attach({ src, dst, state, emit: onEvent });
  const compare: Compare | undefined = f.checksum ? 'checksum' : f.sizeOnly ? 'size-only' : undefined;
  const stats = new Stats();
  reporter.start(stats);
  return {
    reporter,
    run: {
      mode,
      src,
      dst,
      state,
      ...(compare ? { compare } : {}),
      transfers,
      checkers,
      dryRun: !!f.dryRun,
      ...(maxDelete !== undefined ? { maxDelete } : {}),
      ...(filter.active ? { filter } : {}),
      ...(limiter ? { limiter } : {}),
      retries,
      ignoreExisting: !!f.ignoreExisting,
      download: !!f.download,
      signal: governance.signal,
      onEvent,
      stats,
      srcListErrors: () => srcListErrors,
      ...(gate ? { gate } : {}),
    },
    close: async () => {
      reporter.stop();
      await governance.close();
      state.close();
      await Promise.allSettled([src.close?.(), dst.close?.()]);
    },
  };
}
