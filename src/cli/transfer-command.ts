/** The shared body of sync, copy and check: flags → library request, run, report, exit code. */
import { prepareTransfer, type TransferRequest } from '../api/transfer.js';
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../lib/units.js';
import { runSync } from '../sync/execute.js';
import type { RunSummary } from '../sync/events.js';
import type { Mode } from '../sync/plan.js';
import { Stats } from '../sync/stats.js';
import { processSignal, reportError } from './context.js';
import { exitCodeForSummary } from './exit.js';
import { Reporter } from './output.js';
import { connectionOf, transferOptionsOf, type OutputFlags, type TransferFlags } from './transfer-options.js';

/** A reporter for the output flags (progress on a TTY, stats lines, NDJSON). */
export function reporterFor(f: Partial<OutputFlags>): Reporter {
  let statsIntervalMs: number;
  try {
    statsIntervalMs = parseDuration(f.stats ?? '5s');
  } catch (e) {
    throw new UsageError(`--stats: ${(e as Error).message}`);
  }
  return new Reporter({ json: !!f.json, verbose: !!f.verbose, progress: f.progress ?? true, statsIntervalMs });
}

/**
 * Runs one transfer request with terminal output (progress, stats lines or NDJSON, and the
 * summary); resolves with the summary, rejects with what stopped the run. `req.onEvent`
 * sees every event too.
 */
export async function runReported(req: TransferRequest, out: Partial<OutputFlags>): Promise<RunSummary> {
  const stats = new Stats();
  const reporter = reporterFor(out);
  const prepared = await prepareTransfer({
    ...req,
    stats,
    json: !!out.json,
    onEvent: (e) => {
      reporter.event(e);
      req.onEvent?.(e);
    },
    signal: req.signal ?? processSignal,
  });
  reporter.start(stats);
  try {
    return await runSync(prepared.run);
  } finally {
    reporter.stop();
    await prepared.close();
  }
}

/** Runs one transfer request with terminal output; resolves with the exit code. */
export async function runWithReporter(req: TransferRequest, out: Partial<OutputFlags>): Promise<number> {
  try {
    return exitCodeForSummary(await runReported(req, out));
  } catch (err) {
    return reportError(err, out.json);
  }
}

export function runTransferCommand(mode: Mode, src: string, dst: string, flags: TransferFlags): Promise<number> {
  return runWithReporter(
    {
      mode,
      src,
      dst,
      options: transferOptionsOf(flags),
      ...connectionOf(flags),
      ...(flags.config ? { config: flags.config } : {}),
      ...(flags.state ? { statePath: flags.state } : {}),
    },
    flags,
  );
}
