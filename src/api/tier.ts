/**
 * Tiering as a library: applyTiering() turns the `tier:` section of hybridsync.yaml into a
 * run — the selected rules, their locations grouped into as few listings as possible (a
 * rule inside another rule's location shares its listing), the gateway caches whose
 * access times the rules use, the state database, the audit trail — and runs the planner
 * and executor of src/tier/. The CLI (`hybridsync tier apply`), jobs of kind `tier` and
 * library users all come through here.
 */
import type { Backend } from '../core/backend.js';
import { ConfigError, UsageError } from '../core/errors.js';
import type { Location } from '../core/location.js';
import { resolveLocation, type EndpointSettings, type ResolveContext } from '../backends/registry.js';
import type { S3ConnectionOptions } from '../backends/s3/client.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { resolveTransferOptions } from '../config/options.js';
import { canonicalClass, type TierConfig, type TierRuleConfig } from '../config/tier.js';
import { openAuditLog } from '../governance/audit/setup.js';
import { parseDuration, parseSize } from '../lib/units.js';
import { createFilter } from '../sync/filter.js';
import { defaultStatePath, StateDb } from '../sync/state.js';
import { GatewayAccessTimes } from '../tier/access-times.js';
import { runTier, type TierGroup } from '../tier/apply.js';
import { restoreRequestRecord, TierAuditor } from '../tier/audit.js';
import type { UpstreamRestoreOptions } from '../gateway/restore.js';
import { describeError } from '../core/errors.js';
import type { TierEvent, TierSummary } from '../tier/events.js';
import type { PlannedRule } from '../tier/plan.js';

export type { TierEvent, TierSummary };

export interface TierRequest {
  /** A loaded config (loadConfig) or the path of one; default: $HYBRIDSYNC_CONFIG, else ./hybridsync.yaml. */
  readonly config?: LoadedConfig | string;
  /** Apply only these rules (by name); default all. */
  readonly rules?: readonly string[];
  /** Report what would move; change nothing (the plan is audited as planned). */
  readonly dryRun?: boolean;
  /** Objects decided and moved at once (default 16). */
  readonly concurrency?: number;
  /** Attempts of each request for retryable errors (default 3). */
  readonly retries?: number;
  readonly statePath?: string;
  /** The connection of s3:// locations (the --s3-* flags); named remotes carry their own. */
  readonly s3?: S3ConnectionOptions;
  readonly endpoint?: EndpointSettings;
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: TierEvent) => void;
  /** The time ages are measured at (default now; tests). */
  readonly now?: number;
  /** Where warnings go (default stderr). */
  readonly err?: NodeJS.WritableStream;
}

function loadedOf(req: TierRequest): LoadedConfig {
  return typeof req.config === 'object' ? req.config : loadConfig(req.config, req.env ?? process.env);
}

/** The tier section, or a ConfigError saying where it is missing. */
function tierSection(loaded: LoadedConfig): TierConfig {
  const t = loaded.config?.tier;
  if (!t) {
    throw new ConfigError(loaded.file ? `${loaded.file} has no tier: section` : 'no hybridsync.yaml with a tier: section', {
      hint: 'declare tier.rules (see docs/tiering.md), and pass --config FILE if it is elsewhere',
    });
  }
  return t;
}

const list = (g: string | readonly string[] | undefined): string[] => (g === undefined ? [] : typeof g === 'string' ? [g] : [...g]);

/** A rule with its location resolved: what grouping and planning need. */
interface Placed {
  readonly rule: TierRuleConfig;
  readonly location: Location;
}

/** The spec that opens `path` in the bucket or container of `loc` (its remote, else its URL scheme). */
function specAt(loc: Location, path: string): string {
  const scheme = loc.uri.slice(0, loc.uri.indexOf('://'));
  return loc.remote ? `${loc.remote}:${loc.container}/${path}` : `${scheme}://${loc.container}/${path}`;
}

/**
 * Rules on one bucket or container (same endpoint and credentials) share a listing when
 * one's location lies inside another's: the outer location is listed once and every rule
 * inside it judged on the same entries. Rules side by side get listings of their own.
 */
export function groupRules(placed: readonly Placed[]): Array<{ root: Location; rules: Placed[] }> {
  const groups: Array<{ root: Location; rules: Placed[] }> = [];
  const sameStore = (a: Location, b: Location): boolean => a.type === b.type && a.endpoint === b.endpoint && a.account === b.account && a.container === b.container;
  for (const p of [...placed].sort((a, b) => a.location.path.length - b.location.path.length)) {
    const g = groups.find((x) => sameStore(x.root, p.location) && p.location.path.startsWith(x.root.path));
    if (g) g.rules.push(p);
    else groups.push({ root: p.location, rules: [p] });
  }
  return groups;
}

function plannedRule(p: Placed, root: Location): PlannedRule {
  const r = p.rule;
  const minSize = r.minSize === undefined ? undefined : typeof r.minSize === 'number' ? r.minSize : parseSize(r.minSize);
  return {
    name: r.name,
    prefix: p.location.path.slice(root.path.length),
    filter: createFilter({ include: list(r.include), exclude: list(r.exclude), ...(minSize !== undefined ? { minSize } : {}) }),
    ...(r.olderThan ? { olderThanMs: parseDuration(r.olderThan) } : {}),
    ...(r.notAccessedFor ? { notAccessedForMs: parseDuration(r.notAccessedFor) } : {}),
    storageClass: canonicalClass(p.location.type, r.storageClass) ?? r.storageClass,
  };
}

