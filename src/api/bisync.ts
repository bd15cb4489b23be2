/**
 * Two-way sync as a library call: `bisync(path1, path2, …)` sets up one engine run per
 * direction through the composition root (prepareTransfer: remotes, TLS, governance gate
 * of each destination environment, audit trail, state database) and runs the three-way
 * executor (src/bisync/run.ts) over them. `watchBisync` keeps doing it as either side
 * changes (src/bisync/watch.ts).
 */
import { ConfigError, UsageError } from '../core/errors.js';
import { resolveLocation } from '../backends/registry.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { resolveBisyncOptions, type BisyncOptions } from '../config/bisync.js';
import { compileDatasets } from '../config/datasets.js';
import { compileEnvironments, environmentOf } from '../governance/policy/policy.js';
import { runBisync, type BisyncEvent, type BisyncRunOptions, type BisyncSummary } from '../bisync/run.js';
import { compileMergeRules, ssotSide, type ConflictContext } from '../bisync/plan.js';
import type { SyncEvent } from '../sync/events.js';
import { prepareTransfer, remoteEndpointOf, type PreparedTransfer, type RunContext } from './transfer.js';

export interface BisyncRequest extends Omit<RunContext, 'onEvent' | 'config'> {
  readonly config?: LoadedConfig | string;
  /** Every event: the three-way decisions, conflicts, renames and both engine runs' events. */
  readonly onEvent?: (e: BisyncEvent) => void;
  /** Transfer options (as sync's: transfers, filters, maxDelete, dryRun…), typed or strings. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** conflict, maxConflicts, checkAccess, merge, pollInterval (config/bisync.ts). */
  readonly bisync?: Partial<BisyncOptions> | Readonly<Record<string, unknown>>;
}

export interface PreparedBisync {
  readonly run: BisyncRunOptions;
  readonly options: BisyncOptions;
  readonly to2: PreparedTransfer;
  readonly to1: PreparedTransfer;
  close(): Promise<void>;
}

/**
 * Validates everything and opens both directions; nothing moves. Throws a typed error
 * naming the fix (bad options, locations, a --conflict ssot that cannot be decided).
 */
export async function prepareBisync(path1: string, path2: string, req: BisyncRequest = {}): Promise<PreparedBisync> {
  const env = req.env ?? process.env;
  const loaded = typeof req.config === 'object' ? req.config : loadConfig(req.config, env);
  const opts = resolveBisyncOptions(req.bisync as Record<string, unknown> | undefined);
  const cfg = loaded.config?.bisync;
  const ctx = { remotes: loaded.remotes, ...(req.s3 ? { s3: req.s3 } : {}), env };
  const loc1 = resolveLocation(path1, ctx).location;
  const loc2 = resolveLocation(path2, ctx).location;
  if (loc1.id === loc2.id) throw new UsageError(`path1 and path2 are the same location (${loc1.display})`, { hint: 'name two different locations' });
  const envs = compileEnvironments(loaded.config?.environments, remoteEndpointOf(loaded.remotes, ctx));
  const kinds = { ...kindOf(environmentOf(envs, loc1)?.kind, 1), ...kindOf(environmentOf(envs, loc2)?.kind, 2) };
  // the source of truth: the dataset the sides belong to declares it, else bisync.ssot
  const datasets = compileDatasets(loaded.config?.datasets, remoteEndpointOf(loaded.remotes, ctx));
  const [d1, d2] = [datasets.of(loc1), datasets.of(loc2)];
  if (opts.conflict === 'ssot' && d1?.ssot && d2?.ssot && d1.ssot !== d2.ssot) {
    throw new ConfigError(`path1 is in dataset ${d1.name} (ssot ${d1.ssot}) and path2 in dataset ${d2.name} (ssot ${d2.ssot}): their sources of truth disagree`, {
      hint: 'list both locations under one dataset in datasets:, or give the two datasets the same ssot',
    });
  }
  const declared = d1?.ssot ? { ssot: d1.ssot, by: `datasets.${d1.name}.ssot` } : d2?.ssot ? { ssot: d2.ssot, by: `datasets.${d2.name}.ssot` } : cfg?.ssot ? { ssot: cfg.ssot, by: 'bisync.ssot' } : undefined;
  const conflict: ConflictContext = { policy: opts.conflict, kinds, ...(declared ? { ssot: declared.ssot } : {}) };
  if (opts.conflict === 'ssot' && !ssotSide(conflict)) {
    throw new ConfigError(
      declared
        ? `--conflict ssot: ${declared.by} is ${declared.ssot}, but ${kinds[1] === declared.ssot && kinds[2] === declared.ssot ? 'both sides are' : 'neither side is'} in an environment of kind ${declared.ssot}`
        : '--conflict ssot: hybridsync.yaml declares no source of truth (bisync.ssot: cloud or onprem); nor does a dataset holding these locations (datasets.NAME.ssot)',
      { hint: 'declare the dataset (datasets: NAME: {locations, ssot}) or bisync.ssot, and place each side in environments: with kind onprem or cloud, or pick another --conflict policy' },
    );
  }
  const common = {
    ...req,
    config: loaded,
    mode: 'copy' as const,
    ...(req.onEvent ? { onEvent: req.onEvent as (e: SyncEvent) => void } : {}),
    options: req.options ?? {},
  };
  const to2 = await prepareTransfer({ ...common, src: path1, dst: path2 });
  let to1: PreparedTransfer;
  try {
    to1 = await prepareTransfer({ ...common, src: path2, dst: path1 });
  } catch (err) {
    await to2.close();
    throw err;
  }
  const o = to2.options;
  const merge = compileMergeRules([...opts.merge, ...(cfg?.merge ?? [])]);
  return {
    options: opts,
    to2,
    to1,
    run: {
      to2: to2.run,
      to1: to1.run,
      conflict,
      ...(opts.maxConflicts !== undefined ? { maxConflicts: opts.maxConflicts } : {}),
      maxDelete: o.maxDelete,
      checkAccess: opts.checkAccess,
      mergeFor: merge,
      ...(to2.run.filter ? { filter: to2.run.filter } : {}),
      dryRun: o.dryRun,
      checkers: o.checkers,
      retries: o.retries,
      ...(to2.run.signal ? { signal: to2.run.signal } : {}),
      ...(req.onEvent ? { onEvent: req.onEvent } : {}),
    },
    close: async () => {
      await Promise.allSettled([to2.close(), to1.close()]);
    },
  };
}

function kindOf(kind: string | undefined, side: 1 | 2): Record<number, string> {
  return kind ? { [side]: kind } : {};
}

/** One two-way sync of path1 and path2; resolves with its summary. */
export async function bisync(path1: string, path2: string, req: BisyncRequest = {}): Promise<BisyncSummary> {
  const p = await prepareBisync(path1, path2, req);
  try {
    return await runBisync(p.run);
  } finally {
    await p.close();
  }
}

export type { BisyncEvent, BisyncSummary };
