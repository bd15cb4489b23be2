/**
 * The composition root: one place that turns "sync SRC to DST with these options" into an
 * engine run — the config and remotes, both locations, the TLS decision per endpoint, the
 * audit trail and classification gate, the backends, filters, bandwidth limiter and state
 * database. The CLI, jobs, the daemon, the demo and library users all come through here;
 * cli/ only parses flags and prints.
 */
import { readFileSync } from 'node:fs';
import type { Backend } from '../core/backend.js';
import { PolicyDeniedError, UsageError, type HybridsyncError } from '../core/errors.js';
import type { Location } from '../core/location.js';
import { resolveLocation, type EndpointSettings, type LocationHandle, type ResolveContext } from '../backends/registry.js';
import type { S3ConnectionOptions } from '../backends/s3/client.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { compareOf, resolveTransferOptions, type Mode, type TransferOptions } from '../config/options.js';
import type { RemoteSet } from '../config/remotes.js';
import type { AuditLog, WrittenBatch } from '../governance/audit/log.js';
import { prepareGovernance } from '../governance/gate.js';
import { normalizeLocationPattern, type RemoteEndpoint } from '../governance/policy/policy.js';
import { BandwidthLimiter } from '../lib/bandwidth.js';
import { editDistance } from '../lib/edit-distance.js';
import { runSync, type RunOptions } from '../sync/execute.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import { createFilter, parsePatternFile, type Filter } from '../sync/filter.js';
import { defaultStatePath, StateDb } from '../sync/state.js';
import { Stats } from '../sync/stats.js';

/** How a run is set up, besides its two locations and its transfer options. */
export interface RunContext {
  /** A loaded config (loadConfig) or the path of one; default: $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml if present. */
  readonly config?: LoadedConfig | string;
  /** The connection of s3:// locations (the --s3-* flags); named remotes carry their own. */
  readonly s3?: S3ConnectionOptions;
  /** Settings for every endpoint from the command line: --ca-bundle, --s3-allow-http. */
  readonly endpoint?: EndpointSettings;
  /** State database path (default ~/.hybridsync/state.db or $HYBRIDSYNC_STATE_DIR). */
  readonly statePath?: string;
  /** Every run event (NDJSON-ready: `type`, …). */
  readonly onEvent?: (e: SyncEvent) => void;
  /** Live counters, e.g. for a progress display. */
  readonly stats?: Stats;
  readonly signal?: AbortSignal;
  /** The caller prints events as NDJSON: denied files are not listed again on stderr. */
  readonly json?: boolean;
  /** Where warnings go (default stderr). */
  readonly err?: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
  /** Where transformed (scrubbed) files are spooled before upload. */
  readonly spoolDir?: string;
  /**
   * Views over the opened backends, e.g. a destination restricted to known keys so a run
   * over a few files does not list a whole bucket (the gateway's write-back). The view keeps
   * the backend's location, so governance decides as for the backend itself.
   */
  readonly view?: { readonly src?: (b: Backend) => Backend; readonly dst?: (b: Backend) => Backend };
  /**
   * Each batch of the run's audit trail as written, every batch then ending with a signed
   * checkpoint: a cluster worker forwards them to the coordinator's trail.
   */
  readonly onAuditBatch?: (batch: WrittenBatch) => void;
}

export interface TransferRequest extends RunContext {
  readonly mode: Mode;
  /** `REMOTE:bucket/prefix`, `s3://bucket/prefix`, `az://container/prefix`, a path or `file:///path`. */
  readonly src: string;
  readonly dst: string;
  /** Transfer options (typed, or strings as on the command line); the rest are defaults. */
  readonly options?: Partial<TransferOptions> | Readonly<Record<string, unknown>>;
}

