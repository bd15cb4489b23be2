/**
 * What every command gets from main: the process-wide AbortSignal (SIGINT/SIGTERM) and
 * the single error printer. Errors become exit codes only here and in exit.ts.
 */
import { describeError, HybridsyncError } from '../core/errors.js';
import { exitCodeForError } from './exit.js';

const controller = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: finishing files in flight, journaling the rest (again to quit at once)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  });
}

export const processSignal: AbortSignal = controller.signal;

/** Prints an error the way users should see it and returns the exit code. */
export function reportError(err: unknown, json = false): number {
  const code = exitCodeForError(err);
  const hint = err instanceof HybridsyncError ? err.hint : undefined;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ v: 1, time: new Date().toISOString(), type: 'fatal', kind: err instanceof HybridsyncError ? err.kind : 'unknown', message: describeError(err), exitCode: code, ...(hint ? { hint } : {}) })}\n`,
    );
  }
  process.stderr.write(`hybridsync: ${err instanceof HybridsyncError ? err.message : describeError(err)}\n`);
  if (hint) process.stderr.write(`  fix: ${hint}\n`);
  if (process.env.HYBRIDSYNC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return code;
}