/** Applies the tier rules (or shows what they would do, with dryRun); resolves with the summary. */
export async function applyTiering(req: TierRequest = {}): Promise<TierSummary> {
  const env = req.env ?? process.env;
  const loaded = loadedOf(req);
  const tier = tierSection(loaded);
  const chosen = req.rules?.length ? tier.rules.filter((r) => req.rules!.includes(r.name)) : tier.rules;
  const unknown = (req.rules ?? []).filter((n) => !tier.rules.some((r) => r.name === n));
  if (unknown.length > 0) throw new UsageError(`no tier rule named ${unknown.map((n) => `"${n}"`).join(', ')}`, { hint: `rules: ${tier.rules.map((r) => r.name).join(', ')}` });
  const ctx: ResolveContext = { remotes: loaded.remotes, ...(req.s3 ? { s3: req.s3 } : {}), env };
  const placed: Placed[] = chosen.map((rule) => ({ rule, location: resolveLocation(rule.location, ctx).location }));
  const statePath = req.statePath ?? loaded.config?.stateFile ?? defaultStatePath(env);
  const concurrency = Math.max(1, req.concurrency ?? 16);
  const retries = req.retries ?? 3;

  const opened: Backend[] = [];
  const gateways: GatewayAccessTimes[] = [];
  let state: StateDb | undefined;
  const audit = openAuditLog({
    cfg: loaded.config?.audit,
    statePath,
    openMirror: (spec) => resolveLocation(spec, ctx).open(req.endpoint ? { endpoint: req.endpoint } : {}),
    onWarning: (m) => (req.err ?? process.stderr).write(`hybridsync: WARNING: ${m}\n`),
  });
  try {
    // access times only where a chosen rule asks for them
    if (chosen.some((r) => r.notAccessedFor !== undefined)) {
      for (const g of tier.gateways ?? []) gateways.push(new GatewayAccessTimes(g.cache, resolveLocation(g.upstream, ctx).location.id));
    }
    const accessedMs = (id: string): number | undefined => {
      for (const g of gateways) {
        const t = g.accessedMs(id);
        if (t !== undefined) return t;
      }
      return undefined;
    };
    const groups: TierGroup[] = groupRules(placed).map((g) => {
      const backend = resolveLocation(specAt(g.root, g.root.path), ctx).open({
        ...(req.endpoint ? { endpoint: req.endpoint } : {}),
        transfer: { retries },
        maxSockets: concurrency + 4,
      });
      opened.push(backend);
      return { backend, rules: g.rules.map((p) => plannedRule(p, g.root)), ...(gateways.length ? { accessedMs } : {}) };
    });
    state = new StateDb(statePath);
    const ids = new Map(groups.map((g) => [g.backend.uri, g.backend.location.id]));
    const auditor = audit ? new TierAuditor(audit.log, ids, loaded.file ? { file: loaded.file, ...(loaded.sha256 ? { sha256: loaded.sha256 } : {}) } : undefined) : undefined;
    const emit = (e: TierEvent): void => {
      auditor?.record(e);
      req.onEvent?.(e);
    };
    emit({ type: 'tier-start', dryRun: !!req.dryRun, rules: chosen.map((r) => r.name), locations: groups.map((g) => g.backend.uri) });
    return await runTier({
      groups,
      state,
      dryRun: !!req.dryRun,
      concurrency,
      retries,
      ...(req.signal ? { signal: req.signal } : {}),
      onEvent: emit,
      ...(req.now !== undefined ? { now: req.now } : {}),
    });
  } finally {
    state?.close();
    for (const g of gateways) g.close();
    await Promise.allSettled(opened.map((b) => b.close?.()));
    await audit?.log.close();
  }
}

/**
 * How a gateway restores archived upstream objects on a read miss: days and priority from
 * its transfer options (restoreDays, restorePriority), each request written to the audit
 * trail of its state (as its write-back runs are).
 */
export function gatewayRestoreOptions(o: {
  readonly transferOptions?: Readonly<Record<string, unknown>>;
  readonly loaded: LoadedConfig;
  readonly statePath: string;
  /** The upstream's canonical id (Location.id): the records name objects under it. */
  readonly upstreamId: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}): UpstreamRestoreOptions {
  const t = resolveTransferOptions(o.transferOptions as Record<string, unknown> | undefined);
  const ctx: ResolveContext = { remotes: o.loaded.remotes, ...(o.env ? { env: o.env } : {}) };
  return {
    settings: { mode: 'request', days: t.restoreDays, priority: t.restorePriority, timeoutMs: t.restoreTimeout },
    onRequested: (r) => {
      o.log(`restore requested: ${r.key} (${r.storageClass})`);
      try {
        const opened = openAuditLog({ cfg: o.loaded.config?.audit, statePath: o.statePath, openMirror: (spec) => resolveLocation(spec, ctx).open(), flushIntervalMs: 0 });
        if (!opened) return;
        opened.log.append(restoreRequestRecord(o.upstreamId, r, 'gateway'));
        opened.log.close().catch((e: unknown) => o.log(`ERROR the audit trail could not be written: ${describeError(e)}`));
      } catch (e) {
        o.log(`ERROR the audit trail could not be written: ${describeError(e)}`);
      }
    },
  };
}