export interface PreparedTransfer {
  readonly run: RunOptions;
  readonly src: Backend;
  readonly dst: Backend;
  readonly options: TransferOptions;
  /** The run's audit trail writer (undefined when the config disables auditing). */
  readonly audit: AuditLog | undefined;
  /** Releases the state database, audit trail, connections. Always call it. */
  close(): Promise<void>;
}

function loadedOf(c: RunContext): LoadedConfig {
  return typeof c.config === 'object' ? c.config : loadConfig(c.config, c.env ?? process.env);
}

function filterOf(o: TransferOptions): Filter {
  const excludes = [...o.exclude];
  for (const file of o.excludeFrom) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --exclude-from file ${file}: ${(err as Error).message}`, { hint: 'check the path' });
    }
    excludes.push(...parsePatternFile(text));
  }
  return createFilter({
    include: [...o.include],
    exclude: excludes,
    ...(o.minSize !== undefined ? { minSize: o.minSize } : {}),
    ...(o.maxSize !== undefined ? { maxSize: o.maxSize } : {}),
    ...(o.minAge !== undefined ? { minAgeMs: o.minAge } : {}),
    ...(o.maxAge !== undefined ? { maxAgeMs: o.maxAge } : {}),
  });
}

/** Where a remote that an environment names is, for matching locations by endpoint. */
export function remoteEndpointOf(remotes: RemoteSet, ctx: ResolveContext): (name: string) => RemoteEndpoint | undefined {
  return (name) => {
    const r = remotes.get(name);
    if (!r || r.type === 'local') return undefined;
    try {
      const h = resolveLocation(`${name}:probe-endpoint`, { ...ctx, remotes });
      return { type: h.location.type, endpoint: h.location.endpoint };
    } catch {
      return undefined; // an unusable remote fails where it is used, with its own message
    }
  };
}

/**
 * Validates everything and sets the run up; nothing is transferred. Throws a typed error
 * (UsageError, ConfigError, …) naming the fix for bad options, locations, remotes or a
 * refused endpoint.
 */
export async function prepareTransfer(req: TransferRequest): Promise<PreparedTransfer> {
  const env = req.env ?? process.env;
  const options = resolveTransferOptions(req.options as Record<string, unknown> | undefined);
  const filter = filterOf(options);
  let limiter: BandwidthLimiter | undefined;
  try {
    limiter = BandwidthLimiter.fromTimetable(options.bwlimit);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const loaded = loadedOf(req);
  const remotes = loaded.remotes;
  const ctx: ResolveContext = { remotes, ...(req.s3 ? { s3: req.s3 } : {}), env };
  const srcH: LocationHandle = resolveLocation(req.src, ctx);
  const dstH: LocationHandle = resolveLocation(req.dst, ctx);
  const statePath = req.statePath ?? loaded.config?.stateFile ?? defaultStatePath(env);
  const maxSockets = options.transfers * options.multipartConcurrency + options.checkers + 4;
  const openSpec = (spec: string, endpoint?: EndpointSettings): Backend => resolveLocation(spec, ctx).open({ ...(endpoint ? { endpoint } : {}) });

  const governance = await prepareGovernance({
    loaded,
    statePath,
    src: srcH,
    dst: dstH,
    ...(req.endpoint ? { flags: req.endpoint } : {}),
    openSpec: (spec, endpoint) => openSpec(spec, endpoint ?? req.endpoint),
    remoteEndpoint: remoteEndpointOf(remotes, ctx),
    json: !!req.json,
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.err ? { err: req.err } : {}),
    ...(req.onAuditBatch ? { onAuditBatch: req.onAuditBatch } : {}),
    env,
  });

  let srcListErrors = 0;
  const onEvent = (e: SyncEvent): void => {
    req.onEvent?.(e);
    governance.record(e);
  };
  const onListError = (key: string, err: HybridsyncError): void => {
    srcListErrors++;
    onEvent({ type: 'error', key, kind: err.kind, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
  };
  const transfer = {
    retries: options.retries,
    ...(options.storageClass ? { storageClass: options.storageClass } : {}),
    onRetry: (what: string, err: HybridsyncError, attempt: number) => onEvent({ type: 'retry', what, attempt, message: err.message }),
  };
  const open = (h: LocationHandle, list?: typeof onListError): Backend =>
    h.open({ endpoint: governance.endpointSettings(h.location), transfer, maxSockets, ...(list ? { onListError: list } : {}) });
  let src: Backend | undefined;
  let dst: Backend | undefined;
  let state: StateDb | undefined;
  try {
    src = open(srcH, onListError);
    dst = open(dstH);
    if (req.view?.src) src = req.view.src(src);
    if (req.view?.dst) dst = req.view.dst(dst);
    if (options.storageClass && !dst.features.storageClass && req.mode !== 'check') {
      throw new UsageError(`--storage-class ${options.storageClass}: ${dst.uri} keeps no storage classes`, {
        hint: 'storage classes (S3) and access tiers (Azure) apply to object stores; drop the flag for this destination',
      });
    }
    if (options.createBucket && !options.dryRun) await createContainer(dst, req.signal);
    if (req.mode !== 'check') await refuseUnplacedDestination(loaded, governance.dstEnv, dst, req.signal);
    state = new StateDb(statePath);
  } catch (err) {
    await governance.close();
    await Promise.allSettled([src?.close?.(), dst?.close?.()]);
    throw err;
  }
  const gate = governance.attach({ src, dst, state, emit: onEvent });
  const s = src;
  const d = dst;
  const db = state;
  return {
    src,
    dst,
    options,
    audit: governance.audit,
    run: {
      mode: req.mode,
      src,
      dst,
      state,
      compare: compareOf(options, req.mode),
      transfers: options.transfers,
      checkers: options.checkers,
      retries: options.retries,
      createsDstRoot: options.createBucket,
      chunking: { threshold: options.multipartThreshold, chunkSize: options.partSize, concurrency: options.multipartConcurrency },
      bufferMemory: options.maxBufferMemory,
      dryRun: options.dryRun,
      maxDelete: options.maxDelete,
      allowEmptySource: options.allowEmptySource,
      filter, // always: it keeps the reserved .hybridsync/ directory out even without user rules
      ...(limiter ? { limiter } : {}),
      ignoreExisting: options.ignoreExisting,
      download: options.download,
      restore: { mode: options.restore, days: options.restoreDays, priority: options.restorePriority, timeoutMs: options.restoreTimeout },
      signal: governance.signal,
      onEvent,
      stats: req.stats ?? new Stats(),
      srcListErrors: () => srcListErrors,
      ...(gate ? { gate } : {}),
      ...(req.spoolDir ? { spoolDir: req.spoolDir } : {}),
    },
    close: async () => {
      await governance.close();
      db.close();
      await Promise.allSettled([s.close?.(), d.close?.()]);
    },
  };
}

/** Lists one entry: a missing bucket or container fails with MissingRootError. */
async function assertContainer(b: Backend, signal?: AbortSignal): Promise<void> {
  const it = b.list(signal ? { signal } : {})[Symbol.asyncIterator]();
  try {
    await it.next();
  } finally {
    await it.return?.();
  }
}

/** The declared location the user probably meant: the environment pattern nearest to `loc`. */
function nearestDeclared(loaded: LoadedConfig, loc: Location): string | undefined {
  let best: { p: string; d: number } | undefined;
  for (const env of Object.values(loaded.config?.environments ?? {})) {
    for (const raw of env.locations ?? []) {
      let p: string;
      try {
        p = /^[a-z][a-z0-9_-]*:(?!\/\/)/.test(raw) ? raw : normalizeLocationPattern(raw);
      } catch {
        continue;
      }
      const literal = p.replace(/[*?[{].*$/, '');
      const target = /^[a-z][a-z0-9_-]*:(?!\/\/)/.test(literal) ? loc.display : loc.uri;
      const d = editDistance(literal, target.slice(0, literal.length + 1).replace(/\/$/, ''));
      if (d > 0 && d <= Math.max(2, Math.floor(literal.length / 5)) && (!best || d < best.d)) best = { p: raw, d };
    }
  }
  return best?.p;
}

/**
 * Under a policy that denies destinations no environment declares, a run toward such a
 * place could only deny every file: refuse it up front, once, naming the nearest declared
 * location (a typo'd bucket otherwise shows as hundreds of denials) — after checking that
 * the bucket exists, the likelier typo. Stream lanes ask the same of the object store a
 * pull lane follows (`side: 'source'`): what it brings would come from no environment.
 */
export async function refuseUnplacedDestination(loaded: LoadedConfig, env: string | undefined, b: Backend, signal?: AbortSignal, side: 'destination' | 'source' = 'destination'): Promise<void> {
  const policy = loaded.config?.policy;
  if (!policy || env !== undefined || policy.unknownEnvironment !== 'deny') return;
  if (!b.features.createsRoot) await assertContainer(b, signal);
  const loc = b.location;
  const near = nearestDeclared(loaded, loc);
  const consequence = side === 'destination' ? 'every file would be denied, so nothing was sent' : 'what it holds would come from no known environment, so nothing was taken';
  throw new PolicyDeniedError(`${loc.display} is in no declared environment and policy.unknownEnvironment is deny: ${consequence}`, {
    hint: near ? `did you mean ${near}? Otherwise declare the ${side} under environments: (locations or remotes)` : `check the ${side}, or declare it under environments: (locations or remotes)`,
  });
}

/** Creates a missing destination bucket or container, for backends that can. */
async function createContainer(b: Backend, signal?: AbortSignal): Promise<void> {
  const c = b as Backend & { createContainer?: (s?: AbortSignal) => Promise<void> };
  if (typeof c.createContainer === 'function') await c.createContainer(signal);
}

/** Sets up, runs and closes one transfer; resolves with its summary. */
export async function transfer(req: TransferRequest): Promise<RunSummary> {
  const prepared = await prepareTransfer(req);
  try {
    return await runSync(prepared.run);
  } finally {
    await prepared.close();
  }
}

export type TransferCall = RunContext & { readonly options?: TransferRequest['options'] };

/** Makes `dst` match `src`: copies new and changed files, then deletes extraneous ones (only when every transfer succeeded). */
export function sync(src: string, dst: string, o: TransferCall = {}): Promise<RunSummary> {
  return transfer({ ...o, mode: 'sync', src, dst });
}

/** Copies new and changed files; never deletes. */
export function copy(src: string, dst: string, o: TransferCall = {}): Promise<RunSummary> {
  return transfer({ ...o, mode: 'copy', src, dst });
}

/** Compares both sides; the summary's `differences` counts what differs (nothing is changed). */
export function check(src: string, dst: string, o: TransferCall = {}): Promise<RunSummary> {
  return transfer({ ...o, mode: 'check', src, dst });
}

/** Opens a location as a Backend (list, stat, read, write, remove), on the config's remotes. */
export function openLocation(spec: string, o: Pick<RunContext, 'config' | 's3' | 'endpoint' | 'env'> = {}): Backend {
  const loaded = loadedOf(o);
  return resolveLocation(spec, { remotes: loaded.remotes, ...(o.s3 ? { s3: o.s3 } : {}), ...(o.env ? { env: o.env } : {}) }).open({
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
  });
}

/** Where a location spec points, without opening it (no I/O). */
export function describeLocation(spec: string, o: Pick<RunContext, 'config' | 's3' | 'env'> = {}): Location {
  const loaded = loadedOf(o);
  return resolveLocation(spec, { remotes: loaded.remotes, ...(o.s3 ? { s3: o.s3 } : {}), ...(o.env ? { env: o.env } : {}) }).location;
}
