/**
 * Jobs and links as declared in hybridsync.yaml: loading, cross-checks the schema cannot
 * express (a job's link exists, names are unique), and the translations to what the other
 * modules take (the library's transfer request, schedule specs, planner workloads).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TransferRequest } from '../api/transfer.js';
import { ConfigError } from '../core/errors.js';
import { loadConfig, loadConfigFile, DEFAULT_CONFIG_FILE, type LoadedConfig } from '../config/load.js';
import { RemoteSet } from '../config/remotes.js';
import type { JobConfig, LinkConfig } from '../config/operations.js';
import type { HybridsyncConfig } from '../config/schema.js';
import { parseDuration, parseSizeWithUnit } from '../lib/units.js';
import { defaultStatePath } from '../sync/state.js';
import { JobHistory } from './history.js';
import { parseBitRate, type Workload } from './planner.js';
import { formatDays, formatInstant, localTimeZone } from './format.js';
import { nextStart, parseWindow, windowState } from './schedule.js';
import type { SchedulableJob } from './scheduler.js';

export interface Operations {
  readonly file: string;
  readonly config: HybridsyncConfig;
  readonly jobs: readonly JobConfig[];
  readonly links: readonly LinkConfig[];
  readonly statePath: string;
}

export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.HYBRIDSYNC_CONFIG ?? DEFAULT_CONFIG_FILE;
}

export function loadOperations(flag?: string, stateFlag?: string): Operations {
  const file = configPath(flag);
  if (!flag && !existsSync(file)) {
    throw new ConfigError(`no ${file} in the current directory`, { hint: 'pass --config FILE or set HYBRIDSYNC_CONFIG' });
  }
  return resolveOperations(loadConfigFile(file), file, stateFlag);
}

export function resolveOperations(config: HybridsyncConfig, file: string, stateFlag?: string): Operations {
  const links = config.links ?? [];
  const jobs = config.jobs ?? [];
  const dup = (names: string[]): string | undefined => names.find((n, i) => names.indexOf(n) !== i);
  const dupLink = dup(links.map((l) => l.name));
  if (dupLink) throw new ConfigError(`${file}: links: the name "${dupLink}" is used twice`);
  const dupJob = dup(jobs.map((j) => j.name));
  if (dupJob) throw new ConfigError(`${file}: jobs: the name "${dupJob}" is used twice`);
  for (const j of jobs) {
    if (j.link && !links.some((l) => l.name === j.link)) {
      throw new ConfigError(`${file}: jobs.${j.name}.link: no link named "${j.link}"`, {
        hint: `declare it under links: or use one of: ${links.map((l) => l.name).join(', ') || '(none declared)'}`,
      });
    }
    if (j.kind === 'tier') {
      if (j.source || j.destination) throw new ConfigError(`${file}: jobs.${j.name}: a tier job applies the tier: rules, in place`, { hint: 'remove source and destination from it (the rules name their locations)' });
      const names = new Set((config.tier?.rules ?? []).map((r) => r.name));
      if (!config.tier) throw new ConfigError(`${file}: jobs.${j.name}: a tier job needs a tier: section with rules`, { hint: 'see docs/tiering.md' });
      const unknown = (j.tier?.rules ?? []).filter((n) => !names.has(n));
      if (unknown.length) throw new ConfigError(`${file}: jobs.${j.name}.tier.rules: no tier rule named ${unknown.map((n) => `"${n}"`).join(', ')}`, { hint: `rules: ${[...names].join(', ')}` });
    } else if (!j.source || !j.destination) {
      throw new ConfigError(`${file}: jobs.${j.name}: a ${j.kind} job needs source and destination`);
    } else if (j.tier) {
      throw new ConfigError(`${file}: jobs.${j.name}: tier applies to kind: tier only`);
    }
    if (j.kind === 'stream') {
      if (!j.direction) throw new ConfigError(`${file}: jobs.${j.name}: a stream job needs direction: push or pull`);
      if (j.schedule || j.window) throw new ConfigError(`${file}: jobs.${j.name}: a stream job runs continuously`, { hint: 'remove schedule and window from it' });
    } else if (j.direction || j.stream) {
      throw new ConfigError(`${file}: jobs.${j.name}: direction and stream apply to kind: stream only`);
    }
    if (j.timezone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: j.timezone });
      } catch {
        throw new ConfigError(`${file}: jobs.${j.name}.timezone: unknown time zone "${j.timezone}"`, { hint: 'use an IANA name such as Europe/Berlin' });
      }
    }
  }
  return { file, config, jobs, links, statePath: stateFlag ?? config.stateFile ?? defaultStatePath() };
}

export function findJob(ops: Operations, name: string): JobConfig {
  const job = ops.jobs.find((j) => j.name === name);
  if (!job) {
    throw new ConfigError(`no job named "${name}" in ${ops.file}`, { hint: `jobs: ${ops.jobs.map((j) => j.name).join(', ') || '(none)'}` });
  }
  return job;
}

/** Link capacity in bytes per second. */
export function linkBytesPerSecond(link: LinkConfig): number {
  return parseBitRate(link.capacity) / 8;
}

