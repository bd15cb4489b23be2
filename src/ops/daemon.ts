/**
 * The daemon's core, without HTTP or signals: one governor per link, the scheduler, the
 * link monitor, the job history and the runs in progress. `stop()` is the graceful
 * shutdown: no new runs, running ones stop cleanly (files in flight finished or journaled)
 * and are awaited.
 */
import { setMaxListeners } from 'node:events';
import type { JobConfig } from '../config/operations.js';
import { sleep } from '../lib/abort.js';
import type { Pacer } from '../lib/bandwidth.js';
import { parseDuration } from '../lib/units.js';
import type { RunSummary, SyncEvent } from '../sync/events.js';
import type { StatsSnapshot } from '../sync/stats.js';
import { systemClock, type Clock } from './clock.js';
import { LinkGovernor } from './governor.js';
import { JobHistory, type JobRun, type JobRunStatus } from './history.js';
import { jobBasics, jobWorkloads, linkBytesPerSecond, schedulable, type Operations } from './jobs.js';
import { LinkMonitor, type LinkStatus, type LinkWarning } from './link-monitor.js';
import { planBandwidth, type BandwidthPlan } from './planner.js';
import { runJob, type LiveRun, type PreparedJobRun } from './runner.js';
import { JobAlreadyRunningError, Scheduler } from './scheduler.js';

export interface DaemonOptions {
  readonly ops: Operations;
  readonly prepare: (job: JobConfig, signal: AbortSignal) => Promise<PreparedJobRun>;
  readonly clock?: Clock;
  readonly log?: (message: string) => void;
  readonly monitorSampleMs?: number;
  /** Hooks for metrics. */
  readonly onEvent?: (job: string, link: string | undefined, e: SyncEvent) => void;
  readonly onRunEnd?: (live: LiveRun, status: JobRunStatus, summary?: RunSummary) => void;
  readonly onLinkWarning?: (w: LinkWarning) => void;
  /**
   * Runs a `kind: stream` job until `signal` aborts (api/stream.ts, injected so this module
   * builds no backends); `pacer` is its link lane. The daemon restarts it after a failure,
   * with the job's retry backoff (doubling, capped at 10 minutes).
   */
  readonly runStream?: (job: JobConfig, signal: AbortSignal, pacer: Pacer | undefined) => Promise<void>;
}

export interface JobView {
  readonly name: string;
  readonly kind: JobConfig['kind'];
  readonly source: string;
  readonly destination: string;
  readonly schedule: string | null;
  readonly window: string | null;
  /** The zone of schedule, window and the times shown for the job (IANA name). */
  readonly timezone: string;
  readonly link: string | null;
  readonly lane: JobConfig['lane'];
  /** Whether `run` is set: the job row and the runs in progress come from the same record. */
  readonly running: boolean;
  /** The run in progress, as liveRuns() shows it; null when the job is not running. */
  readonly run: LiveRunView | null;
  readonly nextRun: number | null;
  readonly lastRun: JobRun | null;
}

export interface LiveRunView {
  readonly job: string;
  readonly historyId: number;
  readonly trigger: string;
  readonly startedAt: number;
  readonly deadline: number | null;
  readonly link: string | null;
  readonly lane: string;
  readonly phase: LiveRun['phase'];
  readonly progress: StatsSnapshot;
}

export class Daemon {
  readonly history: JobHistory;
  readonly governors: Map<string, LinkGovernor>;
  readonly monitor: LinkMonitor;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly stopping = new AbortController();
  private readonly live = new Map<string, LiveRun>();
  /** Stream jobs, each a loop that keeps its lane running. */
  private readonly streams = new Map<string, Promise<void>>();
  /** Stream jobs whose lane is running now (not waiting to restart after a failure). */
  private readonly streaming = new Set<string>();
  private readonly log: (m: string) => void;
  private started = false;

  constructor(private readonly o: DaemonOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? (() => undefined);
    setMaxListeners(0, this.stopping.signal);
    this.history = new JobHistory(o.ops.statePath);
    this.governors = new Map(
      o.ops.links.map((l) => [l.name, new LinkGovernor({ name: l.name, bytesPerSecond: () => linkBytesPerSecond(l), clock: this.clock, ...(l.lanes ? { weights: l.lanes } : {}) })]),
    );
    this.monitor = new LinkMonitor({
      clock: this.clock,
      ...(o.monitorSampleMs ? { sampleMs: o.monitorSampleMs } : {}),
      links: o.ops.links.map((l) => ({
        name: l.name,
        kind: l.kind,
        capacity: () => linkBytesPerSecond(l),
        bytes: () => this.governors.get(l.name)!.bytesGranted,
        warnAbove: l.warnAbove,
        warnAfterMs: parseDuration(l.warnAfter),
      })),
      onWarning: (w) => {
        this.log(`WARNING ${w.message}`);
        o.onLinkWarning?.(w);
      },
      onClear: (link) => this.log(`link ${link} is back under its utilization threshold`),
    });
    this.scheduler = new Scheduler({
      jobs: o.ops.jobs.filter((j) => j.kind !== 'stream').map(schedulable),
      clock: this.clock,
      log: (m) => this.log(m),
      lastScheduled: (job) => this.history.lastScheduled(job),
      launch: async (name, req) => {
        const job = o.ops.jobs.find((j) => j.name === name)!;
        this.log(`${name}: starting (${req.trigger}${req.attempt > 1 ? `, attempt ${req.attempt}` : ''})`);
        const governor = job.link ? this.governors.get(job.link) : undefined;
        const r = await runJob(job, req, {
          history: this.history,
          prepare: o.prepare,
          clock: this.clock,
          signal: this.stopping.signal,
          ...(governor ? { governor } : {}),
          onLive: (live) => this.live.set(name, live),
          onEvent: (j, e) => o.onEvent?.(j, job.link, e),
          onEnd: (live, status, summary) => {
            this.live.delete(name);
            o.onRunEnd?.(live, status, summary);
          },
        });
        this.log(`${name}: ${r.status}${r.summary ? `, ${r.summary.transferred} files, ${r.summary.bytes} bytes` : ''}`);
        return r.status;
      },
    });
  }

