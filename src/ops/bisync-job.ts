/**
 * A job of kind `bisync`: one two-way run per trigger, or — with `watch: true` — watch mode
 * from the daemon's start until it stops. The runner hands over its run options (the link
 * lane's limiter, the stop signal) and records the result like any job's.
 */
import { prepareBisync, type BisyncEvent } from '../api/bisync.js';
import { jobSummaryOf, runBisync, type BisyncRunOptions } from '../bisync/run.js';
import { watchPrepared } from '../bisync/watch.js';
import type { JobConfig } from '../config/operations.js';
import type { RunOptions } from '../sync/execute.js';
import { sumSnapshots, type Stats } from '../sync/stats.js';
import { jobContext, type Operations } from './jobs.js';
import type { PreparedJobRun } from './runner.js';

export async function prepareBisyncJob(ops: Operations, job: JobConfig, o: { signal: AbortSignal; onEvent?: (e: BisyncEvent) => void; json?: boolean }): Promise<PreparedJobRun> {
  const p = await prepareBisync(job.source!, job.destination!, {
    ...jobContext(ops, job),
    bisync: job.bisync ?? {},
    signal: o.signal,
    ...(o.json !== undefined ? { json: o.json } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  // the counters of each direction's current engine run (watch mode starts new ones)
  const engines = new Map<string, Stats>();
  const settle = (run: RunOptions): BisyncRunOptions => {
    const lane = (eo: RunOptions): RunOptions => ({ ...eo, ...(run.limiter ? { limiter: run.limiter } : {}), ...(run.signal ? { signal: run.signal } : {}) });
    return { ...p.run, to2: lane(p.run.to2), to1: lane(p.run.to1), ...(run.signal ? { signal: run.signal } : {}), onEngineStats: (to, stats) => void engines.set(to, stats) };
  };
  return {
    run: p.to2.run,
    // both directions' engines count on their own Stats: the live progress is their sum
    progress: (now) => sumSnapshots([...engines.values()].map((s) => s.snapshot(now))),
    execute: async (run) => {
      const settled = settle(run);
      if (!job.watch) return jobSummaryOf(await runBisync(settled));
      const last = await watchPrepared({ ...p, run: settled });
      const s = last ? jobSummaryOf(last) : undefined;
      if (!s) throw new Error(`job ${job.name}: watch mode stopped before its first run`);
      return run.signal?.aborted ? { ...s, status: 'aborted' } : s;
    },
    close: () => p.close(),
  };
}