export function schedulable(job: JobConfig): SchedulableJob {
  return {
    name: job.name,
    ...(job.schedule ? { schedule: job.schedule } : {}),
    ...(job.window ? { window: job.window } : {}),
    ...(job.timezone ? { timezone: job.timezone } : {}),
    catchUp: job.catchUp,
    retry: { attempts: job.retry.attempts, backoffMs: parseDuration(job.retry.backoff) },
  };
}

/** The zone a job's schedule, window and times are in: its `timezone`, else the local one. */
export function jobTimeZone(job: Pick<JobConfig, 'timezone'>): string {
  return job.timezone ?? localTimeZone();
}

/**
 * Whether a job may start at `now` under its run window (`job run --respect-window`): open
 * (or no window) with the end of the open window, or closed with when it opens and why.
 */
export type WindowCheck =
  | { readonly open: true; readonly closesAt?: number }
  | {
      readonly open: false;
      readonly window: string;
      readonly timezone: string;
      readonly opensAt: number;
      readonly closesAt: number;
      /** For people: "outside its window 22:00-06:00 Europe/Berlin; the window opens at …". */
      readonly message: string;
    };

export function checkWindow(job: JobConfig, now: number): WindowCheck {
  if (!job.window) return { open: true };
  const ws = windowState(parseWindow(job.window), now, job.timezone);
  if (ws.open) return { open: true, ...(Number.isFinite(ws.closesAt) ? { closesAt: ws.closesAt } : {}) };
  const timezone = jobTimeZone(job);
  return {
    open: false,
    window: job.window,
    timezone,
    opensAt: ws.opensAt,
    closesAt: ws.closesAt,
    message: `outside its window ${job.window} ${timezone}; the window opens at ${formatInstant(ws.opensAt, timezone)} (in ${formatDays(ws.opensAt - now)})`,
  };
}

/** Length of a window in ms ("22:00-06:00" is 8 h). */
export function windowLengthMs(spec: string): number {
  const w = parseWindow(spec);
  const min = (((w.end - w.start) % 1440) + 1440) % 1440 || 1440;
  return min * 60_000;
}

/**
 * Planner workloads for the scheduled jobs: the cadence from the schedule, the window
 * from the job. The volume: the job's declared `volume` when it has one (a test run of a
 * few files says nothing about the nightly 40 TB); otherwise the largest of the last 10
 * completed runs, once there are at least HISTORY_MIN_RUNS of them; otherwise none.
 */
export const HISTORY_MIN_RUNS = 3;

export function jobWorkloads(ops: Operations, history: JobHistory | undefined, now = Date.now()): Workload[] {
  const out: Workload[] = [];
  for (const j of ops.jobs) {
    const spec = schedulable(j);
    const first = nextStart(spec, now);
    const second = first ? nextStart(spec, first.at) : undefined;
    if (!first || !second) continue;
    const everyMs = second.at - first.at;
    const measured = j.volume ? [] : (history?.volumes(j.name, 10) ?? []);
    const fromHistory = measured.length >= HISTORY_MIN_RUNS;
    const volumeBytes = j.volume ? parseSizeWithUnit(j.volume) : fromHistory ? Math.max(...measured) : undefined;
    if (volumeBytes === undefined) continue;
    out.push({
      name: j.name,
      volumeBytes,
      everyMs,
      windowMs: Math.min(everyMs, j.window ? windowLengthMs(j.window) : everyMs),
      ...(j.seed ? { seedBytes: parseSizeWithUnit(j.seed) } : {}),
      source: fromHistory ? 'history' : 'config',
    });
  }
  return out;
}

