/**
 * A job of kind `tier`: one `tier apply` of the config's tier rules (or the job's
 * `tier.rules`) per trigger, recorded like any job. Nothing crosses a link — S3 moves an
 * object by a server-side copy, Azure by Set Blob Tier — so no lane or limiter applies;
 * the run stops on the signal it was prepared with (window end, daemon stop).
 */
import { applyTiering, type TierEvent, type TierSummary } from '../api/tier.js';
import type { JobConfig } from '../config/operations.js';
import type { RunSummary } from '../sync/events.js';
import { Stats } from '../sync/stats.js';
import { jobContext, type Operations } from './jobs.js';
import type { PreparedJobRun } from './runner.js';

/** A tiering run as a job's history and the API show it: moves count as transfers, kept objects as skipped. */
export function tierJobSummary(s: TierSummary, locations: readonly string[]): RunSummary {
  return {
    runId: 0,
    mode: 'tier',
    dryRun: s.dryRun,
    src: locations.join(', '),
    dst: '(in place)',
    transferred: s.transitioned,
    bytes: s.bytes,
    bytesResumed: 0,
    serverSideCopies: 0,
    skipped: s.kept,
    deleted: 0,
    failed: s.failed,
    denied: 0,
    deniedKnown: 0,
    derived: 0,
    differences: 0,
    checks: s.objects,
    retries: 0,
    durationMs: s.durationMs,
    rate: 0,
    deletesHeldBack: 0,
    status: s.status,
  };
}

export async function prepareTierJob(ops: Operations, job: JobConfig, o: { signal: AbortSignal; onEvent?: (e: TierEvent) => void }): Promise<PreparedJobRun> {
  const { config, statePath, s3, endpoint, env } = jobContext(ops, job);
  const stats = new Stats();
  let locations: string[] = [];
  return {
    stats,
    execute: async () => {
      const summary = await applyTiering({
        ...(config ? { config } : {}),
        ...(job.tier?.rules ? { rules: job.tier.rules } : {}),
        ...(statePath ? { statePath } : {}),
        ...(s3 ? { s3 } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(env ? { env } : {}),
        signal: o.signal,
        onEvent: (e) => {
          if (e.type === 'tier-start') locations = e.locations;
          else if (e.type === 'tier') {
            stats.filesDone++;
            stats.bytesDone += e.size;
          } else if (e.type === 'tier-keep') stats.skipped++;
          else if (e.type === 'error') stats.failed++;
          if (e.type === 'tier' || e.type === 'tier-keep' || e.type === 'error') stats.checks++;
          o.onEvent?.(e);
        },
      });
      return tierJobSummary(summary, locations);
    },
    close: async () => undefined,
  };
}
