/**
 * The datasets of the config (datasets:) with their copies and how fresh each one is: the
 * mirrors the daemon's sync, copy, stream and bisync jobs make (the last run that completed)
 * and the caches of caching gateways (the last refresh from the cloud, the writes not in it
 * yet). `gateway status` and the daemon's dashboard show it.
 */
import { existsSync } from 'node:fs';
import { resolveLocation } from '../backends/registry.js';
import { compileDatasets, type Dataset } from '../config/datasets.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { GatewayRef, JobConfig } from '../config/operations.js';
import type { Location } from '../core/location.js';
import { compileEnvironments, environmentOf } from '../governance/policy/policy.js';
import { JobHistory, type JobRun } from '../ops/history.js';
import { defaultStatePath } from '../sync/state.js';
import { gatewayFeed, type GatewayReading, type GatewayStatus } from './gateway.js';
import { remoteEndpointOf } from './transfer.js';

export interface DerivedCopy {
  /** What keeps it: a gateway, or a job of that kind. */
  readonly kind: 'gateway' | JobConfig['kind'];
  /** The gateway's or the job's name. */
  readonly name: string;
  /** Where the copy is (a job's destination — for bisync the side that is not the source of truth — or a gateway's cache). */
  readonly location: string;
  /** Where it is made from. */
  readonly from: string;
  /** When it was last brought up to date: the end of the job's last completed run, the gateway's last refresh from the cloud. */
  readonly lastSyncAt: string | null;
  /** The job's last run status, or for a gateway `ok` / `unreachable`. */
  readonly lastStatus: string | null;
  /** A gateway's writes not in the cloud yet (pending, denied, held); null for a job. */
  readonly notInCloud: number | null;
  readonly lastUploadAt: string | null;
}

export interface DatasetView {
  readonly name: string;
  readonly ssot: string | null;
  readonly copies: DerivedCopy[];
}

/** Job runs that leave the copy complete. */
const SYNCED = new Set(['ok', 'known-denials']);

export interface DatasetSources {
  readonly loaded: LoadedConfig;
  readonly jobs?: readonly JobConfig[];
  /** The job's latest runs, newest first. */
  readonly runsOf?: (job: string) => readonly JobRun[];
  readonly gateways?: ReadonlyArray<{ readonly name: string; readonly status?: GatewayStatus; readonly error?: string }>;
  readonly env?: NodeJS.ProcessEnv;
}

export function datasetViews(s: DatasetSources): DatasetView[] {
  const env = s.env ?? process.env;
  const ctx = { remotes: s.loaded.remotes, env };
  const endpoints = remoteEndpointOf(s.loaded.remotes, ctx);
  const datasets = compileDatasets(s.loaded.config?.datasets, endpoints);
  const envs = compileEnvironments(s.loaded.config?.environments, endpoints);
  const views = new Map<string, { d: Dataset; copies: DerivedCopy[] }>(datasets.all.map((d) => [d.name, { d, copies: [] }]));
  const locate = (spec: string): Location | undefined => {
    try {
      return resolveLocation(spec, ctx).location;
    } catch {
      return undefined;
    }
  };
  for (const job of s.jobs ?? []) {
    // a job with no source and destination (tier: moves objects in place) makes no copy
    if (job.source === undefined || job.destination === undefined) continue;
    const src = locate(job.source);
    const dst = locate(job.destination);
    if (!src || !dst) continue;
    const d = datasets.of(dst) ?? datasets.of(src);
    if (!d) continue;
    // bisync copies both ways: the copy is the side that is not the source of truth
    const dstIsTruth = job.kind === 'bisync' && d.ssot !== undefined && environmentOf(envs, dst)?.kind === d.ssot;
    const [copy, from] = dstIsTruth ? [job.source, job.destination] : [job.destination, job.source];
    const runs = (s.runsOf?.(job.name) ?? []).filter((r) => r.status !== 'running');
    const synced = runs.find((r) => SYNCED.has(r.status) && r.endedAt !== null);
    views.get(d.name)!.copies.push({
      kind: job.kind,
      name: job.name,
      location: copy,
      from,
      lastSyncAt: synced ? new Date(synced.endedAt!).toISOString() : null,
      lastStatus: runs[0]?.status ?? null,
      notInCloud: null,
      lastUploadAt: null,
    });
  }
  for (const g of s.gateways ?? []) {
    const st = g.status;
    const upstream = st ? locate(st.upstream) : undefined;
    if (!st || !upstream) continue;
    // by this config's datasets: the gateway may run with another config, or none
    for (const ds of datasets.overlapping(upstream)) {
      views.get(ds.name)!.copies.push({
        kind: 'gateway',
        name: g.name,
        location: st.cache.dir,
        from: st.upstream,
        lastSyncAt: st.derivedCopy.lastRefreshAt,
        lastStatus: 'ok',
        notInCloud: st.derivedCopy.notInCloud,
        lastUploadAt: st.derivedCopy.lastUploadAt,
      });
    }
  }
  return [...views.values()].map(({ d, copies }) => ({ name: d.name, ssot: d.ssot ?? null, copies }));
}

/**
 * What the daemon's /api/gateway serves: the gateways the config names (gateways:), each
 * polled through its admin API, and every dataset with its copies.
 */
export function gatewaysAndCopies(o: { file: string; gateways: readonly GatewayRef[]; jobs: readonly JobConfig[]; runsOf: (job: string) => readonly JobRun[]; env?: NodeJS.ProcessEnv }): () => Promise<{ gateways: GatewayReading[]; datasets: DatasetView[] }> {
  const env = o.env ?? process.env;
  const loaded = loadConfig(o.file, env);
  const feed = gatewayFeed(o.gateways, env);
  return async () => {
    const gateways = await feed.read();
    return { gateways, datasets: datasetViews({ loaded, jobs: o.jobs, runsOf: o.runsOf, gateways, env }) };
  };
}

/**
 * For `gateway status`: the datasets the gateway serves some of, with all their copies — the
 * jobs' mirrors from this config (their runs from the daemon's job history in the state
 * database, when there is one) and this gateway's cache. Empty without a config.
 */
export function copiesOfGateway(status: GatewayStatus, o: { config?: string; statePath?: string; env?: NodeJS.ProcessEnv } = {}): DatasetView[] {
  const env = o.env ?? process.env;
  const loaded = loadConfig(o.config, env);
  if (!loaded.config?.datasets) return [];
  const statePath = o.statePath ?? loaded.config.stateFile ?? defaultStatePath(env);
  const history = existsSync(statePath) ? new JobHistory(statePath) : undefined;
  try {
    const views = datasetViews({ loaded, jobs: loaded.config.jobs ?? [], ...(history ? { runsOf: (j: string) => history.list(j, 20) } : {}), gateways: [{ name: 'this gateway', status }], env });
    return views.filter((v) => v.copies.some((c) => c.kind === 'gateway'));
  } finally {
    history?.close();
  }
}
