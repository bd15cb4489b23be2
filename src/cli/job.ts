/** `hybridsync job list | run NAME | history NAME`: the jobs declared in hybridsync.yaml. */
import { Command } from 'commander';
import type { JobConfig } from '../config/operations.js';
import { formatBytes, formatDuration } from '../lib/units.js';
import { formatInstant, formatTable } from '../ops/format.js';
import { LinkGovernor } from '../ops/governor.js';
import { JobHistory, type JobRun, type JobRunStatus } from '../ops/history.js';
import { checkWindow, findJob, jobBasics, jobRequest, jobTimeZone, linkBytesPerSecond, loadOperations, schedulable, type Operations } from '../ops/jobs.js';
import { runJob, type PreparedJobRun } from '../ops/runner.js';
import { nextStart } from '../ops/schedule.js';
import { processSignal, reportError } from './context.js';
import { EXIT, exitCodeForSummary } from './exit.js';
import { prepareTransfer } from '../api/transfer.js';
import { prepareBisyncJob } from '../ops/bisync-job.js';
import { prepareTierJob } from '../ops/tier-job.js';
import { tierEventPrinter } from './tier.js';
import type { SyncEvent } from '../sync/events.js';
import { Stats } from '../sync/stats.js';
import { reporterFor } from './transfer-command.js';

interface JobFlags {
  config?: string;
  state?: string;
  json?: boolean;
  verbose?: boolean;
  progress?: boolean;
  respectWindow?: boolean;
  limit?: string;
}

export interface JobOutput {
  readonly json?: boolean;
  readonly verbose?: boolean;
  readonly progress?: boolean;
}

/** How the CLI and the daemon turn a job into an engine run: the library's, as for `hybridsync sync`. */
export function jobPreparer(ops: Operations, out: JobOutput): (job: JobConfig, signal: AbortSignal) => Promise<PreparedJobRun> {
  return async (job, signal) => {
    const reporter = reporterFor({ ...out, progress: out.progress ?? false });
    if (job.kind === 'bisync') return prepareBisyncJob(ops, job, { signal, json: !!out.json, onEvent: (e) => void (e.type.startsWith('bisync-') || reporter.event(e as SyncEvent)) });
    if (job.kind === 'tier') return prepareTierJob(ops, job, { signal, onEvent: tierEventPrinter(out) });
    const stats = new Stats();
    const prepared = await prepareTransfer({ ...jobRequest(ops, job), stats, signal, json: !!out.json, onEvent: (e) => reporter.event(e) });
    reporter.start(stats);
    return {
      run: prepared.run,
      close: async () => {
        reporter.stop();
        await prepared.close();
      },
    };
  };
}

/** One governor per declared link. */
export function linkGovernors(ops: Operations): Map<string, LinkGovernor> {
  return new Map(
    ops.links.map((l) => [
      l.name,
      new LinkGovernor({ name: l.name, bytesPerSecond: () => linkBytesPerSecond(l), ...(l.lanes ? { weights: l.lanes } : {}) }),
    ]),
  );
}

/** Exit code of a finished job run: a run stopped at its window's end is resumable, like an interrupted one. */
export function exitCodeForJobStatus(status: JobRunStatus): number {
  switch (status) {
    case 'ok':
    case 'known-denials':
      return EXIT.ok;
    case 'window-end':
    case 'stopped':
    case 'interrupted':
      return EXIT.interrupted;
    case 'busy':
      return EXIT.usage;
    case 'denied':
      return EXIT.policy;
    case 'restore-pending':
      return EXIT.restorePending;
    default:
      return EXIT.partial;
  }
}

function common(cmd: Command): Command {
  return cmd.option('--config <file>', 'config file (default ./hybridsync.yaml or HYBRIDSYNC_CONFIG)').option('--state <file>', 'state database').option('--json', 'NDJSON output');
}

function runRow(r: JobRun, timezone: string): string[] {
  return [
    String(r.id),
    r.trigger,
    formatInstant(r.startedAt, timezone),
    r.endedAt ? formatDuration(r.endedAt - r.startedAt) : '-',
    r.status,
    String(r.files),
    formatBytes(r.bytes),
    String(r.failed),
    r.message ?? '',
  ];
}

