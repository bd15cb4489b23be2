/** The shared body of sync, copy and check: flags → library request, run, report, exit code. */
import { prepareTransfer, type TransferRequest } from '../api/transfer.js';
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../lib/units.js';
import { runSync } from '../sync/execute.js';
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

/** Runs one transfer request with terminal output; resolves with the exit code. */
export async function runWithReporter(req: TransferRequest, out: Partial<OutputFlags>): Promise<number> {
  let prepared;
  let reporter: Reporter;
  const stats = new Stats();
  try {
    reporter = reporterFor(out);
    prepared = await prepareTransfer({ ...req, stats, json: !!out.json, onEvent: (e) => reporter.event(e), signal: req.signal ?? processSignal });
  } catch (err) {
    return reportError(err, out.json);
  }
  reporter.start(stats);
  try {
    const summary = await runSync(prepared.run);
    return exitCodeForSummary(summary);
  } catch (err) {
    return reportError(err, out.json);
  } finally {
    reporter.stop();
    await prepared.close();
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
