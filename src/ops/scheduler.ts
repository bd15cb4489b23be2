/**
 * The scheduler: starts each job at its next planned start, catches up runs missed while
 * the daemon was down (policy `once`: one run, not one per missed slot), retries failed
 * runs with exponential backoff inside the window, and never runs two runs of one job at
 * once (a start that falls due while the job still runs is skipped and logged).
 * Time comes from an injected Clock; running a job is an injected function.
 */
import { systemClock, type Clock, type Timer } from './clock.js';
import { formatInstant } from './format.js';
import type { JobRunStatus, JobTrigger } from './history.js';
import { catchUpStart, missedSince, nextStart, type ScheduleSpec } from './schedule.js';

export interface SchedulableJob extends ScheduleSpec {
  readonly name: string;
  readonly catchUp?: 'skip' | 'once';
  readonly retry?: { readonly attempts: number; readonly backoffMs: number };
}

export interface LaunchRequest {
  readonly trigger: JobTrigger;
  /** The planned start this run serves (undefined for manual runs). */
  readonly scheduledAt?: number;
  /** Stop cleanly at this time (end of the run window). */
  readonly deadline?: number;
  readonly attempt: number;
}

export interface SchedulerDeps {
  readonly jobs: readonly SchedulableJob[];
  readonly launch: (job: string, req: LaunchRequest) => Promise<JobRunStatus>;
  readonly lastScheduled?: (job: string) => number | undefined;
  readonly clock?: Clock;
  readonly log?: (message: string) => void;
}

interface Pending {
  readonly at: number;
  readonly req: LaunchRequest;
}

export class JobAlreadyRunningError extends Error {
  constructor(readonly job: string) {
    super(`job ${job} is already running`);
  }
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly jobs: Map<string, SchedulableJob>;
  private readonly pending = new Map<string, Pending>();
  private readonly retries = new Map<string, Pending>();
  private readonly running = new Map<string, Promise<JobRunStatus>>();
  private timer: Timer | undefined;
  private started = false;
  private readonly log: (m: string) => void;

  constructor(private readonly deps: SchedulerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.jobs = new Map(deps.jobs.map((j) => [j.name, j]));
    this.log = deps.log ?? (() => undefined);
  }

  /** Plans every job's next start, including one catch-up run where runs were missed. */
  start(): void {
    this.started = true;
    const now = this.clock.now();
    for (const job of this.jobs.values()) {
      const next = nextStart(job, now);
      if (next) this.pending.set(job.name, { at: next.at, req: { trigger: 'schedule', scheduledAt: next.at, deadline: next.deadline, attempt: 1 } });
      if ((job.catchUp ?? 'once') !== 'once') continue;
      const missed = missedSince(job, this.deps.lastScheduled?.(job.name), now);
      if (missed === undefined) continue;
      const c = catchUpStart(job, now);
      if (next && next.at <= c.at) continue; // the regular start comes first anyway
      this.log(`${job.name}: catching up the run due ${formatInstant(missed, job.timezone)}`);
      this.pending.set(job.name, { at: c.at, req: { trigger: 'catch-up', scheduledAt: missed, deadline: c.deadline, attempt: 1 } });
    }
    this.arm();
  }

  /** Stops planning new runs; running ones continue (abort them through their own signal). */
  stop(): void {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  nextRun(job: string): number | undefined {
    return this.pending.get(job)?.at;
  }

  nextTrigger(job: string): JobTrigger | undefined {
    return this.pending.get(job)?.req.trigger;
  }

  isRunning(job: string): boolean {
    return this.running.has(job);
  }

  /** Starts a job now, outside its schedule; throws JobAlreadyRunningError if it runs. */
  trigger(job: string): Promise<JobRunStatus> {
    if (!this.jobs.has(job)) throw new RangeError(`no job named "${job}"`);
    return this.launch(job, { trigger: 'manual', attempt: 1 });
  }

  private launch(job: string, req: LaunchRequest): Promise<JobRunStatus> {
    if (this.running.has(job)) throw new JobAlreadyRunningError(job);
    const run = this.deps
      .launch(job, req)
      .catch((err: unknown): JobRunStatus => {
        this.log(`${job}: ${(err as Error).message}`);
        return 'failed';
      })
      .then((status) => {
        this.running.delete(job);
        this.afterRun(job, req, status);
        return status;
      });
    this.running.set(job, run);
    return run;
  }

  private afterRun(job: string, req: LaunchRequest, status: JobRunStatus): void {
    const retry = this.jobs.get(job)!.retry ?? { attempts: 1, backoffMs: 0 };
    if (status !== 'failed' || req.trigger === 'manual' || req.attempt >= retry.attempts || !this.started) return;
    const at = this.clock.now() + retry.backoffMs * 2 ** (req.attempt - 1);
    if (req.deadline !== undefined && at >= req.deadline) {
      this.log(`${job}: no retry, the window closes before the backoff ends`);
      return;
    }
    const regular = this.pending.get(job);
    if (regular && regular.at <= at) return; // the next regular run comes first
    this.log(`${job}: run failed, retry ${req.attempt + 1}/${retry.attempts} at ${formatInstant(at, this.jobs.get(job)!.timezone)}`);
    this.retries.set(job, { at, req: { ...req, trigger: 'retry', attempt: req.attempt + 1 } });
    this.arm();
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.started) return;
    const times = [...this.pending.values(), ...this.retries.values()].map((p) => p.at);
    if (times.length === 0) return;
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, Math.min(...times) - this.clock.now()));
  }

  private fire(): void {
    const now = this.clock.now();
    for (const [name, p] of [...this.retries]) {
      if (p.at > now) continue;
      this.retries.delete(name);
      this.startIfFree(name, p, now);
    }
    for (const [name, p] of [...this.pending]) {
      if (p.at > now) continue;
      // plan the following start first, so a long run cannot swallow the schedule
      const following = this.followingStart(this.jobs.get(name)!, Math.max(p.req.scheduledAt ?? p.at, now));
      if (following) this.pending.set(name, following);
      else this.pending.delete(name);
      this.retries.delete(name); // a regular start supersedes a pending retry
      this.startIfFree(name, p, now);
    }
    this.arm();
  }

  private startIfFree(name: string, p: Pending, now: number): void {
    if (p.req.deadline !== undefined && now >= p.req.deadline) {
      this.log(`${name}: the window closed before the run could start; skipped`);
    } else if (this.running.has(name)) {
      this.log(`${name}: still running, the ${p.req.trigger} start due ${formatInstant(p.at, this.jobs.get(name)?.timezone)} is skipped`);
    } else {
      void this.launch(name, p.req);
    }
  }

  private followingStart(spec: SchedulableJob, after: number): Pending | undefined {
    const n = nextStart(spec, after);
    return n ? { at: n.at, req: { trigger: 'schedule', scheduledAt: n.at, deadline: n.deadline, attempt: 1 } } : undefined;
  }
}