  start(): void {
    const recovered = this.history.recoverInterrupted(this.clock.now());
    if (recovered > 0) this.log(`${recovered} run(s) left running by an earlier daemon marked interrupted; they resume on their next run`);
    this.scheduler.start();
    this.monitor.start();
    for (const job of this.o.ops.jobs) if (job.kind === 'stream') this.streams.set(job.name, this.keepStreaming(job));
    this.started = true;
    // watch-mode jobs run from the start until the daemon stops
    for (const j of this.o.ops.jobs) if (j.kind === 'bisync' && j.watch) void this.scheduler.trigger(j.name);
  }

  /** Runs a stream job until the daemon stops, restarting it after failures with backoff. */
  private async keepStreaming(job: JobConfig): Promise<void> {
    const run = this.o.runStream;
    if (!run) {
      this.log(`${job.name}: stream jobs are not supported by this daemon`);
      return;
    }
    const signal = this.stopping.signal;
    const governor = job.link ? this.governors.get(job.link) : undefined;
    const base = parseDuration(job.retry.backoff);
    let failures = 0;
    while (!signal.aborted) {
      this.log(`${job.name}: streaming ${job.direction} ${job.source} -> ${job.destination}`);
      this.streaming.add(job.name);
      try {
        await run(job, signal, governor?.lane(job.lane));
        failures = 0;
      } catch (err) {
        this.streaming.delete(job.name);
        if (signal.aborted) break;
        failures++;
        const waitMs = Math.min(10 * 60_000, base * 2 ** Math.min(failures - 1, 10));
        this.log(`${job.name}: stream stopped: ${err instanceof Error ? err.message : String(err)}; restarting in ${Math.round(waitMs / 1000)}s`);
        await sleep(waitMs, signal).catch(() => undefined);
      }
    }
  }

  get ready(): boolean {
    return this.started && !this.stopping.signal.aborted;
  }

  /** Graceful shutdown: stop scheduling, stop runs cleanly, wait for them, close the history. */
  async stop(reason: Error = new Error('daemon stopping')): Promise<void> {
    this.scheduler.stop();
    this.monitor.stop();
    this.stopping.abort(reason);
    await this.scheduler.idle();
    await Promise.allSettled(this.streams.values());
    this.history.close();
  }

  /** Starts a job now; rejects with JobAlreadyRunningError when it runs. */
  trigger(name: string): { started: true } {
    const job = this.o.ops.jobs.find((j) => j.name === name);
    if (!job) throw new RangeError(`no job named "${name}"`);
    if (job.kind === 'stream') throw new JobAlreadyRunningError(name); // stream jobs run all the time
    if (this.scheduler.isRunning(name)) throw new JobAlreadyRunningError(name);
    void this.scheduler.trigger(name);
    return { started: true };
  }

  hasJob(name: string): boolean {
    return this.o.ops.jobs.some((j) => j.name === name);
  }

  /**
   * Every job with its run in progress and its last run, read in one synchronous pass: the
   * live run and the history row change in the same tick (runner.ts), so a job is `running`
   * here exactly when its run is in `run` and its last history row says `running`.
   */
  jobs(): JobView[] {
    const now = Date.now();
    return this.o.ops.jobs.map((j) => {
      const live = this.live.get(j.name);
      return {
        ...jobBasics(j),
        running: j.kind === 'stream' ? this.streaming.has(j.name) && this.ready : live !== undefined,
        run: live ? liveView(live, now) : null,
        nextRun: this.scheduler.nextRun(j.name) ?? null,
        lastRun: this.history.list(j.name, 1)[0] ?? null,
      };
    });
  }

  liveRuns(): LiveRunView[] {
    const now = Date.now();
    return [...this.live.values()].map((l) => liveView(l, now));
  }

  links(): LinkStatus[] {
    return this.monitor.status();
  }

  plan(): BandwidthPlan | null {
    const w = jobWorkloads(this.o.ops, this.history, this.clock.now());
    return w.length > 0 ? planBandwidth(w) : null;
  }
}

function liveView(l: LiveRun, now: number): LiveRunView {
  return {
    job: l.job,
    historyId: l.historyId,
    trigger: l.trigger,
    startedAt: l.startedAt,
    deadline: l.deadline ?? null,
    link: l.link ?? null,
    lane: l.lane,
    phase: l.phase,
    progress: l.progress(now),
  };
}