export function jobCommand(): Command {
  const job = new Command('job').description('jobs declared in hybridsync.yaml');

  common(job.command('list').description('the jobs, their schedule and next run')).action((f: JobFlags) => {
    try {
      const ops = loadOperations(f.config, f.state);
      const history = new JobHistory(ops.statePath);
      const now = Date.now();
      const rows = ops.jobs.map((j) => {
        const last = history.list(j.name, 1)[0];
        return {
          ...jobBasics(j),
          nextRun: nextStart(schedulable(j), now)?.at ?? null,
          lastStatus: last?.status ?? null,
          lastRun: last?.startedAt ?? null,
        };
      });
      history.close();
      if (f.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify({ v: 1, type: 'job', ...r })}\n`);
      } else {
        process.stdout.write(
          `${formatTable([
            ['name', 'kind', 'source -> destination', 'schedule', 'window', 'link/lane', 'next run', 'last'],
            ...rows.map((r) => [r.name, r.kind, `${r.source} -> ${r.destination}`, r.schedule ?? 'manual', r.window ?? '-', `${r.link ?? '-'}/${r.lane}`, formatInstant(r.nextRun, r.timezone), r.lastStatus ? `${r.lastStatus} ${formatInstant(r.lastRun, r.timezone)}` : '-']),
          ])}\n`,
        );
      }
      process.exitCode = EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err, f.json);
    }
  });

  common(job.command('run').description('run a job now, in the foreground (recorded in its history)').argument('<name>', 'job name'))
    .option('-v, --verbose', 'print every file')
    .option('--no-progress', 'no progress output')
    .option('--respect-window', "stop at the end of the job's run window (and do not start while it is closed)")
    .action(async (name: string, f: JobFlags) => {
      let history: JobHistory | undefined;
      try {
        const ops = loadOperations(f.config, f.state);
        const j = findJob(ops, name);
        let deadline: number | undefined;
        if (f.respectWindow) {
          const now = Date.now();
          const w = checkWindow(j, now);
          if (!w.open) {
            if (f.json) {
              const { open: _open, message, opensAt, closesAt, ...rest } = w;
              const at = (t: number): string => new Date(t).toISOString();
              const event = { v: 1, time: at(now), type: 'job-not-run', job: name, reason: 'outside-window', ...rest, opensAt: at(opensAt), closesAt: at(closesAt), message, exitCode: EXIT.notRun };
              process.stdout.write(`${JSON.stringify(event)}\n`);
            }
            process.stderr.write(`hybridsync: ${name} did not run: ${w.message}\n`);
            process.exitCode = EXIT.notRun;
            return;
          }
          deadline = w.closesAt;
        }
        history = new JobHistory(ops.statePath);
        const governor = j.link ? linkGovernors(ops).get(j.link) : undefined;
        const result = await runJob(
          j,
          { trigger: 'manual', attempt: 1, ...(deadline !== undefined ? { deadline } : {}) },
          {
            history,
            prepare: jobPreparer(ops, { json: f.json, verbose: f.verbose, progress: f.progress !== false }),
            signal: processSignal,
            ...(governor ? { governor } : {}),
          },
        );
        if (result.error !== undefined && (result.status === 'failed' || result.status === 'busy')) {
          process.exitCode = reportError(result.error, f.json);
        } else if (result.status === 'window-end') {
          process.stderr.write(`${name}: stopped at the end of the run window; run again to resume\n`);
          process.exitCode = EXIT.interrupted;
        } else {
          process.exitCode = result.summary ? exitCodeForSummary(result.summary) : exitCodeForJobStatus(result.status);
        }
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      } finally {
        history?.close();
      }
    });

  common(job.command('history').description('past runs of a job, newest first').argument('<name>', 'job name'))
    .option('--limit <n>', 'how many runs', '20')
    .action((name: string, f: JobFlags) => {
      try {
        const ops = loadOperations(f.config, f.state);
        const timezone = jobTimeZone(findJob(ops, name));
        const history = new JobHistory(ops.statePath);
        const runs = history.list(name, Math.max(1, Number(f.limit) || 20));
        history.close();
        if (f.json) {
          for (const r of runs) process.stdout.write(`${JSON.stringify({ v: 1, type: 'job-run', ...r })}\n`);
        } else if (runs.length === 0) {
          process.stdout.write(`${name}: no runs yet\n`);
        } else {
          process.stdout.write(`${formatTable([['id', 'trigger', 'started', 'took', 'status', 'files', 'bytes', 'failed', 'message'], ...runs.map((r) => runRow(r, timezone))])}\n`);
        }
        process.exitCode = EXIT.ok;
      } catch (err) {
        process.exitCode = reportError(err, f.json);
      }
    });
  return job;
}