/** `plan bandwidth` without --volume: the configured jobs, measured where history exists. */
export async function workloadsFromJobs(configFlag?: string, stateFlag?: string): Promise<Workload[]> {
  const ops = loadOperations(configFlag, stateFlag);
  const history = existsSync(ops.statePath) ? new JobHistory(ops.statePath) : undefined;
  try {
    const w = jobWorkloads(ops, history);
    if (w.length === 0) {
      throw new ConfigError(`no scheduled job in ${ops.file} has a run history or a volume to plan for`, {
        hint: 'set volume: on the jobs, or pass --volume --every --window',
      });
    }
    return w;
  } finally {
    history?.close();
  }
}

/** The fields every view of a job shows (CLI `job list`, the API, the dashboard). */
export function jobBasics(j: JobConfig) {
  return {
    name: j.name,
    kind: j.kind,
    // a tier job moves objects in place, at the locations its rules name
    source: j.kind === 'tier' ? `tier rules: ${j.tier?.rules?.join(', ') ?? 'all'}` : j.source!,
    destination: j.kind === 'tier' ? '(in place)' : j.destination!,
    schedule: j.schedule ?? null,
    window: j.window ?? null,
    timezone: jobTimeZone(j),
    link: j.link ?? null,
    lane: j.lane,
  };
}

/**
 * The config a job's runs see: this file's remotes and governance, or — when the job names
 * a governance config of its own — that file's governance with this file's remotes too.
 */
export function jobConfig(ops: Operations, job: JobConfig, env: NodeJS.ProcessEnv = process.env): LoadedConfig | undefined {
  if (!job.governance) return existsSync(ops.file) ? loadConfig(ops.file, env) : undefined;
  const own = loadConfig(resolve(dirname(ops.file), job.governance.config), env);
  return { ...own, remotes: RemoteSet.load({ ...(ops.config.remotes ?? {}), ...(own.config?.remotes ?? {}) }, env) };
}

/** A stream job as a library stream request (api/stream.ts): its direction, locations and options. */
export function jobStreamRequest(ops: Operations, job: JobConfig, env: NodeJS.ProcessEnv = process.env): Omit<TransferRequest, 'mode' | 'options'> & { options: Record<string, unknown>; direction: 'push' | 'pull' } {
  const { mode: _mode, options: _options, ...common } = jobRequest(ops, { ...job, kind: 'copy' }, env);
  return { ...common, direction: job.direction ?? 'push', options: { lane: job.name, ...(job.stream ?? {}) } };
}

/** A job as a library transfer request: typed options, no command line in between. */
export function jobRequest(ops: Operations, job: JobConfig, env: NodeJS.ProcessEnv = process.env): TransferRequest {
  if (job.kind === 'bisync') throw new ConfigError(`job ${job.name} is a bisync job, not a one-way transfer`, { hint: 'run it with hybridsync job run or the daemon' });
  if (job.kind === 'stream') throw new ConfigError(`job ${job.name} is a stream job`, { hint: 'the daemon runs it continuously; or run hybridsync stream push/pull' });
  if (job.kind === 'tier') throw new ConfigError(`job ${job.name} is a tier job, not a transfer`, { hint: 'run it with hybridsync job run or the daemon' });
  return { mode: job.kind, src: job.source!, dst: job.destination!, ...jobContext(ops, job, env) };
}

/** What every run of a job is set up with besides its locations: options, config, state, connection. */
export function jobContext(ops: Operations, job: JobConfig, env: NodeJS.ProcessEnv = process.env): Pick<TransferRequest, 'options' | 'config' | 'statePath' | 's3' | 'endpoint' | 'env'> {
  const s3 = job.s3 ?? {};
  const config = jobConfig(ops, job, env);
  return {
    options: { ...(job.filters ?? {}), ...(job.transfer ?? {}) },
    ...(config ? { config } : {}),
    statePath: ops.statePath,
    s3: {
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.region ? { region: s3.region } : {}),
      ...(s3.pathStyle !== undefined ? { forcePathStyle: s3.pathStyle } : {}),
      ...(s3.profile ? { profile: s3.profile } : {}),
      ...(s3.allowHttp ? { allowInsecureHttp: true } : {}),
      ...(s3.caBundle ? { caBundle: s3.caBundle } : {}),
    },
    endpoint: { ...(s3.caBundle ? { caBundle: s3.caBundle } : {}), ...(s3.allowHttp ? { allowInsecureHttp: true } : {}) },
    env,
  };
}
