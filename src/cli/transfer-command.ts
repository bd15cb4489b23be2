/** The shared body of sync, copy and check: prepare, run, report, exit code. */
import { runSync } from '../sync/execute.js';
import type { Mode } from '../sync/plan.js';
import { processSignal, reportError } from './context.js';
import { exitCodeForSummary } from './exit.js';
import { prepareRun, type TransferFlags } from './transfer-options.js';

export async function runTransferCommand(mode: Mode, src: string, dst: string, flags: TransferFlags): Promise<number> {
  let prepared;
  try {
    prepared = await prepareRun(mode, src, dst, flags, processSignal);
  } catch (err) {
    return reportError(err, flags.json);
  }
  try {
    const summary = await runSync(prepared.run);
    return exitCodeForSummary(summary);
  } catch (err) {
    return reportError(err, flags.json);
  } finally {
    await prepared.close();
  }
}
