/**
 * Runs one job once: prepares the engine run (through an injected `prepare`, so this module
 * builds no backends), puts it on its link's lane, records it in the job history, and stops
 * it cleanly at the window's end. Stopping aborts the engine's signal: files in flight are
 * finished or their multipart uploads journaled, and the next run resumes from there.
 */
import { BandwidthLimiter } from '../lib/bandwidth.js';
import { setMaxListeners } from 'node:events';
import { ConfigError, describeError } from '../core/errors.js';
import type { JobConfig } from '../config/operations.js';
import { runSync, type RunOptions } from '../sync/execute.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import { Stats, type StatsSnapshot } from '../sync/stats.js';
import { systemClock, type Clock } from './clock.js';
import { formatInstant } from './format.js';
import type { LinkGovernor } from './governor.js';
import type { JobHistory, JobRunStatus } from './history.js';
import type { LaunchRequest } from './scheduler.js';

export type PreparedJobRun =
  | {
      readonly run: RunOptions;
      /** Runs the job with the run options the runner settled (limiter, stats, signal); default: the one-way engine. */
      readonly execute?: (run: RunOptions) => Promise<RunSummary>;
      /** The live counters when the job keeps its own (bisync: both directions'); default: the run's stats. */
      readonly progress?: (now: number) => StatsSnapshot;
      readonly close: () => Promise<void>;
    }
  | {
      /** A job that moves no bytes over a link (kind: tier): no engine run; it stops on the signal prepare was given. */
      readonly run?: undefined;
      readonly stats: Stats;
      readonly execute: () => Promise<RunSummary>;
      readonly close: () => Promise<void>;
    };

/** A run in progress, as the API and the dashboard see it. */
export interface LiveRun {
  readonly job: string;
  readonly historyId: number;
  readonly trigger: LaunchRequest['trigger'];
  readonly startedAt: number;
  readonly deadline?: number;
  readonly link?: string;
  readonly lane: JobConfig['lane'];
  /** `preparing`: connecting, checking TLS and policy (no counts yet); `transferring`: the engine runs. */
  readonly phase: 'preparing' | 'transferring';
  /** The run's counters now. */
  readonly progress: (now: number) => StatsSnapshot;
}

export interface RunJobDeps {
  readonly history: JobHistory;
  readonly prepare: (job: JobConfig, signal: AbortSignal) => Promise<PreparedJobRun>;
  readonly governor?: LinkGovernor;
  readonly clock?: Clock;
  /** Aborts the run (daemon shutdown): it stops as at a window's end, status `stopped`. */
  readonly signal?: AbortSignal;
  /**
   * The run as the API shows it: called when the run is recorded (phase `preparing`, before
   * any I/O) and again once its engine run is prepared (`transferring`, with the counters that
   * run uses). onEnd follows, in the same tick as the history row is finished.
   */
  readonly onLive?: (live: LiveRun) => void;
  readonly onEvent?: (job: string, e: SyncEvent) => void;
  readonly onEnd?: (live: LiveRun, status: JobRunStatus, summary?: RunSummary) => void;
}

export interface JobRunResult {
  readonly status: JobRunStatus;
  readonly historyId: number;
  readonly summary?: RunSummary;
  readonly error?: unknown;
}

export class WindowClosedError extends Error {
  constructor(at: number, timezone?: string) {
    super(`run window closed at ${formatInstant(at, timezone)}: finishing files in flight, the next run resumes`);
  }
}

export async function runJob(job: JobConfig, req: LaunchRequest, deps: RunJobDeps): Promise<JobRunResult> {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const holder = deps.history.tryLock(job.name);
  if (holder !== undefined) {
    const error = new ConfigError(`job ${job.name} is already running in process ${holder}`, { hint: 'wait for that run to finish, or stop it' });
    return { status: 'busy', historyId: 0, error };
  }
  try {
    return await runLocked(job, req, deps, clock, startedAt);
  } finally {
    deps.history.unlock(job.name);
  }
}

async function runLocked(job: JobConfig, req: LaunchRequest, deps: RunJobDeps, clock: Clock, startedAt: number): Promise<JobRunResult> {
  const historyId = deps.history.start(job.name, req.trigger, startedAt, req.scheduledAt, req.attempt);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let windowClosed = false;
  const onOuter = (): void => stop.abort(deps.signal?.reason);
  deps.signal?.addEventListener('abort', onOuter, { once: true });
  if (deps.signal?.aborted) onOuter();
  const deadlineTimer =
    req.deadline !== undefined
      ? clock.setTimer(() => {
          windowClosed = true;
          stop.abort(new WindowClosedError(req.deadline!, job.timezone));
        }, req.deadline - startedAt)
      : undefined;

  let prepared: PreparedJobRun | undefined;
  let status: JobRunStatus = 'failed';
  let summary: RunSummary | undefined;
  let error: unknown;
  const liveOf = (phase: LiveRun['phase'], progress: LiveRun['progress']): LiveRun => ({
    job: job.name,
    historyId,
    trigger: req.trigger,
    startedAt,
    ...(req.deadline !== undefined ? { deadline: req.deadline } : {}),
    ...(job.link ? { link: job.link } : {}),
    lane: job.lane,
    phase,
    progress,
  });
  const preparing = new Stats();
  let live = liveOf('preparing', (now) => preparing.snapshot(now));
  deps.onLive?.(live);
  try {
    prepared = await deps.prepare(job, stop.signal);
    if (prepared.run === undefined) {
      const stats = prepared.stats;
      live = liveOf('transferring', (now) => stats.snapshot(now));
      deps.onLive?.(live);
      summary = await prepared.execute();
    } else {
      const base = prepared.run;
      const own = base.limiter instanceof BandwidthLimiter ? base.limiter : undefined;
      const limiter = deps.governor ? deps.governor.lane(job.lane, own) : base.limiter;
      // the prepared run's Stats drive its reporter: share them with the API
      const stats = base.stats ?? preparing;
      live = liveOf('transferring', prepared.progress ?? ((now) => stats.snapshot(now)));
      deps.onLive?.(live);
      const run: RunOptions = {
        ...base,
        ...(limiter ? { limiter } : {}),
        stats,
        // the prepared run's signal already follows stop.signal (prepare was given it) and
        // also governance's own stop, when the audit trail cannot be written
        signal: base.signal ?? stop.signal,
        onEvent: (e) => {
          if (e.type === 'run-start') deps.history.linkEngineRun(historyId, e.runId);
          base.onEvent?.(e);
          deps.onEvent?.(job.name, e);
        },
      };
      summary = prepared.execute ? await prepared.execute(run) : await runSync(run);
    }
    // aborted without a stop (the audit trail failed): that is a failure, not a pause
    status = summary.status === 'aborted' ? (windowClosed ? 'window-end' : stop.signal.aborted ? 'stopped' : 'failed') : summary.status;
  } catch (err) {

    error = err;
    status = stop.signal.aborted ? (windowClosed ? 'window-end' : 'stopped') : 'failed';
  } finally {
    deadlineTimer?.cancel();
    deps.signal?.removeEventListener('abort', onOuter);
    await prepared?.close();
  }
  const message = windowClosed
    ? 'stopped at the end of the run window; the next run resumes'
    : error !== undefined
      ? describeError(error)
      : undefined;
  deps.history.finish(historyId, clock.now(), status, summary, message);
  deps.onEnd?.(live, status, summary);
  return { status, historyId, ...(summary ? { summary } : {}), ...(error !== undefined ? { error } : {}) };
}
